"""CS231n assignment 2's ``layers.py`` on this package's compiled kernels.

Every layer is a ``*_forward`` returning ``(out, cache)`` and a ``*_backward(dout, cache)`` returning
the gradients, with the course's names, arguments, defaults and conventions. The formulas live in
``mlp_scratch.kernels`` (affine, relu, batchnorm, layernorm, dropout, losses); this file only
reshapes, picks the dtype, allocates outputs and converts the course's conventions where they differ
from ours (batch norm's running averages, dropout's ``p``), as each docstring says.

Arrays are computed in float64 or float32: the NumPy result type of the inputs, or float64 when that
is neither (integers). Inputs are never modified and outputs are new arrays.
"""
import numpy as np

from mlp_scratch import threads
from mlp_scratch.kernels.layers import activations, affine, batchnorm, dropout, layernorm, losses
from mlp_scratch.validation import check_int

__all__ = ["affine_forward", "affine_backward", "relu_forward", "relu_backward", "batchnorm_forward",
           "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward", "layernorm_backward",
           "dropout_forward", "dropout_backward", "svm_loss", "softmax_loss"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _dtype(*arrays):
    dtype = np.result_type(*[np.asarray(a).dtype for a in arrays])
    return dtype if dtype in _FLOATS else np.dtype(np.float64)


def _c(a, dtype):
    """a as a C-contiguous array of dtype (no copy when it already is one)."""
    return np.ascontiguousarray(a, dtype=dtype)


def _rows(x, dtype):
    """x (N, d1, ..., dk) as a C-contiguous (N, d1 * ... * dk) array of dtype; 0-d and 1-d arrays as one row."""
    x = np.asarray(x)
    return _c(x.reshape(x.shape[0], int(np.prod(x.shape[1:]))) if x.ndim >= 2 else x.reshape(1, -1), dtype)


def _check_features(name, x, D, vectors):
    """x must be (N, D) and each of ``vectors`` ({argument name: array}) (D,)."""
    if x.ndim != 2:
        raise ValueError(f"{name}: x must have shape (N, D), got {x.shape}")
    for arg, v in vectors.items():
        if v.shape != (D,):
            raise ValueError(f"{name}: {arg} must have shape ({D},), got {v.shape}")


# -- affine ---------------------------------------------------------------------------------------
def affine_forward(x, w, b):
    """Forward pass of an affine (fully connected) layer: out = x.reshape(N, D) @ w + b.

    Inputs:
    - x: A numpy array containing input data, of shape (N, d_1, ..., d_k); each row is flattened
      to D = d_1 * ... * d_k values.
    - w: A numpy array of weights, of shape (D, M)
    - b: A numpy array of biases, of shape (M,)

    Returns a tuple of:
    - out: output, of shape (N, M)
    - cache: (x, w, b)
    """
    dtype = _dtype(x, w, b)
    x2, w2, b2 = _rows(x, dtype), _c(w, dtype), _c(b, dtype)
    if w2.ndim != 2 or x2.shape[1] != w2.shape[0] or b2.shape != (w2.shape[1],):
        raise ValueError(f"affine_forward: x {np.shape(x)} (flattened to {x2.shape}), w {w2.shape} and "
                         f"b {b2.shape} do not fit: expected w (D, M) and b (M,) with D = {x2.shape[1]}")
    out = np.empty((x2.shape[0], w2.shape[1]), dtype)
    with threads.pools(w2.size):
        affine.affine_forward(x2, w2, b2, out, threads.blocks_for(w2.size))
    return out, (x, w, b)


def affine_backward(dout, cache):
    """Backward pass of an affine layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: Tuple of:
      - x: Input data, of shape (N, d_1, ... d_k)
      - w: Weights, of shape (D, M)
      - b: Biases, of shape (M,)

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    x, w, b = cache
    dtype = _dtype(x, w, b, dout)
    x2, w2, dout2 = _rows(x, dtype), _c(w, dtype), _c(dout, dtype)
    if dout2.shape != (x2.shape[0], w2.shape[1]):
        raise ValueError(f"affine_backward: dout must have shape {(x2.shape[0], w2.shape[1])}, got {dout2.shape}")
    dx, dw, db = np.empty_like(x2), np.empty_like(w2), np.empty(w2.shape[1], dtype)
    blocks = threads.blocks_for(w2.size)
    with threads.pools(w2.size):
        affine.affine_backward_params(x2, dout2, dw, db, blocks)
        affine.affine_backward_input(dout2, w2, dx, blocks)
    return dx.reshape(np.shape(x)), dw, db


# -- ReLU -----------------------------------------------------------------------------------------
def relu_forward(x):
    """Forward pass of rectified linear units: out = max(x, 0).

    Input:
    - x: Inputs, of any shape

    Returns a tuple of:
    - out: Output, of the same shape as x
    - cache: x
    """
    dtype = _dtype(x)
    x2 = _rows(x, dtype)
    out = np.empty_like(x2)
    threads.apply()
    activations.relu_forward(x2, out)
    return out.reshape(np.shape(x)), x


def relu_backward(dout, cache):
    """Backward pass of ReLU: dx = dout where x > 0, else 0.

    Input:
    - dout: Upstream derivatives, of any shape
    - cache: Input x, of same shape as dout

    Returns:
    - dx: Gradient with respect to x
    """
    x = cache
    dtype = _dtype(x, dout)
    x2, dout2 = _rows(x, dtype), _rows(dout, dtype)
    if dout2.shape != x2.shape:
        raise ValueError(f"relu_backward: dout must have the shape of x {np.shape(x)}, got {np.shape(dout)}")
    dx = np.empty_like(x2)
    threads.apply()
    # Our kernel tests the forward output (out > 0); x > 0 exactly where out > 0, so x serves.
    activations.relu_backward(dout2, x2, dx)  # x > 0 where out > 0
    return dx.reshape(np.shape(x))


# -- batch normalization --------------------------------------------------------------------------
def batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of batch normalization.

    During training the sample mean and (uncorrected) sample variance are computed from minibatch
    statistics and used to normalize the incoming data. During training we also keep an
    exponentially decaying running mean of the mean and variance of each feature, and these
    averages are used to normalize data at test-time:

        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var      (biased variance)

    Input:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift paremeter of shape (D,)
    - bn_param: Dictionary with the following keys:
      - mode: 'train' or 'test'; required
      - eps: Constant for numeric stability, default 1e-5
      - momentum: Constant for running mean / variance, default 0.9
      - running_mean: Array of shape (D,) giving running mean of features (zeros when absent)
      - running_var: Array of shape (D,) giving running variance of features (zeros when absent)
      The new running averages are stored back in bn_param as new arrays.

    Returns a tuple of:
    - out: of shape (N, D)
    - cache: what batchnorm_backward needs (xhat, gamma, inv_std); None in test mode

    Conversion to our kernel (kernels/layers/batchnorm.py ``batch_statistics``, torch's convention
    ``running <- (1 - m) * running + m * batch`` with the UNBIASED variance var * u, u = N / (N - 1)):
    we pass m = 1 - momentum and the running variance multiplied by u, and divide the result by u:
    (momentum * running_var * u + (1 - momentum) * var * u) / u is the course's update with the
    biased variance, exact up to two roundings (float64: relative error ~1e-16).
    """
    mode = bn_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f'Invalid forward batchnorm mode "{mode}": bn_param["mode"] must be "train" or "test"')
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    dtype = _dtype(x, gamma, beta)
    x, gamma, beta = _c(x, dtype), _c(gamma, dtype), _c(beta, dtype)
    N, D = x.shape if x.ndim == 2 else (0, 0)
    _check_features("batchnorm_forward", x, D, {"gamma": gamma, "beta": beta})
    running_mean = np.array(bn_param.get("running_mean", np.zeros(D, dtype)), dtype=dtype)
    running_var = np.array(bn_param.get("running_var", np.zeros(D, dtype)), dtype=dtype)
    _check_features("batchnorm_forward", x, D, {"running_mean": running_mean, "running_var": running_var})
    out = np.empty_like(x)
    inv_std = np.empty(D, dtype)
    cast = dtype.type
    threads.apply()
    if mode == "train":
        if N < 1:
            raise ValueError("batchnorm_forward: training mode needs at least one sample, got x of shape (0, D)")
        unbias = N / (N - 1.0) if N > 1 else 1.0  # the kernel's factor, computed as it does
        running_var *= unbias
        mean, xhat = np.empty(D, dtype), np.empty_like(x)
        batchnorm.batchnorm_forward_train(x, gamma, beta, cast(eps), cast(1.0 - momentum), running_mean,
                                          running_var, mean, inv_std, xhat, out)
        running_var /= unbias
        cache = (xhat, gamma, inv_std)
    else:
        batchnorm.batchnorm_forward_eval(x, gamma, beta, cast(eps), running_mean, running_var, inv_std, out)
        cache = None
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def _batchnorm_cache(name, dout, cache):
    if cache is None:
        raise ValueError(f"{name} needs the cache of a training-mode batchnorm_forward "
                         "(test mode returns None: it has no gradient path through batch statistics)")
    xhat, gamma, inv_std = cache
    dout = _c(dout, xhat.dtype)
    if dout.shape != xhat.shape:
        raise ValueError(f"{name}: dout must have shape {xhat.shape}, got {dout.shape}")
    return dout, xhat, gamma, inv_std


