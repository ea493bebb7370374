"""Regression: the mean-squared-error kernel, R^2, the trainer on real targets against a NumPy replay,
the regression data sets, the command line and the Predictor in the targets' units.
(MLPRegressor is tested in test_estimator.py, the loss's gradients in test_gradients.py.)"""
import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_squared_error, r2_score

import reference as ref
from mlp_scratch import MLP, SGD, Trainer, datasets
from mlp_scratch.checkpoint import Predictor
from mlp_scratch.cli import main
from mlp_scratch.datasets import Dataset
from mlp_scratch.kernels.layers.losses import MSE, data_loss
from mlp_scratch.model import r_squared
from mlp_scratch.trainer import batch_bounds


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-14), ("float32", 1e-6)])
def test_mse_kernel_against_numpy(dtype, tol):
    rng = np.random.default_rng(0)
    scores, targets = rng.standard_normal((9, 3)).astype(dtype), rng.standard_normal((9, 3)).astype(dtype)
    dscores = np.empty_like(scores)
    loss = data_loss(MSE, scores, targets, dscores, np.empty(9))
    want_loss, want_grad = ref.mse_loss(scores.astype(np.float64), targets.astype(np.float64))
    assert loss == pytest.approx(want_loss, rel=tol)
    np.testing.assert_allclose(dscores, want_grad, rtol=tol * 10, atol=tol)
    assert dscores.dtype == dtype


def test_r_squared_is_scikit_learns():
    rng = np.random.default_rng(1)
    targets, predictions = rng.standard_normal((20, 3)), rng.standard_normal((20, 3))
    targets[:, 1] = 2.0  # a constant output: 0 unless predicted exactly
    assert r_squared(targets, predictions) == pytest.approx(r2_score(targets, predictions), rel=1e-12)
    predictions[:, 1] = 2.0
    assert r_squared(targets, predictions) == pytest.approx(r2_score(targets, predictions), rel=1e-12)


def problem(n=40, d=5, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2], X[:, 3] ** 2 - X[:, 4]], axis=1)[:, :k]
    return X, y


def test_training_on_real_targets_equals_a_numpy_replay():
    """Three epochs of SGD with momentum: the compiled loop's batches (gathered from 2-D float
    targets), gradients and updates, step by step in NumPy (tests/reference.py)."""
    X, y = problem()
    model = MLP(5, [8, 6], 2, loss="mse", l2=0.01, dtype="float64", seed=2)
    params = {name: view.copy() for name, view in model.params.items()}
    Trainer(model, SGD(lr=0.05, momentum=0.9), epochs=3, batch_size=16, seed=4, train_eval_samples=0,
            log=None).fit(Dataset(X, y, None, None, None, None, {}))
    rng, velocity = np.random.default_rng(4), {}
    for _ in range(3):
        order = rng.permutation(len(X))
        bounds = batch_bounds(len(X), 16, False)
        for start, stop in zip(bounds[:-1], bounds[1:]):
            rows = order[start:stop]
            _, loss_grads, weight_grads = ref.mlp_layers(params, X[rows], y[rows], 2, False, 1.0, 0, 0.01,
                                                         loss="mse")
            grads = {f"W{l + 1}": g for l, g in enumerate(weight_grads)}
            grads.update({f"b{l + 1}": dz.sum(axis=0) for l, dz in enumerate(loss_grads)})
            for name, g in grads.items():
                velocity[name] = g if name not in velocity else 0.9 * velocity[name] + g
                params[name] = params[name] - 0.05 * velocity[name]
    for name, value in params.items():
        np.testing.assert_allclose(model.params[name], value, rtol=1e-10, atol=1e-12)


