"""A sweep: an experiment's trials run in this process, on local processes (joblib's loky) or on a
Dask cluster, with the same table whichever ran them.

A trial is ``trial(data, config) -> row``, a module-level function (workers import it) and a pure
function of the data and its config, which holds its seed. ``Sweep.run(trial, configs)`` returns
one row per config, in the configs' order, each with these columns added:

    status     "ok"; "diverged": a non-finite loss stopped training (the row holds what the trial
               measured before, e.g. its last finished epoch); "error": the trial raised; "lost":
               its worker process died while running it alone
    error      the reason, "" when ok ("traceback" too, in the results file, when the trial raised)
    worker     host:pid of the process that ran it ("" when its worker died)
    threads    its BLAS threads

Threads: each trial runs at ``threads`` BLAS threads, by default cores // workers, so that
workers x threads never exceeds the cores; a worker's compiled kernels run at most as many (1 by
default: see mlp_scratch.threads; they and the matrix products take turns). On a Dask cluster the
default is worked out for each host from its cores and the trials its workers run at once.
OpenBLAS's float32 products change in their last bits with its thread count, so tables are bitwise
identical at equal ``threads`` (a serial sweep at threads=1 equals two workers at 1 thread each).

Processes start by fork+exec (loky) or spawn (Dask), never by a bare fork, which would copy a
process whose OpenMP pool already runs. Each trial of one Dask worker process should have the
process to itself (``dask worker --nthreads 1``): BLAS limits are per process, and compiled code
holds the GIL. The data goes to every worker once: as the loky workers' initializer argument, or in
a Dask worker plugin (sweep_dask.py); trials take it from the worker's memory. What runs a trial on
a worker, and the status columns, are in trials.py, which both engines share.

A trial's exception is caught in the worker and recorded. A worker's death fails the trials it was
running (on Dask also those queued on it, after ``distributed.scheduler.allowed-failures`` retries):
those run again one at a time, so that only a trial whose worker dies while it runs alone is
recorded as lost, and the others finish.

Every finished trial is appended to the ``results`` file (JSON lines, flushed to disk) when it
finishes. ``resume=True`` reads the file and runs only the configs that have no finished row there:
a trial is identified by its function, its config and the data's fingerprint, so changed settings
are new trials. Rows whose status is "error" or "lost" run again (their cause may be gone).
"""
import collections
import hashlib
import json
import os
import pathlib
import warnings
from concurrent.futures import FIRST_COMPLETED, wait

from mlp_scratch.experiments.trials import configure_worker, failure, run_trial, this_worker
from mlp_scratch.runs import plain_json, write_text
from mlp_scratch.threads import available_cores, limited
from mlp_scratch.validation import check_choice, check_positive_int

BACKENDS = ("serial", "joblib", "dask")
RETRIED = ("error", "lost")  # statuses that a resumed sweep runs again


def fingerprint(data):
    """A digest of a Dataset's splits: trials on other data are other trials."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (data.X_train, data.y_train, data.X_val, data.y_val, data.X_test, data.y_test):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B") if array.flags.c_contiguous else array.tobytes())
    return digest.hexdigest()


class Sweep:
    """Runs trials on one backend, keeping every finished row in ``results`` (see the module
    docstring). Use it as a context manager: workers start at the first trial to run and stop at
    the end of the block.

    Parameters
    ----------
    data : Dataset
        Sent to each worker once.
    backend : {"serial", "joblib", "dask"}
    workers : int or None
        Trials at once: "joblib" and a Dask LocalCluster default to the cores, "serial" runs one; a
        Dask cluster given by ``scheduler`` has its own workers.
    threads : int or None
        BLAS threads of each trial (default: see the module docstring).
    scheduler : str or None
        A Dask scheduler's address ("tcp://host:8786"); None starts a LocalCluster on 127.0.0.1.
    results : path or None
        The results file (JSON lines); None keeps rows in memory only.
    resume : bool
        Keep the finished trials of an existing results file instead of starting it anew.
    """

    def __init__(self, data, *, backend="serial", workers=None, threads=None, scheduler=None, results=None,
                 resume=False):
        check_choice("backend", backend, BACKENDS)
        if workers is not None:
            check_positive_int("workers", workers)
        if threads is not None:
            check_positive_int("threads", threads)
        if scheduler is not None and backend != "dask":
            raise ValueError(f"scheduler: only the dask backend takes a scheduler address, got backend {backend!r}")
        if backend == "serial" and workers not in (None, 1):
            raise ValueError(f"workers: the serial backend runs one trial at a time, got {workers!r}")
        if scheduler is not None and workers is not None:
            raise ValueError(f"workers: a Dask cluster given by its scheduler has its own workers, got {workers!r}")
        if scheduler is None:
            cores = available_cores()
            workers = workers or (1 if backend == "serial" else cores)
            threads = threads or max(1, cores // workers)
            if workers * threads > cores:
                raise ValueError(f"workers x threads must not exceed the {cores} cores, got {workers} x {threads}")
        self.threads = threads
        if backend == "dask":
            try:
                from mlp_scratch.experiments.sweep_dask import DaskEngine as engine
            except ModuleNotFoundError as error:
                if error.name.partition(".")[0] not in ("dask", "distributed"):
                    raise
                raise ModuleNotFoundError(f"backend 'dask' needs dask and distributed ({error}): "
                                          f"pip install 'mlp-scratch[distributed]'") from error
        else:
            engine = {"serial": _Serial, "joblib": _Loky}[backend]
        self._engine = engine(data, workers, threads, scheduler)
        self._results = _ResultsFile(results, resume, fingerprint(data))

    def run(self, trial, configs, report=None):
        """The rows of ``trial`` on each of ``configs``, in their order. A config is a dict of JSON
        values (NumPy scalars and tuples become numbers and lists, as the results file keeps them).
        ``report(config, row)`` is called as each trial finishes."""
        configs = [json.loads(json.dumps(config, default=plain_json)) for config in configs]
        keys = [self._results.key(trial, config) for config in configs]
        rows, todo = {}, {}
        for key, config in zip(keys, configs):
            row = self._results.get(key)
            if row is None:
                todo[key] = config
            else:
                rows[key] = row
        if isinstance(self.threads, int) and any(row["threads"] != self.threads for row in rows.values()):
            warnings.warn(f"results: trials kept from the results file ran at other BLAS threads than "
                          f"{self.threads}; their last bits may differ from a run at {self.threads}", stacklevel=2)
        if todo:
            for key, row in self._engine.run(trial, list(todo.items())):
                rows[key] = row
                self._results.add(key, row)
                if report:
                    report(todo[key], row)
        return [rows[key] for key in keys]

    def close(self, kill=False):
        """Stop the workers: once they finish their trials, or at once if ``kill``."""
        self._engine.close(kill)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        self.close(kill=exc_type is not None)


class _ResultsFile:
    """Finished rows by trial key, appended to a JSON-lines file as they come."""

    def __init__(self, path, resume, data_fingerprint):
        self.path = None if path is None else pathlib.Path(path)
        self.data = data_fingerprint
        self.rows = {}
        self._fresh = not resume  # without resume, the file starts anew at the first finished trial
        if self.path is not None and resume and self.path.exists():
            self.rows = self._read()

    def key(self, trial, config):
        """A trial's identity: the data, the trial function and its config, as JSON."""
        return json.dumps({"data": self.data, "trial": f"{trial.__module__}.{trial.__qualname__}", "config": config},
                          sort_keys=True)

    def get(self, key):
        row = self.rows.get(key)
        return None if row is None or row["status"] in RETRIED else row

    def add(self, key, row):
        self.rows[key] = row
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "w" if self._fresh else "a") as f:
                self._fresh = False
                f.write(json.dumps({**json.loads(key), "row": row}, default=plain_json) + "\n")
                f.flush()
                os.fsync(f.fileno())

    def _read(self):
        """The rows of the file's readable lines; the file is rewritten with only those, so that
        a line cut short by a crash does not run into the next one appended."""
        rows, kept = {}, []
        lines = self.path.read_text().splitlines()
        for line in lines:
            try:
                entry = json.loads(line)
                row = entry.pop("row")
                rows[json.dumps(entry, sort_keys=True)] = row
                kept.append(line + "\n")
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
        if len(kept) < len(lines):
            warnings.warn(f"results: {len(lines) - len(kept)} unreadable line(s) in {self.path} skipped; their trials "
                          f"run again", stacklevel=4)
            write_text(self.path, "".join(kept))
        return rows


