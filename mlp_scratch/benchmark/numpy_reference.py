"""A plain CS231n-style NumPy implementation of the benchmarked network and of Adam: the "numpy"
side, and a readable reference that the tests check against numeric gradients."""
import math

import numpy as np

from .configs import BETAS, BN_EPS, BN_MOMENTUM, EPS, LR

# -- the NumPy reference (CS231n layers) -----------------------------------------------------------
def affine_forward(x, W, b):
    """out = x @ W (+ b). x (N, D), W (D, M), b (M,) or None (a layer followed by batch norm)."""
    out = x @ W
    if b is not None:
        out += b
    return out, (x, W)


def affine_backward(dout, cache, input_grad=True):
    """(dx, dW, db) for dout (N, M); dx is None when the input needs no gradient (the first layer)."""
    x, W = cache
    return (dout @ W.T if input_grad else None), x.T @ dout, dout.sum(axis=0)


def batchnorm_forward(x, gamma, beta, running_mean, running_var):
    """Training mode: normalize with the batch's mean and (biased) variance; update the running
    averages in place with the unbiased variance (torch's convention). x (N, M)."""
    n = x.shape[0]
    mean, var = x.mean(axis=0), x.var(axis=0)
    inv_std = 1 / np.sqrt(var + BN_EPS)
    xhat = (x - mean) * inv_std
    running_mean += BN_MOMENTUM * (mean - running_mean)
    running_var += BN_MOMENTUM * (var * (n / (n - 1)) - running_var)
    return gamma * xhat + beta, (xhat, gamma, inv_std)


def batchnorm_backward(dout, cache):
    """(dx, dgamma, dbeta): the simplified closed form of the staged graph's gradient."""
    xhat, gamma, inv_std = cache
    dxhat = dout * gamma
    dx = inv_std * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, x):
    return np.where(x > 0, dout, 0)


def dropout_forward(x, keep_mask, keep_prob):
    """Inverted dropout: kept units scaled by 1 / keep_prob. keep_mask (N, M) bool."""
    return x * keep_mask / keep_prob, (keep_mask, keep_prob)


def dropout_backward(dout, cache):
    keep_mask, keep_prob = cache
    return dout * keep_mask / keep_prob


def softmax_loss(scores, y):
    """Mean cross-entropy of softmax(scores) and its gradient. scores (N, C), y (N,) ints."""
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return -log_probs[np.arange(n), y].mean(), dscores / n


class NumpyNet:
    """affine -> [batch norm] -> ReLU -> [dropout] per hidden layer, affine -> softmax loss, in plain
    NumPy. Parameters are named like MLP's (W1, gamma1, beta1, ..., W{L}, b{L}): a hidden layer
    followed by batch norm has no bias, beta plays its part."""

    def __init__(self, config, dtype=np.float32, seed=0):
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.params, self.running = {}, {}
        sizes = config.sizes
        for l, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.params[f"W{l}"] = (np.sqrt(2 / d_in) * self.rng.standard_normal((d_in, d_out))).astype(dtype)
            if config.batchnorm and l < len(sizes) - 1:
                self.params[f"gamma{l}"] = np.ones(d_out, dtype)
                self.params[f"beta{l}"] = np.zeros(d_out, dtype)
                self.running[f"running_mean{l}"] = np.zeros(d_out, dtype)
                self.running[f"running_var{l}"] = np.ones(d_out, dtype)
            else:
                self.params[f"b{l}"] = np.zeros(d_out, dtype)

    def draw_masks(self, n):
        """One keep mask per hidden layer for a batch of n rows (empty without dropout)."""
        if not self.config.dropout:
            return []
        return [self.rng.random((n, h), dtype=np.float32) >= self.config.dropout
                for h in self.config.hidden_sizes]

    def loss(self, X, y, masks=None):
        """Training-mode (loss, grads) on the batch; ``masks`` fixes the dropout masks (else drawn)."""
        p, layers = self.params, len(self.config.hidden_sizes) + 1
        masks = self.draw_masks(len(X)) if masks is None else masks
        keep_prob, caches, out = 1 - self.config.dropout, [], X
        for l in range(1, layers):
            cache = {}
            out, cache["affine"] = affine_forward(out, p[f"W{l}"], p.get(f"b{l}"))
            if f"gamma{l}" in p:
                out, cache["bn"] = batchnorm_forward(out, p[f"gamma{l}"], p[f"beta{l}"],
                                                     self.running[f"running_mean{l}"], self.running[f"running_var{l}"])
            out, cache["relu"] = relu_forward(out)
            if masks:
                out, cache["dropout"] = dropout_forward(out, masks[l - 1], keep_prob)
            caches.append(cache)
        scores, last_cache = affine_forward(out, p[f"W{layers}"], p[f"b{layers}"])
        loss, dout = softmax_loss(scores, y)

        grads = {}
        dout, grads[f"W{layers}"], grads[f"b{layers}"] = affine_backward(dout, last_cache)
        for l in range(layers - 1, 0, -1):
            cache = caches[l - 1]
            if "dropout" in cache:
                dout = dropout_backward(dout, cache["dropout"])
            dout = relu_backward(dout, cache["relu"])
            if "bn" in cache:
                dout, grads[f"gamma{l}"], grads[f"beta{l}"] = batchnorm_backward(dout, cache["bn"])
            dout, grads[f"W{l}"], db = affine_backward(dout, cache["affine"], input_grad=l > 1)
            if f"b{l}" in p:
                grads[f"b{l}"] = db
        return loss, grads


class NumpyAdam:
    """torch.optim.Adam (= CS231n's adam) per parameter array, state updated in place:
    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  p <- p - lr m_hat / (sqrt(v_hat) + eps)."""

    def __init__(self, params, lr=LR, betas=BETAS, eps=EPS):
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params, grads):
        (beta1, beta2), self.t = self.betas, self.t + 1
        # Python floats, not NumPy float64 scalars: they keep float32 arrays in float32.
        step_size, bias2 = self.lr / (1 - beta1 ** self.t), math.sqrt(1 - beta2 ** self.t)
        for name, w in params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            w -= step_size * m / (np.sqrt(v) / bias2 + self.eps)


# -- the sides: prepare(config, X, y, threads), then run_epoch(epoch) trains one epoch ---------------
