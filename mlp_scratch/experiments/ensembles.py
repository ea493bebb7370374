"""Experiment 8: model ensembles, three ways to average.

- Seed ensemble: N models trained from different seeds (the same data and settings); the ensemble
  predicts the mean of their predicted class probabilities.
- Snapshot ensemble (Huang et al. 2017): ONE run with a cosine learning rate restarted every cycle
  (``CosineWarmRestarts``); the parameters at the end of each cycle, where the learning rate is near 0,
  are the members, and their probabilities are averaged as above.
- Parameter averaging (Polyak averaging): one model whose parameters are the average of a run's
  parameters. The compiled training loop returns to Python only at epoch ends, so this averages
  END-OF-EPOCH SNAPSHOTS (in the manner of stochastic weight averaging, Izmailov et al. 2018), not
  every step's iterate: a plain mean ("swa") and an exponential moving average ("ema"). Batch-norm
  running statistics are averaged the same way, an approximation (SWA recomputes them instead).

Every model here is the one at the end of its run (the Trainer's ``restore_best`` is off, so the
trajectory being averaged is the one actually trained)."""

import numpy as np

from mlp_scratch.experiments.common import (FIRST_ORDER, Output, add_data_arguments, batches_per_epoch,
                                            check_method, command, format_table, load_data, mean_and_spread, parser,
                                            plt, train)
from mlp_scratch.model import MLP
from mlp_scratch.schedules import CosineWarmRestarts
from mlp_scratch.validation import check_number, check_positive_int

SUMMARY = ["kind", "members", "member_acc", "member_acc_std", "ensemble_acc", "swa_acc", "ema_acc",
           "epochs_trained", "seconds"]


class ParameterAverages:
    """An ``on_epoch_end`` hook: at the end of every ``every``-th epoch from ``start`` on, takes a
    snapshot of (flat_params, running) and folds it into a running mean and an exponential moving
    average, both in float64:

        mean_k = mean_{k-1} + (p_k - mean_{k-1}) / k
        ema_1 = p_1,   ema_k = decay * ema_{k-1} + (1 - decay) * p_k

    ``keep`` also stores each snapshot (a snapshot ensemble needs them; the averages need only O(1)
    memory)."""

    def __init__(self, every=1, start=1, decay=0.7, keep=False):
        self.every = check_positive_int("every", every)
        self.start = check_positive_int("start", start)
        self.decay = check_number("decay", decay, low=0, high=1, high_open=True)
        self.keep = keep
        self.epoch, self.count = 0, 0
        self.snapshots, self.epochs = [], []
        self.mean = self.ema = None

    def __call__(self, trainer):
        self.epoch += 1
        if self.epoch >= self.start and (self.epoch - self.start + 1) % self.every == 0:
            self.add(trainer.model.flat_params, trainer.model.running)

    def add(self, params, running):
        p = np.concatenate([params, running]).astype(np.float64)
        self.count += 1
        self.epochs.append(self.epoch)
        if self.keep:
            self.snapshots.append((params.copy(), running.copy()))
        if self.count == 1:
            self.mean, self.ema = p.copy(), p.copy()
        else:
            self.mean += (p - self.mean) / self.count
            self.ema = self.decay * self.ema + (1 - self.decay) * p

    def model(self, template, which):
        """A copy of ``template`` with the "mean" or "ema" parameters (and running statistics)."""
        if self.count == 0:
            raise ValueError("no snapshot was taken: the run ended before the first averaged epoch")
        flat = {"mean": self.mean, "ema": self.ema}[which]
        return with_parameters(template, flat[:template.flat_params.size], flat[template.flat_params.size:])


def with_parameters(template, params, running):
    """A new MLP of ``template``'s architecture holding ``params`` and ``running``."""
    model = MLP(**template.config())
    model.flat_params[:] = params
    model.running[:] = running
    return model


def average_proba(probas):
    """The mean of members' predicted probabilities (each (N, C)), accumulated in float64."""
    return np.mean(np.stack(probas), axis=0, dtype=np.float64)


def ensemble_proba(models, X):
    """The ensemble's predicted probabilities: the mean of the members' ``predict_proba(X)``."""
    return average_proba([m.predict_proba(X) for m in models])


def accuracy(proba, y):
    return float(np.mean(np.argmax(proba, axis=1) == y))


