"""Every optimizer lowers the loss: on an ill-conditioned 2-D quadratic and on a small MLP on digits.
L-BFGS reaches scikit-learn's optimum on a convex problem. Functional and object forms agree."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlp_scratch import MLP, Trainer, datasets, functional
from mlp_scratch.lbfgs import LBFGS
from mlp_scratch.optim import OPTIMIZERS, make_optimizer

# name -> (hyperparameters for the quadratic, for the MLP)
SETTINGS = {
    "sgd": (dict(lr=0.01, momentum=0.9), dict(lr=0.05, momentum=0.9)),
    "adagrad": (dict(lr=0.5), dict(lr=0.05)),
    "rmsprop": (dict(lr=0.05), dict(lr=0.001)),
    "adadelta": (dict(lr=5.0), dict(lr=1.0)),  # its first steps are ~sqrt(eps): a larger lr on the quadratic
    "adam": (dict(lr=0.1), dict(lr=0.002)),
    "adamw": (dict(lr=0.1, weight_decay=0.0), dict(lr=0.002)),
}
CURVATURE = np.array([1.0, 50.0])  # f(x) = 0.5 * sum(CURVATURE * x**2): condition number 50


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_descends_an_ill_conditioned_quadratic(name):
    x = np.array([-4.0, 1.0])
    optimizer = make_optimizer(name, **SETTINGS[name][0])
    start = 0.5 * np.sum(CURVATURE * x ** 2)
    for _ in range(300):
        optimizer.step(x, CURVATURE * x)
    assert 0.5 * np.sum(CURVATURE * x ** 2) < 1e-2 * start


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", seed=0)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_trains_a_small_mlp_on_digits(name, digits):
    model = MLP(64, [32], 10, seed=0)
    before, _ = model.evaluate(digits.X_train, digits.y_train)
    history = Trainer(model, make_optimizer(name, **SETTINGS[name][1]), epochs=3, batch_size=32,
                      log=None, restore_best=False).fit(digits)
    after, accuracy = model.evaluate(digits.X_train, digits.y_train)
    assert history.stop_reason == "completed"
    assert before > 2.0 and after < 0.5 and accuracy > 0.85, (before, after, accuracy)


def test_lbfgs_trains_an_mlp_on_digits_and_turns_dropout_off(digits):
    lines = []
    model = MLP(64, [32], 10, dropout=0.5, seed=0, dtype="float64")
    history = Trainer(model, LBFGS(), epochs=60, log=lines.append).fit(digits)
    assert "dropout (0.5) is off" in lines[0]
    assert len(history.iteration_loss) == len(history.epochs) <= 60
    assert history.iteration_loss[-1] < 0.05
    assert model.score(digits.X_test, digits.y_test) > 0.93


def test_lbfgs_reaches_the_logistic_regression_optimum(digits):
    """Softmax regression with l2 = 1 / (C n) minimizes mean cross-entropy + 0.5 l2 |W|^2, which is
    LogisticRegression(C)'s objective divided by n (neither penalizes the intercept)."""
    X, y = digits.X_train.astype(np.float64), digits.y_train
    C = 0.5
    l2 = 1 / (C * len(X))
    model = MLP(64, [], 10, l2=l2, dtype="float64", seed=0)
    history = Trainer(model, LBFGS(tol=1e-10, ftol=1e-14), epochs=2000, log=None, restore_best=False).fit(digits)
    assert history.stop_reason.startswith("converged")
    reference = LogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    at_reference = MLP(64, [], 10, l2=l2, dtype="float64")
    at_reference.params["W1"][:] = reference.coef_.T
    at_reference.params["b1"][:] = reference.intercept_
    assert model.forward_backward(X, y) == pytest.approx(at_reference.forward_backward(X, y), rel=1e-4)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_functional_form_gives_the_object_trajectory(name):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((6, 5))
    grads = [rng.standard_normal((6, 5)) for _ in range(8)]
    hyper = SETTINGS[name][1]
    w, config = w0.copy(), dict(hyper)
    flat = w0.copy().reshape(-1)
    optimizer = make_optimizer(name, **hyper)
    for g in grads:
        w_before = w.copy()
        w, config = getattr(functional, name)(w, g, config)
        optimizer.step(flat, g.reshape(-1))
        np.testing.assert_array_equal(w.reshape(-1), flat)
        assert not np.array_equal(w, w_before)
    assert config["steps"] == 8


