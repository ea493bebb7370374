"""Experiment 5: batch normalization across weight scales.

The same deep ReLU network (default: 6 hidden layers of 256) trains with and without batch norm
after each hidden affine layer, from every initialization of a grid: fixed stds log-spaced from 1e-3
to 1e1, and He. The two models of a pair start from the same weights (the same numbers drawn from
the same seed; the batch-norm model has gamma = 1 and beta = 0 where the plain one has biases of 0)
and train with the same optimizer, learning rate and shuffling, so batch norm is the only difference.

Without batch norm a scale far from He's makes the signal vanish or explode with depth (experiment
4). Batch norm re-standardizes every hidden layer over the batch, which makes the hidden layers'
output independent of their weights' scale; only the output layer's scale is left to matter. The
accuracy grid shows the range of scales that train; the curves and the epochs needed to reach a
target validation accuracy show the speed."""
import math

import numpy as np

from mlp_scratch.experiments.common import (FIRST_ORDER, Output, add_data_arguments, batches_per_epoch,
                                            check_method, command, format_table, load_data, parser, plt, train)
from mlp_scratch.experiments.initialization import (check_inits, describe_setup, finish_training_axes,
                                                    init_label, plot_run)
from mlp_scratch.model import MLP, check_init, weight_std
from mlp_scratch.validation import check_number

INITS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, "he")
TRIALS = ["init", "batchnorm", "final_train_loss", "val_acc", "test_acc", "epochs_to_target", "best_epoch",
          "seconds", "stop_reason"]
SUMMARY = ["init", "val_acc_plain", "val_acc_bn", "test_acc_plain", "test_acc_bn", "epochs_to_target_plain",
           "epochs_to_target_bn"]


def model_pair(data, init, hidden_sizes, seed=0):
    """(plain, with batch norm): the same architecture and the same initial weights."""
    return tuple(MLP(data.n_features, hidden_sizes, data.n_classes, batchnorm=batchnorm, init=init, seed=seed)
                 for batchnorm in (False, True))


def epochs_to_target(history, target):
    """The first epoch whose validation accuracy reaches ``target``; NaN if none does."""
    return next((e["epoch"] for e in history.epochs if e["val_acc"] >= target), math.nan)


def batchnorm_study(data, out, *, inits=INITS, hidden_sizes=(256,) * 6, epochs=6, method="momentum", lr=None,
                    batch_size=64, target=0.9, curve_inits=("he", 0.01), seed=0, log=print):
    """Train each initialization with and without batch norm. Writes trials.csv (one row per run:
    final training loss, validation and test accuracy of the trained model, i.e. of its best
    validation epoch, and the epoch at which the validation accuracy first reached ``target``, NaN
    if never), summary.csv (one row per initialization, plain vs batch norm side by side) and the
    figures accuracy_vs_scale.png and training_speed.png (curves of ``curve_inits``) into ``out``.
    Returns the summary rows."""
    inits = check_inits(inits)
    check_method(method, first_order=True)
    curve_inits = check_inits(curve_inits)
    if any(init not in inits for init in curve_inits):
        raise ValueError(f"curve_inits must be among inits {inits}, got {curve_inits}")
    target = check_number("target", target, low=0, high=1)
    if len(hidden_sizes) == 0:
        raise ValueError("hidden_sizes must name at least one hidden layer, got none")
    output = Output(out)
    trials, histories = [], {}
    for init in inits:
        for model in model_pair(data, init, hidden_sizes, seed):
            model, history, seconds = train(data, model=model, method=method, lr=lr, epochs=epochs,
                                            batch_size=batch_size, seed=seed)
            histories[init, model.batchnorm] = history
            trials.append(_trial_row(init, model, history, data, target, seconds))
            log(f"{init_label(init):10s} {'batch norm' if model.batchnorm else 'plain':10s} val acc "
                f"{trials[-1]['val_acc']:.4f}  test acc {trials[-1]['test_acc']:.4f}  {seconds:.1f}s")
    output.table("trials", trials, TRIALS)
    summary = [_summary_row(init, trials) for init in inits]
    output.table("summary", summary, SUMMARY)
    title = describe_setup(data, hidden_sizes, method, lr)
    _plot_accuracy_vs_scale(output, inits, trials, hidden_sizes, title)
    _plot_training_speed(output, {init: (histories[init, False], histories[init, True]) for init in curve_inits},
                         batches_per_epoch(data, batch_size), target, title)
    log(format_table(summary, SUMMARY, title=f"plain vs batch norm (accuracies of the best validation epoch; "
                                             f"epochs to reach validation accuracy {target:g}, nan: never)"))
    return summary


