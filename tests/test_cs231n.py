"""mlp_scratch.cs231n against the CS231n assignment-2 notebooks' classic checks (inputs and
tolerances ours), the course's formulas written out in NumPy, and the layer-norm kernel against its
NumPy oracle at float64 and float32."""
import os
import pathlib
import pickle

import numpy as np
import pytest

from mlp_scratch.cs231n import layer_utils, layers, optim
from mlp_scratch.cs231n.data_utils import get_CIFAR10_data
from mlp_scratch.cs231n.fc_net import FullyConnectedNet
from mlp_scratch.cs231n.gradient_check import (eval_numerical_gradient, eval_numerical_gradient_array,
                                               grad_check_sparse, rel_error)
from mlp_scratch.cs231n.solver import Solver

DTYPES = [np.float64, np.float32]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-4)}
LAYER_TOL, NET_TOL = 1e-7, 1e-6


def layer_errors(forward, backward, args, dout):
    """rel_error between backward's gradients and numeric ones, one per argument of forward."""
    analytic = backward(dout, forward(*args)[1])
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    errors = []
    for i, grad in enumerate(analytic[:len(args)]):
        def f(v, i=i):
            return forward(*args[:i], v, *args[i + 1:])[0]
        errors.append(rel_error(grad, eval_numerical_gradient_array(f, args[i], dout)))
    return errors


def test_affine_forward_matches_the_notebook_and_backward_checks():
    x = np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=360).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    out, _ = layers.affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(2, -1) @ w + b, rtol=1e-13)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((10, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((10, 5))
    assert layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])[0].shape == x.shape
    assert max(layer_errors(layers.affine_forward, layers.affine_backward, (x, w, b), dout)) < LAYER_TOL


def test_relu_forward_and_backward():
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    np.testing.assert_array_equal(layers.relu_forward(x)[0], np.maximum(x, 0))
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((10, 2, 5)), rng.standard_normal((10, 2, 5))
    x[np.abs(x) < 1e-3] = 0.5  # away from the kink
    assert layers.relu_backward(dout, layers.relu_forward(x)[1]).shape == x.shape
    assert max(layer_errors(layers.relu_forward, layers.relu_backward, (x,), dout)) < LAYER_TOL


def check_norm_layer(forward, backward, param):
    rng = np.random.default_rng(2)
    N, D = 4, 5
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma, beta, dout = rng.standard_normal(D), rng.standard_normal(D), rng.standard_normal((N, D))
    errors = layer_errors(lambda x, g, b: forward(x, g, b, param), backward, (x, gamma, beta), dout)
    assert max(errors) < LAYER_TOL, errors


@pytest.mark.parametrize("backward", [layers.batchnorm_backward, layers.batchnorm_backward_alt])
def test_batchnorm_gradients(backward):
    check_norm_layer(layers.batchnorm_forward, backward, {"mode": "train"})


def test_batchnorm_backward_staged_and_closed_form_agree():
    """Two computations of one gradient: the staged graph (NumPy) and the closed form (compiled)."""
    rng = np.random.default_rng(5)
    x, gamma, beta, dout = (rng.standard_normal((64, 40)) * 3 + 1, rng.standard_normal(40), rng.standard_normal(40),
                            rng.standard_normal((64, 40)))
    _, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for staged, closed in zip(layers.batchnorm_backward(dout, cache), layers.batchnorm_backward_alt(dout, cache)):
        np.testing.assert_allclose(staged, closed, rtol=1e-11, atol=1e-12)


def test_layernorm_gradients():
    check_norm_layer(layers.layernorm_forward, layers.layernorm_backward, {})


def test_batchnorm_train_and_test_statistics():
    rng = np.random.default_rng(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    W1, W2 = rng.standard_normal((D1, D2)), rng.standard_normal((D2, D3))
    batch = lambda n=N: np.maximum(0, rng.standard_normal((n, D1)) @ W1) @ W2  # noqa: E731
    a = batch()
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0])
    out, _ = layers.batchnorm_forward(a, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-6)  # eps makes the std a hair smaller

    bn_param = {"mode": "train"}
    for _ in range(50):
        layers.batchnorm_forward(batch(), gamma, beta, bn_param)
    bn_param["mode"] = "test"  # the running averages now stand for the batches' statistics
    out, cache = layers.batchnorm_forward(batch(5000), gamma, beta, bn_param)  # large: little sampling noise
    assert cache is None
    assert np.all(np.abs(out.mean(axis=0) - beta) < 0.1 * gamma), out.mean(axis=0)
    assert np.all(np.abs(out.std(axis=0) / gamma - 1) < 0.1), out.std(axis=0)


