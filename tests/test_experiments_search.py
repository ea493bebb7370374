"""Experiment 7, coarse-to-fine random search, at a tiny size."""
import json

import numpy as np
import pytest

from experiment_checks import assert_png, read_csv
from mlp_scratch import cli, datasets
from mlp_scratch.experiments import search

SMALL = dict(lr_range=(1e-3, 1.0), penalty_range=(1e-5, 1e-1), coarse_trials=8, coarse_epochs=1, fine_trials=4,
             fine_epochs=3, top_k=3, margin=0.2, hidden_sizes=(32,), batch_size=32)


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits", n_train=200, n_val=150, n_test=100)


@pytest.fixture(scope="module")
def result(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    return (out, *search.hyperparameter_search(digits, out, seed=5, log=lambda line: None, **SMALL))


def test_writes_tables_and_figures(result):
    out, trials, best, _ = result
    columns, rows = read_csv(out / "trials.csv")
    assert columns == ["stage", "trial", "lr", "l2", "epochs", "val_acc", "val_loss", "train_acc", "seconds",
                       "stop_reason", "status", "error", "worker", "threads"]
    assert {r["status"] for r in rows} == {"ok"} and {r["error"] for r in rows} == {""}
    assert [r["stage"] for r in rows] == ["coarse"] * 8 + ["fine"] * 4
    assert [int(r["epochs"]) for r in rows] == [1] * 8 + [3] * 4
    assert [float(r["val_acc"]) for r in rows] == [t["val_acc"] for t in trials]
    assert best["val_acc"] == max(t["val_acc"] for t in trials)
    for name in ("search", "marginals"):
        assert_png(out / f"{name}.png")


def test_trials_lie_in_their_ranges_and_fine_is_inside_coarse(result):
    out, trials, _, _ = result
    ranges = json.loads((out / "ranges.json").read_text())
    for trial in trials:
        for name in ("lr", "l2"):
            low, high = ranges[trial["stage"]][name]
            assert low <= trial[name] <= high
    coarse = [t for t in trials if t["stage"] == "coarse"]
    best_coarse = min(coarse, key=search.ranking_key)
    top = sorted(coarse, key=search.ranking_key)[:SMALL["top_k"]]
    for name in ("lr", "l2"):
        (c_low, c_high), (f_low, f_high) = ranges["coarse"][name], ranges["fine"][name]
        assert c_low <= f_low < f_high <= c_high
        assert f_low <= best_coarse[name] <= f_high
        # the stated rule: the top-k's log-range widened by the margin, clipped to the coarse range
        logs = np.log10([t[name] for t in top])
        assert f_low == pytest.approx(max(c_low, 10 ** (logs.min() - SMALL["margin"])))
        assert f_high == pytest.approx(min(c_high, 10 ** (logs.max() + SMALL["margin"])))


def test_best_config_is_read_by_the_train_command_and_trains_the_best_trial_again(result, tmp_path):
    out, _, best, config = result
    parser, train_parser = cli.build_parser()
    train_parser.set_defaults(**cli.read_config(out / "best_config.json", train_parser))
    args = parser.parse_args(["train", "--out", str(tmp_path / "run"), "--quiet"])
    assert (args.lr, args.l2, args.epochs, args.hidden_sizes) == (best["lr"], best["l2"], best["epochs"],
                                                                  list(SMALL["hidden_sizes"]))
    assert (args.optimizer, args.momentum, args.batchnorm, args.batch_size) == ("sgd", 0.9, False, 32)
    cli.train(args)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["epochs"][-1]["val_acc"] == best["val_acc"]
    assert history["epochs"][-1]["val_loss"] == pytest.approx(best["val_loss"], rel=1e-6)


def test_weight_decay_config(digits, tmp_path):
    _, best, config = search.hyperparameter_search(
        digits, tmp_path, method="adamw", penalty="weight_decay", log=lambda line: None,
        **dict(SMALL, penalty_range=(1e-3, 1.0), coarse_trials=3, fine_trials=2, fine_epochs=1))
    parser, train_parser = cli.build_parser()
    train_parser.set_defaults(**cli.read_config(tmp_path / "best_config.json", train_parser))
    args = parser.parse_args(["train"])
    assert (args.optimizer, args.weight_decay, args.l2, args.lr) == ("adamw", best["weight_decay"], 0.0, best["lr"])
    _, rows = read_csv(tmp_path / "trials.csv")
    assert "weight_decay" in rows[0]


def test_sampling_is_log_uniform_and_seeded():
    ranges = {"lr": (1e-4, 1e-1), "l2": (1e-6, 1e-2)}
    points = search.sample_log_uniform(np.random.default_rng(0), ranges, 4000)
    exponents = np.log10([p["lr"] for p in points])
    assert exponents.min() >= -4 and exponents.max() <= -1
    assert np.histogram(exponents, bins=3, range=(-4, -1))[0] / 4000 == pytest.approx([1 / 3] * 3, abs=0.03)
    again = search.sample_log_uniform(np.random.default_rng(0), ranges, 4000)
    assert again == points


def test_same_seed_same_table(digits, tmp_path):
    settings = dict(SMALL, coarse_trials=3, fine_trials=2, fine_epochs=1)
    run = lambda folder, seed: search.hyperparameter_search(digits, folder, seed=seed, log=lambda line: None,
                                                            **settings)[0]
    drop_time = lambda trials: [{k: v for k, v in t.items() if k != "seconds"} for t in trials]
    first, second, other = run(tmp_path / "a", 1), run(tmp_path / "b", 1), run(tmp_path / "c", 2)
    assert drop_time(first) == drop_time(second)
    assert [t["lr"] for t in first] != [t["lr"] for t in other]


@pytest.mark.parametrize("options, message", [(dict(lr_range=(1e-1, 1e-3)), "lr_range"),
                                              (dict(penalty_range=(0.0, 1.0)), "penalty_range"),
                                              (dict(method="lbfgs"), "method"), (dict(penalty="l1"), "penalty"),
                                              (dict(top_k=0), "top_k")])
def test_bad_options_are_named(digits, tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        search.hyperparameter_search(digits, tmp_path, **options)


def test_script_runs_and_its_config_repeats_its_data_options(tmp_path, capsys):
    search.main(["--dataset", "digits", "--n-train", "100", "--n-val", "100", "--data-seed", "3",
                 "--coarse-trials", "2", "--fine-trials", "1", "--coarse-epochs", "1", "--fine-epochs", "1",
                 "--hidden-sizes", "16", "--out", str(tmp_path)])
    config = json.loads((tmp_path / "best_config.json").read_text())
    # n_test not given stays unset: asking for the whole test split by its size draws other subsets
    assert {k: config.get(k) for k in search.DATA_OPTIONS} == {
        "dataset": "digits", "n_train": 100, "n_val": 100, "n_test": None, "data_seed": 3, "data_dir": None}
    assert "results in" in capsys.readouterr().out


SCRIPT_OPTIONS = ["--dataset", "digits", "--n-train", "100", "--n-val", "100", "--coarse-epochs", "1",
                  "--fine-trials", "1", "--fine-epochs", "1", "--hidden-sizes", "8"]


def test_a_folder_with_results_is_refused_unless_told(tmp_path, capsys):
    (tmp_path / "trials.csv").write_text("stage,trial\n")
    with pytest.raises(SystemExit) as refused:
        search.main([*SCRIPT_OPTIONS, "--coarse-trials", "1", "--out", str(tmp_path)])
    assert refused.value.code == 2
    assert (f"--out {tmp_path} already holds results; pass --overwrite to replace them, --resume to continue "
            "its sweep") in capsys.readouterr().err
    search.main([*SCRIPT_OPTIONS, "--coarse-trials", "1", "--out", str(tmp_path), "--overwrite"])
    assert len(read_csv(tmp_path / "trials.csv")[1]) == 2


def test_ctrl_c_ends_the_script_in_one_line_keeping_the_finished_trials(tmp_path):
    import pathlib
    import signal
    import subprocess
    import sys
    import time

    from mlp_scratch.kernels import COMPILE_NOTICE

    script = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "hyperparameter_search.py"
    # A shell starts background jobs with SIGINT ignored, and a child inherits that: the script, as any
    # program so started, would then not see the Ctrl-C. The child starts with SIGINT's default here.
    process = subprocess.Popen([sys.executable, str(script), *SCRIPT_OPTIONS, "--coarse-trials", "100000",
                                "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    results = tmp_path / "results.jsonl"
    deadline = time.monotonic() + 300
    while not (results.exists() and results.read_text().count("\n") >= 2):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130 and "Traceback" not in stderr
    stderr = stderr.removeprefix(COMPILE_NOTICE + "\n")  # when a trial's settings compile, before the Ctrl-C
    assert stderr.startswith("interrupted: the tables and figures finished so far are kept")
    kept = [json.loads(line)["row"] for line in results.read_text().splitlines()]
    assert len(kept) >= 2 and all(row["status"] == "ok" for row in kept)
