"""Experiment 1: compare training methods on one data set, several starts (seeds) each.

Every method trains the same architecture from the same initializations (one per seed: the starts)
for the same number of epochs; the full-batch methods L-BFGS, BFGS and random search (the lecture's
baseline) run ``lbfgs_iterations`` iterations (each costs a pass or a few over the training set),
Hessian-free ``newton_iterations`` (each costs a pass per conjugate-gradient step, or less on a
curvature batch). Learning rates are the methods' own, given, or picked by a short search on the
validation set. The summary gives each method's mean and spread over the starts, and its best
start: the lowest final training loss, and the test accuracy of the start with the best
validation accuracy (what a user keeping the best of K restarts gets)."""
import numpy as np

from mlp_scratch.experiments.common import (FULL_BATCH, METHODS, Output, add_data_arguments, add_sweep_arguments,
                                            batches_per_epoch, check_methods, command, format_table, load_data,
                                            mean_and_spread, parser, plt, ranking_key, smooth, sweep_options, train)
from mlp_scratch.experiments.sweep import Sweep
from mlp_scratch.experiments.trials import MEASURED, STATUS_COLUMNS, outcome

LR_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)  # the search tries the method's default lr times these
TRIALS = ["method", "lr", "seed", "final_train_loss", "final_val_acc", "best_val_acc", "test_acc", "iterations",
          "seconds", "stop_reason", *STATUS_COLUMNS]
LR_TRIALS = ["method", "lr", "val_acc", "val_loss", "stop_reason", *STATUS_COLUMNS]
# final_*: the last epoch; best_val_acc: the best epoch, whose parameters the test accuracy is of;
# failed: trials whose status is not "ok" (diverged ones count in the means, errors and lost ones not)
# *_best and *_range: over the starts (the lowest final loss; the test accuracy of the start of the
# best validation accuracy; max - min); seconds_per_iteration: an epoch, or a full-batch iteration
SUMMARY = ["method", "lr", "final_train_loss", "final_train_loss_std", "final_train_loss_best",
           "final_train_loss_range", "final_val_acc", "final_val_acc_std", "best_val_acc", "best_val_acc_std",
           "test_acc", "test_acc_std", "test_acc_best", "test_acc_range", "seconds", "seconds_std",
           "seconds_per_iteration", "failed"]


def lr_trial(data, config):
    """A learning-rate search trial: ``train(data, **config)``'s last validation accuracy and loss."""
    _, history, _ = train(data, **config)
    last = history.epochs[-1] if history.epochs else {"val_acc": 0.0, "val_loss": np.inf}
    return {"val_acc": last["val_acc"], "val_loss": last["val_loss"], "stop_reason": history.stop_reason}


def seed_trial(data, config):
    """A comparison trial: ``train(data, **config)``'s results and curves."""
    model, history, seconds = train(data, **config)
    last = history.epochs[-1] if history.epochs else {}
    return {"final_train_loss": last.get("train_loss", np.nan), "final_val_acc": last.get("val_acc", np.nan),
            "best_val_acc": history.best_val_score, "test_acc": model.score(data.X_test, data.y_test),
            "iterations": len(history.epochs), "seconds": seconds, "stop_reason": history.stop_reason, "iteration_loss": history.iteration_loss,
            "epochs": [e["epoch"] for e in history.epochs], "val_accs": [e["val_acc"] for e in history.epochs]}


def best_lr(rows):
    """The learning rate of the best of the searched ``rows`` (``ranking_key``), None if every one
    failed."""
    best = min((r for r in rows if r["status"] in MEASURED), key=ranking_key, default=None)
    return None if best is None else best["lr"]


