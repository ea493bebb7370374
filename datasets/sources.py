"""Where MNIST, Fashion-MNIST and CIFAR-10 come from, in this order: an explicit ``data_dir``, the
folder named by MLP_SCRATCH_DATA, then OpenML through scikit-learn's ``fetch_openml`` (cached by it).

A folder may hold the files directly or in the usual sub-folders (``mnist/``, ``fashion-mnist/``,
``cifar10/``, torchvision's ``MNIST/raw/``, the archive's ``cifar-10-batches-py/``)."""
import os
import pathlib

import numpy as np

from . import cifar, idx

DATA_ENV = "MLP_SCRATCH_DATA"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DIGIT_NAMES = [str(d) for d in range(10)]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"]

IMAGE_SETS = {
    "mnist": dict(openml=554, subfolders=["", "mnist", "MNIST/raw"], image_shape=[1, 28, 28],
                  class_names=DIGIT_NAMES, n_train=60000),
    "fashion_mnist": dict(openml=40996, subfolders=["", "fashion-mnist", "fashion_mnist", "FashionMNIST/raw"],
                          image_shape=[1, 28, 28], class_names=FASHION_NAMES, n_train=60000),
    "cifar10": dict(openml=40927, subfolders=["", "cifar-10-batches-py", "cifar10/cifar-10-batches-py", "cifar10"],
                    image_shape=[3, 32, 32], class_names=cifar.CLASS_NAMES, n_train=50000),
}


def load_image_set(name, data_dir=None):
    """(X_train, y_train, X_test, y_test, meta) with uint8 rows of C*H*W pixels (channel planes)."""
    spec = IMAGE_SETS[name]
    roots = [pathlib.Path(data_dir)] if data_dir is not None else (
        [pathlib.Path(os.environ[DATA_ENV])] if os.environ.get(DATA_ENV) else [])
    looked = []
    for root in roots:
        for sub in spec["subfolders"]:
            folder = root / sub
            found = _read_folder(name, folder)
            if found is not None:
                *arrays, image_shape = found
                meta = {"name": name, "class_names": spec["class_names"], "image_shape": image_shape,
                        "source": str(folder.resolve())}
                return (*arrays, meta)
            looked.append(str(folder))
    if data_dir is not None:
        raise FileNotFoundError(_missing_message(name, looked, "data_dir"))
    try:
        return _fetch_openml(name)
    except Exception as error:  # noqa: BLE001 - any failure to download ends in the same advice
        raise FileNotFoundError(_missing_message(name, looked, None) + f"\nFetching from OpenML failed: {error}") from error


def _read_folder(name, folder):
    if name == "cifar10":
        train = [folder / b for b in cifar.TRAIN_BATCHES if (folder / b).is_file()]
        if not train or not (folder / cifar.TEST_BATCH).is_file():
            return None
        parts = [cifar.read_batch(path) for path in train]
        X_test, y_test = cifar.read_batch(folder / cifar.TEST_BATCH)
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), X_test, y_test,
                IMAGE_SETS[name]["image_shape"])
    paths = []
    for stem in MNIST_FILES:
        candidates = [folder / stem, folder / f"{stem}.gz"]
        existing = [p for p in candidates if p.is_file()]
        if not existing:
            return None
        paths.append(existing[0])
    X, y = idx.read_images_and_labels(paths[0], paths[1])
    X_test, y_test = idx.read_images_and_labels(paths[2], paths[3])
    if X.shape[1:] != X_test.shape[1:]:
        raise ValueError(f"{paths[0]} holds images of {X.shape[1:]} pixels but {paths[2]} of {X_test.shape[1:]}")
    # the image shape is the files' own, whatever the data set's usual one
    return X.reshape(len(X), -1), y, X_test.reshape(len(X_test), -1), y_test, [1, *X.shape[1:]]


def _fetch_openml(name):
    from sklearn.datasets import fetch_openml

    spec = IMAGE_SETS[name]
    bunch = fetch_openml(data_id=spec["openml"], as_frame=False, parser="liac-arff")
    X = np.asarray(bunch.data, np.uint8)
    y = np.asarray(bunch.target).astype(np.int64)
    n = spec["n_train"]  # OpenML keeps the official order: the training set, then the test set
    meta = {"name": name, "class_names": spec["class_names"], "image_shape": spec["image_shape"],
            "source": f"OpenML data set {spec['openml']}"}
    return X[:n], y[:n], X[n:], y[n:], meta


def _missing_message(name, looked, via):
    wanted = ("data_batch_1 ... data_batch_5 (any of them) and test_batch" if name == "cifar10"
              else ", ".join(f"{f}[.gz]" for f in MNIST_FILES))
    where = "\n  ".join(looked) or "(no folder given)"
    how = ("CIFAR-10's 'python version' archive (cifar-10-python.tar.gz), unpacked" if name == "cifar10"
           else "the four IDX files of the data set's official distribution")
    source = "the data_dir argument" if via else f"data_dir or the {DATA_ENV} variable"
    return (f"{name}: no local copy found. Looked for {wanted} in:\n  {where}\n"
            f"Put {how} in a folder and pass it as {source}, or allow network access so that "
            f"scikit-learn's fetch_openml can download it (OpenML id {IMAGE_SETS[name]['openml']}).")
