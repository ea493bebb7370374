"""The classic cells of CS231n assignment 2's notebooks (FullyConnectedNets, BatchNormalization,
Dropout), run against mlp_scratch.cs231n, printing what the course prints.

    python scripts/cs231n_checks.py

CIFAR-10 comes from MLP_SCRATCH_DATA (or ../shared/data beside the repository); without it, the
overfitting cell runs on random data. Relative errors near 1e-7 or below mean the analytic gradient
is right; elements whose true gradient is ~0 (the bias before batch norm) or a ReLU kink within h of
the point give larger ones, as the course's notebooks explain.
"""
import argparse
import os
import pathlib
import time

import numpy as np

from mlp_scratch.cs231n.data_utils import get_CIFAR10_data
from mlp_scratch.cs231n.fc_net import FullyConnectedNet
from mlp_scratch.cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from mlp_scratch.cs231n.layer_utils import affine_relu_backward, affine_relu_forward
from mlp_scratch.cs231n.layers import (affine_backward, affine_forward, batchnorm_backward, batchnorm_backward_alt,
                                       batchnorm_forward, dropout_backward, dropout_forward, layernorm_backward,
                                       layernorm_forward, relu_backward, relu_forward, softmax_loss, svm_loss)
from mlp_scratch.cs231n.optim import adam, rmsprop, sgd_momentum
from mlp_scratch.cs231n.solver import Solver


def section(title):
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def error(label, a, b):
    print(f"{label}: {rel_error(a, b):.2e}")


def print_mean_std(x, axis=0):
    print(f"  means: {x.mean(axis=axis)}")
    print(f"  stds:  {x.std(axis=axis)}\n")


def check_layer(forward, backward, args, dout, names):
    """Numeric vs analytic gradients of each argument of a (out, cache) layer."""
    analytic = backward(dout, forward(*args)[1])
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    for i, (name, grad) in enumerate(zip(names, analytic)):
        def f(v, i=i):
            return forward(*args[:i], v, *args[i + 1:])[0]
        error(f"{name} error", eval_numerical_gradient_array(f, args[i], dout), grad)


def check_net(model, X, y):
    loss, grads = model.loss(X, y)
    print(f"Initial loss: {loss}")
    for name in sorted(grads):
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False, h=1e-5)
        print(f"{name} relative error: {rel_error(numeric, grads[name]):.2e}")


def fully_connected_nets():
    section("Affine layer: forward")
    x = np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=360).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    out, _ = affine_forward(x, w, b)
    correct_out = np.array([[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]])
    print("Testing affine_forward function:")
    error("difference", out, correct_out)

    section("Affine layer: backward")
    np.random.seed(231)
    x, w, b, dout = np.random.randn(10, 2, 3), np.random.randn(6, 5), np.random.randn(5), np.random.randn(10, 5)
    print("Testing affine_backward function:")
    check_layer(affine_forward, affine_backward, (x, w, b), dout, ["dx", "dw", "db"])

    section("ReLU activation: forward and backward")
    out, _ = relu_forward(np.linspace(-0.5, 0.5, num=12).reshape(3, 4))
    correct_out = np.array([[0., 0., 0., 0.], [0., 0., 0.04545455, 0.13636364],
                            [0.22727273, 0.31818182, 0.40909091, 0.5]])
    print("Testing relu_forward function:")
    error("difference", out, correct_out)
    x, dout = np.random.randn(10, 10), np.random.randn(10, 10)
    print("Testing relu_backward function:")
    check_layer(relu_forward, relu_backward, (x,), dout, ["dx"])

    section("Sandwich layers: affine_relu")
    x, w, b, dout = np.random.randn(2, 3, 4), np.random.randn(12, 10), np.random.randn(10), np.random.randn(2, 10)
    print("Testing affine_relu_forward and affine_relu_backward:")
    check_layer(affine_relu_forward, affine_relu_backward, (x, w, b), dout, ["dx", "dw", "db"])

    section("Loss layers: softmax and SVM")
    x, y = 0.001 * np.random.randn(50, 10), np.random.randint(10, size=50)
    for name, loss_fn in (("svm_loss", svm_loss), ("softmax_loss", softmax_loss)):
        loss, dx = loss_fn(x, y)
        print(f"Testing {name}:")
        print(f"loss: {loss}")
        error("dx error", eval_numerical_gradient(lambda v: loss_fn(v, y)[0], x, verbose=False), dx)

    section("Multilayer network: initial loss and gradient check")
    np.random.seed(231)
    X, y = np.random.randn(2, 15), np.random.randint(10, size=(2,))
    for reg in [0, 3.14]:
        print(f"Running check with reg = {reg}")
        check_net(FullyConnectedNet([20, 30], input_dim=15, num_classes=10, reg=reg, weight_scale=5e-2,
                                    dtype=np.float64), X, y)


