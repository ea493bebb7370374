"""Every kernel against its NumPy oracle in tests/reference.py, at float64 and float32."""
import os
import platform
import subprocess
import sys
import threading

import numpy as np
import pytest
from numba import prange

import reference as ref
import numba

from mlp_scratch import MLP
from mlp_scratch.kernels import cache, config, denormals, expf, random, reductions
from mlp_scratch.kernels.blas import products
from mlp_scratch.kernels.layers import activations, affine, batchnorm, dropout, fused, layernorm, losses
from mlp_scratch.kernels.training import layout
from mlp_scratch.threads import blas_threads

DTYPES = [np.float64, np.float32]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}
SHAPES = [(7, 5), (33, 130), (128, 64), (260, 130)]  # widths below, at and above one column block; the last
# above config.SERIAL_ELEMENTS, where more than one thread runs the parallel loops


@pytest.fixture(params=sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}), ids=lambda n: f"{n}thread")
def kernel_threads(request):
    """The test on one numba thread and on two: the layer kernels run their plain loop on one and
    their parallel loop on more (kernels/config.py, kernel)."""
    saved = numba.get_num_threads()
    numba.set_num_threads(request.param)
    yield request.param
    numba.set_num_threads(saved)


ON_ONE_AND_TWO_THREADS = pytest.mark.usefixtures("kernel_threads")  # the tests of the layer kernels


def rand(rng, shape, dtype):
    return np.ascontiguousarray(rng.standard_normal(shape), dtype=dtype)


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m", SHAPES)
def test_affine(dtype, n, m):
    rng = np.random.default_rng(0)
    d = 9
    x, W, b, dout = rand(rng, (n, d), dtype), rand(rng, (d, m), dtype), rand(rng, m, dtype), rand(rng, (n, m), dtype)
    out = np.empty((n, m), dtype)
    affine.affine_forward(x, W, b, out, 1)
    np.testing.assert_allclose(out, ref.affine_forward(x, W, b), **TOL[dtype])
    dx, dW, db = np.empty_like(x), np.empty_like(W), np.empty_like(b)
    affine.affine_backward_params(x, dout, dW, db, 1)
    affine.affine_backward_input(dout, W, dx, 1)
    for got, want in zip((dx, dW, db), ref.affine_backward(x, W, dout)):
        np.testing.assert_allclose(got, want, **TOL[dtype])


def operand(rng, shape, dtype, transposed, extra_columns=0):
    """A (rows, cols) operand as the network passes them: C-contiguous, the transpose of a
    C-contiguous array, or (extra_columns) a block of columns of a wider array."""
    rows, cols = shape
    if transposed:
        return rand(rng, (cols, rows), dtype).T
    return rand(rng, (rows, cols + extra_columns), dtype)[:, extra_columns:]


@numba.njit
def numba_dot(a, b, out):
    np.dot(a, b, out)


PRODUCTS = [(1, 1, 1), (1, 5, 1), (5, 1, 3), (3, 7, 1), (0, 3, 4), (3, 4, 0), (33, 17, 65), (128, 512, 10),
            (128, 784, 256), (784, 128, 100), (300, 100, 64)]  # the last three are split (SPLIT)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", PRODUCTS)
