"""Experiment 9: transfer learning, the lecture's two-by-two table (little / a lot of target data x
similar / different target task) measured.

An MLP is pretrained on a source task (default: MNIST digits 0-4). On each target task and for each
target training-set size, five strategies then train with the same optimizer, learning rate and
number of optimizer steps:

  last_layer  a new last layer (the target's classes, starting at zero: see ``transfer_model``) on
              top of the pretrained hidden layers, which stay frozen: the pretrained network as a
              fixed feature extractor, i.e. a linear probe of the last hidden layer;
  probe_first a linear probe of an earlier stage: a softmax classifier on the frozen activations of
              the first hidden layer (``LinearProbe``; any layer from Python), the lecture's choice
              for very little, very different data;
  top_layers  the first hidden layer frozen, every later layer (and the new last layer) trained;
  all_layers  every layer trained, starting from the pretrained weights (fine-tuning);
  scratch     the same architecture from a fresh initialization: the baseline.

Tasks are written DATASET[:CLASSES]: "mnist:5-9" is MNIST's digits 5 to 9, relabelled 0-4 in that
order; "cifar10_gray" is CIFAR-10 in grayscale (luminance 0.299 R + 0.587 G + 0.114 B) center-cropped
from 32 x 32 to 28 x 28, so that it has MNIST's 784 inputs. Defaults: the "similar" target is
mnist:5-9 (same pen strokes, new classes), the "different" one all ten classes of cifar10_gray.

Preprocessing: each task is standardized with its own training split's per-pixel mean and standard
deviation (the source's for pretraining, each target training subset's for its runs; validation and
test reuse them). The pretrained first layer therefore sees zero-mean, unit-variance inputs on every
task, but not the same pixels: a target's per-pixel statistics are estimated from its own (possibly
50) training samples, never from the source's.

Freezing uses the optimizer's frozen mask (``Optimizer.set_masks(frozen=...)``): frozen parameters
and their optimizer state never move. Batch norm (off by default) is not frozen by that mask: in
training mode a frozen layer still normalizes with the batch's statistics and updates its running
mean and variance from the target data, as torch does unless the layer is put in eval mode. Only
gamma and beta stay fixed.

Validation: train and validation samples are drawn (stratified, per seed) from the target's training
pool; the validation set has the same size for every strategy and training-set size, and each run
keeps the parameters of its epoch with the best validation accuracy (``Trainer(restore_best=True)``).
With 50 training samples, 500 validation samples pick that epoch: generous, for every strategy alike.
Training subsets of one seed are nested (the 50 samples are among the 500, up to class rounding)."""
import math
import re

import numpy as np

from mlp_scratch import datasets
from mlp_scratch.datasets.sources import load_image_set
from mlp_scratch.experiments.common import (FULL_BATCH, METHODS, Output, batches_per_epoch, command, format_table,
                                            make_method, mean_and_spread, parser, plt, train)
from mlp_scratch.model import MLP

STRATEGIES = {
    "last_layer": "new last layer only (hidden layers frozen)",
    "probe_first": "linear probe of the first hidden layer",
    "top_layers": "top layers (first hidden layer frozen)",
    "all_layers": "fine-tune all layers",
    "scratch": "from scratch (baseline)",
}
GRAY = "cifar10_gray"
TASK_SETS = sorted(datasets.NAMES) + [GRAY]
LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 weights of R, G, B
GRAY_SIDE = 28  # MNIST's side: the crop gives CIFAR-10 MNIST's 784 inputs
DEFAULT_TARGETS = {"similar": "mnist:5-9", "different": GRAY}
SUMMARY = ["target", "task", "n_train", "strategy", "test_acc", "test_acc_std", "train_acc", "seconds"]


# -- tasks -------------------------------------------------------------------------------------------
def parse_task(spec):
    """'mnist:5-9' -> ('mnist', [5, 6, 7, 8, 9]); 'digits:0,2,4-5' -> ('digits', [0, 2, 4, 5]);
    a bare name -> (name, None), meaning all classes."""
    name, _, classes = str(spec).partition(":")
    if name not in TASK_SETS:
        raise ValueError(f"task must be DATASET[:CLASSES] with DATASET one of {TASK_SETS}, got {spec!r}")
    if not classes:
        return name, None
    labels = []
    for part in classes.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if match is None:
            raise ValueError(f"task {spec!r}: classes must look like 0-4 or 1,3,5, got {classes!r}")
        low, high = int(match[1]), int(match[2] or match[1])
        labels += range(low, high + 1)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"task {spec!r}: needs at least two distinct classes, got {labels}")
    return name, labels