def model_ensembles(data, out, *, members=5, epochs=20, cycles=5, cycle_epochs=4, method="momentum", lr=0.05,
                    snapshot_lr=0.1, hidden_sizes=(100,), batch_size=64, l2=1e-4, batchnorm=False,
                    average_from=None, ema_decay=0.7, seed=0, log=print):
    """Seed ensemble of ``members`` runs of ``epochs`` epochs (constant ``lr``); snapshot ensemble of one
    run of ``cycles`` cosine cycles of ``cycle_epochs`` epochs each (peak ``snapshot_lr``; a higher
    peak than ``lr`` makes the snapshots differ more, which the ensemble needs); parameter averages of
    each run's end-of-epoch parameters (seed runs: from epoch ``average_from``, default the second
    half; snapshot run: the cycle ends), EMA decay ``ema_decay`` per snapshot. Writes members.csv,
    summary.csv, ensemble_size.csv and the figures ensemble_size.png and cyclic_lr.png into ``out``;
    returns the summary rows."""
    check_method(method, first_order=True)
    members = check_positive_int("members", members)
    epochs = check_positive_int("epochs", epochs)
    cycles = check_positive_int("cycles", cycles)
    cycle_epochs = check_positive_int("cycle_epochs", cycle_epochs)
    average_from = epochs // 2 + 1 if average_from is None else average_from
    if not 1 <= average_from <= epochs:
        raise ValueError(f"average_from must be an epoch in [1, {epochs}], got {average_from}")
    output = Output(out)
    settings = dict(method=method, hidden_sizes=hidden_sizes, batch_size=batch_size, l2=l2, batchnorm=batchnorm,
                    restore_best=False)
    X_test, y_test = data.X_test, data.y_test

    seed_runs = []
    for k in range(members):
        averages = ParameterAverages(start=average_from, decay=ema_decay)
        model, history, seconds = train(data, seed=seed + k, epochs=epochs, lr=lr, on_epoch_end=averages, **settings)
        seed_runs.append((model, history, seconds, averages))
        log(f"seed {seed + k}: test acc {model.score(X_test, y_test):.4f}  {seconds:.1f}s")

    steps = batches_per_epoch(data, batch_size, batchnorm)
    snapshots = ParameterAverages(every=cycle_epochs, decay=ema_decay, keep=True)
    schedule = CosineWarmRestarts(cycle_epochs * steps)
    final, cyclic_history, cyclic_seconds = train(data, seed=seed, epochs=cycles * cycle_epochs, lr=snapshot_lr,
                                                  schedule=schedule, on_epoch_end=snapshots, **settings)
    snapshot_models = [with_parameters(final, *s) for s in snapshots.snapshots]
    log(f"snapshot run: {cycles} cycles, final test acc {final.score(X_test, y_test):.4f}  {cyclic_seconds:.1f}s")

    kinds = {
        "seeds": dict(models=[r[0] for r in seed_runs], names=[f"seed {seed + k}" for k in range(members)],
                      averaged=[r[3] for r in seed_runs], epochs_trained=members * epochs,
                      seconds=sum(r[2] for r in seed_runs)),
        "snapshots": dict(models=snapshot_models, names=[f"epoch {e}" for e in snapshots.epochs],
                          averaged=[snapshots], epochs_trained=cycles * cycle_epochs, seconds=cyclic_seconds),
    }
    member_rows, size_rows, summary = [], [], []
    for kind, spec in kinds.items():
        members_of_kind, sizes, row = _evaluate_kind(kind, spec, final, X_test, y_test)
        member_rows += members_of_kind
        size_rows += sizes
        summary.append(row)
    output.table("members", member_rows)
    output.table("ensemble_size", size_rows)
    output.table("summary", summary, SUMMARY)
    title = f"{data.meta['name']}: {len(data.y_train)} training samples, hidden layers {list(hidden_sizes)}, {method}"
    _plot_ensemble_size(output, size_rows, summary, title)
    _plot_cyclic_run(output, cyclic_history, seed_runs[0][1], snapshots.epochs, steps, title)
    log(format_table(summary, SUMMARY, title="test accuracy (seeds: swa/ema are the mean over the runs' own averages)"))
    return summary


def _evaluate_kind(kind, spec, template, X, y):
    """One kind's rows: each member's accuracy, the ensemble of the first k members for each k, and
    the summary (members' mean, whole ensemble, averaged parameters)."""
    probas = [m.predict_proba(X) for m in spec["models"]]
    accs = [accuracy(p, y) for p in probas]
    members = [{"kind": kind, "member": name, "test_acc": a} for name, a in zip(spec["names"], accs)]
    sizes = [{"kind": kind, "members_averaged": k, "ensemble_acc": accuracy(average_proba(probas[:k]), y),
              "member_acc": accs[k - 1]} for k in range(1, len(probas) + 1)]
    mean, std = mean_and_spread(accs)
    summary = {"kind": kind, "members": len(probas), "member_acc": mean, "member_acc_std": std,
               "ensemble_acc": sizes[-1]["ensemble_acc"],
               "swa_acc": _averaged_accuracy(spec["averaged"], template, "mean", X, y),
               "ema_acc": _averaged_accuracy(spec["averaged"], template, "ema", X, y),
               "epochs_trained": spec["epochs_trained"], "seconds": spec["seconds"]}
    return members, sizes, summary


