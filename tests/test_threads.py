"""The thread policy (mlp_scratch/threads.py): which pool does a call's work, and the BLAS limit
that comes with one pool."""
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from mlp_scratch import MLP, Trainer, threads
from mlp_scratch.optim import Adam

TWO = pytest.mark.skipif(threads.budget() < 2, reason="needs 2 cores")


def blas_limits():
    return sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})


@pytest.fixture(autouse=True)
def automatic_threads():
    saved = dict(threads._settings)
    threads._settings["kernels"] = None
    threads._settings["generation"] += 1
    yield
    threads._settings.update(saved)
    threads._settings["generation"] += 1


def test_small_models_run_on_one_kernel_thread_and_large_ones_on_the_budget():
    assert threads.threads_for(threads.POOL_PARAMETERS - 1) == 1
    assert threads.threads_for(threads.POOL_PARAMETERS) == threads.budget()
    threads.set_threads(kernels=1)
    assert threads.threads_for(10 ** 9) == 1


@TWO
def test_one_pool_limits_blas_to_one_thread_for_the_call_only():
    before = blas_limits()
    with threads.pools(threads.POOL_PARAMETERS):
        assert numba.get_num_threads() == threads.budget() and blas_limits() == [1]
    assert blas_limits() == before
    with threads.pools(0):
        assert numba.get_num_threads() == 1 and blas_limits() == before


@TWO
def test_an_update_after_a_step_keeps_the_steps_threads():
    threads.apply(threads.POOL_PARAMETERS)
    assert threads.apply() == threads.budget() == numba.get_num_threads()
    threads.apply(0)
    assert threads.apply() == 1 == numba.get_num_threads()


@TWO
def test_training_in_one_pool_agrees_with_training_on_one_kernel_thread():
    """Not bitwise: BLAS sums the products in another order when it threads them itself."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((512, 300)), rng.integers(0, 10, 512)
    params = []
    for kernels in (1, 2):
        threads.set_threads(kernels=kernels)
        model = MLP(300, [256], 10, batchnorm=True, dropout=0.2, seed=0)
        runner = Trainer(model, Adam(lr=1e-3), batch_size=256, seed=0, log=None).epoch_runner(X, y)
        runner.run(1)
        runner.run(2)
        params.append(model.flat_params)
    np.testing.assert_allclose(params[0], params[1], rtol=1e-9, atol=1e-11)


@TWO
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_layer_kernels_round_alike_on_one_thread_and_in_parallel(dtype):
    """The layer kernels' one-thread loops and parallel loops (kernels/config.py, kernel) train a model
    to the same bits, parameters and batch-norm running averages: a small network, whose products
    are single BLAS calls on one thread either way."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((320, 64)).astype(dtype), rng.integers(0, 10, 320)
    trained = []
    for kernels in (1, 2):
        threads.set_threads(kernels=kernels)
        model = MLP(64, [32, 16], 10, batchnorm=True, dropout=0.2, l2=1e-3, dtype=dtype, seed=0)
        runner = Trainer(model, Adam(lr=1e-3), batch_size=32, seed=7, log=None).epoch_runner(X, y)
        runner.run(1)
        runner.run(2)
        trained.append(np.concatenate([model.flat_params, model.running]))
    np.testing.assert_array_equal(trained[0], trained[1])


@TWO
def test_a_models_calls_run_on_the_threads_its_size_picks():
    for hidden, expected in ((16, 1), (256, threads.budget())):  # 5k and 79k parameters
        model = MLP(300, [hidden], 10, seed=0)
        model.forward_backward(np.ones((8, 300)), np.zeros(8, int))
        assert numba.get_num_threads() == expected
        model.predict(np.ones((3, 300)))
        assert numba.get_num_threads() == expected


@pytest.mark.parametrize("value", ["x", "0", "-1", "99999"])
def test_a_bad_kernel_thread_count_in_the_environment_is_named_and_ignored(value):
    run = subprocess.run([sys.executable, "-c", "from mlp_scratch import threads; print(threads.kernel_threads())"],
                         capture_output=True, text=True, env={**os.environ, "MLP_SCRATCH_KERNEL_THREADS": value})
    assert run.returncode == 0 and run.stdout == "None\n"
    assert f"MLP_SCRATCH_KERNEL_THREADS must be an integer in [1, {numba.config.NUMBA_NUM_THREADS}], got" in run.stderr


class FixedLoad:
    """A load monitor that reports ``cores`` busy in other processes."""

    def __init__(self, cores):
        self.value = cores

    def cores(self):
        return self.value


@pytest.fixture
def following(monkeypatch):
    """Load following on, with a monitor the test sets; off again afterwards."""
    monitor = FixedLoad(0.0)
    monkeypatch.setitem(threads._load, "monitor", monitor)
    threads.set_threads(blas=threads.available_cores(), follow_load=True)
    yield monitor
    threads.set_threads(follow_load=False)


def follow(monitor, cores):
    monitor.value = cores
    threads._load["next"] = 0.0  # a reading is due
    return threads.follow_load()


@TWO
def test_cores_that_other_processes_keep_busy_are_left_to_them(following):
    cores = threads.available_cores()
    assert follow(following, 0.1) == cores and threads.budget() == cores and blas_limits() == [cores]
    assert follow(following, cores - 0.6) == 1
    assert threads.budget() == 1 and blas_limits() == [1] and threads.threads_for(10 ** 6) == 1
    assert threads.blocks_for(10 ** 6) == cores  # the products' blocks stay as on an idle machine
    follow(following, 0.6)  # until the next reading, nothing changes
    threads._load["next"] = float("inf")
    assert threads.follow_load() == 1
    assert follow(following, 0.2) == cores and threads.budget() == cores and blas_limits() == [cores]


@TWO
def test_the_load_reading_sees_a_busy_process():
    monitor = threads.OtherLoad()
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        monitor.cores()
        import time
        time.sleep(0.6)
        assert monitor.cores() > 0.8
    finally:
        neighbour.kill()
        neighbour.wait()


@TWO
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_busy_machine_trains_to_the_same_bits(following, dtype):
    """Fewer threads compute the same product blocks: 784-100-10 at batch 64, whose products round
    differently when cut into 1 and 2 blocks; and the layer kernels' one-thread loops round as their
    parallel loops (kernels/config.py, kernel), the batch-norm running averages included."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((640, 784)).astype(dtype), rng.integers(0, 10, 640)
    trained = []
    for busy_cores in (0.0, threads.available_cores() - 0.6):
        follow(following, busy_cores)
        threads._load["next"] = float("inf")
        model = MLP(784, [100], 10, batchnorm=True, dropout=0.5, dtype=dtype, seed=0)
        Trainer(model, Adam(lr=1e-3), batch_size=64, log=None).epoch_runner(X, y).run(1)
        trained.append(np.concatenate([model.flat_params, model.running]))
    assert threads.threads_for(model.flat_params.size) == 1  # the second run's kernels ran on one thread
    np.testing.assert_array_equal(trained[0], trained[1])