@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt", "blocks"])
def test_matmul_matches_numpy_in_one_and_two_blocks_on_one_and_two_threads(dtype, m, k, n, layout):
    rng = np.random.default_rng(m * k + n)
    a = operand(rng, (m, k), dtype, layout[0] == "t", 3 * (layout == "blocks"))
    b = operand(rng, (k, n), dtype, layout[1] == "t", 5 * (layout == "blocks"))
    expected = a.astype(np.float64) @ b.astype(np.float64)
    results = []
    for parts, threads in ((1, 1), (2, 1), (2, 2)):
        out = np.full((m, n + 2), np.nan, dtype)  # a block of columns: rows with a stride
        numba.set_num_threads(threads)
        with blas_threads(1):
            products.matmul(a, b, out[:, 1:n + 1], parts)
        assert np.isnan(out[:, [0, -1]]).all(), "wrote outside its block"
        results.append(out[:, 1:n + 1])
    numba.set_num_threads(1)
    tol = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-4)}[dtype]
    for got in results:
        np.testing.assert_allclose(got, expected, **tol)
    np.testing.assert_array_equal(results[1], results[2])  # the same blocks whichever threads compute them


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", [(128, 784, 256), (784, 128, 100), (300, 100, 64), (512, 128, 512)])
@pytest.mark.parametrize("rows", [False, True], ids=["longer-side", "rows"])
def test_split_matmul_is_its_blocks_whichever_thread_runs_them(dtype, m, k, n, rows):
    """On 2 threads each block is the same single BLAS call as when computed alone: blocks of out's
    longer side, or of its rows where asked."""
    rng = np.random.default_rng(1)
    a, b = rand(rng, (k, m), dtype).T, rand(rng, (k, n), dtype)
    assert m * n * k >= products.SPLIT
    out, blocks = np.empty((m, n), dtype), np.empty((m, n), dtype)
    numba.set_num_threads(2)
    with blas_threads(1):
        products.matmul(a, b, out, 2, rows)
        numba.set_num_threads(1)
        for part in range(2):
            if n >= m and not rows:
                j0, j1 = products.block(n, 2, part)
                products.gemm(a, b[:, j0:j1], blocks[:, j0:j1])
            else:
                i0, i1 = products.block(m, 2, part)
                products.gemm(a[i0:i1], b, blocks[i0:i1])
    np.testing.assert_array_equal(out, blocks)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unsplit_matmul_is_numbas_own_product(dtype):
    rng = np.random.default_rng(2)
    a, b = rand(rng, (128, 512), dtype), rand(rng, (512, 10), dtype)
    out, expected = np.empty((128, 10), dtype), np.empty((128, 10), dtype)
    products.matmul(a, b, out, 2)  # below SPLIT: one call whatever the blocks asked
    numba_dot(a, b, expected)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,d_out,d_in", [(32, 64, 64), (32, 10, 64), (64, 10, 100), (32, 100, 100), (31, 5, 64),
                                          (32, 2, 64)])
def test_a_layers_input_gradient_is_numbas_own_product(dtype, n, d_out, d_in):
    """dout @ W.T, which gemm may first copy transposed (products._small_kernel_wants_copy), gives
    the bits of numba's np.dot on the same operands (one BLAS call in their own layout)."""
    rng = np.random.default_rng(n * d_out + d_in)
    dout, W = rand(rng, (n, d_out), dtype), rand(rng, (d_in, d_out), dtype)
    out, expected = np.empty((n, d_in), dtype), np.empty((n, d_in), dtype)
    products.matmul(dout, W.T, out, 1)
    numba_dot(dout, W.T, expected)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("trans_a,trans_b,m,n,k,copies", [
    ("t", "n", 64, 32, 64, True),     # 64-64-64-10's dx: m * n = 2048 > 1200
    ("t", "n", 64, 32, 10, True),     # k < 32
    ("t", "n", 32, 32, 64, False),    # OpenBLAS's own small kernel takes it: m * n <= 1200, k >= 32
    ("t", "n", 64, 32, 3, False),     # k < 4: no small kernel for ('t', 't') either
    ("t", "n", 256, 200, 10, False),  # a batch of 200: the copy took longer than it saved
    ("t", "n", 256, 64, 32, False),   # above 2^18 multiply-adds: likewise
    ("n", "n", 64, 32, 64, False), ("n", "t", 64, 32, 64, False), ("t", "t", 64, 32, 64, False)])
def test_gemm_copies_its_operand_where_only_the_transposed_layout_has_a_small_kernel(monkeypatch, trans_a, trans_b,
                                                                                     m, n, k, copies):
    """OpenBLAS's SkylakeX rule (kernel/x86_64/sgemm_small_kernel_permit_skylakex.c), within the
    batches and sizes where the copy was measured to pay, on a BLAS that has those kernels; on any
    other, never."""
    wants_copy = products._small_kernel_wants_copy.py_func
    monkeypatch.setattr(products, "small_kernels", lambda: True)
    assert wants_copy(ord(trans_a), ord(trans_b), m, n, k) is copies
    monkeypatch.setattr(products, "small_kernels", lambda: False)
    assert wants_copy(ord(trans_a), ord(trans_b), m, n, k) is False


