"""Inverted dropout, forward and backward.

Each unit is kept with probability ``keep_prob`` and kept units are scaled by 1 / keep_prob, so the
expected activation equals the test-time activation and test mode is the identity. The mask is never
stored: element (i, j) is kept when uniform(seed, i * M + j) < keep_prob, so the backward pass redraws
exactly the forward pass's mask from the same seed.
"""
from numba import njit, prange

from .config import FASTMATH
from .random import uniform


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def dropout_forward(x, keep_prob, seed, out):
    """out = x * mask / keep_prob, row-parallel. Shapes (N, M); out may alias x."""
    m = x.shape[1]
    scale = 1.0 / keep_prob
    for i in prange(x.shape[0]):
        for j in range(m):
            if uniform(seed, i * m + j) < keep_prob:
                out[i, j] = x[i, j] * scale
            else:
                out[i, j] = 0.0


@njit(cache=True)
def dropout_backward(dout, keep_prob, seed, dx):
    """dx = dout * mask / keep_prob, with the forward pass's mask (same seed)."""
    dropout_forward(dout, keep_prob, seed, dx)
