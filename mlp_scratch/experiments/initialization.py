"""Experiment 4: weight initialization in a deep network (ReLU by default; ``activation`` "tanh"
or "sigmoid" shows what Xavier was made for).

The same network (default: 6 hidden layers of 256 units) starts from each initialization in turn:
a small fixed std (0.01), Xavier/Glorot, He, and a large fixed std (1.0). All draw the same standard normal numbers from one
seed, scaled differently, so the runs differ in the scale of their weights only.

A ReLU layer of fan-in n with weights of std s multiplies the typical size of its input by about
s * sqrt(n / 2). With s = 0.01 and n = 256 that is 0.11 per layer: the signal vanishes. With s = 1
it is 11: the signal explodes. He's s = sqrt(2 / n) makes it 1; Xavier's sqrt(2 / (n_in + n_out)),
made for tanh, makes it about 0.71 for ReLU. The hidden activations of the first ``n_probe``
training samples at initialization show this (histograms and per-layer statistics); then every
initialization trains with the same optimizer, learning rate and shuffling, and the curves show
what it costs."""
import numpy as np

from mlp_scratch.experiments.common import (FIRST_ORDER, METHODS, Output, add_data_arguments, batches_per_epoch,
                                            check_method, command, format_table, load_data, parser, plt, smooth, train)
from mlp_scratch.model import ACTIVATIONS, MLP, check_init
from mlp_scratch.validation import check_positive_int

INITS = (0.01, "xavier", "he", 1.0)
SUMMARY = ["init", "act_std_first", "act_std_last", "std_ratio", "final_train_loss", "train_acc", "val_acc",
           "test_acc", "best_epoch", "seconds", "stop_reason"]


def init_label(init):
    """How figures and tables name an initialization: "He", "Xavier" or "std 0.01"."""
    return {"he": "He", "xavier": "Xavier"}.get(init) or f"std {init:g}"


def describe_setup(data, hidden_sizes, method, lr, activation="relu"):
    """A figure's second title line: data, architecture, training method."""
    widths = sorted(set(hidden_sizes))
    layers = (f"{len(hidden_sizes)} {activation} hidden layers of {widths[0]}" if len(widths) == 1
              else f"{activation} hidden layers {list(hidden_sizes)}")
    return (f"{data.meta['name']}, {len(data.y_train)} training samples; {layers}; "
            f"{method}, lr {lr if lr is not None else METHODS[method][2]:g}")


def check_inits(inits):
    """The initializations as the MLP takes them ("he", "xavier" or a positive float), non-empty."""
    inits = [check_init(init) for init in inits]
    if not inits:
        raise ValueError("inits must name at least one initialization, got none")
    return inits


def activation_statistics(model, X):
    """(rows, activations): the evaluation-mode activations of each hidden layer of ``model`` on X
    (``model.hidden_activations``) and one row per layer with their mean, std and fraction of exact
    zeros (ReLU's dead outputs), computed in float64."""
    activations = model.hidden_activations(X)
    rows = [{"layer": l, "mean": float(a.mean(dtype=np.float64)), "std": float(a.std(dtype=np.float64)),
             "zero_fraction": float(np.mean(a == 0))} for l, a in enumerate(activations, start=1)]
    return rows, activations


