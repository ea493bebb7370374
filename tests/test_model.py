"""The model: evaluation mode against NumPy, initialization formulas, and bad input."""
import numpy as np
import pytest

import reference as ref
from mlp_scratch import MLP
from mlp_scratch.model import weight_std


def eval_scores(model, X):
    """Evaluation mode in plain NumPy: running batch-norm averages, no dropout."""
    h = X
    stats = model.running_stats()
    for l in range(1, len(model.hidden_sizes) + 1):
        h = h @ model.params[f"W{l}"]
        if model.batchnorm:
            h = ref.batchnorm_forward_eval(h, model.params[f"gamma{l}"], model.params[f"beta{l}"], model.bn_eps,
                                           stats[f"running_mean{l}"], stats[f"running_var{l}"])
        else:
            h = h + model.params[f"b{l}"]
        h = np.maximum(h, 0)
    out = len(model.hidden_sizes) + 1
    return h @ model.params[f"W{out}"] + model.params[f"b{out}"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_eval_mode_uses_running_averages_and_no_dropout(dtype):
    rng = np.random.default_rng(0)
    model = MLP(5, [8, 6], 3, batchnorm=True, dropout=0.5, dtype=dtype, seed=1)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    for step in range(3):  # training passes move the running averages away from (0, 1)
        model.forward_backward(3 * X + 1, y, seed=step)
    assert not np.allclose(model.running_stats()["running_mean1"], 0)
    want = eval_scores(model, X.astype(dtype))
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(model.scores(X), want, rtol=tol, atol=tol)
    # Evaluation mode is per-sample: a row scores the same alone as in the batch (up to BLAS
    # rounding, which differs between one row and many).
    np.testing.assert_allclose(model.scores(X[:1]), model.scores(X)[:1], rtol=tol, atol=tol)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1, rtol=tol)
    assert model.predict(X).tolist() == np.argmax(want, axis=1).tolist()


def test_running_averages_follow_torch_convention():
    rng = np.random.default_rng(1)
    model = MLP(4, [6], 2, batchnorm=True, dtype="float64", bn_momentum=0.1)
    X, y = rng.standard_normal((10, 4)), rng.integers(0, 2, 10)
    h = X @ model.params["W1"]
    model.forward_backward(X, y)
    stats = model.running_stats()
    np.testing.assert_allclose(stats["running_mean1"], 0.1 * h.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats["running_var1"], 0.9 + 0.1 * h.var(0, ddof=1), rtol=1e-12)


def test_initialization_formulas():
    for init, expected in (("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 600)), (0.01, 0.01)):
        model = MLP(400, [200], 10, init=init, dtype="float64", seed=0)
        assert weight_std(init, 400, 200) == pytest.approx(expected)
        assert model.params["W1"].std() == pytest.approx(expected, rel=0.01)
        assert abs(model.params["W1"].mean()) < 0.01 * expected
        np.testing.assert_array_equal(model.params["b1"], 0)
    bn = MLP(10, [7], 3, batchnorm=True)
    np.testing.assert_array_equal(bn.params["gamma1"], 1)
    np.testing.assert_array_equal(bn.params["beta1"], 0)
    assert "b1" not in bn.params and "b2" in bn.params


def test_views_share_the_flat_buffers():
    model = MLP(3, [4], 2, batchnorm=True)
    model.params["W1"][0, 0] = 7.0
    assert model.flat_params[0] == 7.0
    assert sum(p.size for p in model.params.values()) == model.flat_params.size
    assert model.weight_mask().sum() == 3 * 4 + 4 * 2


@pytest.mark.parametrize("kwargs, argument", [
    (dict(input_dim=0), "input_dim"),
    (dict(hidden_sizes=[10, -3]), r"hidden_sizes\[1\]"),
    (dict(num_classes=1), "num_classes"),
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=-0.1), "dropout"),
    (dict(l2=-1.0), "l2"),
    (dict(l2=float("nan")), "l2"),
    (dict(loss="hinge"), "loss"),
    (dict(init="lecun"), "init"),
    (dict(init=0.0), "init"),
    (dict(dtype="float16"), "dtype"),
])
def test_bad_constructor_arguments_name_the_argument(kwargs, argument):
    args = {**dict(input_dim=4, hidden_sizes=[5], num_classes=3), **kwargs}
    with pytest.raises(ValueError, match=argument):
        MLP(**args)


