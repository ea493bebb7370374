"""Curvature products (mlp_scratch/curvature.py) against finite differences of the compiled gradient and
against explicit matrices of tiny networks, in float64; conjugate gradient against a direct solve;
Hessian-free and BFGS (mlp_scratch/second_order.py) against SciPy's minimizer on a convex problem."""
import numpy as np
import pytest
from scipy.optimize import minimize

from mlp_scratch import MLP, Trainer, full_batch
from mlp_scratch.curvature import Curvature
from mlp_scratch.kernels.training.layout import parameter_views
from mlp_scratch.datasets import Dataset
from mlp_scratch.second_order import BFGS, HessianFree, conjugate_gradient

CASES = [
    dict(hidden_sizes=[6, 4], loss="softmax"),
    dict(hidden_sizes=[6, 4], loss="mse", l2=0.3),
    dict(hidden_sizes=[6, 4], loss="softmax", batchnorm=True, activation="tanh"),
    dict(hidden_sizes=[5], loss="mse", batchnorm=True, activation="elu", l2=0.2),
    dict(hidden_sizes=[6], loss="svm", activation="sigmoid"),
    dict(hidden_sizes=[6, 4], loss="softmax", activation="leaky_relu", l2=0.1, l1=0.05),
    dict(hidden_sizes=[5, 5], loss="softmax", batchnorm=True, activation="relu", l2=0.05),
    dict(hidden_sizes=[], loss="mse"),
]
IDS = ["-".join(f"{k}={v}" for k, v in case.items()) for case in CASES]


def problem(case, n=11, d=5, k=3, seed=0):
    """A float64 model with non-zero biases (no ReLU sits exactly at its kink) and data for it."""
    rng = np.random.default_rng(seed)
    model = MLP(d, num_classes=k, dtype="float64", seed=seed, **case)
    model.flat_params[:] += 0.1 * rng.standard_normal(model.flat_params.size)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal((n, k)) if case["loss"] == "mse" else rng.integers(0, k, n)
    return model, X, y


def compiled_gradient(model, X, y, theta):
    """The compiled pass's gradient of the full-batch training loss at theta (no dropout, the
    batch's statistics), as the full-batch methods take it."""
    saved = model.flat_params.copy()
    model.flat_params[:] = theta
    model.forward_backward_checked(X, model.check_targets(y, len(X)), np.uint64(0), dropout=0.0,
                                   statistics=np.zeros_like(model.running))
    model.flat_params[:] = saved
    return model.flat_grads.copy()


def compiled_scores(model, X, y, theta):
    saved = model.flat_params.copy()
    model.flat_params[:] = theta
    model.forward_backward_checked(X, model.check_targets(y, len(X)), np.uint64(0), dropout=0.0,
                                   statistics=np.zeros_like(model.running))
    model.flat_params[:] = saved
    return model.workspace(len(X)).scores[:len(X)].copy()


