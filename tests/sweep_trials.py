"""Trials for the sweep tests. Worker processes import this module (the tests put this folder on
their PYTHONPATH), so each trial can fail in the way its config asks."""
import os

from threadpoolctl import threadpool_info

from mlp_scratch.datasets.dataset import Dataset
from mlp_scratch.threads import kernel_threads
from mlp_scratch.trainer import INTERRUPTED, NON_FINITE

calls = []  # configs this process ran (the serial backend's calls, seen by the test)
parent_mark = None  # set by a test in its own process: a forked worker would inherit it


def probe(data, config):
    """A value computed from the data, and the BLAS threads the trial ran at; fails as
    ``config["fail"]`` says: "raise", "crash" (the process dies), "diverge", "interrupt"."""
    calls.append(config)
    fail = config.get("fail")
    if fail == "raise":
        raise ValueError(f"trial {config['x']} asked to fail")
    if fail == "crash":
        os._exit(3)
    reason = {"diverge": f"{NON_FINITE} (nan) at epoch 1, iteration 2", "interrupt": f"{INTERRUPTED} after 0 epochs"}
    blas = sorted({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
    return {"value": float(data.X_train.sum()) * config["x"], "blas": blas, "kernels": kernel_threads(),
            "stop_reason": reason.get(fail, "completed"), "inherited": parent_mark}


class CountingDataset(Dataset):
    """A Dataset that counts how often this process pickles it (sends it to a worker)."""
    pickled = 0

    def __reduce__(self):
        CountingDataset.pickled += 1
        return Dataset, tuple(getattr(self, name) for name in self.__dataclass_fields__)