@pytest.mark.parametrize("momentum", [None, 0.7])
def test_batchnorm_running_averages_follow_the_course_formula(momentum):
    rng = np.random.default_rng(5)
    D = 7
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    bn_param = {"mode": "train"} if momentum is None else {"mode": "train", "momentum": momentum}
    m = 0.9 if momentum is None else momentum
    running_mean, running_var = np.zeros(D), np.zeros(D)  # created as zeros when absent
    for step in range(6):
        x = 3 * rng.standard_normal((5 + step, D)) + rng.standard_normal(D)
        given = bn_param.get("running_mean")
        layers.batchnorm_forward(x, gamma, beta, bn_param)
        running_mean = m * running_mean + (1 - m) * x.mean(axis=0)
        running_var = m * running_var + (1 - m) * x.var(axis=0)  # the biased variance
        assert rel_error(bn_param["running_mean"], running_mean) < 1e-12
        assert rel_error(bn_param["running_var"], running_var) < 1e-12
        if given is not None:
            assert bn_param["running_mean"] is not given  # new arrays, as the course stores them
    bn_param["mode"] = "test"
    x = rng.standard_normal((4, D))
    out, _ = layers.batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, gamma * (x - running_mean) / np.sqrt(running_var + 1e-5) + beta, rtol=1e-12)


def test_batchnorm_refuses_a_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        layers.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "eval"})


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_preserves_the_mean_and_test_mode_is_the_identity(p):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((500, 500)) + 10
    np.random.seed(231)  # the unseeded mask's seed comes from NumPy's global generator: fixed here, not by test order
    out, _ = layers.dropout_forward(x, {"mode": "train", "p": p})
    out_test, _ = layers.dropout_forward(x, {"mode": "test", "p": p})
    assert abs(out.mean() / x.mean() - 1) < 0.01
    assert abs(np.mean(out == 0) - (1 - p)) < 0.01
    np.testing.assert_allclose(out[out != 0], x[out != 0] / p, rtol=1e-15)
    np.testing.assert_array_equal(out_test, x)


def test_a_seeded_dropout_mask_is_the_courses():
    """The course's dropout_forward with dropout_param["seed"]: np.random.seed(seed), then
    mask = (np.random.rand(*x.shape) < p) / p; its backward multiplies by the same mask."""
    x, dout = np.random.randn(20, 30) + 10, np.random.randn(20, 30)
    for seed, p in ((123, 0.5), (231, 0.25), (0, 0.9)):
        out, cache = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": seed})
        after = np.random.rand()
        np.random.seed(seed)
        mask = (np.random.rand(*x.shape) < p) / p
        np.testing.assert_array_equal(out, x * mask)
        assert after == np.random.rand()  # NumPy's generator is left where the course's code leaves it
        np.testing.assert_array_equal(layers.dropout_backward(dout, cache), dout * mask)
    with pytest.raises(ValueError, match=r'dropout_param\["seed"\] must be below 2\*\*32'):
        layers.dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 2 ** 32})


def test_unseeded_dropout_masks_follow_numpys_generator():
    x = np.ones((20, 30))
    np.random.seed(0)
    a = layers.dropout_forward(x, {"mode": "train", "p": 0.5})[0]
    b = layers.dropout_forward(x, {"mode": "train", "p": 0.5})[0]
    np.random.seed(0)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, layers.dropout_forward(x, {"mode": "train", "p": 0.5})[0])
    with pytest.raises(ValueError, match="keep probability"):
        layers.dropout_forward(x, {"mode": "train", "p": 0})


def test_dropout_gradient():
    rng = np.random.default_rng(7)
    x, dout = rng.standard_normal((10, 10)) + 10, rng.standard_normal((10, 10))
    param = {"mode": "train", "p": 0.2, "seed": 123}
    forward = lambda v: layers.dropout_forward(v, param)  # noqa: E731
    assert max(layer_errors(forward, layers.dropout_backward, (x,), dout)) < LAYER_TOL
    test_cache = layers.dropout_forward(x, {"mode": "test", "p": 0.2})[1]
    np.testing.assert_array_equal(layers.dropout_backward(dout, test_cache), dout)


