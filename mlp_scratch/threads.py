"""Thread pools: numba's (the compiled kernels) and OpenBLAS's (the matrix products) share the cores.

Both spin while idle, so two pools busy on the same cores steal them from each other (784-512-512-10
with both at 2 threads: 1.8k samples/s instead of 33k; README.md, "Threads"). So only one pool
works at a time, in one of two ways per compiled call (threads_for picks by the model's size):

- a small model: the kernels on one thread, OpenBLAS threading the products on all cores;
- from POOL_PARAMETERS on: one pool, numba's. The kernels run on all cores and so do the products,
  which kernels/blas/products.py cuts into one single-threaded BLAS call per thread while ``pools``
  holds OpenBLAS at 1 thread. The optimizer's update and the element-wise kernels then use the
  second core too (Adam over 670k float32 parameters: 585 -> 300 us).

``set_threads`` sets the threads the package may use (``blas``) or fixes the kernels' count.
``subnormals_flushed`` sets the threads that train to treat subnormal floats as 0.

Other processes take cores too: a pool thread that waits for a core another process runs on holds
every parallel call up (784-512-512-10 fell to a fraction of its idle speed beside one busy
process on 2 cores). So the package follows the machine's load (``follow_load``): at most every
LOAD_INTERVAL seconds it reads the cores that other processes kept busy and uses only the others.
"""
import contextlib
import numbers
import os
import threading
import time
import warnings

import numba

from mlp_scratch.validation import check_bool

_settings = {"kernels": None, "blas": None, "free": None, "follow": True, "generation": 0}
_local = threading.local()
# threadpoolctl is imported where it is first needed (its import takes 20 ms of every start-up),
# and its ThreadpoolController made once (that takes milliseconds).
_controller = []

# Parameters from which one pool runs a call (threads_for): measured in scripts/thread_settings.py's
# networks and in 784-64-10 at batch 32 (50.9k parameters, 1.26x faster in one pool), 784-32-10 at
# batch 16 (25.4k, 0.80x) and 64-64-64-10 at batch 512 (8.9k, 0.82x).
POOL_PARAMETERS = 40_000


def check_threads(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"{name} must be an integer in [1, {numba.config.NUMBA_NUM_THREADS}], got {value!r}")
    return value


def set_threads(blas=None, kernels=None, follow_load=None):
    """Set the threads the package uses: ``blas``, the cores it may use (default: all), and
    ``kernels``, the compiled kernels' threads (default: chosen per call, see ``threads_for``);
    ``follow_load``, whether to leave the cores that other processes keep busy (default: True)."""
    for name, value in (("blas", blas), ("kernels", kernels)):
        if value is not None:
            check_threads(f"{name} threads", value)
    if kernels is not None:
        _settings["kernels"] = kernels
    if follow_load is not None:
        _settings["follow"] = check_bool("follow_load", follow_load)
        _settings["free"] = None
    if blas is not None or follow_load is not None:
        _settings["blas"] = blas or _settings["blas"]
        blas_threads(budget())
    _settings["generation"] += 1


def _fixed_by_environment():
    """MLP_SCRATCH_KERNEL_THREADS fixes the kernel threads for a whole process
    (scripts/thread_settings.py compares settings that way); unset, each call picks them."""
    value = os.environ.get("MLP_SCRATCH_KERNEL_THREADS", "")
    if value:
        try:
            _settings["kernels"] = check_threads("MLP_SCRATCH_KERNEL_THREADS", int(value) if value.isdigit() else value)
        except ValueError as error:  # at import: a warning, so that even --help still runs
            warnings.warn(f"{error}; ignored (each call picks its threads): unset it or give a thread count",
                          stacklevel=2)


_fixed_by_environment()


def available_cores():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def budget(idle=False):
    """The threads the package may use: the BLAS setting, by default the cores, and at most the
    cores that other processes leave free (``idle``: as if they left all)."""
    cores = min(_settings["blas"] or available_cores(), numba.config.NUMBA_NUM_THREADS)
    return cores if idle else min(cores, _settings["free"] or cores)


# -- other processes' load ---------------------------------------------------------------------------
LOAD_INTERVAL = 0.25  # seconds between readings: /proc/stat counts in 10 ms ticks