def compare_optimizers(data, out, *, methods=tuple(METHODS), lrs=None, lr_search=False, search_epochs=1,
                       seeds=(0, 1, 2), hidden_sizes=(256,), epochs=10, batch_size=64, l2=1e-4,
                       batchnorm=False, lbfgs_iterations=None, newton_iterations=None, log=print, **sweep_options):
    """Train each method with each seed; write trials.csv, summary.csv, lr_search.csv (if searched),
    results.jsonl (every finished trial, for ``resume``) and the figures loss.png, val_accuracy.png,
    test_accuracy.png into ``out``. Returns the summary rows (one per method: mean and standard
    deviation over seeds). ``sweep_options``: where the trials run (backend, workers, threads, scheduler,
    resume: see ``mlp_scratch.experiments.sweep.Sweep``)."""
    methods = check_methods(methods)
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed, got none")
    lrs = dict(lrs or {})
    for method in FULL_BATCH:
        if method in lrs:
            raise ValueError(f"lrs: {method} has no learning rate (it chooses its own steps)")
    if lrs:
        check_methods(list(lrs))
    output = Output(out)
    settings = dict(hidden_sizes=list(hidden_sizes), batch_size=batch_size, l2=l2, batchnorm=batchnorm)
    with Sweep(data, results=output.path("results.jsonl"), **sweep_options) as sweep:
        unset = [m for m in methods if m not in lrs and METHODS[m][2] is not None]
        if lr_search and unset:
            configs = [{"method": m, "lr": METHODS[m][2] * f, "epochs": search_epochs, "seed": seeds[0], **settings}
                       for m in unset for f in LR_FACTORS]
            rows = sweep.run(lr_trial, configs, report=lambda c, row: log(
                f"lr search {c['method']:9s} lr {c['lr']:.3g}: {outcome(row, _val_result)}"))
            searched = [{"method": c["method"], "lr": c["lr"], **row} for c, row in zip(configs, rows)]
            output.table("lr_search", searched, LR_TRIALS)
            for method in unset:
                lrs[method] = best_lr([r for r in searched if r["method"] == method])
                if lrs[method] is None:
                    log(f"{method}: every learning-rate trial failed; it uses its default, {METHODS[method][2]}")
        for method in unset:
            lrs[method] = lrs.get(method) or METHODS[method][2]
        budget = {m: lbfgs_iterations or 10 * epochs for m in FULL_BATCH}
        budget["hessian-free"] = newton_iterations or epochs
        configs = [{"method": m, "lr": lrs.get(m), "seed": seed, "epochs": budget.get(m, epochs), **settings}
                   for m in methods for seed in seeds]
        rows = sweep.run(seed_trial, configs, report=lambda c, row: log(
            f"{c['method']:9s} seed {c['seed']}: {outcome(row, _test_result)}"))
    trials = [{"method": c["method"], "lr": c["lr"], "seed": c["seed"], **row} for c, row in zip(configs, rows)]
    output.table("trials", [{k: t.get(k) for k in TRIALS} for t in trials], TRIALS)  # the curves stay in results.jsonl
    summary = []
    for method in methods:
        rows = [t for t in trials if t["method"] == method]
        measured = [r for r in rows if r["status"] in MEASURED]
        row = {"method": method, "lr": lrs.get(method), "failed": sum(r["status"] != "ok" for r in rows)}
        for key in ("final_train_loss", "final_val_acc", "best_val_acc", "test_acc", "seconds"):
            row[key], row[key + "_std"] = mean_and_spread([r[key] for r in measured])
        row.update(best_start(measured))
        row["seconds_per_iteration"] = float(np.mean([r["seconds"] / max(1, r["iterations"]) for r in measured])
                                             if measured else np.nan)
        summary.append(row)
    output.table("summary", summary, SUMMARY)
    title = f"{data.meta['name']}: {len(data.y_train)} training samples, hidden layers {list(hidden_sizes)}"
    per_epoch = batches_per_epoch(data, batch_size, batchnorm)
    _plot_curves(output, [t for t in trials if t["status"] in MEASURED], methods, per_epoch, title)
    _plot_test_accuracy(output, summary, title)
    log(format_table(summary, ["method", "lr", "final_train_loss", "final_train_loss_best", "final_val_acc",
                               "test_acc", "test_acc_std", "test_acc_best", "test_acc_range", "seconds",
                               "seconds_per_iteration", "failed"],
                     title=f"mean over starts (seeds) {list(seeds)}, and the best start; test accuracy of each run's "
                           f"best validation epoch"))
    for row in summary:
        if row["failed"]:
            errors = {t["error"] for t in trials if t["method"] == row["method"] and t.get("error")}
            log(f"{row['method']}: {row['failed']} of {len(seeds)} runs failed" + (f": {'; '.join(errors)}" if errors else ""))
    return summary


def best_start(rows):
    """Over one method's starts: the lowest final training loss and the range of final losses; the
    test accuracy of the start with the best validation accuracy, and the range of test accuracies."""
    if not rows:
        return dict.fromkeys(["final_train_loss_best", "final_train_loss_range", "test_acc_best", "test_acc_range"],
                             np.nan)
    losses, tests = [r["final_train_loss"] for r in rows], [r["test_acc"] for r in rows]
    chosen = max(rows, key=lambda r: r["best_val_acc"])
    return {"final_train_loss_best": min(losses), "final_train_loss_range": max(losses) - min(losses),
            "test_acc_best": chosen["test_acc"], "test_acc_range": max(tests) - min(tests)}


def _val_result(row):
    return f"val acc {row['val_acc']:.4f}"


def _test_result(row):
    return f"test acc {row['test_acc']:.4f}  {row['seconds']:.1f}s"


