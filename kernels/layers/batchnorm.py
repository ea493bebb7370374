"""Batch normalization over the batch axis, forward and backward.

Training mode normalizes with the batch's mean and (biased) variance and updates the running
averages the way torch.nn.BatchNorm1d does:

    running_mean <- (1 - momentum) * running_mean + momentum * mean
    running_var  <- (1 - momentum) * running_var  + momentum * var * N / (N - 1)   (unbiased)

CS231n's average differs in two ways: its ``momentum`` stands for our ``1 - momentum``, and it
averages the biased variance (mlp_scratch.cs231n converts). Evaluation mode normalizes with the
running averages.
"""
import numpy as np
from numba import prange

from ..config import BLOCK, FASTMATH, kernel, njit
from ..reductions import scale_shift_grads


@kernel
def batch_statistics(x, eps, momentum, running_mean, running_var, mean, inv_std):
    """Writes each column's batch mean and inv_std = 1 / sqrt(var + eps), and updates the running
    averages. x is (N, M); the rest (M,).

    Two passes (mean, then squared deviations) for accuracy. Each prange iteration owns a block of
    columns and walks the rows in order, so the sums do not depend on the number of threads; the
    inner loops run over row slices, a form numba vectorizes (indexing x[i, j] there is ~9x slower),
    four rows at a time (see reductions.py: the same sums, half the time).
    """
    n, m = x.shape
    unbias = n / (n - 1.0) if n > 1 else 1.0
    inv_n = x.dtype.type(1.0 / n)
    whole = n - n % 4
    for block in prange((m + BLOCK - 1) // BLOCK):
        j0 = block * BLOCK
        width = min(BLOCK, m - j0)
        mu, sq = mean[j0:j0 + width], inv_std[j0:j0 + width]  # sq: squared deviations, then 1/std
        for j in range(width):
            mu[j] = 0.0
            sq[j] = 0.0
        for i in range(0, whole, 4):
            a, b, c, d = (x[i, j0:j0 + width], x[i + 1, j0:j0 + width], x[i + 2, j0:j0 + width],
                          x[i + 3, j0:j0 + width])
            for j in range(width):
                mu[j] = mu[j] + a[j] + b[j] + c[j] + d[j]
        for i in range(whole, n):
            a = x[i, j0:j0 + width]
            for j in range(width):
                mu[j] += a[j]
        for j in range(width):
            mu[j] *= inv_n
        for i in range(0, whole, 4):
            a, b, c, d = (x[i, j0:j0 + width], x[i + 1, j0:j0 + width], x[i + 2, j0:j0 + width],
                          x[i + 3, j0:j0 + width])
            for j in range(width):
                da, db, dc, dd = a[j] - mu[j], b[j] - mu[j], c[j] - mu[j], d[j] - mu[j]
                sq[j] = sq[j] + da * da + db * db + dc * dc + dd * dd
        for i in range(whole, n):
            a = x[i, j0:j0 + width]
            for j in range(width):
                da = a[j] - mu[j]
                sq[j] += da * da
        for j in range(j0, j0 + width):
            var = inv_std[j] / n
            running_mean[j] = (1.0 - momentum) * running_mean[j] + momentum * mean[j]
            running_var[j] = (1.0 - momentum) * running_var[j] + momentum * var * unbias
            inv_std[j] = 1.0 / np.sqrt(var + eps)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def normalize_affine(x, mean, inv_std, gamma, beta, xhat, out):
    """xhat = (x - mean) * inv_std; out = gamma * xhat + beta. Row-parallel; xhat and out may alias x
    (and each other, when xhat is not needed: so not a config.kernel, whose arrays must not overlap)."""
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):  # x[i, j], not row views: see kernels/layers/activations.py
            v = (x[i, j] - mean[j]) * inv_std[j]
            xhat[i, j] = v
            out[i, j] = gamma[j] * v + beta[j]


@njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, momentum, running_mean, running_var,
                            mean, inv_std, xhat, out):
    """Training-mode batch norm. Shapes: x, xhat, out (N, M); the rest (M,).

    Writes the batch ``mean`` and ``inv_std`` and ``xhat`` (the cache for the backward pass) and
    ``out``, and updates the running averages in place. ``out`` may alias ``x``.
    """
    batch_statistics(x, eps, momentum, running_mean, running_var, mean, inv_std)
    normalize_affine(x, mean, inv_std, gamma, beta, xhat, out)


@njit(cache=True)
def batchnorm_forward_eval(x, gamma, beta, eps, running_mean, running_var, inv_std, out):
    """Evaluation-mode batch norm with the running averages: the same normalization as training
    with (running_mean, 1 / sqrt(running_var + eps)) in place of the batch's statistics.
    ``inv_std`` (M,) is scratch; ``out`` may alias ``x``."""
    for j in range(inv_std.shape[0]):
        inv_std[j] = 1.0 / np.sqrt(running_var[j] + eps)
    normalize_affine(x, running_mean, inv_std, gamma, beta, out, out)


@kernel
def batchnorm_input_grad(dout, xhat, gamma, inv_std, dgamma, dbeta, dx):
    """dx = gamma * inv_std * (dout - (dbeta + xhat * dgamma) / N), row-parallel; dx may alias dout."""
    inv_n = dout.dtype.type(1.0 / dout.shape[0])
    for i in prange(dout.shape[0]):
        for j in range(dout.shape[1]):
            dx[i, j] = gamma[j] * inv_std[j] * (dout[i, j] - (dbeta[j] + xhat[i, j] * dgamma[j]) * inv_n)


@njit(cache=True)
def batchnorm_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta):
    """Gradients of batch norm in the simplified form (CS231n's batchnorm_backward_alt):

        dbeta  = sum_i dout
        dgamma = sum_i dout * xhat
        dx     = gamma * inv_std / N * (N * dout - dbeta - xhat * dgamma)

    Shapes: dout, xhat, dx (N, M); gamma, inv_std, dgamma, dbeta (M,). ``dx`` may alias ``dout``:
    the sums are complete before dx is written.
    """
    scale_shift_grads(dout, xhat, dgamma, dbeta)
    batchnorm_input_grad(dout, xhat, gamma, inv_std, dgamma, dbeta, dx)
