"""A sweep's trials on the worker side, and the status columns of their rows (see sweep.py).

Both engines' modules, sweep.py (this process, loky workers) and sweep_dask.py (a Dask cluster),
import this one, which imports neither: a leaf, so that the engines do not import each other."""
import os
import socket
import traceback

import numpy as np

from mlp_scratch.threads import set_budget
from mlp_scratch.trainer import INTERRUPTED, NON_FINITE

STATUS_COLUMNS = ["status", "error", "worker", "threads"]  # added to every row
MEASURED = ("ok", "diverged")  # statuses of trials that have results


def run_trial(trial, data, config, threads):
    """``trial(data, config)`` with the status columns (``threads``: the BLAS threads it ran at); an
    exception becomes a row with status "error". A Ctrl-C that the trainer caught ends the sweep,
    not only the trial."""
    try:
        row = dict(trial(data, config))
    except Exception as error:  # noqa: BLE001 (every failure of a trial is recorded)
        return {**failure("error", error, threads, this_worker()), "traceback": traceback.format_exc()}
    reason = str(row.get("stop_reason", ""))
    if reason.startswith(INTERRUPTED):
        raise KeyboardInterrupt(reason)
    diverged = reason.startswith(NON_FINITE)
    return {**row, "status": "diverged" if diverged else "ok", "error": reason if diverged else "",
            "worker": this_worker(), "threads": threads}


def failure(status, error, threads, worker=""):
    """A row for a trial that has no results."""
    return {"status": status, "error": f"{type(error).__name__}: {error}", "worker": worker, "threads": threads}


def this_worker():
    return f"{socket.gethostname()}:{os.getpid()}"


def configure_worker(data, threads):
    """Prepare a worker process for its trials: ``threads`` for BLAS and the compiled kernels (a
    fixed kernel count is capped at it), for the rest of its life; ``data``'s arrays on 16-byte boundaries, as NumPy
    allocates them (Dask hands arrays over where they lay in its message, even at odd addresses,
    where NumPy's SIMD loops take other paths and round differently: a float32 sum changed)."""
    set_budget(threads)
    for name, value in vars(data).items():
        if isinstance(value, np.ndarray) and value.ctypes.data % 16:
            setattr(data, name, value.copy())


def outcome(row, measured):
    """A trial's log text: ``measured(row)`` if it has results (with why it diverged), else its
    status and error."""
    if row["status"] not in MEASURED:
        return f"{row['status']}: {row['error']}"
    return measured(row) + (f"  ({row['error']})" if row["status"] == "diverged" else "")
