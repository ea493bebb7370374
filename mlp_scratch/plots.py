"""Figures of a training run."""
import os

import matplotlib

if "MPLBACKEND" not in os.environ:  # a notebook's kernel sets it, for figures inline
    matplotlib.use("Agg")  # files only: works without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def plot_history(history, path, title=None):
    """A PNG with the per-iteration loss (raw and smoothed), and train/validation accuracy per epoch."""
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
    ax_acc.plot(epochs, [e["train_acc"] for e in history.epochs], "o-", label="train")
    ax_acc.plot(epochs, [e["val_acc"] for e in history.epochs], "s-", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (fraction correct)", title="Accuracy")
    ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.grid(alpha=0.3)
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
