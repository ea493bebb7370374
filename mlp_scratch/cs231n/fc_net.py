"""CS231n's ``FullyConnectedNet``, built from the layer functions of ``layers.py`` (the course's own
structure), so that every formula stays in the compiled kernels."""
import numpy as np

from mlp_scratch.kernels.layers.affine import penalty_sums_size, weight_penalty
from mlp_scratch.validation import check_positive_int

from .layer_utils import *  # noqa: F401,F403 - as the course's fc_net, whose star import brings the layers
from .layer_utils import __all__ as _layer_utils
from .layer_utils import (affine_bn_relu_backward, affine_bn_relu_forward, affine_ln_relu_backward,
                          affine_ln_relu_forward, affine_relu_backward, affine_relu_forward)
from .layers import affine_backward, affine_forward, dropout_backward, dropout_forward, softmax_loss

__all__ = ["FullyConnectedNet", *_layer_utils]

_NORMALIZED = {"batchnorm": (affine_bn_relu_forward, affine_bn_relu_backward),
               "layernorm": (affine_ln_relu_forward, affine_ln_relu_backward)}


class FullyConnectedNet(object):
    """Class for a multi-layer fully connected neural network.

    Network contains an arbitrary number of hidden layers, ReLU nonlinearities,
    and a softmax loss function. This will also implement dropout and batch/layer
    normalization as options. For a network with L layers, the architecture will be

    {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

    where batch/layer normalization and dropout are optional and the {...} block is
    repeated L - 1 times.

    Learnable parameters are stored in the self.params dictionary (W1, b1, gamma1, beta1, ...,
    W{L}, b{L}) and will be learned using the Solver class. As in the course, a hidden layer keeps
    its bias b before batch/layer norm (our own ``MLP`` drops it, since the normalization removes
    any constant shift); its gradient is computed, and is zero up to rounding under batch norm.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        """Initialize a new FullyConnectedNet.

        Inputs:
        - hidden_dims: A list of integers giving the size of each hidden layer.
        - input_dim: An integer giving the size of the input.
        - num_classes: An integer giving the number of classes to classify.
        - dropout_keep_ratio: Scalar between 0 and 1 giving dropout strength (the probability of
          KEEPING a unit). If dropout_keep_ratio=1 then the network does not use dropout at all.
        - normalization: What type of normalization the network should use. Valid values
          are "batchnorm", "layernorm", or None for no normalization (the default).
        - reg: Scalar giving L2 regularization strength: the loss adds 0.5 * reg * sum(W**2) over
          the weight matrices.
        - weight_scale: Scalar giving the standard deviation for random initialization of the
          weights, drawn from NumPy's global generator as in the course (np.random.seed makes the
          initialization repeatable). Biases and beta start at 0, gamma at 1.
        - dtype: A numpy datatype object (float32 or float64); all computations will be performed
          using this datatype. float32 is faster but less accurate, so you should use float64 for
          numeric gradient checking.
        - seed: If not None, then pass this random seed to the dropout layers. This will make the
          dropout layers deterministic so we can gradient check the model.
        """
        if isinstance(hidden_dims, (str, bytes)) or not hasattr(hidden_dims, "__iter__"):
            raise ValueError(f"hidden_dims must be a list of positive integers, got {hidden_dims!r}")
        dims = [input_dim, *hidden_dims, num_classes]
        for name, value in zip(["input_dim", *[f"hidden_dims[{i}]" for i in range(len(hidden_dims))],
                                "num_classes"], dims):
            check_positive_int(name, value)
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(f'normalization must be None, "batchnorm" or "layernorm", got {normalization!r}')
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio is the keep probability and must be in (0, 1], "
                             f"got {dropout_keep_ratio!r}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        for l, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
            self.params[f"W{l}"] = weight_scale * np.random.randn(d_in, d_out)
            self.params[f"b{l}"] = np.zeros(d_out)
            if normalization is not None and l < self.num_layers:
                self.params[f"gamma{l}"] = np.ones(d_out)
                self.params[f"beta{l}"] = np.zeros(d_out)

        # One dropout_param, shared by every dropout layer (as in the course: with a seed, every
        # layer draws the mask of that seed).
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        # One bn_param per normalization layer; batch norm keeps its running averages in it.
        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for i in range(self.num_layers - 1)]
        if self.normalization == "layernorm":
            self.bn_params = [{} for i in range(self.num_layers - 1)]

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Compute loss and gradient for the fully connected net.

        Inputs:
        - X: Array of input data of shape (N, d_1, ..., d_k)
        - y: Array of labels, of shape (N,). y[i] gives the label for X[i].

        Returns:
        If y is None, then run a test-time forward pass of the model (batch norm with its running
        averages, no dropout) and return:
        - scores: Array of shape (N, C) giving classification scores, where
            scores[i, c] is the classification score for X[i] and class c.

        If y is not None, then run a training-time forward and backward pass and
        return a tuple of:
        - loss: Scalar value giving the loss (softmax data loss + 0.5 * reg * sum of W**2)
        - grads: Dictionary with the same keys as self.params, mapping parameter
            names to gradients of the loss with respect to those parameters.
        """
        X = np.asarray(X).astype(self.dtype)
        mode = "test" if y is None else "train"

        # Set train/test mode for batchnorm params and dropout param since they
        # behave differently during training and testing.
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode

        L = self.num_layers
        caches = []
        h = X
        for l in range(1, L):
            W, b = self.params[f"W{l}"], self.params[f"b{l}"]
            if self.normalization is None:
                h, cache = affine_relu_forward(h, W, b)
            else:
                forward = _NORMALIZED[self.normalization][0]
                h, cache = forward(h, W, b, self.params[f"gamma{l}"], self.params[f"beta{l}"],
                                   self.bn_params[l - 1])
            drop_cache = None
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
            caches.append((cache, drop_cache))
        scores, out_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])

        if mode == "test":
            return scores

        loss, dout = softmax_loss(scores, y)
        grads = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, out_cache)
        for l in range(L - 1, 0, -1):
            cache, drop_cache = caches[l - 1]
            if self.use_dropout:
                dout = dropout_backward(dout, drop_cache)
            if self.normalization is None:
                dout, grads[f"W{l}"], grads[f"b{l}"] = affine_relu_backward(dout, cache)
            else:
                backward = _NORMALIZED[self.normalization][1]
                dout, grads[f"W{l}"], grads[f"b{l}"], grads[f"gamma{l}"], grads[f"beta{l}"] = backward(dout, cache)

        if self.reg:
            # Our kernel adds reg * W to dW and returns 0.5 * reg * sum(W**2) (kernels/layers/affine.py).
            for l in range(1, L + 1):
                W = np.ascontiguousarray(self.params[f"W{l}"], dtype=grads[f"W{l}"].dtype)
                sums = np.empty(penalty_sums_size(*W.shape), np.float64)
                loss += float(weight_penalty(W, W.dtype.type(0), W.dtype.type(self.reg), grads[f"W{l}"], sums))
        return loss, grads
