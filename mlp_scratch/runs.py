"""A run folder: config.json, metrics.csv (one row per epoch), history.json, checkpoint.npz and
curves.png. Each file is written whole, atomically, so an interrupted run keeps what it had."""
import csv
import io
import json
import os
import pathlib

from mlp_scratch import checkpoint
from mlp_scratch.plots import plot_history

METRICS = ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "time"]


def write_text(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def save_run(folder, config, model, optimizer, history, preprocessing=None, results=None):
    """Write everything a run produced into ``folder`` (created if needed); returns its path."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "config.json", json.dumps(config, indent=2) + "\n")
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=METRICS)
    writer.writeheader()
    writer.writerows(history.epochs)
    write_text(folder / "metrics.csv", table.getvalue())
    write_text(folder / "history.json", json.dumps({**history.to_dict(), "results": results or {}}) + "\n")
    checkpoint.save(folder / "checkpoint.npz", model, optimizer, preprocessing,
                    extra={"best_epoch": history.best_epoch, "stop_reason": history.stop_reason})
    plot_history(history, folder / "curves.png", title=config.get("title"))
    return folder
