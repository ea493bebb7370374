"""Watching a network learn, layer by layer: what to watch (``Diagnostics``), the records the
compiled loop writes (kernels/training/diagnostics.py) as rows of the history, the lecture's rules
of thumb in plain words, and the histograms.

A record covers an interval (an epoch, or ``every`` steps) and holds, per layer l (numbered from 1,
the output layer last):

    update_ratio       ||W_after - W_before|| / ||W_before|| of the interval's last step (healthy:
                       about 1e-3; far above, the learning rate is too high; far below, too low)
    update_ratio_mean  its mean over the sampled steps: the interval's first and last steps and every 16th
                       before the last (kernels/training/diagnostics.py, sampled_step: measuring every step
                       would cost 5 to 10% of a step)
    weight_norm        ||W|| after the interval's last step (Frobenius; weights only, not biases)
    grad_norm          ||dL/dW|| of the interval's last step, the gradient the optimizer received (L1/L2
                       terms included)
    loss_grad_norm     ||dL/dz|| of the interval's last step: the data loss's gradient at the layer's affine
                       output z = xW + b over the batch; it shrinks layer by layer where gradients vanish
    act_mean, act_std  the mean and standard deviation of the layer's outputs (after the activation, before
                       dropout) over every unit and training sample of the sampled steps
    dead               ReLU family: the fraction of units that never fired (output > 0) during the interval
                       (every step); tanh and sigmoid: the fraction of the sampled steps' outputs saturated
                       (|tanh| > 0.99, sigmoid outside [0.01, 0.99])
    gamma_mean, gamma_std, beta_mean, beta_std   batch norm's scale and shift at the interval's end

The output layer has no activation statistics, and layers without batch norm no gamma or beta:
those entries are None.
"""
import numpy as np

from mlp_scratch import threads
from mlp_scratch.kernels.layers.activations import SIGMOID, TANH
from mlp_scratch.kernels.training.diagnostics import CHUNK, FIELDS, LANES, WRITTEN, Probe
from mlp_scratch.kernels.training.layout import weight_chunks
from mlp_scratch.validation import check_positive_int

# The update ratio's healthy band: a decade either side of the lecture's 1e-3. Early steps leave it
# in runs that train well (digits, the command line's defaults: 3e-2 in the output layer's first
# epoch), so the warnings speak only beyond MARGIN times its edges.
HEALTHY_RATIO = (1e-4, 1e-2)
MARGIN = 5
DEAD_LIMIT = 0.5       # more than this fraction of a layer's units dead or saturated: a warning
VANISHING = 1e-3       # a hidden layer's loss gradient below this fraction of the output layer's: a warning
HISTOGRAM_BINS = 40
HISTOGRAM_SAMPLES = 512  # training samples whose activations the histograms show


