"""The step limit of scripts/benchmark.py: what a perfect implementation pays per training step, the
step's matrix products and one optimizer update, and nothing else: two compiled loops, timed apart,
so that no per-call overhead counts against it. And the same work in one loop, step by step, as
training interleaves it."""
import numpy as np
from numba import njit

from mlp_scratch.kernels.layers.affine import affine_backward_input, affine_backward_params, affine_forward
from mlp_scratch.kernels.training.optimizers import optimizer_update

# Not cached: numba's cache would not notice an edit to the optimizer kernels it calls, and only
# kernels/ drops its caches when a source changes. Compiling these two takes a second per benchmark.


@njit
def products(batch_sizes, xs, Ws, douts, outs, dWs, dxs):
    """For each batch size n, per layer l: x @ W, x.T @ dout and (l > 0) dout @ W.T on the first n
    rows, each one BLAS call. xs, Ws, ... are typed lists of one array per layer."""
    for step in range(batch_sizes.shape[0]):
        n = batch_sizes[step]
        for l in range(len(Ws)):
            np.dot(xs[l][:n], Ws[l], outs[l][:n])
            np.dot(xs[l][:n].T, douts[l][:n], dWs[l])
            if l > 0:
                np.dot(douts[l][:n], Ws[l].T, dxs[l][:n])


@njit
def updates(steps, params, grads, opt, lr):
    """``steps`` updates of the optimizer ``opt`` over the flat buffers."""
    for _ in range(steps):
        optimizer_update(params, grads, opt, lr)


@njit
def interleaved(batch_sizes, xs, Ws, douts, outs, dWs, dxs, params, grads, opt, lr, parts):
    """products() then one update of ``opt``, step by step, the products made by the network's own
    affine kernels in ``parts`` blocks (kernels/blas/products.py)."""
    no_bias = params[:0]
    for step in range(batch_sizes.shape[0]):
        n = batch_sizes[step]
        for l in range(len(Ws)):
            affine_forward(xs[l][:n], Ws[l], no_bias, outs[l][:n], parts)
            affine_backward_params(xs[l][:n], douts[l][:n], dWs[l], no_bias, parts)
            if l > 0:
                affine_backward_input(douts[l][:n], Ws[l], dxs[l][:n], parts)
        optimizer_update(params, grads, opt, lr)
