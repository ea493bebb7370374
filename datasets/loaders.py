"""Loading data sets by name: scikit-learn's bundled sets and generators (classification and
regression), MNIST, Fashion-MNIST and CIFAR-10 (from a local folder or OpenML)."""
import inspect
import numbers

import numpy as np
from sklearn import datasets as sk

from mlp_scratch.validation import check_dtype, check_positive_int, check_seed

from .dataset import Dataset, Preprocessing, random_indices, stratified_indices
from .sources import IMAGE_SETS, load_image_set

BUNDLED = {"digits": sk.load_digits, "iris": sk.load_iris, "wine": sk.load_wine,
           "breast_cancer": sk.load_breast_cancer}
GENERATORS = {
    "moons": (sk.make_moons, dict(n_samples=1000, noise=0.2)),
    "circles": (sk.make_circles, dict(n_samples=1000, noise=0.1, factor=0.5)),
    "blobs": (sk.make_blobs, dict(n_samples=1000, centers=3, n_features=2, cluster_std=1.0)),
    "classification": (sk.make_classification, dict(n_samples=1000, n_features=20, n_informative=5,
                                                    n_classes=3, n_clusters_per_class=1)),
}
# Regression: real targets, split at random, standardized on the training split by default.
REGRESSION_BUNDLED = {"diabetes": sk.load_diabetes}
REGRESSION_GENERATORS = {
    "regression": (sk.make_regression, dict(n_samples=1000, n_features=20, n_informative=10, noise=10.0)),
    "friedman1": (sk.make_friedman1, dict(n_samples=1000, n_features=10, noise=1.0)),
}
REGRESSION_SETS = sorted(REGRESSION_BUNDLED) + sorted(REGRESSION_GENERATORS)
NAMES = sorted(BUNDLED) + sorted(GENERATORS) + sorted(IMAGE_SETS) + REGRESSION_SETS
TARGET_PREPROCESSING = ("standardize", "none")


def load(name="digits", *, n_train=None, n_val=None, n_test=None, per_class=False, val_fraction=0.1,
         test_fraction=0.2, preprocessing="standardize", target_preprocessing="standardize", data_dir=None, seed=0,
         dtype="float32", **options):
    """Load a data set by name as stratified train/validation/test splits.

    Parameters
    ----------
    name : one of NAMES: digits, iris, wine, breast_cancer (bundled with scikit-learn); moons,
        circles, blobs, classification (generated: pass their options, e.g. n_samples=500,
        noise=0.3); mnist, fashion_mnist, cifar10 (see ``data_dir``); and for regression
        diabetes (bundled), regression and friedman1 (make_regression, make_friedman1: generated).
        Regression sets have real targets (a vector, or (n, k) for k outputs: make_regression's
        n_targets) in ``dtype``, split at random.
    target_preprocessing : "standardize" (default) or "none": a regression set's targets, fitted on
        the training split and recorded in ``meta["target_preprocessing"]`` (R^2 does not change).
    n_train, n_val, n_test : int or None
        Sizes of stratified, disjoint, seeded subsets (per class if ``per_class``). The image sets
        keep their official test set: n_test samples it, and train and validation come from the
        official training set, by default all of it with ``val_fraction`` held out for validation.
        The other sets are split by ``test_fraction`` and ``val_fraction`` of the whole set when
        sizes are not given.
    preprocessing : "standardize" (default), "scale" (to [0, 1]), "mean_image" or "none"; fitted on
        the training split only and recorded in ``meta["preprocessing"]``.
    data_dir : folder holding MNIST/Fashion-MNIST IDX files or CIFAR-10's cifar-10-batches-py.
        Without it the MLP_SCRATCH_DATA variable names the folder; failing both, the set is fetched
        from OpenML with scikit-learn (and cached by it).
    seed : seeds the subsets (and generators).

    >>> data = load("digits")
    >>> data.X_train.shape[1], data.n_classes
    (64, 10)
    """
    dtype = check_dtype(dtype)
    seed = check_seed("seed", seed)
    for arg, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if value is not None:
            check_positive_int(arg, value)
    if name in REGRESSION_SETS:
        if per_class:
            raise ValueError(f"per_class: {name} is a regression set, without classes")
        return _load_regression(name, n_train, n_val, n_test, val_fraction, test_fraction, preprocessing,
                                target_preprocessing, seed, dtype, options)
    if name in IMAGE_SETS:
        if options:
            raise ValueError(f"{name} takes no options, got {sorted(options)}")
        X, y, X_test, y_test, meta = load_image_set(name, data_dir)
    elif name in BUNDLED or name in GENERATORS:
        X, y, meta = _load_sklearn(name, seed, options)
        X_test = y_test = None
    else:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    n_classes = len(meta["class_names"])
    rng = np.random.default_rng(seed)
    pool_size = len(y)  # fractions count against the whole set (the official training set for images)
    if X_test is None:  # carve the test split out of the one pool
        if n_test is None:
            n_test = _fraction_size("test_fraction", test_fraction, pool_size, per_class, n_classes)
        (test,) = stratified_indices(y, [n_test], n_classes, rng, per_class, ["n_test"])
        rest = np.setdiff1d(np.arange(len(y)), test)
        X_test, y_test, X, y = X[test], y[test], X[rest], y[rest]
    elif n_test is not None:
        (test,) = stratified_indices(y_test, [n_test], n_classes, rng, per_class, ["n_test"])
        X_test, y_test = X_test[test], y_test[test]
    if n_val is None:
        n_val = _fraction_size("val_fraction", val_fraction, pool_size, per_class, n_classes)
    if n_train is None:  # everything that is not validation
        (val,) = stratified_indices(y, [n_val], n_classes, rng, per_class, ["n_val"])
        train = np.setdiff1d(np.arange(len(y)), val)
    else:
        val, train = stratified_indices(y, [n_val, n_train], n_classes, rng, per_class, ["n_val", "n_train"])
    if len(train) < 2 or len(np.unique(y[train])) < 2:
        raise ValueError(f"the training split has {len(train)} samples of {len(np.unique(y[train]))} classes: "
                         f"lower val_fraction/test_fraction (or n_val/n_test), or load more data")
    prep = Preprocessing.fit(preprocessing, X[train], images="image_shape" in meta)
    meta.update(preprocessing=prep.state(), seed=seed,
                sizes={"train": len(train), "val": len(val), "test": len(y_test)})
    return Dataset(prep.transform(X[train], dtype), y[train], prep.transform(X[val], dtype), y[val],
                   prep.transform(X_test, dtype), np.ascontiguousarray(y_test, np.int64), meta)


