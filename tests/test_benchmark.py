"""The benchmark's NumPy baseline is a trustworthy reference, and the benchmark runs end to end."""
import json
import sys

import numpy as np
import pytest

from mlp_scratch import MLP
from mlp_scratch.benchmark import CONFIGS, SIDE_CLASSES, SIDES, Config, NumpyAdam, NumpyNet, Side, main, measure
from mlp_scratch.benchmark.configs import BETAS, EPS, LR, make_data
from mlp_scratch.gradient_check import eval_numerical_gradient, rel_error
from mlp_scratch.optim import Adam

TINY = {"bn+dropout": Config(5, (4, 3), 3, batchnorm=True, dropout=0.3, batch_size=6),
        "plain": Config(5, (4, 3), 3, batchnorm=False, dropout=0.0, batch_size=6)}


def tiny_batch(config, n=6, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, config.input_dim)), np.arange(n) % config.num_classes


@pytest.mark.parametrize("name", TINY)
def test_numpy_baseline_gradients_match_numeric_ones(name):
    config = TINY[name]
    net = NumpyNet(config, dtype=np.float64, seed=0)
    for p in net.params.values():  # away from the defaults (gamma 1, beta 0, b 0) so every term counts
        p += 0.1 * np.random.default_rng(2).standard_normal(p.shape)
    X, y = tiny_batch(config)
    masks = net.draw_masks(len(X))
    assert bool(masks) == (config.dropout > 0) and all(m.any() and not m.all() for m in masks)
    _, grads = net.loss(X, y, masks)
    assert sorted(grads) == sorted(net.params)
    for name_, p in net.params.items():
        numeric = eval_numerical_gradient(lambda _: net.loss(X, y, masks)[0], p)
        assert rel_error(grads[name_], numeric) < 1e-6, name_


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("batchnorm", [True, False])
def test_numpy_baseline_loss_equals_mlp_scratch_loss(batchnorm, dtype, rtol):
    config = Config(7, (6, 5), 4, batchnorm=batchnorm, dropout=0.0, batch_size=8)
    model = MLP(7, [6, 5], 4, batchnorm=batchnorm, dtype=np.dtype(dtype).name, seed=3)
    model.flat_params[:] = np.random.default_rng(4).standard_normal(model.flat_params.size)
    net = NumpyNet(config, dtype=dtype)
    assert sorted(net.params) == sorted(model.params)  # same names, no bias before batch norm
    for name, p in net.params.items():
        p[...] = model.params[name]
    X, y = tiny_batch(config, n=8)
    X = X.astype(dtype)
    loss, grads = net.loss(X, y)
    assert loss.dtype == dtype and all(g.dtype == dtype for g in grads.values())
    np.testing.assert_allclose(loss, model.forward_backward(X, y), rtol=rtol)
    for name, g in grads.items():
        np.testing.assert_allclose(g, model.grads[name], rtol=100 * rtol, atol=100 * rtol, err_msg=name)


