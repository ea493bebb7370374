"""Subnormal floats are flushed to zero while training: in every thread that runs kernels, and so in
the parameters and optimizer state, which would otherwise decay into them and slow each step."""
import time

import numba
import numpy as np
import pytest

from mlp_scratch import MLP, Trainer, threads
from mlp_scratch.kernels import denormals
from mlp_scratch.optim import Adam, SGD

pytestmark = pytest.mark.skipif(not denormals.X86, reason="FTZ and DAZ are x86 control bits")
FLUSHING = denormals.FTZ | denormals.DAZ
TINY = np.finfo(np.float32).tiny


def subnormals(array):
    magnitude = np.abs(array)
    return int(np.sum((magnitude > 0) & (magnitude < np.finfo(array.dtype).tiny)))


@numba.njit(parallel=True)
def halve_in_threads(x, out):
    for i in numba.prange(x.shape[0]):
        out[i] = x[i] * np.float32(0.5)


@pytest.fixture
def pool_threads():
    """numba's thread count and the kernels' setting as a test found them, back after it."""
    count, kernels = numba.get_num_threads(), threads._settings["kernels"]
    yield numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(count)
    threads._settings["kernels"] = kernels
    threads._settings["generation"] += 1


@pytest.fixture
def one_thread(pool_threads):
    """The package on one thread, kernels and BLAS, for the test; its settings back after it."""
    blas = threads._settings["blas"]
    threads.set_threads(blas=1, kernels=1)
    yield
    threads._settings["blas"] = blas
    threads.set_threads(follow_load=False)  # the limits of the settings back, as conftest.py set them


def pool_controls(pool):
    """The MXCSR of each numba thread."""
    controls = np.zeros(pool, np.int64)
    numba.set_num_threads(pool)
    denormals.thread_controls(controls)
    return controls


def test_every_numba_thread_of_one_pool_flushes_while_training_and_the_caller_gets_its_setting_back(pool_threads):
    before = denormals.control()
    threads.set_threads(kernels=pool_threads)  # a large model's kernels, on every core however busy
    with threads.subnormals_flushed(threads.POOL_PARAMETERS):
        inside = pool_controls(pool_threads)
        assert denormals.control() & FLUSHING == FLUSHING
        x = np.full(4 * pool_threads, TINY, np.float32)  # halved: subnormal, unless flushed
        out = np.ones_like(x)
        halve_in_threads(x, out)
        assert np.all(out == 0)
    assert np.all(inside & FLUSHING == FLUSHING), [hex(c) for c in inside]
    assert np.all(pool_controls(pool_threads) & FLUSHING == 0) and denormals.control() == before
    halve_in_threads(x, out)
    assert np.all(out == TINY / 2) and subnormals(out) == out.size


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
def test_a_small_model_flushes_the_pool_only_once_a_call_runs_on_it(pool_threads):
    """Its kernels run on the calling thread: waking the pool's threads to switch them would cost
    more than a small epoch, so they switch when apply() first gives a call more than one."""
    pool_controls(pool_threads)  # the pool's threads started, unflushed, before the block
    before = denormals.control()
    with threads.subnormals_flushed(1000):
        assert denormals.control() & FLUSHING == FLUSHING
        assert np.all(pool_controls(pool_threads)[1:] & FLUSHING == 0)
        threads.set_threads(kernels=pool_threads)
        assert threads.apply() == pool_threads
        assert np.all(pool_controls(pool_threads) & FLUSHING == FLUSHING)
    assert np.all(pool_controls(pool_threads) & FLUSHING == 0) and denormals.control() == before


@pytest.mark.parametrize("optimizer", [Adam(lr=1e-3), SGD(lr=0.05, momentum=0.9, weight_decay=0.5)],
                         ids=["adam", "sgd-momentum"])
def test_a_run_built_to_make_subnormals_keeps_none_and_does_not_slow_down(optimizer, one_thread):
    """The weights of inputs that are always 0 see only the L2 or decay term and decay towards 0.
    Without flushing, after 60 epochs, Adam's run held 150k subnormal parameters and its epochs took
    6.5x as long as the first ones; SGD's 141k and 11x. On one thread, so that what other processes
    (the other tests' workers) run meanwhile does not time the epochs."""
    rng = np.random.default_rng(0)
    X = np.zeros((2048, 784), np.float32)
    X[:, :100] = rng.random((2048, 100), dtype=np.float32)
    y = (X[:, :100] @ rng.standard_normal((100, 10))).argmax(1)
    model = MLP(784, [256], 10, l2=1e-4, seed=0)
    runner = Trainer(model, optimizer, batch_size=64, seed=0, log=None).epoch_runner(X, y)
    seconds = []
    for epoch in range(1, 61):
        start = time.perf_counter()
        runner.run(epoch)
        seconds.append(time.perf_counter() - start)
    assert subnormals(model.flat_params) == 0
    assert all(subnormals(state) == 0 for state in optimizer.state.values())
    assert np.median(seconds[-10:]) < 2.5 * np.median(seconds[1:11]), seconds


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
def test_products_that_openblas_threads_are_flushed_too():
    """OpenBLAS's workers keep the setting of the thread that started them: restarted inside the
    block, they flush their part of a product of tiny numbers too. Each entry here adds 512 subnormal
    terms of 1e-40: 5.1e-38 (a normal float) unflushed, 0 flushed."""
    from scipy.linalg.blas import sgemm  # SciPy's OpenBLAS: the one the kernels call

    a = np.full((512, 512), 1e-20, np.float32)
    threads.restart_openblas_workers()  # workers that an earlier test's training started anew
    with threads.limited(2):
        assert np.allclose(sgemm(1.0, a, a), 512e-40, rtol=1e-3, atol=0)
        with threads.subnormals_flushed(1000):  # a small model: OpenBLAS threads its products
            flushed = sgemm(1.0, a, a)
        assert np.allclose(sgemm(1.0, a, a), 512e-40, rtol=1e-3, atol=0)
    assert np.all(flushed == 0)
