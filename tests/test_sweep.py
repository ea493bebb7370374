"""Sweeps on each backend: the same tables, failures recorded, data sent once, resumable."""
import contextlib
import importlib.util
import json
import os
import pathlib
import socket
import warnings

import numpy as np
import pytest

import sweep_trials
from experiment_checks import read_csv
from mlp_scratch import datasets
from mlp_scratch.experiments import compare, search
from mlp_scratch.experiments.common import ranking_key
from mlp_scratch.experiments.sweep import Sweep
from mlp_scratch.threads import available_cores as cores
from sweep_trials import CountingDataset, probe

needs_dask = pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs dask.distributed")
TIMING = ("seconds", "seconds_std", "seconds_per_iteration", "worker")  # the columns that differ between runs of the same trial
# the backends with worker processes (Dask: a LocalCluster on 127.0.0.1)
POOLS = [pytest.param("joblib", id="joblib"), pytest.param("dask", id="dask", marks=needs_dask)]


@pytest.fixture(autouse=True)
def workers_import_the_test_trials(monkeypatch):
    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).parent))
    monkeypatch.setenv("PYTHONPATH", str(pathlib.Path(__file__).parent))


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=200, n_val=100, n_test=100)


def counting(data):
    return CountingDataset(**{name: getattr(data, name) for name in data.__dataclass_fields__})


def without_timing(rows):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


@needs_dask
def test_compare_gives_the_same_table_on_every_backend(digits, tmp_path):
    tables = {}
    for backend, workers in [("serial", 1), ("joblib", 2), ("dask", 2)]:
        compare.compare_optimizers(digits, tmp_path / backend, methods=["sgd", "adam", "lbfgs"], seeds=(0, 1),
                                   epochs=2, batch_size=32, lbfgs_iterations=4, lr_search=True, hidden_sizes=(32,),
                                   backend=backend, workers=workers, threads=1, log=lambda line: None)
        tables[backend] = {name: without_timing(read_csv(tmp_path / backend / f"{name}.csv")[1])
                           for name in ("trials", "lr_search", "summary")}
        workers = {row["worker"] for row in read_csv(tmp_path / backend / "trials.csv")[1]}
        assert (workers == {f"{socket.gethostname()}:{os.getpid()}"}) == (backend == "serial")  # ran where asked
    assert tables["serial"] == tables["joblib"] == tables["dask"]
    assert {row["status"] for row in tables["dask"]["trials"]} == {"ok"}
    assert {row["threads"] for row in tables["dask"]["trials"]} == {"1"}


def test_search_gives_the_same_table_on_every_backend(digits, tmp_path):
    settings = dict(lr_range=(1e-3, 1.0), penalty_range=(1e-5, 1e-1), coarse_trials=4, coarse_epochs=1,
                    fine_trials=2, fine_epochs=2, top_k=2, hidden_sizes=(16,), batch_size=32, seed=2,
                    log=lambda line: None)
    serial = search.hyperparameter_search(digits, tmp_path / "serial", threads=1, **settings)
    joblib = search.hyperparameter_search(digits, tmp_path / "joblib", backend="joblib", workers=2, threads=1,
                                          **settings)
    assert without_timing(serial[0]) == without_timing(joblib[0]) and serial[2] == joblib[2]


def allowed_failures(n):
    """Dask retries a task whose worker died n times (LocalClusters started in the block)."""
    if importlib.util.find_spec("dask") is None:
        return contextlib.nullcontext()
    import dask
    return dask.config.set({"distributed.scheduler.allowed-failures": n})


@pytest.mark.parametrize("backend", POOLS)
def test_failed_trials_are_recorded_and_the_rest_finish(backend, digits):
    fails = [None, "raise", "crash", None, "diverge", None, None]
    configs = [{"x": x, "fail": fail} for x, fail in enumerate(fails)]
    with allowed_failures(1), Sweep(digits, backend=backend, workers=2, threads=1) as sweep:
        rows = sweep.run(probe, configs)
    assert [row["status"] for row in rows] == ["ok", "error", "lost", "ok", "diverged", "ok", "ok"]
    total = float(digits.X_train.sum())
    for x, row in enumerate(rows):
        if row["status"] in ("ok", "diverged"):
            assert row["value"] == total * x and row["error"] == row["stop_reason"] * (row["status"] == "diverged")
    assert rows[1]["error"] == "ValueError: trial 1 asked to fail" and "in probe" in rows[1]["traceback"]
    assert rows[2]["error"] and "value" not in rows[2] and rows[2]["worker"] == ""  # the process is gone
    assert rows[1]["worker"] and not rows[1]["worker"].endswith(f":{os.getpid()}")  # the worker that raised


