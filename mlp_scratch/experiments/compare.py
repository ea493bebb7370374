"""Experiment 1: compare training methods on one data set, several seeds each.

Every method trains the same architecture from the same initializations (one per seed) for the
same number of epochs; L-BFGS, which is full-batch, runs ``lbfgs_iterations`` iterations (each
costs about one pass over the training set). Learning rates are the methods' own, given, or picked
by a short search on the validation set."""
import numpy as np

from mlp_scratch.experiments.common import (METHODS, Output, add_data_arguments, batches_per_epoch, check_methods,
                                            format_table, load_data, mean_and_spread, parser, plt, smooth, train)

LR_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)  # the search tries the method's default lr times these
# final_*: the last epoch; best_val_acc: the best epoch, whose parameters the test accuracy is of
SUMMARY = ["method", "lr", "final_train_loss", "final_train_loss_std", "final_val_acc", "final_val_acc_std",
           "best_val_acc", "best_val_acc_std", "test_acc", "test_acc_std", "seconds", "seconds_std"]


def search_lr(data, method, *, epochs=1, seed=0, **settings):
    """The learning rate, among the method's default times LR_FACTORS, with the best validation
    accuracy after ``epochs`` (lowest validation loss on a tie). Returns (lr, rows tried)."""
    default = METHODS[method][2]
    rows = []
    for lr in (default * f for f in LR_FACTORS):
        _, history, _ = train(data, method=method, lr=lr, epochs=epochs, seed=seed, **settings)
        last = history.epochs[-1] if history.epochs else {"val_acc": 0.0, "val_loss": np.inf}
        rows.append({"method": method, "lr": lr, "val_acc": last["val_acc"], "val_loss": last["val_loss"],
                     "stop_reason": history.stop_reason})
    best = max(rows, key=lambda r: (r["val_acc"], -r["val_loss"]))
    return best["lr"], rows


def compare_optimizers(data, out, *, methods=tuple(METHODS), lrs=None, lr_search=False, search_epochs=1,
                       seeds=(0, 1, 2), hidden_sizes=(256,), epochs=10, batch_size=64, l2=1e-4,
                       batchnorm=False, lbfgs_iterations=None, log=print):
    """Train each method with each seed; write trials.csv, summary.csv, lr_search.csv (if searched)
    and the figures loss.png, val_accuracy.png, test_accuracy.png into ``out``. Returns the summary
    rows (one per method: mean and standard deviation over seeds)."""
    methods = check_methods(methods)
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed, got none")
    lrs = dict(lrs or {})
    if "lbfgs" in lrs:
        raise ValueError("lrs: lbfgs has no learning rate (it searches its step along each direction)")
    if lrs:
        check_methods(list(lrs))
    output = Output(out)
    settings = dict(hidden_sizes=hidden_sizes, batch_size=batch_size, l2=l2, batchnorm=batchnorm)
    searched = []
    for method in methods:
        if method not in lrs and METHODS[method][2] is not None:
            if lr_search:
                lrs[method], rows = search_lr(data, method, epochs=search_epochs, seed=seeds[0], **settings)
                searched += rows
            else:
                lrs[method] = METHODS[method][2]
    if searched:
        output.table("lr_search", searched)
    per_epoch = batches_per_epoch(data, batch_size, batchnorm)
    trials, curves = [], {}
    for method in methods:
        for seed in seeds:
            full_batch = method == "lbfgs"
            model, history, seconds = train(data, method=method, lr=lrs.get(method), seed=seed,
                                            epochs=(lbfgs_iterations or 10 * epochs) if full_batch else epochs,
                                            **settings)
            last = history.epochs[-1] if history.epochs else {}
            trials.append({"method": method, "lr": lrs.get(method), "seed": seed,
                           "final_train_loss": last.get("train_loss", np.nan),
                           "final_val_acc": last.get("val_acc", np.nan),
                           "best_val_acc": history.best_val_acc,
                           "test_acc": model.score(data.X_test, data.y_test), "seconds": seconds,
                           "stop_reason": history.stop_reason})
            passes = np.arange(1, len(history.iteration_loss) + 1) / (1 if full_batch else per_epoch)
            curves.setdefault(method, []).append((passes, np.asarray(history.iteration_loss),
                                                  [e["epoch"] for e in history.epochs],
                                                  [e["val_acc"] for e in history.epochs]))
            log(f"{method:9s} seed {seed}: best val acc {history.best_val_acc:.4f}  test acc "
                f"{trials[-1]['test_acc']:.4f}  {seconds:.1f}s")
    output.table("trials", trials)
    summary = []
    for method in methods:
        rows = [t for t in trials if t["method"] == method]
        row = {"method": method, "lr": lrs.get(method)}
        for key in ("final_train_loss", "final_val_acc", "best_val_acc", "test_acc", "seconds"):
            row[key], row[key + "_std"] = mean_and_spread([r[key] for r in rows])
        summary.append(row)
    output.table("summary", summary, SUMMARY)
    title = f"{data.meta['name']}: {len(data.y_train)} training samples, hidden layers {list(hidden_sizes)}"
    _plot_curves(output, curves, methods, per_epoch, title)
    _plot_test_accuracy(output, summary, title)
    log(format_table(summary, ["method", "lr", "final_train_loss", "final_val_acc", "best_val_acc", "test_acc",
                               "test_acc_std", "seconds"], title=f"mean over seeds {list(seeds)}; test accuracy "
                                                                 f"of each run's best validation epoch"))
    return summary


