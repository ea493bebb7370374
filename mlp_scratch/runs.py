"""A run folder: config.json, metrics.csv (one row per epoch), history.json, checkpoint.npz (the
resumable state at the end of the last finished epoch), best_model.npz (the parameters of the best
validation epoch, with the preprocessing, for prediction) and curves.png. Each file is written whole,
atomically, so an interrupted or crashed run keeps everything up to its last finished epoch."""
import csv
import io
import json
import os
import pathlib

import numpy as np

from mlp_scratch import checkpoint
from mlp_scratch.plots import plot_history

METRICS = ["epoch", "lr", "batch_loss", "train_loss", "train_acc", "val_loss", "val_acc", "time"]


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


def save_history(folder, history, results=None):
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=METRICS)
    writer.writeheader()
    writer.writerows(history.epochs)
    write_text(folder / "metrics.csv", table.getvalue())
    write_text(folder / "history.json", json.dumps({**history.to_dict(), "results": results or {}}) + "\n")


def save_config(folder, config):
    """The run's resolved options, written before training starts so that any crash leaves them."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "config.json", json.dumps(config, indent=2) + "\n")


def save_epoch(folder, trainer, preprocessing=None):
    """After each epoch: the resumable checkpoint and the history so far."""
    folder = pathlib.Path(folder)
    checkpoint.save(folder / "checkpoint.npz", trainer.model, trainer.optimizer, preprocessing, trainer=trainer)
    save_history(folder, trainer.history)


def save_run(folder, config, model, optimizer, history, preprocessing=None, results=None):
    """At the end of a run: the config, the history with the results, the best model (the trainer
    has restored it into ``model``) and the figure. Returns the folder's path."""
    folder = pathlib.Path(folder)
    save_config(folder, config)
    save_history(folder, history, results)
    checkpoint.save(folder / "best_model.npz", model, optimizer, preprocessing,
                    extra={"best_epoch": history.best_epoch, "stop_reason": history.stop_reason})
    plot_history(history, folder / "curves.png", title=config.get("title"))
    return folder
