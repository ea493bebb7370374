"""IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed.

Format: two zero bytes, a type byte (0x08 = unsigned byte, the only type these sets use), the number
of dimensions, then one big-endian uint32 per dimension, then the data in row-major order.
"""
import gzip
import struct

import numpy as np


def read_idx(path):
    """The array stored in an IDX file (uint8), with its shape checked against the file's size."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: cannot read IDX data ({error})") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: IDX type 0x{raw[2]:02x} is not unsigned byte (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise ValueError(f"{path}: header says shape {shape} ({expected} bytes) but the file holds "
                         f"{len(raw) - header} bytes of data (truncated or corrupted)")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def write_idx(path, array):
    """Writes a uint8 array as IDX (gzip-compressed if path ends in .gz); used by the tests."""
    array = np.ascontiguousarray(array, np.uint8)
    data = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def read_images_and_labels(images_path, labels_path):
    """(images (N, rows, cols) uint8, labels (N,) int64) from a matching pair of IDX files."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise ValueError(f"{images_path}: expected images of shape (N, rows, cols), got {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected labels of shape (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be in [0, 9], found {labels.max()}")
    return images, labels.astype(np.int64)