def test_two_trials_that_crash_at_once_are_both_lost_and_the_others_finish(digits):
    fails = ["crash", "crash", None, None, None]
    with Sweep(digits, backend="joblib", workers=2, threads=1) as sweep:
        rows = sweep.run(probe, [{"x": x, "fail": fail} for x, fail in enumerate(fails)])
    assert [row["status"] for row in rows] == ["lost", "lost", "ok", "ok", "ok"]


def test_a_serial_trial_that_raises_is_recorded(digits):
    with Sweep(digits) as sweep:
        rows = sweep.run(probe, [{"x": 1, "fail": "raise"}, {"x": 2}])
    assert [row["status"] for row in rows] == ["error", "ok"] and rows[1]["value"] == 2 * float(digits.X_train.sum())


@pytest.mark.parametrize("backend", POOLS)
def test_data_is_sent_once_to_each_worker(backend, digits, monkeypatch):
    data = counting(digits)
    CountingDataset.pickled = 0
    monkeypatch.setattr(sweep_trials, "parent_mark", os.getpid())
    with Sweep(data, backend=backend, workers=2, threads=1) as sweep:
        rows = sweep.run(probe, [{"x": x} for x in range(8)])
        rows += sweep.run(probe, [{"x": x} for x in range(8, 12)])  # a second stage reuses the workers' copy
    assert [row["value"] for row in rows] == [float(digits.X_train.sum()) * x for x in range(12)]
    # loky: once to each of the 2 workers; Dask: once, to the scheduler, which hands the plugin to each
    assert CountingDataset.pickled == {"joblib": 2, "dask": 1}[backend]
    # workers are new interpreters, not forks of this process (whose OpenMP pool runs by now)
    assert all(row["inherited"] is None for row in rows)


def test_serial_backend_does_not_copy_the_data(digits):
    data = counting(digits)
    CountingDataset.pickled = 0
    with Sweep(data) as sweep:
        sweep.run(probe, [{"x": x} for x in range(3)])
    assert CountingDataset.pickled == 0


@pytest.mark.parametrize("backend, workers", [("serial", 1), ("joblib", 2), ("joblib", 1),
                                              pytest.param("dask", 2, marks=needs_dask)])
