"""Many epochs on real data: MNIST, 784-256-256-10 without batch norm, mlp-scratch beside
scikit-learn's MLPClassifier, epoch by epoch in turn.

The random-data rounds of the other configs last two epochs. Real runs last tens, and their weights
and optimizer state drift: weights of pixels that are always 0 decay towards zero, and subnormal
floats take a slow path in these processors. This side reports the first, median and last epoch of
each, so that a slowdown over a run shows."""
import os
import pathlib
import time

import numpy as np

from .configs import PAUSE, Skip

SIZES = (256, 256)
BATCH = 128
L2 = 1e-4  # mlp-scratch's 0.5 * l2 * sum(W**2); scikit-learn's alpha, its default, scales by the batch
# Each optimizer as (mlp-scratch's name and options, scikit-learn's solver options)
OPTIMIZERS = {
    "adam": (("adam", {"lr": 1e-3}), {"solver": "adam", "learning_rate_init": 1e-3}),
    "sgd-momentum": (("sgd", {"lr": 0.05, "momentum": 0.9}),
                     {"solver": "sgd", "learning_rate_init": 0.05, "momentum": 0.9, "nesterovs_momentum": False}),
}


def load_mnist(data_dir=None):
    """MNIST's training split (54,000 images) scaled to [0, 1], float32, from ``data_dir``,
    MLP_SCRATCH_DATA, the shared copy beside a source checkout (../shared/data), or OpenML."""
    from mlp_scratch import datasets
    shared = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"
    if data_dir is None and not os.environ.get("MLP_SCRATCH_DATA") and (shared / "mnist").is_dir():
        data_dir = shared
    try:
        data = datasets.load("mnist", preprocessing="scale", data_dir=data_dir)
    except (OSError, ValueError) as error:
        raise Skip(f"MNIST is not available ({error})") from None
    return data.X_train, data.y_train


class Ours:
    name = "mlp-scratch"

    def __init__(self, X, y, optimizer):
        from mlp_scratch import MLP, Trainer
        from mlp_scratch.optim import make_optimizer
        name, options = OPTIMIZERS[optimizer][0]
        model = MLP(X.shape[1], list(SIZES), 10, l2=L2, seed=0)
        self.runner = Trainer(model, make_optimizer(name, **options), batch_size=BATCH, seed=0,
                              log=None).epoch_runner(X, y)

    def run_epoch(self, epoch):
        self.runner.run(epoch)


class Sklearn:
    name = "sklearn"

    def __init__(self, X, y, optimizer):
        from sklearn.neural_network import MLPClassifier
        self.model = MLPClassifier(hidden_layer_sizes=SIZES, batch_size=BATCH, alpha=L2, random_state=0,
                                   **OPTIMIZERS[optimizer][1])
        self.X, self.y, self.classes = X, y, np.arange(10)

    def run_epoch(self, epoch):
        self.model.partial_fit(self.X, self.y, classes=self.classes)


def measure_real_data(epochs, optimizers, sides=("mlp-scratch", "sklearn"), data_dir=None, pause=PAUSE, log=print):
    """For each optimizer, ``epochs`` epochs of each side in turn. Returns {optimizer: {side: result}}."""
    X, y = load_mnist(data_dir)
    kinds = [kind for kind in (Ours, Sklearn) if kind.name in sides]
    report = {}
    for optimizer in optimizers:
        log(f"MNIST, {'-'.join(map(str, (784, *SIZES, 10)))}, batch {BATCH}, {optimizer}, {epochs} epochs of "
            f"{len(X)} samples")
        runs = [kind(X, y, optimizer) for kind in kinds]
        seconds = {run.name: [] for run in runs}
        for epoch in range(1, epochs + 1):
            for run in runs:
                time.sleep(pause)
                start = time.perf_counter()
                run.run_epoch(epoch)
                seconds[run.name].append(time.perf_counter() - start)
        report[optimizer] = {name: summary(times, len(X)) for name, times in seconds.items()}
        if "mlp-scratch" in report[optimizer] and "sklearn" in report[optimizer]:
            ours, theirs = report[optimizer]["mlp-scratch"], report[optimizer]["sklearn"]
            ours["ours_over_sklearn"] = theirs["median"] / ours["median"]
        log(real_data_table(report[optimizer]))
    return report


def summary(seconds, samples):
    """First, median and last epoch (the first includes any compiling); late/early, the median of
    the last 5 epochs over that of epochs 2-6 (one noisy epoch moves neither); samples/s at the
    median epoch."""
    early, late = seconds[1:6] or seconds, seconds[-5:]
    return {"epochs": seconds, "first": seconds[0], "median": float(np.median(seconds)), "last": seconds[-1],
            "late_over_early": float(np.median(late) / np.median(early)),
            "samples_per_s": samples / float(np.median(seconds))}


def real_data_table(results):
    header = (f"  {'side':<12} {'first s':>8} {'median s':>9} {'last s':>7} {'late/early':>11} {'samples/s':>10} "
              f"{'ours/side':>10}")
    lines = [header, "  " + "-" * (len(header) - 2)]
    for name, r in results.items():
        ratio = results.get("mlp-scratch", {}).get("ours_over_sklearn") if name == "sklearn" else None
        shown = "-" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"  {name:<12} {r['first']:8.2f} {r['median']:9.2f} {r['last']:7.2f} "
                     f"{r['late_over_early']:11.2f} {r['samples_per_s'] / 1e3:9.1f}k {shown:>10}")
    return "\n".join(lines)
