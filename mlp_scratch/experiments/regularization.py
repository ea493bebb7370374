"""Experiment 6: regularization against overfitting.

A wide network trained long enough on a small training set fits it perfectly (training accuracy ~1)
while validation accuracy stays well below: the gap is overfitting. Each regularizer is then swept
over a grid of strengths, everything else fixed (architecture, initialization, shuffling, AdamW
with the same learning rate, which with weight_decay 0 is Adam):

- l2:           the model's penalty 0.5 * l2 * sum(W**2), whose gradient Adam rescales per element;
- l1:           the model's penalty l1 * sum(|W|) (subgradient l1 * sign(W)), which drives weights
                towards 0: ``near_zero`` is the fraction of weights below 1e-3 in magnitude (a
                subgradient method leaves them hovering near 0, not at exactly 0);
- weight_decay: AdamW's decoupled decay p <- p * (1 - lr * weight_decay), not rescaled;
- dropout:      the probability of dropping a hidden unit in training.

Every number describes the network at the END of training (the trainer's best-validation-epoch
parameters would add early stopping, a regularizer of its own, to each run)."""
import numpy as np

from mlp_scratch.experiments.common import (Output, add_data_arguments, command, format_table, load_data, parser,
                                            plt, train)
from mlp_scratch.optim import make_optimizer

KINDS = ("none", "l2", "l1", "weight_decay", "dropout")
L2_GRID = (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 0.3)
L1_GRID = (1e-5, 1e-4, 3e-4, 1e-3, 3e-3)
NEAR_ZERO = 1e-3
DECAY_GRID = (0.1, 1.0, 3.0, 10.0, 30.0, 100.0)
DROPOUT_GRID = (0.1, 0.3, 0.5, 0.7, 0.9)
COLUMNS = ["kind", "strength", "train_acc", "val_acc", "gap", "test_acc", "sum_sq_weights", "near_zero",
           "seconds"]
LABELS = {"l2": "L2 strength l2 (penalty 0.5 * l2 * sum W²)", "l1": "L1 strength l1 (penalty l1 * sum |W|)",
          "weight_decay": "AdamW weight_decay (decoupled)",
          "dropout": "dropout rate (probability of dropping a hidden unit)"}


def check_grid(name, grid, high=None):
    """A non-empty, increasing list of strengths in (0, high)."""
    grid = [float(s) for s in grid]
    if not grid or any(not 0 < s < (high or np.inf) for s in grid) or np.any(np.diff(grid) <= 0):
        bound = f"(0, {high})" if high else "(0, inf)"
        raise ValueError(f"{name} must be a non-empty increasing list of strengths in {bound}, got {grid}")
    return grid


def sum_squared_weights(model):
    """sum(W**2) over the weight matrices (not biases): the quantity the L2 penalty charges for."""
    weights = model.flat_params[model.weight_mask()].astype(np.float64)
    return float(weights @ weights)


def near_zero_fraction(model):
    """The fraction of weight-matrix elements below NEAR_ZERO in magnitude: L1's sparsity."""
    return float(np.mean(np.abs(model.flat_params[model.weight_mask()]) < NEAR_ZERO))


def run(data, kind, strength, *, lr, hidden_sizes, epochs, batch_size, seed):
    """One training run with one regularizer at one strength. Returns (table row, history)."""
    model, history, seconds = train(  # the end of training, not the best validation epoch, is studied
        data, hidden_sizes=hidden_sizes, epochs=epochs, batch_size=batch_size, seed=seed,
        l2=strength if kind == "l2" else 0.0, l1=strength if kind == "l1" else 0.0,
        dropout=strength if kind == "dropout" else 0.0,
        optimizer=make_optimizer("adamw", lr=lr, weight_decay=strength if kind == "weight_decay" else 0.0),
        restore_best=False)
    if not history.epochs:
        raise ValueError(f"{kind} = {strength}: training stopped before the first epoch ({history.stop_reason})")
    last = history.epochs[-1]
    row = {"kind": kind, "strength": strength, "train_acc": last["train_acc"], "val_acc": last["val_acc"],
           "gap": last["train_acc"] - last["val_acc"], "test_acc": model.score(data.X_test, data.y_test),
           "sum_sq_weights": sum_squared_weights(model), "near_zero": near_zero_fraction(model), "seconds": seconds}
    return row, history