def _trial_row(init, model, history, data, target, seconds):
    last = history.epochs[-1] if history.epochs else {}
    return {"init": init_label(init), "batchnorm": model.batchnorm,
            "final_train_loss": last.get("train_loss", math.nan), "val_acc": model.score(data.X_val, data.y_val),
            "test_acc": model.score(data.X_test, data.y_test), "epochs_to_target": epochs_to_target(history, target),
            "best_epoch": history.best_epoch, "seconds": seconds, "stop_reason": history.stop_reason}


def _summary_row(init, trials):
    plain, bn = (next(t for t in trials if t["init"] == init_label(init) and t["batchnorm"] == batchnorm)
                 for batchnorm in (False, True))
    row = {"init": init_label(init)}
    for key in ("val_acc", "test_acc", "epochs_to_target"):
        row[f"{key}_plain"], row[f"{key}_bn"] = plain[key], bn[key]
    return row


def _plot_accuracy_vs_scale(output, inits, trials, hidden_sizes, title):
    """Accuracy against the fixed stds (log x); He or Xavier, whose std depends on the layer's fan-in
    (and fan-out), as stars at their std for a square layer of the first hidden width."""
    fixed = sorted(init for init in inits if not isinstance(init, str))
    named = [init for init in inits if isinstance(init, str)]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    for ax, key, split in zip(axes, ("val_acc", "test_acc"), ("Validation", "Test")):
        for batchnorm, style, name in ((True, "-o", "with batch norm"), (False, "--s", "without")):
            acc = {t["init"]: t[key] for t in trials if t["batchnorm"] == batchnorm}
            line, = ax.plot(fixed, [acc[init_label(s)] for s in fixed], style, label=f"{name}, fixed std")
            for init in named:
                width = hidden_sizes[0]
                std = weight_std(init, width, width)
                ax.plot([std], [acc[init_label(init)]], "*", ms=14, color=line.get_color(), mec="black",
                        label=f"{name}, {init_label(init)} (std {std:.2g} for {width}x{width} weights)")
        ax.set(xscale="log", xlabel="initial weight std (log scale)", ylabel="accuracy (fraction correct)",
               ylim=(0, 1), title=f"{split} accuracy after training")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Batch norm vs the initial weight scale\n{title}", fontsize=10)
    output.figure(fig, "accuracy_vs_scale")


def _plot_training_speed(output, pairs, batches_per_epoch, target, title):
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(13, 5))
    colors = plt.cm.tab10(np.arange(len(pairs)) % 10)
    for color, (init, histories) in zip(colors, pairs.items()):
        for history, style, name in zip(histories, ("--", "-"), ("without BN", "with BN")):
            plot_run(loss_ax, acc_ax, history, f"{init_label(init)}, {name}", batches_per_epoch, x_in_epochs=False,
                     ls=style, color=color)
    acc_ax.axhline(target, color="gray", ls=":", label=f"target {target:g}")
    finish_training_axes(loss_ax, acc_ax, [h for pair in pairs.values() for h in pair],
                         f"iteration ({batches_per_epoch} per epoch)")
    fig.suptitle(f"Training speed with and without batch norm (same optimizer, learning rate, initial weights)\n"
                 f"{title}", fontsize=10)
    output.figure(fig, "training_speed")


@command
def main(argv=None):
    p = parser("Batch normalization across weight scales in a deep ReLU network: "
               "each initialization (fixed stds and He) trains with and without batch norm from the same "
               "weights; accuracy against the scale, training curves, epochs to a target accuracy.",
               "experiments/batchnorm")
    add_data_arguments(p)
    p.add_argument("--inits", nargs="+", type=check_init, default=list(INITS),
                   help="initializations: fixed stds (e.g. a log-spaced grid) and/or he, xavier")
    p.add_argument("--curve-inits", nargs="+", type=check_init, default=["he", 0.01],
                   help="initializations (among --inits) whose training curves are drawn")
    p.add_argument("--hidden-sizes", type=int, nargs="+", default=[256] * 6, help="widths of the ReLU hidden layers")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--method", default="momentum", choices=FIRST_ORDER,
                   help="training method (see experiments.common.METHODS)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the method's own)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--target", type=float, default=0.9, help="validation accuracy whose epoch is reported")
    args = p.parse_args(argv)
    batchnorm_study(load_data(vars(args)), args.out, inits=args.inits, hidden_sizes=args.hidden_sizes,
                    epochs=args.epochs, method=args.method, lr=args.lr, batch_size=args.batch_size,
                    target=args.target, curve_inits=args.curve_inits, seed=args.seed)
    print(f"results in {args.out}")