def batchnorm_backward(dout, cache):
    """Backward pass for batch normalization.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: Variable of intermediates from batchnorm_forward (training mode).

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)

    The staged form the course asks for here: backward through the computational graph of the
    forward pass (mean, x - mean, its square, variance, sqrt(var + eps), its inverse, xhat,
    gamma * xhat + beta), one node at a time, in NumPy. ``batchnorm_backward_alt`` is the
    simplified closed form.
    """
    dout, xhat, gamma, inv_std = _batchnorm_cache("batchnorm_backward", dout, cache)
    N = dout.shape[0]
    xmu, sqrtvar = xhat / inv_std, 1 / inv_std  # x - mean and sqrt(var + eps), from the cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dinv_std = (dxhat * xmu).sum(axis=0)       # xhat = xmu * inv_std
    dxmu = dxhat * inv_std
    dsqrtvar = -dinv_std / sqrtvar ** 2         # inv_std = 1 / sqrtvar
    dvar = 0.5 * inv_std * dsqrtvar             # sqrtvar = sqrt(var + eps)
    dsq = np.full_like(dout, 1 / N) * dvar      # var = mean(sq)
    dxmu += 2 * xmu * dsq                       # sq = xmu ** 2
    dmean = -dxmu.sum(axis=0)                   # xmu = x - mean
    dx = dxmu + np.full_like(dout, 1 / N) * dmean  # mean = mean(x)
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Alternative backward pass for batch normalization: the simplified closed form, same inputs
    and outputs as batchnorm_backward,

        dx = gamma * inv_std / N * (N * dout - dbeta - xhat * dgamma),

    in one compiled kernel (kernels/layers/batchnorm.py ``batchnorm_backward``), which the networks
    of this module use.
    """
    dout, xhat, gamma, inv_std = _batchnorm_cache("batchnorm_backward_alt", dout, cache)
    dx, dgamma, dbeta = np.empty_like(dout), np.empty_like(gamma), np.empty_like(gamma)
    threads.apply()
    batchnorm.batchnorm_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta)
    return dx, dgamma, dbeta


# -- layer normalization --------------------------------------------------------------------------
def layernorm_forward(x, gamma, beta, ln_param):
    """Forward pass for layer normalization: each data point (row) is normalized over its features
    with its own mean and (biased) variance, then scaled and shifted like batch norm. Training and
    test time are the same computation (no running averages; ``ln_param["mode"]`` is ignored).

    Input:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift paremeter of shape (D,)
    - ln_param: Dictionary with the following keys:
        - eps: Constant for numeric stability, default 1e-5

    Returns a tuple of:
    - out: of shape (N, D)
    - cache: (xhat, gamma, inv_std) for layernorm_backward
    """
    eps = ln_param.get("eps", 1e-5)
    dtype = _dtype(x, gamma, beta)
    x, gamma, beta = _c(x, dtype), _c(gamma, dtype), _c(beta, dtype)
    N, D = x.shape if x.ndim == 2 else (0, 0)
    _check_features("layernorm_forward", x, D, {"gamma": gamma, "beta": beta})
    mean, inv_std = np.empty(N, dtype), np.empty(N, dtype)
    xhat, out = np.empty_like(x), np.empty_like(x)
    threads.apply()
    layernorm.layernorm_forward(x, gamma, beta, dtype.type(eps), mean, inv_std, xhat, out)
    return out, (xhat, gamma, inv_std)


def layernorm_backward(dout, cache):
    """Backward pass for layer normalization.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: Variable of intermediates from layernorm_forward.

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    xhat, gamma, inv_std = cache
    dout = _c(dout, xhat.dtype)
    if dout.shape != xhat.shape:
        raise ValueError(f"layernorm_backward: dout must have shape {xhat.shape}, got {dout.shape}")
    dx, dgamma, dbeta = np.empty_like(dout), np.empty_like(gamma), np.empty_like(gamma)
    threads.apply()
    layernorm.layernorm_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta)
    return dx, dgamma, dbeta


