"""Training end to end: the classic sanity checks, reproducibility, divergence and interrupts."""
import numpy as np
import pytest

from mlp_scratch import MLP, SGD, Trainer, datasets
from mlp_scratch.datasets import Dataset


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", seed=0)


def small_set(data, n):
    return Dataset(data.X_train[:n], data.y_train[:n], data.X_val, data.y_val,
                   data.X_test, data.y_test, data.meta)


@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_overfits_50_samples(digits, loss):
    tiny = small_set(digits, 50)
    model = MLP(64, [100, 100], 10, loss=loss, init=0.05, seed=0)
    Trainer(model, SGD(lr=0.02, momentum=0.9), epochs=40, batch_size=25, log=None, restore_best=False).fit(tiny)
    assert model.score(tiny.X_train, tiny.y_train) == 1.0


def test_digits_with_batchnorm_reaches_95_percent(digits):
    model = MLP(64, [100, 100], 10, batchnorm=True, l2=1e-4, seed=0)
    history = Trainer(model, SGD(lr=0.05, momentum=0.9), epochs=15, batch_size=64, seed=0, log=None).fit(digits)
    assert model.score(digits.X_test, digits.y_test) >= 0.95
    assert len(history.epochs) == 15 and history.stop_reason == "completed"
    assert len(history.iteration_loss) == 15 * int(np.ceil(len(digits.X_train) / 64))
    assert history.iteration_loss[-1] < history.iteration_loss[0] / 10
    best = max(history.epochs, key=lambda e: e["val_acc"])
    assert history.best_epoch == best["epoch"]
    # The best epoch's parameters are restored at the end.
    assert model.score(digits.X_val, digits.y_val) == pytest.approx(best["val_acc"])


def test_same_seed_gives_bitwise_identical_training(digits):
    runs = []
    for _ in range(2):
        model = MLP(64, [32, 32], 10, batchnorm=True, dropout=0.3, seed=4)
        history = Trainer(model, SGD(lr=0.05, momentum=0.9), epochs=3, batch_size=50, seed=9,
                          log=None, restore_best=False).fit(digits)
        runs.append((model.flat_params.copy(), model.running.copy(), history.iteration_loss))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]
    other = MLP(64, [32, 32], 10, batchnorm=True, dropout=0.3, seed=4)
    Trainer(other, SGD(lr=0.05, momentum=0.9), epochs=3, batch_size=50, seed=10, log=None,
            restore_best=False).fit(digits)
    assert not np.array_equal(other.flat_params, runs[0][0])


def test_divergence_stops_cleanly_and_keeps_the_best_parameters(digits):
    model = MLP(64, [64], 10, seed=0)
    lines = []
    history = Trainer(model, SGD(lr=1e6), epochs=5, batch_size=32, log=lines.append).fit(digits)
    assert history.stop_reason.startswith("non-finite loss")
    assert any("lower the learning rate" in line for line in lines)
    assert np.isfinite(model.flat_params).all()


def test_interrupt_keeps_history_and_best_parameters(digits):
    model = MLP(64, [32], 10, seed=0)
    epochs_seen = []

    def log(line):
        epochs_seen.append(line)
        if len(epochs_seen) == 2:
            raise KeyboardInterrupt

    history = Trainer(model, SGD(lr=0.05, momentum=0.9), epochs=10, log=log).fit(digits)
    assert history.stop_reason == "interrupted after 2 epochs"
    assert len(history.epochs) == 2
    assert model.score(digits.X_val, digits.y_val) == pytest.approx(history.best_val_acc)


def test_batch_larger_than_the_data_is_clipped(digits):
    lines = []
    tiny = small_set(digits, 30)
    history = Trainer(MLP(64, [8], 10), SGD(lr=0.01), epochs=2, batch_size=1000, log=lines.append).fit(tiny)
    assert "using 30" in lines[0]
    assert len(history.iteration_loss) == 2


def test_bad_training_arguments(digits):
    model = MLP(64, [8], 10)
    with pytest.raises(ValueError, match="epochs"):
        Trainer(model, SGD(), epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(model, SGD(), batch_size=-1)
    wrong = MLP(10, [8], 10)
    with pytest.raises(ValueError, match="X_train must have 10 features"):
        Trainer(wrong, SGD(), log=None).fit(digits)


def test_l1_drives_weights_to_zero(digits):
    """The lecture's point about L1: many weights end near 0 (64% below 1e-2 here, against 4%
    without), at little cost in accuracy."""
    near_zero = {}
    for l1 in (0.0, 3e-3):
        model = MLP(64, [64], 10, l1=l1, seed=0)
        Trainer(model, SGD(lr=0.05, momentum=0.9), epochs=15, log=None).fit(digits)
        near_zero[l1] = (np.abs(model.params["W1"]) < 1e-2).mean()
        assert model.score(digits.X_test, digits.y_test) > 0.93
    assert near_zero[3e-3] > 0.5 > 0.1 > near_zero[0.0]
