"""The ``mlp-scratch`` command; ``scripts/train.py`` is a thin front end to its ``train`` subcommand."""
import argparse
import datetime
import inspect
import json
import pathlib
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from tqdm import tqdm

from mlp_scratch import checkpoint, datasets, threads
from mlp_scratch.diagnostics import HISTOGRAM_SAMPLES, Diagnostics
from mlp_scratch.model import ACTIVATIONS, DEFAULT_ALPHA, DROPOUT_MODES, INITS, LOSSES, MLP, check_init
from mlp_scratch.optim import METHODS, make_optimizer
from mlp_scratch.runs import lock_folder, remove_run_files, save_config, save_epoch, save_run
from mlp_scratch.schedules import SCHEDULES, make_schedule
from mlp_scratch.second_order import CURVATURES
from mlp_scratch.tensorboard import TensorBoard
from mlp_scratch.trainer import INTERRUPTED, METRIC_NAMES, Trainer

SGD_DEFAULTS = {"lr": 0.05, "momentum": 0.9}  # the command line's defaults for sgd: a run that trains well


def add_train_arguments(parser):
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="digits", choices=datasets.NAMES,
                      help="data set to train on (default: digits, bundled with scikit-learn)")
    data.add_argument("--data-dir", type=pathlib.Path,
                      help=f"folder with MNIST/Fashion-MNIST IDX files or CIFAR-10 batches (default: "
                           f"${datasets.DATA_ENV}, else download from OpenML)")
    data.add_argument("--n-train", type=int,
                      help="training samples (a stratified subset; for a regression set a random one; default: all)")
    data.add_argument("--n-val", type=int, help="validation samples (default: a tenth of the training pool)")
    data.add_argument("--n-test", type=int, help="test samples (default: the whole test split)")
    data.add_argument("--per-class", action="store_true", help="--n-train/--n-val/--n-test count per class")
    data.add_argument("--preprocessing", default="standardize", choices=datasets.PREPROCESSING,
                      help="fitted on the training split (default: standardize)")
    data.add_argument("--augment", action="store_true",
                      help="augment training batches: crops + flips for cifar10, small translations for digit images")
    data.add_argument("--noise-std", type=float, default=0.0, help="with --augment: Gaussian noise on features")
    data.add_argument("--rotate", type=float, default=0.0, help="with --augment: largest rotation, degrees")
    data.add_argument("--scale", type=float, default=0.0, help="with --augment: largest relative size change")
    data.add_argument("--shear", type=float, default=0.0, help="with --augment: largest shear angle, degrees")
    data.add_argument("--distort", type=float, default=0.0,
                      help="with --augment: largest lens distortion |k| (at most 1/6), barrel (k > 0) and "
                           "pincushion (k < 0)")
    for name in ("brightness", "contrast", "saturation"):
        data.add_argument(f"--{name}", type=float, default=0.0,
                          help=f"with --augment: largest relative {name} change (color jitter)")
    data.add_argument("--data-seed", type=int, default=0, help="seed of the train/val/test split")
    model = parser.add_argument_group("model")
    model.add_argument("--hidden-sizes", type=int, nargs="*", default=[100, 100], metavar="H",
                       help="width of each hidden layer (default: 100 100; none for a linear model)")
    model.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS),
                       help="activation of every hidden layer (default: relu)")
    model.add_argument("--activation-alpha", type=float,
                       help="leaky_relu's negative slope (default 0.01) or elu's alpha (default 1.0)")
    model.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=True,
                       help="batch normalization after each hidden affine layer (default: on)")
    model.add_argument("--dropout", type=float, default=0.0,
                       help="probability of DROPPING a hidden unit, in [0, 1) (default: 0, off)")
    model.add_argument("--dropout-mode", default="inverted", choices=DROPOUT_MODES,
                       help="inverted: kept units scaled by 1 / (1 - dropout) in training (default); classic: "
                            "outputs scaled by 1 - dropout at test time")
    model.add_argument("--l2", type=float, default=1e-4,
                       help="L2 strength: adds 0.5 * l2 * sum(W**2) to the loss (default: 1e-4)")
    model.add_argument("--l1", type=float, default=0.0,
                       help="L1 strength: adds l1 * sum(|W|) to the loss; with --l2, the elastic net (default: 0)")
    model.add_argument("--init", default="he",
                       help=f"weight initialization: {' or '.join(INITS)}, or a fixed std such as 0.01 (default: he)")
    model.add_argument("--loss", default="softmax", choices=sorted(LOSSES), help="default: softmax")
    model.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="default: float32")
    optim = parser.add_argument_group(
        "optimization", "Optimizer options left out take the optimizer's default (torch.optim's).")
    optim.add_argument("--optimizer", default="sgd", choices=sorted(METHODS),
                       help="default: sgd (lbfgs, hessian-free, bfgs and random-search are full-batch: one of their "
                            "iterations per epoch)")
    optim.add_argument("--lr", type=float,
                       help=f"learning rate (default: {SGD_DEFAULTS['lr']} for sgd, else the optimizer's)")
    optim.add_argument("--momentum", type=float,
                       help=f"sgd, rmsprop (default: {SGD_DEFAULTS['momentum']} for sgd, else the optimizer's)")
    optim.add_argument("--dampening", type=float, help="sgd")
    optim.add_argument("--nesterov", action="store_true", default=None, help="sgd: Nesterov momentum")
    optim.add_argument("--weight-decay", type=float,
                       help="sgd, adagrad, rmsprop, adadelta, adam (added to the gradient), adamw (decoupled); "
                            "on weight matrices only")
    optim.add_argument("--betas", type=float, nargs=2, metavar=("BETA1", "BETA2"), help="adam, adamw")
    optim.add_argument("--eps", type=float, help="adagrad, rmsprop, adadelta, adam, adamw")
    optim.add_argument("--amsgrad", action="store_true", default=None, help="adam, adamw")
    optim.add_argument("--alpha", type=float, help="rmsprop: decay rate of the squared-gradient average")
    optim.add_argument("--centered", action="store_true", default=None, help="rmsprop")
    optim.add_argument("--rho", type=float, help="adadelta")
    optim.add_argument("--lr-decay", type=float, help="adagrad")
    optim.add_argument("--history-size", type=int, help="lbfgs: correction pairs kept")
    optim.add_argument("--tol", type=float,
                       help="lbfgs, hessian-free, bfgs: stop when the largest gradient element is below it")
    optim.add_argument("--curvature", choices=CURVATURES,
                       help="hessian-free: the curvature matrix conjugate gradient solves with")
    optim.add_argument("--damping", type=float, help="hessian-free: the initial Levenberg-Marquardt damping")
    optim.add_argument("--cg-iterations", type=int, help="hessian-free: most conjugate-gradient steps per iteration")
    optim.add_argument("--curvature-batch", type=int, help="hessian-free: samples of each iteration's curvature")
    optim.add_argument("--epochs", type=int, help="default: 20 (with --resume: the run's own, or more to extend it)")
    optim.add_argument("--batch-size", type=int, default=64, help="default: 64")
    optim.add_argument("--seed", type=int, default=0, help="seeds initialization, shuffling and dropout")
    schedule = parser.add_argument_group(
        "learning-rate schedule", "epoch-based schedules change at epoch boundaries; see mlp_scratch.schedules")
    schedule.add_argument("--schedule", default="constant", choices=sorted(SCHEDULES), help="default: constant")
    schedule.add_argument("--step-size", type=int, help="step: epochs between decays")
    schedule.add_argument("--milestones", type=int, nargs="+", help="multistep: epochs at which to decay")
    schedule.add_argument("--gamma", type=float, help="step, multistep, exponential: decay factor")
    schedule.add_argument("--decay-rate", type=float, dest="k", help="exp-decay, inverse-time: k in exp(-k t), 1/(1+k t)")
    schedule.add_argument("--per", choices=["iteration", "epoch"], help="inverse-time, cosine, cosine-restarts: what t counts")
    schedule.add_argument("--t-max", type=int, help="cosine: period of the half cosine")
    schedule.add_argument("--eta-min", type=float, help="cosine: final learning rate")
    schedule.add_argument("--cycle-length", type=int,
                          help="cosine-restarts: iterations (or epochs, with --per epoch) per cycle")
    schedule.add_argument("--factor", type=float, help="plateau: multiplier on a plateau")
    schedule.add_argument("--patience", type=int, help="plateau: epochs without improvement before decaying")
    schedule.add_argument("--warmup", type=int, default=0, help="linear warm-up over this many iterations")
    run = parser.add_argument_group("run")
    run.add_argument("--out", type=pathlib.Path, default=None,
                     help="run folder (default: runs/<dataset>-<date>-<time>)")
    run.add_argument("--threads", type=int, default=None,
                     help="threads the run may use (default: all cores): BLAS's for a small model, the "
                          "compiled kernels' from 40k parameters on (README, 'Threads')")
    run.add_argument("--overwrite", action="store_true", help="allow --out to name a folder that holds a run")
    run.add_argument("--resume", type=pathlib.Path, metavar="RUN_DIR",
                     help="continue the run in RUN_DIR from its last finished epoch, with its own options "
                          "(--epochs may extend it); ends exactly as an uninterrupted run would")
    run.add_argument("--quiet", action="store_true", help="print only the final result")
    watch = parser.add_argument_group("watching the network learn", "per-layer diagnostics (mlp_scratch.diagnostics)")
    watch.add_argument("--diagnostics", nargs="?", const="epoch", type=interval, metavar="N",
                       help="per-layer statistics each epoch (or every N steps): update/weight ratios, norms, "
                            "activations, dead units, batch norm's gamma and beta; diagnostics.csv, diagnostics.png "
                            "and histograms.png in the run folder, and warnings in plain words")
    watch.add_argument("--histograms", type=int, nargs="+", metavar="EPOCH",
                       help="with --diagnostics: epochs whose activation and gradient histograms to keep "
                            "(default: the first, middle and last)")
    watch.add_argument("--tensorboard", type=pathlib.Path, metavar="DIR",
                       help="write TensorBoard event files into DIR (losses, accuracies, learning rate, the "
                            "diagnostics, histograms); view them with: tensorboard --logdir DIR")