WITHOUT_SCIPY_LINALG = """
import sys
import numpy as np
from mlp_scratch.kernels.blas import products
a = np.arange(6, dtype=np.float32).reshape(2, 3)
out = np.empty((2, 2), np.float32)
products.matmul(a, np.ascontiguousarray(a.T), out, 1)  # numba's first call loads its registries
from mlp_scratch.threads import set_threads
from threadpoolctl import threadpool_info
set_threads(blas=1)
assert "scipy.linalg" not in sys.modules, "scipy.linalg was imported"
limited = {pool["filepath"]: pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}
assert set(limited.values()) == {1}, limited
assert (out == a @ a.T).all(), out
import scipy.linalg
from scipy.linalg import cython_blas
assert scipy.linalg.cython_blas is cython_blas is sys.modules["scipy.linalg.cython_blas"]
assert (scipy.linalg.blas.sgemm(1.0, a, a.T) == out).all()
# SciPy's OpenBLAS was loaded, and so limited, before scipy.linalg came
assert {pool["filepath"] for pool in threadpool_info() if pool["user_api"] == "blas"} == set(limited)
"""


def test_blas_is_found_without_importing_scipy_linalg():
    """scipy.linalg's __init__ is a fifth of a warm start and the kernels need only its cython_blas;
    a later import of scipy.linalg still gets that module and works."""
    run = subprocess.run([sys.executable, "-c", WITHOUT_SCIPY_LINALG], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


# matmul(a, b, out, parts) on operands of the layouts given, as the first compiled call of a process.
FIRST_CALL = """
import sys
import numpy as np
from mlp_scratch.kernels.blas import products
a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
b = {"C": np.ascontiguousarray(a.T), "F": a.T}[sys.argv[1]]
out = np.empty((2, 2), np.float32)
products.matmul(a, b, out, 1)
assert (out == a @ a.T).all(), out
"""


def test_a_kernel_compiled_against_a_cached_parallel_kernel_runs_first_in_a_process(tmp_path):
    """matmul (one kernel) links a copy of blocked_matmul (a parallel one). When that copy came from
    the cache, as it does for a second layout of operands compiled in a later process, matmul's
    cache entry does not start numba's thread pool on load, and a process whose first call it was
    jumped to address 0 in the pool's missing functions: loading code that calls the pool starts
    it (kernels/cache.py). Loading other code does not: the pool loads the system's libgomp, which
    a PyTorch imported later would run on."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    for layout in ("C", "F", "F"):  # compiles both; the F entry compiled against a cached blocked_matmul; loads it
        run = subprocess.run([sys.executable, "-c", FIRST_CALL, layout], env=env, capture_output=True, text=True)
        assert run.returncode == 0, (layout, run.returncode, run.stderr)
    serial = ("from numba.np.ufunc import parallel; from mlp_scratch.kernels.blas import products; "
              "assert products.block(100, 2, 1) == (48, 100); print(parallel._is_initialized)")
    run = subprocess.run([sys.executable, "-c", serial], env=env, capture_output=True, text=True)
    assert run.stdout == "False\n", run.stderr  # block was loaded (the runs above cached it), the pool not started


def test_every_kernel_saves_to_the_cache_under_the_folders_lock(tmp_path):
    """Two processes saving at once must not take one data file for two kernels (kernels/cache.py):
    a save waits for the folder's lock, and writes the data before the index that names it."""
    assert type(products.gemm._cache._cache_file) is cache.LockedCacheFile  # an njit function
    assert type(affine.add_row_vector._cache._cache_file) is cache.LockedCacheFile  # a kernel
    files = cache.LockedCacheFile(str(tmp_path), "f-1.py311", source_stamp=("stamp", 1))
    index_written = []
    save_index = files._save_index
    files._save_index = lambda overloads: (index_written.append(
        {key: (tmp_path / name).read_bytes() for key, name in overloads.items()}), save_index(overloads))
    files.save("a", b"code of a")
    started, saved = threading.Event(), threading.Event()

    def save_b():
        started.set()
        files.save("b", b"code of b")
        saved.set()
    with cache.folder_lock(str(tmp_path)):  # another process's save, in effect
        thread = threading.Thread(target=save_b)
        thread.start()
        started.wait()
        assert not saved.wait(0.5), "the save did not wait for the lock"
    thread.join()
    assert files.load("a") == b"code of a" and files.load("b") == b"code of b"
    assert sorted(path.name for path in tmp_path.glob("*.nbc")) == ["f-1.py311.1.nbc", "f-1.py311.2.nbc"]
    assert len(index_written) == 2 and all(written for written in index_written)  # read back when it was written
    files.save("a", b"new code of a")  # a known key: its data file again, the index untouched
    assert files.load("a") == b"new code of a" and len(index_written) == 2


@config.kernel
def divide(x, d, out):
    """out = x / d: a kernel of this module's own (test_both_loops_of_a_kernel_divide_as_numpy_does)."""
    for i in prange(x.shape[0]):
        out[i] = x[i] / d[i]


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("n", [8, config.SERIAL_ELEMENTS])  # the plain loop; the parallel one on two threads
def test_both_loops_of_a_kernel_divide_as_numpy_does(n):
    """By zero too: inf, -inf and nan, as numba's parallel loops divide. Its default for other code,
    Python's ZeroDivisionError, tests each divisor, which kept LLVM from vectorizing the plain loops
    that divide (the optimizers' updates)."""
    x, d = np.resize([1.0, -1.0, 0.0, 3.0], n), np.resize([0.0, 0.0, 0.0, 2.0], n)
    out = np.empty(n)
    divide(x, d, out)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(out, x / d)


def test_blocks_cover_the_range_at_aligned_starts():
    for length in (1, 15, 16, 100, 512, 784):
        bounds = [products.block(length, 4, part) for part in range(4)]
        assert bounds[0][0] == 0 and bounds[-1][1] == length
        assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
        assert all(start % products.ALIGN == 0 or start == length for start, _ in bounds)


@numba.njit
def blocks_of(flat, n, col, width, start, rows, columns):
    """layout.block and layout.matrix views, called from compiled code as the passes call them."""
    return layout.block(flat, n, col, width), layout.matrix(flat, start, rows, columns)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layout_views_are_the_flat_buffers_blocks(dtype):
    flat = np.arange(60, dtype=dtype)
    block, matrix = blocks_of(flat, 4, 3, 2, 7, 5, 9)
    np.testing.assert_array_equal(block, flat[12:20].reshape(4, 2))
    np.testing.assert_array_equal(matrix, flat[7:52].reshape(5, 9))
    assert block.flags.c_contiguous and matrix.flags.c_contiguous and matrix.dtype == dtype
    matrix[1, 0] = -1  # a view: writes reach the buffer
    assert flat[16] == -1
    missing, empty = blocks_of(flat, 4, -1, 2, 60, 0, 3)  # a block the layer does not have; an empty tail
    assert missing.shape == (0, 2) and empty.shape == (0, 3)


def test_layout_views_keep_their_buffer_alive():
    @numba.njit
    def view_of_new_buffer():
        return layout.matrix(np.arange(12.0), 2, 2, 5)

    view = view_of_new_buffer()  # the buffer's only owner is the view
    np.testing.assert_array_equal(view, np.arange(2.0, 12.0).reshape(2, 5))


@pytest.mark.parametrize("start, rows, columns", [(50, 2, 6), (-1, 2, 2), (0, -1, 3), (0, 3, -2)])
def test_layout_views_outside_their_buffer_are_refused(start, rows, columns):
    with pytest.raises(ValueError, match="outside its flat buffer"):
        blocks_of(np.zeros(60), 4, 0, 2, start, rows, columns)


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l1, l2", [(0.0, 0.3), (0.2, 0.0), (0.2, 0.3)], ids=["l2", "l1", "elastic"])
def test_weight_penalty(dtype, l1, l2):
    rng = np.random.default_rng(1)
    W, dW = rand(rng, (300, 120), dtype), rand(rng, (300, 120), dtype)  # five parts of rows, above SERIAL_ELEMENTS
    W[0, :5] = 0  # the L1 subgradient is 0 there
    expected_dW = dW + l1 * np.sign(W) + l2 * W
    penalty = affine.weight_penalty(W, dtype(l1), dtype(l2), dW, np.empty(affine.penalty_sums_size(300, 120)))
    w = W.astype(np.float64)
    assert penalty == pytest.approx(l1 * np.abs(w).sum() + 0.5 * l2 * np.sum(w ** 2), rel=1e-6)
    np.testing.assert_allclose(dW, expected_dW, **TOL[dtype])


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m", SHAPES)
@pytest.mark.parametrize("name", sorted(ref.ACTIVATIONS))
def test_activations(dtype, n, m, name):
    rng = np.random.default_rng(2)
    x, dout = rand(rng, (n, m), dtype), rand(rng, (n, m), dtype)
    kind, alpha = getattr(activations, name.upper()), 0.2
    out, dx = np.empty_like(x), np.empty_like(x)
    activations.activation_forward(kind, alpha, x, out)
    activations.activation_backward(kind, alpha, dout, out, dx)
    want_out, want_dx = ref.activation(name, x.astype(np.float64), alpha, dout.astype(np.float64))
    np.testing.assert_allclose(out, want_out, **TOL[dtype])
    np.testing.assert_allclose(dx, want_dx, **TOL[dtype])
    activations.activation_forward(kind, alpha, x, x)  # in place, as the network calls them
    activations.activation_backward(kind, alpha, dout, out, dout)
    np.testing.assert_array_equal(x, out)
    np.testing.assert_array_equal(dout, dx)


@ON_ONE_AND_TWO_THREADS
def test_relu_keeps_nan():
    x = np.array([[np.nan, -1.0, 2.0]])
    out = np.empty_like(x)
    activations.activation_forward(activations.RELU, 0.0, x, out)
    assert np.isnan(out[0, 0]) and out[0, 1] == 0 and out[0, 2] == 2


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m", SHAPES)
def test_batchnorm_train_and_backward(dtype, n, m):
    rng = np.random.default_rng(3)
    x = 3 + 2 * rand(rng, (n, m), dtype)
    gamma, beta, dout = rand(rng, m, dtype), rand(rng, m, dtype), rand(rng, (n, m), dtype)
    running_mean, running_var = rand(rng, m, dtype), np.abs(rand(rng, m, dtype))
    want = ref.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.1, running_mean, running_var)
    mean, inv_std = np.empty(m, dtype), np.empty(m, dtype)
    xhat, out = np.empty_like(x), np.empty_like(x)
    batchnorm.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.1, running_mean, running_var,
                                      mean, inv_std, xhat, out)
    for got, expected in zip((out, xhat, mean, inv_std, running_mean, running_var), want):
        np.testing.assert_allclose(got, expected, **TOL[dtype])
    # Training mode normalizes with the batch's own statistics.
    np.testing.assert_allclose(xhat.mean(0), 0, atol=1e-5 if dtype == np.float32 else 1e-12)

    dx, dgamma, dbeta = np.empty_like(x), np.empty(m, dtype), np.empty(m, dtype)
    batchnorm.batchnorm_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    for got, expected in zip((dx, dgamma, dbeta), ref.batchnorm_backward(dout, x, gamma, 1e-5)):
        np.testing.assert_allclose(got, expected, **tol)


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 9, 31, 32, 33])
@pytest.mark.parametrize("m", [5, 64, 130])
def test_batchnorm_sums_are_one_row_after_another(dtype, n, m):
    """batch_statistics and scale_shift_grads add four rows a pass (kernels/reductions.py): the
    batch mean and dbeta are, bit for bit, the rows added one after another, whatever the rows left
    over (n % 4) and the column blocks."""
    rng = np.random.default_rng(n * 1000 + m)
    x, dout = 3 + 2 * rand(rng, (n, m), dtype), rand(rng, (n, m), dtype)
    total, dbeta_want = np.zeros(m, dtype), np.zeros(m, dtype)
    for i in range(n):
        total, dbeta_want = total + x[i], dbeta_want + dout[i]
    mean, inv_std = np.empty(m, dtype), np.empty(m, dtype)
    batchnorm.batch_statistics(x, dtype(1e-5), dtype(0.1), np.zeros(m, dtype), np.ones(m, dtype), mean, inv_std)
    np.testing.assert_array_equal(mean, total * dtype(1.0 / n))
    dgamma, dbeta = np.empty(m, dtype), np.empty(m, dtype)
    reductions.scale_shift_grads(dout, x, dgamma, dbeta)
    np.testing.assert_array_equal(dbeta, dbeta_want)
    np.testing.assert_allclose(dgamma, (dout.astype(np.float64) * x).sum(0), **TOL[dtype])


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_eval_uses_running_averages(dtype):
    rng = np.random.default_rng(4)
    x, gamma, beta = rand(rng, (40, 70), dtype), rand(rng, 70, dtype), rand(rng, 70, dtype)
    running_mean, running_var = rand(rng, 70, dtype), 0.5 + np.abs(rand(rng, 70, dtype))
    out = np.empty_like(x)
    batchnorm.batchnorm_forward_eval(x, gamma, beta, 1e-5, running_mean, running_var, np.empty(70, dtype), out)
    np.testing.assert_allclose(out, ref.batchnorm_forward_eval(x, gamma, beta, 1e-5, running_mean, running_var),
                               **TOL[dtype])
    # In place, as the network calls it.
    batchnorm.batchnorm_forward_eval(x, gamma, beta, 1e-5, running_mean, running_var, np.empty(70, dtype), x)
    np.testing.assert_array_equal(x, out)