def test_the_epochs_record_mse_and_r2_and_keep_the_best_r2():
    X, y = problem(80, seed=1)
    data = Dataset(X[:60], y[:60], X[60:], y[60:], None, None, {})
    model = MLP(5, [16], 2, loss="mse", dtype="float64", seed=0)
    history = Trainer(model, SGD(lr=0.05, momentum=0.9), epochs=8, batch_size=10, log=None).fit(data)
    assert history.metric == "r2" and "val_acc" not in history.epochs[0]
    last = history.epochs[-1]
    scores = model.scores(X[60:])  # the best epoch's parameters came back
    best = history.epochs[history.best_epoch - 1]
    assert history.best_val_score == max(e["val_r2"] for e in history.epochs) == best["val_r2"]
    assert best["val_r2"] == pytest.approx(r2_score(y[60:], scores), rel=1e-12)
    assert best["val_loss"] == pytest.approx(mean_squared_error(y[60:], scores), rel=1e-12)
    assert last["train_r2"] > 0.5  # it learns


def test_model_checks_regression_targets():
    model = MLP(3, [4], 2, loss="mse", dtype="float64")
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"y must be an array of shape \(5, 2\)"):
        model.forward_backward(X, np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        model.forward_backward(X, np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="predict_proba"):
        model.predict_proba(X)
    single = MLP(3, [4], 1, loss="mse", dtype="float64")
    assert single.forward_backward(X, np.ones(5)) == pytest.approx(single.forward_backward(X, np.ones((5, 1))))
    with pytest.raises(ValueError, match="num_classes must be at least 2 for a classifier"):
        MLP(3, [4], 1)


@pytest.mark.parametrize("name, features", [("diabetes", 10), ("regression", 20), ("friedman1", 10)])
def test_regression_sets_split_at_random_with_standardized_targets(name, features):
    data = datasets.load(name, seed=3)
    assert data.regression and data.n_outputs == 1 and data.n_features == features
    for X, y in ((data.X_train, data.y_train), (data.X_val, data.y_val), (data.X_test, data.y_test)):
        assert X.dtype == y.dtype == np.float32 and y.shape == (len(X),)
    # the targets' transform was fitted on the training split and undoes exactly
    shift, scale = data.meta["target_preprocessing"]["shift"], data.meta["target_preprocessing"]["scale"]
    assert data.y_train.mean() == pytest.approx(0, abs=1e-5) and data.y_train.std() == pytest.approx(1, rel=1e-5)
    if name == "diabetes":
        X_raw, y_raw = load_diabetes(return_X_y=True)
        restored = np.sort(np.concatenate([data.y_train, data.y_val, data.y_test]) * scale + shift)
        np.testing.assert_allclose(restored, np.sort(y_raw), rtol=1e-5)
        assert len(data.y_test) == round(0.2 * len(y_raw)) and len(data.y_val) == round(0.1 * len(y_raw))
    with pytest.raises(ValueError, match="without classes"):
        data.n_classes


def test_regression_set_options_sizes_and_errors():
    data = datasets.load("regression", n_targets=3, n_samples=300, n_train=100, n_val=50, n_test=60,
                         target_preprocessing="none", dtype="float64", seed=0)
    assert data.y_train.shape == (100, 3) and data.n_outputs == 3 and len(data.y_test) == 60
    assert data.meta["target_preprocessing"]["kind"] == "none"
    with pytest.raises(ValueError, match="per_class"):
        datasets.load("diabetes", per_class=True)
    with pytest.raises(ValueError, match="asks for more than"):
        datasets.load("friedman1", n_train=900, n_test=200)
    with pytest.raises(ValueError, match="target_preprocessing"):
        datasets.load("diabetes", target_preprocessing="scale")


def test_the_command_line_trains_a_regressor_and_the_predictor_answers_in_the_targets_units(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "diabetes", "--loss", "mse", "--optimizer", "adam", "--lr", "0.01", "--epochs",
                 "5", "--hidden-sizes", "16", "--no-batchnorm", "--out", str(out), "--quiet"]) == 0
    assert "test R^2" in capsys.readouterr().out
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "val_r2" in header and "val_acc" not in header
    results = json.loads((out / "history.json").read_text())["results"]
    data = datasets.load("diabetes")
    X_raw, y_raw = load_diabetes(return_X_y=True)
    predictor = Predictor.load(out / "best_model.npz")
    scale = data.meta["target_preprocessing"]["scale"]
    shift = data.meta["target_preprocessing"]["shift"]
    raw = predictor.predict(X_raw)
    np.testing.assert_allclose((raw - shift) / scale, predictor.model.predict(predictor.transform(X_raw)),
                               rtol=1e-4, atol=1e-4)
    assert raw.shape == (len(X_raw), 1) and abs(raw.mean() - y_raw.mean()) < y_raw.std()
    assert predictor.score(X_raw, y_raw) == pytest.approx(r2_score(y_raw, raw.ravel()), rel=1e-9)
    assert results["test_r2"] == pytest.approx(predictor.model.score(data.X_test, data.y_test), rel=1e-9)


