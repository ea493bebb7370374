"""Experiment 4, weight initialization, and MLP.hidden_activations, at a tiny size."""
import numpy as np
import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import initialization
from mlp_scratch.model import MLP

HIDDEN = (64,) * 5
N_PROBE = 200
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=300, n_val=100, n_test=200)


@pytest.fixture(scope="module")
def experiment(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("initialization")
    summary = initialization.compare_initializations(digits, out, hidden_sizes=HIDDEN, epochs=3, batch_size=25,
                                                     n_probe=N_PROBE, log=lambda line: None)
    return out, summary


def numpy_hidden_activations(model, X, activation=lambda a: np.maximum(a, 0.0)):
    """The oracle: affine [-> batch norm with the running averages] -> activation (ReLU), layer by
    layer, in float64."""
    p = {name: view.astype(np.float64) for name, view in model.params.items()}
    running = {name: view.astype(np.float64) for name, view in model.running_stats().items()}
    h, out = np.asarray(X, np.float64), []
    for l in range(1, len(model.hidden_sizes) + 1):
        a = h @ p[f"W{l}"]
        if model.batchnorm:
            xhat = (a - running[f"running_mean{l}"]) / np.sqrt(running[f"running_var{l}"] + model.bn_eps)
            a = p[f"gamma{l}"] * xhat + p[f"beta{l}"]
        else:
            a = a + p[f"b{l}"]
        h = activation(a)
        out.append(h)
    return out


def randomized_model(dtype, batchnorm):
    """A model whose biases, gamma, beta and running statistics are all non-trivial."""
    model = MLP(64, [20, 15, 10], 10, batchnorm=batchnorm, dtype=dtype, seed=3)
    rng = np.random.default_rng(4)
    for name, view in model.params.items():
        if not name.startswith("W"):
            view[:] = rng.uniform(0.5, 1.5, view.shape) if name.startswith("gamma") else rng.normal(0, 0.5, view.shape)
    for name, view in model.running_stats().items():
        view[:] = rng.uniform(0.2, 3.0, view.shape) if name.startswith("running_var") else rng.normal(0, 1, view.shape)
    return model


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hidden_activations_match_numpy(digits, dtype, batchnorm):
    model = randomized_model(dtype, batchnorm)
    X = digits.X_train[:50]
    got, want = model.hidden_activations(X), numpy_hidden_activations(model, X)
    assert [a.shape for a in got] == [(50, 20), (50, 15), (50, 10)]
    assert all(a.dtype == model.dtype for a in got)
    for a, b in zip(got, want):
        assert (b > 0).mean() > 0.2  # the check is not about zeros only
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_hidden_activations_are_copies(digits):
    model = MLP(64, [16, 16], 10, seed=0)
    first = model.hidden_activations(digits.X_train[:30])
    kept = [a.copy() for a in first]
    model.hidden_activations(digits.X_train[30:90])  # reuses (and grows) the workspace
    model.scores(digits.X_train[:5])
    assert all(np.array_equal(a, b) for a, b in zip(first, kept))
    assert MLP(64, [], 10).hidden_activations(digits.X_train[:3]) == []
    with pytest.raises(ValueError, match="X must have 64 features"):
        model.hidden_activations(digits.X_train[:3, :10])


def test_initialization_writes_tables_and_figures(experiment):
    out, summary = experiment
    labels = ["std 0.01", "Xavier", "He", "std 1"]
    assert [row["init"] for row in summary] == labels
    columns, rows = read_csv(out / "summary.csv")
    assert columns == initialization.SUMMARY and [r["init"] for r in rows] == labels
    columns, layers = read_csv(out / "activations.csv")
    assert columns == ["init", "layer", "mean", "std", "zero_fraction"]
    assert [(r["init"], int(r["layer"])) for r in layers] == [(i, l) for i in labels for l in range(1, 6)]
    for name in ("activation_histograms", "activation_std", "training"):
        assert_png(out / f"{name}.png")


def test_activation_statistics_match_the_numpy_forward(experiment, digits):
    out, _ = experiment
    _, layers = read_csv(out / "activations.csv")
    for init, label in zip(initialization.INITS, ["std 0.01", "Xavier", "He", "std 1"]):
        model = MLP(digits.n_features, HIDDEN, digits.n_classes, init=init, seed=0)
        want = numpy_hidden_activations(model, digits.X_train[:N_PROBE])
        rows = [r for r in layers if r["init"] == label]
        np.testing.assert_allclose([float(r["mean"]) for r in rows], [a.mean() for a in want], rtol=1e-4)
        np.testing.assert_allclose([float(r["std"]) for r in rows], [a.std() for a in want], rtol=1e-4)
        np.testing.assert_allclose([float(r["zero_fraction"]) for r in rows], [np.mean(a == 0) for a in want])


def test_tanh_network_statistics_match_the_numpy_forward(digits, tmp_path):
    initialization.compare_initializations(digits, tmp_path, inits=["xavier"], hidden_sizes=(32, 32), epochs=1,
                                           activation="tanh", n_probe=N_PROBE, log=lambda line: None)
    _, rows = read_csv(tmp_path / "activations.csv")
    model = MLP(digits.n_features, (32, 32), digits.n_classes, activation="tanh", init="xavier", seed=0)
    want = numpy_hidden_activations(model, digits.X_train[:N_PROBE], np.tanh)
    np.testing.assert_allclose([float(r["std"]) for r in rows], [a.std() for a in want], rtol=1e-4)
    assert min(float(r["mean"]) for r in rows) < 0  # tanh outputs take both signs, unlike ReLU's


def test_small_std_vanishes_and_he_keeps_the_scale(experiment):
    out, summary = experiment
    _, layers = read_csv(out / "activations.csv")
    std = {label: [float(r["std"]) for r in layers if r["init"] == label] for label in ("std 0.01", "He", "std 1")}
    # each layer multiplies the scale by about 0.01 * sqrt(64 / 2) = 0.057: 4 layers make ~1e-5
    assert std["std 0.01"][-1] < 1e-3 * std["std 0.01"][0]
    assert max(std["He"]) < 3 * min(std["He"])
    assert std["std 1"][-1] > 1e2 * std["std 1"][0]  # 1 * sqrt(64 / 2) = 5.7 per layer
    by_init = {row["init"]: row for row in summary}
    assert by_init["He"]["std_ratio"] == pytest.approx(std["He"][-1] / std["He"][0])
    # the vanished signal does not train (the output layer alone learns little); He does
    assert by_init["He"]["test_acc"] > by_init["std 0.01"]["test_acc"] + 0.4


def test_bad_init_is_named(digits, tmp_path):
    with pytest.raises(ValueError, match="init must be"):
        initialization.compare_initializations(digits, tmp_path, inits=["lecun"])
    with pytest.raises(ValueError, match="inits must name"):
        initialization.compare_initializations(digits, tmp_path, inits=[])


def test_script_runs(tmp_path, capsys):
    initialization.main(["--dataset", "digits", "--n-train", "200", "--n-val", "100", "--inits", "he", "0.05",
                         "--hidden-sizes", "32", "32", "--epochs", "1", "--n-probe", "50", "--out", str(tmp_path)])
    _, rows = read_csv(tmp_path / "summary.csv")
    assert [r["init"] for r in rows] == ["He", "std 0.05"]
    printed = capsys.readouterr().out
    assert "activation std per hidden layer" in printed and "results in" in printed