def test_uniform_matches_reference_and_is_uniform():
    seed = np.uint64(random.derive_seed(12345, 7))
    assert seed == ref.derive_seed(12345, 7)
    idx = np.arange(200_000)
    got = np.array([random.uniform(seed, i) for i in idx[:1000]])
    np.testing.assert_array_equal(got, ref.uniform(seed, idx[:1000]))
    u = ref.uniform(seed, idx)
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m", SHAPES)
def test_dropout(dtype, n, m):
    rng = np.random.default_rng(5)
    x, dout = rand(rng, (n, m), dtype), rand(rng, (n, m), dtype)
    seed = np.uint64(random.derive_seed(99, 3))
    out, dx = np.empty_like(x), np.empty_like(x)
    dropout.dropout_forward(x, 0.7, seed, out)
    dropout.dropout_backward(dout, 0.7, seed, dx)
    mask = ref.dropout_mask((n, m), 0.7, seed)
    np.testing.assert_allclose(out, x * mask / 0.7, **TOL[dtype])
    np.testing.assert_allclose(dx, dout * mask / 0.7, **TOL[dtype])


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("keep", [0.7, np.float32(0.7), 0.5, (2 ** 23 + 1) / 2 ** 24, 1.0])
def test_dropout_keeps_exactly_where_uniform_is_below_keep_prob(keep):
    """The kernels compare integers (k < ceil(keep * 2**24)); the mask must be the reference's
    uniform < keep_prob, also where keep * 2**24 is a whole number that uniform can hit."""
    x = np.ones((300, 700))
    out = np.empty_like(x)
    seed = np.uint64(random.derive_seed(4, 2))
    dropout.dropout_forward(x, keep, seed, out)
    np.testing.assert_array_equal(out > 0, ref.dropout_mask(x.shape, keep, seed))
    threshold = int(dropout.mask_parameters(keep)[0])  # the first 24-bit k that is dropped
    assert (threshold - 1) / 2 ** 24 < keep <= threshold / 2 ** 24


