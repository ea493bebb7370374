"""The Dataset record, stratified splits and the preprocessing fitted on the training split."""
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import train_test_split


@dataclass
class Standardizer:
    """x -> (x - mean) / std per feature, fitted on the training split only.
    Features constant on the training split keep std 1 (they are only centred)."""
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X):
        X = np.asarray(X, np.float64)
        std = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, X, dtype=np.float32):
        return np.ascontiguousarray((np.asarray(X, np.float64) - self.mean) / self.std, dtype=dtype)

    def state(self):
        return {"kind": "standardize", "mean": self.mean, "std": self.std}


@dataclass
class Dataset:
    """Train/validation/test splits: float C-contiguous features, int64 labels, and metadata
    (name, class_names, preprocessing, source)."""
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n_features(self):
        return self.X_train.shape[1]

    @property
    def n_classes(self):
        return len(self.meta["class_names"])


def split_and_standardize(X, y, *, val_fraction, test_fraction, seed, dtype=np.float32, meta=None):
    """Stratified, seeded train/validation/test split; standardization fitted on train only."""
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be below 1, got {val_fraction + test_fraction}")
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_fraction, stratify=y, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_fraction / (1 - test_fraction), stratify=y_rest, random_state=seed)
    scaler = Standardizer.fit(X_train)
    meta = dict(meta or {}, preprocessing=scaler.state())
    as_labels = lambda v: np.ascontiguousarray(v, np.int64)  # noqa: E731
    return Dataset(scaler.transform(X_train, dtype), as_labels(y_train), scaler.transform(X_val, dtype),
                   as_labels(y_val), scaler.transform(X_test, dtype), as_labels(y_test), meta)