def test_the_command_line_refuses_a_loss_that_does_not_fit_the_data(tmp_path, capsys):
    assert main(["train", "--dataset", "diabetes", "--out", str(tmp_path / "a"), "--quiet"]) == 2
    assert "--loss softmax does not fit diabetes" in capsys.readouterr().err


def test_tensorboard_events_of_a_regression_run_hold_its_r2(tmp_path):
    pytest.importorskip("tensorboardX")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mlp_scratch.optim import Adam
    from mlp_scratch.tensorboard import TensorBoard

    data = datasets.load("friedman1", dtype="float64")
    board = TensorBoard(tmp_path, data.X_train[:32])
    model = MLP(data.n_features, [16], 1, loss="mse", dtype="float64")
    try:
        history = Trainer(model, Adam(lr=1e-2), epochs=2, log=None).fit(data, on_epoch_end=board)
    finally:
        board.close()
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("r2/val")] == [
        (e["epoch"], pytest.approx(e["val_r2"], rel=1e-6)) for e in history.epochs]
    assert "accuracy/val" not in events.Tags()["scalars"]


def test_the_loss_and_its_gradient_are_torchs_mse_loss():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    scores, targets = rng.standard_normal((13, 4)), rng.standard_normal((13, 4))
    dscores = np.empty_like(scores)
    loss = data_loss(MSE, scores, targets, dscores, np.empty(13))
    s = torch.tensor(scores, requires_grad=True)
    want = torch.nn.functional.mse_loss(s, torch.tensor(targets))
    want.backward()
    assert loss == pytest.approx(want.item(), rel=1e-14)
    np.testing.assert_allclose(dscores, s.grad.numpy(), rtol=1e-13, atol=1e-16)


def test_r2_validation_needs_two_samples_and_says_so():
    X, y = problem(12, seed=4)
    model = MLP(5, [8], 2, loss="mse", dtype="float64")
    with pytest.raises(ValueError, match="X_val: R\\^2 needs at least 2 validation samples"):
        Trainer(model, SGD(lr=0.05), epochs=1, log=None).fit(Dataset(X[:11], y[:11], X[11:], y[11:], None, None, {}))
    from mlp_scratch import MLPRegressor
    with pytest.raises(ValueError, match="validation_fraction=0.1 of 10 samples holds out 1"):
        MLPRegressor((8,), early_stopping=True, random_state=0).fit(X[:10], y[:10])


def test_a_history_without_validation_writes_strict_json_and_keeps_the_old_name(tmp_path):
    X, y = problem(30, seed=5)
    history = Trainer(MLP(5, [8], 2, loss="mse", dtype="float64"), SGD(lr=0.05), epochs=2, log=None).fit(
        Dataset(X, y, None, None, None, None, {}))
    assert history.best_val_score == -np.inf and history.best_val_acc == history.best_val_score
    text = json.dumps(history.to_dict(), allow_nan=False)  # raises on an infinity
    assert json.loads(text)["best_val_score"] is None
