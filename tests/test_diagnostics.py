"""Per-layer diagnostics (mlp_scratch/diagnostics.py): every statistic against a NumPy computation
from the same parameters, gradients and activations, replayed step by step."""
import numpy as np
import pytest

from mlp_scratch import MLP, Trainer, threads
from mlp_scratch.datasets import Dataset
from mlp_scratch.diagnostics import Diagnostics, advice, as_diagnostics
from mlp_scratch.kernels.random import seed_for
from mlp_scratch.kernels.training.diagnostics import FIELDS, RATIO_EVERY, SATURATED
from mlp_scratch.optim import SGD, Adam
from mlp_scratch.trainer import EpochRunner, batch_bounds

import reference as ref

N, D, C, HIDDEN, BATCH = 46, 12, 4, [9, 7], 8
# A record every 18 steps (6 an epoch), sampled on its first, second and last steps
EVERY, EPOCHS = RATIO_EVERY + 2, 6


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    y = rng.integers(0, C, N)
    return Dataset(X, y, None, None, None, None, {})


def replay(model, optimizer, X, y, epochs, seed, every, batch=BATCH):
    """The trainer's steps one by one (same batches, masks and updates), with each record's
    statistics computed in NumPy: {step: {layer: {field: value}}}."""
    rng = np.random.default_rng(seed)
    n_hidden, keep = len(model.hidden_sizes), 1 - model.dropout
    layers = n_hidden + 1
    kinds = model.activation[0]
    low, high = (-SATURATED, SATURATED) if kinds == "tanh" else (1 - SATURATED, SATURATED)
    records, step = {}, 0
    sums = None
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        bounds = batch_bounds(len(X), batch, model.batchnorm)
        for start, stop in zip(bounds[:-1], bounds[1:]):
            if sums is None:
                sums = {"ratio": np.zeros(layers), "outputs": [[] for _ in range(n_hidden)], "ratios": 0,
                        "top": [np.full(width, -np.inf) for width in model.hidden_sizes]}
            Xb, yb = X[order[start:stop]], y[order[start:stop]]
            step_seed = seed_for(seed, step)
            params = {name: view.copy() for name, view in model.params.items()}
            outputs, loss_grads, weight_grads = ref.mlp_layers(
                params, Xb, yb, n_hidden, model.batchnorm, keep, step_seed, model.l2, eps=model.bn_eps,
                activation=kinds, alpha=float(model.act_alpha[0]))
            before = [params[f"W{l}"].astype(np.float64) for l in range(1, layers + 1)]
            model.forward_backward_checked(Xb, yb, step_seed)
            optimizer.step(model.flat_params, model.flat_grads)
            after = [model.params[f"W{l}"].astype(np.float64) for l in range(1, layers + 1)]
            for l, a in enumerate(outputs):
                sums["top"][l] = np.maximum(sums["top"][l], a.max(axis=0))
            # sampled: the interval's first and last steps, every RATIO_EVERY-th before the last
            if step % every == 0 or (every - (step + 1) % every) % every % RATIO_EVERY == 0:
                ratios = [np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(after, before)]
                sums["ratio"] += ratios
                sums["ratios"] += 1
                for l, a in enumerate(outputs):
                    sums["outputs"][l].append(a.astype(np.float64))
            step += 1
            if step % every:
                continue
            record = {}
            for l in range(layers):
                row = {"update_ratio": ratios[l], "update_ratio_mean": sums["ratio"][l] / sums["ratios"],
                       "weight_norm": np.linalg.norm(after[l]),
                       "grad_norm": np.linalg.norm(weight_grads[l].astype(np.float64)),
                       "loss_grad_norm": np.linalg.norm(loss_grads[l].astype(np.float64))}
                if l < n_hidden:
                    a = np.concatenate(sums["outputs"][l])
                    dead = (np.mean(sums["top"][l] <= 0) if kinds not in ("tanh", "sigmoid")
                            else np.mean((a > high) | (a < low)))
                    row.update(act_mean=a.mean(), act_std=a.std(), dead=dead)
                if model.batchnorm and l < n_hidden:
                    gamma, beta = model.params[f"gamma{l + 1}"], model.params[f"beta{l + 1}"]
                    row.update(gamma_mean=gamma.mean(), gamma_std=gamma.std(), beta_mean=beta.mean(),
                               beta_std=beta.std())
                record[l + 1] = row
            records[step] = record
            sums = None
    return records


