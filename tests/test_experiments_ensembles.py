"""Experiment 8, model ensembles, at a tiny size."""
import math

import numpy as np
import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import ensembles
from mlp_scratch.experiments.common import batches_per_epoch, train

SETTINGS = dict(method="momentum", lr=0.05, hidden_sizes=(32,), batch_size=25, l2=1e-4, batchnorm=False,
                restore_best=False)


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=300, n_val=100, n_test=200)


@pytest.fixture(scope="module")
def three_models(digits):
    return [train(digits, seed=seed, epochs=2, **SETTINGS)[0] for seed in (0, 1, 2)]


def test_ensemble_probabilities_are_the_members_mean(digits, three_models):
    total = np.zeros((len(digits.y_test), digits.n_classes))
    for model in three_models:  # NumPy oracle: sum in float64, divide by the count
        total += model.predict_proba(digits.X_test)
    proba = ensembles.ensemble_proba(three_models, digits.X_test)
    np.testing.assert_array_equal(proba, total / 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_ensemble_is_at_least_as_accurate_as_its_members_on_average(digits, three_models):
    members = [model.score(digits.X_test, digits.y_test) for model in three_models]
    assert len(set(members)) > 1  # the seeds gave different models
    assert ensembles.accuracy(ensembles.ensemble_proba(three_models, digits.X_test), digits.y_test) >= np.mean(members)


def test_averages_equal_hand_computed_ones(digits):
    averages = ensembles.ParameterAverages(start=2, decay=0.6, keep=True)
    model, _, _ = train(digits, seed=0, epochs=5, on_epoch_end=averages, **SETTINGS)
    assert averages.epochs == [2, 3, 4, 5]
    flats = [np.concatenate(s).astype(np.float64) for s in averages.snapshots]
    assert not np.array_equal(flats[0], flats[1])  # copies, not views of the training buffers
    np.testing.assert_array_equal(averages.snapshots[-1][0], model.flat_params)
    ema = flats[0]
    for flat in flats[1:]:
        ema = 0.6 * ema + 0.4 * flat
    np.testing.assert_allclose(averages.ema, ema, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(averages.mean, np.mean(flats, axis=0), rtol=1e-10, atol=1e-12)
    averaged = averages.model(model, "mean")
    np.testing.assert_array_equal(averaged.flat_params, averages.mean[:model.flat_params.size].astype(np.float32))


def test_no_snapshot_is_refused():
    with pytest.raises(ValueError, match="no snapshot"):
        ensembles.ParameterAverages(start=3).model(None, "mean")


def test_cosine_warm_restarts():
    schedule = ensembles.CosineWarmRestarts(10)
    assert schedule(0.2, 0, 0) == 0.2 and schedule(0.2, 0, 10) == 0.2 and schedule(0.2, 0, 20) == 0.2
    assert schedule(0.2, 0, 5) == pytest.approx(0.1) and schedule(0.2, 0, 15) == pytest.approx(0.1)
    assert schedule(0.2, 0, 9) == pytest.approx(0.1 * (1 + math.cos(0.9 * math.pi)))
    assert ensembles.CosineWarmRestarts(2, per="epoch")(1.0, 3, 999) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="cycle_length"):
        ensembles.CosineWarmRestarts(0)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_cycles_end_at_epoch_ends(digits, batchnorm):
    # 301 samples in batches of 25: a last batch of one, which joins the one before under batch norm
    data = datasets.load("digits", n_train=301, n_val=100, n_test=100)
    steps = batches_per_epoch(data, 25, batchnorm)
    assert steps == (12 if batchnorm else 13)
    settings = dict(SETTINGS, batchnorm=batchnorm)
    _, history, _ = train(data, seed=0, epochs=4, schedule=ensembles.CosineWarmRestarts(2 * steps), **settings)
    lr = np.asarray(history.iteration_lr)
    assert len(lr) == 4 * steps
    assert lr[0] == lr[2 * steps] == 0.05  # each cycle restarts at an epoch start
    assert lr[2 * steps - 1] == lr[-1] == lr.min()


def test_experiment_writes_tables_and_figures(digits, tmp_path):
    lines = []
    summary = ensembles.model_ensembles(digits, tmp_path, members=3, epochs=4, cycles=3, cycle_epochs=2,
                                        hidden_sizes=(32,), batch_size=25, log=lines.append)
    columns, rows = read_csv(tmp_path / "summary.csv")
    assert columns == ensembles.SUMMARY and [r["kind"] for r in rows] == ["seeds", "snapshots"]
    _, members = read_csv(tmp_path / "members.csv")
    assert [m["member"] for m in members] == ["seed 0", "seed 1", "seed 2", "epoch 2", "epoch 4", "epoch 6"]
    _, sizes = read_csv(tmp_path / "ensemble_size.csv")
    assert len(sizes) == 6
    for row in summary:
        accs = [float(m["test_acc"]) for m in members if m["kind"] == row["kind"]]
        assert row["member_acc"] == pytest.approx(np.mean(accs))
        by_size = [s for s in sizes if s["kind"] == row["kind"]]
        assert float(by_size[0]["ensemble_acc"]) == accs[0]  # one member is its own ensemble
        assert float(by_size[-1]["ensemble_acc"]) == row["ensemble_acc"]
        assert 0.5 < row["swa_acc"] <= 1 and 0.5 < row["ema_acc"] <= 1
    assert summary[0]["epochs_trained"] == 12 and summary[1]["epochs_trained"] == 6
    for name in ("ensemble_size", "cyclic_lr"):
        assert_png(tmp_path / f"{name}.png")
    assert "ensemble_acc" in lines[-1]


def test_bad_arguments_are_named(digits, tmp_path):
    with pytest.raises(ValueError, match="average_from"):
        ensembles.model_ensembles(digits, tmp_path, epochs=3, average_from=4)
    with pytest.raises(ValueError, match="method"):
        ensembles.model_ensembles(digits, tmp_path, method="lbfgs")


def test_script_runs(tmp_path, capsys):
    ensembles.main(["--dataset", "digits", "--n-train", "200", "--n-val", "100", "--members", "2", "--epochs", "2",
                    "--cycles", "2", "--cycle-epochs", "1", "--hidden-sizes", "16", "--out", str(tmp_path)])
    _, rows = read_csv(tmp_path / "summary.csv")
    assert [r["members"] for r in rows] == ["2", "2"]
    assert "results in" in capsys.readouterr().out
