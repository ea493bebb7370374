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
    rgb = (pixels[..., :3] * 255).astype(np.uint32)
    colors = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
    assert len(colors) > 16, f"{path} has {len(colors)} colors: no content"


def read_csv(path):
    """(columns, rows as dicts of strings)."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)