CASES = [  # dtype, batch norm, dropout, activation, l2, optimizer, the passes in parallel (as in a large model)
    ("float64", False, 0.0, "relu", 0.0, "sgd", False),
    ("float64", True, 0.3, "relu", 1e-2, "adam", True),
    ("float32", True, 0.0, "relu", 0.0, "adam", False),
    ("float32", True, 0.3, "relu", 0.0, "adam", True),
    ("float32", False, 0.25, "relu", 1e-3, "sgd", False),
    ("float64", True, 0.2, "tanh", 0.0, "sgd", True),
    ("float32", False, 0.0, "sigmoid", 0.0, "adam", False),
    ("float64", False, 0.2, "leaky_relu", 0.0, "adam", True),
    ("float32", True, 0.0, "elu", 0.0, "sgd", False),
]


@pytest.mark.parametrize("dtype, batchnorm, dropout, activation, l2, name, parallel", CASES)
def test_every_statistic_equals_numpy(monkeypatch, dtype, batchnorm, dropout, activation, l2, name, parallel):
    # Records across epochs and across the compiled loop's chunks of 3 steps.
    monkeypatch.setattr(EpochRunner, "CHUNK", 3)
    monkeypatch.setattr(threads, "POOL_PARAMETERS", 0 if parallel else 10 ** 9)
    X, y = data().X_train.astype(dtype), data().y_train

    def fresh():
        model = MLP(D, HIDDEN, C, batchnorm=batchnorm, dropout=dropout, activation=activation, l2=l2, dtype=dtype,
                    seed=3)
        return model, (SGD(lr=0.3, momentum=0.9) if name == "sgd" else Adam(lr=0.01))

    model, optimizer = fresh()
    history = Trainer(model, optimizer, epochs=EPOCHS, batch_size=BATCH, seed=5, train_eval_samples=0, log=None,
                      restore_best=False, diagnostics=Diagnostics(every=EVERY, histograms=None)).fit(data())
    model, optimizer = fresh()
    expected = replay(model, optimizer, X, y, EPOCHS, 5, EVERY)
    steps_per_epoch = len(batch_bounds(N, BATCH, batchnorm)) - 1
    assert sorted({row["step"] for row in history.diagnostics}) == sorted(expected) == list(
        range(EVERY, EPOCHS * steps_per_epoch + 1, EVERY))
    rtol = 1e-4 if dtype == "float32" else 1e-9
    for row in history.diagnostics:
        assert row["epoch"] == row["step"] / steps_per_epoch
        want = expected[row["step"]][row["layer"]]
        for field in FIELDS:
            if field not in want:
                assert row[field] is None, field
            elif field == "dead":
                assert row[field] == pytest.approx(want[field], abs=1e-12), field
            else:
                assert row[field] == pytest.approx(want[field], rel=rtol, abs=rtol * 1e-2), (row["step"], field)


def test_the_parallel_passes_of_a_wide_layer_equal_numpy(monkeypatch):
    """A hidden layer of 128 x 512 outputs a step, as in 784-512-512-10: the pass over its outputs
    runs in parallel, and so, as in a large model, the passes over the weights."""
    monkeypatch.setattr(threads, "POOL_PARAMETERS", 0)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((384, 20)), rng.integers(0, 3, 384)
    wide = Dataset(X, y, None, None, None, None, {})

    def fresh():
        return MLP(20, [512], 3, batchnorm=True, dropout=0.2, dtype="float64", seed=2), Adam(lr=0.01)

    model, optimizer = fresh()
    history = Trainer(model, optimizer, epochs=6, batch_size=128, seed=5, train_eval_samples=0, log=None,
                      restore_best=False, diagnostics=Diagnostics(every=EVERY, histograms=None)).fit(wide)
    model, optimizer = fresh()
    expected = replay(model, optimizer, X, y, 6, 5, EVERY, batch=128)
    assert [row["step"] for row in history.diagnostics] == [EVERY] * 2
    for row in history.diagnostics:
        want = expected[row["step"]][row["layer"]]
        for field, value in want.items():
            assert row[field] == pytest.approx(value, rel=1e-9, abs=1e-12), field