def interval(text):
    """--diagnostics' value: "epoch" or a number of steps."""
    return text if text == "epoch" else int(text)


OPTIMIZER_OPTIONS = ["lr", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps", "amsgrad",
                     "alpha", "centered", "rho", "lr_decay", "history_size", "tol", "curvature", "damping",
                     "cg_iterations", "curvature_batch"]
SCHEDULE_OPTIONS = ["step_size", "milestones", "gamma", "k", "per", "t_max", "eta_min", "cycle_length", "factor",
                    "patience"]


def given_options(args, cls, names):
    """The options among ``names`` that the user gave, as keyword arguments of ``cls``; an option
    that ``cls`` does not take is an error naming both."""
    accepted = set(inspect.signature(cls.__init__).parameters)
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if cls is METHODS["sgd"]:
        given = {**SGD_DEFAULTS, **given}
    for name in given:
        if name not in accepted:
            raise ValueError(f"{flag_name(name)} does not apply to {cls.__name__}")
    return {name: tuple(v) if name == "betas" else v for name, v in given.items()}


PATH_OPTIONS = ("out", "data_dir", "resume", "tensorboard")
WARP_AND_JITTER = ("rotate", "scale", "shear", "distort", "brightness", "contrast", "saturation")
# Options that may differ from the run's own on --resume: none of them changes what the run computes.
WATCH_OPTIONS = ("diagnostics", "histograms", "tensorboard")
RESUMABLE_OPTIONS = ("epochs", "quiet", "threads", "data_dir", "resume", "config", *WATCH_OPTIONS)