class OtherLoad:
    """The cores that other processes kept busy since the last reading: the machine's busy time
    (/proc/stat) minus this process's CPU time, over the wall time. None where /proc/stat is missing."""

    def __init__(self):
        try:  # kept open: opening it again at each reading took 0.2 ms after a pause, reading it 0.04
            self.stat = os.open("/proc/stat", os.O_RDONLY)
        except OSError:
            self.stat = None
        self.last = self.read()

    def __del__(self):
        if self.stat is not None:
            os.close(self.stat)

    def read(self):
        if self.stat is None:
            return None
        try:
            first_line = os.pread(self.stat, 512, 0).split(b"\n", 1)[0]
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, first_line.split()[1:9])
        except (OSError, ValueError):
            return None
        busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        return busy, time.process_time(), time.perf_counter()

    def cores(self):
        """The busy cores of others since the last call (or since this was made), and start anew."""
        now, last = self.read(), self.last
        self.last = now
        if last is None or now is None or now[2] <= last[2]:
            return None
        (busy0, own0, wall0), (busy1, own1, wall1) = last, now
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)


_load = {"monitor": OtherLoad(), "next": 0.0}  # read from import on, so that the first call has a reading


def follow_load():
    """At most every LOAD_INTERVAL seconds: take the cores that other processes keep busy out of the
    budget (``budget``), and hold BLAS to it. Returns the free cores (None: no reading)."""
    now = time.monotonic()
    if now < _load["next"] or not _settings["follow"]:
        return _settings["free"]
    _load["next"] = now + LOAD_INTERVAL
    others = _load["monitor"].cores()
    if others is None:
        return _settings["free"]
    free = max(1, min(available_cores(), round(available_cores() - others)))
    if free != (_settings["free"] or available_cores()):
        _settings["free"] = free
        _settings["generation"] += 1
        blas_threads(budget())
    return free


def kernel_threads():
    """The fixed kernel thread count, or None where each call picks its own (threads_for)."""
    return _settings["kernels"]


def threads_for(parameters):
    """The kernel threads of a compiled call on a model (or layer) of ``parameters`` parameters: the
    fixed setting if there is one, else the whole budget from POOL_PARAMETERS on (one pool: the
    products split between the kernel threads, BLAS at 1 thread) and 1 below it (the element-wise
    kernels on one thread, BLAS threading the products). The optimizer's update, memory-bound and
    as long as the parameters, gains most from the second core; a small model's many short kernels
    spend more on waking it than they save."""
    return _settings["kernels"] or (budget() if parameters >= POOL_PARAMETERS else 1)


def blocks_for(parameters):
    """The blocks that a large product of a model (or layer) of ``parameters`` parameters is cut into
    (kernels/blas/products.py): its kernel threads on an idle machine. On a busy one fewer threads
    compute the same blocks in turn, so the bits do not depend on other processes' load."""
    return _settings["kernels"] or (budget(idle=True) if parameters >= POOL_PARAMETERS else 1)


def blas_threads(n):
    """Limit NumPy's and SciPy's OpenBLAS to ``n`` threads. As a context manager (``with
    blas_threads(1): ...``) the previous limits come back at the block's end."""
    # numba's products call SciPy's OpenBLAS, which products.py loads (without scipy.linalg's
    # imports): imported first, so that the limit reaches it too.
    from mlp_scratch.kernels.blas import products  # noqa: F401
    from threadpoolctl import threadpool_limits
    return threadpool_limits(n, user_api="blas")


def set_budget(n):
    """At most ``n`` threads from now on: BLAS at n, the budget n, a fixed kernel count capped at n."""
    kernels = _settings["kernels"]
    set_threads(blas=n, kernels=None if kernels is None else min(kernels, n))


@contextlib.contextmanager
def limited(n):
    """set_budget(n) for the block: the settings and limits before it come back at its end."""
    blas, kernels = _settings["blas"], _settings["kernels"]
    with blas_threads(n):  # restores the libraries' limits on leaving
        set_budget(n)
        try:
            yield
        finally:
            _settings["blas"], _settings["kernels"] = blas, kernels
            _settings["generation"] += 1


