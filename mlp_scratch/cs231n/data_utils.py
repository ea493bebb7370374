"""CS231n's ``data_utils``: CIFAR-10 as the course's notebooks expect it, read by this package's
loader (``mlp_scratch.datasets``): a local "python version" folder given as ``data_dir`` or by the
MLP_SCRATCH_DATA variable, else OpenML through scikit-learn."""
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


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000, subtract_mean=True, *,
                     data_dir=None, seed=0):
    """Load the CIFAR-10 dataset from disk and perform preprocessing to prepare it for classifiers.

    Returns the course's dict: X_train, y_train, X_val, y_val, X_test, y_test, with X float64 of
    shape (N, 3, 32, 32) (channels first) and y int64. With subtract_mean, the mean image of the
    training split is subtracted from every split (our ``preprocessing="mean_image"``, fitted on
    the training split only, as the course does).

    Differences from the course's function, which takes the first num_training training images,
    the next num_validation as validation and the first num_test test images:
    - the splits are stratified random subsets drawn with ``seed`` (our loader's ``load``), disjoint
      and balanced by class;
    - when the data folder holds fewer training images than num_training + num_validation (the
      shared copy on these machines has 20,000; the full set has 50,000), the training split is
      clipped to what remains after validation and a UserWarning says so; num_test is clipped to
      the test set's size likewise. A ValueError is raised when not even the validation split fits.
    - ``data_dir`` (keyword only) names the folder; default: the MLP_SCRATCH_DATA variable.
    """
    for name, value in (("num_training", num_training), ("num_validation", num_validation), ("num_test", num_test)):
        check_positive_int(name, value)
    X_pool, _, X_test_pool, _, meta = load_image_set("cifar10", data_dir)
    available, available_test = len(X_pool), len(X_test_pool)
    del X_pool, X_test_pool
    if num_validation >= available:
        raise ValueError(f"num_validation={num_validation} leaves no training images: {meta['source']} holds "
                         f"{available} training images")
    n_train = num_training
    if num_training + num_validation > available:
        n_train = None  # every training image that is not in the validation split
        warnings.warn(f"get_CIFAR10_data: {meta['source']} holds {available} training images, fewer than "
                      f"num_training + num_validation = {num_training + num_validation}; using num_training="
                      f"{available - num_validation}", UserWarning, stacklevel=2)
    n_test = num_test
    if num_test > available_test:
        n_test = None
        warnings.warn(f"get_CIFAR10_data: the test set holds {available_test} images, fewer than num_test="
                      f"{num_test}; using all of them", UserWarning, stacklevel=2)
    data = datasets.load("cifar10", n_train=n_train, n_val=num_validation, n_test=n_test,
                         preprocessing="mean_image" if subtract_mean else "none", data_dir=data_dir,
                         seed=seed, dtype="float64")
    images = lambda X: X.reshape(-1, 3, 32, 32)  # noqa: E731 - rows are R, G, B planes: channels first
    return {"X_train": images(data.X_train), "y_train": data.y_train,
            "X_val": images(data.X_val), "y_val": data.y_val,
            "X_test": images(data.X_test), "y_test": data.y_test}