def cifar_to_gray(X):
    """CIFAR-10 rows (N, 3072: R, G, B planes of 32 x 32) -> (N, 784) float32 grayscale, the
    luminance of the central 28 x 28 pixels, in [0, 255]."""
    margin = (32 - GRAY_SIDE) // 2
    planes = np.asarray(X).reshape(len(X), 3, 32, 32)[:, :, margin:margin + GRAY_SIDE, margin:margin + GRAY_SIDE]
    gray = np.tensordot(planes.astype(np.float32), LUMINANCE, axes=([1], [0]))
    return gray.reshape(len(X), GRAY_SIDE * GRAY_SIDE)


def load_pool(name, data_dir=None, data_seed=0):
    """(X, y, X_test, y_test, meta) of a named set, unpreprocessed: X, y is the pool training and
    validation samples are drawn from (an image set's official training set), X_test its test split
    (scikit-learn sets: split off by ``datasets.load`` with ``data_seed``)."""
    base = "cifar10" if name == GRAY else name
    if base in datasets.IMAGE_SETS:
        X, y, X_test, y_test, meta = load_image_set(base, data_dir)
    else:
        data = datasets.load(base, preprocessing="none", seed=data_seed, dtype="float64")
        X, y = np.concatenate([data.X_train, data.X_val]), np.concatenate([data.y_train, data.y_val])
        X_test, y_test, meta = data.X_test, data.y_test, data.meta
    if name == GRAY:
        X, X_test = cifar_to_gray(X), cifar_to_gray(X_test)
        meta = {**meta, "name": GRAY, "image_shape": [1, GRAY_SIDE, GRAY_SIDE],
                "conversion": f"luminance {LUMINANCE.tolist()} of R, G, B; center crop 32x32 -> "
                              f"{GRAY_SIDE}x{GRAY_SIDE}"}
    return X, y, X_test, y_test, meta


def _select(X, y, classes):
    """The rows of ``classes``, relabelled 0..k-1 in the order listed."""
    keep = np.isin(y, classes)
    relabel = np.full(max(int(y.max()), max(classes)) + 1, -1, np.int64)
    relabel[classes] = np.arange(len(classes))
    return X[keep], relabel[y[keep]]


def task_data(spec, *, n_train=None, n_val=500, n_test=None, seed=0, data_seed=0, preprocessing="standardize",
              data_dir=None, pools=None):
    """A task's Dataset. Training and validation samples are drawn from the pool, stratified by
    class, with ``seed`` (all but validation if n_train is None); the test set is the task's whole
    test split, or n_test samples of it drawn with ``data_seed``. ``preprocessing`` is fitted on the
    training split only. ``pools`` (a dict) caches raw sets between calls."""
    name, classes = parse_task(spec)
    pools = {} if pools is None else pools
    key = (name, str(data_dir), data_seed)
    if key not in pools:
        pools[key] = load_pool(name, data_dir, data_seed)
    X, y, X_test, y_test, meta = pools[key]
    names = meta["class_names"]
    classes = list(range(len(names))) if classes is None else classes
    if max(classes) >= len(names):
        raise ValueError(f"task {spec!r}: {name} has classes 0-{len(names) - 1}, got {classes}")
    (X, y), (X_test, y_test) = _select(X, y, classes), _select(X_test, y_test, classes)
    k = len(classes)
    rng = np.random.default_rng(seed)
    if n_train is None:
        (val,) = datasets.stratified_indices(y, [n_val], k, rng, names=["n_val"])
        train_rows = np.setdiff1d(np.arange(len(y)), val)
    else:
        val, train_rows = datasets.stratified_indices(y, [n_val, n_train], k, rng, names=["n_val", "n_train"])
    if n_test is not None:
        (test,) = datasets.stratified_indices(y_test, [n_test], k, np.random.default_rng(data_seed), names=["n_test"])
        X_test, y_test = X_test[test], y_test[test]
    prep = datasets.Preprocessing.fit(preprocessing, X[train_rows], images="image_shape" in meta)
    meta = {**meta, "name": str(spec), "class_names": [names[c] for c in classes], "classes": classes,
            "preprocessing": prep.state(), "seed": seed,
            "sizes": {"train": len(train_rows), "val": len(val), "test": len(y_test)}}
    return datasets.Dataset(prep.transform(X[train_rows]), y[train_rows], prep.transform(X[val]), y[val],
                            prep.transform(X_test), np.ascontiguousarray(y_test, np.int64), meta)