def full_batch_statistics(model, X):
    """NumPy oracle: each batch-norm layer's mean and unbiased variance over all of X, at the
    model's parameters, in training mode (ReLU hidden layers, no dropout)."""
    h, n, statistics = X.astype(np.float64), len(X), {}
    for l in range(1, len(model.hidden_sizes) + 1):
        h = h @ model.params[f"W{l}"]
        mean, var = h.mean(0), h.var(0)
        statistics[f"running_mean{l}"], statistics[f"running_var{l}"] = mean, var * n / (n - 1)
        h = np.maximum((h - mean) / np.sqrt(var + model.bn_eps) * model.params[f"gamma{l}"] + model.params[f"beta{l}"],
                       0)
    return statistics


def test_lbfgs_sets_batchnorm_statistics_at_accepted_iterates_only(digits):
    """The line search's trial points leave the running averages alone; at each accepted iterate
    they are the training set's statistics there."""
    X, y = digits.X_train.astype(np.float64), digits.y_train
    model = MLP(64, [32, 32], 10, batchnorm=True, dtype="float64", seed=0)
    checked = []

    def matches_the_oracle(loss=None):
        expected = full_batch_statistics(model, X)
        checked.append(all(np.allclose(model.running_stats()[name], value, rtol=1e-9, atol=1e-12)
                           for name, value in expected.items()))

    result = LBFGS().minimize(model, X, y, 25, callback=matches_the_oracle)
    assert result.nfev > result.nit  # line-search trials happened between the accepted iterates
    matches_the_oracle()
    assert len(checked) == result.nit + 1 and all(checked)


def test_lbfgs_with_batchnorm_keeps_its_training_accuracy(digits):
    """The command line's defaults (batch norm, float32) with L-BFGS: accuracy fell from 1.0 to 0.39
    at epoch 75 when trial points moved the running averages."""
    model = MLP(64, [100, 100], 10, batchnorm=True, l2=1e-4, seed=0)
    history = Trainer(model, LBFGS(), epochs=100, log=None).fit(digits)
    train_acc = [epoch["train_acc"] for epoch in history.epochs]
    assert min(train_acc[10:]) > 0.97, train_acc


def test_random_search_keeps_the_best_candidate_and_only_that(digits):
    """The lecture's baseline: the loss of the kept parameters never rises, the model ends with
    the best candidate (its loss is the last one reported), frozen elements never move, and it
    stays far from a gradient method after as many passes."""
    from mlp_scratch.random_search import RandomSearch

    X, y = digits.X_train[:300].astype(np.float64), digits.y_train[:300]
    model = MLP(64, [16], 10, dtype="float64", seed=0)
    frozen = np.zeros(model.flat_params.size, bool)
    frozen[:50] = True
    start = model.flat_params.copy()
    search = RandomSearch(step=0.05, seed=1)
    search.set_masks(frozen=frozen)
    losses = []
    search.minimize(model, X, y, 200, callback=losses.append)
    assert all(b <= a for a, b in zip(losses, losses[1:])) and losses[-1] < losses[0]
    assert model.forward_backward(X, y) == pytest.approx(losses[-1], rel=1e-12)
    np.testing.assert_array_equal(model.flat_params[:50], start[:50])
    gradient = MLP(64, [16], 10, dtype="float64", seed=0)
    Trainer(gradient, LBFGS(), epochs=200, log=None, restore_best=False).fit(
        datasets.Dataset(X, y, None, None, X, y, {}))
    assert gradient.forward_backward(X, y) < 0.1 * losses[-1]
