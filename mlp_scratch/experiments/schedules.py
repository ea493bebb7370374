"""Experiment 3: learning-rate schedules on one task with one optimizer.

Every schedule trains the same network from the same initialization and shuffling (one seed), with
the same optimizer and base learning rate lr0; only the learning rate's course differs. The
schedules come from mlp_scratch.schedules (``make_schedule``), with settings derived from the run's
length so that each one makes sense at any number of epochs (see ``schedule_settings``)."""
import numpy as np

from mlp_scratch.experiments.common import (FIRST_ORDER, Output, add_data_arguments, batches_per_epoch,
                                            check_method, command, format_table, load_data, parser, plt, smooth, train)
from mlp_scratch.schedules import make_schedule

SCHEDULES = ["constant", "step", "exponential", "inverse-time", "cosine", "warmup-cosine", "warmup-constant"]
COLUMNS = ["schedule", "settings", "lr0", "final_lr", "final_train_loss", "best_val_acc", "final_val_acc",
           "test_acc", "seconds"]


def schedule_settings(name, *, epochs, iterations_per_epoch, step_size=None, gamma=0.3, final_fraction=0.1,
                      warmup_epochs=1):
    """(library name, keyword arguments of ``make_schedule``) for the experiment's schedule ``name``.
    step: gamma every ``step_size`` epochs (default: a third of the run); exponential (per epoch) and
    inverse-time (per iteration) reach ``final_fraction`` * lr0 at the last epoch / step; cosine
    anneals to 0 over every iteration; the warm-up ones rise linearly over ``warmup_epochs``."""
    if not 0 < final_fraction <= 1:
        raise ValueError(f"final_fraction must be in (0, 1], got {final_fraction}")
    if step_size is not None and step_size < 1:
        raise ValueError(f"step_size must be a positive number of epochs, got {step_size}")
    if not warmup_epochs > 0:
        raise ValueError(f"warmup_epochs must be > 0, got {warmup_epochs}")
    total = epochs * iterations_per_epoch
    warmup = max(1, round(warmup_epochs * iterations_per_epoch))
    if name == "constant":
        return "constant", {}
    if name == "step":
        return "step", {"step_size": step_size or max(1, epochs // 3), "gamma": gamma}
    if name == "exponential":
        return "exponential", {"gamma": final_fraction ** (1 / max(1, epochs - 1))}
    if name == "inverse-time":
        return "inverse-time", {"k": (1 / final_fraction - 1) / max(1, total - 1), "per": "iteration"}
    if name == "cosine":
        return "cosine", {"t_max": total, "per": "iteration"}
    if name == "warmup-cosine":
        return "cosine", {"t_max": total, "per": "iteration", "warmup": warmup}
    if name == "warmup-constant":
        return "constant", {"warmup": warmup}
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {name!r}")


def describe(settings):
    return ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
                     for key, value in settings.items()) or "-"


def compare_schedules(data, out, *, schedules=tuple(SCHEDULES), method="momentum", lr0=0.05, epochs=10,
                      batch_size=64, hidden_sizes=(100,), l2=1e-4, seed=0, step_size=None, gamma=0.3,
                      final_fraction=0.1, warmup_epochs=1, log=print):
    """Train once per schedule; write schedules.csv/.json (one row per schedule), history.json (each
    run's settings, per-step learning rates and losses, per-epoch records) and the figures
    learning_rate.png, loss.png, val_accuracy.png into ``out``. Returns the rows. Test accuracy is
    that of the parameters of the epoch with the best validation accuracy (the trainer restores them)."""
    unknown = [name for name in schedules if name not in SCHEDULES]
    if unknown or not schedules:
        raise ValueError(f"schedules must be a non-empty list of {SCHEDULES}, got {list(schedules)!r}")
    check_method(method, first_order=True)
    output = Output(out)
    per_epoch = batches_per_epoch(data, batch_size)
    rows, histories = [], {}
    for name in schedules:
        library_name, settings = schedule_settings(name, epochs=epochs, iterations_per_epoch=per_epoch,
                                                   step_size=step_size, gamma=gamma, final_fraction=final_fraction,
                                                   warmup_epochs=warmup_epochs)
        model, history, seconds = train(data, method=method, lr=lr0, epochs=epochs, batch_size=batch_size, seed=seed,
                                        hidden_sizes=hidden_sizes, l2=l2, schedule=make_schedule(library_name,
                                                                                                 **settings))
        last = history.epochs[-1] if history.epochs else {}
        rows.append({"schedule": name, "settings": describe(settings), "lr0": lr0,
                     "final_lr": history.iteration_lr[-1] if history.iteration_lr else np.nan,
                     "final_train_loss": last.get("train_loss", np.nan),
                     "best_val_acc": max((e["val_acc"] for e in history.epochs), default=np.nan),
                     "final_val_acc": last.get("val_acc", np.nan), "test_acc": model.score(data.X_test, data.y_test),
                     "seconds": seconds})
        histories[name] = {"library_schedule": library_name, "settings": settings, "lr0": lr0,
                           "iterations_per_epoch": per_epoch, "stop_reason": history.stop_reason,
                           "iteration_lr": history.iteration_lr, "iteration_loss": history.iteration_loss,
                           "epochs": history.epochs}
        log(f"{name:15s} final lr {rows[-1]['final_lr']:.3g}  val acc {rows[-1]['final_val_acc']:.4f}  "
            f"test acc {rows[-1]['test_acc']:.4f}  {seconds:.1f}s")
    output.table("schedules", rows, COLUMNS)
    output.json("history", histories)
    title = (f"{data.meta['name']}: {len(data.y_train)} training samples, {method} (lr0 {lr0:g}), "
             f"batch {batch_size}, {per_epoch} steps per epoch")
    _plot(output, histories, per_epoch, title)
    log(format_table(rows, COLUMNS, title=f"schedules, seed {seed}"))
    return rows


def _epoch_axis(ax, per_epoch):
    """A second x axis on top, in epochs."""
    axis = ax.secondary_xaxis("top", functions=(lambda t: t / per_epoch, lambda e: e * per_epoch))
    axis.set_xlabel("epoch")


def _plot(output, histories, per_epoch, title):
    colors = dict(zip(SCHEDULES, plt.cm.tab10(np.arange(len(SCHEDULES)))))
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, h in histories.items():  # dashed: a warm-up in front of a schedule drawn solid
        ax.plot(np.arange(len(h["iteration_lr"])), h["iteration_lr"], color=colors[name],
                ls="--" if name.startswith("warmup") else "-", lw=1.5 if name.startswith("warmup") else 2.2,
                label=f"{name} ({describe(h['settings'])})")
    ax.set(yscale="log", xlabel="iteration (optimizer step)", ylabel="learning rate",
           title=f"Learning rate of each step\n{title}")
    _epoch_axis(ax, per_epoch)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    output.figure(fig, "learning_rate")

    fig, ax = plt.subplots(figsize=(9, 5.5))
    window = max(1, per_epoch // 2)
    for name, h in histories.items():
        ax.plot(np.arange(len(h["iteration_loss"])), smooth(h["iteration_loss"], window), color=colors[name],
                label=name)
    ax.set(yscale="log", xlabel="iteration (optimizer step)",
           ylabel=f"training loss (mini-batch, data + L2), running mean of {window} steps",
           title=f"Training loss\n{title}")
    _epoch_axis(ax, per_epoch)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    output.figure(fig, "loss")

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, h in histories.items():
        ax.plot([e["epoch"] for e in h["epochs"]], [e["val_acc"] for e in h["epochs"]], "-o", ms=4,
                color=colors[name], label=name)
    ax.set(xlabel="epoch", ylabel="validation accuracy (fraction correct)",
           title=f"Validation accuracy after each epoch\n{title}")
    ax.grid(alpha=0.3)
    ax.legend()
    output.figure(fig, "val_accuracy")


@command
def main(argv=None):
    p = parser("Compare learning-rate schedules (constant, step, exponential, 1/t, cosine, linear warm-up) with one "
               "optimizer on one data set: learning rate, loss and accuracy curves, a summary table.",
               "experiments/schedules")
    add_data_arguments(p)
    p.add_argument("--schedules", nargs="+", default=SCHEDULES, choices=SCHEDULES)
    p.add_argument("--method", default="momentum", choices=FIRST_ORDER, help="the optimizer (see common.METHODS)")
    p.add_argument("--lr0", type=float, default=0.05, help="base learning rate every schedule scales")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--hidden-sizes", type=int, nargs="*", default=[100])
    p.add_argument("--l2", type=float, default=1e-4)
    p.add_argument("--step-size", type=int, help="epochs between the step schedule's drops (default: epochs // 3)")
    p.add_argument("--gamma", type=float, default=0.3, help="the step schedule's factor at each drop")
    p.add_argument("--final-fraction", type=float, default=0.1,
                   help="exponential and 1/t decay: the fraction of lr0 reached at the end")
    p.add_argument("--warmup-epochs", type=float, default=1.0, help="length of the linear warm-up")
    args = p.parse_args(argv)
    compare_schedules(load_data(vars(args)), args.out, schedules=args.schedules, method=args.method, lr0=args.lr0,
                      epochs=args.epochs, batch_size=args.batch_size, hidden_sizes=args.hidden_sizes, l2=args.l2,
                      seed=args.seed, step_size=args.step_size, gamma=args.gamma,
                      final_fraction=args.final_fraction, warmup_epochs=args.warmup_epochs)
    print(f"results in {args.out}")
