"""Per-layer diagnostics of training (the lecture's "babysitting the learning process"), gathered
inside the compiled loop (loop.py) from each step's own buffers: no second forward pass, no Python
per step.

Each step, while a ``Probe`` is on, ``observe_activations`` keeps each hidden unit's largest
output. On the sampled steps (``sampled_step``: an interval's first and last steps and every
RATIO_EVERY-th before the last) it also adds up the outputs and their squares and counts saturated
ones (tanh, sigmoid), and ``observe_weights`` copies the weights before the optimizer's update
and measures each weight matrix's change against the copy after it. The backward
pass of an interval's last step leaves each layer's sum of squares of the loss gradient in the
workspace's ``loss_grads`` (network.py), and ``close_record`` writes one record, a row of FIELDS per
layer, from those sums and the parameters and gradients as they are.

Sums are float64 in a fixed order: the same records on any number of threads. In a small model
(``Probe.parallel`` false), and over a small layer's outputs, the passes run without numba's
parallel machinery: waking it costs more than they do (2 to 5 us a call).
"""
from typing import NamedTuple

import numpy as np
from numba import prange

from ..config import BLOCK, FASTMATH, njit
from ..layers.activations import ELU, LEAKY_RELU, RELU, SIGMOID, TANH
from ..reductions import ordered_sum, sum_of_squares
from .layout import block, layer, vector, weights

# A record's statistics per layer, in this order (mlp_scratch/diagnostics.py documents each).
FIELDS = ("update_ratio", "update_ratio_mean", "weight_norm", "grad_norm", "loss_grad_norm", "act_mean", "act_std",
          "dead", "gamma_mean", "gamma_std", "beta_mean", "beta_std")
(UPDATE_RATIO, UPDATE_RATIO_MEAN, WEIGHT_NORM, GRAD_NORM, LOSS_GRAD_NORM, ACT_MEAN, ACT_STD, DEAD, GAMMA_MEAN,
 GAMMA_STD, BETA_MEAN, BETA_STD) = range(len(FIELDS))

# The interval's counters (Probe.counts): update ratios measured, samples, and the records written since the
# caller last read them.
RATIOS, SAMPLES, WRITTEN = range(3)

# A tanh output beyond +-SATURATED, or a sigmoid output beyond SATURATED or below 1 - SATURATED,
# is saturated: its derivative is below 0.02.
SATURATED = 0.99

# How a hidden layer's output is read from its blocks (observe_activations)
AS_IS, RELU_OF, RELU_OF_NORMALIZED = range(3)

# observe_weights' parallel loop takes the weights in chunks of this many elements (784-512-512-10: 82
# chunks), the same in one thread: the sums do not depend on the threads.
CHUNK = 8192
LANES = 16  # partial sums per chunk of observe_weights
# observe_activations takes a layer in parallel from this many outputs (128 x 512) on: below, waking
# the threads costs more than they save (784-100-10 at batch 64: 2% of a step)
PARALLEL_OUTPUTS = 2 ** 16

# The sampled steps are an interval's first and those whose distance to its end is a multiple of
# this. Measuring every step would cost two passes over the weights (a copy, the difference) and one
# over the activations (784-512-512-10 and 64-64-64-10: 5 to 10% of a step).
RATIO_EVERY = 16


class Probe(NamedTuple):
    """The diagnostics' settings, running sums and output, built by mlp_scratch/diagnostics.py."""
    every: int                # steps per record
    parallel: bool            # the passes over the weights in parallel (a large model) or in one thread
    before: np.ndarray        # the weights before a sampled step's update, laid out like params
    loss_grads: np.ndarray    # float64 per layer: the backward pass writes there on an interval's last step
    ratio_sum: np.ndarray     # float64 per layer: the sum of the interval's measured update ratios
    last_ratio: np.ndarray    # float64 per layer: the last measured one
    unit_top: np.ndarray      # per activation column (layout.act), in the parameters' dtype: the unit's largest output
    output_sums: np.ndarray   # float64 (layers, 3), over the sampled steps: the sum of a hidden layer's outputs,
                              # of their squares, and how many were saturated (tanh, sigmoid; see saturated_range)
    unit_sums: np.ndarray     # float64 (3, the widest hidden layer): accumulate_units' sums per unit
    chunk_starts: np.ndarray  # int64, per chunk of the weights (layout.weight_chunks): where it starts in
    chunk_lengths: np.ndarray  # params, how long it is, and each layer's first chunk, one more at the end
    chunk_first: np.ndarray
    chunk_sums: np.ndarray    # float64 (chunks, 2, LANES): per-chunk partial sums of observe_weights
    counts: np.ndarray        # int64: RATIOS (sampled steps so far in the interval), SAMPLES (their rows), WRITTEN
    records: np.ndarray       # float64 (capacity, layers, len(FIELDS)), written
    record_steps: np.ndarray  # int64 (capacity,): the run's step count at each record's end


