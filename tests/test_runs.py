"""Checkpoints, run folders and the command line."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from mlp_scratch import MLP, SGD, checkpoint, datasets
from mlp_scratch.cli import main
from mlp_scratch.trainer import Trainer

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_checkpoint_round_trip_predicts_identically(tmp_path):
    data = datasets.load("iris", seed=1)
    model = MLP(4, [16], 3, batchnorm=True, dropout=0.2, seed=2)
    optimizer = SGD(lr=0.05, momentum=0.9)
    Trainer(model, optimizer, epochs=3, batch_size=16, log=None).fit(data)
    path = tmp_path / "model.npz"
    checkpoint.save(path, model, optimizer, data.meta["preprocessing"])
    loaded, metadata, arrays = checkpoint.load(path)
    np.testing.assert_array_equal(loaded.scores(data.X_test), model.scores(data.X_test))
    np.testing.assert_array_equal(arrays["optimizer.momentum_buffer"], optimizer.state["momentum_buffer"])
    assert metadata["optimizer"]["steps"] == optimizer.steps
    np.testing.assert_array_equal(arrays["preprocessing.shift"], data.meta["preprocessing"]["shift"])
    with np.load(path, allow_pickle=False) as f:  # the documented format needs no pickle
        assert set(f.files) >= {"params", "running", "metadata"}


def test_bad_checkpoints_give_clear_errors(tmp_path):
    model = MLP(4, [5], 3)
    path = tmp_path / "model.npz"
    checkpoint.save(path, model)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable mlp-scratch checkpoint"):
        checkpoint.load(truncated)
    with np.load(path) as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["metadata"]))
    meta["format_version"] = 99
    arrays["metadata"] = np.array(json.dumps(meta))
    newer = tmp_path / "newer.npz"
    np.savez(newer, **arrays)
    with pytest.raises(ValueError, match="format version 99"):
        checkpoint.load(newer)


def test_train_command_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "3", "--hidden-sizes", "32", "--dropout", "0.2",
                 "--out", str(out), "--quiet"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    for name in ("config.json", "metrics.csv", "history.json", "checkpoint.npz", "best_model.npz", "curves.png"):
        assert (out / name).stat().st_size > 0
    config = json.loads((out / "config.json").read_text())
    assert config["hidden_sizes"] == [32] and config["dropout"] == 0.2 and config["epochs"] == 3
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    history = json.loads((out / "history.json").read_text())
    model, _, _ = checkpoint.load(out / "best_model.npz")
    data = datasets.load("digits")
    assert history["results"]["test_acc"] == model.score(data.X_test, data.y_test)


def test_train_command_takes_optimizer_and_schedule_options(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "3", "--hidden-sizes", "16", "--optimizer", "adamw", "--lr", "0.01",
                 "--betas", "0.8", "0.99", "--weight-decay", "0.1", "--schedule", "step", "--step-size", "1",
                 "--gamma", "0.5", "--out", str(out), "--quiet"]) == 0
    model, metadata, _ = checkpoint.load(out / "checkpoint.npz")
    assert metadata["optimizer"]["name"] == "adamw"
    assert metadata["optimizer"]["hyperparameters"]["betas"] == [0.8, 0.99]
    assert metadata["optimizer"]["hyperparameters"]["weight_decay"] == 0.1
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [float(r["lr"]) for r in rows] == [0.01, 0.005, 0.0025]


def test_train_command_runs_lbfgs(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "5", "--hidden-sizes", "16", "--optimizer", "lbfgs", "--out", str(out),
                 "--quiet"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert len(history["epochs"]) == 5 and history["iteration_lr"] == [None] * 5
    assert history["iteration_loss"][-1] < history["iteration_loss"][0]


def test_train_command_reports_bad_values(capsys):
    assert main(["train", "--optimizer", "adam", "--rho", "0.5", "--out", "/tmp/unused-run"]) == 2
    assert "--rho does not apply to Adam" in capsys.readouterr().err
    assert main(["train", "--dropout", "1.5", "--epochs", "1", "--out", "/tmp/unused-run"]) == 2
    assert "dropout must be in [0, 1)" in capsys.readouterr().err


def test_train_script_help_lists_the_options():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), "--help"],
                            capture_output=True, text=True, check=True)
    for option in ("--hidden-sizes", "--batchnorm", "--dropout", "--l2", "--init", "--loss", "--optimizer",
                   "--lr", "--epochs", "--batch-size", "--seed", "--dtype", "--out", "--threads", "--schedule",
                   "--momentum", "--betas", "--weight-decay", "--warmup", "adamw", "lbfgs", "cosine", "plateau"):
        assert option in result.stdout


def test_train_command_on_an_image_folder_with_augmentation(tmp_path):
    from mlp_scratch.datasets import idx

    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for stem, n in (("train", 300), ("t10k", 60)):
        idx.write_idx(folder / f"{stem}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        idx.write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "data"), "--n-train", "100",
                 "--n-val", "20", "--n-test", "30", "--preprocessing", "scale", "--augment", "--noise-std", "0.1",
                 "--epochs", "2", "--hidden-sizes", "16", "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["augment"] and config["n_train"] == 100 and config["data_dir"] == str(tmp_path / "data")
    _, metadata, arrays = checkpoint.load(out / "checkpoint.npz")
    assert metadata["preprocessing"]["kind"] == "scale"
    np.testing.assert_array_equal(arrays["preprocessing.scale"], 255.0)


RUN = ["train", "--epochs", "4", "--hidden-sizes", "32", "--batchnorm", "--dropout", "0.2", "--optimizer", "adam",
       "--lr", "0.003", "--schedule", "plateau", "--patience", "1", "--factor", "0.5", "--quiet"]


def test_interrupted_run_resumes_bitwise(tmp_path, monkeypatch, capsys):
    from mlp_scratch.trainer import Trainer

    assert main(RUN + ["--out", str(tmp_path / "straight")]) == 0
    original_end_epoch = Trainer._end_epoch

    def interrupt_in_epoch_3(self, epoch, *args):
        if epoch == 3:
            raise KeyboardInterrupt  # as if Ctrl-C came during epoch 3
        original_end_epoch(self, epoch, *args)

    monkeypatch.setattr(Trainer, "_end_epoch", interrupt_in_epoch_3)
    assert main(RUN + ["--out", str(tmp_path / "resumed")]) == 0
    assert "--resume" in capsys.readouterr().out
    history = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert history["stop_reason"] == "interrupted after 2 epochs" and len(history["epochs"]) == 2
    monkeypatch.setattr(Trainer, "_end_epoch", original_end_epoch)
    assert main(["train", "--resume", str(tmp_path / "resumed"), "--quiet"]) == 0

    for name in ("checkpoint.npz", "best_model.npz"):
        with np.load(tmp_path / "straight" / name) as a, np.load(tmp_path / "resumed" / name) as b:
            for key in ("params", "running", "optimizer.exp_avg", "optimizer.exp_avg_sq"):
                np.testing.assert_array_equal(a[key], b[key])
    straight = json.loads((tmp_path / "straight" / "history.json").read_text())
    resumed = json.loads((tmp_path / "resumed" / "history.json").read_text())
    assert straight["iteration_loss"] == resumed["iteration_loss"]
    assert straight["iteration_lr"] == resumed["iteration_lr"]
    assert [e["val_acc"] for e in straight["epochs"]] == [e["val_acc"] for e in resumed["epochs"]]
    assert straight["results"]["test_acc"] == resumed["results"]["test_acc"]


def test_a_finished_run_can_be_extended_and_an_existing_one_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--hidden-sizes", "16", "--quiet", "--out", str(out)]) == 0
    assert main(["train", "--epochs", "2", "--hidden-sizes", "16", "--quiet", "--out", str(out)]) == 2
    assert main(["train", "--resume", str(out), "--epochs", "3", "--quiet"]) == 0
    assert len(json.loads((out / "history.json").read_text())["epochs"]) == 3
    assert main(["train", "--resume", str(tmp_path / "nowhere"), "--quiet"]) == 2


def test_saved_model_predicts_from_raw_inputs(tmp_path):
    from sklearn.datasets import load_digits

    from mlp_scratch.checkpoint import Predictor

    out = tmp_path / "run"
    assert main(["train", "--epochs", "3", "--hidden-sizes", "32", "--quiet", "--out", str(out)]) == 0
    predictor = Predictor.load(out / "best_model.npz")
    raw, labels = load_digits(return_X_y=True)
    data = datasets.load("digits")
    model, _, _ = checkpoint.load(out / "best_model.npz")
    # the raw images preprocessed by the predictor are exactly the data set's test split
    test_rows = predictor.transform(raw)
    expected = model.predict(data.X_test)
    matches = [np.flatnonzero((test_rows == row).all(axis=1))[0] for row in data.X_test]
    np.testing.assert_array_equal(predictor.predict(raw[matches]), expected)
    assert predictor.score(raw, labels) > 0.9


def test_resuming_into_another_architecture_is_refused(tmp_path):
    from mlp_scratch.optim import SGD

    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden-sizes", "16", "--quiet", "--out", str(out)]) == 0
    with pytest.raises(ValueError, match="another model.*hidden_sizes"):
        checkpoint.restore_training(out / "checkpoint.npz", MLP(64, [32], 10), SGD(lr=0.1))
    with pytest.raises(ValueError, match="optimizer sgd, not adam"):
        from mlp_scratch.optim import Adam
        checkpoint.restore_training(out / "checkpoint.npz", MLP(64, [16], 10, batchnorm=True, l2=1e-4), Adam())
    with pytest.raises(ValueError, match="no training state"):
        checkpoint.restore_training(out / "best_model.npz", MLP(64, [16], 10, batchnorm=True, l2=1e-4), SGD())


def test_train_from_a_toml_config_and_repeat_a_run_from_its_config(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('hidden_sizes = [24]\noptimizer = "adam"\nlr = 0.003\nepochs = 2\nbatchnorm = false\nseed = 3\n')
    first = tmp_path / "first"
    assert main(["train", "--config", str(config), "--quiet", "--out", str(first)]) == 0
    saved = json.loads((first / "config.json").read_text())
    assert saved["hidden_sizes"] == [24] and saved["optimizer"] == "adam" and saved["batchnorm"] is False
    again = tmp_path / "again"
    assert main(["train", "--config", str(first / "config.json"), "--quiet", "--out", str(again)]) == 0
    with np.load(first / "checkpoint.npz") as a, np.load(again / "checkpoint.npz") as b:
        np.testing.assert_array_equal(a["params"], b["params"])
    # a flag given beside the file takes precedence
    assert main(["train", "--config", str(config), "--epochs", "1", "--quiet", "--out", str(tmp_path / "one")]) == 0
    assert len(json.loads((tmp_path / "one" / "history.json").read_text())["epochs"]) == 1
    config.write_text("hidden = [24]\n")
    assert main(["train", "--config", str(config), "--quiet", "--out", str(tmp_path / "bad")]) == 2


def test_benchmark_subcommand_shares_the_benchmark_script(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["benchmark", "--configs", "small", "--sides", "mlp-scratch", "numpy", "--rounds", "2",
                 "--samples", "512", "--no-startup", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["configs"]["small"]["sides"]["numpy"]["status"] == "ok"


def train_process(out, *options):
    return [sys.executable, str(ROOT / "scripts" / "train.py"), "--n-train", "200", "--quiet", "--out", str(out),
            *options]


def test_two_runs_never_share_a_run_folder(tmp_path):
    """Two processes on one --out: the second (and a --resume of the running one) stops at once,
    naming the first's process; the folder holds the first run's files only."""
    import signal
    import time

    out = tmp_path / "run"
    first = subprocess.Popen(train_process(out, "--epochs", "100000", "--hidden-sizes", "16"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not (out / "checkpoint.npz").exists():  # the first run holds the folder and trains
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for options in (["--epochs", "2", "--hidden-sizes", "50"], ["--epochs", "2", "--overwrite"]):
            second = subprocess.run(train_process(out, *options), capture_output=True, text=True, timeout=300)
            assert second.returncode == 2
            assert f"--out {out} is in use by another run (process {first.pid})" in second.stderr
        resumed = subprocess.run([*train_process(out)[:2], "--resume", str(out)], capture_output=True, text=True,
                                 timeout=300)
        assert resumed.returncode == 2 and f"(process {first.pid})" in resumed.stderr
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGINT)
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert "interrupted after" in stdout and "Traceback" not in stderr
    assert json.loads((out / "config.json").read_text())["hidden_sizes"] == [16]
    epochs = len(json.loads((out / "history.json").read_text())["epochs"])
    for name in ("checkpoint.npz", "best_model.npz"):
        model, metadata, _ = checkpoint.load(out / name)
        assert model.hidden_sizes == [16]
    # a Ctrl-C between an epoch's checkpoint and its history leaves the checkpoint an epoch behind
    assert checkpoint.load(out / "checkpoint.npz")[1]["trainer"]["epoch"] in (epochs - 1, epochs)


def test_overwrite_removes_the_earlier_runs_files_first(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden-sizes", "16", "--quiet", "--out", str(out)]) == 0
    # the new run fails before its first epoch: nothing of the earlier one may pass for its results
    assert main(["train", "--epochs", "1", "--dropout", "1.5", "--overwrite", "--out", str(out)]) == 2
    assert not any((out / name).exists() for name in ("checkpoint.npz", "best_model.npz", "metrics.csv",
                                                      "history.json", "curves.png"))


def test_out_naming_a_file_is_refused_with_the_option(tmp_path, capsys):
    path = tmp_path / "a-file"
    path.write_text("")
    assert main(["train", "--epochs", "1", "--out", str(path)]) == 2
    assert f"--out {path} is a file, not a folder" in capsys.readouterr().err


def test_resume_refuses_options_that_change_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden-sizes", "16", "--quiet", "--out", str(out)]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "2", "--hidden-sizes", "50", "--lr", "0.1",
                 "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "--hidden-sizes 50 (the run has 16)" in error and "--lr 0.1 (the run has 0.05)" in error
    assert len(json.loads((out / "history.json").read_text())["epochs"]) == 1
    # the run's own values, --epochs, --threads and --quiet may be given
    assert main(["train", "--resume", str(out), "--epochs", "2", "--hidden-sizes", "16", "--lr", "0.05",
                 "--threads", "1", "--quiet"]) == 0
    assert len(json.loads((out / "history.json").read_text())["epochs"]) == 2


@pytest.mark.parametrize("options, expected, unused", [
    ([], {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0},
     ["betas", "rho", "activation_alpha"]),
    (["--optimizer", "adam", "--schedule", "step", "--step-size", "2"],
     {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False, "step_size": 2,
      "gamma": 0.1}, ["momentum", "alpha"]),
    (["--optimizer", "lbfgs", "--no-batchnorm", "--activation", "leaky_relu"],
     {"history_size": 10, "tol": 1e-5, "activation_alpha": 0.01}, ["lr", "momentum"]),
])
def test_config_json_holds_the_resolved_options_and_repeats_the_run(tmp_path, options, expected, unused):
    first = tmp_path / "first"
    assert main(["train", "--epochs", "2", "--hidden-sizes", "16", *options, "--quiet", "--out", str(first)]) == 0
    saved = json.loads((first / "config.json").read_text())
    assert {name: saved[name] for name in expected} == expected
    assert all(saved[name] is None for name in unused)
    again = tmp_path / "again"
    assert main(["train", "--config", str(first / "config.json"), "--quiet", "--out", str(again)]) == 0
    with np.load(first / "best_model.npz") as a, np.load(again / "best_model.npz") as b:
        np.testing.assert_array_equal(a["params"], b["params"])


def test_threads_flag_is_named_in_its_error(capsys):
    assert main(["train", "--threads", "0", "--out", "/tmp/unused-run"]) == 2
    assert "--threads must be an integer in [1," in capsys.readouterr().err


def test_an_interrupted_run_names_the_command_that_resumes_it(tmp_path, monkeypatch, capsys):
    from mlp_scratch.trainer import EpochRunner

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(EpochRunner, "run", interrupt)
    for prog in ("mlp-scratch train", "python scripts/train.py"):
        out = tmp_path / prog.split()[0]
        assert main(["train", "--epochs", "2", "--quiet", "--out", str(out)], prog=prog) == 0
        assert f"continue it with: {prog} --resume {out}" in capsys.readouterr().out


@pytest.mark.parametrize("script", sorted(path.name for path in (ROOT / "scripts").glob("*.py")))
def test_every_script_answers_help_without_running(script):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage:") and "===" not in result.stdout


def test_a_bad_kernel_thread_variable_is_a_warning_not_a_crash():
    env = {**__import__("os").environ, "MLP_SCRATCH_KERNEL_THREADS": "abc"}
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), "--help"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0 and "usage:" in result.stdout and "Traceback" not in result.stderr
    assert "MLP_SCRATCH_KERNEL_THREADS must be an integer in [1," in result.stderr
    assert "ignored (each call picks its threads): unset it or give a thread count" in result.stderr


def test_ctrl_c_while_starting_or_loading_data_is_one_line(tmp_path, monkeypatch, capsys):
    import builtins

    from mlp_scratch import launch

    real_import = builtins.__import__

    def interrupted_import(name, *args, **kwargs):
        if name == "mlp_scratch.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", interrupted_import)
    assert launch.main(["train"], prog="python scripts/train.py") == 130
    assert capsys.readouterr().err == "python scripts/train.py: interrupted while starting; nothing was written\n"
    monkeypatch.setattr(builtins, "__import__", real_import)

    def interrupted_load(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(datasets, "load", interrupted_load)
    assert main(["train", "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err == "mlp-scratch train: interrupted\n"
    assert not (tmp_path / "run" / "config.json").exists()


def test_predictor_names_a_wrong_number_of_features(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden-sizes", "8", "--quiet", "--out", str(out)]) == 0
    predictor = checkpoint.Predictor.load(out / "best_model.npz")
    with pytest.raises(ValueError, match=r"X must have 64 features \(columns\), got 10"):
        predictor.predict(np.zeros((3, 10)))


def test_a_ctrl_c_just_after_a_checkpoint_is_written_keeps_it_and_stays_a_ctrl_c(tmp_path, monkeypatch):
    """The interrupt must reach the trainer as an interrupt (it stops cleanly), not as a failure
    to delete a temporary file that os.replace has already moved into place."""
    import os

    model, path = MLP(4, [3], 2, seed=0), tmp_path / "checkpoint.npz"
    replace = os.replace

    def replace_then_interrupt(source, target):
        replace(source, target)
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, model)
    np.testing.assert_array_equal(checkpoint.load(path)[0].flat_params, model.flat_params)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]
