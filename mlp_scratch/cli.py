"""The ``mlp-scratch`` command; ``scripts/train.py`` is a thin front end to its ``train`` subcommand."""
import argparse
import datetime
import pathlib
import sys

from mlp_scratch import datasets, threads
from mlp_scratch.model import INITS, LOSSES, MLP, check_init
from mlp_scratch.optim import OPTIMIZERS, make_optimizer
from mlp_scratch.runs import save_run
from mlp_scratch.trainer import Trainer


def add_train_arguments(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="digits", choices=sorted(datasets.BUNDLED),
                      help="data set to train on (default: digits, bundled with scikit-learn)")
    data.add_argument("--data-seed", type=int, default=0, help="seed of the train/val/test split")
    model = parser.add_argument_group("model")
    model.add_argument("--hidden-sizes", type=int, nargs="*", default=[100, 100], metavar="H",
                       help="width of each hidden layer (default: 100 100; none for a linear model)")
    model.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=True,
                       help="batch normalization after each hidden affine layer (default: on)")
    model.add_argument("--dropout", type=float, default=0.0,
                       help="probability of DROPPING a hidden unit, in [0, 1) (default: 0, off)")
    model.add_argument("--l2", type=float, default=1e-4,
                       help="L2 strength: adds 0.5 * l2 * sum(W**2) to the loss (default: 1e-4)")
    model.add_argument("--init", default="he",
                       help=f"weight initialization: {' or '.join(INITS)}, or a fixed std such as 0.01 (default: he)")
    model.add_argument("--loss", default="softmax", choices=sorted(LOSSES), help="default: softmax")
    model.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="default: float32")
    optim = parser.add_argument_group("optimization")
    optim.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS), help="default: sgd")
    optim.add_argument("--lr", type=float, default=0.05, help="learning rate (default: 0.05)")
    optim.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9)")
    optim.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    optim.add_argument("--weight-decay", type=float, default=0.0,
                       help="decoupled-from-the-loss weight decay of the optimizer, on weights only (default: 0)")
    optim.add_argument("--epochs", type=int, default=20, help="default: 20")
    optim.add_argument("--batch-size", type=int, default=64, help="default: 64")
    optim.add_argument("--seed", type=int, default=0, help="seeds initialization, shuffling and dropout")
    run = parser.add_argument_group("run")
    run.add_argument("--out", type=pathlib.Path, default=None,
                     help="run folder (default: runs/<dataset>-<date>-<time>)")
    run.add_argument("--threads", type=int, default=None,
                     help="threads for numba kernels and BLAS (default: all cores)")
    run.add_argument("--quiet", action="store_true", help="print only the final result")


def train(args):
    """Train as ``args`` says, write the run folder, and return the results dictionary."""
    if args.threads is not None:
        threads.set_threads(args.threads)
    log = (lambda line: None) if args.quiet else print
    data = datasets.load(args.dataset, seed=args.data_seed, dtype=args.dtype)
    model = MLP(data.n_features, args.hidden_sizes, data.n_classes, batchnorm=args.batchnorm,
                dropout=args.dropout, l2=args.l2, loss=args.loss, init=check_init(args.init),
                dtype=args.dtype, seed=args.seed)
    optimizer = make_optimizer(args.optimizer, lr=args.lr, momentum=args.momentum,
                               nesterov=args.nesterov, weight_decay=args.weight_decay)
    trainer = Trainer(model, optimizer, epochs=args.epochs, batch_size=args.batch_size,
                      seed=args.seed, log=log)
    out = args.out or pathlib.Path("runs") / f"{args.dataset}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    log(f"training {len(data.X_train)} samples of {args.dataset}: {data.n_features}-"
        f"{'-'.join(map(str, args.hidden_sizes))}{'-' if args.hidden_sizes else ''}{data.n_classes}, "
        f"{optimizer}; run folder {out}")
    history = trainer.fit(data)
    results = {"test_acc": model.score(data.X_test, data.y_test), "best_epoch": history.best_epoch,
               "best_val_acc": history.best_val_acc, "stop_reason": history.stop_reason}
    config = {"command": "train", **{k: (str(v) if isinstance(v, pathlib.Path) else v)
                                     for k, v in vars(args).items() if k != "func"}, "out": str(out)}
    save_run(out, config, model, optimizer, history, data.meta["preprocessing"], results)
    print(f"test accuracy {results['test_acc']:.4f} (best validation accuracy "
          f"{history.best_val_acc:.4f} at epoch {history.best_epoch}; {history.stop_reason}); "
          f"run folder {out}")
    return results


def build_parser():
    parser = argparse.ArgumentParser(prog="mlp-scratch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser("train", help="train an MLP and write a run folder",
                                       )
    add_train_arguments(train_parser)
    train_parser.set_defaults(func=train)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ValueError as error:
        print(f"mlp-scratch {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
