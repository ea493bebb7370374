"""Checks of an experiment's output files."""
import csv

import numpy as np
from matplotlib import image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_size=(300, 200)):
    """A valid PNG of at least min_size (width, height) pixels with more than a blank background."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    pixels = image.imread(path)
    height, width = pixels.shape[:2]
    assert width >= min_size[0] and height >= min_size[1], f"{path} is only {width}x{height}"
    colors = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    assert len(colors) > 16, f"{path} has {len(colors)} colors: no content"


def read_csv(path):
    """(columns, rows as dicts of strings)."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)