class _Serial:
    def __init__(self, data, workers, threads, scheduler):
        self.data, self.threads = data, threads

    def run(self, trial, items):
        for key, config in items:
            with limited(self.threads):  # this process's own settings come back after each trial
                row = run_trial(trial, self.data, config, self.threads)
            yield key, row

    def close(self, kill):
        pass


_worker = {}  # a loky worker's data and threads, from its initializer


def _receive(data, threads):
    try:
        configure_worker(data, threads)
    except Exception as error:  # noqa: BLE001 (an initializer that raises would break the pool)
        _worker["error"] = error
    _worker.update(data=data, threads=threads)
    # loky restarts a worker whose memory grew 300 MB past its first task. Here that growth is numba
    # loading each optimizer's compiled kernels (about 35 MB each, once), not a leak, and a restart
    # costs seconds: loky then only collects garbage between tasks.
    from joblib.externals.loky import process_executor
    process_executor._USE_PSUTIL = False


def _run_on_loky_worker(trial, config):
    if "error" in _worker:
        return failure("error", _worker["error"], _worker["threads"], this_worker())
    return run_trial(trial, _worker["data"], config, _worker["threads"])


class _Loky:
    """joblib's loky processes (fork+exec), ``workers`` of them, each receiving the data once."""

    def __init__(self, data, workers, threads, scheduler):
        self.data, self.workers, self.threads = data, workers, threads
        self._executor = None

    def _start(self):
        from joblib.externals.loky import ProcessPoolExecutor
        from joblib.externals.loky.backend.context import get_context
        self._executor = ProcessPoolExecutor(self.workers, context=get_context("loky"), initializer=_receive,
                                             initargs=(self.data, self.threads))

    def run(self, trial, items):
        from joblib.externals.loky import BrokenProcessPool
        queue, suspects, running = collections.deque(items), collections.deque(), {}
        while queue or suspects or running:
            if self._executor is None:
                self._start()
            source, limit = (suspects, 1) if suspects else (queue, self.workers)  # suspects run alone
            while source and len(running) < limit:
                key, config = source.popleft()
                running[self._executor.submit(_run_on_loky_worker, trial, config)] = key, config
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            lost = [f for f in done if isinstance(f.exception(), BrokenProcessPool)]
            if lost:  # a worker died: the pool fails every trial it was running
                done, _ = wait(running)
                lost = [f for f in done if isinstance(f.exception(), BrokenProcessPool)]
                self.close(kill=True)
            for future in done:
                key, config = running.pop(future)
                if future in lost and len(lost) > 1:
                    suspects.append((key, config))
                elif future.exception() is not None:
                    yield key, failure("lost" if future in lost else "error", future.exception(), self.threads)
                else:
                    yield key, future.result()

    def close(self, kill):
        if self._executor is not None:
            # Workers that exit by themselves release what they hold (tqdm's lock is a semaphore).
            self._executor.shutdown(wait=True, kill_workers=kill)
            self._executor = None