@pytest.mark.parametrize("loss, expected", [(layers.svm_loss, 9.0), (layers.softmax_loss, np.log(10))])
def test_loss_layers(loss, expected):
    rng = np.random.default_rng(8)
    x, y = 0.001 * rng.standard_normal((50, 10)), rng.integers(0, 10, 50)
    value, dx = loss(x, y)
    assert value == pytest.approx(expected, rel=1e-2)
    # svm: margins are all near 1 > 0, far from the hinge's kink
    assert rel_error(dx, eval_numerical_gradient(lambda v: loss(v, y)[0], x, verbose=False)) < LAYER_TOL


@pytest.mark.parametrize("kind", ["relu", "bn", "ln"])
def test_sandwich_layers(kind):
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((5, 3, 4)), rng.standard_normal((12, 10)), rng.standard_normal(10)
    gamma, beta, dout = rng.standard_normal(10), rng.standard_normal(10), rng.standard_normal((5, 10))
    if kind == "relu":
        forward, backward = layer_utils.affine_relu_forward, layer_utils.affine_relu_backward
    else:
        param = {"mode": "train"} if kind == "bn" else {}
        sandwich = getattr(layer_utils, f"affine_{kind}_relu_forward")
        forward = lambda x, w, b: sandwich(x, w, b, gamma, beta, param)  # noqa: E731
        backward = getattr(layer_utils, f"affine_{kind}_relu_backward")
    dx_error, dw_error, db_error = layer_errors(forward, backward, (x, w, b), dout)
    assert dx_error < LAYER_TOL and dw_error < LAYER_TOL
    if kind == "bn":  # batch norm removes any per-feature shift: db is zero up to rounding, checked absolutely
        db = backward(dout, forward(x, w, b)[1])[2]
        assert np.max(np.abs(db)) < 1e-10
    else:  # (layer norm normalizes each row, so a per-feature bias does matter)
        assert db_error < LAYER_TOL


# -- FullyConnectedNet -----------------------------------------------------------------------------
def net_error(numeric, analytic):
    """The course's relative error with the denominator floored at 1e-3 instead of 1e-8.

    A centered difference with h = 1e-5 carries a round-off of ~1e-16 * |loss| / h ~ 1e-10
    (absolute), so gradient elements below ~1e-4 cannot show a relative agreement of 1e-6 (the
    course's notebook prints ~1e-5 for such elements of W2); above the floor this is the course's
    measure. A ReLU kink within h of a perturbation gives O(1) errors: the seeded inputs below
    have none (np.random.seed(3), for one, puts a pre-activation within 1e-5 of 0)."""
    return float(np.max(np.abs(numeric - analytic) / np.maximum(1e-3, np.abs(numeric) + np.abs(analytic))))


# Normalized nets get a larger weight scale: their output ignores the scale of W, so its
# derivatives grow as 1 / scale and the finite difference's truncation error as 1 / scale**2.
NET_CASES = [dict(reg=0.0), dict(reg=3.14), dict(normalization="batchnorm", reg=0.05, weight_scale=0.3),
             dict(normalization="layernorm", reg=0.05, weight_scale=0.3),
             dict(dropout_keep_ratio=0.5, seed=123, reg=0.2),
             dict(normalization="batchnorm", dropout_keep_ratio=0.7, seed=5, weight_scale=0.3)]


@pytest.mark.parametrize("options", NET_CASES, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_fully_connected_net_gradients(options):
    np.random.seed(231)
    N, D, H1, H2, C = 6, 15, 20, 30, 10
    X, y = np.random.randn(N, D), np.random.randint(C, size=(N,))
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, dtype=np.float64,
                              **{"weight_scale": 5e-2, **options})
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    if options == dict(reg=0.0):
        assert loss == pytest.approx(np.log(C), rel=0.05)  # small weights: about log(C)
    for name in sorted(model.params):
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False, h=1e-5)
        assert net_error(numeric, grads[name]) < NET_TOL, (name, net_error(numeric, grads[name]))
        if name in ("b1", "b2") and options.get("normalization") == "batchnorm":
            # The course keeps b before batch norm; its gradient is zero up to rounding.
            assert np.max(np.abs(grads[name])) < 1e-12 and np.max(np.abs(numeric)) < 1e-8, name


