"""What every experiment shares: its output folder (tables as CSV and JSON, figures as PNG), the
summary table it prints, the data and command-line options, and one training run as a function of
its settings (a model or optimizer passed in is trained in place)."""
import argparse
import csv
import functools
import inspect
import io
import json
import math
import os
import pathlib
import sys
import time

import numpy as np

from mlp_scratch import datasets
from mlp_scratch.experiments.trials import MEASURED
from mlp_scratch.model import MLP
from mlp_scratch.optim import OPTIMIZERS, make_optimizer
from mlp_scratch.plots import plt  # pyplot on the backend the package picks (files, or a notebook's)
from mlp_scratch.runs import plain_json, write_text
from mlp_scratch.trainer import Trainer, batch_bounds


def optimizer_default(optimizer, option):
    """The default of ``option`` in the class of ``optimizer`` (a name of mlp_scratch.optim.OPTIMIZERS),
    which writes each default once."""
    return inspect.signature(OPTIMIZERS[optimizer].__init__).parameters[option].default


# The training methods a comparison names: an optimizer with its settings, and a learning rate that
# trains a standardized MLP well: the optimizer's default, or for plain SGD and RMSprop a rate of ours.
METHODS = {
    "sgd": ("sgd", {}, 0.1),
    "momentum": ("sgd", {"momentum": 0.9}, optimizer_default("sgd", "lr")),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}, optimizer_default("sgd", "lr")),
    "adagrad": ("adagrad", {}, optimizer_default("adagrad", "lr")),
    "rmsprop": ("rmsprop", {}, 1e-3),
    "adadelta": ("adadelta", {}, optimizer_default("adadelta", "lr")),
    "adam": ("adam", {}, optimizer_default("adam", "lr")),
    "adamw": ("adamw", {}, optimizer_default("adamw", "lr")),
    "lbfgs": ("lbfgs", {}, None),
    "hessian-free": ("hessian-free", {}, None),
    "bfgs": ("bfgs", {}, None),
    "random-search": ("random-search", {}, None),
}


FIRST_ORDER = [name for name, (_, _, lr) in METHODS.items() if lr is not None]
FULL_BATCH = [name for name in METHODS if name not in FIRST_ORDER]  # no learning rate; an iteration per epoch


def check_method(method, first_order=False):
    """``method`` if it names a METHODS entry (one with a learning rate if ``first_order``)."""
    known = FIRST_ORDER if first_order else list(METHODS)
    if method not in known:
        raise ValueError(f"method must be one of {known}, got {method!r}")
    return method


def check_methods(names):
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        raise ValueError(f"methods must be a non-empty list of {list(METHODS)}, got {list(names)!r}")
    return list(names)


def make_method(name, lr=None):
    """The optimizer a method name stands for, at ``lr`` (default: the method's own)."""
    optimizer, options, default_lr = METHODS[check_method(name)]
    if name in FULL_BATCH:
        return make_optimizer(optimizer)
    return make_optimizer(optimizer, lr=default_lr if lr is None else lr, **options)


class Output:
    """An experiment's output folder. Each file is written whole and atomically, so an interrupted
    experiment keeps every table and figure it finished."""

    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, name):
        return self.folder / name

    def _write(self, name, text):
        write_text(self.path(name), text)
        return self.path(name)

    def json(self, name, obj):
        return self._write(f"{name}.json", json.dumps(obj, indent=2, default=plain_json) + "\n")

    def table(self, name, rows, columns=None):
        """rows (dicts) as name.csv and name.json; returns the CSV's path."""
        if columns is None:
            columns = list(rows[0]) if rows else []
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        self.json(name, rows)
        return self._write(f"{name}.csv", text.getvalue())

    def figure(self, fig, name):
        """Saves a matplotlib figure as name.png and closes it."""
        fig.tight_layout()
        path = self.path(f"{name}.png")
        tmp = path.with_name(path.name + ".tmp.png")
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        os.replace(tmp, path)
        return path


def ranking_key(trial):
    """Trials by validation accuracy, highest first, then validation loss, lowest first; diverged
    trials after finished ones, failed ones (no results) last."""
    if trial["status"] not in MEASURED:
        return 2, 0.0, 0.0
    return int(trial["status"] != "ok"), -trial["val_acc"], trial["val_loss"]


