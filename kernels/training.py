"""Compiled mini-batch training: a run of steps (gather the batch, [augment], forward/backward,
optimizer update) with no Python between steps. The trainer calls it on chunks of an epoch."""
import numpy as np
from numba import njit, prange

from .augment import augment_images
from .config import FASTMATH
from .network import forward_backward
from .optimizers import optimizer_update
from .random import derive_seed


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def gather_rows(X, y, idx, X_out, y_out):
    """X_out[k] = X[idx[k]], y_out[k] = y[idx[k]]: the mini-batch, row-parallel."""
    for k in prange(idx.shape[0]):
        y_out[k] = y[idx[k]]
        for j in range(X.shape[1]):
            X_out[k, j] = X[idx[k], j]


@njit(cache=True)
def train_steps(X, y, order, bounds, first, count, X_batch, y_batch,
                augment, image_shape, max_shift, flip, noise_std, warp, jitter, augment_seed, X_augmented,
                params, grads, running, stats, acts, grad_a, grad_b, scores, dscores, row_loss, l2_rows,
                layout, act_alpha, loss_kind, l1, l2, keep_prob, bn_momentum, bn_eps, seed,
                kind, s0, s1, s2, flags, hyper, coef, lrs, step, optimizer_step, losses):
    """Trains on batches first, ..., first + count - 1 of an epoch: batch b holds the samples
    order[bounds[b]:bounds[b + 1]]. ``step`` is the run's step count before the first of them
    (it seeds dropout and augmentation), ``optimizer_step`` the optimizer's. Writes each step's loss
    to ``losses`` and returns the number of steps taken: fewer than count when a loss is not finite,
    in which case that step's update is skipped.
    """
    for k in range(count):
        start, stop = bounds[first + k], bounds[first + k + 1]
        n = stop - start
        xb, yb = X_batch[:n], y_batch[:n]
        gather_rows(X, y, order[start:stop], xb, yb)
        if augment:
            step_seed = derive_seed(augment_seed, step + k)
            augment_images(xb, X_augmented[:n], image_shape[0], image_shape[1], image_shape[2], max_shift,
                           flip, noise_std, warp, jitter, step_seed, derive_seed(step_seed, 1))
            xb = X_augmented[:n]
        data_loss, penalty = forward_backward(xb, yb, params, grads, running, stats, acts, grad_a, grad_b,
                                              scores, dscores, row_loss, l2_rows, layout, act_alpha, loss_kind, l1, l2,
                                              keep_prob, bn_momentum, bn_eps, derive_seed(seed, step + k))
        losses[k] = data_loss + penalty
        if not np.isfinite(losses[k]):
            return k
        optimizer_update(kind, params, grads, s0, s1, s2, flags, lrs[k], optimizer_step + k + 1, hyper, coef)
    return count
