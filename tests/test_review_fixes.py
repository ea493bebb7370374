"""Failure modes found in review: NaN propagation, thread independence, mismatched optimizer state,
batch norm on one sample, divergence before the first epoch ends, masks, and argument checks."""
import numba
import numpy as np
import pytest

from mlp_scratch import MLP, SGD, Trainer, datasets, functional
from mlp_scratch.datasets import Dataset
from mlp_scratch.gradient_check import check_model_gradients
from mlp_scratch.kernels import activations, affine, losses
from mlp_scratch.optim import RMSprop, make_optimizer


def test_relu_keeps_nan():
    x = np.array([[np.nan, -1.0, 2.0]])
    out = np.empty_like(x)
    activations.activation_forward(activations.RELU, 0.0, x, out)
    assert np.isnan(out[0, 0]) and out[0, 1] == 0 and out[0, 2] == 2


def test_nan_weights_make_the_loss_nan():
    model = MLP(4, [8], 3, seed=0)
    model.params["W1"][0, 0] = np.nan
    assert np.isnan(model.forward_backward(np.ones((5, 4)), np.zeros(5, int)))


def run_with_threads(n, fn):
    numba.set_num_threads(n)
    try:
        return fn()
    finally:
        numba.set_num_threads(1)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
def test_kernels_give_bitwise_equal_results_on_1_and_2_threads():
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((4097, 10)), rng.integers(0, 10, 4097)
    W = rng.standard_normal((777, 300))

    def compute():
        dscores, row_loss = np.empty_like(scores), np.empty(len(y))
        softmax = losses.softmax_loss(scores, y, dscores, row_loss)
        svm = losses.svm_loss(scores, y, np.empty_like(scores), row_loss)
        penalty = affine.weight_penalty(W, 0.1, 0.3, np.zeros_like(W), np.empty(777))
        model = MLP(20, [130, 70], 10, batchnorm=True, dropout=0.3, l2=0.01, seed=1)
        X = np.random.default_rng(1).standard_normal((300, 20))
        loss = model.forward_backward(X, np.arange(300) % 10, seed=5)
        return softmax, svm, penalty, loss, model.flat_grads.copy(), model.running.copy()

    one, two = run_with_threads(1, compute), run_with_threads(2, compute)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_mismatched_optimizer_state_is_refused_not_written_out_of_bounds():
    momentum = SGD(lr=0.1, momentum=0.9)
    momentum.step(np.zeros(10), np.ones(10))
    plain = SGD(lr=0.1)
    plain.load_state_dict(momentum.state_dict())  # takes the hyperparameters that go with the state
    assert plain.hyperparameters["momentum"] == 0.9
    with pytest.raises(ValueError, match="momentum_buffer"):
        plain.step(np.zeros(20), np.ones(20))  # a state for 10 elements, params of 20
    state = momentum.state_dict()
    del state["state"]["momentum_buffer"]
    with pytest.raises(ValueError, match="needs"):
        SGD(lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match="float"):
        SGD(lr=0.1).step(np.zeros(3, np.int64), np.ones(3, np.int64))


def test_centered_rmsprop_stays_finite_under_a_near_constant_gradient():
    params = np.zeros(1000, np.float32)
    opt = RMSprop(lr=1e-4, centered=True)
    grads = np.full(1000, 0.3, np.float32) + np.linspace(0, 1e-6, 1000, dtype=np.float32)
    for _ in range(3000):
        opt.step(params, grads)
    assert np.isfinite(params).all()


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adadelta", "adam", "adamw"])
def test_eps_must_be_positive(name):
    with pytest.raises(ValueError, match="eps"):
        make_optimizer(name, eps=0.0)


def test_batchnorm_refuses_one_sample_and_the_trainer_never_makes_such_a_batch():
    model = MLP(4, [6], 3, batchnorm=True)
    with pytest.raises(ValueError, match="at least 2 samples"):
        model.forward_backward(np.ones((1, 4)), np.zeros(1, int))
    data = datasets.load("iris", seed=0)
    n = len(data.X_train)
    history = Trainer(model, SGD(lr=0.05), epochs=2, batch_size=n - 1, log=None).fit(data)
    assert len(history.iteration_loss) == 2  # one batch of n per epoch, not n - 1 and 1


def test_divergence_in_the_first_epoch_restores_the_initial_parameters():
    data = datasets.load("digits", seed=0)
    model = MLP(64, [64], 10, batchnorm=True, seed=0)
    initial = model.flat_params.copy()
    history = Trainer(model, SGD(lr=1e9), epochs=3, batch_size=16, log=None).fit(data)
    assert history.stop_reason.startswith("non-finite loss") and not history.epochs
    np.testing.assert_array_equal(model.flat_params, initial)
    assert np.isfinite(model.running).all()


