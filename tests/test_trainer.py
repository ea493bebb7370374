"""Training end to end: the classic sanity checks, reproducibility, divergence and interrupts."""
import warnings

import numpy as np
import pytest

from mlp_scratch import MLP, SGD, Trainer, datasets
from mlp_scratch.datasets import Augmentation, Dataset
from mlp_scratch.lbfgs import LBFGS
from mlp_scratch.schedules import make_schedule
from mlp_scratch.trainer import EpochRunner


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


def test_chunks_grow_without_changing_the_training(digits, monkeypatch):
    """An epoch's chunks double while they are quick (EpochRunner.CHUNK_SECONDS): the steps, their
    learning rates (a per-step schedule) and their losses are the same as in chunks that stay short."""
    X, y = digits.X_train[:1000], digits.y_train[:1000]
    runs = []
    for seconds in (0.0, float("inf")):  # chunks never quick enough to grow; always
        monkeypatch.setattr(EpochRunner, "CHUNK", 4)
        monkeypatch.setattr(EpochRunner, "CHUNK_SECONDS", seconds)
        model = MLP(64, [32], 10, batchnorm=True, dropout=0.2, seed=1)
        runner = Trainer(model, SGD(lr=0.1, momentum=0.9), batch_size=10, seed=3, log=None,
                         schedule=make_schedule("cosine", t_max=200, per="iteration")).epoch_runner(X, y)
        recorded = []
        for epoch in (1, 2):
            runner.run(epoch, record=lambda losses, lrs: recorded.append((losses.copy(), lrs.copy())))
        runs.append((model.flat_params.copy(), np.concatenate([losses for losses, _ in recorded]),
                     np.concatenate([lrs for _, lrs in recorded]), [len(losses) for losses, _ in recorded]))
    assert runs[0][3] == [4] * 50 and runs[1][3] == [4, 8, 16, 32, 40, 100]  # 100 steps an epoch
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    assert len(np.unique(runs[0][2])) > 100  # the schedule moved at every step


def test_divergence_stops_cleanly_and_keeps_the_best_parameters(digits):
    model = MLP(64, [64], 10, seed=0)
    lines = []
    history = Trainer(model, SGD(lr=1e6), epochs=5, batch_size=32, log=lines.append).fit(digits)
    assert history.stop_reason.startswith("non-finite loss")
    assert any("lower the learning rate" in line for line in lines)
    assert np.isfinite(model.flat_params).all()


def test_divergence_in_the_first_epoch_restores_the_initial_parameters():
    data = datasets.load("digits", seed=0)
    model = MLP(64, [64], 10, batchnorm=True, seed=0)
    initial = model.flat_params.copy()
    history = Trainer(model, SGD(lr=1e9), epochs=3, batch_size=16, log=None).fit(data)
    assert history.stop_reason.startswith("non-finite loss") and not history.epochs
    np.testing.assert_array_equal(model.flat_params, initial)
    assert np.isfinite(model.running).all()


def test_a_run_saved_before_regression_came_resumes_with_its_best_score(digits):
    """Checkpoints of earlier versions name the best validation accuracy best_val_acc."""
    trainer = Trainer(MLP(64, [16], 10, seed=0), SGD(lr=0.05), epochs=2, log=None)
    trainer.fit(digits)
    state = trainer.state_dict()
    history = dict(state["history"])
    history["best_val_acc"] = history.pop("best_val_score")
    resumed = Trainer(MLP(64, [16], 10, seed=0), SGD(lr=0.05), epochs=3, log=None)
    resumed.fit(digits, resume={**state, "history": history})
    assert len(resumed.history.epochs) == 3
    assert resumed.history.best_val_score == max(e["val_acc"] for e in resumed.history.epochs)


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
    assert model.score(digits.X_val, digits.y_val) == pytest.approx(history.best_val_score)


def test_batch_larger_than_the_data_is_clipped(digits):
    tiny = small_set(digits, 30)
    with pytest.warns(UserWarning, match="every step uses all 30"):
        history = Trainer(MLP(64, [8], 10), SGD(lr=0.01), epochs=2, batch_size=1000, log=None).fit(tiny)
    assert len(history.iteration_loss) == 2


def test_batchnorm_refuses_one_sample_and_the_trainer_never_makes_such_a_batch():
    model = MLP(4, [6], 3, batchnorm=True)
    with pytest.raises(ValueError, match="at least 2 samples"):
        model.forward_backward(np.ones((1, 4)), np.zeros(1, int))
    data = datasets.load("iris", seed=0)
    n = len(data.X_train)
    history = Trainer(model, SGD(lr=0.05), epochs=2, batch_size=n - 1, log=None).fit(data)
    assert len(history.iteration_loss) == 2  # one batch of n per epoch, not n - 1 and 1


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