def format_table(rows, columns, title=None):
    """A plain-text table: numbers with 4 significant digits, columns aligned."""
    def cell(value):
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.4g}"
        return str(value)

    cells = [[cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = [title] if title else []
    lines.append("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def mean_and_spread(values):
    """(mean, standard deviation) of a list of numbers; std is 0 for one value, both NaN for none."""
    values = np.asarray(values, float)
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def smooth(values, window):
    """Running mean over ``window`` points (shorter at the start), as long as ``values``."""
    values = np.asarray(values, float)
    if window <= 1 or values.size == 0:
        return values
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, values.size + 1), window)
    return (sums[1:] - sums[np.arange(values.size) + 1 - counts]) / counts


def load_data(options):
    """The data set an experiment's options name (see ``add_data_arguments``)."""
    return datasets.load(options["dataset"], n_train=options.get("n_train"), n_val=options.get("n_val"),
                         n_test=options.get("n_test"), data_dir=options.get("data_dir"),
                         seed=options.get("data_seed", 0))


def batches_per_epoch(data, batch_size, batchnorm=False):
    """Steps per epoch as the Trainer takes them on data's training split."""
    return len(batch_bounds(len(data.y_train), batch_size, batchnorm)) - 1


def train(data, *, method="adam", lr=None, hidden_sizes=(100,), epochs=5, batch_size=64, seed=0,
          schedule=None, batchnorm=False, dropout=0.0, l2=0.0, l1=0.0, init="he", optimizer=None,
          model=None, on_epoch_end=None, restore_best=True, diagnostics=None):
    """One training run, a function of its arguments: returns (model, history, seconds).
    ``optimizer`` (an Optimizer) overrides ``method``/``lr``; ``model`` overrides the architecture.
    The model ends with the best validation epoch's parameters, or the last epoch's if not
    ``restore_best``. ``diagnostics`` as Trainer's."""
    if model is None:
        model = MLP(data.n_features, list(hidden_sizes), data.n_classes, batchnorm=batchnorm, dropout=dropout,
                    l2=l2, l1=l1, init=init, seed=seed)
    optimizer = optimizer or make_method(method, lr)
    trainer = Trainer(model, optimizer, epochs=epochs, batch_size=batch_size, schedule=schedule, seed=seed,
                      restore_best=restore_best, log=None, diagnostics=diagnostics)
    start = time.perf_counter()
    history = trainer.fit(data, on_epoch_end=on_epoch_end)
    return model, history, time.perf_counter() - start


class ExperimentParser(argparse.ArgumentParser):
    """An experiment's options; an --out folder that holds files already is refused unless
    --overwrite (or a sweep's --resume) says to write there."""

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        out = parsed.out
        if out.exists() and not out.is_dir():
            self.error(f"--out {out} is a file, not a folder; choose a folder's path")
        if out.is_dir() and any(out.iterdir()) and not (parsed.overwrite or getattr(parsed, "resume", False)):
            resume = ", --resume to continue its sweep" if hasattr(parsed, "resume") else ""
            self.error(f"--out {out} already holds results; pass --overwrite to replace them{resume}, "
                       f"or choose another folder")
        return parsed


def parser(description, out, seed=True):
    """An experiment's argument parser with --out (default runs/``out``, beside training runs),
    --overwrite and, for an experiment with randomness, --seed."""
    p = ExperimentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs") / out, help="output folder")
    p.add_argument("--overwrite", action="store_true",
                   help="write into --out although it holds results (files of the same names are replaced)")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="seeds initialization, shuffling and dropout")
    return p


def command(main):
    """An experiment's ``main``: a Ctrl-C ends it with one line and exit status 130 (every table and
    figure it finished is kept, and a sweep's finished trials)."""
    @functools.wraps(main)
    def run(argv=None):
        try:
            return main(argv)
        except KeyboardInterrupt:
            print("interrupted: the tables and figures finished so far are kept; a sweep's finished trials are in "
                  "its results.jsonl, and --resume continues it", file=sys.stderr)
            raise SystemExit(130) from None
    return run


def add_data_arguments(p, dataset="mnist", n_train=5000, n_val=1000, n_test=None):
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=dataset, choices=[name for name in datasets.NAMES
                                                          if name not in datasets.REGRESSION_SETS],
                   help="a classification set (experiment 13 takes the regression sets)")
    g.add_argument("--n-train", type=int, default=n_train, help="training samples (stratified subset)")
    g.add_argument("--n-val", type=int, default=n_val, help="validation samples")
    g.add_argument("--n-test", type=int, default=n_test, help="test samples (default: the whole test split)")
    g.add_argument("--data-dir", type=pathlib.Path, default=None,
                   help=f"folder with the MNIST/CIFAR-10 files (default: ${datasets.DATA_ENV}, else OpenML)")
    g.add_argument("--data-seed", type=int, default=0, help="seed of the train/val/test split")
    return g


def add_sweep_arguments(p):
    """Options of where an experiment's trials run (see mlp_scratch.experiments.sweep)."""
    from mlp_scratch.experiments.sweep import BACKENDS  # only the experiments that sweep load its engines

    g = p.add_argument_group("sweep")
    g.add_argument("--backend", default="serial", choices=BACKENDS,
                   help="serial: this process; joblib: local processes (loky); dask: a Dask cluster")
    g.add_argument("--workers", type=int, help="trials at once (default: the cores; serial: 1)")
    g.add_argument("--threads", type=int, help="BLAS threads of each trial (default: cores // workers)")
    g.add_argument("--scheduler", help="a Dask scheduler's address (default with --backend dask: a LocalCluster "
                                       "on 127.0.0.1)")
    g.add_argument("--resume", action="store_true",
                   help="keep the finished trials of OUT/results.jsonl and run only the others")
    return g


def sweep_options(args):
    """The Sweep options of ``add_sweep_arguments``' parsed arguments."""
    return {name: getattr(args, name) for name in ("backend", "workers", "threads", "scheduler", "resume")}
