"""Sums whose order is fixed, so that results do not depend on the number of threads."""
import numpy as np
from numba import prange

from .config import BLOCK, FASTMATH, kernel, njit


@njit(cache=True)
def ordered_sum(values):
    """sum(values) in index order. A serial function on purpose: inside a parallel one, numba turns
    ``array.sum()`` into a parallel reduction whose result depends on the number of threads."""
    total = 0.0
    for v in values:
        total += v
    return total


@njit(fastmath=FASTMATH, cache=True)
def sum_of_squares(a):
    """sum(a**2) of a 2-D array in float64: each row's sum, then the rows in order. Serial: the
    diagnostics call it once an interval, and a parallel kernel costs a second to compile."""
    total = 0.0
    for i in range(a.shape[0]):
        row = 0.0
        for j in range(a.shape[1]):
            v = np.float64(a[i, j])
            row += v * v
        total += row
    return total


@kernel
def column_sums(a, out):
    """out[j] = sum_i a[i, j]. Each prange iteration owns a block of columns and walks the rows in
    order (no race, and the same sums on any number of threads)."""
    n, m = a.shape
    for block in prange((m + BLOCK - 1) // BLOCK):
        j0 = block * BLOCK
        width = min(BLOCK, m - j0)
        acc = out[j0:j0 + width]
        for j in range(width):
            acc[j] = 0.0
        for i in range(n):
            row = a[i, j0:j0 + width]  # row slices: a form numba vectorizes
            for j in range(width):
                acc[j] += row[j]


@kernel
def scale_shift_grads(dout, xhat, dgamma, dbeta):
    """dbeta = sum_i dout, dgamma = sum_i dout * xhat: the gradients of out = gamma * xhat + beta
    (batch norm and layer norm). Each prange iteration owns a block of columns and walks the rows in
    order over row slices (no race, thread-independent sums, vectorized)."""
    n, m = dout.shape
    for block in prange((m + BLOCK - 1) // BLOCK):
        j0 = block * BLOCK
        width = min(BLOCK, m - j0)
        db, dg = dbeta[j0:j0 + width], dgamma[j0:j0 + width]
        for j in range(width):
            db[j] = 0.0
            dg[j] = 0.0
        for i in range(n):
            d, h = dout[i, j0:j0 + width], xhat[i, j0:j0 + width]
            for j in range(width):
                db[j] += d[j]
                dg[j] += d[j] * h[j]
