"""The step limit of scripts/benchmark.py: what a perfect implementation pays per training step, the
step's matrix products and one optimizer update, and nothing else, in one compiled loop so that no
per-call overhead counts against it."""
import numpy as np
from numba import njit

from .optimizers import optimizer_update


@njit(cache=True)
def products_and_updates(batch_sizes, xs, Ws, douts, outs, dWs, dxs, kind, params, grads, s0, s1, s2, flags,
                         hyper, coef, lr):
    """For each batch size n: per layer l, x @ W, x.T @ dout and (l > 0) dout @ W.T on the first n
    rows, then one update of optimizer ``kind`` over the flat buffers. xs, Ws, ... are typed lists
    of one array per layer."""
    for step in range(batch_sizes.shape[0]):
        n = batch_sizes[step]
        for l in range(len(Ws)):
            np.dot(xs[l][:n], Ws[l], outs[l][:n])
            np.dot(xs[l][:n].T, douts[l][:n], dWs[l])
            if l > 0:
                np.dot(douts[l][:n], Ws[l].T, dxs[l][:n])
        optimizer_update(kind, params, grads, s0, s1, s2, flags, lr, step + 1, hyper, coef)