def assert_ulps(actual, desired, ulps=4):
    """Equal zeros, and values within a few units in the last place."""
    np.testing.assert_array_equal(actual == 0, desired == 0)
    np.testing.assert_array_max_ulp(actual, desired, ulps)


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m", SHAPES)
def test_fused_relu_kernels_equal_the_chained_kernels(dtype, n, m):
    """fused.py's one-pass kernels against batch norm, ReLU and dropout run one by one: the same
    masks and zeros, the same values but for the compiler's contractions (a few ulps)."""
    rng = np.random.default_rng(8)
    x, dout = rand(rng, (n, m), dtype), rand(rng, (n, m), dtype)
    mean, inv_std = rand(rng, m, dtype), np.abs(rand(rng, m, dtype)) + dtype(0.5)
    gamma, beta = rand(rng, m, dtype), rand(rng, m, dtype)
    seed, keep = np.uint64(random.derive_seed(7, 1)), dtype(0.6)
    threshold, scale = dropout.mask_parameters(keep)
    empty = lambda: np.empty_like(x)  # noqa: E731

    xhat, a, dropped = empty(), empty(), empty()  # the chain: normalize, ReLU, dropout
    batchnorm.normalize_affine(x, mean, inv_std, gamma, beta, xhat, a)
    activations.activation_forward(activations.RELU, 0.0, a, a)
    dropout.dropout_forward(a, keep, seed, dropped)
    fused_xhat, out = empty(), empty()
    fused.normalize_relu(x, mean, inv_std, gamma, beta, fused_xhat, out)
    np.testing.assert_array_equal(fused_xhat, xhat)
    assert_ulps(out, a)
    fused_xhat, out = empty(), empty()
    fused.normalize_relu_dropout(x, mean, inv_std, gamma, beta, threshold, scale, seed, fused_xhat, out)
    np.testing.assert_array_equal(fused_xhat, xhat)
    assert_ulps(out, dropped)
    relu_x = np.maximum(x, 0)
    dropout.dropout_forward(relu_x, keep, seed, dropped)
    fused.relu_dropout(x, threshold, scale, seed, out)
    assert_ulps(out, dropped)

    a[::3, ::2] = 0  # ReLU zeros among the kept units too
    dropout.dropout_forward(a, keep, seed, dropped)
    dx, fused_dx = empty(), empty()
    dropout.dropout_backward(dout, keep, seed, dx)
    activations.activation_backward(activations.RELU, 0.0, dx, a, dx)
    fused.relu_dropout_backward(dout, dropped, scale, fused_dx)
    np.testing.assert_array_equal(fused_dx, dx)
    mask = ref.dropout_mask((n, m), keep, seed)
    np.testing.assert_allclose(fused_dx, dout * mask / keep * (a > 0), **TOL[dtype])