def _plot_curves(output, trials, methods, per_epoch, title):
    # tab20's dark shades first, then its light ones: twenty methods, each its own color
    colors = {method: plt.cm.tab20((2 * k) % 20 + (2 * k) // 20) for k, method in enumerate(methods)}
    curves = {}
    for t in trials:
        passes = np.arange(1, len(t["iteration_loss"]) + 1) / (1 if t["method"] in FULL_BATCH else per_epoch)
        curves.setdefault(t["method"], []).append((passes, np.asarray(t["iteration_loss"]), t["epochs"], t["val_accs"]))
    fig, ax = plt.subplots(figsize=(8, 5))
    for method in methods:
        runs = curves.get(method, [])
        length = min((len(r[1]) for r in runs), default=0)
        if length == 0:
            continue
        window = 1 if method in FULL_BATCH else max(1, per_epoch // 5)
        smoothed = np.array([smooth(r[1][:length], window) for r in runs])
        x = runs[0][0][:length]
        ax.plot(x, smoothed.mean(axis=0), color=colors[method], label=method)
        ax.fill_between(x, smoothed.min(axis=0), smoothed.max(axis=0), color=colors[method], alpha=0.2)
    ax.set(xscale="log", yscale="log", xlabel="passes over the training set (epochs; full-batch methods: iterations)",
           ylabel="training loss (data + L2), smoothed", title=f"Training loss, mean and range over seeds\n{title}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(ncol=2)
    output.figure(fig, "loss")

    fig, ax = plt.subplots(figsize=(8, 5))
    for method in methods:
        runs = [r for r in curves.get(method, []) if r[2]]
        if not runs:
            continue
        length = min(len(r[2]) for r in runs)
        acc = np.array([r[3][:length] for r in runs])
        ax.errorbar(runs[0][2][:length], acc.mean(axis=0), yerr=acc.std(axis=0, ddof=1) if len(runs) > 1 else None,
                    color=colors[method],
                    marker="o", ms=3, capsize=2, label=method)
    ax.set(xscale="log", xlabel="epoch (full-batch methods: iteration)", ylabel="validation accuracy (fraction correct)",
           title=f"Validation accuracy, mean ± std over seeds\n{title}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(ncol=2)
    output.figure(fig, "val_accuracy")


def _plot_test_accuracy(output, summary, title):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    summary = [r for r in summary if np.isfinite(r["test_acc"])]  # a method whose every run failed has no bar
    names = [r["method"] for r in summary]
    ax.bar(names, [r["test_acc"] for r in summary], yerr=[r["test_acc_std"] for r in summary], capsize=4,
           color="tab:blue")
    low = min((r["test_acc"] - r["test_acc_std"] for r in summary), default=0.0)
    ax.set(ylim=(max(0.0, low - 0.05), 1.0), ylabel="test accuracy (fraction correct)",
           title=f"Final test accuracy, mean ± std over seeds\n{title}")
    ax.grid(alpha=0.3, axis="y")
    output.figure(fig, "test_accuracy")


@command
def main(argv=None):
    p = parser("Compare training methods on one data set over several seeds: loss and accuracy curves, "
               "test accuracy, a summary table.", "experiments/compare")
    add_data_arguments(p)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--lr", nargs=2, action="append", metavar=("METHOD", "LR"), default=[],
                   help="a method's learning rate (repeat for several); others use their default or the search")
    p.add_argument("--lr-search", action="store_true",
                   help=f"pick each learning rate among the default times {list(LR_FACTORS)} by validation accuracy")
    p.add_argument("--search-epochs", type=int, default=1, help="epochs of each learning-rate trial")
    p.add_argument("--starts", "--seeds", type=int, default=3, dest="starts",
                   help="runs per method from as many initializations (seeds --seed, --seed + 1, ...): the summary "
                        "gives their mean, spread and best")
    p.add_argument("--hidden-sizes", type=int, nargs="*", default=[256])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--l2", type=float, default=1e-4)
    p.add_argument("--batchnorm", action="store_true")
    p.add_argument("--lbfgs-iterations", type=int,
                   help="iterations of the full-batch methods L-BFGS, BFGS and random search (default: 10 x --epochs)")
    p.add_argument("--newton-iterations", type=int,
                   help="iterations of Hessian-free (default: --epochs)")
    add_sweep_arguments(p)
    args = p.parse_args(argv)
    lrs = {method: float(lr) for method, lr in args.lr}
    compare_optimizers(load_data(vars(args)), args.out, methods=args.methods, lrs=lrs, lr_search=args.lr_search,
                       search_epochs=args.search_epochs, seeds=range(args.seed, args.seed + args.starts),
                       hidden_sizes=args.hidden_sizes, epochs=args.epochs, batch_size=args.batch_size, l2=args.l2,
                       batchnorm=args.batchnorm, lbfgs_iterations=args.lbfgs_iterations,
                       newton_iterations=args.newton_iterations, **sweep_options(args))
    print(f"results in {args.out}")
