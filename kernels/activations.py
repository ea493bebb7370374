"""Hidden-layer activations, forward and backward, element-wise and row-parallel.

Every backward pass here uses the forward *output* (out), not the input: each derivative can be
written from it, so the network keeps one array per layer and the passes may work in place.

    relu:        out = max(x, 0)                        d/dx = 1 if out > 0 else 0
    leaky_relu:  out = x if x > 0 else alpha * x        d/dx = 1 if out > 0 else alpha   (alpha > 0)
    elu:         out = x if x > 0 else alpha(e^x - 1)   d/dx = 1 if out > 0 else out + alpha
    tanh:        out = tanh(x)                          d/dx = 1 - out^2
    sigmoid:     out = 1 / (1 + e^-x)                   d/dx = out (1 - out)
"""
import numpy as np
from numba import njit, prange

from .config import FASTMATH

RELU, LEAKY_RELU, ELU, TANH, SIGMOID = range(5)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def activation_forward(kind, alpha, x, out):
    """out = f(x) for activation ``kind``; out may alias x. NaN stays NaN."""
    alpha = x.dtype.type(alpha)
    one = x.dtype.type(1)
    for i in prange(x.shape[0]):
        row, o = x[i], out[i]
        for j in range(row.shape[0]):
            v = row[j]
            if kind == RELU:
                o[j] = 0.0 if v <= 0 else v
            elif kind == LEAKY_RELU:
                o[j] = alpha * v if v <= 0 else v
            elif kind == ELU:
                o[j] = alpha * (np.exp(v) - one) if v <= 0 else v
            elif kind == TANH:
                o[j] = np.tanh(v)
            else:
                o[j] = one / (one + np.exp(-v))


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def activation_backward(kind, alpha, dout, out, dx):
    """dx = dout * f'(x), with f' written from the forward output ``out``; dx may alias dout."""
    alpha = dout.dtype.type(alpha)
    one = dout.dtype.type(1)
    for i in prange(dout.shape[0]):
        d, o, g = dout[i], out[i], dx[i]
        for j in range(d.shape[0]):
            y = o[j]
            if kind == RELU:
                g[j] = d[j] if y > 0 else 0.0
            elif kind == LEAKY_RELU:
                g[j] = d[j] if y > 0 else alpha * d[j]
            elif kind == ELU:
                g[j] = d[j] if y > 0 else (y + alpha) * d[j]
            elif kind == TANH:
                g[j] = (one - y * y) * d[j]
            else:
                g[j] = y * (one - y) * d[j]