def regularization_study(data, out, *, l2_grid=L2_GRID, l1_grid=L1_GRID, decay_grid=DECAY_GRID,
                         dropout_grid=DROPOUT_GRID,
                         lr=1e-3, hidden_sizes=(512, 512), epochs=50, batch_size=64, seed=0, log=print):
    """Train the unregularized baseline, then each regularizer at each strength of its grid; write
    results.csv (one row per run, COLUMNS), baseline_curves.csv and the figures
    accuracy_vs_strength.png, baseline_gap.png, weights_vs_strength.png into ``out``. Returns the rows."""
    grids = {"none": [0.0], "l2": check_grid("l2_grid", l2_grid), "l1": check_grid("l1_grid", l1_grid),
             "weight_decay": check_grid("decay_grid", decay_grid),
             "dropout": check_grid("dropout_grid", dropout_grid, high=1.0)}
    output = Output(out)
    settings = dict(lr=lr, hidden_sizes=list(hidden_sizes), epochs=epochs, batch_size=batch_size, seed=seed)
    rows, baseline_history = [], None
    for kind in KINDS:
        for strength in grids[kind]:
            row, history = run(data, kind, strength, **settings)
            rows.append(row)
            if kind == "none":
                baseline_history = history
            log(f"{kind:12s} {strength:<8g} train acc {row['train_acc']:.4f}  val acc {row['val_acc']:.4f}  "
                f"gap {row['gap']:+.4f}  sum W² {row['sum_sq_weights']:.4g}  {row['seconds']:.1f}s")
    output.table("results", rows, COLUMNS)
    output.table("baseline_curves", baseline_history.epochs)
    output.json("settings", {**settings, "dataset": data.meta["name"], "n_train": len(data.y_train),
                             "n_val": len(data.y_val), "n_test": len(data.y_test), "optimizer": "adamw"})
    title = (f"{data.meta['name']}: {len(data.y_train)} training samples, hidden layers {list(hidden_sizes)}, "
             f"{epochs} epochs of AdamW (lr {lr:g})")
    _plot_accuracy(output, rows, title)
    _plot_baseline(output, baseline_history, title)
    _plot_against_strength(output, rows, "weights_vs_strength", "sum_sq_weights", ("l2", "weight_decay"),
                           yscale="log", xlabel="strength (l2, or AdamW weight_decay)",
                           ylabel="sum of squared weights, sum W² (end of training)",
                           title=f"Weight size vs penalty strength\n{title}")
    _plot_against_strength(output, rows, "sparsity", "near_zero", ("l1", "l2"), ylim=(0, 1),
                           xlabel="penalty strength (l1 or l2)", ylabel=f"fraction of weights with |w| < {NEAR_ZERO:g}",
                           title=f"Sparsity: L1 drives weights to zero, L2 only shrinks them\n{title}")
    log(format_table(rows, COLUMNS, title="state at the end of training (gap = train acc - val acc)"))
    return rows


def _plot_accuracy(output, rows, title):
    baseline = rows[0]
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.8), sharey=True)
    for ax, kind in zip(axes, KINDS[1:]):
        runs = [r for r in rows if r["kind"] == kind]
        x = [r["strength"] for r in runs]
        train_acc, val_acc = [r["train_acc"] for r in runs], [r["val_acc"] for r in runs]
        ax.plot(x, train_acc, "o-", color="tab:blue", label="train")
        ax.plot(x, val_acc, "s-", color="tab:orange", label="validation")
        ax.fill_between(x, val_acc, train_acc, color="tab:gray", alpha=0.15, label="gap")
        ax.axhline(baseline["train_acc"], color="tab:blue", ls="--", lw=1, label="train, no regularization")
        ax.axhline(baseline["val_acc"], color="tab:orange", ls="--", lw=1, label="validation, no regularization")
        ax.set(xscale="linear" if kind == "dropout" else "log", xlabel=LABELS[kind], title=kind)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("accuracy at the last epoch (fraction correct)")
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle(f"Train and validation accuracy vs regularization strength\n{title}")
    output.figure(fig, "accuracy_vs_strength")


def _plot_baseline(output, history, title):
    epochs = [e["epoch"] for e in history.epochs]
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, label, color in (("train", "train", "tab:blue"), ("val", "validation", "tab:orange")):
        acc_ax.plot(epochs, [e[f"{key}_acc"] for e in history.epochs], color=color, label=label)
        loss_ax.plot(epochs, [e[f"{key}_loss"] for e in history.epochs], color=color, label=label)
    acc_ax.fill_between(epochs, [e["val_acc"] for e in history.epochs], [e["train_acc"] for e in history.epochs],
                        color="tab:gray", alpha=0.2, label="gap (overfitting)")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (fraction correct)", title="Accuracy")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss (data only, evaluation mode)", yscale="log",
                title="Loss")
    for ax in (acc_ax, loss_ax):
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.suptitle(f"No regularization: the train/validation gap opens\n{title}")
    output.figure(fig, "baseline_gap")


def _plot_against_strength(output, rows, name, key, kinds, **axes):
    """One measurement (``key``) of each kind's runs against its strength, the baseline dashed."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for kind, marker in zip(kinds, "os"):
        runs = [r for r in rows if r["kind"] == kind]
        ax.plot([r["strength"] for r in runs], [r[key] for r in runs], marker=marker, label=kind)
    ax.axhline(rows[0][key], color="black", ls="--", lw=1, label="no regularization")
    ax.set(xscale="log", **axes)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    output.figure(fig, name)


@command
def main(argv=None):
    p = parser("Overfit a small training set with a wide network, then regularize it with L2, L1, AdamW weight "
               "decay and dropout over grids of strengths: train/validation gaps, weight sizes, figures.",
               "experiments/regularization")
    add_data_arguments(p, n_train=500, n_val=1000)
    p.add_argument("--l2", type=float, nargs="+", default=list(L2_GRID), help="L2 strengths")
    p.add_argument("--l1", type=float, nargs="+", default=list(L1_GRID), help="L1 strengths")
    p.add_argument("--weight-decay", type=float, nargs="+", default=list(DECAY_GRID), help="AdamW weight decays")
    p.add_argument("--dropout", type=float, nargs="+", default=list(DROPOUT_GRID), help="dropout rates")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    p.add_argument("--hidden-sizes", type=int, nargs="*", default=[512, 512])
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args(argv)
    regularization_study(load_data(vars(args)), args.out, l2_grid=args.l2, l1_grid=args.l1,
                         decay_grid=args.weight_decay,
                         dropout_grid=args.dropout, lr=args.lr, hidden_sizes=args.hidden_sizes, epochs=args.epochs,
                         batch_size=args.batch_size, seed=args.seed)
    print(f"results in {args.out}")