def flag_name(name):
    return "--decay-rate" if name == "k" else "--" + name.replace("_", "-")


def shown(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def resumed_args(args, given):
    """The options of the run in ``args.resume`` (its config.json), with --epochs, --quiet and
    --threads as given now. ``given`` names the options set on the command line or by --config;
    one that would change the run is refused, with the run's own value."""
    folder = args.resume
    try:
        saved = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"--resume {folder}: no readable run folder ({error})") from None
    saved.pop("command", None)
    saved = {k: pathlib.Path(v) if k in PATH_OPTIONS and v is not None else v for k, v in saved.items()}
    defaults = vars(build_parser()[1].parse_args([]))  # options the saved run predates keep their defaults
    saved = {**defaults, **saved, "out": folder}
    conflicts = [f"{flag_name(name)} {shown(getattr(args, name))} (the run has {shown(saved[name])})"
                 for name in sorted(given) if name not in RESUMABLE_OPTIONS
                 and shown(getattr(args, name)) != shown(saved[name])]
    if conflicts:
        raise ValueError(f"--resume {folder} continues the run with its own options; these differ from it: "
                         f"{'; '.join(conflicts)}. Drop them, or start a new run with --out")
    watch = {name: getattr(args, name) for name in WATCH_OPTIONS if name in given}
    return argparse.Namespace(**{**saved, "epochs": saved["epochs"] if args.epochs is None else args.epochs,
                                 "quiet": args.quiet, "threads": args.threads, "resume": folder, "overwrite": True,
                                 **watch})


