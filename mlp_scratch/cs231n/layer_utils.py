"""CS231n's ``layer_utils.py``: "sandwich" layers that chain the layers of ``layers.py``.

``affine_relu_forward`` / ``affine_relu_backward`` are the course's. The course leaves the
normalized variants to the student; ``affine_bn_relu_*`` and ``affine_ln_relu_*`` are provided here
(affine -> batch/layer norm -> ReLU) because ``FullyConnectedNet`` uses them. The course's
convolutional helpers (``conv_relu_*``, ``conv_bn_relu_*``, ``conv_relu_pool_*``) need convolution
layers, which this package does not have.
"""
from .layers import *  # noqa: F401,F403 - the course's layer_utils exposes the layers too
from .layers import (__all__ as _layers, affine_backward, affine_forward, batchnorm_backward_alt,
                     batchnorm_forward, layernorm_backward, layernorm_forward, relu_backward, relu_forward)

__all__ = ["affine_relu_forward", "affine_relu_backward", "affine_bn_relu_forward", "affine_bn_relu_backward",
           "affine_ln_relu_forward", "affine_ln_relu_backward", *_layers]


def affine_relu_forward(x, w, b):
    """Convenience layer that performs an affine transform followed by a ReLU.

    Inputs:
    - x: Input to the affine layer, of shape (N, d_1, ..., d_k)
    - w, b: Weights (D, M) and biases (M,) for the affine layer

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, M)
    - cache: Object to give to the backward pass
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass for the affine-relu convenience layer: returns (dx, dw, db)."""
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


def _affine_norm_relu_forward(norm_forward, x, w, b, gamma, beta, norm_param):
    a, fc_cache = affine_forward(x, w, b)
    an, norm_cache = norm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(an)
    return out, (fc_cache, norm_cache, relu_cache)


def _affine_norm_relu_backward(norm_backward, dout, cache):
    fc_cache, norm_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = norm_backward(dan, norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


def affine_bn_relu_forward(x, w, b, gamma, beta, bn_param):
    """affine -> batch norm -> ReLU.

    Inputs:
    - x: Input to the affine layer, of shape (N, d_1, ..., d_k)
    - w, b: Weights (D, M) and biases (M,) for the affine layer
    - gamma, beta: Scale and shift (M,) for batch normalization
    - bn_param: Dictionary of parameters for batch normalization (see batchnorm_forward)

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, M)
    - cache: Object to give to the backward pass
    """
    return _affine_norm_relu_forward(batchnorm_forward, x, w, b, gamma, beta, bn_param)


def affine_bn_relu_backward(dout, cache):
    """Backward pass for affine -> batch norm -> ReLU: returns (dx, dw, db, dgamma, dbeta).
    db is computed although it is zero up to rounding: batch norm removes any constant shift."""
    return _affine_norm_relu_backward(batchnorm_backward_alt, dout, cache)


def affine_ln_relu_forward(x, w, b, gamma, beta, ln_param):
    """affine -> layer norm -> ReLU; arguments as affine_bn_relu_forward, with ln_param for
    layernorm_forward."""
    return _affine_norm_relu_forward(layernorm_forward, x, w, b, gamma, beta, ln_param)


def affine_ln_relu_backward(dout, cache):
    """Backward pass for affine -> layer norm -> ReLU: returns (dx, dw, db, dgamma, dbeta)."""
    return _affine_norm_relu_backward(layernorm_backward, dout, cache)
