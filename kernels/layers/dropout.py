"""Inverted dropout, forward and backward.

Each unit is kept with probability ``keep_prob`` and kept units are scaled by 1 / keep_prob, so the
expected activation equals the test-time activation and test mode is the identity. The mask is never
stored: element (i, j) is kept when uniform(seed, i * M + j) < keep_prob, so the backward pass redraws
exactly the forward pass's mask from the same seed.

The kernels test that on the integers: uniform is k / 2**24 for a 24-bit k, and k / 2**24 < keep_prob
exactly when k < ceil(keep_prob * 2**24). It saves a conversion to float per element (128 x 512
float32, 1 thread: 78 -> 50 us).
"""
from typing import NamedTuple

import numpy as np
from numba import prange

from ..config import kernel, njit
from ..random import BITS_RANGE, random_bits


class Dropout(NamedTuple):
    """A network's dropout as its passes take it (kernels/training/network.py). A network without
    dropout holds None instead: None is a type of its own to numba, so its passes compile no dropout
    kernel at all."""
    threshold: np.uint64  # mask_parameters' threshold of the keep probability (in the parameters' dtype)
    train_scale: float    # float64: kept units times this in training (inverted: 1 / keep; classic: 1)
    test_scale: float     # a dropout layer's output times this at test time (inverted: 1; classic: keep)


@njit(cache=True)
def mask_parameters(keep_prob):
    """(threshold, scale) of the kernels below: a unit is kept where its 24-bit k < threshold
    (that is, k / 2**24 < keep_prob), and kept units are multiplied by scale = 1 / keep_prob."""
    return np.uint64(np.ceil(np.float64(keep_prob) * BITS_RANGE)), 1.0 / keep_prob


@njit(cache=True, inline="always")
def dropout_value(value, threshold, scale, seed, index):
    """value * scale if unit ``index`` is kept (random_bits(seed, index) < threshold), else 0."""
    return value * scale if random_bits(seed, index) < threshold else 0.0


@kernel
def masked_scale(x, threshold, scale, seed, out):
    """out[i, j] = dropout_value(x[i, j], ..., index i * M + j). Row-parallel."""
    m = x.shape[1]
    for i in prange(x.shape[0]):
        for j in range(m):
            out[i, j] = dropout_value(x[i, j], threshold, scale, seed, i * m + j)


@njit(cache=True)
def dropout_forward(x, keep_prob, seed, out):
    """out = x * mask / keep_prob. Shapes (N, M); out may alias x."""
    threshold, scale = mask_parameters(keep_prob)
    masked_scale(x, threshold, scale, seed, out)


@njit(cache=True)
def dropout_backward(dout, keep_prob, seed, dx):
    """dx = dout * mask / keep_prob, with the forward pass's mask (same seed)."""
    dropout_forward(dout, keep_prob, seed, dx)
