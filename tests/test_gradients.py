"""Gradient checks in float64: every layer alone (max relative error < 1e-7) and the whole model
(< 1e-6) with batch norm, dropout under a fixed mask, L2, and both losses."""
import numpy as np
import pytest

import reference as ref
from mlp_scratch import MLP
from mlp_scratch.gradient_check import (check_model_gradients, eval_numerical_gradient,
                                        eval_numerical_gradient_array, rel_error)
from mlp_scratch.kernels.layers import activations, affine, batchnorm, dropout, losses

rng = np.random.default_rng(0)


def test_numeric_gradient_of_a_known_function():
    x = rng.standard_normal((3, 4))
    assert rel_error(eval_numerical_gradient(lambda x: np.sum(x ** 3), x), 3 * x ** 2) < 1e-7
    df = rng.standard_normal((3, 4))
    assert rel_error(eval_numerical_gradient_array(np.sin, x, df), np.cos(x) * df) < 1e-8
    assert rel_error(np.ones(3), np.ones(3) + 1e-3) == pytest.approx(1e-3 / (2 + 1e-3))


def test_affine_gradients():
    x, W, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))

    def forward(x, W, b):
        out = np.empty((6, 4))
        affine.affine_forward(x, W, b, out, 1)
        return out

    dx, dW, db = np.empty_like(x), np.empty_like(W), np.empty_like(b)
    affine.affine_backward_params(x, dout, dW, db, 1)
    affine.affine_backward_input(dout, W, dx, 1)
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: forward(v, W, b), x, dout)) < 1e-7
    assert rel_error(dW, eval_numerical_gradient_array(lambda v: forward(x, v, b), W, dout)) < 1e-7
    assert rel_error(db, eval_numerical_gradient_array(lambda v: forward(x, W, v), b, dout)) < 1e-7


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "tanh", "sigmoid"])
def test_activation_gradients(name):
    x = rng.standard_normal((8, 9))
    x[np.abs(x) < 1e-3] = 0.5  # away from the kink at 0
    dout = rng.standard_normal(x.shape)
    kind = getattr(activations, name.upper())
    out, dx = np.empty_like(x), np.empty_like(x)
    activations.activation_forward(kind, 0.1, x, out)
    activations.activation_backward(kind, 0.1, dout, out, dx)

    def forward(v):
        o = np.empty_like(v)
        activations.activation_forward(kind, 0.1, v, o)
        return o

    assert rel_error(dx, eval_numerical_gradient_array(forward, x, dout)) < 1e-7


def test_dropout_gradient_with_a_fixed_mask():
    x, dout, seed = rng.standard_normal((10, 12)), rng.standard_normal((10, 12)), np.uint64(42)

    def forward(v):
        o = np.empty_like(v)
        dropout.dropout_forward(v, 0.6, seed, o)
        return o

    dx = np.empty_like(x)
    dropout.dropout_backward(dout, 0.6, seed, dx)
    assert rel_error(dx, eval_numerical_gradient_array(forward, x, dout)) < 1e-7


def test_batchnorm_gradients():
    n, m = 8, 5
    x = 4 * rng.standard_normal((n, m)) + 10
    gamma, beta, dout = rng.standard_normal(m), rng.standard_normal(m), rng.standard_normal((n, m))

    def forward(x, gamma, beta):
        out, xhat = np.empty_like(x), np.empty_like(x)
        batchnorm.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.1, np.zeros(m), np.ones(m),
                                          np.empty(m), np.empty(m), xhat, out)
        return out

    out, xhat, mean, inv_std = np.empty_like(x), np.empty_like(x), np.empty(m), np.empty(m)
    batchnorm.batchnorm_forward_train(x, gamma, beta, 1e-5, 0.1, np.zeros(m), np.ones(m), mean, inv_std, xhat, out)
    dx, dgamma, dbeta = np.empty_like(x), np.empty(m), np.empty(m)
    batchnorm.batchnorm_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta)
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: forward(v, gamma, beta), x, dout)) < 1e-7
    assert rel_error(dgamma, eval_numerical_gradient_array(lambda v: forward(x, v, beta), gamma, dout)) < 1e-7
    assert rel_error(dbeta, eval_numerical_gradient_array(lambda v: forward(x, gamma, v), beta, dout)) < 1e-7


