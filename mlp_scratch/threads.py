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
import numbers
import os
import threading

import numba
from threadpoolctl import threadpool_limits

# MLP_SCRATCH_KERNEL_THREADS overrides the default for a whole process (scripts/thread_settings.py
# compares settings that way).
_settings = {"kernels": int(os.environ.get("MLP_SCRATCH_KERNEL_THREADS", 1)), "blas": None, "generation": 0}
_local = threading.local()


def set_threads(blas=None, kernels=None):
    """Set the threads of matrix products (``blas``; default: all cores) and of the compiled
    element-wise kernels (``kernels``; default 1, the measured best on 2 cores)."""
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


def kernel_threads():
    """The compiled kernels' thread count."""
    return _settings["kernels"]


def blas_threads(n):
    """Limit NumPy's and SciPy's OpenBLAS to ``n`` threads. As a context manager (``with
    blas_threads(1): ...``) the previous limits come back at the block's end."""
    # numba's np.dot calls SciPy's OpenBLAS: load it so that the limit reaches it too.
    import scipy.linalg.cython_blas  # noqa: F401
    return threadpool_limits(n, user_api="blas")


def apply():
    """Make the calling thread use the configured kernel threads (numba's setting is per thread)."""
    if getattr(_local, "generation", -1) != _settings["generation"]:
        numba.set_num_threads(_settings["kernels"])
        _local.generation = _settings["generation"]

