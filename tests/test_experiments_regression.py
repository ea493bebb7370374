"""Experiment 13: MLPRegressor against scikit-learn's at equal settings."""
import numpy as np
import pytest
from sklearn.metrics import r2_score

from mlp_scratch import datasets
from mlp_scratch.experiments.regression import compare_regressors, equal_l2, regressors


def test_equal_settings_give_scikit_learns_r2_within_the_seeds_spread(tmp_path):
    summary = compare_regressors(tmp_path, epochs=150, seeds=range(3), log=lambda line: None)
    ours, theirs = summary
    assert ours["side"] == "mlp-scratch" and theirs["side"] == "scikit-learn"
    assert ours["test_r2"] > 0.35 and theirs["test_r2"] > 0.35
    assert abs(ours["test_r2"] - theirs["test_r2"]) < max(ours["test_r2_std"], theirs["test_r2_std"])
    assert (tmp_path / "regression.png").stat().st_size > 0
    trials = (tmp_path / "trials.csv").read_text().splitlines()
    assert len(trials) == 1 + 2 * 3 and all(",150," in row for row in trials[1:])  # every epoch ran


def test_the_reported_r2_is_the_test_sets():
    data = datasets.load("friedman1", seed=1, dtype="float64")
    estimator = regressors([16], 1e-2, 1e-4, 64, 20, 0)["mlp-scratch"].fit(data.X_train, data.y_train)
    assert estimator.score(data.X_test, data.y_test) == pytest.approx(
        r2_score(data.y_test, estimator.predict(data.X_test)), rel=1e-12)


def test_equal_l2_makes_the_objectives_proportional():
    """Ours (MSE + 0.5 l2 |W|^2) is twice scikit-learn's (MSE / 2 + alpha / (2 batch) |W|^2)."""
    rng = np.random.default_rng(0)
    squared_errors, weights, alpha, batch = rng.random(50), rng.standard_normal(30), 3e-2, 50
    ours = squared_errors.mean() + 0.5 * equal_l2(alpha, batch) * np.sum(weights ** 2)
    theirs = squared_errors.mean() / 2 + alpha / (2 * batch) * np.sum(weights ** 2)
    assert ours == pytest.approx(2 * theirs, rel=1e-14)


def test_a_classification_set_is_refused(tmp_path):
    with pytest.raises(ValueError, match="regression sets"):
        compare_regressors(tmp_path, dataset="digits")