def update_rules():
    section("Update rules: sgd_momentum, rmsprop, adam against the course's formulas")
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    state = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-3, "velocity": state}
    next_w, _ = sgd_momentum(w, dw, config=config)
    velocity = 0.9 * state - 1e-3 * dw
    error("sgd_momentum next_w error", next_w, w + velocity)
    error("sgd_momentum velocity error", config["velocity"], velocity)
    config = {"learning_rate": 1e-2, "cache": state}
    next_w, _ = rmsprop(w, dw, config=config)
    cache = 0.99 * state + 0.01 * dw ** 2
    error("rmsprop next_w error", next_w, w - 1e-2 * dw / (np.sqrt(cache) + 1e-8))
    error("rmsprop cache error", config["cache"], cache)
    v0 = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "m": state, "v": v0, "t": 5}
    next_w, _ = adam(w, dw, config=config)
    m, v = 0.9 * state + 0.1 * dw, 0.999 * v0 + 0.001 * dw ** 2
    expected = w - 1e-2 * (m / (1 - 0.9 ** 6)) / (np.sqrt(v / (1 - 0.999 ** 6)) + 1e-8)
    error("adam next_w error", next_w, expected)
    error("adam v error", config["v"], v)
    error("adam m error", config["m"], m)


def normalization_layers():
    for title, forward, backwards in (("Batch normalization", batchnorm_forward,
                                       (("batchnorm_backward", batchnorm_backward),
                                        ("batchnorm_backward_alt", batchnorm_backward_alt))),
                                      ("Layer normalization", layernorm_forward,
                                       (("layernorm_backward", layernorm_backward),))):
        section(f"{title}: forward statistics")
        np.random.seed(231)
        N, D1, D2, D3 = (200, 50, 60, 3) if forward is batchnorm_forward else (4, 50, 60, 3)
        axis = 0 if forward is batchnorm_forward else 1
        W1, W2 = np.random.randn(D1, D2), np.random.randn(D2, D3)
        a = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
        param = {"mode": "train"} if forward is batchnorm_forward else {}
        print(f"Before {title.lower()}:")
        print_mean_std(a, axis=axis)
        gamma, beta = np.ones(D3), np.zeros(D3)
        print(f"After {title.lower()} (gamma=1, beta=0)")
        print_mean_std(forward(a, gamma, beta, param)[0], axis=axis)
        if axis == 0:
            gamma, beta = np.asarray([1.0, 2.0, 3.0]), np.asarray([11.0, 12.0, 13.0])
            print("After batch normalization (gamma=", gamma, ", beta=", beta, ")")
            print_mean_std(forward(a, gamma, beta, param)[0], axis=0)
            bn_param = {"mode": "train"}
            gamma, beta = np.ones(D3), np.zeros(D3)
            for _ in range(50):
                a = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
                batchnorm_forward(a, gamma, beta, bn_param)
            bn_param["mode"] = "test"
            a = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
            print("After batch normalization (test-time):")
            print_mean_std(batchnorm_forward(a, gamma, beta, bn_param)[0], axis=0)

        section(f"{title}: backward")
        np.random.seed(231)
        N, D = 4, 5
        x = 5 * np.random.randn(N, D) + 12
        gamma, beta, dout = np.random.randn(D), np.random.randn(D), np.random.randn(N, D)
        for name, backward in backwards:
            print(f"Testing {name}:")
            param = {"mode": "train"} if forward is batchnorm_forward else {}
            check_layer(lambda x, g, b: forward(x, g, b, param), backward, (x, gamma, beta), dout,
                        ["dx", "dgamma", "dbeta"])
        if forward is batchnorm_forward:
            x = np.random.randn(500, 500)
            out, cache = batchnorm_forward(x, np.ones(500), np.zeros(500), {"mode": "train"})
            dout = np.random.randn(500, 500)
            t0 = time.perf_counter()
            dx1, dgamma1, dbeta1 = batchnorm_backward(dout, cache)
            t1 = time.perf_counter()
            dx2, dgamma2, dbeta2 = batchnorm_backward_alt(dout, cache)
            t2 = time.perf_counter()
            error("dx difference", dx1, dx2)
            error("dgamma difference", dgamma1, dgamma2)
            error("dbeta difference", dbeta1, dbeta2)
            print(f"speedup: {(t1 - t0) / max(t2 - t1, 1e-9):.2f}x")

        section(f"Fully connected nets with {title.lower()}")
        np.random.seed(231)
        X, y = np.random.randn(2, 15), np.random.randint(10, size=(2,))
        norm = "batchnorm" if forward is batchnorm_forward else "layernorm"
        for reg in [0, 3.14]:
            print(f"Running check with reg = {reg}")
            check_net(FullyConnectedNet([20, 30], input_dim=15, num_classes=10, reg=reg, weight_scale=5e-2,
                                        dtype=np.float64, normalization=norm), X, y)
            print("(the b before the normalization: a true gradient of 0, so a meaningless relative error)"
                  if norm == "batchnorm" else "")


