"""Experiment 1, optimizer comparison, at a tiny size."""
import json

import numpy as np
import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import compare
from mlp_scratch.experiments.common import (FIRST_ORDER, METHODS, check_method, format_table, make_method, mean_and_spread,
                                            parser, smooth)


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=300, n_val=100, n_test=200)


def test_compare_writes_tables_and_figures(digits, tmp_path):
    summary = compare.compare_optimizers(digits, tmp_path, seeds=(0, 1), epochs=4, batch_size=25,
                                         lbfgs_iterations=5, log=lambda line: None)
    assert [row["method"] for row in summary] == list(METHODS)
    columns, trials = read_csv(tmp_path / "trials.csv")
    assert len(trials) == 2 * len(METHODS)
    assert {"method", "lr", "seed", "final_train_loss", "final_val_acc", "best_val_acc", "test_acc", "seconds"} <= set(columns)
    columns, rows = read_csv(tmp_path / "summary.csv")
    assert columns == compare.SUMMARY and len(rows) == len(METHODS)
    # BFGS's N x N matrix for 64-256-10 (19,210 parameters, 2.75 GiB) is refused: its runs are failed rows
    bfgs = [t for t in trials if t["method"] == "bfgs"]
    assert all(t["status"] == "error" and "19,210 parameters need 2.75 GiB" in t["error"] for t in bfgs)
    rows = [row for row in rows if row["method"] != "bfgs"]
    for row in rows:  # the summary is the mean of the trials, and the best of the starts
        measured = [t for t in trials if t["method"] == row["method"]]
        accs = [float(t["test_acc"]) for t in measured]
        assert float(row["test_acc"]) == pytest.approx(np.mean(accs))
        assert float(row["test_acc_std"]) == pytest.approx(np.std(accs, ddof=1))
        assert float(row["test_acc_range"]) == pytest.approx(max(accs) - min(accs))
        best = max(measured, key=lambda t: float(t["best_val_acc"]))
        assert float(row["test_acc_best"]) == float(best["test_acc"])
        assert float(row["final_train_loss_best"]) == min(float(t["final_train_loss"]) for t in measured)
    assert json.loads((tmp_path / "summary.json").read_text())[0]["method"] == "sgd"
    for name in ("loss", "val_accuracy", "test_accuracy"):
        assert_png(tmp_path / f"{name}.png")
    # every gradient method learns digits well above chance (10%) in 48 steps; random search does not
    accuracy = {r["method"]: float(r["test_acc"]) for r in rows}
    assert min(accuracy[m] for m in FIRST_ORDER + ["lbfgs", "hessian-free"]) > 0.6 and accuracy["random-search"] < 0.4


def test_compare_is_reproducible(digits, tmp_path):
    run = lambda folder: compare.compare_optimizers(digits, folder, methods=["momentum", "adam"], seeds=(3,),
                                                   epochs=1, log=lambda line: None)
    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    for a, b in zip(first, second):
        assert (a["test_acc"], a["final_train_loss"]) == (b["test_acc"], b["final_train_loss"])


def test_lr_search_picks_the_best_validation_accuracy(digits, tmp_path):
    compare.compare_optimizers(digits, tmp_path, methods=["sgd"], seeds=(0,), epochs=1, lr_search=True,
                               log=lambda line: None)
    _, tried = read_csv(tmp_path / "lr_search.csv")
    assert len(tried) == len(compare.LR_FACTORS)
    best = max(tried, key=lambda r: (float(r["val_acc"]), -float(r["val_loss"])))
    _, rows = read_csv(tmp_path / "summary.csv")
    assert float(rows[0]["lr"]) == float(best["lr"])


def test_given_learning_rates_are_used(digits, tmp_path):
    summary = compare.compare_optimizers(digits, tmp_path, methods=["adam"], lrs={"adam": 0.004}, seeds=(0,),
                                         epochs=1, log=lambda line: None)
    assert summary[0]["lr"] == 0.004


def test_bad_method_is_named(digits, tmp_path):
    with pytest.raises(ValueError, match="methods must be"):
        compare.compare_optimizers(digits, tmp_path, methods=["adamax"])


def test_helpers():
    assert smooth([1, 2, 3, 4], 2).tolist() == [1, 1.5, 2.5, 3.5]
    assert mean_and_spread([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2)))
    assert mean_and_spread([5.0]) == (5.0, 0.0)
    text = format_table([{"a": 1, "b": 0.123456}], ["a", "b"], title="T")
    assert text.splitlines() == ["T", "a       b", "-  ------", "1  0.1235"]


def test_script_runs(tmp_path, capsys):
    compare.main(["--dataset", "digits", "--n-train", "200", "--n-val", "100", "--methods", "sgd", "lbfgs",
                  "hessian-free", "--starts", "2", "--epochs", "1", "--lbfgs-iterations", "3", "--newton-iterations",
                  "2", "--lr", "sgd", "0.05", "--out", str(tmp_path)])
    _, rows = read_csv(tmp_path / "summary.csv")
    assert [r["method"] for r in rows] == ["sgd", "lbfgs", "hessian-free"] and float(rows[0]["lr"]) == 0.05
    _, trials = read_csv(tmp_path / "trials.csv")
    assert [(t["method"], t["seed"], t["iterations"]) for t in trials] == [
        ("sgd", "0", "1"), ("sgd", "1", "1"), ("lbfgs", "0", "3"), ("lbfgs", "1", "3"), ("hessian-free", "0", "2"),
        ("hessian-free", "1", "2")]
    assert "results in" in capsys.readouterr().out


def test_a_different_seed_changes_the_result(digits, tmp_path):
    run = lambda seed: compare.compare_optimizers(digits, tmp_path / str(seed), methods=["momentum"], seeds=(seed,),
                                                  epochs=1, log=lambda line: None)[0]["final_train_loss"]
    assert run(0) != run(1)


@pytest.mark.parametrize("options, message", [
    (dict(seeds=()), "seeds must name at least one seed"),
    (dict(lrs={"lbfgs": 0.1}), "lbfgs has no learning rate"),
    (dict(lrs={"adamax": 0.1}), "methods must be"),
])
def test_bad_options_are_named(digits, tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        compare.compare_optimizers(digits, tmp_path, **options)
    assert not (tmp_path / "summary.csv").exists()


def test_methods_are_checked_before_training():
    with pytest.raises(ValueError, match="method must be one of"):
        make_method("adamax")
    with pytest.raises(ValueError, match="method must be one of"):
        check_method("lbfgs", first_order=True)
    assert check_method("lbfgs") == "lbfgs"


def test_parser_offers_seed_only_where_there_is_randomness():
    assert parser("d", "x").parse_args([]).seed == 0
    assert not hasattr(parser("d", "x", seed=False).parse_args([]), "seed")