def relative(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_numpy_pass_gives_the_compiled_loss_and_gradient(case):
    model, X, y = problem(case)
    curvature = Curvature(model, X, y)
    theta = model.flat_params.copy()
    np.testing.assert_allclose(curvature.gradient(), compiled_gradient(model, X, y, theta), rtol=1e-9, atol=1e-13)
    loss = model.forward_backward_checked(X, model.check_targets(y, len(X)), np.uint64(0), dropout=0.0,
                                          statistics=np.zeros_like(model.running))
    penalty = sum(model.l2 / 2 * np.sum(model.params[name] ** 2) + model.l1 * np.sum(np.abs(model.params[name]))
                  for name in model.params if name.startswith("W"))
    assert curvature.loss + penalty == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hessian_vector_products_equal_finite_differences_of_the_gradient(case):
    model, X, y = problem(case, seed=1)
    theta = model.flat_params.copy()
    v = np.random.default_rng(2).standard_normal(theta.size)
    h = 1e-5
    numeric = (compiled_gradient(model, X, y, theta + h * v) - compiled_gradient(model, X, y, theta - h * v)) / (2 * h)
    assert relative(Curvature(model, X, y).hessian_vector(v), numeric) < 1e-6


@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[3]], ids=[IDS[0], IDS[2], IDS[3]])
def test_the_hessian_of_a_tiny_network_column_by_column(case):
    """The explicit Hessian (N x N, by central differences of the compiled gradient along each
    coordinate) against H e_i for every i; the products' matrix is symmetric to rounding."""
    model, X, y = problem(case, n=7, d=3, k=2, seed=3)
    theta, h = model.flat_params.copy(), 1e-5
    n = theta.size
    explicit = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        explicit[:, i] = (compiled_gradient(model, X, y, theta + e) - compiled_gradient(model, X, y, theta - e)) / (2 * h)
    curvature = Curvature(model, X, y)
    products = np.stack([curvature.hessian_vector(np.eye(n)[i]) for i in range(n)], axis=1)
    assert relative(products, explicit) < 1e-6
    assert relative(products, products.T) < 1e-12


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[2]], ids=[IDS[0], IDS[1], IDS[2]])
def test_gauss_newton_products_equal_the_explicit_j_transpose_h_j(case):
    """G = J^T H_l J (+ l2 on the weights) with J the scores' Jacobian by central differences and H_l
    the loss's Hessian in the scores written out: softmax (diag(p) - p p^T) / N per row, mse 2 / (N C)."""
    model, X, y = problem(case, n=6, d=3, k=3, seed=4)
    theta, h = model.flat_params.copy(), 1e-6
    n, scores = theta.size, compiled_scores(model, X, y, theta)
    jacobian = np.empty((scores.size, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        jacobian[:, i] = ((compiled_scores(model, X, y, theta + e) - compiled_scores(model, X, y, theta - e)) / (2 * h)).ravel()
    rows = len(X)
    if case["loss"] == "mse":
        loss_hessian = 2 / scores.size * np.eye(scores.size)
    else:
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss_hessian = np.zeros((scores.size, scores.size))
        for r in range(rows):
            block = slice(r * 3, r * 3 + 3)
            loss_hessian[block, block] = (np.diag(p[r]) - np.outer(p[r], p[r])) / rows
    explicit = jacobian.T @ loss_hessian @ jacobian + model.l2 * np.diag(model.weight_mask().astype(float))
    curvature = Curvature(model, X, y)
    products = np.stack([curvature.gauss_newton_vector(np.eye(n)[i]) for i in range(n)], axis=1)
    assert relative(products, explicit) < 1e-6
    assert np.linalg.eigvalsh((products + products.T) / 2).min() > -1e-12  # positive semi-definite


def test_for_a_linear_model_with_squared_error_gauss_newton_is_the_hessian():
    model, X, y = problem(CASES[-1], seed=5)
    curvature = Curvature(model, X, y)
    v = np.random.default_rng(6).standard_normal(model.flat_params.size)
    np.testing.assert_allclose(curvature.gauss_newton_vector(v), curvature.hessian_vector(v), rtol=1e-12, atol=1e-15)


def test_conjugate_gradient_solves_a_positive_definite_system():
    rng = np.random.default_rng(7)
    A = rng.standard_normal((30, 30))
    A = A @ A.T + 0.1 * np.eye(30)
    b = rng.standard_normal(30)
    x, steps = conjugate_gradient(lambda v: A @ v, b, np.zeros(30), 200, 1e-12)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-8, atol=1e-10)
    assert steps <= 200
    # a direction of negative curvature at once: the right-hand side comes back (steepest descent)
    x, steps = conjugate_gradient(lambda v: -v, b, np.zeros(30), 10, 1e-12)
    assert steps == 0 and np.array_equal(x, b)


def convex_problem():
    """Softmax regression with L2 on 120 samples: a strictly convex loss with one minimizer."""
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((120, 6)), rng.integers(0, 3, 120)
    return MLP(6, [], 3, l2=0.1, dtype="float64", seed=0), X, y


@pytest.mark.parametrize("method", [HessianFree(tol=1e-9, cg_tol=1e-6), HessianFree(curvature="hessian", tol=1e-9),
                                    BFGS(tol=1e-9)], ids=["hessian-free", "hessian-free-exact", "bfgs"])
def test_second_order_methods_reach_scipys_minimizer_of_a_convex_loss(method):
    model, X, y = convex_problem()
    start = model.flat_params.copy()

    def objective(theta):
        model.flat_params[:] = theta
        return model.forward_backward(X, y), model.flat_grads.copy()

    reference = minimize(objective, start, jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15}).x
    model.flat_params[:] = start
    losses = []
    history = Trainer(model, method, epochs=60, log=None).fit(Dataset(X, y, None, None, None, None, {}))
    assert history.stop_reason == "converged: the gradient is below tol"
    np.testing.assert_allclose(model.flat_params, reference, rtol=1e-6, atol=1e-7)
    losses = history.iteration_loss
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # every accepted step descends
    assert len(losses) < 30  # second order: far fewer iterations than gradient descent would need