def _plot_curves(output, curves, methods, per_epoch, title):
    colors = dict(zip(methods, plt.cm.tab10(np.linspace(0, 1, 10))))
    fig, ax = plt.subplots(figsize=(8, 5))
    for method in methods:
        runs = curves[method]
        length = min(len(r[1]) for r in runs)
        if length == 0:
            continue
        window = max(1, per_epoch // 5) if method != "lbfgs" else 1
        smoothed = np.array([smooth(r[1][:length], window) for r in runs])
        x = runs[0][0][:length]
        ax.plot(x, smoothed.mean(axis=0), color=colors[method], label=method)
        ax.fill_between(x, smoothed.min(axis=0), smoothed.max(axis=0), color=colors[method], alpha=0.2)
    ax.set(xscale="log", yscale="log", xlabel="passes over the training set (epochs; L-BFGS: iterations)",
           ylabel="training loss (data + L2), smoothed", title=f"Training loss, mean and range over seeds\n{title}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(ncol=2)
    output.figure(fig, "loss")

    fig, ax = plt.subplots(figsize=(8, 5))
    for method in methods:
        runs = [r for r in curves[method] if r[2]]
        if not runs:
            continue
        length = min(len(r[2]) for r in runs)
        acc = np.array([r[3][:length] for r in runs])
        ax.errorbar(runs[0][2][:length], acc.mean(axis=0), yerr=acc.std(axis=0, ddof=1) if len(runs) > 1 else None,
                    color=colors[method],
                    marker="o", ms=3, capsize=2, label=method)
    ax.set(xscale="log", xlabel="epoch (L-BFGS: iteration)", ylabel="validation accuracy (fraction correct)",
           title=f"Validation accuracy, mean ± std over seeds\n{title}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(ncol=2)
    output.figure(fig, "val_accuracy")


def _plot_test_accuracy(output, summary, title):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = [r["method"] for r in summary]
    ax.bar(names, [r["test_acc"] for r in summary], yerr=[r["test_acc_std"] for r in summary], capsize=4,
           color="tab:blue")
    low = min(r["test_acc"] - r["test_acc_std"] for r in summary)
    ax.set(ylim=(max(0.0, low - 0.05), 1.0), ylabel="test accuracy (fraction correct)",
           title=f"Final test accuracy, mean ± std over seeds\n{title}")
    ax.grid(alpha=0.3, axis="y")
    output.figure(fig, "test_accuracy")


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
    p.add_argument("--seeds", type=int, default=3, help="runs per method, seeds --seed, --seed + 1, ...")
    p.add_argument("--hidden-sizes", type=int, nargs="*", default=[256])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--l2", type=float, default=1e-4)
    p.add_argument("--batchnorm", action="store_true")
    p.add_argument("--lbfgs-iterations", type=int, help="default: 10 x --epochs")
    args = p.parse_args(argv)
    lrs = {method: float(lr) for method, lr in args.lr}
    compare_optimizers(load_data(vars(args)), args.out, methods=args.methods, lrs=lrs, lr_search=args.lr_search,
                       search_epochs=args.search_epochs, seeds=range(args.seed, args.seed + args.seeds),
                       hidden_sizes=args.hidden_sizes, epochs=args.epochs, batch_size=args.batch_size, l2=args.l2,
                       batchnorm=args.batchnorm, lbfgs_iterations=args.lbfgs_iterations)
    print(f"results in {args.out}")
