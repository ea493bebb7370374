"""One-pass kernels for hidden layers with ReLU, the default activation.

Batch norm, the activation and dropout each have kernels of their own (batchnorm.py, activations.py,
dropout.py); the network chains them, and each reads and writes the whole layer. For ReLU layers it
calls these instead: the same arithmetic in the same order, in one pass. (Only the compiler's
contractions may round a value differently, by an ulp or so: tests/test_kernels.py compares them
with the chained kernels.)

    forward   normalize_relu            xhat, relu(gamma * xhat + beta)         (batch norm, no dropout)
              normalize_relu_dropout    xhat, dropout(relu(gamma * xhat + beta)) (batch norm + dropout)
              relu_dropout              dropout(relu(x))                         (dropout, no batch norm)
    backward  relu_dropout_backward     from the dropped output alone

With dropout the ReLU output itself is not stored: the backward pass needs only the dropped output.
"""
from numba import prange

from ..config import kernel
from .dropout import dropout_value


@kernel
def normalize_relu(x, mean, inv_std, gamma, beta, xhat, out):
    """xhat = (x - mean) * inv_std; out = max(gamma * xhat + beta, 0). out may alias x."""
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):  # x[i, j], not row views: see kernels/layers/activations.py
            v = (x[i, j] - mean[j]) * inv_std[j]
            xhat[i, j] = v
            a = gamma[j] * v + beta[j]
            out[i, j] = 0.0 if a <= 0 else a  # NaN stays NaN


@kernel
def normalize_relu_dropout(x, mean, inv_std, gamma, beta, threshold, scale, seed, xhat, dropped):
    """xhat as in normalize_relu; dropped = dropout_value of its ReLU output (dropout.py: the mask
    and scale of mask_parameters)."""
    m = x.shape[1]
    for i in prange(x.shape[0]):
        for j in range(m):
            v = (x[i, j] - mean[j]) * inv_std[j]
            xhat[i, j] = v
            a = gamma[j] * v + beta[j]
            a = 0.0 if a <= 0 else a
            dropped[i, j] = dropout_value(a, threshold, scale, seed, i * m + j)


@kernel
def relu_dropout(x, threshold, scale, seed, dropped):
    """dropped = dropout_value of max(x, 0) (dropout.py)."""
    m = x.shape[1]
    for i in prange(x.shape[0]):
        for j in range(m):
            a = 0.0 if x[i, j] <= 0 else x[i, j]
            dropped[i, j] = dropout_value(a, threshold, scale, seed, i * m + j)


@kernel
def relu_dropout_backward(dout, dropped, scale, dx):
    """The backward pass of ReLU then dropout: dx = dout * scale where dropped > 0, else 0.

    Exact: where dropped > 0 the unit was kept and its ReLU was positive; where dropped is 0 either
    the mask or the ReLU's derivative is 0. No mask is redrawn (128 x 512 float32, 1 thread: both
    passes 62 us, this one 14 us). dx may alias dout."""
    for i in prange(dout.shape[0]):
        for j in range(dout.shape[1]):
            dx[i, j] = dout[i, j] * scale if dropped[i, j] > 0 else 0.0
