"""Compiled mini-batch training: a run of steps (gather the batch, [augment], forward/backward,
optimizer update) with no Python between steps. The trainer calls it on chunks of an epoch."""
from typing import NamedTuple

import numpy as np
from numba import prange

from ..config import kernel, njit
from ..random import derive_seed
from .augment import augment_images
from .diagnostics import close_record, observe_activations, observe_weights, sampled_step
from .layout import disowned, layer
from .network import Workspace, forward_backward
from .optimizers import optimizer_update


class Batches(NamedTuple):
    """An epoch's mini-batches: batch b holds the samples order[bounds[b]:bounds[b + 1]] of (X, y).
    Built by the trainer's EpochRunner, with buffers for the largest batch."""
    X: np.ndarray
    y: np.ndarray
    order: np.ndarray
    bounds: np.ndarray
    X_batch: np.ndarray
    y_batch: np.ndarray
    X_augmented: np.ndarray


class Steps(NamedTuple):
    """A chunk of an epoch's steps: batches first, ..., first + count - 1."""
    first: int
    count: int
    step: int            # the run's step count before the first of them: it seeds dropout and augmentation
    seed: np.uint64      # the run's seed
    augment_seed: np.uint64
    lrs: np.ndarray      # float64, each step's learning rate
    losses: np.ndarray   # float64, written: each step's loss


@kernel
def gather_rows(X_out, y_out, X, y, idx):
    """X_out[k] = X[idx[k]], y_out[k] = y[idx[k]]: the mini-batch, row-parallel."""
    for k in prange(idx.shape[0]):
        y_out[k] = y[idx[k]]
        for j in range(X.shape[1]):
            X_out[k, j] = X[idx[k], j]


@njit(cache=True)
def train_steps(batches, augment, net, work, opt, steps, probe):
    """Trains on the chunk ``steps`` of ``batches``, augmented by ``augment`` unless it is None, with
    the network ``net`` (kernels/training/network.py), its workspace and the optimizer ``opt``
    (kernels/training/optimizers.py), watched by the diagnostics' ``probe``
    (kernels/training/diagnostics.py) unless it is None.
    Writes each step's loss and returns the number of steps taken: fewer than steps.count when a loss
    is not finite, in which case that step's update is skipped.

    None is a type of its own to numba: without a probe or an augmentation, the branches that read
    it are pruned before compiling, and so are the diagnostics' kernels (9 s of a first run's
    compile) or the augmentation's (3.7 s).
    """
    batches, net, work, opt, steps = disowned(batches), disowned(net), disowned(work), disowned(opt), disowned(steps)
    X, y, order, bounds = batches.X, batches.y, batches.order, batches.bounds
    X_batch, y_batch, X_augmented = batches.X_batch, batches.y_batch, batches.X_augmented
    params, grads, lrs, losses = net.params, net.grads, steps.lrs, steps.losses
    acts, layout = work.acts, net.layout
    if probe is not None:
        hidden = [layer(layout, l) for l in range(len(layout.d_in) - 1)]
        # the workspace of an interval's last step: its backward pass writes the loss gradients
        watched_work = Workspace(work.acts, work.grad_a, work.grad_b, work.scores, work.dscores, work.row_loss,
                                 work.penalty_sums, probe.loss_grads)
    for k in range(steps.count):
        start, stop = bounds[steps.first + k], bounds[steps.first + k + 1]
        n = stop - start
        xb, yb = X_batch[:n], y_batch[:n]
        gather_rows(xb, yb, X, y, order[start:stop])
        if augment is not None:
            augment_images(xb, X_augmented[:n], augment, derive_seed(steps.augment_seed, steps.step + k))
            xb = X_augmented[:n]
        step = steps.step + k + 1  # the run's steps after this one
        seed = derive_seed(steps.seed, steps.step + k)
        if probe is None:
            data_loss, penalty = forward_backward(xb, yb, net, work, seed)
        else:
            data_loss, penalty = forward_backward(xb, yb, net, watched_work if step % probe.every == 0 else work,
                                                  seed)
        losses[k] = data_loss + penalty
        if not np.isfinite(losses[k]):
            return k
        if probe is not None:
            sampled = sampled_step(step, probe.every)
            observe_activations(hidden, params, acts, n, probe, sampled)
            if sampled:
                observe_weights(params, probe, False)
        optimizer_update(params, grads, opt, lrs[k])
        if probe is not None:
            if sampled:
                observe_weights(params, probe, True)
            if step % probe.every == 0:  # the interval's last step
                close_record(net, probe, step)
    return steps.count