def test_fully_connected_net_test_mode():
    np.random.seed(0)
    X = np.random.randn(6, 8)
    model = FullyConnectedNet([7], input_dim=8, num_classes=4, dropout_keep_ratio=0.5, normalization="batchnorm",
                              dtype=np.float64)
    model.loss(X, np.arange(6) % 4)  # a training pass fills the running averages
    scores = model.loss(X)
    assert scores.shape == (6, 4) and model.dropout_param["mode"] == "test" and model.bn_params[0]["mode"] == "test"
    # Test mode: batch norm from the running averages, no dropout.
    bn = model.bn_params[0]
    p = model.params
    h = X @ p["W1"] + p["b1"]
    h = np.maximum(p["gamma1"] * (h - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-5) + p["beta1"], 0)
    np.testing.assert_allclose(scores, h @ p["W2"] + p["b2"], rtol=1e-12)
    np.testing.assert_array_equal(model.loss(X), scores)
    with pytest.raises(ValueError, match="normalization"):
        FullyConnectedNet([3], normalization="groupnorm")


def test_overfit_small_data_with_solver(capsys):
    rng = np.random.default_rng(10)
    data = {"X_train": rng.standard_normal((50, 3, 8, 8)), "y_train": rng.integers(0, 10, 50),
            "X_val": rng.standard_normal((20, 3, 8, 8)), "y_val": rng.integers(0, 10, 20)}
    np.random.seed(231)
    model = FullyConnectedNet([100, 100], input_dim=3 * 8 * 8, weight_scale=1e-1)  # float32 by default
    solver = Solver(model, data, print_every=10, num_epochs=20, batch_size=25, update_rule="sgd",
                    optim_config={"learning_rate": 5e-2})
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert len(solver.loss_history) == 40 and len(solver.train_acc_history) == 21
    assert model.params["W1"].dtype == np.float32
    assert "(Epoch 20 / 20) train acc: 1.000000" in capsys.readouterr().out


SEEN = []


def update(w, dw, config):
    """A user's update rule (module level, so that the checkpoints can pickle it, as the course's)."""
    SEEN.append((id(config), config["learning_rate"]))
    return w - config["learning_rate"] * dw, config