@ON_ONE_AND_TWO_THREADS
def test_inverted_dropout_preserves_the_expected_activation():
    x = np.ones((2000, 500))
    out = np.empty_like(x)
    for keep in (0.25, 0.5, 0.9):
        dropout.dropout_forward(x, keep, np.uint64(random.derive_seed(1, 0)), out)
        # mean of 1e6 Bernoulli(keep) / keep: standard error sqrt((1 - keep) / keep / 1e6) < 2e-3
        assert abs(out.mean() - 1.0) < 0.01
        assert abs((out > 0).mean() - keep) < 0.005


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["softmax", "svm"])
@pytest.mark.parametrize("n", [50, 3300])  # 3300 x 10 scores: above SERIAL_ELEMENTS
def test_losses(dtype, kind, n):
    rng = np.random.default_rng(6)
    c = 10
    scores, y = 5 * rand(rng, (n, c), dtype), rng.integers(0, c, n)
    dscores, row_loss = np.empty_like(scores), np.empty(n)
    fn = losses.softmax_loss if kind == "softmax" else losses.svm_loss
    loss = fn(scores, y, dscores, row_loss)
    want_loss, want_d = (ref.softmax_loss if kind == "softmax" else ref.svm_loss)(scores.astype(np.float64), y)
    assert loss == pytest.approx(want_loss, rel=1e-12 if dtype == np.float64 else 1e-6)
    np.testing.assert_allclose(dscores, want_d, **TOL[dtype])


