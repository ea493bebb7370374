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


# One parallel loop per activation, chosen outside the loops: a branch on the kind inside them (a
# runtime value from the network's layout) stops vectorization and cost 30% of a whole training step.

@njit(parallel=True, fastmath=FASTMATH, cache=True)
def relu_forward(x, out):
    for i in prange(x.shape[0]):
        row, o = x[i], out[i]
        for j in range(row.shape[0]):
            o[j] = 0.0 if row[j] <= 0 else row[j]  # NaN stays NaN


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def leaky_relu_forward(x, alpha, out):
    for i in prange(x.shape[0]):
        row, o = x[i], out[i]
        for j in range(row.shape[0]):
            o[j] = alpha * row[j] if row[j] <= 0 else row[j]


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def elu_forward(x, alpha, out):
    one = x.dtype.type(1)
    for i in prange(x.shape[0]):
        row, o = x[i], out[i]
        for j in range(row.shape[0]):
            o[j] = alpha * (np.exp(row[j]) - one) if row[j] <= 0 else row[j]


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def tanh_forward(x, out):
    for i in prange(x.shape[0]):
        row, o = x[i], out[i]
        for j in range(row.shape[0]):
            o[j] = np.tanh(row[j])


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def sigmoid_forward(x, out):
    one = x.dtype.type(1)
    for i in prange(x.shape[0]):
        row, o = x[i], out[i]
        for j in range(row.shape[0]):
            o[j] = one / (one + np.exp(-row[j]))


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def derivative_from_output(kind, alpha, dout, out, dx):
    """dx = dout * f'(x) with f' written from the forward output (the table above)."""
    one = dout.dtype.type(1)
    if kind == RELU:
        for i in prange(dout.shape[0]):
            d, o, g = dout[i], out[i], dx[i]
            for j in range(d.shape[0]):
                g[j] = d[j] if o[j] > 0 else 0.0
    elif kind == LEAKY_RELU:
        for i in prange(dout.shape[0]):
            d, o, g = dout[i], out[i], dx[i]
            for j in range(d.shape[0]):
                g[j] = d[j] if o[j] > 0 else alpha * d[j]
    elif kind == ELU:
        for i in prange(dout.shape[0]):
            d, o, g = dout[i], out[i], dx[i]
            for j in range(d.shape[0]):
                g[j] = d[j] if o[j] > 0 else (o[j] + alpha) * d[j]
    elif kind == TANH:
        for i in prange(dout.shape[0]):
            d, o, g = dout[i], out[i], dx[i]
            for j in range(d.shape[0]):
                g[j] = (one - o[j] * o[j]) * d[j]
    else:
        for i in prange(dout.shape[0]):
            d, o, g = dout[i], out[i], dx[i]
            for j in range(d.shape[0]):
                g[j] = o[j] * (one - o[j]) * d[j]


@njit(cache=True)
def activation_forward(kind, alpha, x, out):
    """out = f(x) for activation ``kind``; out may alias x. NaN stays NaN."""
    alpha = x.dtype.type(alpha)
    if kind == RELU:
        relu_forward(x, out)
    elif kind == LEAKY_RELU:
        leaky_relu_forward(x, alpha, out)
    elif kind == ELU:
        elu_forward(x, alpha, out)
    elif kind == TANH:
        tanh_forward(x, out)
    else:
        sigmoid_forward(x, out)


@njit(cache=True)
def activation_backward(kind, alpha, dout, out, dx):
    """dx = dout * f'(x), with f' written from the forward output ``out``; dx may alias dout."""
    derivative_from_output(kind, dout.dtype.type(alpha), dout, out, dx)
