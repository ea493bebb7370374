"""Plain NumPy oracles for every kernel: slow, obvious, computed in the input's dtype."""
import numpy as np

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


ACTIVATIONS = {
    "relu": (lambda x, a: np.maximum(x, 0), lambda x, a: (x > 0) * 1.0),
    "leaky_relu": (lambda x, a: np.where(x > 0, x, a * x), lambda x, a: np.where(x > 0, 1.0, a)),
    "elu": (lambda x, a: np.where(x > 0, x, a * np.expm1(x)), lambda x, a: np.where(x > 0, 1.0, a * np.exp(x))),
    "tanh": (lambda x, a: np.tanh(x), lambda x, a: 1 - np.tanh(x) ** 2),
    "sigmoid": (lambda x, a: 1 / (1 + np.exp(-x)), lambda x, a: np.exp(-x) / (1 + np.exp(-x)) ** 2),
}


def activation(name, x, alpha, dout):
    """(f(x), dout * f'(x)) written from the input, as the lecture writes them."""
    f, df = ACTIVATIONS[name]
    return f(x, alpha), dout * df(x, alpha)


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


def layernorm_reference(x, gamma, beta, eps, dout):
    """Layer norm written as the lecture derives it (staged graph, per row), in x's dtype."""
    mu = x.mean(axis=1, keepdims=True)
    xmu = x - mu
    var = (xmu ** 2).mean(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = xmu * inv_std
    out = gamma * xhat + beta
    d = x.shape[1]
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xmu, axis=1, keepdims=True) * -0.5 * inv_std ** 3
    dmu = -np.sum(dxhat * inv_std, axis=1, keepdims=True) - 2 * dvar * xmu.mean(axis=1, keepdims=True)
    dx = dxhat * inv_std + dvar * 2 * xmu / d + dmu / d
    return out, xhat, mu[:, 0], inv_std[:, 0], dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


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


def mse_loss(scores, targets):
    """torch.nn.MSELoss: the mean over every element of (s - t)**2."""
    difference = scores - targets
    return np.mean(difference ** 2), 2 * difference / difference.size


LOSSES = {"softmax": softmax_loss, "svm": svm_loss, "mse": mse_loss}


def mlp_loss(params, X, y, n_hidden, batchnorm, keep_prob, seed, l2, loss, eps=1e-5, l1=0.0, activation="relu",
             alpha=0.0, dropout_mode="inverted"):
    """Training-mode loss of the whole network, written as plainly as the lecture writes it."""
    h = X
    for l in range(1, n_hidden + 1):
        h = h @ params[f"W{l}"] + (0 if batchnorm else params[f"b{l}"])
        if batchnorm:
            h = (h - h.mean(0)) / np.sqrt(h.var(0) + eps) * params[f"gamma{l}"] + params[f"beta{l}"]
        h = ACTIVATIONS[activation][0](h, alpha)
        if keep_prob < 1:
            h = h * dropout_mask(h.shape, keep_prob, derive_seed(seed, l - 1))
            h = h if dropout_mode == "classic" else h / keep_prob  # classic scales at test time instead
    out = n_hidden + 1
    scores = h @ params[f"W{out}"] + params[f"b{out}"]
    data_loss = LOSSES[loss](scores, y)[0]
    penalty = sum(l1 * np.abs(params[f"W{l}"]).sum() + 0.5 * l2 * np.sum(params[f"W{l}"] ** 2)
                  for l in range(1, out + 1))
    return data_loss + penalty