def test_augmentation_for_another_image_shape_is_refused_before_any_kernel_runs():
    data = datasets.load("digits")
    trainer = Trainer(MLP(64, [8], 10), SGD(), epochs=1, augment=Augmentation((3, 32, 32)), log=None)
    with pytest.raises(ValueError, match="augment is for images of shape"):
        trainer.fit(data)


def test_epoch_runner_checks_its_data():
    trainer = Trainer(MLP(4, [8], 3), SGD(), log=None)
    with pytest.raises(ValueError, match=r"y_train must hold labels in \[0, 2\]"):
        trainer.epoch_runner(np.zeros((10, 4)), np.full(10, 10 ** 6))


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


def test_batch_norm_refuses_batches_of_one():
    data = datasets.load("iris")
    with pytest.raises(ValueError, match="batch_size must be at least 2 with batch norm"):
        Trainer(MLP(4, [8], 3, batchnorm=True), SGD(), batch_size=1, log=None).fit(data)


# Found by the property tests: training ends with finite parameters so large that the forward pass
# overflows, and predict_proba was NaN on 74% (float32) and 38% (float64) of the training rows.
OVERFLOWING = [dict(l2=0.0, init="he", dtype="float32"), dict(l2=0.5, init=0.1, dtype="float64")]


def overflowing_run():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((34, 1)), rng.integers(0, 3, 34)
    return X, y, dict(hidden_sizes=[31, 29, 31], num_classes=3, batchnorm=False, seed=3), dict(lr=5.0)


@pytest.mark.parametrize("settings, seed, evaluated", [(OVERFLOWING[0], 3, True), (OVERFLOWING[1], 3, True),
                                                      (OVERFLOWING[1], 0, False)])
def test_a_model_whose_forward_pass_overflows_is_never_handed_back(settings, seed, evaluated):
    """With evaluation each epoch (the validation set is the training set), or with none at all
    (checked once at the end): a divergence, and the starting parameters come back."""
    X, y, model_options, lr = overflowing_run()
    model = MLP(1, **model_options, **settings)
    start = model.flat_params.copy()
    data = Dataset(X, y, X if evaluated else None, y if evaluated else None, X, y, {})
    history = Trainer(model, SGD(**lr), epochs=1, batch_size=3, seed=seed, log=None,
                      train_eval_samples=10000 if evaluated else 0).fit(data)
    where = "(nan) on the training data after epoch 1" if evaluated else "in the predictions after epoch 1"
    assert history.stop_reason.startswith(f"non-finite loss {where}: the parameters grew too large")
    assert np.isfinite(model.predict_proba(X)).all()
    np.testing.assert_array_equal(model.flat_params, start)


def test_the_estimator_reports_an_overflowing_fit_as_divergence():
    from mlp_scratch import MLPClassifier

    X, y, model_options, lr = overflowing_run()
    settings = OVERFLOWING[1]
    clf = MLPClassifier(hidden_layer_sizes=model_options["hidden_sizes"], optimizer="sgd", lr=lr["lr"],
                        batch_size=3, max_iter=1, l2=settings["l2"], init=settings["init"], dtype=settings["dtype"],
                        random_state=0)
    with pytest.raises(ValueError, match="training diverged: non-finite loss"):
        clf.fit(X, y)


def test_too_few_samples_per_class_and_a_batch_larger_than_the_data_are_warned_about(digits):
    tiny = small_set(digits, 5)
    with pytest.warns(UserWarning, match=r"the training set has 5 samples for 10 classes \(5 of them have none\): "
                                         r"too few to learn them; train on more samples") as warned:
        Trainer(MLP(64, [8], 10), SGD(lr=0.01), epochs=1, batch_size=64, log=None).fit(tiny)
    assert any("batch_size 64 is larger than the 5 training samples: every step uses all 5 (full batch)"
               in str(w.message) for w in warned)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trainer(MLP(64, [8], 10), SGD(lr=0.01), epochs=1, batch_size=16, log=None).fit(small_set(digits, 50))


def test_the_final_check_skips_the_forward_pass_where_no_score_can_overflow(digits, monkeypatch):
    model = MLP(64, [32], 10, batchnorm=True, seed=0)
    passes = []
    scores_checked = model.scores_checked
    monkeypatch.setattr(model, "scores_checked", lambda X: passes.append(len(X)) or scores_checked(X))
    history = Trainer(model, SGD(lr=0.05), epochs=2, log=None, train_eval_samples=0).fit(
        Dataset(digits.X_train, digits.y_train, None, None, digits.X_test, digits.y_test, {}))
    assert history.stop_reason == "completed" and passes == []
