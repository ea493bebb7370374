"""Checkpoints: one .npz file that loads with numpy.load(..., allow_pickle=False).

Arrays: ``params`` (the flat parameter buffer), ``running`` (batch-norm running averages),
``optimizer.<name>`` (each optimizer state array), ``preprocessing.<name>`` (the transform's shift
and scale), ``targets.<name>`` (a regression set's target transform) and, in a resumable
checkpoint, ``trainer.best_params`` and ``trainer.best_running``.
``metadata`` is a JSON string: format_version, the model config, the optimizer's name,
hyperparameters and step count, the preprocessing kinds, the trainer's state (epoch and step
counters, the shuffling generator's state, the history, the schedule's state) and anything passed
as ``extra``. Writes are atomic: a crash mid-write leaves the previous file intact.
"""
import json
import os
import pathlib
import tempfile
import zipfile

import numpy as np

from mlp_scratch.model import MLP, r_squared
from mlp_scratch.validation import check_features

FORMAT_VERSION = 1


def save(path, model, optimizer=None, preprocessing=None, extra=None, trainer=None, targets=None):
    """Write a checkpoint of ``model`` (and optionally the optimizer's, the preprocessing's (of the
    features, and of a regression set's ``targets``) and a Trainer's state, which makes it
    resumable) to path."""
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
    for name, transform in (("preprocessing", preprocessing), ("targets", targets)):
        if transform is not None:
            arrays.update({f"{name}.{k}": np.asarray(v) for k, v in transform.items() if k != "kind"})
            metadata[name] = {"kind": transform["kind"]}
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
    """A saved model with its preprocessing: predicts from raw (unpreprocessed) inputs, and a
    regression model's predictions come back in the targets' own units.

    >>> predictor = Predictor.load("runs/digits-.../best_model.npz")
    >>> predictor.predict(X_raw)
    """

    def __init__(self, model, preprocessing=None, targets=None):
        self.model, self.preprocessing, self.targets = model, preprocessing, targets

    @classmethod
    def load(cls, path):
        from mlp_scratch.datasets import Preprocessing

        model, metadata, arrays = load(path)
        transforms = [Preprocessing(metadata[name]["kind"], arrays[f"{name}.shift"], arrays[f"{name}.scale"])
                      if name in metadata else None for name in ("preprocessing", "targets")]
        return cls(model, *transforms)

    def transform(self, X):
        """The preprocessing the model was trained with, fitted then, applied to X."""
        X = check_features(X, self.model.input_dim, self.model.dtype)
        return X if self.preprocessing is None else self.preprocessing.transform(X, self.model.dtype)

    def predict(self, X):
        """Class labels, or a regression model's predictions (N, outputs) in the targets' units."""
        predictions = self.model.predict(self.transform(X))
        if self.targets is None:
            return predictions
        return predictions * self.targets.scale.astype(predictions.dtype) + self.targets.shift.astype(predictions.dtype)

    def predict_proba(self, X):
        return self.model.predict_proba(self.transform(X))

    def score(self, X, y):
        """Accuracy, or R^2 of the targets y in their own units."""
        if self.model.regression:
            y = self.model.check_targets(y, len(X))
            return r_squared(y, self.predict(X))
        return self.model.score(self.transform(X), y)