def test_trainer_keeps_a_frozen_mask_the_user_set():
    data = datasets.load("iris", seed=0)
    model = MLP(4, [8], 3, seed=0)
    optimizer = SGD(lr=0.1, momentum=0.9, weight_decay=0.1)
    frozen = np.zeros(model.flat_params.size, bool)
    frozen[:4 * 8] = True  # W1
    optimizer.set_masks(frozen=frozen)
    W1 = model.params["W1"].copy()
    Trainer(model, optimizer, epochs=2, log=None, restore_best=False).fit(data)
    np.testing.assert_array_equal(model.params["W1"], W1)
    assert not np.array_equal(model.params["W2"], MLP(4, [8], 3, seed=0).params["W2"])
    np.testing.assert_array_equal(optimizer.decay_mask, model.weight_mask())


def test_gradient_check_needs_float64_and_leaves_running_averages():
    X, y = np.random.default_rng(0).standard_normal((6, 3)), np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="float64"):
        check_model_gradients(MLP(3, [4], 2), X, y)
    model = MLP(3, [4], 2, batchnorm=True, dtype="float64")
    before = model.running.copy()
    check_model_gradients(model, X, y)
    np.testing.assert_array_equal(model.running, before)


def test_functional_form_refuses_unknown_config_keys():
    with pytest.raises(ValueError, match="learning_rate"):
        functional.sgd(np.zeros(3), np.ones(3), {"learning_rate": 1.0})


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


# -- second review ---------------------------------------------------------------------------------
from mlp_scratch.datasets import Augmentation  # noqa: E402
from mlp_scratch.lbfgs import LBFGS  # noqa: E402
from mlp_scratch.optim import Adam  # noqa: E402


def test_augmentation_for_another_image_shape_is_refused_before_any_kernel_runs():
    data = datasets.load("digits")
    trainer = Trainer(MLP(64, [8], 10), SGD(), epochs=1, augment=Augmentation((3, 32, 32)), log=None)
    with pytest.raises(ValueError, match="augment is for images of shape"):
        trainer.fit(data)


def test_epoch_runner_checks_its_data():
    trainer = Trainer(MLP(4, [8], 3), SGD(), log=None)
    with pytest.raises(ValueError, match=r"y_train must hold labels in \[0, 2\]"):
        trainer.epoch_runner(np.zeros((10, 4)), np.full(10, 10 ** 6))


def test_batch_norm_refuses_batches_of_one():
    data = datasets.load("iris")
    with pytest.raises(ValueError, match="batch_size must be at least 2 with batch norm"):
        Trainer(MLP(4, [8], 3, batchnorm=True), SGD(), batch_size=1, log=None).fit(data)


@pytest.mark.parametrize("schedule, message", [(lambda lr0, e, t: -1.0, "finite learning rates >= 0"),
                                               (lambda lr0, e, t: float("nan"), "finite learning rates >= 0"),
                                               ("cosine", "schedule must be a Schedule")])
def test_bad_schedules_are_refused(schedule, message):
    with pytest.raises(ValueError, match=message):
        Trainer(MLP(4, [8], 3), SGD(), epochs=1, schedule=schedule, log=None).fit(datasets.load("iris"))


def test_a_plain_function_is_a_schedule():
    history = Trainer(MLP(4, [8], 3), SGD(lr=0.1), epochs=2, batch_size=50, log=None,
                      schedule=lambda lr0, epoch, t: lr0 / (1 + epoch)).fit(datasets.load("iris"))
    assert history.iteration_lr[0] == 0.1 and history.iteration_lr[-1] == 0.05


def test_lbfgs_keeps_a_frozen_mask_set_before_the_trainer():
    data = datasets.load("iris", dtype="float64")
    model = MLP(4, [8], 3, dtype="float64")
    optimizer = LBFGS()
    frozen = np.zeros(model.flat_params.size, bool)
    frozen[:32] = True
    optimizer.set_masks(frozen=frozen)
    W1 = model.params["W1"].copy()
    Trainer(model, optimizer, epochs=5, log=None, restore_best=False).fit(data)
    np.testing.assert_array_equal(model.params["W1"], W1)


def test_negative_or_inconsistent_optimizer_steps_are_refused():
    state = Adam().state_dict()
    with pytest.raises(ValueError, match="steps"):
        Adam().load_state_dict({**state, "steps": -5})
    with pytest.raises(ValueError, match="needs"):
        Adam().load_state_dict({**state, "steps": 3})  # 3 steps but no state arrays


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


def test_idx_image_shape_comes_from_the_file(tmp_path):
    from mlp_scratch.datasets import idx

    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for stem, n in (("train", 100), ("t10k", 20)):
        idx.write_idx(folder / f"{stem}-images-idx3-ubyte", rng.integers(0, 256, (n, 16, 16)))
        idx.write_idx(folder / f"{stem}-labels-idx1-ubyte", np.arange(n) % 10)
    data = datasets.load("mnist", data_dir=tmp_path, n_val=10)
    assert data.meta["image_shape"] == [1, 16, 16] and data.n_features == 256


def test_split_errors_name_the_size_and_empty_training_splits_are_refused():
    with pytest.raises(ValueError, match="n_test=500"):
        datasets.load("iris", n_test=500)
    with pytest.raises(ValueError, match="training split"):
        datasets.load("iris", val_fraction=0.8, test_fraction=0.2)
    assert datasets.load("iris", val_fraction=np.float32(0.2)).meta["sizes"]["val"] == 30