# -- dropout --------------------------------------------------------------------------------------
def dropout_forward(x, dropout_param):
    """Forward pass for inverted dropout.

    Note that this is different from the vanilla version of dropout: kept units are scaled by 1 / p
    at training time, so test time is the identity.

    Inputs:
    - x: Input data, of any shape
    - dropout_param: A dictionary with the following keys:
      - p: Dropout parameter. We keep each neuron output with probability p (the KEEP probability;
        our own API's ``dropout`` is the drop probability 1 - p).
      - mode: 'test' or 'train'. If the mode is train, then perform dropout;
        if the mode is test, then just return the input.
      - seed: Seed for the random number generator. Passing seed makes this
        function deterministic, which is needed for gradient checking.

    Outputs:
    - out: Array of the same shape as x.
    - cache: (p, seed, mode, mask) for dropout_backward.

    With a seed the mask is the course's: ``np.random.seed(seed)``, then ``np.random.rand(*x.shape)
    < p``, so seeded cells print the course's numbers (and leave NumPy's global generator where the
    course's code does). Without one, our kernel's (kernels/layers/dropout.py): element k of x
    (row-major) is kept when a counter-based hash of (seed, k) is below p, with a seed drawn from
    NumPy's global generator (``np.random.seed`` makes runs repeatable, as in the course); the
    mask is redrawn in the backward pass instead of stored.
    """
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f'dropout_param["mode"] must be "train" or "test", got {mode!r}')
    if not 0 < p <= 1:
        raise ValueError(f'dropout_param["p"] is the keep probability and must be in (0, 1], got {p!r}')
    if mode == "test":
        return np.array(x, copy=True), (p, None, mode, None)
    dtype = _dtype(x)
    if "seed" in dropout_param:
        seed = check_int('dropout_param["seed"]', dropout_param["seed"], low=0)
        if seed >= 2 ** 32:
            raise ValueError(f'dropout_param["seed"] must be below 2**32 (NumPy\'s np.random.seed), got {seed}')
        np.random.seed(seed)
        mask = ((np.random.rand(*np.shape(x)) < p) / p).astype(dtype)
        return np.asarray(x, dtype) * mask, (p, None, mode, mask)
    seed = np.random.randint(0, 2 ** 64, dtype=np.uint64)
    x2 = _rows(x, dtype)
    out = np.empty_like(x2)
    threads.apply()
    dropout.dropout_forward(x2, dtype.type(p), seed, out)
    return out.reshape(np.shape(x)), (p, seed, mode, None)


