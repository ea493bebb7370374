"""Per-layer diagnostics of training (the lecture's "babysitting the learning process"), gathered
inside the compiled loop (loop.py) from each step's own buffers: no second forward pass, no Python
per step.

Each step, while a ``Probe`` is on: the backward pass leaves each layer's sum of squares of the
loss gradient at its affine output in the workspace (network.py); ``observe_activations`` adds up
each hidden unit's outputs, their squares and how often it fired (or saturated); after the
optimizer's update ``observe_weights`` measures each weight matrix's change, norm and gradient.
Every ``every`` steps ``close_record`` writes one record, a row of FIELDS per layer, and starts the
next interval. Sums are float64 in a fixed order: the same records on any number of threads.
"""
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ..config import BLOCK, FASTMATH
from ..layers.activations import ELU, LEAKY_RELU, RELU, SIGMOID, TANH
from ..reductions import ordered_sum
from .layout import block, layer, vector, weights

# A record's statistics per layer, in this order (mlp_scratch/diagnostics.py documents each).
FIELDS = ("update_ratio", "update_ratio_mean", "weight_norm", "grad_norm", "loss_grad_norm", "act_mean", "act_std",
          "dead", "gamma_mean", "gamma_std", "beta_mean", "beta_std")
(UPDATE_RATIO, UPDATE_RATIO_MEAN, WEIGHT_NORM, GRAD_NORM, LOSS_GRAD_NORM, ACT_MEAN, ACT_STD, DEAD, GAMMA_MEAN,
 GAMMA_STD, BETA_MEAN, BETA_STD) = range(len(FIELDS))

# The per-layer sums of an interval (Probe.sums columns).
RATIO_SUM, GRAD_NORM_SUM, LOSS_GRAD_NORM_SUM = range(3)
# The interval's counters (Probe.counts): steps, samples, and the records written since the caller last read them.
STEPS, SAMPLES, WRITTEN = range(3)

# A tanh output beyond +-SATURATED, or a sigmoid output beyond SATURATED or below 1 - SATURATED,
# is saturated: its derivative is below 0.02.
SATURATED = 0.99


class Probe(NamedTuple):
    """The diagnostics' settings, running sums and output, built by mlp_scratch/diagnostics.py."""
    every: int                # steps per record; 0: off
    before: np.ndarray        # the parameters before the step, laid out like params
    loss_grads: np.ndarray    # float64 per layer, written by the backward pass (the workspace's)
    sums: np.ndarray          # float64 (layers, 3): RATIO_SUM, GRAD_NORM_SUM, LOSS_GRAD_NORM_SUM
    last: np.ndarray          # float64 (layers, 2): the last step's update ratio and weight norm
    unit_sum: np.ndarray      # float64 per activation column (layout.act): sum of the unit's outputs
    unit_squares: np.ndarray  # and of their squares
    unit_count: np.ndarray    # and how many were positive (ReLU family) or saturated (tanh, sigmoid)
    rows: np.ndarray          # float64 (widest layer input, 4): per-row partial sums of observe_weights
    counts: np.ndarray        # int64: STEPS, SAMPLES, WRITTEN
    records: np.ndarray       # float64 (capacity, layers, len(FIELDS)), written
    record_steps: np.ndarray  # int64 (capacity,): the run's step count at each record's end


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def accumulate_units(values, gamma, beta, normalized, relu, low, high, sums, squares, counts):
    """For each unit (column) j of values (n, m), with a = values[i, j], or gamma[j] a + beta[j] if
    ``normalized``, then max(a, 0) if ``relu``: adds sum_i a to sums[j], sum_i a^2 to squares[j] and
    the number of a > high or a < low to counts[j]. Column blocks, rows in order: no race."""
    n, m = values.shape
    for blk in prange((m + BLOCK - 1) // BLOCK):
        j0 = blk * BLOCK
        width = min(BLOCK, m - j0)
        s, q, c = sums[j0:j0 + width], squares[j0:j0 + width], counts[j0:j0 + width]
        for i in range(n):
            row = values[i, j0:j0 + width]
            for j in range(width):
                a = row[j]
                if normalized:
                    a = gamma[j0 + j] * a + beta[j0 + j]
                if relu:
                    a = 0.0 if a <= 0 else a
                v = np.float64(a)
                s[j] += v
                q[j] += v * v
                c[j] += 1.0 if v > high or v < low else 0.0


@njit(cache=True)
def counted_range(kind):
    """(low, high): an output outside it counts for ``dead`` (see close_record)."""
    if kind == TANH:
        return -SATURATED, SATURATED
    if kind == SIGMOID:
        return 1.0 - SATURATED, SATURATED
    return -np.inf, 0.0  # ReLU family: a unit fires where its output is positive


@njit(cache=True)
def observe_activations(net, work, n, probe):
    """Adds the step's hidden outputs (after the activation, before dropout) to the unit sums. ReLU
    layers with dropout keep their input in the act block (network.py): their output is recomputed."""
    layout, params, acts = net.layout, net.params, work.acts
    for l in range(len(layout.d_in) - 1):
        this = layer(layout, l)
        m = this.d_out
        from_input = this.activation == RELU and this.drop >= 0
        normalized = from_input and this.gamma >= 0
        values = block(acts, n, this.xhat if normalized else this.act, m)
        low, high = counted_range(this.activation)
        units = slice(this.act, this.act + m)
        accumulate_units(values, vector(params, this.gamma, m), vector(params, this.beta, m), normalized,
                         from_input, low, high, probe.unit_sum[units], probe.unit_squares[units],
                         probe.unit_count[units])
    probe.counts[SAMPLES] += n


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def weight_change_rows(W, before, dW, rows):
    """Per row i: rows[i] = (sum (W - before)^2, sum before^2, sum W^2, sum dW^2); then before = W."""
    for i in prange(W.shape[0]):
        change = old = new = grad = 0.0
        for j in range(W.shape[1]):
            w, b, g = np.float64(W[i, j]), np.float64(before[i, j]), np.float64(dW[i, j])
            change += (w - b) * (w - b)
            old += b * b
            new += w * w
            grad += g * g
            before[i, j] = W[i, j]
        rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3] = change, old, new, grad


