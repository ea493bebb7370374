"""ReLU, forward and backward. Both may work in place (out or dx aliasing their input)."""
from numba import njit, prange

from .config import FASTMATH


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def relu_forward(x, out):
    """out = max(x, 0), row-parallel. Shapes (N, M). NaN stays NaN, so divergence shows."""
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = 0.0 if x[i, j] <= 0 else x[i, j]


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def relu_backward(dout, out, dx):
    """dx = dout * (out > 0), row-parallel. Uses the forward *output*: out > 0 exactly where x > 0,
    so the input need not be kept."""
    for i in prange(dout.shape[0]):
        for j in range(dout.shape[1]):
            dx[i, j] = dout[i, j] if out[i, j] > 0 else 0.0