@numba.njit
def _expf_and_libm_expf(x, ours, libm):
    for k in range(x.shape[0]):
        ours[k] = expf.expf(x[k])
        libm[k] = np.exp(x[k])  # numba calls the C library's expf


# -63.09946 (bits 0xc27c65d9): the one float32 in [-104, 0] where the reduction with x / ln2 rounded
# before its subtractions, instead of glibc's fused multiply-adds, gives another result
EXPF_EDGES = [0.0, -0.0, 1e-45, -1e-45, 1.1754942e-38, -1.0, 1.0, -63.09946, -87.33655, 88.0, -88.0,
              -103.27893, -103.97208, -103.97209, -104.0, 88.72283, 88.72284, 89.0, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("flush", [False, True], ids=["subnormals", "flushed"])
def test_expf_is_the_c_librarys_expf_bit_for_bit(flush):
    """kernels/expf.py against the C library's expf (glibc 2.28 and later: the same algorithm) on
    every 4099th float32 and the edges around 0, underflow and overflow, with flush-to-zero off and
    on (scripts/check_expf.py tries all 2^32); and within one unit in the last place of exp in
    float64, whatever the C library."""
    x = np.concatenate([np.arange(0, 2 ** 32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32),
                        np.array(EXPF_EDGES, np.float32)])
    ours, libm = np.empty_like(x), np.empty_like(x)
    control = denormals.control()
    denormals.set_control(denormals.switch(control, flush))
    try:
        _expf_and_libm_expf(x, ours, libm)
    finally:
        denormals.set_control(control)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # the NaN bit patterns
        exact = np.exp(x.astype(np.float64))
    normal = (exact >= np.finfo(np.float32).tiny) & (exact <= np.finfo(np.float32).max)
    np.testing.assert_array_max_ulp(ours[normal], exact[normal].astype(np.float32), maxulp=1)
    libc, version = platform.libc_ver()
    if libc != "glibc" or tuple(map(int, version.split(".")[:2])) < (2, 28):
        pytest.skip(f"the C library is {libc} {version}, not glibc 2.28 or later")
    same = (ours.view(np.uint32) == libm.view(np.uint32)) | (np.isnan(ours) & np.isnan(libm))
    assert same.all(), x[~same][:10]


@ON_ONE_AND_TWO_THREADS
def test_softmax_is_stable_for_huge_scores():
    scores = np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]])
    probs = np.empty_like(scores)
    losses.softmax(scores, probs)
    np.testing.assert_allclose(probs, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-15)
    loss = losses.softmax_loss(scores, np.array([2, 0]), np.empty_like(scores), np.empty(2))
    assert loss == pytest.approx((2000 + np.log(3)) / 2)


