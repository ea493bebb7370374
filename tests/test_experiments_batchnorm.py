"""Experiment 5, batch norm across weight scales, at a tiny size."""
import math

import numpy as np
import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import batchnorm
from mlp_scratch.trainer import History

HIDDEN = (64,) * 5
INITS = (1e-3, 1e-1, "he")
LABELS = ["std 0.001", "std 0.1", "He"]


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=300, n_val=100, n_test=200)


@pytest.fixture(scope="module")
def experiment(digits, tmp_path_factory):
    """The study, recording the initial weights of every model it trains."""
    out = tmp_path_factory.mktemp("batchnorm")
    started, real_train = [], batchnorm.train

    def recording_train(data, *, model, **settings):
        started.append((model.batchnorm, {k: v.copy() for k, v in model.params.items() if k.startswith("W")}))
        return real_train(data, model=model, **settings)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batchnorm, "train", recording_train)
        summary = batchnorm.batchnorm_study(digits, out, inits=INITS, hidden_sizes=HIDDEN, epochs=3, batch_size=25,
                                            target=0.6, curve_inits=("he", 1e-3), log=lambda line: None)
    return out, summary, started


def test_batchnorm_writes_tables_and_figures(experiment):
    out, summary, _ = experiment
    assert [row["init"] for row in summary] == LABELS
    columns, trials = read_csv(out / "trials.csv")
    assert columns == batchnorm.TRIALS
    assert [(t["init"], t["batchnorm"]) for t in trials] == [(i, b) for i in LABELS for b in ("False", "True")]
    columns, rows = read_csv(out / "summary.csv")
    assert columns == batchnorm.SUMMARY and [r["init"] for r in rows] == LABELS
    for row in rows:  # the summary puts the trials side by side
        for key in ("val_acc", "test_acc", "epochs_to_target"):
            pair = [t[key] for t in trials if t["init"] == row["init"]]
            assert [row[f"{key}_plain"], row[f"{key}_bn"]] == pair
    for name in ("accuracy_vs_scale", "training_speed"):
        assert_png(out / f"{name}.png")


def test_both_models_of_a_pair_start_from_the_same_weights(experiment):
    _, _, started = experiment
    assert [bn for bn, _ in started] == [False, True] * len(INITS)
    for (_, plain), (_, bn) in zip(started[::2], started[1::2]):
        assert list(plain) == list(bn) == [f"W{l}" for l in range(1, len(HIDDEN) + 2)]
        assert all(np.array_equal(plain[name], bn[name]) for name in plain)
    # and different initializations really differ
    assert not np.allclose(started[0][1]["W1"], started[2][1]["W1"])


def test_model_pair(digits):
    plain, bn = batchnorm.model_pair(digits, 0.05, [16, 8], seed=7)
    assert (plain.batchnorm, bn.batchnorm) == (False, True)
    for l in (1, 2, 3):
        np.testing.assert_array_equal(plain.params[f"W{l}"], bn.params[f"W{l}"])
    assert np.all(bn.params["gamma1"] == 1) and np.all(bn.params["beta1"] == 0) and np.all(plain.params["b1"] == 0)
    assert plain.params["W1"].std() == pytest.approx(0.05, rel=0.1)
    other, _ = batchnorm.model_pair(digits, 0.05, [16, 8], seed=8)
    assert not np.array_equal(other.params["W1"], plain.params["W1"])


def test_batchnorm_trains_where_tiny_weights_stall_the_plain_net(experiment):
    out, summary, _ = experiment
    tiny = summary[0]
    assert tiny["init"] == "std 0.001"
    # the plain net's signal vanishes (1e-3 * sqrt(32) = 0.006 per layer): chance level; batch norm restores it
    assert tiny["test_acc_plain"] < 0.2
    assert tiny["test_acc_bn"] > tiny["test_acc_plain"] + 0.4
    assert math.isnan(tiny["epochs_to_target_plain"]) and tiny["epochs_to_target_bn"] <= 3  # target 0.6


def test_epochs_to_target():
    history = History(epochs=[{"epoch": e, "val_acc": a} for e, a in ((1, 0.5), (2, 0.85), (3, 0.95))])
    assert batchnorm.epochs_to_target(history, 0.8) == 2
    assert batchnorm.epochs_to_target(history, 0.95) == 3
    assert math.isnan(batchnorm.epochs_to_target(history, 0.99))
    assert math.isnan(batchnorm.epochs_to_target(History(), 0.1))


def test_bad_arguments_are_named(digits, tmp_path):
    with pytest.raises(ValueError, match="curve_inits must be among inits"):
        batchnorm.batchnorm_study(digits, tmp_path, inits=[0.01], curve_inits=["he"])
    with pytest.raises(ValueError, match="target"):
        batchnorm.batchnorm_study(digits, tmp_path, inits=[0.01], curve_inits=[0.01], target=1.5)
    with pytest.raises(ValueError, match="init must be"):
        batchnorm.batchnorm_study(digits, tmp_path, inits=["big"])


def test_script_runs(tmp_path, capsys):
    batchnorm.main(["--dataset", "digits", "--n-train", "200", "--n-val", "100", "--inits", "0.01", "he",
                    "--curve-inits", "he", "--hidden-sizes", "32", "32", "--epochs", "1", "--out", str(tmp_path)])
    _, rows = read_csv(tmp_path / "summary.csv")
    assert [r["init"] for r in rows] == ["std 0.01", "He"]
    assert "results in" in capsys.readouterr().out
