"""numba's compile cache, safe for processes that compile at once (a sweep's workers, the tests on
several cores) and for kernels loaded in any order.

numba saves a kernel by reading its function's index, taking the first data file the index does not
name, writing the index and then the data. Two processes doing that at once can take the same data
file for two signatures, leaving the index naming one kernel's machine code for the other (numba
issue 4807): a crash, or another kernel's results. Here a save holds a lock on the cache folder, and
writes the data before the index that names it, so a process loading meanwhile never reads a data
file before it is complete.

numba links a copy of each parallel kernel into the kernels that call it. A caller compiled against
a copy from the cache (a new dtype or layout in a later process) is cached without numba's hook that
starts the thread pool, and loaded as a process's first parallel kernel it jumped to address 0
(tests/test_kernels.py). So loading code that calls the pool starts the pool, as compiling a parallel
kernel does. Not at import, nor for every load: the pool loads the system's libgomp, and a PyTorch
imported after it runs on that one, not its own (the benchmark's torch side then took 9x as long).
"""
import contextlib
import itertools
import os

from numba.core.caching import IndexDataCacheFile
from numba.np.ufunc.parallel import _launch_threads

LOCK_FILE = "mlp-scratch-cache.lock"


def lock(file, wait=True):
    """An exclusive lock on the open ``file`` (its first byte), released when the file is closed or
    the process ends, however it ends. ``wait``: until other processes let it go; else False at once
    if one holds it. (mlp_scratch/runs.py locks a run's folder with it too.)"""
    file.seek(0)  # Windows locks bytes from the position: always the first
    try:
        if os.name == "nt":
            import msvcrt
            while True:
                try:
                    msvcrt.locking(file.fileno(), msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after 10 s: try again
                    if not wait:
                        raise
        else:
            import fcntl
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:  # held elsewhere: BlockingIOError on POSIX, PermissionError on Windows
        if wait:
            raise
        return False
    return True


@contextlib.contextmanager
def folder_lock(folder):
    """Wait for ``folder``'s lock, then hold it for the ``with`` block."""
    with open(os.path.join(folder, LOCK_FILE), "a+b") as file:
        lock(file)
        yield


# Functions of numba's thread pool, which its start makes known to compiled code.
POOL_FUNCTIONS = (b"numba_parallel_for", b"get_num_threads")


def calls_the_pool(data):
    """Whether the machine code of a cache entry (numba's reduced compile result: its library first,
    as (name, "object", (object code, bitcode))) calls numba's thread pool; True if it is not in
    that form."""
    library = data[0]
    try:
        code = library[2][0]
        return any(name in code for name in POOL_FUNCTIONS) if library[1] == "object" else True
    except (IndexError, TypeError):
        return True


class LockedCacheFile(IndexDataCacheFile):
    """numba's index and data files of one function, saved under the folder's lock, data first; a
    load of code that calls numba's thread pool starts the pool."""

    def load(self, key):
        data = super().load(key)
        if data is not None and calls_the_pool(data):
            _launch_threads()
        return data

    def save(self, key, data):
        with folder_lock(self._cache_path):
            overloads = self._load_index()  # as other processes left it
            name = overloads.get(key)
            if name is None:
                taken = set(overloads.values())
                name = next(name for name in map(self._data_name, itertools.count(1)) if name not in taken)
            self._save_data(name, data)
            if overloads.get(key) != name:
                overloads[key] = name
                self._save_index(overloads)


def locked(dispatcher):
    """``dispatcher``, a numba function compiled with cache=True, saving through LockedCacheFile."""
    cache = dispatcher._cache
    files = cache._cache_file
    cache._cache_file = LockedCacheFile(files._cache_path, files._index_name[:-len(".nbi")], files._source_stamp)
    return dispatcher
