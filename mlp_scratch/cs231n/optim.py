"""CS231n's ``optim.py``: first-order update rules in the course's functional form,

    next_w, config = update(w, dw, config)

with the course's config keys and defaults. Each is a thin adapter over one optimizer class of
``mlp_scratch.optim`` (one compiled kernel, one formula): it builds the optimizer from the config,
hands it the state converted from the course's keys, takes one step, and converts the state back.
``config`` is updated in place and returned; ``w`` is not modified (the course's ``sgd`` updates w
in place; here every rule returns a new array).

Conventions converted here:
- momentum: the course keeps the velocity ``v = mu * v - lr * dw; w = w + v``; our (torch's) SGD
  keeps ``b = mu * b + dw; w = w - lr * b``, the same rule with v = -lr * b. The adapter sets
  b = -v / lr before the step and v = -lr * b after it, with the current learning rate, so it is
  the course's rule even when the learning rate decays between steps.
- Adam: the course's ``t`` counts finished steps and is incremented before use; ours (``steps``)
  is the same count, and our kernel uses steps + 1 in the step. The bias-corrected forms
  ``lr * m / (1 - beta1**t) / (sqrt(v / (1 - beta2**t)) + eps)`` (course) and
  ``lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)`` (ours) are the same.
- rmsprop: the course's ``cache`` is our ``square_avg``, ``decay_rate`` our ``alpha``; the rule is
  the same (eps outside the square root).

Beyond the course: ``adagrad``, ``adadelta``, ``adamw`` and ``nesterov_momentum`` (also as
``nesterov``) expose the package's other optimizers with course-style keys.
"""
import numpy as np

from mlp_scratch.optim import SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop

__all__ = ["sgd", "sgd_momentum", "nesterov_momentum", "nesterov", "rmsprop", "adam", "adamw", "adagrad", "adadelta"]


def _step(optimizer, w, dw, state, steps):
    """One step of ``optimizer`` from ``w``: our state arrays (shaped like w) and step count in,
    (next_w, new state shaped like w) out. Neither w nor the given state arrays are modified."""
    next_w = np.array(w, dtype=np.result_type(w, np.float32), order="C")
    dtype = next_w.dtype
    flat = next_w.reshape(-1)
    grads = np.ascontiguousarray(dw, dtype=dtype).reshape(-1)
    if grads.size != flat.size:
        raise ValueError(f"dw must have the shape of w {np.shape(w)}, got {np.shape(dw)}")
    optimizer.state = {}
    for name, array in state.items():
        array = np.array(array, dtype=dtype, order="C")
        if array.size != flat.size:
            raise ValueError(f"config state for {name!r} must have the shape of w {np.shape(w)}, got {array.shape}")
        optimizer.state[name] = array.reshape(-1)
    optimizer.steps = steps
    optimizer.step(flat, grads)
    return next_w, {name: array.reshape(next_w.shape) for name, array in optimizer.state.items()}


