"""Thread pools: numba's (prange kernels) and OpenBLAS's (matrix products) share the cores.

Both pools spin while idle. Measured by scripts/thread_settings.py on a 2-core Xeon (AVX-512),
training samples/s with both pools at their defaults vs numba's kernels at 1 thread and BLAS at 2
(full table in README.md, "Threads"):

    784-512-512-10 BN+dropout, batch 128:    1.8k  ->   33k
    784-100-10 BN+dropout, batch 64:         0.9k  ->  162k
    64-64-64-10 BN, batch 32:                408k  ->  574k

Spinning OpenMP workers steal the cores from the BLAS threads and vice versa; the element-wise
kernels are memory-bound and short, so they gain less from a second thread than the pool handoffs
cost. Hence the default: kernels on 1 thread, BLAS on all cores. ``set_threads`` overrides both.
"""
import contextlib
import numbers
import os
import threading

import numba
from threadpoolctl import ThreadpoolController, threadpool_limits

# MLP_SCRATCH_KERNEL_THREADS fixes the kernel threads for a whole process (scripts/thread_settings.py
# compares settings that way); unset, they follow the work (threads_for).
_settings = {"kernels": int(os.environ["MLP_SCRATCH_KERNEL_THREADS"]) if os.environ.get("MLP_SCRATCH_KERNEL_THREADS")
             else None, "blas": None, "generation": 0}
_local = threading.local()
_controller = []  # the ThreadpoolController, made on first use (it takes milliseconds)

# Elements a call's element-wise kernels and optimizer update touch per step, from which one pool
# runs everything (see threads_for).
POOL_WORK = 50_000


def set_threads(blas=None, kernels=None):
    """Set the threads the package uses: ``blas``, the cores it may use (default: all), and
    ``kernels``, the compiled kernels' threads (default: chosen per call, see ``threads_for``)."""
    for name, value in (("blas", blas), ("kernels", kernels)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                                  or not 1 <= value <= numba.config.NUMBA_NUM_THREADS):
            raise ValueError(f"{name} threads must be an integer in [1, {numba.config.NUMBA_NUM_THREADS}], got {value!r}")
    if kernels is not None:
        _settings["kernels"] = kernels
    if blas is not None:
        _settings["blas"] = blas
        blas_threads(blas)
    _settings["generation"] += 1


def available_cores():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def budget():
    """The threads the package may use: the BLAS setting, by default the cores."""
    return min(_settings["blas"] or available_cores(), numba.config.NUMBA_NUM_THREADS)


def kernel_threads():
    """The fixed kernel thread count, or None where each call picks its own (threads_for)."""
    return _settings["kernels"]


def threads_for(work):
    """The kernel threads of a compiled call whose element-wise kernels and optimizer update touch
    ``work`` elements per step (MLP.step_work): the fixed setting if there is one, else the whole
    budget from POOL_WORK on (one pool: the products split between the kernel threads, BLAS at 1
    thread) and 1 below it (the element-wise kernels on one thread, BLAS threading the products)."""
    return _settings["kernels"] or (budget() if work >= POOL_WORK else 1)


def blas_threads(n):
    """Limit NumPy's and SciPy's OpenBLAS to ``n`` threads. As a context manager (``with
    blas_threads(1): ...``) the previous limits come back at the block's end."""
    # numba's products call SciPy's OpenBLAS: load it so that the limit reaches it too.
    import scipy.linalg.cython_blas  # noqa: F401
    return threadpool_limits(n, user_api="blas")


@contextlib.contextmanager
def limited(n):
    """For the block, at most ``n`` threads: BLAS at n, the budget n, a fixed kernel count capped at n.
    The settings and limits before it come back at its end."""
    blas, kernels = _settings["blas"], _settings["kernels"]
    with blas_threads(n):
        _settings["blas"], _settings["kernels"] = n, None if kernels is None else min(kernels, n)
        _settings["generation"] += 1
        try:
            yield
        finally:
            _settings["blas"], _settings["kernels"] = blas, kernels
            _settings["generation"] += 1


def apply(work=None):
    """Set the calling thread's kernel threads (numba's setting is per thread) for the compiled call
    that follows, and return them. ``work`` is as threads_for takes it; None, for a call without
    matrix products (an optimizer's update, an element-wise layer), keeps the threads of the thread's
    last call with products, so that an update after a step runs in the step's mode."""
    if work is not None or getattr(_local, "generation", -1) != _settings["generation"]:
        _local.threads = threads_for(work or 0)
        _local.generation = _settings["generation"]
    if numba.get_num_threads() != _local.threads:  # also after numba.set_num_threads elsewhere
        numba.set_num_threads(_local.threads)
    return _local.threads


@contextlib.contextmanager
def pools(work):
    """Around a compiled call with matrix products: apply(work) and, with
    the kernels on more than one thread, BLAS at 1 thread until the call returns (each kernel thread
    makes its own single-threaded BLAS calls: kernels/products.py)."""
    if apply(work) == 1:
        yield
        return
    if not _controller:  # SciPy's OpenBLAS is loaded by then: kernels/products.py loads it
        _controller.append(ThreadpoolController().select(user_api="blas"))
    with _controller[0].limit(limits=1):
        yield