def compare_initializations(data, out, *, inits=INITS, hidden_sizes=(256,) * 6, epochs=10, method="momentum",
                            lr=None, batch_size=64, l2=0.0, n_probe=1000, activation="relu", seed=0, log=print):
    """Look at each initialization's activations, then train from it. Writes activations.csv (per
    init and hidden layer: mean, std, zero fraction at initialization), summary.csv (per init: the
    first and last layer's activation std, final training loss, train/val/test accuracy of the
    trained model, i.e. of its best validation epoch) and the figures activation_histograms.png,
    activation_std.png and training.png into ``out``. Returns the summary rows."""
    inits = check_inits(inits)
    check_method(method, first_order=True)
    n_probe = check_positive_int("n_probe", n_probe)
    if len(hidden_sizes) == 0:
        raise ValueError("hidden_sizes must name at least one hidden layer, got none")
    output = Output(out)
    X_probe = data.X_train[:n_probe]
    layer_rows, histograms, summary, curves = [], {}, [], {}
    for init in inits:
        label = init_label(init)
        model = MLP(data.n_features, hidden_sizes, data.n_classes, activation=activation, init=init, l2=l2,
                    seed=seed)
        stats, histograms[label] = activation_statistics(model, X_probe)
        layer_rows += [{"init": label, **row} for row in stats]
        model, history, seconds = train(data, model=model, method=method, lr=lr, epochs=epochs,
                                        batch_size=batch_size, seed=seed)
        curves[label] = history
        summary.append(_summary_row(label, stats, model, history, data, seconds))
        log(f"{label:10s} activation std {stats[0]['std']:.3g} (layer 1) -> {stats[-1]['std']:.3g} "
            f"(layer {len(stats)}); test acc {summary[-1]['test_acc']:.4f}  {seconds:.1f}s")
    output.table("activations", layer_rows, ["init", "layer", "mean", "std", "zero_fraction"])
    output.table("summary", summary, SUMMARY)
    title = describe_setup(data, hidden_sizes, method, lr, activation)
    _plot_histograms(output, histograms, f"Hidden activations at initialization, on the first {len(X_probe)} "
                                         f"training samples\n{title}")
    _plot_std_per_layer(output, layer_rows, title)
    _plot_training(output, curves, batches_per_epoch(data, batch_size), title)
    wide = [{"init": label, **{f"std{r['layer']}": r["std"] for r in layer_rows if r["init"] == label}}
            for label in histograms]
    log(format_table(wide, list(wide[0]), title="activation std per hidden layer at initialization"))
    log(format_table(summary, SUMMARY[:-1], title="after training (accuracies of the best validation epoch)"))
    return summary


def _summary_row(label, stats, model, history, data, seconds):
    last = history.epochs[-1] if history.epochs else {}
    return {"init": label, "act_std_first": stats[0]["std"], "act_std_last": stats[-1]["std"],
            "std_ratio": stats[-1]["std"] / stats[0]["std"] if stats[0]["std"] > 0 else np.nan,
            "final_train_loss": last.get("train_loss", np.nan),
            "train_acc": model.score(data.X_train, data.y_train), "val_acc": model.score(data.X_val, data.y_val),
            "test_acc": model.score(data.X_test, data.y_test), "best_epoch": history.best_epoch,
            "seconds": seconds, "stop_reason": history.stop_reason}


def _plot_histograms(output, histograms, title):
    """One row per init, one column per hidden layer. A row's panels share their bins (the row's
    smallest to largest activation, or 0 to it for ReLU), so the drift of the distribution across
    depth reads off directly; the scales of different inits differ by many orders of magnitude, so
    rows do not share them."""
    n_rows, n_cols = len(histograms), len(next(iter(histograms.values())))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols + 1, 2.2 * n_rows + 1), squeeze=False,
                             sharey=True)
    for row, (label, activations) in zip(axes, histograms.items()):
        low = min(0.0, *(float(a.min()) for a in activations))
        high = max(float(a.max()) for a in activations)
        bins = np.linspace(low, high if high > low else low + 1.0, 41)
        for l, (ax, a) in enumerate(zip(row, activations), start=1):
            ax.hist(a.ravel(), bins=bins, color="tab:blue", log=True)
            ax.set_title(f"{label}, layer {l}\nmean {a.mean():.2g}, std {a.std():.2g}", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.xaxis.get_offset_text().set_fontsize(7)
        row[0].set_ylabel(f"{label}\ncount (log)")
    for ax in axes[-1]:
        ax.set_xlabel("activation (layer output)")
    fig.suptitle(title, fontsize=10)
    output.figure(fig, "activation_histograms")


def _plot_std_per_layer(output, layer_rows, title):
    fig, ax = plt.subplots(figsize=(8, 5))
    labels = list(dict.fromkeys(r["init"] for r in layer_rows))
    for label in labels:
        rows = [r for r in layer_rows if r["init"] == label]
        ax.plot([r["layer"] for r in rows], [r["std"] for r in rows], marker="o", label=label)
    ax.set(yscale="log", xlabel="hidden layer", ylabel="std of the layer outputs (log scale)",
           title=f"Activation std per layer at initialization\n{title}")
    ax.set_xticks(sorted({r["layer"] for r in layer_rows}))
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    output.figure(fig, "activation_std")


def _plot_training(output, curves, batches_per_epoch, title):
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(13, 5))
    for label, history in curves.items():
        plot_run(loss_ax, acc_ax, history, label, batches_per_epoch)
    finish_training_axes(loss_ax, acc_ax, curves.values(), "epoch")
    fig.suptitle(f"Training from each initialization\n{title}", fontsize=10)
    output.figure(fig, "training")