@pytest.mark.parametrize("kind", ["softmax", "svm", "mse"])
def test_loss_gradients(kind):
    scores = rng.standard_normal((7, 5))
    y = rng.standard_normal((7, 5)) if kind == "mse" else rng.integers(0, 5, 7)
    fn = getattr(losses, f"{kind}_loss")
    dscores = np.empty_like(scores)
    fn(scores, y, dscores, np.empty(7))
    numeric = eval_numerical_gradient(lambda s: fn(s, y, np.empty_like(s), np.empty(7)), scores)
    assert rel_error(dscores, numeric) < 1e-7


CASES = [
    dict(hidden_sizes=[10, 7], batchnorm=False, dropout=0.0, l2=0.0, loss="softmax"),
    dict(hidden_sizes=[10, 7], batchnorm=True, dropout=0.0, l2=0.0, loss="softmax"),
    dict(hidden_sizes=[10, 7], batchnorm=True, dropout=0.3, l2=0.7, loss="softmax"),
    dict(hidden_sizes=[9], batchnorm=False, dropout=0.5, l2=0.2, loss="svm"),
    dict(hidden_sizes=[8, 6], batchnorm=True, dropout=0.25, l2=0.1, loss="svm"),
    dict(hidden_sizes=[], batchnorm=False, dropout=0.0, l2=0.5, loss="softmax"),
    dict(hidden_sizes=[10, 7], batchnorm=True, dropout=0.0, l2=0.0, l1=0.3, loss="softmax"),
    dict(hidden_sizes=[9], batchnorm=False, dropout=0.2, l2=0.4, l1=0.2, loss="svm"),
    dict(hidden_sizes=[10, 7], batchnorm=True, dropout=0.2, l2=0.1, loss="softmax", activation="tanh"),
    dict(hidden_sizes=[10, 7], batchnorm=False, dropout=0.0, l2=0.1, loss="softmax", activation="sigmoid"),
    dict(hidden_sizes=[10, 7], batchnorm=False, dropout=0.3, l2=0.0, loss="softmax", activation="elu"),
    dict(hidden_sizes=[10, 7], batchnorm=True, dropout=0.0, l2=0.0, loss="softmax", activation="leaky_relu",
         activation_alpha=0.2),
    dict(hidden_sizes=[10, 7], batchnorm=True, dropout=0.3, l2=0.1, loss="softmax", dropout_mode="classic"),
    dict(hidden_sizes=[9], batchnorm=False, dropout=0.4, l2=0.0, loss="svm", activation="tanh", dropout_mode="classic"),
    dict(hidden_sizes=[10, 7], batchnorm=True, dropout=0.2, l2=0.1, loss="mse"),
    dict(hidden_sizes=[9], batchnorm=False, dropout=0.0, l2=0.0, l1=0.1, loss="mse", activation="tanh"),
]


def targets(rng, case, n):
    """Class labels, or real targets (n, 4) for the regression loss."""
    return rng.standard_normal((n, 4)) if case["loss"] == "mse" else rng.integers(0, 4, n)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_whole_model_gradients(case):
    local = np.random.default_rng(1)
    X, y = local.standard_normal((12, 6)), targets(local, case, 12)
    model = MLP(6, num_classes=4, dtype="float64", seed=3, **case)
    errors = check_model_gradients(model, X, y, seed=11)
    assert max(errors.values()) < 1e-6, errors


def test_gradient_check_needs_float64_and_leaves_running_averages():
    X, y = np.random.default_rng(0).standard_normal((6, 3)), np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="float64"):
        check_model_gradients(MLP(3, [4], 2), X, y)
    model = MLP(3, [4], 2, batchnorm=True, dtype="float64")
    before = model.running.copy()
    check_model_gradients(model, X, y)
    np.testing.assert_array_equal(model.running, before)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_model_loss_equals_the_plain_numpy_network(case):
    local = np.random.default_rng(2)
    X, y = local.standard_normal((15, 6)), targets(local, case, 15)
    model = MLP(6, num_classes=4, dtype="float64", seed=5, **case)
    loss = model.forward_backward(X, y, seed=7)
    want = ref.mlp_loss(model.params, X, y, len(case["hidden_sizes"]), case["batchnorm"],
                        1 - case["dropout"], np.uint64(7), case["l2"], case["loss"], l1=case.get("l1", 0.0),
                        activation=case.get("activation", "relu"), alpha=model.act_alpha[0],
                        dropout_mode=case.get("dropout_mode", "inverted"))
    assert loss == pytest.approx(want, rel=1e-12)
