"""Fused optimizer updates: one per-element loop over the flat parameter, gradient and state buffers,
a config.kernel: parallel on the kernel threads, a plain loop on one (64-64-64-10's Adam update,
9,098 float32 parameters: 4.5 against 5.8 us as a parallel loop on one thread, to the same bits).
``flags`` (uint8, one per element) says per element whether weight decay applies (DECAY)
and whether the element is frozen (FROZEN: neither it nor its state moves); None means DECAY
everywhere. None is a type of its own to numba, so that case compiles to a loop with no flag tests
at all and runs at the speed of memory (Adam, float32, 1 thread, against an empty array tested at
every element: 670,000 parameters 793 -> 585 us, 79,510 parameters 100 -> 72 us). The array case
compiles only when masks are set.

The loops are compiled without fastmath flags, in IEEE arithmetic: with config.FASTMATH, numba's
cached code rounded differently from the same code freshly compiled (the cache drops "nsz" and
"contract"), so the first run after an install or a kernel edit trained to other last bits than the
runs after it (6 of 9 optimizer settings; tests/test_determinism.py). It costs the Adam loop about
10% (79,510 float32 parameters, 1 thread: 68 -> 78 us).

Each loop spells out its masked, decayed gradient (the same five lines): a shared inline helper
returning (flags, g) measured 2-6x slower, as it stopped numba from vectorizing the loops. For the
same reason they compile at LLVM's level 3, not the package's 2: only there does LLVM move their
options' branches (decay, amsgrad, ...) out of the loop and vectorize it (Adam over 670,000 float32
parameters, 1 thread: 530 us at 2, 400 us at 3).

The loops take their coefficients (``1 - beta1``, ...) as scalars of the parameters' dtype, computed
by the *_update functions below: written in a loop, ``1 - beta1`` would be an integer minus a
float32, which numba computes in float64, and the whole float32 loop with it.

What an update needs besides the parameters, gradients and learning rate crosses into compiled code
as one ``OptimizerState``, built by the optimizer (mlp_scratch/optim.py): its rule's hyperparameters
(whose structure names the rule), its state arrays by name, its masks and its step count, which the
update advances."""
from typing import NamedTuple, Optional

import numpy as np
from numba import prange
from numba.extending import overload

from ..config import kernel, njit
from .layout import disowned

DECAY, FROZEN = 1, 2


@kernel(fastmath=False, level=3)
def sgd_step(params, grads, momentum_buffer, flags, lr, momentum, one_minus_dampening, weight_decay,
             nesterov, first_step):
    """torch.optim.SGD, element by element:

        g <- g + weight_decay * p                      (where DECAY)
        b <- g  on the first step, else  momentum * b + (1 - dampening) * g     (if momentum != 0)
        g <- g + momentum * b  if nesterov, else  b
        p <- p - lr * g
    """
    for i in prange(params.shape[0]):
        f = DECAY if flags is None else flags[i]
        if f & FROZEN:
            continue
        g = grads[i]
        if f & DECAY:
            g += weight_decay * params[i]
        if momentum != 0:
            b = g if first_step else momentum * momentum_buffer[i] + one_minus_dampening * g
            momentum_buffer[i] = b
            g = g + momentum * b if nesterov else b
        params[i] -= lr * g


@kernel(fastmath=False, level=3)
def adagrad_step(params, grads, sum_sq, flags, lr, weight_decay, eps):
    """torch.optim.Adagrad (lr already decayed by the caller):

        g <- g + weight_decay * p;   s <- s + g**2;   p <- p - lr * g / (sqrt(s) + eps)
    """
    for i in prange(params.shape[0]):
        f = DECAY if flags is None else flags[i]
        if f & FROZEN:
            continue
        g = grads[i]
        if f & DECAY:
            g += weight_decay * params[i]
        s = sum_sq[i] + g * g
        sum_sq[i] = s
        params[i] -= lr * g / (np.sqrt(s) + eps)