# -- models and strategies ---------------------------------------------------------------------------
def layer_of(name):
    """The 1-based layer a parameter or running statistic belongs to: 'W2' -> 2, 'running_var1' -> 1."""
    return int(re.search(r"\d+$", name).group())


def frozen_layers(strategy, n_hidden):
    """The layers (1-based) a strategy keeps fixed, for a model with ``n_hidden`` hidden layers."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    return {"last_layer": list(range(1, n_hidden + 1)), "top_layers": [1]}.get(strategy, [])


def transfer_model(pretrained, num_classes, seed=0):
    """A fresh MLP with ``num_classes`` outputs whose hidden layers (W, b, gamma, beta and batch-norm
    running statistics) are copies of ``pretrained``'s, and whose new last layer starts at zero.

    Why zero (as with torch's ``nn.init.zeros_`` on a new head): the first steps then fit the head to
    the features instead of undoing a random one, which Adam, moving each weight by about lr per
    step, is slow to do. Measured on digits 0-4 -> 4,3,2,1,0 with 30 target samples and frozen
    hidden layers (64, 32), 150 Adam steps at lr 1e-3 reached 93% test accuracy from a zero head
    and 68% from a He-initialized one (means over 6 seeds). ``seed`` is the model's (recorded) seed."""
    model = MLP(**{**pretrained.config(), "num_classes": num_classes, "seed": seed})
    last = len(pretrained.hidden_sizes) + 1
    for name, view in model.params.items():
        view[...] = pretrained.params[name] if layer_of(name) < last else 0
    model.running[:] = pretrained.running  # batch norm sits only in hidden layers
    return model


def steps_to_epochs(steps, data, batch_size, method, batchnorm):
    """Epochs that give at least ``steps`` optimizer steps (L-BFGS: one iteration per epoch)."""
    if method in FULL_BATCH:
        return steps
    return max(1, math.ceil(steps / batches_per_epoch(data, batch_size, batchnorm)))


def pretrain(data, *, hidden_sizes=(256, 128), epochs=5, method="adam", lr=None, batch_size=64, l2=1e-4,
             batchnorm=False, seed=0):
    """The source model: (model, history, seconds)."""
    return train(data, method=method, lr=lr, hidden_sizes=hidden_sizes, epochs=epochs, batch_size=batch_size,
                 l2=l2, batchnorm=batchnorm, seed=seed)


class LinearProbe:
    """A softmax classifier (``linear``, an MLP without hidden layers) on the frozen activations of
    hidden layer ``layer`` (from 1) of ``pretrained``, in evaluation mode."""

    def __init__(self, pretrained, layer, linear):
        if not 1 <= layer <= len(pretrained.hidden_sizes):
            raise ValueError(f"layer must be a hidden layer in [1, {len(pretrained.hidden_sizes)}], got {layer!r}")
        self.pretrained, self.layer, self.linear = pretrained, layer, linear

    def features(self, X):
        return self.pretrained.hidden_activations(X)[self.layer - 1]

    def feature_data(self, data):
        """data with every split replaced by its features."""
        return datasets.Dataset(self.features(data.X_train), data.y_train, self.features(data.X_val), data.y_val,
                                self.features(data.X_test), data.y_test, {**data.meta, "probe_layer": self.layer})

    def score(self, X, y):
        return self.linear.score(self.features(X), y)


def linear_probe(pretrained, data, layer, *, method="adam", lr=None, steps=500, batch_size=64, seed=0):
    """Train a LinearProbe of ``layer`` on a target Dataset: (probe, history, seconds)."""
    probe = LinearProbe(pretrained, layer, None)
    features = probe.feature_data(data)
    probe.linear = MLP(features.n_features, [], data.n_classes, l2=pretrained.l2, dtype=pretrained.dtype.name,
                       seed=seed)
    epochs = steps_to_epochs(steps, features, batch_size, method, False)
    _, history, seconds = train(features, model=probe.linear, optimizer=make_method(method, lr), epochs=epochs,
                                batch_size=batch_size, seed=seed)
    return probe, history, seconds


def fine_tune(pretrained, data, strategy, *, method="adam", lr=None, steps=500, batch_size=64, seed=0):
    """One strategy on a target Dataset: (model, history, seconds). ``pretrained`` is left untouched;
    "scratch" uses only its architecture."""
    if strategy == "probe_first":
        return linear_probe(pretrained, data, 1, method=method, lr=lr, steps=steps, batch_size=batch_size, seed=seed)
    layers = frozen_layers(strategy, len(pretrained.hidden_sizes))
    if strategy == "scratch":
        model = MLP(**{**pretrained.config(), "num_classes": data.n_classes, "seed": seed})
    else:
        model = transfer_model(pretrained, data.n_classes, seed)
    optimizer = make_method(method, lr)
    if layers:
        optimizer.set_masks(frozen=model.layer_mask(layers))  # the Trainer adds the decay mask, keeps this
    epochs = steps_to_epochs(steps, data, batch_size, method, model.batchnorm)
    return train(data, optimizer=optimizer, model=model, epochs=epochs, batch_size=batch_size, seed=seed)


# -- the experiment ----------------------------------------------------------------------------------
def _check_options(targets, sizes, strategies, seeds, hidden_sizes, method):
    if not targets:
        raise ValueError("targets must name at least one target task, got none")
    for spec in targets.values():
        parse_task(spec)
    if not sizes or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 for n in sizes):
        raise ValueError(f"sizes must be a non-empty list of integers >= 2, got {list(sizes)!r}")
    if not seeds:
        raise ValueError("seeds must name at least one seed, got none")
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise ValueError(f"strategies must be a non-empty list of {list(STRATEGIES)}, got {list(strategies)!r}")
    if "top_layers" in strategies and len(hidden_sizes) < 2:
        raise ValueError(f"hidden_sizes must have at least 2 layers for top_layers to differ from last_layer, "
                         f"got {list(hidden_sizes)}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")