def _fraction_size(arg, fraction, n, per_class, n_classes):
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
        raise ValueError(f"{arg} must be in (0, 1), got {fraction!r}")
    return max(1, round(fraction * n / (n_classes if per_class else 1)))


def _load_regression(name, n_train, n_val, n_test, val_fraction, test_fraction, preprocessing, target_preprocessing,
                     seed, dtype, options):
    if target_preprocessing not in TARGET_PREPROCESSING:
        raise ValueError(f"target_preprocessing must be one of {list(TARGET_PREPROCESSING)}, got {target_preprocessing!r}")
    if name in REGRESSION_BUNDLED:
        if options:
            raise ValueError(f"{name} takes no options, got {sorted(options)}")
        X, y = REGRESSION_BUNDLED[name](return_X_y=True)
        meta = {"name": name, "source": f"sklearn.datasets.load_{name}"}
    else:
        make, defaults = REGRESSION_GENERATORS[name]
        kwargs = _generator_options(name, make, defaults, options)
        X, y = make(random_state=seed, **kwargs)[:2]
        meta = {"name": name, "source": f"sklearn.datasets.{make.__name__}", "options": kwargs}
    rng = np.random.default_rng(seed)
    n = len(y)
    n_test = _fraction_size("test_fraction", test_fraction, n, False, 1) if n_test is None else n_test
    n_val = _fraction_size("val_fraction", val_fraction, n, False, 1) if n_val is None else n_val
    n_train = n - n_test - n_val if n_train is None else n_train
    test, val, train = random_indices(n, [n_test, n_val, n_train], rng, ["n_test", "n_val", "n_train"])
    if len(train) < 2:
        raise ValueError(f"the training split has {len(train)} samples: lower val_fraction/test_fraction "
                         f"(or n_val/n_test), or load more data")
    prep = Preprocessing.fit(preprocessing, X[train])
    targets = Preprocessing.fit(target_preprocessing, y[train].reshape(len(train), -1))
    meta.update(task="regression", n_outputs=1 if y.ndim == 1 else y.shape[1], preprocessing=prep.state(),
                target_preprocessing=targets.state(), seed=seed,
                sizes={"train": len(train), "val": len(val), "test": len(test)})

    def target(rows):
        values = targets.transform(y[rows].reshape(len(rows), -1), dtype)
        return values.ravel() if y.ndim == 1 else values

    return Dataset(prep.transform(X[train], dtype), target(train), prep.transform(X[val], dtype), target(val),
                   prep.transform(X[test], dtype), target(test), meta)


def _generator_options(name, make, defaults, options):
    """The generator's keyword arguments: its defaults here, updated by the caller's ``options``."""
    accepted = set(inspect.signature(make).parameters) - {"random_state"}
    if set(options) - accepted:
        raise ValueError(f"{name} options must be among {sorted(accepted)}, got {sorted(set(options) - accepted)}")
    return {**defaults, **options}


def _load_sklearn(name, seed, options):
    if name in BUNDLED:
        if options:
            raise ValueError(f"{name} takes no options, got {sorted(options)}")
        bunch = BUNDLED[name]()
        X, y = bunch.data, bunch.target
        meta = {"name": name, "class_names": [str(c) for c in bunch.target_names],
                "source": f"sklearn.datasets.load_{name}"}
        if name == "digits":
            meta["image_shape"] = [1, 8, 8]
        return X, y.astype(np.int64), meta
    make, defaults = GENERATORS[name]
    kwargs = _generator_options(name, make, defaults, options)
    X, y = make(random_state=seed, **kwargs)
    classes = np.unique(y)
    meta = {"name": name, "class_names": [str(c) for c in classes], "source": f"sklearn.datasets.{make.__name__}",
            "options": kwargs}
    return X, np.searchsorted(classes, y).astype(np.int64), meta
