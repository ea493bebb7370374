"""Experiment 10: what a trained MLP learned, and where it errs.

Each hidden unit of the first layer computes a weighted sum of the input pixels, so its column of
W1 is an image: the pattern the unit responds to most (of a given norm). The figure shows these
images, each scaled to its own min (black) .. max (white), in a grid; with no hidden layer, the
columns are the linear classifier's class templates. Color images (CIFAR-10) are stored as channel
planes (3, 32, 32) and shown as (32, 32, 3); each is scaled over all its channels together, which
keeps its colors. The weights live in the space of the preprocessed inputs (standardized pixels by
default).

The confusion matrix counts test samples by (true class, predicted class) for the model the Trainer
returns (the parameters of the epoch with the best validation accuracy). A data set without images
(``meta["image_shape"]``, e.g. iris) is refused with a ValueError before any training."""
import math

import numpy as np
from matplotlib.colors import LogNorm

from mlp_scratch.experiments.common import (METHODS, Output, add_data_arguments, check_method, command, format_table,
                                            load_data, parser, plt, train)
from mlp_scratch.validation import check_positive_int

PER_CLASS = ["class", "count", "correct", "accuracy"]


def first_layer_images(W, image_shape):
    """Each column of W (D, K) as an image scaled to [0, 1] by its own min and max: (K, height, width)
    for one channel, (K, height, width, 3) for three. A constant column becomes mid-gray (0.5)."""
    channels, height, width = (int(v) for v in image_shape)
    if channels not in (1, 3):
        raise ValueError(f"image_shape must have 1 or 3 channels, got {list(image_shape)}")
    if W.ndim != 2 or W.shape[0] != channels * height * width:
        raise ValueError(f"W must have {channels * height * width} rows (image_shape {list(image_shape)}), "
                         f"got shape {W.shape}")
    images = np.asarray(W, np.float64).T.reshape(W.shape[1], channels, height, width)
    images = images[:, 0] if channels == 1 else images.transpose(0, 2, 3, 1)  # channel planes -> RGB pixels
    flat = images.reshape(len(images), -1)
    low, span = flat.min(axis=1), np.ptp(flat, axis=1)
    scaled = np.where(span[:, None] > 0, (flat - low[:, None]) / np.where(span > 0, span, 1.0)[:, None], 0.5)
    return scaled.reshape(images.shape)


def image_grid(images, columns=None, pad=1, fill=1.0):
    """Tiles images (K, h, w[, 3]) row by row into one array, ``pad`` pixels of ``fill`` between
    them; image k sits at rows r*(h+pad) : r*(h+pad)+h, columns c*(w+pad) : c*(w+pad)+w with
    (r, c) = divmod(k, columns). ``columns`` defaults to ceil(sqrt(K))."""
    count, height, width = images.shape[:3]
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.full((rows * (height + pad) - pad, columns * (width + pad) - pad) + images.shape[3:], fill)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        grid[r * (height + pad):r * (height + pad) + height, c * (width + pad):c * (width + pad) + width] = image
    return grid


