"""Experiment 12, babysitting the learning process, at a tiny size."""
import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import babysitting
from mlp_scratch.experiments.common import batches_per_epoch


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=600, n_val=150, n_test=100)


def test_each_run_shows_its_fault(digits, tmp_path):
    rows = babysitting.babysitting(digits, tmp_path, hidden_sizes=(32, 32, 32), epochs=3, log=lambda line: None)
    low, right, high, bad = rows
    assert [row["run"] for row in rows] == ["lr 2e-05: too low", "lr 0.01: about right", "lr 0.3: too high",
                                             "init std 0.001, lr 0.01"]
    assert "likely too low" in low["warnings"] and "too high" not in low["warnings"]
    assert right["warnings"] == "none"
    assert "likely too high" in high["warnings"]
    assert "vanishes" in bad["warnings"] and bad["loss_grad_first_over_last"] < 1e-3
    assert right["best_val_acc"] > max(low["best_val_acc"], bad["best_val_acc"]) + 0.3
    columns, records = read_csv(tmp_path / "diagnostics.csv")
    assert columns[:4] == ["run", "step", "epoch", "layer"]
    steps = batches_per_epoch(digits, 64)  # 10: a record every 2 steps
    for row in rows:  # the table's figures are the records'
        mine = [record for record in records if record["run"] == row["run"]]
        assert len(mine) == 3 * steps // (steps // babysitting.RECORDS_PER_EPOCH) * 4
        assert row["largest_update_ratio"] == max(float(record["update_ratio_mean"]) for record in mine)
    columns, table = read_csv(tmp_path / "babysitting.csv")
    assert columns == babysitting.COLUMNS and len(table) == 4
    assert_png(tmp_path / "babysitting.png")


def test_script_runs(tmp_path, capsys):
    babysitting.main(["--dataset", "digits", "--n-train", "200", "--n-val", "50", "--hidden-sizes", "16",
                      "--epochs", "1", "--out", str(tmp_path)])
    assert "results in" in capsys.readouterr().out and (tmp_path / "babysitting.png").exists()


def test_bad_options_are_named(digits, tmp_path):
    with pytest.raises(ValueError, match="high"):
        babysitting.babysitting(digits, tmp_path, high=0)
    with pytest.raises(ValueError, match="epochs"):
        babysitting.babysitting(digits, tmp_path, epochs=0)