def test_bad_data_names_the_argument():
    model = MLP(4, [5], 3)
    X, y = np.zeros((6, 4)), np.zeros(6, int)
    bad_X = X.copy()
    bad_X[2, 1] = np.nan
    with pytest.raises(ValueError, match="X must not contain NaN"):
        model.forward_backward(bad_X, y)
    with pytest.raises(ValueError, match="X must have 4 features"):
        model.forward_backward(np.zeros((6, 5)), y)
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        model.predict(np.zeros(4))
    with pytest.raises(ValueError, match="X must have at least one sample"):
        model.predict(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 2\]"):
        model.forward_backward(X, np.array([0, 1, 2, 3, 0, 1]))
    with pytest.raises(ValueError, match="y must be a 1-D array of 6 labels"):
        model.score(X, np.zeros(5, int))
    with pytest.raises(ValueError, match="y must hold integer class labels"):
        model.forward_backward(X, np.full(6, 0.5))


def test_nan_weights_make_the_loss_nan():
    model = MLP(4, [8], 3, seed=0)
    model.params["W1"][0, 0] = np.nan
    assert np.isnan(model.forward_backward(np.ones((5, 4)), np.zeros(5, int)))


def test_pickle_keeps_views_into_the_flat_buffers():
    import pickle

    model = MLP(5, [7], 3, batchnorm=True, seed=2)
    model.forward_backward(np.random.default_rng(0).standard_normal((8, 5)), np.arange(8) % 3)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.flat_params, model.flat_params)
    np.testing.assert_array_equal(copy.running, model.running)
    copy.params["W1"][0, 0] = 42.0
    assert copy.flat_params[0] == 42.0


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "tanh", "sigmoid"])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_score_bound_holds_for_every_row(activation, batchnorm):
    """The bound the trainer uses to skip its final check of the predictions: never below the
    scores' norm, for weights scaled up and batch-norm statistics moved away from 0 and 1."""
    rng = np.random.default_rng(7)
    model = MLP(12, [20, 15], 4, activation=activation, activation_alpha=2.5 if activation in ("leaky_relu", "elu")
                else None, batchnorm=batchnorm, dtype="float64", seed=1)
    model.flat_params[:] *= 3.0
    for name, view in model.running_stats().items():
        view[:] = rng.uniform(0.01, 2.0, view.shape) if name.startswith("running_var") else rng.normal(0, 3, view.shape)
    X = rng.normal(0, 4, (500, 12))
    norms = np.linalg.norm(model.scores(X), axis=1)
    bound = model.score_bound(np.linalg.norm(X, axis=1).max())
    assert np.all(norms <= bound)
    assert bound < np.finfo(np.float32).max / 1e30  # far below overflow, so the trainer skips its check


@pytest.mark.parametrize("mode", ["inverted", "classic"])
def test_test_time_scores_are_the_expectation_of_training_time_scores(mode):
    """One hidden layer: the scores are linear in the dropped units, so their mean over many masks
    is the test-time scores, in both dropout modes (the masks are fixed seeds: no chance)."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    model = MLP(5, [40], 3, dropout=0.4, dropout_mode=mode, dtype="float64", seed=2)
    samples = []
    for seed in range(4000):
        model.forward_backward(X, y, seed=seed)
        samples.append(model.workspace(8).scores[:8].copy())
    samples = np.array(samples)
    standard_error = samples.std(axis=0) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - model.scores(X)) < 4 * standard_error)


def test_classic_and_inverted_dropout_train_alike():
    from mlp_scratch import SGD, Trainer, datasets

    data = datasets.load("digits", seed=0)
    accuracy = {}
    for mode in ("inverted", "classic"):
        model = MLP(64, [100], 10, dropout=0.5, dropout_mode=mode, seed=0)
        accuracy[mode] = Trainer(model, SGD(lr=0.05, momentum=0.9), epochs=10, log=None).fit(data).best_val_score
    assert min(accuracy.values()) > 0.93 and abs(accuracy["classic"] - accuracy["inverted"]) < 0.02, accuracy


def test_classic_dropout_is_refused_with_a_full_batch_method():
    from mlp_scratch import Trainer
    from mlp_scratch.lbfgs import LBFGS

    with pytest.raises(ValueError, match="dropout_mode='inverted'"):
        Trainer(MLP(4, [5], 2, dropout=0.5, dropout_mode="classic"), LBFGS())
    with pytest.raises(ValueError, match="dropout_mode must be one of"):
        MLP(4, [5], 2, dropout_mode="vanilla")