def test_watching_changes_no_bit_of_training():
    def train(diagnostics):
        model = MLP(D, HIDDEN, C, batchnorm=True, dropout=0.2, seed=1)
        history = Trainer(model, Adam(lr=0.01), epochs=2, batch_size=BATCH, log=None,
                          diagnostics=diagnostics).fit(data())
        return model.flat_params.copy(), history.iteration_loss

    params, losses = train(None)
    watched_params, watched_losses = train(Diagnostics(every=1))
    assert np.array_equal(params, watched_params) and losses == watched_losses


def test_records_every_epoch_by_default():
    model = MLP(D, HIDDEN, C, seed=1)
    history = Trainer(model, SGD(lr=0.1), epochs=3, batch_size=BATCH, log=None, diagnostics=True).fit(data())
    steps_per_epoch = len(batch_bounds(N, BATCH, False)) - 1
    assert [row["step"] for row in history.diagnostics] == [e * steps_per_epoch for e in (1, 2, 3) for _ in range(3)]
    assert [row["layer"] for row in history.diagnostics] == [1, 2, 3] * 3
    assert history.to_dict()["diagnostics"] == history.diagnostics


def test_histograms_of_the_chosen_epochs():
    model = MLP(D, HIDDEN, C, seed=1)
    X = data().X_train
    history = Trainer(model, SGD(lr=0.1), epochs=4, batch_size=BATCH, log=None, restore_best=False,
                      diagnostics=Diagnostics(histogram_samples=20)).fit(data())
    assert sorted({row["epoch"] for row in history.histograms}) == [1, 2, 4]  # "auto": first, middle, last
    last = [row for row in history.histograms if row["epoch"] == 4]
    outputs = model.hidden_activations(X[:20].astype(np.float32))
    for row in last:
        values = (outputs[row["layer"] - 1] if row["kind"] == "activations" else model.grads[f"W{row['layer']}"])
        counts, edges = np.histogram(values.astype(np.float64), bins=len(row["counts"]))
        assert row["counts"] == counts.tolist() and np.allclose(row["edges"], edges)
    assert [(row["layer"], row["kind"]) for row in last] == [(1, "activations"), (2, "activations"),
                                                            (1, "gradients"), (2, "gradients"), (3, "gradients")]


def rows(**changes):
    base = {"update_ratio_mean": 1e-3, "dead": 0.0, "loss_grad_norm": 1.0}
    return [{**base, "layer": 1, **changes}, {**base, "layer": 2, "dead": None}]


@pytest.mark.parametrize("activation, changes, expected", [
    ("relu", {}, []),
    ("relu", {"update_ratio_mean": 0.3}, ["layer 1: updates are 3e-01 of the weights: the learning rate is likely "
                                          "too high"]),
    ("relu", {"update_ratio_mean": 2e-6}, ["layer 1: updates are 2e-06 of the weights: the learning rate is likely "
                                           "too low"]),
    ("relu", {"update_ratio_mean": 4.9e-2}, []),  # the band's edge, 1e-2, times MARGIN
    ("relu", {"update_ratio_mean": 5.1e-2}, ["layer 1: updates are 5e-02 of the weights: the learning rate is likely "
                                             "too high"]),
    ("relu", {"update_ratio_mean": 2.1e-5}, []),
    ("relu", {"dead": 0.62}, ["layer 1: 62% of the ReLUs never fired this epoch: the learning rate may be too high, "
                              "or the initialization too small"]),
    ("relu", {"dead": 0.5}, []),
    ("tanh", {"dead": 0.7}, ["layer 1: 70% of the tanh outputs were saturated this epoch: little gradient passes; "
                             "lower the initial weights or the learning rate, or add batch norm"]),
    ("relu", {"loss_grad_norm": 5e-4}, ["layer 1: its loss gradient is 5e-04 of the output layer's: the gradient "
                                        "vanishes before it reaches this layer"]),
])
def test_rules_of_thumb_in_plain_words(activation, changes, expected):
    model = MLP(D, [9], C, activation=activation)
    assert [text for _, _, text in advice(rows(**changes), model, "this epoch")] == expected