def test_each_trial_runs_at_cores_over_workers_threads(backend, workers, digits, monkeypatch):
    monkeypatch.setenv("MLP_SCRATCH_KERNEL_THREADS", str(cores()))  # the workers' own setting: all cores
    with Sweep(digits, backend=backend, workers=workers) as sweep:
        rows = sweep.run(probe, [{"x": 1}, {"x": 2}])
    expected = max(1, cores() // workers)
    assert [row["threads"] for row in rows] == [expected] * 2
    assert all(row["blas"] == [expected] for row in rows)
    if backend != "serial":  # a worker's kernels are capped at its share too; serial keeps this process's
        assert all(row["kernels"] == min(cores(), expected) for row in rows)


@needs_dask
def test_dask_cluster_given_by_its_scheduler_address(digits):
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        with Sweep(digits, backend="dask", scheduler=cluster.scheduler_address) as sweep:
            rows = sweep.run(probe, [{"x": x} for x in range(4)])
        with Client(cluster) as client:  # the sweep took its data (a worker plugin) away with it
            plugins = client.run(lambda dask_worker: [name for name in dask_worker.plugins if "mlp-scratch" in name])
        assert all(names == [] for names in plugins.values())
    expected = max(1, cores() // 2)  # two workers of one thread on this host share its cores
    assert [row["value"] for row in rows] == [float(digits.X_train.sum()) * x for x in range(4)]
    assert {row["threads"] for row in rows} == {expected} and all(row["blas"] == [expected] for row in rows)


def test_resume_runs_only_the_unfinished_trials(digits, tmp_path):
    results = tmp_path / "results.jsonl"
    configs = [{"x": 1}, {"x": 2, "fail": "raise"}, {"x": 3, "fail": "diverge"}]
    with Sweep(digits, results=results) as sweep:
        first = sweep.run(probe, configs)
    assert len(results.read_text().splitlines()) == 3
    sweep_trials.calls.clear()
    with Sweep(digits, results=results, resume=True) as sweep:
        again = sweep.run(probe, configs + [{"x": 4}])
    # the error runs again (its cause may be gone), the finished and the diverged one do not
    assert sweep_trials.calls == [{"x": 2, "fail": "raise"}, {"x": 4}]
    assert again[0] == first[0] and again[2] == first[2] and again[3]["value"] == 4 * float(digits.X_train.sum())
    with Sweep(digits, results=results):  # without resume, the file starts anew at the first finished trial...
        pass
    # ... so a sweep that ran none keeps it: the 3 first rows, the error's second row and x=4's
    assert len(results.read_text().splitlines()) == 5
    sweep_trials.calls.clear()
    with Sweep(digits, results=results) as sweep:
        sweep.run(probe, configs[:1])
    assert sweep_trials.calls == configs[:1] and len(results.read_text().splitlines()) == 1
    with pytest.warns(UserWarning, match="other BLAS threads"):
        with Sweep(digits, results=results, resume=True, threads=1) as sweep:
            sweep.run(probe, configs[:1])


def test_resume_skips_a_line_cut_short_and_other_data_is_another_trial(digits, tmp_path):
    results = tmp_path / "results.jsonl"
    with Sweep(digits, results=results) as sweep:
        sweep.run(probe, [{"x": 1}, {"x": 2}])
    lines = results.read_text().splitlines()
    results.write_text(lines[0] + "\n" + lines[1][:25])  # a crash in the middle of the last write
    sweep_trials.calls.clear()
    with pytest.warns(UserWarning, match="1 unreadable line"):
        with Sweep(digits, results=results, resume=True) as sweep:
            sweep.run(probe, [{"x": 1}, {"x": 2}])
    assert sweep_trials.calls == [{"x": 2}]
    other = datasets.load("digits", n_train=200, n_val=100, n_test=100, seed=1)
    sweep_trials.calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cut line was dropped: the file reads whole again
        with Sweep(other, results=results, resume=True) as sweep:
            sweep.run(probe, [{"x": 1}])
    assert sweep_trials.calls == [{"x": 1}]
    assert len(results.read_text().splitlines()) == 3


def test_an_interrupted_serial_sweep_keeps_its_finished_trials(digits, tmp_path):
    results = tmp_path / "results.jsonl"
    configs = [{"x": 1}, {"x": 2, "fail": "interrupt"}, {"x": 3}]
    with pytest.raises(KeyboardInterrupt):
        with Sweep(digits, results=results) as sweep:
            sweep.run(probe, configs)
    assert [json.loads(line)["config"] for line in results.read_text().splitlines()] == [{"x": 1}]
    sweep_trials.calls.clear()
    with Sweep(digits, results=results, resume=True) as sweep:
        sweep.run(probe, [configs[0], configs[2]])
    assert sweep_trials.calls == [{"x": 3}]


@pytest.mark.parametrize("backend", POOLS)
def test_an_interrupted_pool_sweep_keeps_its_finished_trials_and_stops_its_workers(backend, digits, tmp_path):
    results = tmp_path / "results.jsonl"

    finished = []

    def interrupt_after_two(config, row):
        finished.append(config)
        if len(finished) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with Sweep(digits, backend=backend, workers=2, threads=1, results=results) as sweep:
            sweep.run(probe, [{"x": x} for x in range(6)], report=interrupt_after_two)
    assert len(results.read_text().splitlines()) == 2
    assert sweep._engine._executor is None if backend == "joblib" else sweep._engine._client is None


def test_configs_are_json_values(digits):
    with Sweep(digits) as sweep:
        rows = sweep.run(probe, [{"x": np.int64(3), "sizes": (np.float32(0.5),)}])
    assert sweep_trials.calls[-1] == {"x": 3, "sizes": [0.5]} and type(sweep_trials.calls[-1]["x"]) is int
    assert rows[0]["value"] == 3 * float(digits.X_train.sum())


def test_ranking_puts_finished_before_diverged_before_failed():
    rows = [{"status": "error"}, {"status": "diverged", "val_acc": 0.9, "val_loss": 0.1},
            {"status": "ok", "val_acc": 0.5, "val_loss": 1.0}, {"status": "ok", "val_acc": 0.5, "val_loss": 0.8},
            {"status": "ok", "val_acc": 0.7, "val_loss": 2.0}]
    assert [rows.index(r) for r in sorted(rows, key=ranking_key)] == [4, 3, 2, 1, 0]


def test_failed_lr_search_falls_back_to_defaults_and_a_failed_search_says_so(digits, tmp_path, monkeypatch):
    def fail(data, config):
        raise RuntimeError("no")

    monkeypatch.setattr(compare, "lr_trial", fail)
    lines = []
    summary = compare.compare_optimizers(digits, tmp_path / "compare", methods=["adam"], seeds=(0,), epochs=1,
                                         lr_search=True, log=lines.append)
    assert summary[0]["lr"] == compare.METHODS["adam"][2] and any("every learning-rate trial failed" in l for l in lines)
    monkeypatch.setattr(search, "search_trial", fail)
    with pytest.raises(RuntimeError, match="every trial failed"):
        search.hyperparameter_search(digits, tmp_path / "search", coarse_trials=2, fine_trials=1, log=lambda line: None)
    _, rows = read_csv(tmp_path / "search" / "trials.csv")
    assert [row["status"] for row in rows] == ["error"] * 3 and rows[0]["error"] == "RuntimeError: no"


def test_compare_resumes_from_its_results_file(digits, tmp_path):
    run = lambda seeds, **options: compare.compare_optimizers(digits, tmp_path, methods=["momentum"], seeds=seeds,
                                                              epochs=1, log=lambda line: None, **options)
    run((0, 1))
    _, before = read_csv(tmp_path / "trials.csv")
    run((0, 1, 2), resume=True)
    _, after = read_csv(tmp_path / "trials.csv")
    assert after[:2] == before  # the same rows, timings included: not trained again
    assert [row["seed"] for row in after] == ["0", "1", "2"] and after[2]["status"] == "ok"


@pytest.mark.parametrize("options, message", [
    (dict(backend="spark"), "backend must be one of"),
    (dict(workers=2), "serial backend runs one trial at a time"),
    (dict(backend="joblib", workers=0), "workers must be"),
    (dict(backend="joblib", threads=1.5), "threads must be"),
    (dict(backend="joblib", workers=2, threads=cores()), "must not exceed"),
    (dict(backend="joblib", scheduler="tcp://127.0.0.1:8786"), "only the dask backend"),
    (dict(backend="dask", scheduler="tcp://127.0.0.1:8786", workers=2), "has its own workers"),
])
def test_bad_sweep_options_are_named(digits, options, message):
    with pytest.raises(ValueError, match=message):
        Sweep(digits, **options)


def test_compare_script_runs_on_local_processes(tmp_path):
    compare.main(["--dataset", "digits", "--n-train", "200", "--n-val", "100", "--methods", "sgd", "--seeds", "2",
                  "--epochs", "1", "--hidden-sizes", "16", "--backend", "joblib", "--workers", "2", "--threads", "1",
                  "--out", str(tmp_path)])
    _, rows = read_csv(tmp_path / "trials.csv")
    assert f":{os.getpid()}" not in rows[0]["worker"] and {row["threads"] for row in rows} == {"1"}
    assert np.isfinite([float(row["test_acc"]) for row in rows]).all()


def test_search_resumes_from_its_results_file(digits, tmp_path):
    settings = dict(coarse_trials=3, coarse_epochs=1, fine_trials=2, fine_epochs=1, hidden_sizes=(16,), seed=4,
                    log=lambda line: None)
    first = search.hyperparameter_search(digits, tmp_path, **settings)[0]
    again = search.hyperparameter_search(digits, tmp_path, resume=True, **settings)[0]
    assert again == first  # timings included: no trial trained again
    more = search.hyperparameter_search(digits, tmp_path, resume=True, **{**settings, "fine_trials": 3})[0]
    assert more[:5] == first and len(more) == 6 and more[5]["stage"] == "fine"  # only the new trial ran
