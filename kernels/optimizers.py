"""Fused optimizer updates: one parallel per-element loop over the flat parameter, gradient and state
buffers. ``flags`` (uint8, one per element) says per element whether weight decay applies (DECAY)
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
returning (flags, g) measured 2-6x slower, as it stopped numba from vectorizing the loops.

The loops take their coefficients (``1 - beta1``, ...) as scalars of the parameters' dtype, computed
by the *_update functions below: written in a loop, ``1 - beta1`` would be an integer minus a
float32, which numba computes in float64, and the whole float32 loop with it."""
import numpy as np
from numba import njit, prange


DECAY, FROZEN = 1, 2


@njit(parallel=True, cache=True)
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


@njit(parallel=True, cache=True)
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


@njit(parallel=True, cache=True)
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


@njit(parallel=True, cache=True)
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


@njit(parallel=True, cache=True)
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
# Every optimizer is (kind, hyper, up to three state arrays). ``hyper`` holds its hyperparameters in
# float64, in the order each *_update names; ``coef`` is scratch in the parameters' dtype, through
# which each coefficient reaches the loop as a scalar of that dtype. Optimizer.step and the compiled
# training loop (training.py) both call these, so each coefficient is computed in one place.
SGD, ADAGRAD, RMSPROP, ADADELTA, ADAM = range(5)


@njit(cache=True)
def sgd_update(params, grads, momentum_buffer, unused1, unused2, flags, lr, t, hyper, coef):
    """hyper = [momentum, dampening, weight_decay, nesterov]."""
    coef[0], coef[1], coef[2], coef[3] = lr, hyper[0], 1 - hyper[1], hyper[2]
    sgd_step(params, grads, momentum_buffer, flags, coef[0], coef[1], coef[2], coef[3], hyper[3] != 0, t == 1)


@njit(cache=True)
def adagrad_update(params, grads, sum_sq, unused1, unused2, flags, lr, t, hyper, coef):
    """hyper = [lr_decay, weight_decay, eps]; the step's rate is lr / (1 + (t - 1) * lr_decay)."""
    coef[0], coef[1], coef[2] = lr / (1 + (t - 1) * hyper[0]), hyper[1], hyper[2]
    adagrad_step(params, grads, sum_sq, flags, coef[0], coef[1], coef[2])


@njit(cache=True)
def rmsprop_update(params, grads, square_avg, grad_avg, momentum_buffer, flags, lr, t, hyper, coef):
    """hyper = [alpha, eps, weight_decay, momentum, centered]."""
    coef[0], coef[1], coef[2], coef[3], coef[4], coef[5] = lr, hyper[0], 1 - hyper[0], hyper[1], hyper[2], hyper[3]
    rmsprop_step(params, grads, square_avg, grad_avg, momentum_buffer, flags, coef[0], coef[1], coef[2],
                 coef[3], coef[4], coef[5], hyper[4] != 0)


@njit(cache=True)
def adadelta_update(params, grads, square_avg, acc_delta, unused, flags, lr, t, hyper, coef):
    """hyper = [rho, eps, weight_decay]."""
    coef[0], coef[1], coef[2], coef[3], coef[4] = lr, hyper[0], 1 - hyper[0], hyper[1], hyper[2]
    adadelta_step(params, grads, square_avg, acc_delta, flags, coef[0], coef[1], coef[2], coef[3], coef[4])


@njit(cache=True)
def adam_update(params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, flags, lr, t, hyper, coef):
    """hyper = [beta1, beta2, eps, weight_decay, amsgrad, decoupled]; bias corrections of step t."""
    beta1, beta2 = hyper[0], hyper[1]
    coef[0] = lr / (1 - beta1 ** t)
    coef[1] = np.sqrt(1 - beta2 ** t)
    coef[2] = 1 - lr * hyper[3]
    coef[3], coef[4], coef[5], coef[6], coef[7], coef[8] = beta1, 1 - beta1, beta2, 1 - beta2, hyper[2], hyper[3]
    adam_step(params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, flags, coef[0], coef[3], coef[4], coef[5],
              coef[6], coef[7], coef[8], coef[2], hyper[5] != 0, hyper[4] != 0, coef[1])


@njit(cache=True)
def optimizer_update(kind, params, grads, s0, s1, s2, flags, lr, t, hyper, coef):
    """The update of optimizer ``kind`` (SGD, ADAGRAD, ...) at step t = 1, 2, ..."""
    if kind == SGD:
        sgd_update(params, grads, s0, s1, s2, flags, lr, t, hyper, coef)
    elif kind == ADAGRAD:
        adagrad_update(params, grads, s0, s1, s2, flags, lr, t, hyper, coef)
    elif kind == RMSPROP:
        rmsprop_update(params, grads, s0, s1, s2, flags, lr, t, hyper, coef)
    elif kind == ADADELTA:
        adadelta_update(params, grads, s0, s1, s2, flags, lr, t, hyper, coef)
    else:
        adam_update(params, grads, s0, s1, s2, flags, lr, t, hyper, coef)