def test_too_high_a_learning_rate_is_named_once_per_layer():
    lines = []
    model = MLP(D, HIDDEN, C, seed=1)
    Trainer(model, SGD(lr=3.0), epochs=3, batch_size=BATCH, log=lines.append, diagnostics=True).fit(data())
    warned = [line for line in lines if "likely too high" in line]
    assert [line.split(": ")[1] for line in warned] == ["layer 1", "layer 2", "layer 3"]


@pytest.mark.parametrize("value, message", [
    ("yes", "diagnostics must be"), (0, "every must be a positive integer"), (2.5, "diagnostics must be")])
def test_bad_settings_are_named(value, message):
    with pytest.raises(ValueError, match=message):
        as_diagnostics(value)


def test_full_batch_methods_are_refused():
    from mlp_scratch.lbfgs import LBFGS
    with pytest.raises(ValueError, match="diagnostics watch mini-batch steps"):
        Trainer(MLP(D, HIDDEN, C), LBFGS(), diagnostics=True)


def test_the_train_command_writes_diagnostics_and_tensorboard_events(tmp_path):
    """--diagnostics --tensorboard: the run folder's CSV holds the history's rows, and TensorBoard's
    own reader finds the losses, accuracies and diagnostics the history holds."""
    import csv
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mlp_scratch.cli import main

    out, board = tmp_path / "run", tmp_path / "tb"
    assert main(["train", "--epochs", "3", "--hidden-sizes", "16", "--n-train", "300", "--diagnostics",
                 "--histograms", "1", "3", "--tensorboard", str(board), "--out", str(out), "--quiet"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert {path.name for path in out.iterdir()} >= {"diagnostics.csv", "diagnostics.png", "histograms.png"}
    with open(out / "diagnostics.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(history["diagnostics"]) == 3 * 2
    for line, row in zip(table, history["diagnostics"]):
        assert float(line["update_ratio"]) == row["update_ratio"] and line["gamma_mean"] == str(row["gamma_mean"] or "")
    assert sorted({row["epoch"] for row in history["histograms"]}) == [1, 3]

    events = EventAccumulator(str(board), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    def scalars(tag):
        return [(e.step, e.value) for e in events.Scalars(tag)]

    epochs = history["epochs"]
    assert scalars("loss/val") == [(e["epoch"], pytest.approx(e["val_loss"], rel=1e-6)) for e in epochs]
    assert scalars("accuracy/train") == [(e["epoch"], pytest.approx(e["train_acc"], rel=1e-6)) for e in epochs]
    assert [value for _, value in scalars("loss/iteration")] == pytest.approx(history["iteration_loss"], rel=1e-6)
    for name in ("update_ratio_mean", "dead", "gamma_std"):
        rows = [row for row in history["diagnostics"] if row["layer"] == 1]
        assert scalars(f"diagnostics/{name}/layer1") == [(row["step"], pytest.approx(row[name], rel=1e-6))
                                                         for row in rows]
    assert "diagnostics/act_mean/layer2" not in events.Tags()["scalars"]  # the output layer has no activations
    weights = events.Histograms("weights/W1")
    assert [h.step for h in weights] == [1, 2, 3] and weights[-1].histogram_value.num == 64 * 16
    assert [h.step for h in events.Histograms("activations/layer1")] == [1, 2, 3]