def apply(parameters=None):
    """Set the calling thread's kernel threads (numba's setting is per thread) for the compiled call
    that follows, and return them. ``parameters`` as threads_for takes them; None, for a call
    without matrix products (an optimizer's update, an element-wise layer), keeps the threads of the
    thread's last call with products, so that an update after a step runs in the step's mode."""
    follow_load()
    if parameters is not None or getattr(_local, "generation", -1) != _settings["generation"]:
        _local.threads = threads_for(parameters or 0)
        _local.generation = _settings["generation"]
    if _local.threads > 1 and getattr(_local, "flushing", False) and not _local.pool_flushed:
        switch_pool(True)
    if numba.get_num_threads() != _local.threads:  # also after numba.set_num_threads elsewhere
        numba.set_num_threads(_local.threads)
    return _local.threads


@contextlib.contextmanager
def pools(parameters):
    """Around a compiled call with matrix products: apply(parameters) and, with the kernels on more
    than one thread, BLAS at 1 thread until the call returns (each kernel thread makes its own
    single-threaded BLAS calls: kernels/blas/products.py)."""
    if apply(parameters) == 1:
        yield
        return
    with blas_controller().limit(limits=1):
        yield


@contextlib.contextmanager
def subnormals_flushed(parameters):
    """Flush-to-zero and denormals-are-zero (kernels/denormals.py) for the block, for training a model
    of ``parameters`` parameters: in the calling thread; in every numba thread from the first call
    that runs the kernels on more than one (``apply``); and, where OpenBLAS's workers compute the
    model's products (threads_for gives the kernels 1 thread), in those. The calling thread's own
    setting comes back at the end, and the other threads' flags are cleared. Nested blocks (a
    Trainer.fit around its epochs) switch once.

    Subnormal floats take a slow path in these processors: weights and Adam's averages that decay
    towards zero made each epoch of a 784-256-256-10 MNIST run slower than the last (0.51 s to 2.57 s
    over 30 epochs). The setting is per thread: numba's pool takes it in one parallel call, which
    a small model, its kernels on the calling thread, does not make: waking a pool thread that slept
    costs 50 us to 6 ms here (a virtual core descheduled), 20-40% of a 64-64-64-10 epoch.
    OpenBLAS's workers take their creator's setting, so its pools are stopped (55 us each) and start
    again flushing. In one pool they compute nothing and are left alone (new workers spin for 0.2 s
    when they start, 7-15% of a 784-256-256-10 epoch), so workers that a threaded call starts within
    such a block, right after a small model's training, keep flushing until the next one."""
    if getattr(_local, "flushing", False):
        yield
        return
    from mlp_scratch.kernels import denormals
    previous, kernel_threads = denormals.control(), threads_for(parameters)
    blas_computes = kernel_threads == 1 and budget() > 1
    denormals.set_control(denormals.switch(previous, True))
    if blas_computes:
        restart_openblas_workers()
    _local.flushing, _local.pool_flushed = True, False
    try:
        if kernel_threads > 1:
            switch_pool(True)
        yield
    finally:
        _local.flushing = False
        if _local.pool_flushed:
            switch_pool(False)
        if blas_computes:
            restart_openblas_workers()
        denormals.set_control(previous)


def switch_pool(on):
    """FTZ and DAZ on or off in the calling thread and every numba pool thread."""
    from mlp_scratch.kernels import denormals
    count, pool = numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(pool)  # every pool thread takes one iteration of the switch
    try:
        denormals.switch_threads(on, pool)
    finally:
        numba.set_num_threads(count)
    _local.pool_flushed = on


def restart_openblas_workers():
    """Stop the worker threads of every OpenBLAS loaded (threadpoolctl finds them). OpenBLAS starts
    new ones on its next threaded call, from the calling thread, whose floating-point settings they
    take. (Started at once instead, with its blas_thread_init, they spin for 0.2 s: 784-256-256-10
    epochs took 0.60-0.65 s instead of 0.52.)"""
    for library in blas_controller().lib_controllers:
        if library.internal_api == "openblas" and hasattr(library.dynlib, "blas_thread_shutdown_"):
            library.dynlib.blas_thread_shutdown_()


def blas_controller():
    """threadpoolctl's controller of the BLAS libraries loaded, made once (that takes milliseconds)
    after kernels/blas/products.py has loaded SciPy's OpenBLAS."""
    if not _controller:
        from mlp_scratch.kernels.blas import products  # noqa: F401
        from threadpoolctl import ThreadpoolController
        _controller.append(ThreadpoolController().select(user_api="blas"))
    return _controller[0]
