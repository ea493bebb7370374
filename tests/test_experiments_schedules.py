"""Experiment 3, learning-rate schedules, at a tiny size."""
import json
import math

import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import schedules
from mlp_scratch.experiments.schedules import SCHEDULES

LR0, EPOCHS, BATCH = 0.05, 4, 25
PER_EPOCH = 12  # 300 training samples in batches of 25


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=300, n_val=100, n_test=200)


@pytest.fixture(scope="module")
def run(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("schedules")
    rows = schedules.compare_schedules(digits, out, lr0=LR0, epochs=EPOCHS, batch_size=BATCH, hidden_sizes=(32,),
                                       log=lambda line: None)
    return out, rows, json.loads((out / "history.json").read_text())


def closed_form(name, settings, t):
    """The learning rate of step t (0, 1, ...), written out from each schedule's textbook formula."""
    epoch, total = t // PER_EPOCH, EPOCHS * PER_EPOCH
    base = {"constant": lambda: LR0,
            "warmup-constant": lambda: LR0,
            "step": lambda: LR0 * settings["gamma"] ** (epoch // settings["step_size"]),
            "exponential": lambda: LR0 * settings["gamma"] ** epoch,
            "inverse-time": lambda: LR0 / (1 + settings["k"] * t),
            "cosine": lambda: LR0 * (1 + math.cos(math.pi * t / total)) / 2,
            "warmup-cosine": lambda: LR0 * (1 + math.cos(math.pi * t / total)) / 2}[name]()
    warmup = settings.get("warmup")
    return base * min(1.0, (t + 1) / warmup) if warmup else base


def test_recorded_learning_rates_are_the_closed_forms(run):
    _, rows, histories = run
    assert list(histories) == SCHEDULES
    for row, (name, history) in zip(rows, histories.items()):
        lrs = history["iteration_lr"]
        assert len(lrs) == EPOCHS * PER_EPOCH
        expected = [closed_form(name, history["settings"], t) for t in range(len(lrs))]
        assert max(abs(a - b) for a, b in zip(lrs, expected)) < 1e-12, name
        assert abs(row["final_lr"] - expected[-1]) < 1e-12


def test_settings_follow_the_run_length(run):
    _, _, histories = run
    assert histories["step"]["settings"] == {"step_size": 1, "gamma": 0.3}
    assert histories["warmup-cosine"]["settings"]["warmup"] == PER_EPOCH
    # exponential and 1/t end at a tenth of lr0 (default final_fraction), cosine near 0, warm-up starts low
    assert histories["exponential"]["iteration_lr"][-1] == pytest.approx(LR0 / 10, rel=1e-12)
    assert histories["inverse-time"]["iteration_lr"][-1] == pytest.approx(LR0 / 10, rel=1e-12)
    assert histories["cosine"]["iteration_lr"][-1] < LR0 * 1e-2
    assert histories["warmup-constant"]["iteration_lr"][0] == pytest.approx(LR0 / PER_EPOCH)


def test_tables_and_figures(run):
    out, rows, histories = run
    columns, table = read_csv(out / "schedules.csv")
    assert columns == schedules.COLUMNS and [r["schedule"] for r in table] == SCHEDULES
    for row, (name, history) in zip(table, histories.items()):
        epochs = history["epochs"]
        assert float(row["final_val_acc"]) == epochs[-1]["val_acc"]
        assert float(row["best_val_acc"]) == max(e["val_acc"] for e in epochs)
        assert float(row["final_train_loss"]) == epochs[-1]["train_loss"]
    # every schedule learns digits well above chance (10%) in 48 steps
    assert min(float(r["test_acc"]) for r in table) > 0.6
    for name in ("learning_rate", "loss", "val_accuracy"):
        assert_png(out / f"{name}.png")


def test_same_seed_same_run(digits, tmp_path):
    def final_loss(folder):
        rows = schedules.compare_schedules(digits, folder, schedules=["cosine"], epochs=1, batch_size=BATCH,
                                           hidden_sizes=(16,), log=lambda line: None)
        return rows[0]["final_train_loss"], rows[0]["test_acc"]
    assert final_loss(tmp_path / "a") == final_loss(tmp_path / "b")


def test_bad_arguments_are_named(digits, tmp_path):
    with pytest.raises(ValueError, match="schedules must be"):
        schedules.compare_schedules(digits, tmp_path, schedules=["onecycle"])
    with pytest.raises(ValueError, match="method must be"):
        schedules.compare_schedules(digits, tmp_path, method="lbfgs")
    with pytest.raises(ValueError, match="final_fraction"):
        schedules.compare_schedules(digits, tmp_path, final_fraction=0.0)
    with pytest.raises(ValueError, match="step_size"):
        schedules.compare_schedules(digits, tmp_path, step_size=0)
    with pytest.raises(ValueError, match="warmup_epochs"):
        schedules.compare_schedules(digits, tmp_path, warmup_epochs=0)


def test_script_runs(tmp_path, capsys):
    schedules.main(["--dataset", "digits", "--n-train", "200", "--n-val", "100", "--schedules", "constant", "step",
                    "--epochs", "2", "--step-size", "1", "--gamma", "0.5", "--lr0", "0.02", "--method", "sgd",
                    "--hidden-sizes", "16", "--out", str(tmp_path)])
    _, rows = read_csv(tmp_path / "schedules.csv")
    assert [r["schedule"] for r in rows] == ["constant", "step"]
    assert float(rows[0]["final_lr"]) == 0.02 and float(rows[1]["final_lr"]) == pytest.approx(0.01, rel=1e-12)
    assert rows[1]["settings"] == "step_size=1, gamma=0.5"
    assert "results in" in capsys.readouterr().out
