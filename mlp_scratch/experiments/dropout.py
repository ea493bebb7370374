"""Experiment 11: dropout's two forms.

Classic dropout keeps each hidden unit with probability p in training and multiplies a layer's
output by p at test time; inverted dropout multiplies the kept units by 1 / p in training and
leaves test time alone. Both give each unit at test time its expected training-time value, so they
describe the same expected network; frameworks use the inverted form because prediction then needs
no change (``MLP(dropout_mode=...)``).

Two checks, in one figure: for a network of one hidden layer, whose scores are linear in the
dropped units, the mean of the training-time scores over many dropout masks against the test-time
scores (the points lie on the diagonal, in both forms); and validation accuracy per epoch of one
network trained in each form (they train alike)."""
import numpy as np

from mlp_scratch.experiments.common import (Output, add_data_arguments, command, format_table, load_data, parser,
                                            plt, train)
from mlp_scratch.model import DROPOUT_MODES, MLP
from mlp_scratch.optim import make_optimizer
from mlp_scratch.validation import check_number, check_positive_int

COLUMNS = ["mode", "masks", "largest_deviation", "largest_score", "best_val_acc", "test_acc", "seconds"]


def mean_training_scores(model, X, y, masks):
    """The training-mode scores of (X, y) averaged over ``masks`` dropout masks (seeds 0, 1, ...)."""
    total = np.zeros((len(X), model.num_classes))
    for seed in range(masks):
        model.forward_backward(X, y, seed=seed)
        total += model.workspace(len(X)).scores[:len(X)]
    return total / masks


def dropout_forms(data, out, *, hidden=256, dropout=0.5, masks=2000, rows=64, epochs=10, lr=0.05, batch_size=64,
                  seed=0, log=print):
    """Both dropout forms: expected training-time scores against test-time scores over ``masks``
    masks on ``rows`` validation rows (float64, before training), then training with SGD + momentum.
    Writes dropout_forms.csv/.json and dropout_forms.png into ``out``; returns the rows."""
    check_positive_int("hidden", hidden)
    check_number("dropout", dropout, low=0, high=1, low_open=True, high_open=True)
    check_positive_int("masks", masks)
    output = Output(out)
    X, y = data.X_val[:check_positive_int("rows", rows)], data.y_val[:rows]
    fig, (scores_ax, curve_ax) = plt.subplots(1, 2, figsize=(12, 4.8))
    table = []
    for mode, marker in zip(DROPOUT_MODES, "os"):
        probe = MLP(data.n_features, [hidden], data.n_classes, dropout=dropout, dropout_mode=mode, dtype="float64",
                    seed=seed)
        expected, test = mean_training_scores(probe, X, y, masks), probe.scores(X)
        scores_ax.scatter(test.ravel(), expected.ravel(), s=8, marker=marker, alpha=0.6, label=mode)
        model = MLP(data.n_features, [hidden], data.n_classes, dropout=dropout, dropout_mode=mode, seed=seed)
        model, history, seconds = train(data, model=model, optimizer=make_optimizer("sgd", lr=lr, momentum=0.9),
                                        epochs=epochs, batch_size=batch_size, seed=seed)
        curve_ax.plot([e["epoch"] for e in history.epochs], [e["val_acc"] for e in history.epochs], marker=marker,
                      label=mode)
        table.append({"mode": mode, "masks": masks, "largest_deviation": float(np.abs(expected - test).max()),
                      "largest_score": float(np.abs(test).max()), "best_val_acc": history.best_val_score,
                      "test_acc": model.score(data.X_test, data.y_test), "seconds": seconds})
    low, high = scores_ax.get_xlim()
    scores_ax.plot([low, high], [low, high], color="black", lw=0.8, label="equal")
    scores_ax.set(xlabel="test-time score", ylabel=f"training-time score, mean of {masks} masks",
                  title=f"Expectation (one hidden layer of {hidden}, dropout {dropout})")
    curve_ax.set(xlabel="epoch", ylabel="validation accuracy", title=f"Training alike (SGD + momentum, lr {lr})")
    for ax in (scores_ax, curve_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    output.figure(fig, "dropout_forms")
    output.table("dropout_forms", table, COLUMNS)
    log(format_table(table, COLUMNS, title="dropout's two forms"))
    return table


@command
def main(argv=None):
    p = parser("Dropout's two forms, classic (scale at test time) and inverted (scale in training): the same "
               "expected output, and training alike.", "experiments/dropout")
    add_data_arguments(p, dataset="digits", n_train=None, n_val=None)
    p.add_argument("--hidden", type=int, default=256, help="width of the hidden layer")
    p.add_argument("--dropout", type=float, default=0.5, help="probability of dropping a hidden unit")
    p.add_argument("--masks", type=int, default=2000, help="dropout masks averaged for the expectation")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (momentum 0.9)")
    args = p.parse_args(argv)
    dropout_forms(load_data(vars(args)), args.out, hidden=args.hidden, dropout=args.dropout, masks=args.masks,
                  epochs=args.epochs, lr=args.lr, seed=args.seed)
    print(f"results in {args.out}")