@kernel(fastmath=False, level=3)
def rmsprop_step(params, grads, square_avg, grad_avg, momentum_buffer, flags, lr, alpha, one_minus_alpha,
                 eps, weight_decay, momentum, centered):
    """torch.optim.RMSprop:

        g <- g + weight_decay * p;   v <- alpha * v + (1 - alpha) * g**2
        centered:  a <- alpha * a + (1 - alpha) * g;   denom = sqrt(max(v - a**2, 0)) + eps
        else:      denom = sqrt(v) + eps
        momentum > 0:  b <- momentum * b + g / denom;   p <- p - lr * b
        else:          p <- p - lr * g / denom
    """
    zero = params.dtype.type(0)  # a float64 0 here would turn the float32 loop into float64
    for i in prange(params.shape[0]):
        f = DECAY if flags is None else flags[i]
        if f & FROZEN:
            continue
        g = grads[i]
        if f & DECAY:
            g += weight_decay * params[i]
        v = alpha * square_avg[i] + one_minus_alpha * g * g
        square_avg[i] = v
        if centered:
            a = alpha * grad_avg[i] + one_minus_alpha * g
            grad_avg[i] = a
            # v - a**2 is a variance, >= 0 in exact arithmetic; rounding can push it below 0.
            denom = np.sqrt(max(v - a * a, zero)) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            b = momentum * momentum_buffer[i] + g / denom
            momentum_buffer[i] = b
            params[i] -= lr * b
        else:
            params[i] -= lr * g / denom


@kernel(fastmath=False, level=3)
def adadelta_step(params, grads, square_avg, acc_delta, flags, lr, rho, one_minus_rho, eps, weight_decay):
    """torch.optim.Adadelta:

        g <- g + weight_decay * p;   v <- rho * v + (1 - rho) * g**2
        d = sqrt(u + eps) / sqrt(v + eps) * g;   u <- rho * u + (1 - rho) * d**2;   p <- p - lr * d
    """
    for i in prange(params.shape[0]):
        f = DECAY if flags is None else flags[i]
        if f & FROZEN:
            continue
        g = grads[i]
        if f & DECAY:
            g += weight_decay * params[i]
        v = rho * square_avg[i] + one_minus_rho * g * g
        square_avg[i] = v
        d = np.sqrt(acc_delta[i] + eps) / np.sqrt(v + eps) * g
        acc_delta[i] = rho * acc_delta[i] + one_minus_rho * d * d
        params[i] -= lr * d