def test_hessian_free_and_bfgs_keep_frozen_elements_and_descend_on_a_network():
    model, X, y = problem(dict(hidden_sizes=[8], loss="softmax", batchnorm=True), n=40, seed=9)
    frozen = model.layer_mask([1])
    for method in (HessianFree(), BFGS()):
        trial = MLP(**model.config())
        trial.flat_params[:] = model.flat_params
        method.set_masks(frozen=frozen)
        trainer = Trainer(trial, method, epochs=5, log=None)
        start_loss = trial.forward_backward(X, y)
        trial.flat_params[:] = model.flat_params
        history = trainer.fit(Dataset(X, y, None, None, None, None, {}))
        np.testing.assert_array_equal(trial.flat_params[frozen], model.flat_params[frozen])
        assert history.iteration_loss[-1] < 0.8 * start_loss


def test_bfgs_refuses_a_network_whose_matrix_exceeds_the_memory_limit():
    model = MLP(784, [100], 10)
    with pytest.raises(ValueError, match=r"79,510 parameters need 47.1 GiB, above memory_limit \(1 GiB\)"):
        BFGS().minimize(model, np.zeros((2, 784)), np.array([0, 1]), 1)
    assert BFGS().memory(7510) == 8 * 7510 ** 2


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[3]], ids=[IDS[0], IDS[1], IDS[3]])
def test_hessian_vector_products_equal_torchs_double_backward(case):
    """The same network written in torch, H v by torch.autograd.functional.hvp."""
    torch = pytest.importorskip("torch")
    model, X, y = problem(case, seed=10)
    n_hidden = len(case["hidden_sizes"])
    names = list(model.params)
    theta = {name: torch.tensor(view.copy()) for name, view in model.params.items()}
    act = {"relu": torch.relu, "tanh": torch.tanh, "elu": torch.nn.functional.elu}[model.activation[0] if n_hidden else "relu"]

    def loss(*values):
        p = dict(zip(names, values))
        h = torch.tensor(X)
        for l in range(1, n_hidden + 1):
            z = h @ p[f"W{l}"] + (p[f"b{l}"] if f"b{l}" in p else 0)
            if f"gamma{l}" in p:
                z = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + model.bn_eps) * p[f"gamma{l}"] + p[f"beta{l}"]
            h = act(z)
        scores = h @ p[f"W{n_hidden + 1}"] + p[f"b{n_hidden + 1}"]
        data = (torch.nn.functional.mse_loss(scores, torch.tensor(y)) if case["loss"] == "mse"
                else torch.nn.functional.cross_entropy(scores, torch.tensor(y)))
        return data + 0.5 * model.l2 * sum((p[k] ** 2).sum() for k in names if k.startswith("W"))

    v = np.random.default_rng(11).standard_normal(model.flat_params.size)
    V = {name: torch.tensor(view.copy()) for name, view in parameter_views(v, model.layout).items()}
    _, products = torch.autograd.functional.hvp(loss, tuple(theta[k] for k in names), tuple(V[k] for k in names))
    want = np.zeros_like(v)
    for name, value in zip(names, products):
        parameter_views(want, model.layout)[name][...] = value.numpy()
    np.testing.assert_allclose(Curvature(model, X, y).hessian_vector(v), want, rtol=1e-9, atol=1e-12)


def test_curvature_checks_its_inputs():
    model, X, y = problem(CASES[0])
    with pytest.raises(ValueError, match="X must have 5 features"):
        Curvature(model, X[:, :4], y)
    curvature = Curvature(model, X, y)
    for v in (np.ones(model.flat_params.size - 1), np.ones(model.flat_params.size + 1),
              np.full(model.flat_params.size, np.nan)):
        with pytest.raises(ValueError, match=f"v must be a finite vector of the model's {model.flat_params.size}"):
            curvature.hessian_vector(v)


def test_bfgs_that_finds_no_descent_leaves_the_model_at_its_last_iterate(monkeypatch):
    """A loss whose every point but the start is infinite rejects every step along the BFGS direction:
    the model keeps the start and its batch-norm statistics, not the line search's last trial point."""
    model, X, y = problem(dict(hidden_sizes=[6], loss="softmax", batchnorm=True), n=20, seed=12)
    start, points = model.flat_params.copy(), []
    real = full_batch.training_loss

    def training_loss(model, X, y):
        loss_at, statistics = real(model, X, y)

        def loss(params):
            points.append(params.copy())
            value = loss_at(params)
            return value if len(points) == 1 else np.inf
        return loss, statistics

    monkeypatch.setattr(full_batch, "training_loss", training_loss)
    result = BFGS().minimize(model, X, y, 5)
    assert result.message == "no step along the BFGS direction decreases the loss"
    assert len(points) > 2  # it tried points elsewhere
    np.testing.assert_array_equal(model.flat_params, start)
