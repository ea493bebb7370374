"""Hidden-layer activations, forward and backward, element-wise and row-parallel.

Every backward pass here uses the forward *output* (out), not the input: each derivative can be
written from it, so the network keeps one array per layer and the passes may work in place.

    relu:        out = max(x, 0)                        d/dx = 1 if out > 0 else 0
    leaky_relu:  out = x if x > 0 else alpha * x        d/dx = 1 if out > 0 else alpha   (alpha > 0)
    elu:         out = x if x > 0 else alpha(e^x - 1)   d/dx = 1 if out > 0 else out + alpha
    tanh:        out = tanh(x)                          d/dx = 1 - out^2
    sigmoid:     out = 1 / (1 + e^-x)                   d/dx = out (1 - out)
"""
from typing import NamedTuple

import numpy as np
from numba import prange
from numba.extending import overload

from ..config import kernel, njit

RELU, LEAKY_RELU, ELU, TANH, SIGMOID = range(5)


# One parallel loop per activation, chosen outside the loops: a branch on the kind inside them (a
# runtime value from the network's layout) stops vectorization and cost 30% of a whole training step.
# Index the 2-D arrays as x[i, j], not through row views (row = x[i]; row[j]): with row views LLVM
# only vectorizes after a runtime check that the rows do not overlap, which fails when the pass works
# in place (out is x, dx is dout, as the network calls them), and the scalar fallback branches on the
# sign of each unit: mispredicted half of the time, 30x slower (relu backward, 200 x 256 float32:
# 145 us vs 5 us), a 30-45% slower training step.

@kernel
def relu_forward(x, out):
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = 0.0 if x[i, j] <= 0 else x[i, j]  # NaN stays NaN


@kernel
def leaky_relu_forward(x, alpha, out):
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = alpha * x[i, j] if x[i, j] <= 0 else x[i, j]


@kernel
def elu_forward(x, alpha, out):
    one = x.dtype.type(1)
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = alpha * (np.exp(x[i, j]) - one) if x[i, j] <= 0 else x[i, j]


@kernel
def tanh_forward(x, out):
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = np.tanh(x[i, j])


@kernel
def sigmoid_forward(x, out):
    one = x.dtype.type(1)
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = one / (one + np.exp(-x[i, j]))


# The backward passes: dx = dout * f'(x) with f' written from the forward output (the table above),
# one kernel each, so that a caller of one activation (the CS231n layers' ReLU) compiles only its own.

@kernel
def relu_backward(dout, out, dx):
    for i in prange(dout.shape[0]):
        for j in range(dout.shape[1]):
            dx[i, j] = dout[i, j] if out[i, j] > 0 else 0.0


@kernel
def leaky_relu_backward(dout, alpha, out, dx):
    for i in prange(dout.shape[0]):
        for j in range(dout.shape[1]):
            dx[i, j] = dout[i, j] if out[i, j] > 0 else alpha * dout[i, j]


@kernel
def elu_backward(dout, alpha, out, dx):
    for i in prange(dout.shape[0]):
        for j in range(dout.shape[1]):
            dx[i, j] = dout[i, j] if out[i, j] > 0 else (out[i, j] + alpha) * dout[i, j]


@kernel
def tanh_backward(dout, out, dx):
    one = dout.dtype.type(1)
    for i in prange(dout.shape[0]):
        for j in range(dout.shape[1]):
            dx[i, j] = (one - out[i, j] * out[i, j]) * dout[i, j]


@kernel
def sigmoid_backward(dout, out, dx):
    one = dout.dtype.type(1)
    for i in prange(dout.shape[0]):
        for j in range(dout.shape[1]):
            dx[i, j] = out[i, j] * (one - out[i, j]) * dout[i, j]


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
    alpha = dout.dtype.type(alpha)
    if kind == RELU:
        relu_backward(dout, out, dx)
    elif kind == LEAKY_RELU:
        leaky_relu_backward(dout, alpha, out, dx)
    elif kind == ELU:
        elu_backward(dout, alpha, out, dx)
    elif kind == TANH:
        tanh_backward(dout, out, dx)
    else:
        sigmoid_backward(dout, out, dx)


# -- a network's activations as a type ---------------------------------------------------------------
# numba types a NamedTuple by its class: given one of these, a whole-network pass compiles only the
# kernels of the activation its layers have, not the other four kinds' forward and backward kernels.
# Where the hidden layers differ, Mixed compiles every kind and branches on each layer's kind at run
# time.

class Relu(NamedTuple):
    pass


class LeakyRelu(NamedTuple):
    pass


class Elu(NamedTuple):
    pass


class Tanh(NamedTuple):
    pass


class Sigmoid(NamedTuple):
    pass


class Mixed(NamedTuple):
    pass


ONLY = (Relu, LeakyRelu, Elu, Tanh, Sigmoid)  # by kind


def network_activations(kinds):
    """The type-level activations of a network whose hidden layers have ``kinds``."""
    if not kinds:  # no hidden layer calls an activation
        return Relu()
    return ONLY[kinds[0]]() if len(set(kinds)) == 1 else Mixed()


def forward_for(activations, kind, alpha, x, out):
    """activation_forward for a layer of a network with ``activations``."""
    activation_forward(kind, alpha, x, out)


def backward_for(activations, kind, alpha, dout, out, dx):
    """activation_backward for a layer of a network with ``activations``."""
    activation_backward(kind, alpha, dout, out, dx)


# each kind's kernels, forward and backward, and whether they take alpha
KERNELS = {Relu: (relu_forward, relu_backward, False), LeakyRelu: (leaky_relu_forward, leaky_relu_backward, True),
           Elu: (elu_forward, elu_backward, True), Tanh: (tanh_forward, tanh_backward, False),
           Sigmoid: (sigmoid_forward, sigmoid_backward, False)}


@overload(forward_for)
def _compiled_forward_for(activations, kind, alpha, x, out):
    if activations.instance_class is Mixed:
        return forward_for
    kernel, _, takes_alpha = KERNELS[activations.instance_class]
    if takes_alpha:
        return lambda activations, kind, alpha, x, out: kernel(x, x.dtype.type(alpha), out)
    return lambda activations, kind, alpha, x, out: kernel(x, out)


@overload(backward_for)
def _compiled_backward_for(activations, kind, alpha, dout, out, dx):
    if activations.instance_class is Mixed:
        return backward_for
    _, kernel, takes_alpha = KERNELS[activations.instance_class]
    if takes_alpha:
        return lambda activations, kind, alpha, dout, out, dx: kernel(dout, dout.dtype.type(alpha), out, dx)
    return lambda activations, kind, alpha, dout, out, dx: kernel(dout, out, dx)