def mlp_layers(params, X, y, n_hidden, batchnorm, keep_prob, seed, l2, loss="softmax", eps=1e-5, activation="relu",
               alpha=0.0):
    """A training-mode pass written as the lecture writes it, in X's dtype: each hidden layer's output
    (after the activation, before dropout), each layer's data-loss gradient at its affine output
    z = xW + b, and each weight matrix's gradient with the L2 term."""
    f, df = ACTIVATIONS[activation]
    h, inputs, outputs, caches = X, [], [], []
    for l in range(1, n_hidden + 1):
        inputs.append(h)
        z = h @ params[f"W{l}"] + (0 if batchnorm else params[f"b{l}"])
        u = ((z - z.mean(0)) / np.sqrt(z.var(0) + eps) * params[f"gamma{l}"] + params[f"beta{l}"] if batchnorm
             else z)
        a = f(u, alpha)
        outputs.append(a)
        mask = dropout_mask(a.shape, keep_prob, derive_seed(seed, l - 1)) / keep_prob if keep_prob < 1 else 1
        caches.append((z, u, mask))
        h = a * mask
    inputs.append(h)
    out = n_hidden + 1
    scores = h @ params[f"W{out}"] + params[f"b{out}"]
    dz = LOSSES[loss](scores, y)[1]
    loss_grads = [dz]
    for l in range(n_hidden, 0, -1):
        z, u, mask = caches[l - 1]
        du = (dz @ params[f"W{l + 1}"].T) * mask * df(u, alpha)
        dz = batchnorm_backward(du, z, params[f"gamma{l}"], eps)[0] if batchnorm else du
        loss_grads.insert(0, dz)
    weight_grads = [inputs[l].T @ loss_grads[l] + l2 * params[f"W{l + 1}"] for l in range(out)]
    return outputs, loss_grads, weight_grads


# -- optimizers: torch.optim's documented algorithms, one step per call, in float64 -----------------

def optimizer_reference(name, p, grads, lr, decay=None, **h):
    """Runs the optimizer ``name`` over ``grads`` from ``p``; returns the final parameters."""
    p = p.astype(np.float64).copy()
    decay = np.ones_like(p) if decay is None else decay.astype(np.float64)
    state = {}
    zeros = lambda: np.zeros_like(p)  # noqa: E731
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        wd = h.get("weight_decay", 0.01 if name == "adamw" else 0.0) * decay
        if name == "adamw":
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        if name == "sgd":
            mu, damp = h.get("momentum", 0.0), h.get("dampening", 0.0)
            if mu:
                state["b"] = g.copy() if t == 1 else mu * state["b"] + (1 - damp) * g
                g = g + mu * state["b"] if h.get("nesterov") else state["b"]
            p = p - lr * g
        elif name == "adagrad":
            state.setdefault("s", np.full_like(p, h.get("initial_accumulator_value", 0.0)))
            state["s"] = state["s"] + g * g
            clr = lr / (1 + (t - 1) * h.get("lr_decay", 0.0))
            p = p - clr * g / (np.sqrt(state["s"]) + h.get("eps", 1e-10))
        elif name == "rmsprop":
            alpha, eps, mu = h.get("alpha", 0.99), h.get("eps", 1e-8), h.get("momentum", 0.0)
            state["v"] = alpha * state.get("v", zeros()) + (1 - alpha) * g * g
            v = state["v"]
            if h.get("centered"):
                state["a"] = alpha * state.get("a", zeros()) + (1 - alpha) * g
                v = v - state["a"] ** 2
            step = g / (np.sqrt(v) + eps)
            if mu:
                state["b"] = mu * state.get("b", zeros()) + step
                step = state["b"]
            p = p - lr * step
        elif name == "adadelta":
            rho, eps = h.get("rho", 0.9), h.get("eps", 1e-6)
            state["v"] = rho * state.get("v", zeros()) + (1 - rho) * g * g
            d = np.sqrt(state.get("u", zeros()) + eps) / np.sqrt(state["v"] + eps) * g
            state["u"] = rho * state.get("u", zeros()) + (1 - rho) * d * d
            p = p - lr * d
        elif name in ("adam", "adamw"):
            beta1, beta2 = h.get("betas", (0.9, 0.999))
            state["m"] = beta1 * state.get("m", zeros()) + (1 - beta1) * g
            state["v"] = beta2 * state.get("v", zeros()) + (1 - beta2) * g * g
            v = state["v"]
            if h.get("amsgrad"):
                state["vmax"] = np.maximum(state.get("vmax", zeros()), v)
                v = state["vmax"]
            m_hat, v_hat = state["m"] / (1 - beta1 ** t), v / (1 - beta2 ** t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + h.get("eps", 1e-8))
        else:
            raise ValueError(name)
    return p