@kernel(fastmath=False, level=3)
def adam_step(params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, flags, step_size, beta1, one_minus_beta1,
              beta2, one_minus_beta2, eps, weight_decay, decay_factor, decoupled, amsgrad, bias_correction2_sqrt):
    """torch.optim.Adam (decoupled=False) and torch.optim.AdamW (decoupled=True), step t:

        Adam:   g <- g + weight_decay * p          AdamW:   p <- p * (1 - lr * weight_decay)
        m <- beta1 * m + (1 - beta1) * g;   v <- beta2 * v + (1 - beta2) * g**2
        amsgrad:  vmax <- max(vmax, v) and vmax replaces v below
        p <- p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    The caller passes step_size = lr / (1 - beta1**t), bias_correction2_sqrt = sqrt(1 - beta2**t)
    and decay_factor = 1 - lr * weight_decay.
    """
    for i in prange(params.shape[0]):
        f = DECAY if flags is None else flags[i]
        if f & FROZEN:
            continue
        g = grads[i]
        if f & DECAY:
            if decoupled:
                params[i] *= decay_factor
            else:
                g += weight_decay * params[i]
        m = beta1 * exp_avg[i] + one_minus_beta1 * g
        v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = max(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = v
        params[i] -= step_size * m / (np.sqrt(v) / bias_correction2_sqrt + eps)


# -- one update per optimizer: per-step coefficients, then its loop ------------------------------
# Each rule's hyperparameters are a structure of their own, and its class is the rule: numba types a
# structure by its class, so a training loop compiles the one update its optimizer uses (``update``
# below), not all five (a first run's compile: about 1.5 s less for each rule left out).

class SGDHyper(NamedTuple):
    momentum: float
    dampening: float
    weight_decay: float
    nesterov: bool


class AdagradHyper(NamedTuple):
    lr_decay: float
    weight_decay: float
    eps: float


class RMSpropHyper(NamedTuple):
    alpha: float
    eps: float
    weight_decay: float
    momentum: float
    centered: bool


class AdadeltaHyper(NamedTuple):
    rho: float
    eps: float
    weight_decay: float


class AdamHyper(NamedTuple):
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    amsgrad: bool
    decoupled: bool


class Buffers(NamedTuple):
    """Every rule's state arrays by name (torch.optim's names), laid out like the parameters; empty
    where the rule keeps no such state."""
    momentum_buffer: np.ndarray
    sum: np.ndarray
    square_avg: np.ndarray
    grad_avg: np.ndarray
    acc_delta: np.ndarray
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    max_exp_avg_sq: np.ndarray


class OptimizerState(NamedTuple):
    hyper: NamedTuple            # one of the *Hyper structures above: the rule and its hyperparameters
    buffers: Buffers
    flags: Optional[np.ndarray]  # uint8 per element (DECAY, FROZEN), or None: DECAY everywhere
    steps: np.ndarray            # int64 (1,): steps taken; step t = steps[0] + 1 updates and advances it


def sgd_update(h, params, grads, opt, lr, t):
    cast = params.dtype.type
    sgd_step(params, grads, opt.buffers.momentum_buffer, opt.flags, cast(lr), cast(h.momentum),
             cast(1 - h.dampening), cast(h.weight_decay), h.nesterov, t == 1)


def adagrad_update(h, params, grads, opt, lr, t):
    """The step's rate is lr / (1 + (t - 1) * lr_decay)."""
    cast = params.dtype.type
    adagrad_step(params, grads, opt.buffers.sum, opt.flags, cast(lr / (1 + (t - 1) * h.lr_decay)),
                 cast(h.weight_decay), cast(h.eps))


def rmsprop_update(h, params, grads, opt, lr, t):
    b, cast = opt.buffers, params.dtype.type
    rmsprop_step(params, grads, b.square_avg, b.grad_avg, b.momentum_buffer, opt.flags, cast(lr), cast(h.alpha),
                 cast(1 - h.alpha), cast(h.eps), cast(h.weight_decay), cast(h.momentum), h.centered)


def adadelta_update(h, params, grads, opt, lr, t):
    b, cast = opt.buffers, params.dtype.type
    adadelta_step(params, grads, b.square_avg, b.acc_delta, opt.flags, cast(lr), cast(h.rho), cast(1 - h.rho),
                  cast(h.eps), cast(h.weight_decay))


def adam_update(h, params, grads, opt, lr, t):
    """Bias corrections of step t."""
    b, cast = opt.buffers, params.dtype.type
    adam_step(params, grads, b.exp_avg, b.exp_avg_sq, b.max_exp_avg_sq, opt.flags, cast(lr / (1 - h.beta1 ** t)),
              cast(h.beta1), cast(1 - h.beta1), cast(h.beta2), cast(1 - h.beta2), cast(h.eps), cast(h.weight_decay),
              cast(1 - lr * h.weight_decay), h.decoupled, h.amsgrad, cast(np.sqrt(1 - h.beta2 ** t)))


UPDATES = {SGDHyper: sgd_update, AdagradHyper: adagrad_update, RMSpropHyper: rmsprop_update,
           AdadeltaHyper: adadelta_update, AdamHyper: adam_update}


def update(h, params, grads, opt, lr, t):
    """Step t of the rule whose hyperparameters are ``h``."""
    return UPDATES[type(h)](h, params, grads, opt, lr, t)


@overload(update)
def _compiled_update(h, params, grads, opt, lr, t):
    return UPDATES[h.instance_class]  # chosen while typing: the other rules are never compiled


@njit(cache=True)
def optimizer_update(params, grads, opt, lr):
    """One step of ``opt``'s rule at learning rate lr: step t = opt.steps[0] + 1, which it counts."""
    opt = disowned(opt)  # see layout.disowned
    t = opt.steps[0] + 1
    update(opt.hyper, params, grads, opt, lr, t)
    opt.steps[0] = t
