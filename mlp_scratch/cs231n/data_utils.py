"""CS231n's ``data_utils``: CIFAR-10 as the course's notebooks expect it, read by this package's
loader (``mlp_scratch.datasets``): the course's folder (cs231n/datasets/cifar-10-batches-py under the
working directory), a "python version" folder given as ``data_dir`` or by the MLP_SCRATCH_DATA
variable, else OpenML through scikit-learn."""
import pathlib
import warnings

import numpy as np

from mlp_scratch import datasets
from mlp_scratch.datasets.sources import load_image_set
from mlp_scratch.validation import check_positive_int

__all__ = ["get_CIFAR10_data", "load_CIFAR10"]


def load_CIFAR10(ROOT):
    """Load all of CIFAR-10 from the folder ROOT (a cifar-10-batches-py folder or one holding it):
    (X_train, y_train, X_test, y_test) with X float64 of shape (N, 32, 32, 3) (channels last, as
    the course's loader) and y int64. Reads whichever data_batch_* files the folder holds."""
    X_train, y_train, X_test, y_test, _ = load_image_set("cifar10", ROOT)
    to_images = lambda X: X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float64)  # noqa: E731
    return to_images(X_train), y_train, to_images(X_test), y_test


COURSE_FOLDER = pathlib.Path("cs231n") / "datasets" / "cifar-10-batches-py"  # where get_datasets.sh puts it
SPLITS = ("first", "random")


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True, *,
                     data_dir=None, split="first", seed=0):
    """Load the CIFAR-10 dataset from disk and perform preprocessing to prepare it for classifiers.

    Returns the course's dict: X_train, y_train, X_val, y_val, X_test, y_test, with X float64 of
    shape (N, 3, 32, 32) (channels first) and y int64. With subtract_mean, the mean image of the
    training split is subtracted from every split, as the course does.

    As the course's function: ``split="first"`` takes the first num_training training images, the
    next num_validation as validation and the first num_test test images, and the data comes from
    cs231n/datasets/cifar-10-batches-py under the working directory (where the course's
    get_datasets.sh puts it). Beyond it:
    - ``data_dir`` (keyword only) names another folder; without it and without the course's folder,
      the MLP_SCRATCH_DATA variable, then OpenML;
    - ``split="random"``: stratified random subsets drawn with ``seed`` (the package's loader),
      disjoint and balanced by class;
    - when the data holds fewer training images than num_training + num_validation (the shared copy
      on these machines has 20,000; the full set has 50,000), the training split is clipped to what
      remains after validation and a UserWarning says so; num_test is clipped to the test set's size
      likewise. A ValueError is raised when not even the validation split fits.
    """
    for name, value in (("num_training", num_training), ("num_validation", num_validation), ("num_test", num_test)):
        check_positive_int(name, value)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if data_dir is None and COURSE_FOLDER.is_dir():
        data_dir = COURSE_FOLDER
    X_pool, y_pool, X_test_pool, y_test_pool, meta = load_image_set("cifar10", data_dir)
    available, available_test = len(X_pool), len(X_test_pool)
    if num_validation >= available:
        raise ValueError(f"num_validation={num_validation} leaves no training images: {meta['source']} holds "
                         f"{available} training images")
    if num_training + num_validation > available:
        num_training = available - num_validation
        warnings.warn(f"get_CIFAR10_data: {meta['source']} holds {available} training images, fewer than "
                      f"num_training + num_validation; using num_training={num_training}", UserWarning, stacklevel=2)
    if num_test > available_test:
        num_test = available_test
        warnings.warn(f"get_CIFAR10_data: the test set holds {available_test} images, fewer than num_test; using "
                      f"all of them", UserWarning, stacklevel=2)
    if split == "random":
        data = datasets.load("cifar10", n_train=num_training, n_val=num_validation, n_test=num_test,
                             preprocessing="none", data_dir=data_dir, seed=seed, dtype="float64")
        splits = {"train": (data.X_train, data.y_train), "val": (data.X_val, data.y_val),
                  "test": (data.X_test, data.y_test)}
    else:
        validation = slice(num_training, num_training + num_validation)
        splits = {"train": (X_pool[:num_training], y_pool[:num_training]),
                  "val": (X_pool[validation], y_pool[validation]),
                  "test": (X_test_pool[:num_test], y_test_pool[:num_test])}
    # rows are R, G, B planes: channels first as they are
    splits = {name: (X.reshape(-1, 3, 32, 32).astype(np.float64), y.astype(np.int64))
              for name, (X, y) in splits.items()}
    if subtract_mean:
        mean_image = splits["train"][0].mean(axis=0)
        for X, _ in splits.values():
            X -= mean_image
    return {f"{key}_{name}": value for name, (X, y) in splits.items() for key, value in (("X", X), ("y", y))}