def resolved_options(args, optimizer, schedule):
    """The options whose defaults depend on others (the activation's alpha, the optimizer's and the
    schedule's options) as the run used them, by option name."""
    alpha = DEFAULT_ALPHA.get(args.activation) if args.activation_alpha is None else args.activation_alpha
    state = optimizer.state_dict()
    ran = {"lr": state["lr"], **state["hyperparameters"]}
    options = {name: list(ran[name]) if name == "betas" else ran[name] for name in OPTIMIZER_OPTIONS if name in ran}
    inner = getattr(schedule, "schedule", schedule)  # the schedule behind a warm-up
    accepted = inspect.signature(type(inner).__init__).parameters
    options.update({name: getattr(inner, name) for name in SCHEDULE_OPTIONS if name in accepted})
    return {"activation_alpha": alpha, **options}


def train(args, given=(), prog="python scripts/train.py"):
    """Train as ``args`` says, write the run folder, and return the results dictionary. ``given``
    names the options set explicitly (checked against the run's own on --resume); ``prog`` is the
    command the messages tell to repeat."""
    if args.resume is not None:
        args = resumed_args(args, given)
    args.epochs = 20 if args.epochs is None else args.epochs
    if args.threads is not None:
        threads.set_threads(blas=threads.check_threads("--threads", args.threads))
    out = args.out or pathlib.Path("runs") / f"{args.dataset}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    flag = "--out" if args.resume is None else "--resume"
    with lock_folder(out, flag):
        if args.resume is None and (out / "checkpoint.npz").exists():
            if not args.overwrite:
                raise ValueError(f"--out {out} already holds a run; choose another folder, pass --overwrite, "
                                 f"or continue it with --resume {out}")
            remove_run_files(out)
        return train_in(out, args, prog)


