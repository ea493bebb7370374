"""Experiment 12: babysitting the learning process, layer by layer.

The lecture's advice for a network that does not learn is to look past the loss curve: at the ratio
of each layer's update to its weights (about 1e-3 is healthy), at its activations (vanishing,
exploding, dead units) and at the gradient reaching each layer. This runs one network four ways:
the learning rate too low, about right and too high, and the right learning rate from a bad
initialization (weights of std 1e-3, where activations and gradients vanish), with the diagnostics
on (mlp_scratch/diagnostics.py). One figure puts their statistics side by side; the table gives
each run's accuracy, last record and the warnings the diagnostics printed."""
from mlp_scratch.diagnostics import HEALTHY_RATIO, Diagnostics, advice_by_record
from mlp_scratch.experiments.common import (Output, add_data_arguments, batches_per_epoch, command, format_table,
                                            load_data, parser, plt, train)
from mlp_scratch.model import MLP
from mlp_scratch.optim import make_optimizer
from mlp_scratch.validation import check_number, check_positive_int

COLUMNS = ["run", "lr", "init", "best_val_acc", "largest_update_ratio", "most_dead", "loss_grad_first_over_last",
           "warnings"]
# The figure's rows: (statistic, title, log scale)
PANELS = [("update_ratio_mean", "update / weight ratio", True), ("act_std", "activation std", True),
          ("dead", "ReLUs that never fired", False), ("loss_grad_norm", "loss gradient at the layer", True)]
RECORDS_PER_EPOCH = 4


def runs(lr, low, high, bad_init):
    """(name, learning rate, init) of the four runs."""
    return [(f"lr {low:g}: too low", low, "he"), (f"lr {lr:g}: about right", lr, "he"),
            (f"lr {high:g}: too high", high, "he"), (f"init std {bad_init:g}, lr {lr:g}", lr, bad_init)]


def babysitting(data, out, *, hidden_sizes=(100, 100, 100), lr=0.01, low=2e-5, high=0.3, bad_init=1e-3, epochs=5,
                batch_size=64, seed=0, log=print):
    """SGD with momentum 0.9 at ``low``, ``lr`` and ``high``, and at ``lr`` from weights of std
    ``bad_init``, with diagnostics RECORDS_PER_EPOCH times an epoch. Writes babysitting.csv/.json,
    diagnostics.csv (every record of every run) and babysitting.png into ``out``; returns the rows:
    per run, the largest mean update ratio of any layer and record, the largest fraction of dead
    units of any layer in the last record, the first layer's loss gradient over the output layer's
    in the last record, and every warning the diagnostics gave (once per layer and rule)."""
    for name, value in (("lr", lr), ("low", low), ("high", high), ("bad_init", bad_init)):
        check_number(name, value, low=0, low_open=True)
    check_positive_int("epochs", epochs)
    output = Output(out)
    every = max(1, batches_per_epoch(data, batch_size) // RECORDS_PER_EPOCH)
    fig, axes = plt.subplots(len(PANELS), 4, figsize=(16, 2.9 * len(PANELS)), sharex=True, squeeze=False)
    table, records = [], []
    for column, (name, rate, init) in enumerate(runs(lr, low, high, bad_init)):
        model = MLP(data.n_features, list(hidden_sizes), data.n_classes, init=init, seed=seed)
        model, history, _ = train(data, model=model, optimizer=make_optimizer("sgd", lr=rate, momentum=0.9),
                                  epochs=epochs, batch_size=batch_size, seed=seed, restore_best=False,
                                  diagnostics=Diagnostics(every=every, histograms=None))
        rows = history.diagnostics
        records += [{"run": name, **row} for row in rows]
        said = {}
        for layer, rule, text in advice_by_record(rows, model, f"in the last {every} steps"):
            said.setdefault((layer, rule), text)
        last = [row for row in rows if row["step"] == rows[-1]["step"]] if rows else []
        table.append({"run": name, "lr": rate, "init": init, "best_val_acc": history.best_val_score,
                      "largest_update_ratio": max((row["update_ratio_mean"] for row in rows), default=None),
                      "most_dead": max((row["dead"] for row in last if row["dead"] is not None), default=None),
                      "loss_grad_first_over_last": (last[0]["loss_grad_norm"] / last[-1]["loss_grad_norm"]
                                                    if last and last[-1]["loss_grad_norm"] else None),
                      "warnings": "; ".join(said.values()) or "none"})
        for ax, (statistic, title, logscale) in zip(axes[:, column], PANELS):
            for layer in sorted({row["layer"] for row in rows}):
                points = [(row["epoch"], row[statistic]) for row in rows
                          if row["layer"] == layer and row[statistic] is not None]
                if points:
                    ax.plot(*zip(*points), label=f"layer {layer}")
            if statistic == "update_ratio_mean":
                ax.axhspan(*HEALTHY_RATIO, color="tab:green", alpha=0.12)
            if logscale and ax.has_data():
                ax.set_yscale("symlog", linthresh=1e-8)  # a log scale that shows zeros: dead layers have them
            if statistic == "dead":
                ax.set_ylim(-0.03, 1.03)
            ax.set_title(f"{name}\n{title}" if statistic == PANELS[0][0] else title, fontsize=10)
            ax.grid(alpha=0.3)
        axes[-1, column].set_xlabel("epoch")
        log(f"{name}: best validation accuracy {history.best_val_score:.3f}")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"One network ({'-'.join(map(str, hidden_sizes))} ReLU, SGD + momentum), four ways: what each "
                 f"looks like layer by layer (green: update ratios a decade either side of 1e-3)")
    output.figure(fig, "babysitting")
    output.table("babysitting", table, COLUMNS)
    output.table("diagnostics", records)
    log(format_table(table, COLUMNS[:-1], title="babysitting the learning process (first layer, last record)"))
    for row in table:
        log(f"{row['run']}: {row['warnings']}")
    return table


@command
def main(argv=None):
    p = parser("One network with the learning rate too low, about right and too high, and from a bad "
               "initialization, watched layer by layer by the diagnostics.", "experiments/babysitting")
    add_data_arguments(p)
    p.add_argument("--hidden-sizes", type=int, nargs="+", default=[100, 100, 100])
    p.add_argument("--lr", type=float, default=0.01, help="the learning rate about right (SGD, momentum 0.9)")
    p.add_argument("--low", type=float, default=2e-5, help="the learning rate too low")
    p.add_argument("--high", type=float, default=0.3, help="the learning rate too high")
    p.add_argument("--bad-init", type=float, default=1e-3, help="std of the bad initialization's weights")
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args(argv)
    babysitting(load_data(vars(args)), args.out, hidden_sizes=args.hidden_sizes, lr=args.lr, low=args.low,
                high=args.high, bad_init=args.bad_init, epochs=args.epochs, seed=args.seed)
    print(f"results in {args.out}")
