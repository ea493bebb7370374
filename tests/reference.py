"""Plain NumPy oracles for every kernel: slow, obvious, computed in the input's dtype."""
import numpy as np

MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def mix64(z):
    z = np.asarray(z, np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform(seed, index):
    index = np.asarray(index, np.uint64)
    with np.errstate(over="ignore"):
        z = mix64(np.uint64(seed) + (index + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15))
    return (z >> np.uint64(40)).astype(np.float64) / 2.0 ** 24


def derive_seed(seed, counter):
    with np.errstate(over="ignore"):
        return mix64(np.uint64(seed) ^ mix64(np.uint64(counter) + np.uint64(0x9E3779B97F4A7C15)))


def dropout_mask(shape, keep_prob, seed):
    return uniform(seed, np.arange(np.prod(shape)).reshape(shape)) < keep_prob


def affine_forward(x, W, b):
    return x @ W + b


def affine_backward(x, W, dout):
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0)


def relu_backward(dout, x):
    return dout * (x > 0)


def batchnorm_forward_train(x, gamma, beta, eps, momentum, running_mean, running_var):
    """Returns out, xhat, mean, inv_std, new running mean, new running var (torch convention)."""
    n = x.shape[0]
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    return gamma * xhat + beta, xhat, mean, inv_std, new_mean, new_var


def batchnorm_forward_eval(x, gamma, beta, eps, running_mean, running_var):
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta


def batchnorm_backward(dout, x, gamma, eps):
    """The staged computational-graph form (CS231n's batchnorm_backward), not the simplified one."""
    n = x.shape[0]
    mu = x.mean(axis=0)
    xmu = x - mu
    var = (xmu ** 2).mean(axis=0)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    divar = (dxhat * xmu).sum(axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -divar / sqrtvar ** 2
    dvar = 0.5 * dsqrtvar / sqrtvar
    dsq = np.ones_like(x) * dvar / n
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -dx1.sum(axis=0)
    dx = dx1 + np.ones_like(x) * dmu / n
    return dx, dgamma, dbeta


def softmax_loss(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = scores.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return loss, dscores / n


def svm_loss(scores, y):
    n = scores.shape[0]
    correct = scores[np.arange(n), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(n), y] = 0
    positive = (margins > 0).astype(scores.dtype)
    positive[np.arange(n), y] = -positive.sum(axis=1)
    return margins.sum() / n, positive / n


def mlp_loss(params, X, y, n_hidden, batchnorm, keep_prob, seed, l2, loss, eps=1e-5):
    """Training-mode loss of the whole network, written as plainly as the lecture writes it."""
    h = X
    for l in range(1, n_hidden + 1):
        h = h @ params[f"W{l}"] + (0 if batchnorm else params[f"b{l}"])
        if batchnorm:
            h = (h - h.mean(0)) / np.sqrt(h.var(0) + eps) * params[f"gamma{l}"] + params[f"beta{l}"]
        h = np.maximum(h, 0)
        if keep_prob < 1:
            h = h * dropout_mask(h.shape, keep_prob, derive_seed(seed, l - 1)) / keep_prob
    out = n_hidden + 1
    scores = h @ params[f"W{out}"] + params[f"b{out}"]
    data_loss = (softmax_loss if loss == "softmax" else svm_loss)(scores, y)[0]
    penalty = 0.5 * l2 * sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, out + 1))
    return data_loss + penalty
