"""Experiment 7: random search over the learning rate and a penalty strength, coarse then fine.

Both hyperparameters are sampled log-uniformly (their effect is multiplicative), from one NumPy
Generator seeded by ``seed``. The coarse stage samples wide ranges and trains each trial a few
epochs; the fine stage samples ranges narrowed around the best coarse trials and trains longer:

    fine range of h = [min over the top_k coarse trials of log10 h - margin,
                       max over the top_k coarse trials of log10 h + margin]   (decades),

clipped to the coarse range, so it holds every one of the top_k trials (the best among them) and
lies inside the coarse range. Every trial trains from the same initialization (``seed``), so that
trials differ only in their hyperparameters. The best trial (highest validation accuracy at its
last epoch, lower validation loss on a tie) is saved as ``best_config.json``, which
``mlp-scratch train --config best_config.json`` reads to train it again."""
import math

import numpy as np
from matplotlib.lines import Line2D

from mlp_scratch.cli import SGD_DEFAULTS
from mlp_scratch.experiments.common import (FIRST_ORDER, METHODS, Output, add_data_arguments, add_sweep_arguments,
                                            check_method, command, format_table, load_data, optimizer_default, parser,
                                            plt, ranking_key, sweep_options, train)
from mlp_scratch.experiments.sweep import Sweep
from mlp_scratch.experiments.trials import MEASURED, STATUS_COLUMNS, outcome
from mlp_scratch.optim import make_optimizer
from mlp_scratch.validation import check_positive_int

PENALTIES = ("l2", "weight_decay")
STAGES = ("coarse", "fine")
MARKERS = {"coarse": "o", "fine": "^"}


def check_range(name, bounds):
    low, high = (float(b) for b in bounds)
    if not 0 < low < high < math.inf:
        raise ValueError(f"{name} must be (low, high) with 0 < low < high, got {tuple(bounds)}")
    return low, high


def sample_log_uniform(rng, ranges, n):
    """n points, each a dict {name: value} with log10(value) uniform on log10(range) for each of
    ``ranges`` ({name: (low, high)}), drawn from ``rng`` in one call."""
    names = list(ranges)
    low = np.log10([ranges[name][0] for name in names])
    high = np.log10([ranges[name][1] for name in names])
    exponents = rng.uniform(low, high, size=(n, len(names)))
    return [{name: float(10 ** e) for name, e in zip(names, row)} for row in exponents]


def narrow_range(values, coarse, margin):
    """The log-range spanned by ``values``, widened by ``margin`` decades each side, clipped to ``coarse``."""
    logs = np.log10(values)
    return (float(max(coarse[0], 10 ** (logs.min() - margin))), float(min(coarse[1], 10 ** (logs.max() + margin))))


def fine_ranges(trials, coarse_ranges, top_k, margin):
    """The fine stage's ranges: around the ``top_k`` best ``trials`` (see the module docstring); the
    coarse ranges if every trial failed."""
    best = sorted((t for t in trials if t["status"] in MEASURED), key=ranking_key)[:top_k]
    if not best:
        return dict(coarse_ranges)
    return {name: narrow_range([t[name] for t in best], bounds, margin) for name, bounds in coarse_ranges.items()}


def optimizer_settings(method, lr, penalty, value):
    """(optimizer name, its keyword arguments) of a trial, and the model's l2. ``penalty`` "l2" is
    the model's penalty; "weight_decay" is the optimizer's (decoupled for adamw)."""
    name, options, _ = METHODS[method]
    options = {**options, "lr": lr}
    if name == "sgd":  # the class's defaults stated, since the train command's sgd has defaults of its own
        options = {**{option: optimizer_default("sgd", option) for option in SGD_DEFAULTS}, **options}
    options["weight_decay"] = value if penalty == "weight_decay" else 0.0  # only the searched penalty
    return name, options, value if penalty == "l2" else 0.0


def search_trial(data, config):
    """One trial (config: method, penalty, lr, value: the penalty's, epochs, hidden_sizes,
    batch_size, seed): its results."""
    name, options, l2 = optimizer_settings(config["method"], config["lr"], config["penalty"], config["value"])
    _, history, seconds = train(data, optimizer=make_optimizer(name, **options), l2=l2,
                                hidden_sizes=config["hidden_sizes"], epochs=config["epochs"],
                                batch_size=config["batch_size"], seed=config["seed"])
    last = history.epochs[-1] if history.epochs else {"val_acc": 0.0, "val_loss": math.inf, "train_acc": 0.0}
    return {"val_acc": last["val_acc"], "val_loss": last["val_loss"] if math.isfinite(last["val_loss"]) else math.inf,
            "train_acc": last["train_acc"], "seconds": seconds, "stop_reason": history.stop_reason}


DATA_OPTIONS = ("dataset", "n_train", "n_val", "n_test", "data_seed", "data_dir")


