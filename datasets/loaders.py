"""Loading data sets by name."""
import numpy as np
from sklearn import datasets as sk

from .dataset import split_and_standardize

# scikit-learn's bundled sets: no download needed.
BUNDLED = {
    "digits": sk.load_digits,
    "iris": sk.load_iris,
    "wine": sk.load_wine,
    "breast_cancer": sk.load_breast_cancer,
}


def load(name="digits", *, val_fraction=0.1, test_fraction=0.2, seed=0, dtype="float32"):
    """Load a data set by name and split it (stratified, seeded) into train/validation/test,
    standardized with statistics of the training split.

    >>> data = load("digits")
    >>> data.X_train.shape[1], data.n_classes
    (64, 10)
    """
    if name not in BUNDLED:
        raise ValueError(f"name must be one of {sorted(BUNDLED)}, got {name!r}")
    bunch = BUNDLED[name]()
    class_names = [str(c) for c in getattr(bunch, "target_names", np.unique(bunch.target))]
    meta = {"name": name, "class_names": class_names, "source": f"sklearn.datasets.load_{name}"}
    if name == "digits":
        meta["image_shape"] = [8, 8]
    return split_and_standardize(bunch.data, bunch.target, val_fraction=val_fraction,
                                 test_fraction=test_fraction, seed=seed, dtype=np.dtype(dtype), meta=meta)
