"""Checkpoints: one .npz file that loads with numpy.load(..., allow_pickle=False).

Arrays: ``params`` (the flat parameter buffer), ``running`` (batch-norm running averages),
``optimizer.<name>`` (each optimizer state array), and ``preprocessing.<name>`` (e.g. the
standardization's mean and std). ``metadata`` is a JSON string: format_version, the model config,
the optimizer's name, hyperparameters and step count, the preprocessing kind, and anything passed as
``extra``. Writes are atomic: a crash mid-write leaves the previous file intact.
"""
import json
import os
import tempfile
import zipfile

import numpy as np

from mlp_scratch.model import MLP

FORMAT_VERSION = 1


def save(path, model, optimizer=None, preprocessing=None, extra=None):
    """Write a checkpoint of ``model`` (and optionally optimizer and preprocessing state) to path."""
    arrays = {"params": model.flat_params, "running": model.running}
    metadata = {"format_version": FORMAT_VERSION, "model": model.config(), "extra": extra or {}}
    if optimizer is not None:
        state = optimizer.state_dict()
        arrays.update({f"optimizer.{k}": v for k, v in state["state"].items()})
        metadata["optimizer"] = {"name": type(optimizer).__name__, "lr": state["lr"],
                                 "hyperparameters": state["hyperparameters"], "steps": state["steps"]}
    if preprocessing is not None:
        arrays.update({f"preprocessing.{k}": np.asarray(v) for k, v in preprocessing.items() if k != "kind"})
        metadata["preprocessing"] = {"kind": preprocessing["kind"]}
    arrays["metadata"] = np.array(json.dumps(metadata))
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".checkpoint-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """Read a checkpoint: returns (model, metadata, arrays) with the model's parameters restored."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        metadata = json.loads(str(arrays.pop("metadata")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a readable mlp-scratch checkpoint: {error}") from error
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has checkpoint format version {metadata.get('format_version')!r}; "
                         f"this mlp-scratch reads version {FORMAT_VERSION}")
    missing = {"params", "running"} - set(arrays) | ({"model"} - set(metadata))
    if missing:
        raise ValueError(f"{path} is not a complete mlp-scratch checkpoint: {sorted(missing)} missing")
    model = MLP(**metadata["model"])
    for name, target in (("params", model.flat_params), ("running", model.running)):
        if arrays[name].shape != target.shape:
            raise ValueError(f"{path}: {name} has shape {arrays[name].shape}, the model needs {target.shape}")
        target[:] = arrays[name]
    return model, metadata, arrays
