"""Experiment 6, regularization against overfitting, at a tiny size."""
import json

import numpy as np
import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import regularization
from mlp_scratch.model import MLP

SMALL = dict(l2_grid=(1e-3, 1e-2, 1e-1), l1_grid=(1e-4, 1e-2), decay_grid=(0.1, 10.0), dropout_grid=(0.2, 0.5), lr=3e-3,
             hidden_sizes=(64,), epochs=15, batch_size=32)


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=150, n_val=200, n_test=200)


@pytest.fixture(scope="module")
def study(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("regularization")
    return out, regularization.regularization_study(digits, out, log=lambda line: None, **SMALL)


def test_writes_tables_and_figures(study):
    out, rows = study
    columns, table = read_csv(out / "results.csv")
    assert columns == regularization.COLUMNS
    assert [(r["kind"], float(r["strength"])) for r in table] == (
        [("none", 0.0)] + [("l2", s) for s in SMALL["l2_grid"]] + [("l1", s) for s in SMALL["l1_grid"]]
        + [("weight_decay", s) for s in SMALL["decay_grid"]]
        + [("dropout", s) for s in SMALL["dropout_grid"]])
    for row in table:
        assert float(row["gap"]) == pytest.approx(float(row["train_acc"]) - float(row["val_acc"]))
        assert 0 <= float(row["test_acc"]) <= 1
    curves = json.loads((out / "baseline_curves.json").read_text())
    assert [e["epoch"] for e in curves] == list(range(1, SMALL["epochs"] + 1))
    assert curves[-1]["val_acc"] == rows[0]["val_acc"]  # the table describes the last epoch
    for name in ("accuracy_vs_strength", "baseline_gap", "weights_vs_strength", "sparsity"):
        assert_png(out / f"{name}.png")


def test_l2_shrinks_the_weights_and_the_baseline_overfits(study):
    _, rows = study
    by_l2 = [r["sum_sq_weights"] for r in rows if r["kind"] in ("none", "l2")]  # strengths 0 < 1e-3 < ...
    assert np.all(np.diff(by_l2) < 0), by_l2
    by_decay = [r["sum_sq_weights"] for r in rows if r["kind"] in ("none", "weight_decay")]
    assert np.all(np.diff(by_decay) < 0), by_decay
    baseline = rows[0]
    assert baseline["train_acc"] == 1.0 and baseline["gap"] > 0.02


def test_l1_makes_weights_sparse(study):
    _, rows = study
    baseline, strong_l1 = rows[0], [r for r in rows if r["kind"] == "l1"][-1]
    strong_l2 = [r for r in rows if r["kind"] == "l2"][-1]
    assert strong_l1["near_zero"] > baseline["near_zero"] + 0.2
    assert strong_l1["near_zero"] > strong_l2["near_zero"]


def test_near_zero_fraction_against_numpy():
    model = MLP(10, [7], 3, seed=1)
    model.params["W1"][:3] = 1e-4
    model.params["b1"][:] = 0.0  # a bias, not a weight: must not count
    weights = np.concatenate([model.params["W1"].ravel(), model.params["W2"].ravel()])
    assert regularization.near_zero_fraction(model) == np.mean(np.abs(weights) < 1e-3)


def test_sum_of_squared_weights_against_numpy():
    model = MLP(10, [7, 5], 3, batchnorm=True, seed=1)
    model.params["gamma1"][:] = 3.0  # not a weight matrix: must not count
    expected = sum(np.sum(model.params[f"W{l}"].astype(np.float64) ** 2) for l in (1, 2, 3))
    assert regularization.sum_squared_weights(model) == pytest.approx(expected, rel=1e-12)


def test_is_reproducible(digits, tmp_path):
    settings = dict(SMALL, l2_grid=(1e-2,), decay_grid=(1.0,), dropout_grid=(0.5,), epochs=3)
    first = regularization.regularization_study(digits, tmp_path / "a", seed=4, log=lambda line: None, **settings)
    second = regularization.regularization_study(digits, tmp_path / "b", seed=4, log=lambda line: None, **settings)
    drop_time = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert drop_time(first) == drop_time(second)


@pytest.mark.parametrize("grids, message", [(dict(l2_grid=()), "l2_grid"), (dict(decay_grid=(1.0, 0.1)), "decay_grid"),
                                            (dict(dropout_grid=(0.5, 1.0)), "dropout_grid")])
def test_bad_grid_is_named(digits, tmp_path, grids, message):
    with pytest.raises(ValueError, match=message):
        regularization.regularization_study(digits, tmp_path, **grids)


def test_script_runs(tmp_path, capsys):
    regularization.main(["--dataset", "digits", "--n-train", "100", "--n-val", "100", "--n-test", "100",
                         "--l2", "0.01", "--l1", "0.001", "--weight-decay", "1", "--dropout", "0.5",
                         "--hidden-sizes", "16",
                         "--epochs", "2", "--out", str(tmp_path)])
    _, rows = read_csv(tmp_path / "results.csv")
    assert [r["kind"] for r in rows] == list(regularization.KINDS)
    assert "results in" in capsys.readouterr().out
