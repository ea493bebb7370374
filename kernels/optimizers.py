"""Fused optimizer updates: one parallel per-element loop over the flat parameter, gradient and state
buffers. ``flags`` (uint8, one per element, or empty for "all ones") says per element whether weight
decay applies (DECAY) and whether the element is frozen (FROZEN: neither it nor its state moves)."""
from numba import njit, prange

from .config import FASTMATH

DECAY, FROZEN = 1, 2


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def sgd_step(params, grads, momentum_buffer, flags, lr, momentum, dampening, weight_decay,
             nesterov, first_step):
    """torch.optim.SGD, element by element:

        g <- g + weight_decay * p                      (where DECAY)
        b <- g  on the first step, else  momentum * b + (1 - dampening) * g     (if momentum != 0)
        g <- g + momentum * b  if nesterov, else  b
        p <- p - lr * g
    """
    for i in prange(params.shape[0]):
        f = flags[i] if flags.shape[0] > 0 else DECAY
        if f & FROZEN:
            continue
        g = grads[i]
        if f & DECAY:
            g += weight_decay * params[i]
        if momentum != 0:
            b = g if first_step else momentum * momentum_buffer[i] + (1 - dampening) * g
            momentum_buffer[i] = b
            g = g + momentum * b if nesterov else b
        params[i] -= lr * g