def dropout_backward(dout, cache):
    """Backward pass for inverted dropout: dx = dout * mask / p in training mode, dout in test mode.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: (p, seed, mode, mask) from dropout_forward.
    """
    p, seed, mode, mask = cache
    if mode == "test":
        return np.array(dout, copy=True)
    dtype = _dtype(dout)
    if mask is not None:
        return np.asarray(dout, dtype) * mask
    dout2 = _rows(dout, dtype)
    dx = np.empty_like(dout2)
    threads.apply()
    dropout.dropout_backward(dout2, dtype.type(p), seed, dx)
    return dx.reshape(np.shape(dout))


# -- losses ---------------------------------------------------------------------------------------
def _loss(kernel, x, y):
    dtype = _dtype(x)
    x = _c(x, dtype)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must have shape (N, C) and y shape (N,), got {x.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() >= x.shape[1])):
        raise ValueError(f"y must hold integer labels in [0, {x.shape[1] - 1}], got {y.dtype} "
                         f"values in [{y.min() if y.size else ''}, {y.max() if y.size else ''}]")
    dx = np.empty_like(x)
    threads.apply()
    loss = kernel(x, _c(y, np.int64), dx, np.empty(x.shape[0], np.float64))
    return float(loss), dx


def svm_loss(x, y):
    """Computes the loss and gradient using for multiclass SVM classification (margin 1).

    Inputs:
    - x: Input data, of shape (N, C) where x[i, j] is the score for the jth
      class for the ith input.
    - y: Vector of labels, of shape (N,) where y[i] is the label for x[i] and
      0 <= y[i] < C

    Returns a tuple of:
    - loss: Scalar giving the loss (mean over the batch)
    - dx: Gradient of the loss with respect to x
    """
    return _loss(losses.svm_loss, x, y)


def softmax_loss(x, y):
    """Computes the loss and gradient for softmax classification.

    Inputs:
    - x: Input data, of shape (N, C) where x[i, j] is the score for the jth
      class for the ith input.
    - y: Vector of labels, of shape (N,) where y[i] is the label for x[i] and
      0 <= y[i] < C

    Returns a tuple of:
    - loss: Scalar giving the loss (mean over the batch)
    - dx: Gradient of the loss with respect to x
    """
    return _loss(losses.softmax_loss, x, y)