def transfer_experiment(out, *, source="mnist:0-4", targets=None, sizes=(50, 500, 5000), strategies=tuple(STRATEGIES),
                        seeds=(0, 1, 2), hidden_sizes=(256, 128), source_n_train=5000, source_n_val=1000, n_val=500,
                        n_test=None, pretrain_epochs=5, steps=500, method="adam", lr=None, batch_size=64, l2=1e-4,
                        batchnorm=False, preprocessing="standardize", data_dir=None, data_seed=0, seed=0, log=print):
    """Pretrain on ``source``; then for each target (a dict kind -> task, default DEFAULT_TARGETS),
    training-set size, seed and strategy, train on the target and measure its test accuracy. Writes
    pretrain.json, trials.csv, summary.csv (mean and std over seeds), two_by_two.csv and the figure
    transfer.png into ``out``; returns the summary rows."""
    targets = dict(DEFAULT_TARGETS if targets is None else targets)
    sizes, strategies, seeds = sorted(sizes), list(strategies), list(seeds)
    _check_options(targets, sizes, strategies, seeds, hidden_sizes, method)
    output = Output(out)
    sampling = dict(n_val=n_val, n_test=n_test, data_seed=data_seed, preprocessing=preprocessing, data_dir=data_dir,
                    pools={})  # one raw copy of each data set for all tasks and sizes
    source_data = task_data(source, **{**sampling, "n_train": source_n_train, "n_val": source_n_val, "seed": seed})
    pretrained, history, seconds = pretrain(source_data, hidden_sizes=hidden_sizes, epochs=pretrain_epochs,
                                            method=method, lr=lr, batch_size=batch_size, l2=l2, batchnorm=batchnorm,
                                            seed=seed)
    source_acc = pretrained.score(source_data.X_test, source_data.y_test)
    output.json("pretrain", {"source": source, "n_train": len(source_data.y_train), "test_acc": source_acc,
                             "seconds": seconds, "epochs": history.epochs, "config": pretrained.config()})
    log(f"pretrained on {source} ({len(source_data.y_train)} samples): test acc {source_acc:.4f}  {seconds:.1f}s")
    trials = []
    for kind, spec in targets.items():
        for n in sizes:
            for trial_seed in seeds:
                data = task_data(spec, **{**sampling, "n_train": n, "seed": trial_seed})
                if data.n_features != pretrained.input_dim:
                    raise ValueError(f"target {kind} ({spec}) has {data.n_features} features but the source "
                                     f"{source} has {pretrained.input_dim}")
                for strategy in strategies:
                    trials.append({"target": kind, "task": spec, "n_train": n, "strategy": strategy, "seed": trial_seed,
                                   **_trial(pretrained, data, strategy, method=method, lr=lr, steps=steps,
                                            batch_size=batch_size, seed=trial_seed)})
                    log(f"{kind:9s} {spec:14s} n={n:<6d} seed {trial_seed}  {strategy:10s} test acc "
                        f"{trials[-1]['test_acc']:.4f}  {trials[-1]['seconds']:.1f}s")
    output.table("trials", trials)
    summary = _summarize(trials)
    output.table("summary", summary, SUMMARY)
    grid = two_by_two(summary)
    output.table("two_by_two", grid)
    _plot(output, summary, targets, strategies, source, source_acc)
    log(format_table(summary, SUMMARY, title=f"mean over seeds {seeds}; seconds: training only (approximate: "
                                             f"shared machine)"))
    log(_format_two_by_two(grid, targets, source))
    return summary


