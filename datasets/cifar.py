"""CIFAR-10 in its "python version" format: pickled dicts with b'data' (N x 3072 uint8, each row the
R, G and B planes of a 32 x 32 image) and b'labels', read with a restricted unpickler."""
import io
import pickle

import numpy as np

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

# What unpickling a CIFAR batch needs: NumPy's array reconstruction, and _codecs.encode, with which
# protocol-2 pickles written by Python 3 rebuild byte strings (it only encodes text).
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}


class RestrictedUnpickler(pickle.Unpickler):
    """Refuses every global but NumPy's array reconstruction, so a crafted file cannot run code."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not part of a CIFAR-10 batch")


def read_batch(path):
    """(images (N, 3072) uint8, labels (N,) int64) from one CIFAR-10 batch file."""
    try:
        with open(path, "rb") as f:
            batch = RestrictedUnpickler(io.BytesIO(f.read()), encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not a readable CIFAR-10 batch ({error})") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{path}: not a CIFAR-10 batch (expected a dict with b'data' and b'labels')")
    images, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3072:
        raise ValueError(f"{path}: b'data' must be uint8 of shape (N, 3072), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{path}: {len(images)} images but labels of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must be in [0, 9], found [{labels.min()}, {labels.max()}]")
    return images, labels.astype(np.int64)


def write_batch(path, images, labels):
    """Writes a batch in the standard format (as the official archive does); used by the tests."""
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"written by mlp-scratch", b"labels": [int(v) for v in labels],
                     b"data": np.ascontiguousarray(images, np.uint8),
                     b"filenames": [b"%d.png" % i for i in range(len(labels))]}, f, protocol=2)
