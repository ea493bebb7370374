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
    matmul(x.T, dout, dW, parts, rows=True)
    if db.shape[0] > 0:
        column_sums(dout, db)


@njit(cache=True)
def affine_backward_input(dout, W, dx, parts):
    """dx = dout @ W.T. Skipped for the first layer, whose input needs no gradient."""
    matmul(dout, W.T, dx, parts)


PENALTY_ROWS = 64  # rows of W per prange iteration of weight_penalty


def penalty_sums_size(d_in, d_out):
    """The length of weight_penalty's scratch for a (d_in, d_out) W: a row per PENALTY_ROWS rows of W."""
    return -(-d_in // PENALTY_ROWS) * d_out


@kernel
def weight_penalty(W, l1, l2, dW, sums):
    """Adds the (sub)gradient of l1 * sum|W| + 0.5 * l2 * sum(W**2) to dW and returns that penalty:
    L1 (lasso), L2 (ridge, weight decay in the loss) or both (elastic net). The L1 subgradient is
    l1 * sign(W), 0 where W is exactly 0.

    Each prange iteration takes PENALTY_ROWS rows in order and sums each column of them into its row
    of ``sums`` (float64 scratch of penalty_sums_size(*W.shape) elements); those rows are added in
    order, then their columns. Independent column sums vectorize as written, without reassociation,
    so the order is the same on any number of threads and in every compiled copy of this kernel.
    """
    n, m = W.shape
    parts = (n + PENALTY_ROWS - 1) // PENALTY_ROWS
    for part in prange(parts):
        acc = sums[part * m:(part + 1) * m]
        for j in range(m):
            acc[j] = 0.0
        for i in range(part * PENALTY_ROWS, min(n, (part + 1) * PENALTY_ROWS)):
            w, d = W[i], dW[i]
            for j in range(m):
                acc[j] += l1 * abs(w[j]) + 0.5 * l2 * w[j] * w[j]
                d[j] += l1 * np.sign(w[j]) + l2 * w[j]
    total = sums[:m]
    for part in range(1, parts):
        rows = sums[part * m:(part + 1) * m]
        for j in range(m):
            total[j] += rows[j]
    return ordered_sum(total)