def data_config(data, data_options=None):
    """The train command's data options that load ``data`` again: ``data_options`` as ``load_data``
    took them, else read from ``data.meta``. Pass them for an image set loaded without n_test: its
    meta then names the whole test split's size, and asking for that many samples draws a different
    train/validation split."""
    sizes = data.meta["sizes"]
    if data_options is None:
        data_options = {"n_train": sizes["train"], "n_val": sizes["val"], "n_test": sizes["test"],
                        "data_seed": data.meta["seed"]}
    config = {"dataset": data.meta["name"], "preprocessing": "standardize"}
    for name in DATA_OPTIONS:
        if data_options.get(name) is not None:
            config[name] = str(data_options[name]) if name == "data_dir" else data_options[name]
    return config


def train_config(trial, data, *, method, penalty, hidden_sizes, batch_size, seed, data_options=None):
    """Options of ``mlp-scratch train --config`` (keys: its option names) that train ``trial`` again."""
    name, options, l2 = optimizer_settings(method, trial["lr"], penalty, trial[penalty])
    return {**data_config(data, data_options), "hidden_sizes": list(hidden_sizes), "batchnorm": False,
            "dropout": 0.0, "l2": l2, "init": "he", "optimizer": name, **options, "epochs": trial["epochs"],
            "batch_size": batch_size, "seed": seed, "schedule": "constant"}


def hyperparameter_search(data, out, *, method="momentum", penalty="l2", lr_range=(1e-4, 1.0),
                          penalty_range=(1e-6, 1e-1), coarse_trials=30, coarse_epochs=3, fine_trials=15,
                          fine_epochs=10, top_k=3, margin=0.25, hidden_sizes=(100,), batch_size=64, seed=0,
                          data_options=None, log=print, **sweep_options):
    """Coarse, then fine random search; writes trials.csv (every trial), ranges.json (each stage's
    ranges), best_config.json, results.jsonl (every finished trial, for ``resume``) and the figures
    search.png and marginals.png into ``out``. Returns (trials, best trial, best configuration).
    ``data_options``: see ``data_config``. ``sweep_options``: where the trials run (backend, workers,
    threads, scheduler, resume: see ``mlp_scratch.experiments.sweep.Sweep``)."""
    method = check_method(method, first_order=True)
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {list(PENALTIES)}, got {penalty!r}")
    for name, value in (("coarse_trials", coarse_trials), ("fine_trials", fine_trials), ("top_k", top_k)):
        check_positive_int(name, value)
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0 decades, got {margin!r}")
    ranges = {"coarse": {"lr": check_range("lr_range", lr_range), penalty: check_range("penalty_range", penalty_range)}}
    output = Output(out)
    rng = np.random.default_rng(seed)
    settings = dict(method=method, penalty=penalty, hidden_sizes=list(hidden_sizes), batch_size=batch_size, seed=seed)
    trials = []

    def report(config, row):
        log(f"{config['epochs']:3d} epochs  lr {config['lr']:.3g}  {penalty} {config['value']:.3g}  "
            f"{outcome(row, _result)}")

    with Sweep(data, results=output.path("results.jsonl"), **sweep_options) as sweep:
        for stage, n, epochs in (("coarse", coarse_trials, coarse_epochs), ("fine", fine_trials, fine_epochs)):
            if stage == "fine":
                ranges["fine"] = fine_ranges(trials, ranges["coarse"], top_k, margin)
            configs = [{"lr": point["lr"], "value": point[penalty], "epochs": epochs, **settings}
                       for point in sample_log_uniform(rng, ranges[stage], n)]
            for config, row in zip(configs, sweep.run(search_trial, configs, report=report)):
                trials.append({"stage": stage, "trial": len(trials), "lr": config["lr"], penalty: config["value"],
                               "epochs": epochs, **row})
    results = ["stage", "trial", "lr", penalty, "epochs", "val_acc", "val_loss", "train_acc", "seconds"]
    output.table("trials", trials, [*results, "stop_reason", *STATUS_COLUMNS])
    output.json("ranges", ranges)
    measured = [t for t in trials if t["status"] in MEASURED]
    if not measured:
        raise RuntimeError(f"every trial failed (see {output.path('trials.csv')}): no best configuration")
    best = min(measured, key=ranking_key)
    config = train_config(best, data, data_options=data_options, **settings)
    output.json("best_config", config)
    title = (f"{data.meta['name']}: {len(data.y_train)} training samples, hidden layers {list(hidden_sizes)}, "
             f"method {method}")
    _plot_search(output, measured, best, ranges, penalty, title)
    _plot_marginals(output, measured, best, penalty, title)
    log(format_table(sorted(trials, key=ranking_key)[:10], results, title="the 10 best trials"))
    log(f"best: {best['stage']} trial {best['trial']}, lr {best['lr']:.4g}, {penalty} {best[penalty]:.4g}: "
        f"validation accuracy {best['val_acc']:.4f} after {best['epochs']} epochs; train it again with "
        f"mlp-scratch train --config {output.path('best_config.json')}")
    return trials, best, config


def _result(row):
    return f"val acc {row['val_acc']:.4f}  train acc {row['train_acc']:.4f}  {row['seconds']:.1f}s"


