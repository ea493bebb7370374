"""Counts checked by validation.check_positive_int wherever they are taken: NumPy integers accepted,
bools and non-integers refused, the argument named, None kept where it means "the default"."""
import numpy as np
import pytest

from mlp_scratch import MLP, SGD, Trainer, datasets
from mlp_scratch.cs231n.data_utils import get_CIFAR10_data
from mlp_scratch.cs231n.fc_net import FullyConnectedNet
from mlp_scratch.experiments.paths import optimizer_paths
from mlp_scratch.experiments.search import hyperparameter_search
from mlp_scratch.validation import all_finite, check_positive_int


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_positive_int_accepts_integers(value):
    assert check_positive_int("n", value) == value and type(check_positive_int("n", value)) is int


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "3", None])
def test_positive_int_refuses_the_rest(value):
    with pytest.raises(ValueError, match=r"^n must be a positive integer"):
        check_positive_int("n", value)


def test_fully_connected_net_names_each_size():
    net = FullyConnectedNet([np.int64(4)], input_dim=np.int32(3), num_classes=2)
    assert net.params["W1"].shape == (3, 4)
    with pytest.raises(ValueError, match=r"hidden_dims\[1\] must be a positive integer, got True"):
        FullyConnectedNet([4, True], input_dim=3, num_classes=2)
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        FullyConnectedNet([4], input_dim=3, num_classes=0)


def test_load_sizes():
    data = datasets.load("digits", n_train=np.int64(50), n_val=None, n_test=20)
    assert len(data.y_train) == 50 and len(data.y_test) == 20
    with pytest.raises(ValueError, match="n_val must be a positive integer, got True"):
        datasets.load("digits", n_val=True)


@pytest.mark.parametrize("call, message", [
    (lambda tmp: get_CIFAR10_data(num_training=False), "num_training must be a positive integer"),
    (lambda tmp: get_CIFAR10_data(num_test=1.5), "num_test must be a positive integer"),
    (lambda tmp: optimizer_paths(tmp, steps=0), "steps must be a positive integer"),
    (lambda tmp: optimizer_paths(tmp, steps=True), "steps must be a positive integer"),
    (lambda tmp: hyperparameter_search(None, tmp, top_k=True), "top_k must be a positive integer"),
    (lambda tmp: hyperparameter_search(None, tmp, coarse_trials=0), "coarse_trials must be a positive integer"),
])
def test_counts_are_checked_before_any_work(tmp_path, call, message):
    with pytest.raises(ValueError, match=message):
        call(tmp_path)


@pytest.mark.parametrize("call, message", [
    (lambda: MLP(3, [4], 2, seed=-1), "seed must be an integer"),
    (lambda: MLP(3, [4], 2, seed=1.5), "seed must be an integer"),
    (lambda: MLP(3, None, 2), "hidden_sizes must be a sequence"),
    (lambda: MLP(3, "12", 2), "hidden_sizes must be a sequence"),
    (lambda: MLP(3, [4], 2, batchnorm="False"), "batchnorm must be True or False"),
    (lambda: MLP(3, [4], 2).forward_backward(np.ones((2, 3)), [0, 1], seed=2 ** 64), "seed"),
    (lambda: MLP(3, [4], 2, dtype="float32").score(np.full((2, 3), 1e300), [0, 1]), "too large for float32"),
    (lambda: MLP(3, [4], 2).evaluate(np.ones((2, 3)), [0, 5]), r"labels in \[0, 1\]"),
    (lambda: Trainer(MLP(3, [4], 2), SGD(), seed=-3), "seed"),
    (lambda: datasets.load("iris", dtype="int8"), "dtype"),
    (lambda: datasets.load("iris", val_fraction="0.1"), "val_fraction"),
    (lambda: datasets.load("iris", n_train=0), "n_train"),
])
def test_bad_arguments_name_themselves(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_any_nan_or_infinity(dtype):
    X = np.full((5, 7), np.finfo(dtype).max, dtype)
    X[0, 0] = np.finfo(dtype).min
    assert all_finite(X) and all_finite(np.zeros((0, 3), dtype)) and all_finite(np.arange(6).reshape(2, 3))
    for row, column in [(0, 0), (4, 6), (2, 3)]:
        for value in (np.nan, np.inf, -np.inf):
            Y = X.copy()
            Y[row, column] = value
            assert not all_finite(Y) and not all_finite(np.asfortranarray(Y))
            assert not all_finite(Y[:, column % 2::2])  # a strided view that holds it
