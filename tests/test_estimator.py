"""MLPClassifier and MLPRegressor against scikit-learn's own estimator checks, and inside its tools."""
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlp_scratch import MLPClassifier, MLPRegressor, datasets


@parametrize_with_checks([MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0),
                          MLPClassifier(hidden_layer_sizes=(16,), batchnorm=True, optimizer="sgd", lr=0.05,
                                        optimizer_params={"momentum": 0.9}, max_iter=50, random_state=0),
                          MLPRegressor(hidden_layer_sizes=(16,), lr=0.01, max_iter=100, random_state=0),
                          MLPRegressor(hidden_layer_sizes=(16,), batchnorm=True, optimizer="sgd", lr=0.005,
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


SPREAD = np.array([-100, -3, 0, 2, 5, 7, 11, 50, 90, 120], np.int8)  # spanning more than int8 holds


def test_labels_that_are_their_own_indices_train_as_any_other_labels(digits):
    """Labels 0..K-1 skip the encoder (estimator._validate): the same training as shifted labels,
    which go through it, and the same errors and warnings."""
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = [MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X, labels)
                  for labels in (y, y + 10, y.astype(np.uint8), SPREAD[y])]
    for clf in fitted[1:]:
        np.testing.assert_array_equal(clf.model_.flat_params, fitted[0].model_.flat_params)
    np.testing.assert_array_equal(fitted[1].predict(X), fitted[0].predict(X) + 10)
    # Integer labels in a range under half the samples are counted, not encoded: classes_ as np.unique's
    assert fitted[3].classes_.dtype == np.int8 and np.array_equal(fitted[3].classes_, SPREAD)
    np.testing.assert_array_equal(fitted[3].predict(X), SPREAD[fitted[0].predict(X)])
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1, random_state=0)
    with pytest.raises(ValueError, match="unseen labels"):  # outside the classes given: not an index
        clf.partial_fit(X[:50], np.where(y[:50] == 9, 10, y[:50]), classes=np.arange(10))
    with pytest.warns(UserWarning, match="greater than 50% of the number"):  # scikit-learn's own warning
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X[:40], np.arange(40))
    with pytest.raises(ValueError, match="labels \\[10\\] not in classes_"):
        fitted[0].partial_fit(X[:5], np.array([0, 1, 2, 3, 10]))


def test_early_stopping_keeps_the_best_validation_parameters(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3, max_iter=100,
                        lr=0.01, random_state=0).fit(X, y)
    assert clf.n_iter_ < 100 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.9


def test_estimator_early_stopping_restores_the_best_parameters():
    from mlp_scratch import MLPClassifier

    data = datasets.load("digits")
    clf = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=2, max_iter=30, lr=0.05,
                        random_state=0).fit(data.X_train, data.y_train)
    # re-score the held-out split with the parameters in place: they are the best epoch's
    from sklearn.model_selection import train_test_split
    X_fit, y_fit = clf._validate(data.X_train, data.y_train, reset=False)
    _, X_val, _, y_val = train_test_split(X_fit, y_fit, test_size=0.1, stratify=y_fit, random_state=clf._seed)
    assert clf.model_.evaluate(X_val, y_val)[1] == clf.best_validation_score_


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


def test_estimator_feeds_the_plateau_schedule_and_keeps_the_step_clock():
    from mlp_scratch import MLPClassifier

    X, y = datasets.load("digits").X_train, datasets.load("digits").y_train
    clf = MLPClassifier(hidden_layer_sizes=(16,), schedule="plateau", schedule_params={"patience": 0, "factor": 0.5,
                        "threshold": 0.9}, max_iter=4, random_state=0).fit(X, y)
    assert clf._run_state["schedule"]["scale"] < 1  # no epoch improves by 90%: the rate was cut
    decaying = MLPClassifier(hidden_layer_sizes=(16,), schedule="exp-decay", schedule_params={"k": 0.01},
                             dropout=0.2, random_state=0)
    for size in (200, 300, 200):  # a new runner per size: the step clock must go on
        decaying.partial_fit(X[:size], y[:size], classes=np.arange(10))
    lrs = decaying._run_state["history"]["iteration_lr"]
    assert lrs == sorted(lrs, reverse=True) and len(set(lrs)) == len(lrs)