def dropout():
    section("Dropout: forward")
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    for p in [0.25, 0.4, 0.7]:
        out, _ = dropout_forward(x, {"mode": "train", "p": p})
        out_test, _ = dropout_forward(x, {"mode": "test", "p": p})
        print(f"Running tests with p = {p}")
        print(f"Mean of input: {x.mean()}")
        print(f"Mean of train-time output: {out.mean()}")
        print(f"Mean of test-time output: {out_test.mean()}")
        print(f"Fraction of train-time output set to zero: {(out == 0).mean()}")
        print(f"Fraction of test-time output set to zero: {(out_test == 0).mean()}\n")

    section("Dropout: backward")
    x, dout = np.random.randn(10, 10) + 10, np.random.randn(10, 10)
    param = {"mode": "train", "p": 0.2, "seed": 123}
    dx = dropout_backward(dout, dropout_forward(x, param)[1])
    error("dx relative error", eval_numerical_gradient_array(lambda xx: dropout_forward(xx, param)[0], x, dout), dx)

    section("Fully connected nets with dropout")
    np.random.seed(231)
    X, y = np.random.randn(2, 15), np.random.randint(10, size=(2,))
    for keep in [1, 0.75, 0.5]:
        print(f"Running check with dropout = {keep}")
        check_net(FullyConnectedNet([20, 30], input_dim=15, num_classes=10, weight_scale=5e-2, dtype=np.float64,
                                    dropout_keep_ratio=keep, seed=123), X, y)
        print()


def overfit():
    section("Overfit 50 training examples with a three-layer net")
    root = pathlib.Path(__file__).resolve().parents[1]
    data_dir = os.environ.get("MLP_SCRATCH_DATA") or str(root.parent / "shared" / "data")
    try:
        data = get_CIFAR10_data(num_training=1000, num_validation=1000, num_test=100, data_dir=data_dir)
        print(f"CIFAR-10 from {data_dir}:")
        for k, v in data.items():
            print(f"{k}: {v.shape}")
        small_data = {"X_train": data["X_train"][:50], "y_train": data["y_train"][:50],
                      "X_val": data["X_val"], "y_val": data["y_val"]}
    except (FileNotFoundError, ValueError) as err:
        print(f"no local CIFAR-10 ({str(err).splitlines()[0]}); random data instead")
        rng = np.random.default_rng(0)
        small_data = {"X_train": 50 * rng.standard_normal((50, 3, 32, 32)), "y_train": rng.integers(0, 10, 50),
                      "X_val": 50 * rng.standard_normal((100, 3, 32, 32)), "y_val": rng.integers(0, 10, 100)}
    np.random.seed(231)
    model = FullyConnectedNet([100, 100], weight_scale=1e-2, dtype=np.float64)
    solver = Solver(model, small_data, print_every=10, num_epochs=20, batch_size=25, update_rule="sgd",
                    optim_config={"learning_rate": 1e-2})
    solver.train()
    print(f"final training accuracy: {solver.train_acc_history[-1]:.2f}  (100% is the goal)")


SECTIONS = {"fully-connected": fully_connected_nets, "update-rules": update_rules,
            "normalization": normalization_layers, "dropout": dropout, "overfit": overfit}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS),
                        help="run only these groups of cells (default: all, in this order)")
    for name in parser.parse_args(argv).only:
        SECTIONS[name]()


if __name__ == "__main__":
    main()