def train_in(out, args, prog):
    """The run itself, in the folder ``out`` that ``train`` holds."""
    log = None if args.quiet else tqdm.write  # tqdm.write keeps the progress bar below the lines
    data = datasets.load(args.dataset, n_train=args.n_train, n_val=args.n_val, n_test=args.n_test,
                         per_class=args.per_class, preprocessing=args.preprocessing, data_dir=args.data_dir,
                         seed=args.data_seed, dtype=args.dtype)
    warp_and_jitter = {name: getattr(args, name) for name in WARP_AND_JITTER}
    if not args.augment and any(warp_and_jitter.values()):
        raise ValueError(", ".join("--" + name for name in WARP_AND_JITTER) + " need --augment")
    augment = datasets.Augmentation.default_for(data.meta, args.noise_std, **warp_and_jitter) if args.augment else None
    if data.regression != (args.loss == "mse"):
        raise ValueError(f"--loss {args.loss} does not fit {args.dataset}: --loss mse is for the regression sets "
                         f"({', '.join(datasets.REGRESSION_SETS)}), softmax and svm for classification")
    model = MLP(data.n_features, args.hidden_sizes, data.n_outputs, activation=args.activation,
                activation_alpha=args.activation_alpha, batchnorm=args.batchnorm,
                dropout=args.dropout, dropout_mode=args.dropout_mode, l2=args.l2, l1=args.l1, loss=args.loss,
                init=check_init(args.init),
                dtype=args.dtype, seed=args.seed)
    optimizer = make_optimizer(args.optimizer, **given_options(args, METHODS[args.optimizer], OPTIMIZER_OPTIONS))
    schedule = make_schedule(args.schedule, warmup=args.warmup,
                             **given_options(args, SCHEDULES[args.schedule], SCHEDULE_OPTIONS))
    if args.histograms and not args.diagnostics:
        raise ValueError("--histograms needs --diagnostics")
    diagnostics = Diagnostics(args.diagnostics, args.histograms or "auto") if args.diagnostics else None
    trainer = Trainer(model, optimizer, epochs=args.epochs, batch_size=args.batch_size, schedule=schedule,
                      seed=args.seed, augment=augment, log=log, progress=not args.quiet, diagnostics=diagnostics)
    resume = None
    if args.resume is not None:
        resume = checkpoint.restore_training(out / "checkpoint.npz", model, optimizer)
        trainer.log(f"resuming {out} after epoch {resume['epoch']} of {args.epochs}")
    trainer.log(f"training {len(data.X_train)} samples of {args.dataset}: {data.n_features}-"
        f"{'-'.join(map(str, args.hidden_sizes))}{'-' if args.hidden_sizes else ''}{data.n_outputs}, "
        f"{optimizer}, {schedule}{', ' + repr(augment) if augment else ''}; run folder {out}")
    options = {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()
               if k not in ("resume", "config")}
    config = {"command": "train", **options, **resolved_options(args, optimizer, schedule), "out": str(out)}
    preprocessing, targets = data.meta["preprocessing"], data.meta.get("target_preprocessing")
    save_config(out, config)
    board = None
    if args.tensorboard is not None:
        try:
            board = TensorBoard(args.tensorboard, data.X_train[:HISTOGRAM_SAMPLES])
        except ImportError as error:
            raise ValueError(f"--tensorboard: {error}") from None

    def after_epoch(trainer):
        save_epoch(out, trainer, preprocessing, targets)
        if board is not None:
            board(trainer)

    try:
        history = trainer.fit(data, on_epoch_end=after_epoch, resume=resume)
    finally:
        if board is not None:
            board.close()
    metric, name = model.metric, METRIC_NAMES[model.metric]
    results = {f"test_{metric}": model.score(data.X_test, data.y_test), "best_epoch": history.best_epoch,
               f"best_val_{metric}": history.best_val_score if history.best_epoch else None,
               "stop_reason": history.stop_reason}
    save_run(out, config, model, optimizer, history, preprocessing, results, targets)
    best = (f"best validation {name} {history.best_val_score:.4f} at epoch {history.best_epoch}; "
            if history.best_epoch else "")
    print(f"test {name} {results[f'test_{metric}']:.4f} ({best}{history.stop_reason}); run folder {out}")
    if history.stop_reason.startswith(INTERRUPTED) and not trainer.full_batch:
        print(f"the run stopped before epoch {len(history.epochs) + 1}; continue it with: {prog} --resume {out}")
    return results