def _trial(pretrained, data, strategy, **settings):
    """One strategy's measurements on one target data set."""
    model, _, seconds = fine_tune(pretrained, data, strategy, **settings)
    return {"test_acc": model.score(data.X_test, data.y_test), "train_acc": model.score(data.X_train, data.y_train),
            "seconds": seconds, "chance": 1 / data.n_classes}


def _summarize(trials):
    summary = []
    keys = dict.fromkeys((t["target"], t["task"], t["n_train"], t["strategy"]) for t in trials)
    for target, task, n, strategy in keys:
        rows = [t for t in trials if (t["target"], t["n_train"], t["strategy"]) == (target, n, strategy)]
        acc, acc_std = mean_and_spread([r["test_acc"] for r in rows])
        summary.append({"target": target, "task": task, "n_train": n, "strategy": strategy, "test_acc": acc,
                        "test_acc_std": acc_std, "train_acc": float(np.mean([r["train_acc"] for r in rows])),
                        "seconds": float(np.mean([r["seconds"] for r in rows])), "chance": rows[0]["chance"]})
    return summary


def two_by_two(summary):
    """The lecture's table: for the smallest ("little") and largest ("a lot") target training set
    of each target, the strategy with the best mean test accuracy (and scratch's, for reference)."""
    sizes = sorted({r["n_train"] for r in summary})
    regimes = [("little", sizes[0])] + ([("a lot", sizes[-1])] if len(sizes) > 1 else [])
    grid = []
    for regime, n in regimes:
        for target in dict.fromkeys(r["target"] for r in summary):
            rows = [r for r in summary if (r["target"], r["n_train"]) == (target, n)]
            best = max(rows, key=lambda r: r["test_acc"])
            scratch = [r["test_acc"] for r in rows if r["strategy"] == "scratch"]
            grid.append({"regime": regime, "n_train": n, "target": target, "task": best["task"],
                         "best_strategy": best["strategy"], "test_acc": best["test_acc"],
                         "scratch_test_acc": scratch[0] if scratch else np.nan})
    return grid


def _format_two_by_two(grid, targets, source):
    rows = {}
    for cell in grid:
        row = rows.setdefault(cell["regime"], {"target data": f"{cell['regime']} (n={cell['n_train']})"})
        row[cell["target"]] = f"{cell['best_strategy']} {cell['test_acc']:.3f}"
    columns = ["target data"] + [t for t in targets if any(t in r for r in rows.values())]
    return format_table(list(rows.values()), columns,
                        title=f"best strategy and its mean test accuracy, pretrained on {source} "
                              f"({', '.join(f'{k} = {v}' for k, v in targets.items())})")