def confusion_matrix(y_true, y_pred, n_classes):
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    return np.bincount(n_classes * y_true + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_rows(matrix, class_names):
    """Per true class: test samples, correctly classified, and their fraction (nan for an absent class)."""
    counts = matrix.sum(axis=1)
    return [{"class": name, "count": int(n), "correct": int(matrix[c, c]),
             "accuracy": float(matrix[c, c] / n) if n else math.nan}
            for c, (name, n) in enumerate(zip(class_names, counts))]


def check_images(data):
    if "image_shape" not in data.meta:
        raise ValueError(f"learned features need an image data set (meta['image_shape']); "
                         f"{data.meta.get('name')!r} has none: use mnist, fashion_mnist, cifar10 or digits")


def learned_features(data, out, *, hidden_sizes=(100,), method="adam", lr=None, epochs=10, batch_size=64, l2=1e-2,
                     max_units=100, seed=0, log=print):
    """Train one model; write weights.png (the first ``max_units`` columns of W1 as images),
    confusion_matrix.png/.csv, per_class.csv and summary.json into ``out``. Returns the per-class rows."""
    check_images(data)
    check_method(method)
    max_units = check_positive_int("max_units", max_units)
    output = Output(out)
    model, history, seconds = train(data, method=method, lr=lr, hidden_sizes=hidden_sizes, epochs=epochs,
                                    batch_size=batch_size, l2=l2, seed=seed)
    names = data.meta["class_names"]
    matrix = confusion_matrix(data.y_test, model.predict(data.X_test), data.n_classes)
    rows = per_class_rows(matrix, names)
    test_acc = model.score(data.X_test, data.y_test)
    output.table("confusion_matrix", [{"true": name, **dict(zip(names, map(int, counts))), "count": int(counts.sum()),
                                       "accuracy": row["accuracy"]} for name, counts, row in zip(names, matrix, rows)],
                 ["true", *names, "count", "accuracy"])
    output.table("per_class", rows, PER_CLASS)
    output.json("summary", {"dataset": data.meta["name"], "hidden_sizes": list(hidden_sizes), "method": method,
                            "epochs": epochs, "best_epoch": history.best_epoch, "test_acc": test_acc,
                            "seconds": seconds, "stop_reason": history.stop_reason})
    title = f"{data.meta['name']}: {len(data.y_train)} training samples, hidden layers {list(hidden_sizes)}, {method}"
    W1 = model.params["W1"][:, :max_units]
    _plot_weights(output, first_layer_images(W1, data.meta["image_shape"]),
                  names[:W1.shape[1]] if not hidden_sizes else None, W1.shape[1], model.params["W1"].shape[1], title)
    _plot_confusion(output, matrix, names, rows, test_acc, title)
    log(format_table(rows, PER_CLASS, title=f"test accuracy per class (all classes: {test_acc:.4f}, "
                                            f"{seconds:.1f}s of training)"))
    return rows


def _plot_weights(output, images, labels, shown, total, title):
    grid = image_grid(images)
    fig, ax = plt.subplots(figsize=(8, 8.6))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    height, width = images.shape[1:3]
    columns = math.ceil(math.sqrt(len(images)))
    for k, label in enumerate(labels or []):
        r, c = divmod(k, columns)
        ax.text(c * (width + 1) + 1, r * (height + 1) + 1, label, color="yellow", va="top", fontsize=10,
                bbox=dict(facecolor="black", alpha=0.5, pad=1, lw=0))
    what = "class templates (no hidden layer)" if labels else f"hidden units ({shown} of {total})"
    ax.set_title(f"First-layer weights: {what}\neach unit's input weights as an image, scaled to its own "
                 f"min (black) .. max (white)\n{title}", fontsize=10)
    ax.axis("off")
    output.figure(fig, "weights")


def _plot_confusion(output, matrix, names, rows, test_acc, title):
    counts = matrix.sum(axis=1, keepdims=True)
    fraction = matrix / np.maximum(counts, 1)
    size = max(6.0, 0.6 * len(names) + 3)
    fig, ax = plt.subplots(figsize=(size + 2.5, size))
    # a log color scale: errors of 1-5 % of a class stand out as well as the diagonal; empty cells stay white
    floor = min(0.5 / max(counts.max(), 1), 1e-2)
    shown = ax.imshow(np.ma.masked_equal(fraction, 0), cmap="Blues", norm=LogNorm(vmin=floor, vmax=1))
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="white" if fraction[i, j] > 0.3 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), [f"{r['class']} ({r['accuracy']:.1%} of {r['count']})" for r in rows])
    ax.set(xlabel="predicted class", ylabel="true class (per-class accuracy of its test samples)",
           title=f"Confusion matrix on the test set (counts), accuracy {test_acc:.2%}\n{title}")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class (log scale)")
    output.figure(fig, "confusion_matrix")


@command
def main(argv=None):
    p = parser("Learned features: a trained MLP's first-layer weights as images, and its confusion matrix on the "
               "test set.", "experiments/features")
    add_data_arguments(p)
    p.add_argument("--hidden-sizes", type=int, nargs="*", default=[100],
                   help="hidden layer widths; none shows the class templates of softmax regression")
    p.add_argument("--method", default="adam", choices=list(METHODS))
    p.add_argument("--lr", type=float, help="learning rate (default: the method's)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--l2", type=float, default=1e-2,
                   help="L2 strength; strong L2 smooths the weight images (noise pixels decay to 0)")
    p.add_argument("--max-units", type=int, default=100, help="hidden units shown in the weight figure")
    args = p.parse_args(argv)
    data = load_data(vars(args))
    learned_features(data, args.out, hidden_sizes=args.hidden_sizes, method=args.method, lr=args.lr,
                     epochs=args.epochs, batch_size=args.batch_size, l2=args.l2, max_units=args.max_units,
                     seed=args.seed)
    print(f"results in {args.out}")
