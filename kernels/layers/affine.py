"""Affine layer: out = x @ W + b.

Matrix products go to BLAS (products.matmul, into a preallocated ``out``); the bias and its
gradient are parallel loops around them.
"""
import numpy as np
from numba import prange

from ..config import kernel, njit
from ..blas.products import matmul
from ..reductions import column_sums, ordered_sum


@kernel
def add_row_vector(out, b):
    """out[i, :] += b, row-parallel. Shapes (N, M) and (M,)."""
    for i in prange(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] += b[j]


@njit(cache=True)
def affine_forward(x, W, b, out, parts):
    """out = x @ W + b. Shapes: x (N, D), W (D, M), b (M,), out (N, M); all C-contiguous, one dtype.
    ``parts``: the blocks of the product (products.matmul).

    An empty b means no bias (a layer followed by batch norm, whose beta makes a bias redundant).
    """
    matmul(x, W, out, parts)
    if b.shape[0] > 0:
        add_row_vector(out, b)


@njit(cache=True)
def affine_backward_params(x, dout, dW, db, parts):
    """dW = x.T @ dout, db = sum of dout over the batch (skipped when db is empty, as b is).
    Shapes: x (N, D), dout (N, M)."""
    matmul(x.T, dout, dW, parts)
    if db.shape[0] > 0:
        column_sums(dout, db)


@njit(cache=True)
def affine_backward_input(dout, W, dx, parts):
    """dx = dout @ W.T. Skipped for the first layer, whose input needs no gradient."""
    matmul(dout, W.T, dx, parts)


@kernel
def weight_penalty(W, l1, l2, dW, rows):
    """Adds the (sub)gradient of l1 * sum|W| + 0.5 * l2 * sum(W**2) to dW and returns that penalty:
    L1 (lasso), L2 (ridge, weight decay in the loss) or both (elastic net). The L1 subgradient is
    l1 * sign(W), 0 where W is exactly 0.

    Row-parallel; each row's sum goes to its slot of ``rows`` (float64 scratch, at least W.shape[0]
    long) and the slots are added in order, so the result does not depend on the number of threads.
    """
    for i in prange(W.shape[0]):
        s = 0.0
        for j in range(W.shape[1]):
            w = W[i, j]
            s += l1 * abs(w) + 0.5 * l2 * w * w
            dW[i, j] += l1 * np.sign(w) + l2 * w
        rows[i] = s
    return ordered_sum(rows[:W.shape[0]])