def plot_run(loss_ax, acc_ax, history, label, batches_per_epoch, x_in_epochs=True, **style):
    """One run's smoothed training loss per step (x in epochs, or in iterations) and validation
    accuracy per epoch; a run stopped by a non-finite loss says so in its label."""
    loss = np.asarray(history.iteration_loss)
    if history.stop_reason.startswith("non-finite"):
        label += f" (diverged: non-finite loss after {loss.size} steps)"
    steps = np.arange(1, loss.size + 1) / (batches_per_epoch if x_in_epochs else 1)
    loss_ax.plot(steps, smooth(loss, max(1, batches_per_epoch // 5)), label=label,
                 marker="o" if loss.size == 1 else None, **style)
    acc_ax.plot([e["epoch"] for e in history.epochs], [e["val_acc"] for e in history.epochs], marker="o", ms=3,
                label=label, **style)


def finish_training_axes(loss_ax, acc_ax, histories, loss_xlabel):
    """Labels, scales and legends of the loss and accuracy panels that ``plot_run`` drew on."""
    loss_ax.set(yscale="log", xlabel=loss_xlabel, ylabel="training loss (data + L2), smoothed, log scale",
                title="Training loss per step")
    first_losses = [h.iteration_loss[0] for h in histories if h.iteration_loss]
    if first_losses:  # a diverging run's loss (up to 1e30 and more) would flatten every other curve
        loss_ax.set_ylim(top=10 * np.median(first_losses))
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy (fraction correct)", ylim=(0, 1),
               title="Validation accuracy per epoch")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)


@command
def main(argv=None):
    p = parser("Weight initialization in a deep network (ReLU by default): a small fixed std, "
               "Xavier, He and a large fixed std. Histograms and statistics of the hidden activations at "
               "initialization, then training curves and accuracies from each.", "experiments/initialization")
    add_data_arguments(p)
    p.add_argument("--inits", nargs="+", type=check_init, default=list(INITS),
                   help="initializations: he, xavier or a fixed std such as 0.01")
    p.add_argument("--hidden-sizes", type=int, nargs="+", default=[256] * 6, help="widths of the hidden layers")
    p.add_argument("--activation", default="relu", choices=list(ACTIVATIONS), help="of every hidden layer")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--method", default="momentum", choices=FIRST_ORDER,
                   help="training method (see experiments.common.METHODS)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the method's own)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--n-probe", type=int, default=1000, help="training samples whose activations are shown")
    args = p.parse_args(argv)
    compare_initializations(load_data(vars(args)), args.out, inits=args.inits, hidden_sizes=args.hidden_sizes,
                            epochs=args.epochs, method=args.method, lr=args.lr, batch_size=args.batch_size,
                            l2=args.l2, n_probe=args.n_probe, activation=args.activation, seed=args.seed)
    print(f"results in {args.out}")