def _plot_search(output, trials, best, ranges, penalty, title):
    fig, ax = plt.subplots(figsize=(8.5, 6))
    accs = [t["val_acc"] for t in trials]
    low = float(np.percentile(accs, 25))  # colors resolve the better trials; failed ones would squeeze them
    norm = plt.Normalize(low if low < max(accs) else min(accs), max(accs))
    stage_handles = []  # gray legend markers: the color of a point is its accuracy, not its stage
    for stage in STAGES:
        run = [t for t in trials if t["stage"] == stage]
        if not run:
            continue
        points = ax.scatter([t["lr"] for t in run], [t[penalty] for t in run], c=[t["val_acc"] for t in run],
                            norm=norm, cmap="viridis", marker=MARKERS[stage], s=60, edgecolors="black",
                            linewidths=0.5)
        stage_handles.append(Line2D([], [], ls="", marker=MARKERS[stage], markersize=8, color="lightgray",
                                    markeredgecolor="black", label=f"{stage} ({run[0]['epochs']} epochs)"))
    fig.colorbar(points, ax=ax, extend="min" if norm.vmin > min(accs) else "neither",
                 label=f"validation accuracy (fraction correct; below {norm.vmin:.3f}: darkest)")
    (lr_low, lr_high), (p_low, p_high) = ranges["fine"]["lr"], ranges["fine"][penalty]
    window = ax.add_patch(plt.Rectangle((lr_low, p_low), lr_high - lr_low, p_high - p_low, fill=False, ls="--",
                               edgecolor="tab:red", label="fine stage's range"))
    star = ax.scatter([best["lr"]], [best[penalty]], marker="*", s=400, facecolors="none", edgecolors="tab:red",
               linewidths=1.5, label=f"best: val acc {best['val_acc']:.4f}")
    (lr_low, lr_high), (p_low, p_high) = ranges["coarse"]["lr"], ranges["coarse"][penalty]
    pad = 10 ** 0.1  # a tenth of a decade, so that points on the range's edge show whole
    ax.set(xscale="log", yscale="log", xlim=(lr_low / pad, lr_high * pad), ylim=(p_low / pad, p_high * pad),
           xlabel="learning rate", ylabel=f"{penalty} strength", title=f"Random search, coarse then fine\n{title}")
    ax.legend(handles=stage_handles + [window, star], loc="best", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    output.figure(fig, "search")


def _plot_marginals(output, trials, best, penalty, title):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, name in zip(axes, ("lr", penalty)):
        for stage in STAGES:
            run = [t for t in trials if t["stage"] == stage]
            if not run:
                continue
            ax.scatter([t[name] for t in run], [t["val_acc"] for t in run], marker=MARKERS[stage], label=stage)
        ax.scatter([best[name]], [best["val_acc"]], marker="*", s=300, facecolors="none", edgecolors="tab:red",
                   label="best")
        ax.set(xscale="log", xlabel="learning rate" if name == "lr" else f"{penalty} strength")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[0].set_ylabel("validation accuracy (fraction correct)")
    fig.suptitle(f"Validation accuracy against each hyperparameter\n{title}")
    output.figure(fig, "marginals")


@command
def main(argv=None):
    p = parser("Random search over the learning rate and L2 strength (or weight decay), log-uniform, coarse "
               "then fine; writes every trial, a scatter plot and the best configuration (best_config.json, "
               "for mlp-scratch train --config).", "experiments/search")
    add_data_arguments(p)
    p.add_argument("--method", default="momentum", choices=FIRST_ORDER)
    p.add_argument("--penalty", default="l2", choices=PENALTIES,
                   help="l2: the model's penalty; weight_decay: the optimizer's (decoupled for adamw)")
    p.add_argument("--lr-range", type=float, nargs=2, default=[1e-4, 1.0], metavar=("LOW", "HIGH"))
    p.add_argument("--penalty-range", type=float, nargs=2, default=[1e-6, 1e-1], metavar=("LOW", "HIGH"))
    p.add_argument("--coarse-trials", type=int, default=30)
    p.add_argument("--coarse-epochs", type=int, default=3)
    p.add_argument("--fine-trials", type=int, default=15)
    p.add_argument("--fine-epochs", type=int, default=10)
    p.add_argument("--top-k", type=int, default=3, help="the fine ranges span this many best coarse trials")
    p.add_argument("--margin", type=float, default=0.25, help="decades added to each side of the fine ranges")
    p.add_argument("--hidden-sizes", type=int, nargs="*", default=[100])
    p.add_argument("--batch-size", type=int, default=64)
    add_sweep_arguments(p)
    args = p.parse_args(argv)
    hyperparameter_search(load_data(vars(args)), args.out, method=args.method, penalty=args.penalty,
                          lr_range=args.lr_range, penalty_range=args.penalty_range, coarse_trials=args.coarse_trials,
                          coarse_epochs=args.coarse_epochs, fine_trials=args.fine_trials, fine_epochs=args.fine_epochs,
                          top_k=args.top_k, margin=args.margin, hidden_sizes=args.hidden_sizes,
                          batch_size=args.batch_size, seed=args.seed, data_options=vars(args), **sweep_options(args))
    print(f"results in {args.out}")
