"""The step limit of scripts/benchmark.py: what a perfect implementation pays per training step, the
step's matrix products and one optimizer update, and nothing else: two compiled loops, timed apart,
so that no per-call overhead counts against it."""
import numpy as np
from numba import njit

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
