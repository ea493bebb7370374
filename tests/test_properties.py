"""Random shapes, sizes and hyperparameters thrown at the model and trainer: every call trains, or
raises a ValueError that names the argument. Never a numba crash, a segfault or a silent NaN.

Each example draws a valid configuration and, one time in three, replaces one argument with an
invalid value, so that both paths are exercised."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlp_scratch import MLP, Trainer  # noqa: E402
from mlp_scratch.datasets import Dataset  # noqa: E402
from mlp_scratch.optim import make_optimizer  # noqa: E402
from mlp_scratch.schedules import make_schedule  # noqa: E402

INVALID = {
    "hidden_sizes": st.sampled_from([[0], [4, -1], "12", None]),
    "num_classes": st.sampled_from([0, 1, -2]),
    "dropout": st.sampled_from([1.0, -0.1, float("nan"), 2]),
    "l2": st.sampled_from([-1.0, float("inf"), float("nan")]),
    "init": st.sampled_from([0.0, -1.0, "lecun"]),
    "lr": st.sampled_from([0.0, -1e-3, float("nan"), float("inf")]),
    "batch_size": st.sampled_from([0, -5]),
    "epochs": st.sampled_from([0, -1]),
    "seed": st.sampled_from([-1, 2 ** 64]),
    "y": st.sampled_from(["shift", "float"]),
    "X": st.sampled_from(["nan", "inf", "columns"]),
}


@pytest.mark.filterwarnings("ignore:the training set has", "ignore:batch_size")  # tiny sets on purpose
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 60), d=st.integers(1, 12), classes=st.integers(2, 5),
       hidden=st.lists(st.integers(1, 70), max_size=3), batchnorm=st.booleans(), dropout=st.floats(0, 0.9),
       l2=st.floats(0, 1), init=st.sampled_from(["he", "xavier", 0.1]), dtype=st.sampled_from(["float32", "float64"]),
       optimizer=st.sampled_from(["sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw"]),
       lr=st.floats(1e-5, 10.0), batch_size=st.integers(2, 64), epochs=st.integers(1, 3),
       schedule=st.sampled_from(["constant", "step", "cosine"]), seed=st.integers(0, 2 ** 32),
       corrupt=st.sampled_from([None] * 6 + sorted(INVALID)), data=st.data())
def test_training_trains_or_raises_a_named_error(n, d, classes, hidden, batchnorm, dropout, l2, init, dtype, optimizer,
                                                 lr, batch_size, epochs, schedule, seed, corrupt, data):
    args = dict(hidden_sizes=hidden, num_classes=classes, dropout=dropout, l2=l2, init=init, lr=lr,
                batch_size=batch_size, epochs=epochs, seed=seed, X="ok", y="ok")
    if corrupt:
        args[corrupt] = data.draw(INVALID[corrupt], label=corrupt)
    rng = np.random.default_rng(seed % 1000)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, classes, n)
    X = {"nan": np.where(np.arange(d) == 0, np.nan, X), "inf": np.where(np.arange(d) == 0, np.inf, X),
         "columns": X[:, :0] if d == 1 else X[:, 1:], "ok": X}[args["X"]]
    y = {"shift": y + classes, "float": y + 0.5, "ok": y}[args["y"]]
    split = Dataset(X, y, X, y, X, y, {"class_names": list(range(max(classes, 1)))})
    try:
        model = MLP(d, args["hidden_sizes"], args["num_classes"], batchnorm=batchnorm, dropout=args["dropout"],
                    l2=args["l2"], init=args["init"], dtype=dtype, seed=args["seed"])
        schedule_kwargs = {"step": {"step_size": 1}, "cosine": {"t_max": 2}}.get(schedule, {})
        trainer = Trainer(model, make_optimizer(optimizer, lr=args["lr"]), epochs=args["epochs"],
                          batch_size=args["batch_size"], schedule=make_schedule(schedule, **schedule_kwargs),
                          seed=args["seed"], log=None)
        history = trainer.fit(split)
    except ValueError as error:
        named = {"X": "X_", "y": "y_"}.get(corrupt, corrupt)
        assert corrupt is not None, f"a valid configuration was refused: {error}"
        assert named in str(error), f"the error for {corrupt} does not name it: {error}"
        hypothesis.event(f"refused: {corrupt}")
        return
    assert corrupt is None, f"invalid {corrupt}={args[corrupt]!r} was accepted"
    hypothesis.event(f"trained: {history.stop_reason.split(' (')[0]}")
    # Either finished, or stopped on a reported non-finite loss with the best parameters restored:
    # the model is finite either way, and so are its predictions.
    assert history.stop_reason == "completed" or history.stop_reason.startswith("non-finite loss")
    assert np.isfinite(model.flat_params).all() and np.isfinite(model.running).all()
    assert np.isfinite(model.predict_proba(X)).all()