@njit(cache=True)
def observe_weights(net, probe):
    """After the update: each weight matrix's update ratio ||W - W_before|| / ||W_before||, norm and
    gradient norm, and the loss gradient's norm from the backward pass; counts the step."""
    layout = net.layout
    for l in range(len(layout.d_in)):
        this = layer(layout, l)
        rows = probe.rows[:this.d_in]
        weight_change_rows(weights(net.params, this), weights(probe.before, this), weights(net.grads, this), rows)
        change, old = np.sqrt(ordered_sum(rows[:, 0])), np.sqrt(ordered_sum(rows[:, 1]))
        ratio = change / old if old > 0 else (0.0 if change == 0 else np.inf)
        probe.sums[l, RATIO_SUM] += ratio
        probe.sums[l, GRAD_NORM_SUM] += np.sqrt(ordered_sum(rows[:, 3]))
        probe.sums[l, LOSS_GRAD_NORM_SUM] += np.sqrt(probe.loss_grads[l])
        probe.last[l, 0], probe.last[l, 1] = ratio, np.sqrt(ordered_sum(rows[:, 2]))
    probe.counts[STEPS] += 1


@njit(cache=True)
def mean_std(values):
    """(mean, population std) of values, in index order."""
    mean = ordered_sum(values) / len(values)
    spread = 0.0
    for v in values:
        spread += (v - mean) * (v - mean)
    return mean, np.sqrt(spread / len(values))


@njit(cache=True)
def close_record(net, probe, step):
    """Writes the interval's record (FIELDS per layer; NaN where a layer has no such statistic) and
    clears the sums for the next. ``dead``: in a ReLU-family layer, the fraction of units that never
    fired (output > 0) during the interval; in a tanh or sigmoid layer, the fraction of outputs
    saturated."""
    layout, params = net.layout, net.params
    r = probe.counts[WRITTEN]
    steps, samples = probe.counts[STEPS], probe.counts[SAMPLES]
    record = probe.records[r]
    record[:] = np.nan
    for l in range(len(layout.d_in)):
        this = layer(layout, l)
        m = this.d_out
        record[l, UPDATE_RATIO], record[l, WEIGHT_NORM] = probe.last[l, 0], probe.last[l, 1]
        record[l, UPDATE_RATIO_MEAN] = probe.sums[l, RATIO_SUM] / steps
        record[l, GRAD_NORM] = probe.sums[l, GRAD_NORM_SUM] / steps
        record[l, LOSS_GRAD_NORM] = probe.sums[l, LOSS_GRAD_NORM_SUM] / steps
        if l < len(layout.d_in) - 1:
            units = slice(this.act, this.act + m)
            total = samples * m
            mean = ordered_sum(probe.unit_sum[units]) / total
            record[l, ACT_MEAN] = mean
            record[l, ACT_STD] = np.sqrt(max(ordered_sum(probe.unit_squares[units]) / total - mean * mean, 0.0))
            counted = probe.unit_count[units]
            if this.activation == RELU or this.activation == LEAKY_RELU or this.activation == ELU:
                record[l, DEAD] = np.sum(counted == 0) / m
            else:
                record[l, DEAD] = ordered_sum(counted) / total
            counted[:] = 0.0
            probe.unit_sum[units] = 0.0
            probe.unit_squares[units] = 0.0
        if this.gamma >= 0:
            record[l, GAMMA_MEAN], record[l, GAMMA_STD] = mean_std(vector(params, this.gamma, m))
            record[l, BETA_MEAN], record[l, BETA_STD] = mean_std(vector(params, this.beta, m))
    probe.sums[:] = 0.0
    probe.record_steps[r] = step
    probe.counts[STEPS] = 0
    probe.counts[SAMPLES] = 0
    probe.counts[WRITTEN] = r + 1