@ON_ONE_AND_TWO_THREADS
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,d", [(7, 5), (33, 130), (128, 64), (3, 1)])
def test_layernorm_kernel_matches_numpy(dtype, n, d):
    rng = np.random.default_rng(4)
    x = np.ascontiguousarray(3 + 2 * rng.standard_normal((n, d)), dtype)
    gamma, beta, dout = (np.ascontiguousarray(rng.standard_normal(s), dtype) for s in (d, d, (n, d)))
    want = ref.layernorm_reference(x, gamma, beta, dtype(1e-5), dout)
    mean, inv_std, xhat, out = np.empty(n, dtype), np.empty(n, dtype), np.empty_like(x), np.empty_like(x)
    layernorm.layernorm_forward(x, gamma, beta, dtype(1e-5), mean, inv_std, xhat, out)
    dx, dgamma, dbeta = np.empty_like(x), np.empty(d, dtype), np.empty(d, dtype)
    layernorm.layernorm_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta)
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)  # as batch norm's backward
    for got, expected in zip((out, xhat, mean, inv_std, dx, dgamma, dbeta), want):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, **tol)
    # Outputs may alias inputs (out over x; dx over dout), as the docstrings say.
    x2, dout2 = x.copy(), dout.copy()
    layernorm.layernorm_forward(x2, gamma, beta, dtype(1e-5), mean, inv_std, xhat, x2)
    layernorm.layernorm_backward(dout2, xhat, gamma, inv_std, dout2, dgamma, dbeta)
    np.testing.assert_array_equal(x2, out)
    np.testing.assert_array_equal(dout2, dx)


def run_with_threads(n, fn):
    numba.set_num_threads(n)
    try:
        return fn()
    finally:
        numba.set_num_threads(1)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
def test_kernels_give_bitwise_equal_results_on_1_and_2_threads():
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((4097, 10)), rng.integers(0, 10, 4097)
    W = rng.standard_normal((777, 300))

    def compute():
        dscores, row_loss = np.empty_like(scores), np.empty(len(y))
        softmax = losses.softmax_loss(scores, y, dscores, row_loss)
        svm = losses.svm_loss(scores, y, np.empty_like(scores), row_loss)
        penalty = affine.weight_penalty(W, 0.1, 0.3, np.zeros_like(W), np.empty(affine.penalty_sums_size(777, 300)))
        model = MLP(20, [130, 70], 10, batchnorm=True, dropout=0.3, l2=0.01, seed=1)
        X = np.random.default_rng(1).standard_normal((500, 20))  # both layers above SERIAL_ELEMENTS
        loss = model.forward_backward(X, np.arange(500) % 10, seed=5)
        return softmax, svm, penalty, loss, model.flat_grads.copy(), model.running.copy()

    one, two = run_with_threads(1, compute), run_with_threads(2, compute)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


# -- layers: forward values and gradient checks (float64) -----------------------------------------