def test_numpy_adam_equals_mlp_scratch_adam():
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 4)).astype(np.float32), "b": rng.standard_normal(4).astype(np.float32)}
    flat = np.concatenate([p.ravel() for p in params.values()])
    ours, numpy_adam = Adam(lr=0.01), NumpyAdam(params, lr=0.01)
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in params.items()}
        numpy_adam.step(params, grads)
        ours.step(flat, np.concatenate([g.ravel() for g in grads.values()]))
    assert all(p.dtype == np.float32 for p in params.values())
    np.testing.assert_allclose(np.concatenate([p.ravel() for p in params.values()]), flat, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("config", ["small", "medium"])  # the products as one BLAS call each, and in blocks
def test_the_interleaved_limit_makes_each_steps_products_and_one_update(config):
    config = CONFIGS[config]
    side = SIDE_CLASSES["interleaved-limit"]()
    side.prepare(config, *make_data(config, 3 * config.batch_size), threads=2)
    start = side.params.copy()
    side.run_epoch(1)
    xs, Ws, douts, outs, dWs, dxs = side.layers
    for l in range(len(Ws)):
        np.testing.assert_allclose(outs[l], xs[l] @ Ws[l], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(dWs[l], xs[l].T @ douts[l], rtol=1e-4, atol=1e-4)
        if l > 0:
            np.testing.assert_allclose(dxs[l], douts[l] @ Ws[l].T, rtol=1e-4, atol=1e-4)
    reference = Adam(lr=LR, betas=BETAS, eps=EPS)
    for _ in range(3):
        reference.step(start, side.grads)
    np.testing.assert_array_equal(side.params, start)


def test_quick_run_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    sides = ["mlp-scratch", "sklearn", "numpy", "step-limit", "interleaved-limit"]
    assert main(["--quick", "--configs", "small", "--rounds", "3", "--samples", "256", "--threads", "1",
                 "--sides", *sides, "--pause", "0", "--no-startup", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert set(report) == {"machine", "settings", "configs", "startup", "blas"}
    assert {"cpu", "cores", "threads", "python", "numpy", "numba", "scipy", "torch", "jax", "sklearn",
            "date"} <= set(report["machine"])
    assert report["machine"]["threads"] == 1 and report["settings"]["rounds"] == 3
    small = report["configs"]["small"]
    assert small["architecture"] == [64, 64, 64, 10] and list(small["sides"]) == sides
    assert small["sides"]["sklearn"]["status"] == "skipped"  # batch norm
    ours = small["sides"]["mlp-scratch"]
    assert ours["status"] == "ok" and len(ours["rounds"]) == 2 and ours["samples_per_s"] > 0
    assert ours["ours_over_side"] == 1 and ours["ratio_to_torch"] is None and ours["paired"] == 1
    numpy = small["sides"]["numpy"]  # paired: mlp-scratch / numpy round by round, then the median
    assert numpy["paired"] == pytest.approx(np.median(np.divide(ours["rounds"], numpy["rounds"])), rel=1e-12)
    assert small["sides"]["step-limit"]["fraction_of_limit"] == 1
    interleaved = small["sides"]["interleaved-limit"]
    assert interleaved["fraction_of_limit"] == interleaved["samples_per_s"] / small["sides"]["step-limit"]["samples_per_s"]
    out = capsys.readouterr().out
    assert "--quick" in out and "of limit" in out and str(path) in out


def test_the_estimators_cost_is_its_rate_over_trainer_fits_in_medians_and_round_by_round(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["--configs", "small", "--rounds", "4", "--samples", "512", "--threads", "1", "--sides", "trainer.fit",
                 "estimator", "--pause", "0", "--no-startup", "--json", str(path)]) == 0
    small = json.loads(path.read_text())["configs"]["small"]
    fit, estimator = small["sides"]["trainer.fit"], small["sides"]["estimator"]
    cost = small["estimator_over_trainer_fit"]
    assert cost["medians"] == estimator["samples_per_s"] / fit["samples_per_s"]
    assert cost["paired"] == pytest.approx(np.median(np.divide(estimator["rounds"], fit["rounds"])), rel=1e-12)
    assert f"estimator / trainer.fit: {cost['medians']:.3f}x, paired {cost['paired']:.3f}x" in capsys.readouterr().out


def test_neighbour_runs_each_config_again_beside_busy_processes(tmp_path, capsys):
    path = tmp_path / "bench.json"
    # Enough samples that the busy process's share is read over about 40 of /proc/stat's 10 ms ticks.
    assert main(["--configs", "small", "--rounds", "2", "--samples", "16384", "--sides", "mlp-scratch", "numpy",
                 "--pause", "0", "--no-startup", "--neighbour", "1", "--json", str(path)]) == 0
    small = json.loads(path.read_text())["configs"]["small"]
    neighbour = small["neighbour"]
    assert neighbour["processes"] == 1 and neighbour["other_processes_cores"] > 0.5
    for side in ("mlp-scratch", "numpy"):
        busy, idle = neighbour["sides"][side], small["sides"][side]
        assert busy["of_idle"] == busy["samples_per_s"] / idle["samples_per_s"]
    assert "again beside 1 busy process(es)" in capsys.readouterr().out


def test_bad_arguments_are_refused(capsys):
    for argv in (["--rounds", "1"], ["--threads", "0"], ["--pause", "-1"], ["--configs", "huge"], ["--samples", "100"],
                 ["--neighbour", "-1"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "error" in capsys.readouterr().err


def test_every_side_and_config_is_named():
    assert set(SIDES) >= {"mlp-scratch", "torch", "torch.compile", "jax", "sklearn", "numpy", "step-limit",
                          "interleaved-limit"}
    assert {"large", "medium", "small", "sklearn"} == set(CONFIGS)


def test_missing_libraries_skip_their_sides(monkeypatch, capsys):
    for module in ("torch", "jax", "optax"):
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    results, _ = measure(CONFIGS["small"], ["torch", "torch.compile", "jax"], 64, 2, 1, pause=0)
    assert all(r["status"] == "skipped" and "not installed" in r["reason"] for r in results.values())
    assert "not installed" in capsys.readouterr().out


def test_a_side_failing_in_the_warm_up_round_is_skipped_with_its_reason(monkeypatch):
    class Broken(Side):
        name = "broken"

        def prepare(self, config, X, y, threads):
            pass

        def run_epoch(self, epoch):
            raise RuntimeError("no C++ compiler\nlong traceback")

    monkeypatch.setitem(SIDE_CLASSES, "broken", Broken)
    results, _ = measure(CONFIGS["small"], ["broken", "numpy"], 64, 2, 1, pause=0, log=lambda line: None)
    assert results["broken"] == {"status": "skipped", "reason": "RuntimeError: no C++ compiler"}
    assert results["numpy"]["status"] == "ok"


def test_a_side_collects_only_its_own_garbage(monkeypatch):
    """Before each side's epoch the garbage so far is collected and the survivors frozen: a side that
    leaves 600 objects behind and cyclic garbage does not push the next side's few allocations over
    the collector's threshold (700), and no collection in that side walks the survivors. Afterwards
    the process's objects are collectable again."""
    import gc

    class Litter(Side):
        name = "litter"

        def prepare(self, config, X, y, threads):
            self.kept = []

        def run_epoch(self, epoch):
            self.kept.append([[] for _ in range(600)])  # survivors, counted toward the next collection
            for _ in range(50):
                cycle = []
                cycle.append(cycle)

    class Watcher(Side):
        name, seen, collections, watching = "watcher", [], [], False

        def prepare(self, config, X, y, threads):
            pass

        def run_epoch(self, epoch):
            Watcher.seen.append((gc.get_count()[0], gc.get_freeze_count()))
            Watcher.watching = True
            self.made = [[] for _ in range(200)]
            Watcher.watching = False

    def count(phase, info):
        if phase == "start" and Watcher.watching:
            Watcher.collections.append(info["generation"])

    monkeypatch.setitem(SIDE_CLASSES, "litter", Litter)
    monkeypatch.setitem(SIDE_CLASSES, "watcher", Watcher)
    frozen_before = gc.get_freeze_count()
    gc.callbacks.append(count)
    try:
        measure(CONFIGS["small"], ["litter", "watcher"], 64, 3, 1, pause=0, log=lambda line: None)
    finally:
        gc.callbacks.remove(count)
    assert Watcher.collections == []
    assert all(young < 100 and frozen >= 600 * (epoch + 1) for epoch, (young, frozen) in enumerate(Watcher.seen))
    assert gc.get_freeze_count() == frozen_before == 0


def test_startup_figures_are_medians_of_their_processes(monkeypatch):
    from mlp_scratch.benchmark import run
    monkeypatch.setattr(run, "STARTUP_CODE", "import time; time.sleep(0.2)")
    result = run.measure_startup(runs=3, cold_runs=3, log=lambda line: None)
    assert set(result) == {"cold_first_step", "interpreter", "import", "warm_first_step", "runs"}
    for name, seconds in result["runs"].items():
        assert len(seconds) == 3 and result[name] == sorted(seconds)[1]
    assert min(result["runs"]["warm_first_step"]) >= 0.2 and result["cold_first_step"] >= 0.2


def test_compile_times_split_a_kernels_seconds_from_its_callees():
    import numba
    from numba.core import event
    from mlp_scratch.benchmark.run import CompileTimes

    @numba.njit
    def inner(x):
        return x + 1

    @numba.njit
    def outer(x):
        return inner(x) * 2

    times = CompileTimes()
    with event.install_listener("numba:compile", times):
        assert outer(1.5) == 5.0
    (inner_total, inner_own, inner_name), (outer_total, outer_own, outer_name) = times.done
    assert inner_name.endswith("inner") and outer_name.endswith("outer") and not times.open
    assert inner_own == inner_total and 0 < inner_total < outer_total
    assert outer_own == outer_total - inner_total


def test_real_data_side_times_every_epoch_of_both_sides_and_compares_their_medians(monkeypatch, tmp_path, capsys):
    from mlp_scratch.benchmark import real_data
    rng = np.random.default_rng(0)
    X = rng.random((300, 784), dtype=np.float32)
    monkeypatch.setattr(real_data, "load_mnist", lambda data_dir: (X, np.arange(300) % 10))
    assert main(["--real-data", "--epochs", "3", "--pause", "0", "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())["real_data"]
    assert sorted(report) == ["adam", "sgd-momentum"]
    for sides in report.values():
        ours, theirs = sides["mlp-scratch"], sides["sklearn"]
        for side in (ours, theirs):
            assert len(side["epochs"]) == 3 and side["median"] == float(np.median(side["epochs"]))
            assert side["late_over_early"] == np.median(side["epochs"][-5:]) / np.median(side["epochs"][1:6])
            assert side["samples_per_s"] == 300 / side["median"]
        assert ours["ours_over_sklearn"] == theirs["median"] / ours["median"]
    assert "MNIST, 784-256-256-10, batch 128, adam, 3 epochs of 300 samples" in capsys.readouterr().out
