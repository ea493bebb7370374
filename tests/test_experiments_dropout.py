"""Experiment 11, dropout's two forms, at a tiny size."""
import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import dropout


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=400, n_val=100, n_test=100)


def test_both_forms_meet_their_expectation_and_train(digits, tmp_path):
    rows = dropout.dropout_forms(digits, tmp_path, hidden=64, masks=300, rows=16, epochs=3, log=lambda line: None)
    assert [row["mode"] for row in rows] == ["inverted", "classic"]
    for row in rows:
        assert row["largest_deviation"] < 0.15 * row["largest_score"]  # 300 fixed masks: the mean is close
        assert row["best_val_acc"] > 0.8
    columns, table = read_csv(tmp_path / "dropout_forms.csv")
    assert columns == dropout.COLUMNS and len(table) == 2
    assert_png(tmp_path / "dropout_forms.png")


def test_script_runs(tmp_path, capsys):
    dropout.main(["--n-train", "200", "--n-val", "50", "--hidden", "16", "--masks", "20", "--epochs", "1",
                  "--out", str(tmp_path)])
    assert "results in" in capsys.readouterr().out and (tmp_path / "dropout_forms.png").exists()


def test_bad_options_are_named(digits, tmp_path):
    with pytest.raises(ValueError, match="dropout"):
        dropout.dropout_forms(digits, tmp_path, dropout=0.0)
    with pytest.raises(ValueError, match="masks"):
        dropout.dropout_forms(digits, tmp_path, masks=0)