def sgd(w, dw, config=None):
    """Performs vanilla stochastic gradient descent: w = w - learning_rate * dw.

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w, _ = _step(SGD(lr=config["learning_rate"]), w, dw, {}, 0)
    return next_w, config


def _momentum(w, dw, config, nesterov):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    lr, mu = config["learning_rate"], config["momentum"]
    v = config.get("velocity", np.zeros_like(w))
    if mu == 0:  # plain SGD: no buffer; the velocity is the step taken
        next_w, _ = _step(SGD(lr=lr), w, dw, {}, 0)
        config["velocity"] = next_w - w
        return next_w, config
    # steps=1: the buffer given is used (b = mu * b + dw) rather than replaced by dw as on a first
    # step; with v = 0 both are the same.
    optimizer = SGD(lr=lr, momentum=mu, nesterov=nesterov)
    next_w, state = _step(optimizer, w, dw, {"momentum_buffer": np.asarray(v) / -lr}, 1)
    config["velocity"] = -lr * state["momentum_buffer"]
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """Performs stochastic gradient descent with momentum:

        v = momentum * v - learning_rate * dw;   next_w = w + v

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    - momentum: Scalar between 0 and 1 giving the momentum value (default 0.9).
      Setting momentum = 0 reduces to sgd.
    - velocity: A numpy array of the same shape as w and dw used to store a
      moving average of the gradients (default zeros).

    Our SGD(momentum=mu) with its buffer b = -velocity / learning_rate (see the module docstring).
    """
    return _momentum(w, dw, config, nesterov=False)


def nesterov_momentum(w, dw, config=None):
    """Nesterov momentum in the lecture notes' form, keys as sgd_momentum:

        v_prev = v;   v = momentum * v - learning_rate * dw;   next_w = w - momentum * v_prev + (1 + momentum) * v

    which equals our (torch's) SGD(nesterov=True), b = mu * b + dw; w = w - lr * (dw + mu * b),
    with b = -v / learning_rate.
    """
    return _momentum(w, dw, config, nesterov=True)


nesterov = nesterov_momentum


def rmsprop(w, dw, config=None):
    """Uses the RMSProp update rule, which uses a moving average of squared
    gradient values to set adaptive per-parameter learning rates:

        cache = decay_rate * cache + (1 - decay_rate) * dw**2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    - decay_rate: Scalar between 0 and 1 giving the decay rate for the squared
      gradient cache (default 0.99).
    - epsilon: Small scalar used for smoothing to avoid dividing by zero (default 1e-8).
    - cache: Moving average of second moments of gradients (default zeros).

    Our RMSprop(alpha=decay_rate, eps=epsilon) with square_avg = cache.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    optimizer = RMSprop(lr=config["learning_rate"], alpha=config["decay_rate"], eps=config["epsilon"])
    next_w, state = _step(optimizer, w, dw, {"square_avg": config["cache"]}, 1)
    config["cache"] = state["square_avg"]
    return next_w, config


def _adam_defaults(w, config):
    """The course's adam defaults, shared by adam and adamw."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    return config


def _adam(cls, w, dw, config, **extra):
    optimizer = cls(lr=config["learning_rate"], betas=(config["beta1"], config["beta2"]),
                    eps=config["epsilon"], **extra)
    next_w, state = _step(optimizer, w, dw, {"exp_avg": config["m"], "exp_avg_sq": config["v"]},
                          int(config["t"]))
    config["m"], config["v"], config["t"] = state["exp_avg"], state["exp_avg_sq"], optimizer.steps
    return next_w, config


def adam(w, dw, config=None):
    """Uses the Adam update rule, which incorporates moving averages of both the
    gradient and its square and a bias correction term:

        t = t + 1
        m = beta1 * m + (1 - beta1) * dw;   mt = m / (1 - beta1**t)
        v = beta2 * v + (1 - beta2) * dw**2;   vt = v / (1 - beta2**t)
        next_w = w - learning_rate * mt / (sqrt(vt) + epsilon)

    config format:
    - learning_rate: Scalar learning rate (default 1e-3).
    - beta1: Decay rate for moving average of first moment of gradient (default 0.9).
    - beta2: Decay rate for moving average of second moment of gradient (default 0.999).
    - epsilon: Small scalar used for smoothing to avoid dividing by zero (default 1e-8).
    - m: Moving average of gradient (default zeros).
    - v: Moving average of squared gradient (default zeros).
    - t: Iteration number (default 0).

    Our Adam(betas=(beta1, beta2), eps=epsilon) with exp_avg = m, exp_avg_sq = v, steps = t.
    """
    return _adam(Adam, w, dw, _adam_defaults(w, config))


def adamw(w, dw, config=None):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019; torch.optim.AdamW):
    w = w * (1 - learning_rate * weight_decay), then the Adam step on the raw gradient.
    Keys as adam, plus weight_decay (default 1e-2). Applies to every array it is given (Solver
    passes biases, gamma and beta too; our Trainer decays weight matrices only)."""
    config = _adam_defaults(w, config)
    config.setdefault("weight_decay", 1e-2)
    return _adam(AdamW, w, dw, config, weight_decay=config["weight_decay"])


def adagrad(w, dw, config=None):
    """Adagrad (torch.optim.Adagrad):

        cache = cache + dw**2;   next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    config format: learning_rate (default 1e-2), epsilon (default 1e-10, torch's; the lecture
    notes write 1e-7), cache (sum of squared gradients, default zeros).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-10)
    config.setdefault("cache", np.zeros_like(w))
    optimizer = Adagrad(lr=config["learning_rate"], eps=config["epsilon"])
    next_w, state = _step(optimizer, w, dw, {"sum": config["cache"]}, 1)
    config["cache"] = state["sum"]
    return next_w, config


def adadelta(w, dw, config=None):
    """Adadelta (Zeiler 2012; torch.optim.Adadelta):

        cache = rho * cache + (1 - rho) * dw**2
        delta = sqrt(delta_cache + epsilon) / sqrt(cache + epsilon) * dw
        delta_cache = rho * delta_cache + (1 - rho) * delta**2;   next_w = w - learning_rate * delta

    config format: learning_rate (default 1.0), rho (default 0.9), epsilon (default 1e-6),
    cache and delta_cache (default zeros).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1.0)
    config.setdefault("rho", 0.9)
    config.setdefault("epsilon", 1e-6)
    config.setdefault("cache", np.zeros_like(w))
    config.setdefault("delta_cache", np.zeros_like(w))
    optimizer = Adadelta(lr=config["learning_rate"], rho=config["rho"], eps=config["epsilon"])
    next_w, state = _step(optimizer, w, dw, {"square_avg": config["cache"], "acc_delta": config["delta_cache"]}, 1)
    config["cache"], config["delta_cache"] = state["square_avg"], state["acc_delta"]
    return next_w, config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "nesterov_momentum": nesterov_momentum,
                "nesterov": nesterov, "rmsprop": rmsprop, "adam": adam, "adamw": adamw, "adagrad": adagrad,
                "adadelta": adadelta}
