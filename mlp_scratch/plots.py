"""Figures of a training run."""
import os

import matplotlib

if "MPLBACKEND" not in os.environ:  # a notebook's kernel sets it, for figures inline
    matplotlib.use("Agg")  # files only: works without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def plot_history(history, path, title=None):
    """A PNG with the per-iteration loss (raw and smoothed), and train/validation accuracy (or R^2)
    per epoch."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    loss = np.asarray(history.iteration_loss)
    if loss.size:
        iterations = np.arange(1, loss.size + 1)
        ax_loss.plot(iterations, loss, color="tab:blue", alpha=0.3, lw=0.8, label="mini-batch loss")
        window = max(1, loss.size // 50)
        if window > 1:
            smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
            ax_loss.plot(iterations[window - 1:], smooth, color="tab:blue", label=f"mean of {window}")
        if np.all(loss > 0):
            ax_loss.set_yscale("log")
        ax_loss.legend()
    ax_loss.set(xlabel="iteration (mini-batch)", ylabel="training loss (data + L2)", title="Loss")
    epochs = [e["epoch"] for e in history.epochs]
    metric = history.metric
    ax_acc.plot(epochs, [e[f"train_{metric}"] for e in history.epochs], "o-", label="train")
    ax_acc.plot(epochs, [e[f"val_{metric}"] for e in history.epochs], "s-", label="validation")
    if metric == "acc":
        ax_acc.set(xlabel="epoch", ylabel="accuracy (fraction correct)", title="Accuracy")
    else:
        ax_acc.set(xlabel="epoch", ylabel="R$^2$ (1 - residual / variance)", title="R$^2$")
    ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.grid(alpha=0.3)
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# The diagnostics' panels (mlp_scratch/diagnostics.py): (statistic, title, log scale)
DIAGNOSTIC_PANELS = [("update_ratio_mean", "update / weight ratio (mean over the interval)", True),
                     ("weight_norm", "weight norm ||W||", False), ("grad_norm", "gradient norm ||dL/dW||", True),
                     ("loss_grad_norm", "loss gradient at the layer, ||dL/dz||", True),
                     ("act_mean", "activation mean", False), ("act_std", "activation std", False),
                     ("dead", "dead (ReLU family) or saturated (tanh, sigmoid)", False),
                     ("gamma_mean", "batch norm gamma (mean, +- std)", False),
                     ("beta_mean", "batch norm beta (mean, +- std)", False)]


def plot_diagnostics(rows, path, healthy_ratio, title=None):
    """A PNG of the diagnostics' rows: a panel per statistic, a line per layer over the epochs, the
    update ratio's healthy band shaded. Panels no layer has (gamma without batch norm) are left out."""
    panels = [panel for panel in DIAGNOSTIC_PANELS if any(row[panel[0]] is not None for row in rows)]
    columns = 3
    rows_of_panels = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows_of_panels, columns, figsize=(13, 3.2 * rows_of_panels), squeeze=False)
    layers = sorted({row["layer"] for row in rows})
    for ax, (name, panel_title, log) in zip(axes.flat, panels):
        for layer in layers:
            mine = [row for row in rows if row["layer"] == layer and row[name] is not None]
            if not mine:
                continue
            epochs = np.array([row["epoch"] for row in mine])
            values = np.array([row[name] for row in mine])
            line, = ax.plot(epochs, values, "o-" if len(mine) < 30 else "-", ms=3, label=f"layer {layer}")
            if name in ("gamma_mean", "beta_mean"):
                std = np.array([row[name.replace("_mean", "_std")] for row in mine])
                ax.fill_between(epochs, values - std, values + std, color=line.get_color(), alpha=0.15)
        if name == "update_ratio_mean":
            ax.axhspan(*healthy_ratio, color="tab:green", alpha=0.12, label="healthy (about 1e-3)")
        if log and all(row[name] is None or row[name] > 0 for row in rows):
            ax.set_yscale("log")
        elif log:
            ax.set_yscale("symlog", linthresh=1e-8)  # a log scale that shows the zeros of a dead layer
        if name == "dead":
            ax.set_ylim(-0.03, 1.03)
        ax.set(title=panel_title, xlabel="epoch")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_histograms(rows, path, title=None):
    """A PNG of the diagnostics' histograms: a row per layer, activations left and weight gradients
    right, one outline per chosen epoch, counts on a log scale."""
    layers = sorted({row["layer"] for row in rows})
    fig, axes = plt.subplots(len(layers), 2, figsize=(11, 2.6 * len(layers) + 0.6), squeeze=False)
    for i, layer in enumerate(layers):
        for ax, kind in zip(axes[i], ("activations", "gradients")):
            for row in (row for row in rows if row["layer"] == layer and row["kind"] == kind):
                ax.stairs(row["counts"], row["edges"], label=f"epoch {row['epoch']}")
            if not ax.has_data():
                ax.axis("off")  # the output layer's activations: its scores are not watched
                continue
            ax.set(title=f"layer {layer}: {'outputs' if kind == 'activations' else 'weight gradients'}",
                   ylabel="count")
            ax.set_yscale("log", nonpositive="mask")  # the tails, where saturated and dead units show
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