class Diagnostics:
    """What the trainer watches, and when.

    Parameters
    ----------
    every : "epoch" or int
        A record per epoch, or per this many steps (an incomplete last interval is not recorded).
    histograms : "auto", None or a sequence of epochs
        The epochs after which to keep histograms of each layer's activations (evaluation mode, on
        ``histogram_samples`` training samples) and weight gradients (the epoch's last step).
        "auto": the first, middle and last epochs.
    histogram_samples : int
    """

    def __init__(self, every="epoch", histograms="auto", histogram_samples=HISTOGRAM_SAMPLES):
        if every != "epoch":
            every = check_positive_int("every", every)
        self.every = every
        if histograms is None or histograms == "auto":
            self.histograms = histograms
        else:
            self.histograms = sorted({check_positive_int("histograms", epoch) for epoch in histograms})
        self.histogram_samples = check_positive_int("histogram_samples", histogram_samples)

    def __repr__(self):
        return (f"Diagnostics(every={self.every!r}, histograms={self.histograms!r}, "
                f"histogram_samples={self.histogram_samples})")

    def steps(self, steps_per_epoch):
        """Steps per record."""
        return steps_per_epoch if self.every == "epoch" else self.every

    def period(self):
        """The interval in words, for the warnings."""
        return "this epoch" if self.every == "epoch" else f"in the last {self.every} steps"

    def histogram_epochs(self, epochs):
        if self.histograms == "auto":
            return sorted({1, (epochs + 1) // 2, epochs})
        return self.histograms or []


def as_diagnostics(value):
    """A trainer's ``diagnostics`` argument: None or False (off), True (every epoch), a number of
    steps, or a Diagnostics."""
    if value is None or value is False:
        return None
    if value is True:
        return Diagnostics()
    if isinstance(value, Diagnostics):
        return value
    if isinstance(value, (int, np.integer)):
        return Diagnostics(every=value)
    raise ValueError(f"diagnostics must be True, False, None, a number of steps or a Diagnostics, got {value!r}")


def probe(model, every, capacity):
    """The compiled loop's Probe for ``model``: a record every ``every`` steps, room for ``capacity``
    records between reads."""
    layout = model.layout
    layers = len(layout.d_in)
    columns = max((int(c + m) for c, m in zip(layout.act[:-1], layout.d_out[:-1])), default=0)  # act columns
    widest = max(layout.d_out[:-1], default=0)
    starts, lengths, first = weight_chunks(layout, CHUNK)
    return Probe(every=int(every), parallel=model.flat_params.size >= threads.POOL_PARAMETERS,
                 before=np.zeros(model.flat_params.size, model.dtype), loss_grads=np.zeros(layers),
                 ratio_sum=np.zeros(layers), last_ratio=np.zeros(layers),
                 unit_top=np.full(columns, -np.inf, model.dtype), output_sums=np.zeros((layers, 3)),
                 unit_sums=np.zeros((3, widest)), chunk_starts=starts, chunk_lengths=lengths,
                 chunk_first=first, chunk_sums=np.zeros((len(starts), 2, LANES)), counts=np.zeros(3, np.int64),
                 records=np.zeros((capacity, layers, len(FIELDS))), record_steps=np.zeros(capacity, np.int64))


def take_rows(probe, steps_per_epoch):
    """The history's rows of the records the compiled loop wrote since the last call, which frees
    their room: one dict per record and layer, with ``step`` (the run's step count at the record's
    end), ``epoch`` (epochs trained by then, a float) and ``layer``."""
    rows = []
    written = probe.counts[WRITTEN]
    for record, step in zip(probe.records[:written], probe.record_steps[:written]):
        for l, values in enumerate(record, start=1):
            rows.append({"step": int(step), "epoch": int(step) / steps_per_epoch, "layer": l,
                         **{name: None if np.isnan(v) else float(v) for name, v in zip(FIELDS, values)}})
    probe.counts[WRITTEN] = 0
    return rows


RULES = ("high", "low", "dead", "saturated", "vanishing")  # the order advice gives them in: causes first


def advice(rows, model, period):
    """The rules of thumb one record's rows (one per layer) break, in plain words: (layer, rule, text) each."""
    said = []
    last = max(row["layer"] for row in rows)
    output_grad = next(row["loss_grad_norm"] for row in rows if row["layer"] == last)
    for row in rows:
        l, ratio = row["layer"], row["update_ratio_mean"]
        if ratio > MARGIN * HEALTHY_RATIO[1]:
            said.append((l, "high", f"layer {l}: updates are {ratio:.0e} of the weights: the learning rate is "
                                    f"likely too high"))
        elif 0 < ratio < HEALTHY_RATIO[0] / MARGIN:
            said.append((l, "low", f"layer {l}: updates are {ratio:.0e} of the weights: the learning rate is "
                                   f"likely too low"))
        if l == last:
            continue
        kind, dead = model.layout.activation[l - 1], row["dead"]
        if kind in (TANH, SIGMOID) and dead > DEAD_LIMIT:
            name = model.activation[l - 1]
            said.append((l, "saturated", f"layer {l}: {dead:.0%} of the {name} outputs were saturated {period}: "
                                         f"little gradient passes; lower the initial weights or the learning rate, "
                                         f"or add batch norm"))
        elif kind not in (TANH, SIGMOID) and dead > DEAD_LIMIT:
            units = {"relu": "ReLUs", "leaky_relu": "leaky ReLUs", "elu": "ELUs"}[model.activation[l - 1]]
            said.append((l, "dead", f"layer {l}: {dead:.0%} of the {units} never fired {period}: the learning "
                                    f"rate may be too high, or the initialization too small"))
        if output_grad > 0 and row["loss_grad_norm"] < VANISHING * output_grad:
            said.append((l, "vanishing", f"layer {l}: its loss gradient is {row['loss_grad_norm'] / output_grad:.0e} "
                                         f"of the output layer's: the gradient vanishes before it reaches this layer"))
    return sorted(said, key=lambda item: RULES.index(item[1]))


def advice_by_record(rows, model, period):
    """``advice`` on each record among the rows, in order."""
    for step in dict.fromkeys(row["step"] for row in rows):
        yield from advice([row for row in rows if row["step"] == step], model, period)


def histograms(model, X_sample, epoch):
    """Histograms of each hidden layer's outputs on X_sample (evaluation mode) and of each layer's
    weight gradient (the last step's, in ``model.grads``): rows of the history."""
    rows = []
    for l, values in enumerate(model.hidden_activations(X_sample), start=1):
        rows.append(_histogram(epoch, l, "activations", values))
    for l in range(1, len(model.layout.d_in) + 1):
        rows.append(_histogram(epoch, l, "gradients", model.grads[f"W{l}"]))
    return rows


def _histogram(epoch, layer, kind, values):
    values = np.asarray(values, np.float64).ravel()
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    return {"epoch": epoch, "layer": layer, "kind": kind, "counts": counts.tolist(), "edges": edges.tolist()}