def test_solver_with_an_update_rule_function_decay_and_checkpoints(tmp_path):
    rng = np.random.default_rng(11)
    data = {"X_train": rng.standard_normal((40, 6)), "y_train": rng.integers(0, 3, 40),
            "X_val": rng.standard_normal((10, 6)), "y_val": rng.integers(0, 3, 10)}
    seen = SEEN
    seen.clear()
    np.random.seed(0)
    model = FullyConnectedNet([5], input_dim=6, num_classes=3, dtype=np.float64)
    solver = Solver(model, data, update_rule=update, optim_config={"learning_rate": 0.1}, lr_decay=0.5,
                    batch_size=20, num_epochs=3, checkpoint_name=str(tmp_path / "ck"), verbose=False)
    solver.train()
    assert len({i for i, _ in seen}) == len(model.params)  # one config copy per parameter
    assert sorted({lr for _, lr in seen}) == [0.025, 0.05, 0.1]  # halved after each epoch
    assert solver.optim_config == {"learning_rate": 0.1}  # the given dict is left alone
    assert sorted(os.listdir(tmp_path)) == [f"ck_epoch_{e}.pkl" for e in range(4)]  # no temporary files left
    with open(tmp_path / "ck_epoch_3.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    assert checkpoint["epoch"] == 3 and len(checkpoint["loss_history"]) == 6
    assert checkpoint["update_rule"] is update
    assert solver.best_val_acc == max(solver.val_acc_history)
    with pytest.raises(ValueError, match="update_rule"):
        Solver(model, data, update_rule="sgd_nope")


# -- optim: each rule against the course's formula written out in NumPy ----------------------------
def course_rule(name, w, dw, config):
    """The course's reference update rules (and the lecture notes' forms of the others)."""
    c = dict(config)
    lr = c["learning_rate"]
    if name == "sgd":
        return w - lr * dw, c
    if name in ("sgd_momentum", "nesterov_momentum"):
        mu, v_prev = c.get("momentum", 0.9), c.get("velocity", np.zeros_like(w))
        v = mu * v_prev - lr * dw
        c["velocity"] = v
        return (w + v if name == "sgd_momentum" else w - mu * v_prev + (1 + mu) * v), c
    if name == "rmsprop":
        dr, eps = c.get("decay_rate", 0.99), c.get("epsilon", 1e-8)
        c["cache"] = dr * c.get("cache", np.zeros_like(w)) + (1 - dr) * dw ** 2
        return w - lr * dw / (np.sqrt(c["cache"]) + eps), c
    if name in ("adam", "adamw"):
        b1, b2, eps = c.get("beta1", 0.9), c.get("beta2", 0.999), c.get("epsilon", 1e-8)
        if name == "adamw":
            w = w * (1 - lr * c.get("weight_decay", 1e-2))
        t = c.get("t", 0) + 1
        m = b1 * c.get("m", np.zeros_like(w)) + (1 - b1) * dw
        v = b2 * c.get("v", np.zeros_like(w)) + (1 - b2) * dw ** 2
        mt, vt = m / (1 - b1 ** t), v / (1 - b2 ** t)
        c.update(m=m, v=v, t=t)
        return w - lr * mt / (np.sqrt(vt) + eps), c
    if name == "adagrad":
        c["cache"] = c.get("cache", np.zeros_like(w)) + dw ** 2
        return w - lr * dw / (np.sqrt(c["cache"]) + c.get("epsilon", 1e-10)), c
    if name == "adadelta":
        rho, eps = c.get("rho", 0.9), c.get("epsilon", 1e-6)
        c["cache"] = rho * c.get("cache", np.zeros_like(w)) + (1 - rho) * dw ** 2
        delta = np.sqrt(c.get("delta_cache", np.zeros_like(w)) + eps) / np.sqrt(c["cache"] + eps) * dw
        c["delta_cache"] = rho * c.get("delta_cache", np.zeros_like(w)) + (1 - rho) * delta ** 2
        return w - lr * delta, c
    raise ValueError(name)


STATE_KEYS = {"sgd": (), "sgd_momentum": ("velocity",), "nesterov_momentum": ("velocity",), "rmsprop": ("cache",),
              "adam": ("m", "v", "t"), "adamw": ("m", "v", "t"), "adagrad": ("cache",),
              "adadelta": ("cache", "delta_cache")}
FIRST_CONFIG = {"sgd": {"learning_rate": 1e-2}, "sgd_momentum": {"learning_rate": 1e-3},
                "nesterov_momentum": {"learning_rate": 1e-3, "momentum": 0.8}, "rmsprop": {"learning_rate": 1e-2},
                "adam": {"learning_rate": 1e-2}, "adamw": {"learning_rate": 1e-2, "weight_decay": 0.1},
                "adagrad": {"learning_rate": 1e-1}, "adadelta": {"learning_rate": 1.0}}


@pytest.mark.parametrize("name", sorted(STATE_KEYS))
@pytest.mark.parametrize("start", ["empty", "notebook"])
def test_update_rules_follow_the_course_formulas(name, start):
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    rng = np.random.default_rng(12)
    config = dict(FIRST_CONFIG[name])
    if start == "notebook":  # the notebooks start from non-zero state (velocity, cache, m, v, t = 5)
        state = {"velocity": np.linspace(0.6, 0.9, num=N * D).reshape(N, D),
                 "cache": np.linspace(0.6, 0.9, num=N * D).reshape(N, D),
                 "delta_cache": np.linspace(0.1, 0.2, num=N * D).reshape(N, D),
                 "m": np.linspace(0.6, 0.9, num=N * D).reshape(N, D),
                 "v": np.linspace(0.7, 0.5, num=N * D).reshape(N, D), "t": 5}
        config.update({k: state[k] for k in STATE_KEYS[name]})
    ours, want_w, want_config = config, w, dict(config)
    got_w = w
    for step in range(6):
        dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D) + rng.standard_normal((N, D))
        got_w, ours = getattr(optim, name)(got_w, dw, ours)
        want_w, want_config = course_rule(name, want_w, dw, want_config)
        assert rel_error(got_w, want_w) < 1e-12, step
        for key in STATE_KEYS[name]:
            assert rel_error(ours[key], want_config[key]) < 1e-12, (step, key)
        ours["learning_rate"] *= 0.9  # the solver's lr decay between steps
        want_config["learning_rate"] *= 0.9
    assert ours["learning_rate"] == pytest.approx(FIRST_CONFIG[name]["learning_rate"] * 0.9 ** 6)