def _averaged_accuracy(averages, template, which, X, y):
    """The mean test accuracy of the averaged-parameter models of one or more runs."""
    return float(np.mean([a.model(template, which).score(X, y) for a in averages]))


def _plot_ensemble_size(output, size_rows, summary, title):
    fig, ax = plt.subplots(figsize=(11, 5))
    for (kind, color), row in zip((("seeds", "tab:blue"), ("snapshots", "tab:orange")), summary):
        rows = [r for r in size_rows if r["kind"] == kind]
        k = [r["members_averaged"] for r in rows]
        ax.plot(k, [r["ensemble_acc"] for r in rows], "-o", color=color, label=f"{kind}: ensemble of the first k")
        ax.plot(k, [r["member_acc"] for r in rows], "x", color=color, ms=8, ls="none",
                label=f"{kind}: member k alone")
        ax.axhline(row["swa_acc"], color=color, ls="--", lw=1,
                   label=f"{kind}: averaged parameters (swa{', mean over runs' if kind == 'seeds' else ''})")
    ax.set(xlabel="members averaged, k", ylabel="test accuracy (fraction correct)",
           title=f"Ensembles: accuracy vs number of members\n{title}")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    output.figure(fig, "ensemble_size")


def _plot_cyclic_run(output, cyclic, constant, snapshot_epochs, steps, title):
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    x = np.arange(1, len(cyclic.iteration_lr) + 1) / steps
    top.plot(x, cyclic.iteration_lr, color="tab:orange", label="cyclic cosine (snapshot run)")
    top.plot(np.arange(1, len(constant.iteration_lr) + 1) / steps, constant.iteration_lr, color="tab:blue",
             label="constant (seed runs)")
    snapshot_lr = [cyclic.iteration_lr[e * steps - 1] for e in snapshot_epochs]
    top.plot(snapshot_epochs, snapshot_lr, "v", color="black", ms=8, label="snapshots (cycle ends)")
    top.set(ylabel="learning rate", ylim=(0, 1.3 * max(max(cyclic.iteration_lr), max(constant.iteration_lr))),
            title=f"Snapshot run: learning rate and validation accuracy\n{title}")
    top.grid(alpha=0.3)
    top.legend(fontsize=8, ncol=3, loc="upper center")
    for history, color, label in ((cyclic, "tab:orange", "snapshot run"), (constant, "tab:blue", "seed run (first)")):
        bottom.plot([e["epoch"] for e in history.epochs], [e["val_acc"] for e in history.epochs], "-", color=color,
                    label=label)
    val = {e["epoch"]: e["val_acc"] for e in cyclic.epochs}
    bottom.plot(snapshot_epochs, [val[e] for e in snapshot_epochs], "v", color="black", ms=8, label="snapshots")
    bottom.set(xlabel="epoch", ylabel="validation accuracy (fraction correct)")
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize=8)
    output.figure(fig, "cyclic_lr")


@command
def main(argv=None):
    p = parser("Model ensembles: seed ensembles, snapshot ensembles (cosine with warm restarts) and averaged "
               "parameters (end-of-epoch snapshots, SWA/EMA).", "experiments/ensembles")
    add_data_arguments(p)
    p.add_argument("--members", type=int, default=5, help="seed-ensemble runs, seeds --seed, --seed + 1, ...")
    p.add_argument("--epochs", type=int, default=20, help="epochs of each seed run")
    p.add_argument("--cycles", type=int, default=5, help="cosine cycles (snapshots) of the snapshot run")
    p.add_argument("--cycle-epochs", type=int, default=4, help="epochs per cycle")
    p.add_argument("--method", default="momentum", choices=FIRST_ORDER)
    p.add_argument("--lr", type=float, default=0.05, help="learning rate of the seed runs")
    p.add_argument("--snapshot-lr", type=float, default=0.1, help="peak learning rate of each cosine cycle")
    p.add_argument("--hidden-sizes", type=int, nargs="*", default=[100])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--l2", type=float, default=1e-4)
    p.add_argument("--batchnorm", action="store_true")
    p.add_argument("--average-from", type=int, help="first epoch of a seed run's averages (default: second half)")
    p.add_argument("--ema-decay", type=float, default=0.7, help="EMA decay per averaged snapshot")
    args = p.parse_args(argv)
    model_ensembles(load_data(vars(args)), args.out, members=args.members, epochs=args.epochs, cycles=args.cycles,
                    cycle_epochs=args.cycle_epochs, method=args.method, lr=args.lr, snapshot_lr=args.snapshot_lr,
                    hidden_sizes=args.hidden_sizes, batch_size=args.batch_size, l2=args.l2, batchnorm=args.batchnorm,
                    average_from=args.average_from, ema_decay=args.ema_decay, seed=args.seed)
    print(f"results in {args.out}")