def _plot(output, summary, targets, strategies, source, source_acc):
    kinds = [k for k in targets if any(r["target"] == k for r in summary)]
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.8), squeeze=False)
    colors = dict(zip(STRATEGIES, plt.cm.tab10.colors))
    for ax, kind in zip(axes[0], kinds):
        rows = [r for r in summary if r["target"] == kind]
        for strategy in strategies:
            line = sorted((r for r in rows if r["strategy"] == strategy), key=lambda r: r["n_train"])
            ax.errorbar([r["n_train"] for r in line], [r["test_acc"] for r in line],
                        yerr=[r["test_acc_std"] for r in line], marker="o", ms=4, capsize=3,
                        color=colors[strategy], label=STRATEGIES[strategy],
                        linestyle="--" if strategy == "scratch" else "-")
        ax.axhline(rows[0]["chance"], color="gray", linestyle=":", label="chance")
        sizes = sorted({r["n_train"] for r in rows})
        ax.set(xscale="log", xlabel="target training samples (log scale)", ylabel="test accuracy (fraction correct)",
               title=f"{kind} target: {targets[kind]}", xticks=sizes, xticklabels=[str(n) for n in sizes])
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"Transfer from {source} (source test accuracy {source_acc:.3f}): target test accuracy, "
                 f"mean ± std over seeds, same optimizer steps per run")
    output.figure(fig, "transfer")


@command
def main(argv=None):
    p = parser("Transfer learning: pretrain on a source task, then compare a new last layer, fine-tuning the "
               "top layers, fine-tuning everything and training from scratch on similar and different target "
               "tasks, for several target training-set sizes.", "experiments/transfer")
    p.add_argument("--source", default="mnist:0-4", help="source task, DATASET[:CLASSES]")
    p.add_argument("--similar", default=DEFAULT_TARGETS["similar"], help="the similar target task ('' to skip)")
    p.add_argument("--different", default=DEFAULT_TARGETS["different"], help="the different target task ('' to skip)")
    p.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 5000], help="target training-set sizes")
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=list(STRATEGIES))
    p.add_argument("--seeds", type=int, default=3, help="runs per size and strategy, seeds --seed, --seed + 1, ...")
    p.add_argument("--hidden-sizes", type=int, nargs="+", default=[256, 128])
    p.add_argument("--source-n-train", type=int, default=5000, help="source training samples (all if 0)")
    p.add_argument("--source-n-val", type=int, default=1000)
    p.add_argument("--n-val", type=int, default=500, help="target validation samples (best-epoch selection)")
    p.add_argument("--n-test", type=int, default=None, help="test samples per task (default: its whole test split)")
    p.add_argument("--pretrain-epochs", type=int, default=5)
    p.add_argument("--steps", type=int, default=500, help="optimizer steps of each target run, every strategy")
    p.add_argument("--method", default="adam", choices=list(METHODS))
    p.add_argument("--lr", type=float, default=None, help="default: the method's own")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--l2", type=float, default=1e-4, help="L2 penalty of every model (transferred ones keep it)")
    p.add_argument("--batchnorm", action="store_true", help="batch norm in the hidden layers (see the module notes)")
    p.add_argument("--preprocessing", default="standardize", choices=datasets.PREPROCESSING)
    p.add_argument("--data-dir", default=None, help=f"folder with MNIST/CIFAR-10 (default: ${datasets.DATA_ENV})")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the test subsets and scikit-learn splits")
    args = p.parse_args(argv)
    targets = {kind: spec for kind, spec in (("similar", args.similar), ("different", args.different)) if spec}
    transfer_experiment(args.out, source=args.source, targets=targets, sizes=args.sizes, strategies=args.strategies,
                        seeds=range(args.seed, args.seed + args.seeds), hidden_sizes=args.hidden_sizes,
                        source_n_train=args.source_n_train or None, source_n_val=args.source_n_val, n_val=args.n_val,
                        n_test=args.n_test, pretrain_epochs=args.pretrain_epochs, steps=args.steps, method=args.method,
                        lr=args.lr, batch_size=args.batch_size, l2=args.l2, batchnorm=args.batchnorm,
                        preprocessing=args.preprocessing, data_dir=args.data_dir, data_seed=args.data_seed,
                        seed=args.seed)
    print(f"results in {args.out}")
