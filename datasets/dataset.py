"""The Dataset record, stratified splits, and the preprocessing fitted on the training split."""
from dataclasses import dataclass, field

import numpy as np

PREPROCESSING = ("standardize", "scale", "mean_image", "none")


@dataclass
class Preprocessing:
    """x -> (x - shift) / scale, per feature, with shift and scale fitted on the training split:

    standardize: shift = mean, scale = std (1 where a feature is constant on the training split)
    scale:       to [0, 1]: images divide by 255; other data by its training min and range
    mean_image:  shift = mean image, scale = 1 (CS231n's mean subtraction)
    none:        the identity
    """
    kind: str
    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, kind, X, images=False):
        if kind not in PREPROCESSING:
            raise ValueError(f"preprocessing must be one of {list(PREPROCESSING)}, got {kind!r}")
        n_features = X.shape[1]
        shift, scale = np.zeros(n_features), np.ones(n_features)
        if kind in ("standardize", "mean_image"):
            shift = X.mean(axis=0, dtype=np.float64)
        if kind == "standardize":
            std = X.std(axis=0, dtype=np.float64)
            scale = np.where(std > 0, std, 1.0)
        if kind == "scale" and images:
            scale = np.full(n_features, 255.0)
        elif kind == "scale":
            shift = X.min(axis=0).astype(np.float64)
            span = X.max(axis=0) - shift
            scale = np.where(span > 0, span, 1.0)
        return cls(kind, shift, scale)

    def transform(self, X, dtype=np.float32):
        """The preprocessed copy of X as a C-contiguous array of ``dtype``."""
        dtype = np.dtype(dtype)
        out = np.asarray(X, dtype=dtype) - self.shift.astype(dtype)
        out /= self.scale.astype(dtype)
        return np.ascontiguousarray(out)

    def state(self):
        return {"kind": self.kind, "shift": self.shift, "scale": self.scale}


@dataclass
class Dataset:
    """Train/validation/test splits: float C-contiguous features, int64 labels (or real targets for a
    regression set), and metadata (name, class_names or task="regression" and n_outputs,
    image_shape, preprocessing, target_preprocessing, source, sizes)."""
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
    def regression(self):
        return self.meta.get("task") == "regression"

    @property
    def n_classes(self):
        if self.regression:
            raise ValueError(f"{self.meta['name']} is a regression set, without classes: see n_outputs")
        return len(self.meta["class_names"])

    @property
    def n_outputs(self):
        """The network outputs the set needs: its classes, or its regression targets."""
        return self.meta["n_outputs"] if self.regression else self.n_classes


def class_counts(available, n):
    """How many of n samples each class gets when drawn in proportion to the ``available`` counts
    (rounded by largest remainders, so the total is exactly n)."""
    if n > available.sum():
        raise ValueError(f"asked for {n} samples but only {available.sum()} are available")
    exact = n * available / available.sum()
    counts = np.floor(exact).astype(int)
    for c in np.argsort(-(exact - counts), kind="stable")[:n - counts.sum()]:
        counts[c] += 1
    return counts


def random_indices(n, sizes, rng, names):
    """Disjoint sorted index arrays of the given sizes, drawn at random from range(n) (one
    permutation, handed out in order); ``names`` name the sizes in errors."""
    if sum(sizes) > n:
        raise ValueError(f"{' + '.join(names)} = {' + '.join(map(str, sizes))} asks for more than the {n} samples")
    order, splits, start = rng.permutation(n), [], 0
    for size in sizes:
        splits.append(np.sort(order[start:start + size]))
        start += size
    return splits


def stratified_indices(y, sizes, n_classes, rng, per_class=False, names=None):
    """Disjoint index arrays, one per requested size, each stratified by class.

    ``sizes`` are totals, or per-class counts if ``per_class``; ``names`` name them in errors. Each
    class's indices are shuffled once with ``rng`` and handed out in order, so the sets are disjoint
    and fixed by the seed."""
    names = names or [f"split {k}" for k in range(len(sizes))]
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in range(n_classes)]
    available = np.array([len(p) for p in pools])
    taken = np.zeros(n_classes, int)
    result = []
    for name, size in zip(names, sizes):
        if not per_class and size > (available - taken).sum():
            raise ValueError(f"{name}={size} asks for more samples than the {(available - taken).sum()} left")
        counts = np.full(n_classes, size) if per_class else class_counts(available - taken, size)
        if np.any(taken + counts > available):
            c = int(np.argmax(taken + counts - available))
            raise ValueError(f"{name}={size}: class {c} has {available[c]} samples, too few for the split sizes asked")
        result.append(np.sort(np.concatenate([p[t:t + k] for p, t, k in zip(pools, taken, counts)])))
        taken += counts
    return result