def test_update_rule_defaults_and_float32():
    w, dw = np.ones((2, 3), np.float32), np.full((2, 3), 0.5, np.float32)
    next_w, config = optim.adam(w, dw)
    assert next_w.dtype == np.float32 and config["t"] == 1
    assert {k: config[k] for k in ("learning_rate", "beta1", "beta2", "epsilon")} == \
        {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    np.testing.assert_allclose(next_w, w - 1e-3, rtol=1e-6)  # Adam's first step is lr * sign(dw)
    np.testing.assert_array_equal(w, 1)  # w is not modified
    _, config = optim.sgd_momentum(w, dw)
    assert config["momentum"] == 0.9 and config["learning_rate"] == 1e-2
    next_w, config = optim.sgd_momentum(w, dw, {"momentum": 0.0})  # plain SGD; the velocity is the step
    np.testing.assert_allclose(config["velocity"], -1e-2 * dw, rtol=1e-6)
    np.testing.assert_allclose(next_w, w - 1e-2 * dw, rtol=1e-6)
    _, config = optim.rmsprop(w, dw)
    assert config["decay_rate"] == 0.99 and config["epsilon"] == 1e-8


# -- gradient_check ---------------------------------------------------------------------------------
def test_gradient_check_helpers_print_as_the_course(capsys):
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    grad = eval_numerical_gradient(lambda v: np.sum(v ** 2), x, verbose=True)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-9)
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(") ")[0] + ")" for line in printed] == ["(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"]
    assert float(printed[3].split(") ")[1]) == pytest.approx(8.0)
    grad_check_sparse(lambda v: np.sum(v ** 3), x, 3 * x ** 2, num_checks=4)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(float(line.split("relative error: ")[1]) < 1e-8 for line in lines)
    np.testing.assert_array_equal(x, [[1.0, 2.0], [3.0, 4.0]])  # perturbations restored