def test_bad_parameters_are_reported_at_fit():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(dropout=1.5).fit(X, y)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        MLPClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier().fit(X, np.zeros(len(y)))


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_x_is_checked_once_and_its_errors_name_x(Estimator, monkeypatch):
    """scikit-learn's finite check of X is off: the package's one pass checks X (naming it X, as the
    user passed it, not the trainer's X_train) and, in fit, finds the bound on |x| the Trainer needs."""
    import sklearn.utils.validation

    import mlp_scratch.validation
    X, y = load_iris(return_X_y=True)
    passes = []
    for module, name in ((mlp_scratch.validation, "largest_magnitude"), (sklearn.utils.validation, "_assert_all_finite")):
        original = getattr(module, name)

        def counted(A, *args, original=original, name=name, **kwargs):
            if np.shares_memory(A, X):  # a view or X itself: the training data, not y or parameters
                passes.append(name)
            return original(A, *args, **kwargs)
        monkeypatch.setattr(module, name, counted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = Estimator(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    assert passes == ["largest_magnitude"]
    passes.clear()
    fitted.partial_fit(X, y)
    assert passes == ["largest_magnitude"]
    passes.clear()
    fitted.predict(X)
    assert passes == ["largest_magnitude"]
    for value in (np.nan, np.inf):
        bad = X.copy()
        bad[3, 1] = value
        for fit in (Estimator().fit, fitted.partial_fit, lambda X, y: fitted.predict(X)):
            with pytest.raises(ValueError, match="^X must not contain NaN or infinity$"):
                fit(bad, y)
    with pytest.raises(ValueError, match="^X has values too large for float32$"):
        Estimator(dtype="float32").fit(X * 1e300, y)


def test_estimator_parameters_are_checked_at_fit():
    from mlp_scratch import MLPClassifier

    X, y = datasets.load("iris").X_train, datasets.load("iris").y_train
    for params, message in (({"max_iter": 0}, "max_iter"), ({"tol": None}, "tol"),
                            ({"early_stopping": "yes"}, "early_stopping"), ({"validation_fraction": 1.5},
                            "validation_fraction"), ({"optimizer_params": {"bogus": 1}}, "optimizer_params"),
                            ({"schedule": "cosine"}, "schedule_params")):
        with pytest.raises(ValueError, match=message):
            MLPClassifier(**params).fit(X, y)
    assert MLPClassifier(hidden_layer_sizes=5, max_iter=2).fit(X, y).model_.hidden_sizes == [5]


def test_loss_curve_weights_each_batch_by_its_size(digits):
    """scikit-learn's loss_curve_ is the epoch's batch losses weighted by batch size; 100 samples in
    batches of 32 end with a batch of 4, which a plain mean would weigh like the others."""
    from mlp_scratch import MLP, Trainer
    from mlp_scratch.optim import Adam
    X, y = digits[0][:100], digits[1][:100]
    clf = MLPClassifier(hidden_layer_sizes=(16,), batch_size=32, max_iter=1, random_state=0).fit(X, y)
    model = MLP(64, [16], 10, l2=1e-4, dtype="float64", seed=clf._seed)  # the estimator's model and run
    trainer = Trainer(model, Adam(lr=1e-3), epochs=1, batch_size=32, seed=clf._seed, train_eval_samples=0, log=None)
    losses = trainer.fit(SimpleNamespace(X_train=X, y_train=y, X_val=None, y_val=None)).iteration_loss
    assert clf.loss_curve_ == [np.dot(losses, [32, 32, 32, 4]) / 100] != [np.mean(losses)]
    np.testing.assert_array_equal(clf.model_.flat_params, model.flat_params)


def test_with_sklearns_defaults_it_trains_as_long_and_as_well_as_sklearn_on_moons():
    """make_moons with every default: the stopping rule sees the same epoch losses as scikit-learn's."""
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    ours, theirs = [], []
    for seed in range(5):
        X, y = make_moons(n_samples=500, noise=0.3, random_state=seed)
        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a = MLPClassifier(random_state=seed).fit(X_train, y_train)
            b = SklearnMLP(random_state=seed).fit(X_train, y_train)
        assert abs(a.n_iter_ - b.n_iter_) <= 0.2 * b.n_iter_, (seed, a.n_iter_, b.n_iter_)
        ours.append(a.score(X_test, y_test))
        theirs.append(b.score(X_test, y_test))
    assert np.mean(ours) >= np.mean(theirs) - 0.02, (ours, theirs)


def test_validation_fraction_follows_sklearns_constraint_and_small_splits_say_the_fix():
    X, y = load_iris(return_X_y=True)
    assert MLPClassifier(validation_fraction=0.0, max_iter=2).fit(X, y).n_iter_ == 2
    with pytest.raises(ValueError, match="validation_fraction must be above 0 with early_stopping"):
        MLPClassifier(validation_fraction=0.0, early_stopping=True).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction"):
        MLPClassifier(validation_fraction=1.0).fit(X, y)
    few = np.r_[0:4, 50:54, 100:104]  # 12 samples, 3 classes: 10% holds out 2, fewer than the classes
    with pytest.raises(ValueError, match="early_stopping: a stratified split of 12 samples of 3 classes.*"
                                         "raise validation_fraction.*early_stopping=False"):
        MLPClassifier(early_stopping=True).fit(X[few], y[few])


def test_diagnostics_watch_the_fit_without_changing_it(digits):
    X, y = digits[0][:400], digits[1][:400]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        watched = MLPClassifier((16,), max_iter=3, random_state=0, diagnostics=True).fit(X, y)
        plain = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y)
    assert np.array_equal(watched.model_.flat_params, plain.model_.flat_params)
    assert [(row["epoch"], row["layer"]) for row in watched.diagnostics_] == [(e, l) for e in (1, 2, 3) for l in (1, 2)]
    for row in watched.diagnostics_[-2:]:  # the last record's weight norms are the fitted weights'
        W = watched.model_.params[f"W{row['layer']}"].astype(np.float64)
        assert row["weight_norm"] == pytest.approx(np.linalg.norm(W), rel=1e-12)
    watched.partial_fit(X, y)
    assert [row["epoch"] for row in watched.diagnostics_[-2:]] == [4, 4]
    assert plain.diagnostics_ == []


def test_the_regressor_predicts_one_or_several_outputs_and_scores_r2():
    from sklearn.metrics import r2_score

    data = datasets.load("regression", n_targets=3, seed=0, dtype="float64")
    reg = MLPRegressor(hidden_layer_sizes=(32,), lr=0.01, max_iter=50, random_state=0).fit(data.X_train, data.y_train)
    predictions = reg.predict(data.X_test)
    assert reg.n_outputs_ == 3 and predictions.shape == data.y_test.shape
    score = reg.score(data.X_test, data.y_test)
    assert score == pytest.approx(r2_score(data.y_test, predictions), rel=1e-12) and score > 0.8
    one = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(data.X_train, data.y_train[:, 0])
    assert one.n_outputs_ == 1 and one.predict(data.X_test).shape == (len(data.X_test),)
    with pytest.raises(ValueError, match="y has 3 outputs, but MLPRegressor was fitted with 1"):
        one.partial_fit(data.X_train, data.y_train)
    with pytest.raises(ValueError, match="loss must be None or one of \\['mse'\\]"):
        MLPRegressor(loss="softmax").fit(data.X_train, data.y_train)


def test_the_regressor_continues_exactly_and_stops_early_on_validation_r2():
    data = datasets.load("friedman1", seed=0, dtype="float64")
    X, y = data.X_train, data.y_train
    straight = MLPRegressor(hidden_layer_sizes=(16,), max_iter=4, n_iter_no_change=100, random_state=0).fit(X, y)
    epochs = MLPRegressor(hidden_layer_sizes=(16,), random_state=0)
    for _ in range(4):
        epochs.partial_fit(X, y)
    np.testing.assert_array_equal(epochs.model_.flat_params, straight.model_.flat_params)
    from sklearn.model_selection import train_test_split
    reg = MLPRegressor(hidden_layer_sizes=(32,), lr=0.01, early_stopping=True, n_iter_no_change=3, max_iter=200,
                       random_state=0).fit(X, y)
    assert reg.n_iter_ < 200 and reg.best_validation_score_ == max(reg.validation_scores_)
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, random_state=reg._seed)
    assert reg.score(X_val, y_val) == pytest.approx(reg.best_validation_score_, rel=1e-12)  # the best epoch's