# Keys of a run's config.json that describe that run, not the options to repeat it with.
RUN_ONLY_KEYS = ("command", "out", "overwrite")


def read_config(path, parser):
    """Options from a TOML or JSON file (a run folder's config.json repeats that run), keyed by the
    options' names with underscores (hidden_sizes = [100, 100], lr = 0.05, ...)."""
    path = pathlib.Path(path)
    try:
        if path.suffix == ".toml":
            with open(path, "rb") as f:
                config = tomllib.load(f)
        else:
            config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"--config {path}: cannot read it ({error})") from None
    config = {k: v for k, v in config.items() if k not in RUN_ONLY_KEYS}
    actions = {action.dest: action for action in parser._actions}
    unknown = sorted(set(config) - set(actions))
    if unknown:
        raise ValueError(f"--config {path}: unknown options {unknown}; see mlp-scratch train --help")
    return {name: config_value(path, actions[name], value) for name, value in config.items()}


def config_value(path, action, value):
    """A config file's value checked and converted as the same flag on the command line would be."""
    if value is None:
        return None
    if action.nargs == 0:  # a flag: true or false
        if not isinstance(value, bool):
            raise ValueError(f"--config {path}: {action.dest} must be true or false, got {value!r}")
        return value
    many = action.nargs in ("*", "+") or isinstance(action.nargs, int)
    if many != isinstance(value, list):
        raise ValueError(f"--config {path}: {action.dest} must be {'a list' if many else 'a single value'}, "
                         f"got {value!r}")
    convert = action.type or str
    try:
        converted = [convert(v) for v in value] if isinstance(value, list) else convert(value)
    except (TypeError, ValueError):
        raise ValueError(f"--config {path}: {action.dest} has a value of the wrong type: {value!r}") from None
    for item in converted if isinstance(converted, list) else [converted]:
        if action.choices is not None and item not in action.choices:
            raise ValueError(f"--config {path}: {action.dest} must be one of {sorted(action.choices)}, got {item!r}")
    return converted


def build_parser():
    parser = argparse.ArgumentParser(prog="mlp-scratch", description="Train and compare MLPs written from scratch.")
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser("train", help="train an MLP and write a run folder")
    train_parser.add_argument("--config", type=pathlib.Path,
                              help="options from a TOML or JSON file (a run folder's config.json repeats that "
                                   "run); flags given too take precedence")
    add_train_arguments(train_parser)
    commands.add_parser("benchmark", add_help=False, help="time training against PyTorch, JAX, scikit-learn and "
                                                          "NumPy (mlp-scratch benchmark --help)")
    return parser, train_parser


def explicit_options(argv):
    """The names of the options that ``argv`` (the train command's arguments) sets."""
    _, train_parser = build_parser()
    for action in train_parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(train_parser.parse_args(argv)))


def main(argv=None, prog="mlp-scratch train"):
    """The command line; ``prog`` is how the messages name the train command."""
    parser, train_parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["benchmark"]:  # its own parser reads the rest (argparse.REMAINDER drops options)
        return benchmark_main(argv[1:])
    try:
        given = set()
        if argv[:1] == ["train"]:
            given = explicit_options(argv[1:])
            config_path = train_parser.parse_known_args(argv[1:])[0].config
            if config_path is not None:
                config = read_config(config_path, train_parser)
                train_parser.set_defaults(**config)
                given |= set(config)
        train(parser.parse_args(argv), given, prog)
        return 0
    except (ValueError, FileNotFoundError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # training itself stops cleanly on Ctrl-C; this is before or after it
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def benchmark_main(arguments):
    from mlp_scratch.benchmark import main as run_benchmark  # imports torch, jax, ... only when asked
    return run_benchmark(arguments) or 0


if __name__ == "__main__":
    sys.exit(main())
