"""MLPClassifier against scikit-learn's own estimator checks, and inside its tools."""
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlp_scratch import MLPClassifier


@parametrize_with_checks([MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0),
                          MLPClassifier(hidden_layer_sizes=(16,), batchnorm=True, optimizer="sgd", lr=0.05,
                                        optimizer_params={"momentum": 0.9}, max_iter=50, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def test_pipeline_grid_search_and_cross_validation(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), lr=0.01, max_iter=30, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.9
    search = GridSearchCV(pipe, {"mlpclassifier__batchnorm": [False, True], "mlpclassifier__lr": [3e-3, 1e-2]}, cv=2)
    search.fit(X, y)
    assert search.best_score_ > 0.9 and set(search.best_params_) == {"mlpclassifier__batchnorm", "mlpclassifier__lr"}


def test_string_labels_probabilities_and_attributes():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), lr=0.01, max_iter=200, random_state=0).fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"] and clf.n_features_in_ == 4
    assert clf.score(X, names) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.model_.dtype == np.float64
    assert MLPClassifier(max_iter=2).fit(X.astype(np.float32), y).model_.dtype == np.float32


def test_early_stopping_keeps_the_best_validation_parameters(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3, max_iter=100,
                        lr=0.01, random_state=0).fit(X, y)
    assert clf.n_iter_ < 100 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.9


def test_warm_start_and_partial_fit_continue_the_optimizer_exactly(digits):
    X, y = digits
    straight = MLPClassifier(hidden_layer_sizes=(16,), max_iter=6, n_iter_no_change=100, random_state=0).fit(X, y)
    halves = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, n_iter_no_change=100, warm_start=True,
                           random_state=0)
    halves.fit(X, y).fit(X, y)
    np.testing.assert_array_equal(halves.model_.flat_params, straight.model_.flat_params)
    assert halves.optimizer_.steps == straight.optimizer_.steps
    epochs = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    for _ in range(6):
        epochs.partial_fit(X, y, classes=np.arange(10))
    np.testing.assert_array_equal(epochs.model_.flat_params, straight.model_.flat_params)
    with pytest.raises(ValueError, match="classes must be given"):
        MLPClassifier().partial_fit(X, y)


def test_bad_parameters_are_reported_at_fit():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(dropout=1.5).fit(X, y)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        MLPClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier().fit(X, np.zeros(len(y)))
