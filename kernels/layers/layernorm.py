"""Layer normalization over the features of each sample, forward and backward (Ba, Kiros & Hinton 2016).

Each row i of x (N, D) is normalized with its own mean and (biased) variance over its D features:

    mean_i = sum_j x_ij / D;   var_i = sum_j (x_ij - mean_i)**2 / D;   inv_std_i = 1 / sqrt(var_i + eps)
    xhat_ij = (x_ij - mean_i) * inv_std_i;   out_ij = gamma_j * xhat_ij + beta_j

There are no running averages: training and evaluation are the same computation. The gradients, with
g_ij = gamma_j * dout_ij (the per-row transpose of batch norm's simplified form):

    dbeta_j  = sum_i dout_ij;   dgamma_j = sum_i dout_ij * xhat_ij
    dx_ij    = inv_std_i * (g_ij - (sum_k g_ik + xhat_ij * sum_k g_ik * xhat_ik) / D)
"""
import numpy as np
from numba import prange

from ..config import FASTMATH, njit
from ..reductions import scale_shift_grads


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def layernorm_forward(x, gamma, beta, eps, mean, inv_std, xhat, out):
    """Writes each row's ``mean`` and ``inv_std`` (N,), ``xhat`` (the backward pass's cache) and
    ``out`` = gamma * xhat + beta. Shapes: x, xhat, out (N, D); gamma, beta (D,).

    Row-parallel: each prange iteration owns row i of every output, so there is no race and each
    row's sums are taken in index order whatever the number of threads. Two passes (mean, then
    squared deviations) for accuracy. ``xhat`` and ``out`` may alias ``x``.
    """
    n, d = x.shape
    zero = x.dtype.type(0.0)
    one = x.dtype.type(1.0)
    inv_d = x.dtype.type(1.0 / d)
    for i in prange(n):  # x[i, j], not row views: see kernels/layers/activations.py
        s = zero
        for j in range(d):
            s += x[i, j]
        mu = s * inv_d
        s = zero
        for j in range(d):
            c = x[i, j] - mu
            s += c * c
        r = one / np.sqrt(s * inv_d + eps)
        mean[i] = mu
        inv_std[i] = r
        for j in range(d):
            v = (x[i, j] - mu) * r
            xhat[i, j] = v
            out[i, j] = gamma[j] * v + beta[j]


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def layernorm_input_grad(dout, xhat, gamma, inv_std, dx):
    """dx_ij = inv_std_i * (g_ij - (sum_k g_ik + xhat_ij * sum_k g_ik xhat_ik) / D), g = gamma * dout.
    Row-parallel: row i finishes its two sums before writing dx[i], so ``dx`` may alias ``dout``."""
    n, d = dout.shape
    zero = dout.dtype.type(0.0)
    inv_d = dout.dtype.type(1.0 / d)
    for i in prange(n):
        g_sum = zero
        gh_sum = zero
        for j in range(d):
            g = gamma[j] * dout[i, j]
            g_sum += g
            gh_sum += g * xhat[i, j]
        r = inv_std[i]
        for j in range(d):
            dx[i, j] = r * (gamma[j] * dout[i, j] - (g_sum + xhat[i, j] * gh_sum) * inv_d)


@njit(cache=True)
def layernorm_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta):
    """Gradients of layer norm. Shapes: dout, xhat, dx (N, D); gamma, dgamma, dbeta (D,);
    inv_std (N,). ``dx`` may alias ``dout``: the parameter gradients read dout first."""
    scale_shift_grads(dout, xhat, dgamma, dbeta)
    layernorm_input_grad(dout, xhat, gamma, inv_std, dx)
