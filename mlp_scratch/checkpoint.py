"""Checkpoints: one .npz file that loads with numpy.load(..., allow_pickle=False).

Arrays: ``params`` (the flat parameter buffer), ``running`` (batch-norm running averages),
``optimizer.<name>`` (each optimizer state array), ``preprocessing.<name>`` (the transform's shift
and scale) and, in a resumable checkpoint, ``trainer.best_params`` and ``trainer.best_running``.
``metadata`` is a JSON string: format_version, the model config, the optimizer's name,
hyperparameters and step count, the preprocessing kind, the trainer's state (epoch and step
counters, the shuffling generator's state, the history, the schedule's state) and anything passed
as ``extra``. Writes are atomic: a crash mid-write leaves the previous file intact.
"""
import json
import os
import pathlib
import tempfile
import zipfile

import numpy as np

from mlp_scratch.model import MLP
from mlp_scratch.validation import check_features

FORMAT_VERSION = 1


def save(path, model, optimizer=None, preprocessing=None, extra=None, trainer=None):
    """Write a checkpoint of ``model`` (and optionally the optimizer's, the preprocessing's and a
    Trainer's state, which makes it resumable) to path."""
    arrays = {"params": model.flat_params, "running": model.running}
    metadata = {"format_version": FORMAT_VERSION, "model": model.config(), "extra": extra or {}}
    if trainer is not None:
        state = trainer.state_dict()
        arrays["trainer.best_params"] = state.pop("best_params")
        arrays["trainer.best_running"] = state.pop("best_running")
        metadata["trainer"] = state
    if optimizer is not None:
        state = optimizer.state_dict()
        arrays.update({f"optimizer.{k}": v for k, v in state["state"].items()})
        metadata["optimizer"] = {"name": type(optimizer).__name__.lower(), "lr": state["lr"],
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
    except BaseException:  # a Ctrl-C can land after os.replace has moved tmp: then nothing is left to delete
        pathlib.Path(tmp).unlink(missing_ok=True)
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


def restore_training(path, model, optimizer):
    """Load a resumable checkpoint into ``model`` and ``optimizer``, which must be built as the
    checkpoint's were, and return the trainer state for ``Trainer.fit(..., resume=...)``."""
    saved, metadata, arrays = load(path)
    if "trainer" not in metadata:
        raise ValueError(f"{path} holds no training state to resume from (it is a model only)")
    if saved.config() != model.config():
        differences = {k: (v, model.config()[k]) for k, v in saved.config().items() if model.config()[k] != v}
        raise ValueError(f"{path} was saved for another model: (saved, now) differ in {differences}")
    if metadata["optimizer"]["name"] != type(optimizer).__name__.lower():
        raise ValueError(f"{path} was saved with optimizer {metadata['optimizer']['name']}, "
                         f"not {type(optimizer).__name__.lower()}")
    model.flat_params[:], model.running[:] = saved.flat_params, saved.running
    saved = metadata["optimizer"]
    optimizer.load_state_dict({"lr": saved["lr"], "hyperparameters": saved["hyperparameters"],
                               "steps": saved["steps"],
                               "state": {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("optimizer.")}})
    return {**metadata["trainer"], "best_params": arrays["trainer.best_params"],
            "best_running": arrays["trainer.best_running"]}


class Predictor:
    """A saved model with its preprocessing: predicts from raw (unpreprocessed) inputs.

    >>> predictor = Predictor.load("runs/digits-.../best_model.npz")
    >>> predictor.predict(X_raw)
    """

    def __init__(self, model, preprocessing=None):
        self.model, self.preprocessing = model, preprocessing

    @classmethod
    def load(cls, path):
        from mlp_scratch.datasets import Preprocessing

        model, metadata, arrays = load(path)
        if "preprocessing" not in metadata:
            return cls(model)
        kind = metadata["preprocessing"]["kind"]
        return cls(model, Preprocessing(kind, arrays["preprocessing.shift"], arrays["preprocessing.scale"]))

    def transform(self, X):
        """The preprocessing the model was trained with, fitted then, applied to X."""
        X = check_features(X, self.model.input_dim, self.model.dtype)
        return X if self.preprocessing is None else self.preprocessing.transform(X, self.model.dtype)

    def predict(self, X):
        return self.model.predict(self.transform(X))

    def predict_proba(self, X):
        return self.model.predict_proba(self.transform(X))

    def score(self, X, y):
        return self.model.score(self.transform(X), y)
