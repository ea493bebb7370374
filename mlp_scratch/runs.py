"""A run folder: config.json, metrics.csv (one row per epoch), history.json, checkpoint.npz (the
resumable state at the end of the last finished epoch), best_model.npz (the parameters of the best
validation epoch, with the preprocessing, for prediction) and curves.png; with diagnostics on,
diagnostics.csv (a row per record and layer), diagnostics.png and histograms.png. Each file is written whole,
atomically, so an interrupted or crashed run keeps everything up to its last finished epoch. A run
holds its folder's lock (``lock_folder``) from start to end, so two runs never write into one folder."""
import contextlib
import csv
import io
import json
import os
import pathlib

import numpy as np

from mlp_scratch import checkpoint
from mlp_scratch.diagnostics import HEALTHY_RATIO
from mlp_scratch.kernels.cache import lock
from mlp_scratch.kernels.training.diagnostics import FIELDS
from mlp_scratch.plots import plot_diagnostics, plot_histograms, plot_history

RUN_FILES = ("config.json", "metrics.csv", "history.json", "checkpoint.npz", "best_model.npz", "curves.png",
             "diagnostics.csv", "diagnostics.png", "histograms.png")
LOCK_FILE = ".lock"  # stays in the folder; holds the process id of the run that last held it
DIAGNOSTICS = ["step", "epoch", "layer", *FIELDS]


def metrics_columns(metric):
    """metrics.csv's columns for a history whose score is ``metric`` ("acc" or "r2")."""
    return ["epoch", "lr", "batch_loss", "train_loss", f"train_{metric}", "val_loss", f"val_{metric}", "time"]


def plain_json(value):
    """JSON for NumPy scalars and arrays (``json.dumps(..., default=plain_json)``)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_text(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class FolderInUse(ValueError):
    """Another process holds the folder's lock."""


@contextlib.contextmanager
def lock_folder(folder, flag="--out"):
    """Hold ``folder``'s lock (creating the folder) for the ``with`` block; raise FolderInUse,
    naming the folder and the holder's process id, if another process holds it. ``flag`` is the
    option that named the folder, for the messages."""
    folder = pathlib.Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{flag} {folder} is a file, not a folder; choose a folder's path")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+") as file:
        if not lock(file, wait=False):
            file.seek(0)
            holder = file.read().strip() or "unknown"
            raise FolderInUse(f"{flag} {folder} is in use by another run (process {holder}); wait for it to end "
                              f"or choose another folder")
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        yield folder


def remove_run_files(folder):
    """Delete an earlier run's files from ``folder`` (with its lock held), so that nothing of it
    mixes with the new run's."""
    for name in RUN_FILES:
        (pathlib.Path(folder) / name).unlink(missing_ok=True)


def write_csv(path, columns, rows):
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, table.getvalue())


def save_history(folder, history, results=None):
    write_csv(folder / "metrics.csv", metrics_columns(history.metric), history.epochs)
    if history.diagnostics:
        write_csv(folder / "diagnostics.csv", DIAGNOSTICS, history.diagnostics)
    write_text(folder / "history.json", json.dumps({**history.to_dict(), "results": results or {}}) + "\n")


def save_config(folder, config):
    """The run's resolved options, written before training starts so that any crash leaves them."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "config.json", json.dumps(config, indent=2) + "\n")


def save_epoch(folder, trainer, preprocessing=None, targets=None):
    """After each epoch: the resumable checkpoint and the history so far."""
    folder = pathlib.Path(folder)
    checkpoint.save(folder / "checkpoint.npz", trainer.model, trainer.optimizer, preprocessing, trainer=trainer,
                    targets=targets)
    save_history(folder, trainer.history)


def save_run(folder, config, model, optimizer, history, preprocessing=None, results=None, targets=None):
    """At the end of a run: the config, the history with the results, the best model (the trainer
    has restored it into ``model``) and the figure. Returns the folder's path."""
    folder = pathlib.Path(folder)
    save_config(folder, config)
    save_history(folder, history, results)
    checkpoint.save(folder / "best_model.npz", model, optimizer, preprocessing,
                    extra={"best_epoch": history.best_epoch, "stop_reason": history.stop_reason}, targets=targets)
    plot_history(history, folder / "curves.png", title=config.get("title"))
    if history.diagnostics:
        plot_diagnostics(history.diagnostics, folder / "diagnostics.png", HEALTHY_RATIO, title=config.get("title"))
    if history.histograms:
        plot_histograms(history.histograms, folder / "histograms.png", title=config.get("title"))
    return folder
