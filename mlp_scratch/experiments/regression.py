"""Experiment 13: regression against scikit-learn's MLPRegressor.

The package's MLPRegressor (``MLP(loss="mse")`` through the same compiled loop) and scikit-learn's, at
equal settings: the same split of the data (features and targets standardized on the training
split), hidden layers, ReLU, Adam at the same learning rate, batch size, L2 strength (converted: see
``equal_l2``) and number of epochs (no early stop), for several seeds, each seed a new split and
initialization. Test R^2 per seed, its mean and spread, and fit time, timed one after the other in
this process. The figure shows one seed's test predictions against the targets, and both training
loss curves on scikit-learn's scale."""
import time
import warnings

import numpy as np

from mlp_scratch import datasets
from mlp_scratch.estimator import MLPRegressor
from mlp_scratch.experiments.common import (Output, command, format_table, mean_and_spread, parser, plt)
from mlp_scratch.validation import check_positive_int

SIDES = ("mlp-scratch", "scikit-learn")
TRIALS = ["side", "seed", "test_r2", "train_r2", "epochs", "seconds"]
SUMMARY = ["side", "test_r2", "test_r2_std", "seconds", "seconds_std", "speed-up"]


def equal_l2(alpha, batch_size):
    """The l2 of ours that matches scikit-learn's ``alpha``: its objective, half the mean squared error
    plus alpha / (2 * batch) * sum(W**2) per batch, is half of ours, the mean squared error plus
    0.5 * l2 * sum(W**2), when l2 = 2 * alpha / batch."""
    return 2 * alpha / batch_size


def regressors(hidden, lr, alpha, batch_size, epochs, seed):
    """The two estimators at equal settings: {side: estimator}."""
    from sklearn.neural_network import MLPRegressor as SklearnRegressor

    common = dict(hidden_layer_sizes=tuple(hidden), batch_size=batch_size, max_iter=epochs, tol=0.0,
                  n_iter_no_change=epochs, random_state=seed)  # every epoch runs: no early stop on either side
    return {"mlp-scratch": MLPRegressor(lr=lr, l2=equal_l2(alpha, batch_size), dtype="float64", **common),
            "scikit-learn": SklearnRegressor(learning_rate_init=lr, alpha=alpha, **common)}


def compare_regressors(out, *, dataset="diabetes", hidden=(100,), lr=1e-3, alpha=1e-4, batch_size=200, epochs=200,
                       seeds=range(5), log=print):
    """Both regressors on ``dataset`` (a regression set of mlp_scratch.datasets) for each seed.
    Writes trials.csv, summary.csv (and .json) and regression.png into ``out``; returns the summary."""
    if dataset not in datasets.REGRESSION_SETS:
        raise ValueError(f"dataset must be one of the regression sets {datasets.REGRESSION_SETS}, got {dataset!r}")
    check_positive_int("epochs", epochs)
    seeds = list(seeds)
    output = Output(out)
    trials, shown = [], {}
    # A first, unrecorded round: the first fit of a process loads the compiled kernels.
    for recorded, seed in [(False, seeds[0])] + [(True, seed) for seed in seeds]:
        data = datasets.load(dataset, seed=seed, dtype="float64")
        X = np.concatenate([data.X_train, data.X_val])  # no early stopping: validation rows train too
        y = np.concatenate([data.y_train, data.y_val])
        for side, estimator in regressors(hidden, lr, alpha, batch_size, epochs, seed).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # neither stops early, so both would warn of max_iter
                estimator.fit(X, y)
            seconds = time.perf_counter() - start
            if not recorded:
                continue
            trials.append({"side": side, "seed": seed, "test_r2": estimator.score(data.X_test, data.y_test),
                           "train_r2": estimator.score(X, y), "epochs": estimator.n_iter_, "seconds": seconds})
            if seed == seeds[0]:
                shown[side] = (estimator.predict(data.X_test), data.y_test, estimator.loss_curve_)
    summary = []
    for side in SIDES:
        rows = [t for t in trials if t["side"] == side]
        r2, r2_std = mean_and_spread([t["test_r2"] for t in rows])
        seconds, seconds_std = mean_and_spread([t["seconds"] for t in rows])
        summary.append({"side": side, "test_r2": r2, "test_r2_std": r2_std, "seconds": seconds,
                        "seconds_std": seconds_std})
    for row in summary:
        row["speed-up"] = summary[1]["seconds"] / row["seconds"]
    figure(output, shown, dataset, seeds[0])
    output.table("trials", trials, TRIALS)
    output.table("summary", summary, SUMMARY)
    log(format_table(summary, SUMMARY, title=f"{dataset}: test R^2 over {len(seeds)} seeds, {epochs} epochs"))
    return summary


def figure(output, shown, dataset, seed):
    fig, (scatter, curves) = plt.subplots(1, 2, figsize=(12, 4.8))
    for (side, (predictions, targets, losses)), marker in zip(shown.items(), "os"):
        scatter.scatter(targets, predictions, s=12, marker=marker, alpha=0.6, label=side)
        # ours is the mean squared error, scikit-learn's half of it (plus each side's L2 term)
        scale = 0.5 if side == "mlp-scratch" else 1.0
        curves.plot(np.arange(1, len(losses) + 1), scale * np.asarray(losses), label=side)
    low, high = scatter.get_xlim()
    scatter.plot([low, high], [low, high], color="black", lw=0.8, label="exact")
    scatter.set(xlabel="target (standardized)", ylabel="prediction", title=f"{dataset}: test set, seed {seed}")
    curves.set(xlabel="epoch", ylabel="training loss, half the mean squared error", yscale="log",
               title="Training loss (scikit-learn's scale)")
    for ax in (scatter, curves):
        ax.grid(alpha=0.3)
        ax.legend()
    output.figure(fig, "regression")


@command
def main(argv=None):
    p = parser("Regression: mlp-scratch's MLPRegressor against scikit-learn's at equal settings (test R^2 and "
               "fit time over several seeds).", "experiments/regression", seed=False)
    p.add_argument("--dataset", default="diabetes", choices=datasets.REGRESSION_SETS)
    p.add_argument("--hidden", type=int, nargs="+", default=[100], help="hidden layer widths")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate")
    p.add_argument("--alpha", type=float, default=1e-4, help="scikit-learn's L2 strength (ours converted)")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seeds", type=int, default=5, help="seeds 0 .. SEEDS-1: splits and initializations")
    args = p.parse_args(argv)
    compare_regressors(args.out, dataset=args.dataset, hidden=args.hidden, lr=args.lr, alpha=args.alpha,
                       batch_size=args.batch_size, epochs=args.epochs,
                       seeds=range(check_positive_int("--seeds", args.seeds)))
    print(f"results in {args.out}")