# -- float32, imports, packaging ---------------------------------------------------------------------
def test_layers_in_float32_agree_with_float64():
    rng = np.random.default_rng(13)
    x, w, b = rng.standard_normal((16, 2, 6)), rng.standard_normal((12, 9)), rng.standard_normal(9)
    gamma, beta, dout = rng.standard_normal(9), rng.standard_normal(9), rng.standard_normal((16, 9))
    y = rng.integers(0, 9, 16)

    def run(dtype):
        c = lambda a: a.astype(dtype)  # noqa: E731
        bn_param = {"mode": "train", "running_mean": np.ones(9), "running_var": np.ones(9)}
        args = (c(x), c(w), c(b), c(gamma), c(beta))
        outs = [*layer_utils.affine_bn_relu_backward(c(dout), layer_utils.affine_bn_relu_forward(*args, bn_param)[1]),
                bn_param["running_mean"], bn_param["running_var"]]
        outs += layer_utils.affine_ln_relu_backward(c(dout), layer_utils.affine_ln_relu_forward(*args, {})[1])
        drop = {"mode": "train", "p": 0.6, "seed": 3}
        outs += [layers.dropout_backward(c(dout), layers.dropout_forward(c(dout), drop)[1])]
        outs += [layers.softmax_loss(c(dout), y)[1], layers.svm_loss(c(dout), y)[1]]
        return outs

    for got, want in zip(run(np.float32), run(np.float64)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_star_imports_and_packaging():
    namespace = {}
    exec("from mlp_scratch.cs231n.fc_net import *", namespace)  # the notebooks' import
    assert {"FullyConnectedNet", "affine_forward", "batchnorm_forward", "affine_relu_forward"} <= set(namespace)
    assert "np" not in namespace and "dropout" not in namespace  # no kernel modules leak into notebooks
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert "mlp_scratch.cs231n" in pyproject["tool"]["setuptools"]["packages"]


# -- data ---------------------------------------------------------------------------------------------
def write_cifar(folder, n_train, n_test, seed=0):
    """A small CIFAR-10 folder in the standard format; returns the training images (N, 3072) uint8."""
    from mlp_scratch.datasets.cifar import write_batch
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    images = rng.integers(0, 256, (n_train, 3072), dtype=np.uint8)
    write_batch(folder / "data_batch_1", images, np.arange(n_train) % 10)
    write_batch(folder / "test_batch", rng.integers(0, 256, (n_test, 3072), dtype=np.uint8), np.arange(n_test) % 10)
    return images


def test_get_cifar10_data_layout_and_clipping(tmp_path):
    from mlp_scratch.cs231n.data_utils import load_CIFAR10
    images = write_cifar(tmp_path / "cifar-10-batches-py", 60, 20)
    X_train, y_train, X_test, _ = load_CIFAR10(tmp_path)
    assert X_train.shape == (60, 32, 32, 3) and X_train.dtype == np.float64 and X_test.shape == (20, 32, 32, 3)
    assert X_train[5, 2, 7, 1] == images[5, 1 * 1024 + 2 * 32 + 7]  # rows are R, G, B planes: channels last here
    with pytest.warns(UserWarning, match="holds 60 training images"):
        data = get_CIFAR10_data(num_training=100, num_validation=10, num_test=10, subtract_mean=False,
                                data_dir=tmp_path, split="random")
    assert data["X_train"].shape == (50, 3, 32, 32) and data["X_val"].shape == (10, 3, 32, 32)
    rows = {images[i].tobytes(): i for i in range(60)}
    for X, y in ((data["X_train"], data["y_train"]), (data["X_val"], data["y_val"])):  # channels first, as raw rows
        index = [rows[row.astype(np.uint8).tobytes()] for row in X.reshape(len(X), -1)]
        np.testing.assert_array_equal(y, np.array(index) % 10)
    assert not set(map(bytes, data["X_train"].reshape(50, -1))) & set(map(bytes, data["X_val"].reshape(10, -1)))
    with pytest.raises(ValueError, match="num_validation"):
        get_CIFAR10_data(num_training=10, num_validation=60, data_dir=tmp_path)


def test_get_cifar10_data_reads_the_courses_folder_in_the_courses_order(tmp_path, monkeypatch):
    """As the course's function: the first num_training images, the next num_validation, the first
    num_test test images, the training split's mean image subtracted, channels first."""
    images = write_cifar(tmp_path / "cs231n" / "datasets" / "cifar-10-batches-py", 60, 20)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLP_SCRATCH_DATA", raising=False)
    data = get_CIFAR10_data(num_training=40, num_validation=15, num_test=5)
    X = images.astype(np.float64).reshape(-1, 3, 32, 32)
    mean_image = X[:40].mean(axis=0)
    np.testing.assert_array_equal(data["X_train"], X[:40] - mean_image)
    np.testing.assert_array_equal(data["X_val"], X[40:55] - mean_image)
    np.testing.assert_array_equal(data["y_train"], np.arange(40) % 10)
    np.testing.assert_array_equal(data["y_val"], np.arange(40, 55) % 10)
    assert data["X_test"].shape == (5, 3, 32, 32) and list(data["y_test"]) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="split must be one of"):
        get_CIFAR10_data(split="shuffled")


def cifar_folder():
    """The real CIFAR-10 folder: MLP_SCRATCH_DATA, else ../shared/data beside the repository."""
    from mlp_scratch.datasets.sources import IMAGE_SETS
    root = os.environ.get("MLP_SCRATCH_DATA") or str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
    for sub in IMAGE_SETS["cifar10"]["subfolders"]:
        folder = pathlib.Path(root) / sub
        if (folder / "data_batch_1").is_file() and (folder / "test_batch").is_file():
            return str(folder)
    return None


@pytest.mark.skipif(cifar_folder() is None, reason="no local CIFAR-10 (set MLP_SCRATCH_DATA)")
def test_get_cifar10_data_shapes():
    data = get_CIFAR10_data(num_training=500, num_validation=100, num_test=200, data_dir=cifar_folder())
    shapes = {k: v.shape for k, v in data.items()}
    assert shapes == {"X_train": (500, 3, 32, 32), "y_train": (500,), "X_val": (100, 3, 32, 32), "y_val": (100,),
                      "X_test": (200, 3, 32, 32), "y_test": (200,)}
    assert data["X_train"].dtype == np.float64 and data["y_train"].dtype == np.int64
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0, atol=1e-9)  # mean image subtracted
    raw = get_CIFAR10_data(num_training=500, num_validation=100, num_test=200, subtract_mean=False,
                           data_dir=cifar_folder())
    assert raw["X_train"].min() >= 0 and raw["X_train"].max() <= 255 and raw["X_train"].max() > 200