@njit(fastmath=FASTMATH, cache=True, inline="always")
def add_units(values, gamma, beta, form, saturating, low, high, top, sums, j0, width, full):
    """Columns j0 .. j0 + width - 1 of values (n, m), rows in order, of the outputs a: values, or
    max(values, 0) for RELU_OF, or max(gamma values + beta, 0) for RELU_OF_NORMALIZED. Raises
    top[j] to each unit's largest a; if ``full``, writes each column's sum of a, of a^2 and, if
    ``saturating``, its number of a below low or above high (saturated_range) to sums[0:3, j] (float64).
    Each column's sums are its own, so they vectorize without reassociating them."""
    t, g, b = top[j0:j0 + width], gamma[j0:j0 + width], beta[j0:j0 + width]
    total, squares, counted = sums[0, j0:j0 + width], sums[1, j0:j0 + width], sums[2, j0:j0 + width]
    if full:
        total[:] = 0.0
        squares[:] = 0.0
        counted[:] = 0.0
    for i in range(values.shape[0]):
        row = values[i, j0:j0 + width]
        for j in range(width):
            a = row[j]
            if form == RELU_OF_NORMALIZED:
                a = g[j] * a + b[j]
            if form != AS_IS:
                a = 0.0 if a <= 0 else a
            t[j] = max(t[j], a)
            if full:  # the same in every iteration, as saturating: the compiler takes them out of the loop
                total[j] += a
                squares[j] += a * a
                if saturating:
                    counted[j] += (a > high) + (a < low)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def accumulate_units(values, gamma, beta, form, saturating, low, high, top, sums, full):
    """add_units on each block of BLOCK columns in parallel (no race)."""
    m = values.shape[1]
    for blk in prange((m + BLOCK - 1) // BLOCK):
        add_units(values, gamma, beta, form, saturating, low, high, top, sums, blk * BLOCK,
                  min(BLOCK, m - blk * BLOCK), full)


@njit(fastmath=FASTMATH, cache=True)
def accumulate_units_serial(values, gamma, beta, form, saturating, low, high, top, sums, full):
    """accumulate_units in one thread: one block of every column."""
    add_units(values, gamma, beta, form, saturating, low, high, top, sums, 0, values.shape[1], full)


@njit(cache=True)
def saturated_range(kind):
    """(low, high): a saturated output of a layer of activation ``kind`` is below low or above high
    (none is, but in tanh and sigmoid layers)."""
    if kind == TANH:
        return -SATURATED, SATURATED
    if kind == SIGMOID:
        return 1.0 - SATURATED, SATURATED
    return -np.inf, np.inf


@njit(cache=True, inline="always")  # a call would count a reference to each of the structures' arrays
def observe_activations(hidden, params, acts, n, probe, full):
    """Raises each hidden unit's largest output (after the activation, before dropout) by the step's;
    if ``full``, adds the outputs to the sums. ``hidden``: the hidden layers' Layers (layout.layer).
    ReLU layers with dropout keep their input in the act block, or xhat with batch norm (network.py):
    their output is recomputed."""
    for l in range(len(hidden)):
        this = hidden[l]
        m = this.d_out
        form = AS_IS
        if this.activation == RELU and this.drop >= 0:
            form = RELU_OF_NORMALIZED if this.gamma >= 0 else RELU_OF
        values = block(acts, n, this.xhat if form == RELU_OF_NORMALIZED else this.act, m)
        low, high = saturated_range(this.activation)
        saturating = high < np.inf
        gamma, beta = vector(params, this.gamma, m), vector(params, this.beta, m)
        top = probe.unit_top[this.act:this.act + m]
        if n * m >= PARALLEL_OUTPUTS:
            accumulate_units(values, gamma, beta, form, saturating, low, high, top, probe.unit_sums, full)
        else:
            accumulate_units_serial(values, gamma, beta, form, saturating, low, high, top, probe.unit_sums, full)
        if full:
            for k in range(3):
                probe.output_sums[l, k] += ordered_sum(probe.unit_sums[k, :m])
    if full:
        probe.counts[SAMPLES] += n


@njit(fastmath=FASTMATH, cache=True, inline="always")
def change_of_chunk(params, before, start, length, sums, r, measure, copy):
    """Over the weights W = params[start:start + length] and their copy B in ``before``: if
    ``measure``, sums[r, 0, k] and sums[r, 1, k] = the sums of (W - B)^2 and of B^2 over the elements
    k, k + LANES, k + 2 LANES, ... in float64 (independent sums: they vectorize without reassociating);
    if ``copy``, then B = W."""
    W, B = params[start:start + length], before[start:start + length]  # views: loops from 0 vectorize
    if measure:
        change, old = sums[r, 0], sums[r, 1]
        change[:] = 0.0
        old[:] = 0.0
        whole = length - length % LANES
        for s in range(0, whole, LANES):
            w, b = W[s:s + LANES], B[s:s + LANES]
            for k in range(LANES):
                d = w[k] - b[k]  # exact where the step changed the weight by less than half
                change[k] += d * d
                old[k] += b[k] * b[k]
        for k in range(length - whole):
            d = W[whole + k] - B[whole + k]
            change[k] += d * d
            old[k] += B[whole + k] * B[whole + k]
    if copy:
        B[:] = W


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def weight_changes(params, before, starts, lengths, sums, measure, copy):
    for r in prange(len(starts)):
        change_of_chunk(params, before, starts[r], lengths[r], sums, r, measure, copy)


@njit(fastmath=FASTMATH, cache=True)
def weight_changes_serial(params, before, starts, lengths, sums, measure, copy):
    for r in range(len(starts)):
        change_of_chunk(params, before, starts[r], lengths[r], sums, r, measure, copy)


@njit(cache=True)
def sampled_step(step, every):
    """Whether the run's step ``step`` (counted from 1) of intervals of ``every`` steps is sampled:
    the interval's first step (where a learning rate too high shows before it kills the units), and
    each whose distance to the interval's end is a multiple of RATIO_EVERY."""
    return (step - 1) % every == 0 or ((every - step % every) % every) % RATIO_EVERY == 0


@njit(cache=True, inline="always")  # a call would count a reference to each of the structures' arrays
def observe_weights(params, probe, updated):
    """On a sampled step: before the optimizer's update (``updated`` false), a copy of the weights;
    after it, each weight matrix's update ratio ||W - W_before|| / ||W_before||."""
    if probe.parallel:
        weight_changes(params, probe.before, probe.chunk_starts, probe.chunk_lengths, probe.chunk_sums, updated,
                       not updated)
    else:
        weight_changes_serial(params, probe.before, probe.chunk_starts, probe.chunk_lengths, probe.chunk_sums,
                              updated, not updated)
    if updated:
        for l in range(len(probe.ratio_sum)):
            change = old = 0.0
            for c in range(probe.chunk_first[l], probe.chunk_first[l + 1]):
                change += ordered_sum(probe.chunk_sums[c, 0])
                old += ordered_sum(probe.chunk_sums[c, 1])
            change, old = np.sqrt(change), np.sqrt(old)
            ratio = change / old if old > 0 else (0.0 if change == 0 else np.inf)
            probe.ratio_sum[l] += ratio
            probe.last_ratio[l] = ratio
        probe.counts[RATIOS] += 1


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
    clears the sums for the next. The norms are those of the interval's last step: the weights after
    its update, the gradient it took, the loss gradient of its backward pass; the activations' mean
    and std those of the sampled steps. ``dead``: in a ReLU-family layer, the fraction of units that
    never fired (output > 0) during the interval; in a tanh or sigmoid layer, the fraction of the
    sampled steps' outputs saturated."""
    layout, params = net.layout, net.params
    r = probe.counts[WRITTEN]
    ratios, samples = probe.counts[RATIOS], probe.counts[SAMPLES]
    record = probe.records[r]
    record[:] = np.nan
    for l in range(len(layout.d_in)):
        this = layer(layout, l)
        m = this.d_out
        record[l, UPDATE_RATIO], record[l, UPDATE_RATIO_MEAN] = probe.last_ratio[l], probe.ratio_sum[l] / ratios
        record[l, WEIGHT_NORM] = np.sqrt(sum_of_squares(weights(params, this)))
        record[l, GRAD_NORM] = np.sqrt(sum_of_squares(weights(net.grads, this)))
        record[l, LOSS_GRAD_NORM] = np.sqrt(probe.loss_grads[l])
        if l < len(layout.d_in) - 1:
            total = samples * m
            mean = probe.output_sums[l, 0] / total
            record[l, ACT_MEAN] = mean
            record[l, ACT_STD] = np.sqrt(max(probe.output_sums[l, 1] / total - mean * mean, 0.0))
            top = probe.unit_top[this.act:this.act + m]
            if this.activation == RELU or this.activation == LEAKY_RELU or this.activation == ELU:
                record[l, DEAD] = np.sum(top <= 0) / m
            else:
                record[l, DEAD] = probe.output_sums[l, 2] / total
            top[:] = -np.inf
        if this.gamma >= 0:
            record[l, GAMMA_MEAN], record[l, GAMMA_STD] = mean_std(vector(params, this.gamma, m))
            record[l, BETA_MEAN], record[l, BETA_STD] = mean_std(vector(params, this.beta, m))
    probe.ratio_sum[:] = 0.0
    probe.output_sums[:] = 0.0
    probe.record_steps[r] = step
    probe.counts[RATIOS] = 0
    probe.counts[SAMPLES] = 0
    probe.counts[WRITTEN] = r + 1
