"""Mini-batch training: shuffled batches each epoch, validation each epoch, history, best parameters.
Full-batch optimizers (L-BFGS) run one of their iterations per epoch instead."""
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from mlp_scratch import threads
from mlp_scratch.kernels.random import seed_for
from mlp_scratch.kernels.training import train_steps
from mlp_scratch.lbfgs import NonFiniteLoss
from mlp_scratch.schedules import as_schedule
from mlp_scratch.validation import check_bool, check_features, check_labels, check_positive_int, check_seed


@dataclass
class History:
    """What a run produced. ``iteration_loss`` is the minimized objective (data loss + L2 penalty) of
    each step and ``iteration_lr`` the learning rate it used; the per-epoch losses in ``epochs`` are
    data losses in evaluation mode, comparable across L2 strengths."""
    iteration_loss: list = field(default_factory=list)
    iteration_lr: list = field(default_factory=list)
    epochs: list = field(default_factory=list)  # dicts: epoch, lr, train_loss, train_acc, val_loss, val_acc, time
    best_epoch: int = 0
    best_val_acc: float = -1.0
    stop_reason: str = "completed"

    def to_dict(self):
        return asdict(self)


# Augmentation draws from its own stream of the run's seed; steps use streams 0, 1, 2, ... for dropout.
AUGMENT_STREAM = 2 ** 40


# How History.stop_reason begins when training diverged or was interrupted (sweeps read them).
NON_FINITE, INTERRUPTED = "non-finite loss", "interrupted"


def non_finite(loss, epoch, iteration):
    return f"{NON_FINITE} ({loss}) at epoch {epoch}, iteration {iteration}: lower the learning rate or check the data"


def silent(line):
    """The log of a quiet trainer (a named function, so that trainers pickle)."""


class Stop(Exception):
    """Ends training early with a reason for the history."""


class Trainer:
    """Trains ``model`` with ``optimizer`` on a Dataset (see mlp_scratch.datasets).

    Parameters
    ----------
    epochs, batch_size : int
        A batch size above the number of training samples is clipped to it (with a message).
        With a full-batch optimizer (L-BFGS) an epoch is one of its iterations.
    schedule : callable or None
        ``schedule(lr0, epoch, iteration)`` gives each step's learning rate from the optimizer's
        ``lr`` (see mlp_scratch.schedules); None keeps it constant.
    seed : int
        Seeds the shuffling and the dropout masks: the same seed gives bitwise-identical training at
        a fixed thread count.
    restore_best : bool
        At the end, put back the parameters of the epoch with the best validation accuracy (the
        initial ones if training stopped before the first epoch ended).
    train_eval_samples : int
        Training accuracy and loss per epoch are measured on at most this many training samples
        (a fixed random subset), since a full pass over a large set costs as much as an epoch.
    augment : callable or None
        ``augment(X_batch, out, seed)`` writes an augmented copy of each training mini-batch (see
        mlp_scratch.datasets.Augmentation); validation, test and the data set itself are untouched.
    log : callable or None
        Receives one line per epoch; None for silence.
    progress : bool
        A progress bar over the steps (loss, validation accuracy, samples/s); tqdm hides it when
        the output is not a terminal.

    Weight decay, where the optimizer has it, applies to weight matrices only (``model.weight_mask``).
    """

    def __init__(self, model, optimizer, *, epochs=10, batch_size=64, schedule=None, seed=0,
                 restore_best=True, train_eval_samples=10000, augment=None, log=print, progress=False):
        self.model = model
        self.optimizer = optimizer
        self.epochs = check_positive_int("epochs", epochs)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.schedule = as_schedule(schedule)
        self.seed = check_seed("seed", seed)
        self.restore_best = check_bool("restore_best", restore_best)
        self.train_eval_samples = check_positive_int("train_eval_samples", train_eval_samples)
        if log is not None and not callable(log):
            raise ValueError(f"log must be a callable taking one line of text, or None, got {log!r}")
        self.log = log or silent
        self.progress = check_bool("progress", progress)
        self._bar = None
        self.full_batch = getattr(optimizer, "full_batch", False)
        if augment is not None and self.full_batch:
            raise ValueError(f"augment needs mini-batches; {optimizer!r} is full-batch")
        self.augment = augment
        self._history = History()
        self._on_epoch_end = self._runner = None
        optimizer.set_masks(decay=model.weight_mask())

    def fit(self, data, on_epoch_end=None, resume=None):
        """Train on data.X_train / y_train, validating on X_val / y_val. Returns the History.

        ``on_epoch_end(trainer)`` runs after each epoch (a run folder saves its checkpoint there, from
        ``state_dict``); ``resume`` is such a state, from which training continues exactly as the
        original run would have. Stops early, keeping the best parameters and the history, on a
        non-finite loss or on KeyboardInterrupt (``history.stop_reason`` says which)."""
        model = self.model
        X = check_features(data.X_train, model.input_dim, model.dtype, "X_train")
        y = check_labels(data.y_train, X.shape[0], model.num_classes, "y_train")
        X_val = check_features(data.X_val, model.input_dim, model.dtype, "X_val")
        y_val = check_labels(data.y_val, X_val.shape[0], model.num_classes, "y_val")
        self._rng = np.random.default_rng(self.seed)
        subset = np.sort(self._rng.permutation(len(X))[:self.train_eval_samples])
        self._eval_sets = (X[subset], y[subset], X_val, y_val)
        self._history = History()
        self._best = (model.flat_params.copy(), model.running.copy())
        self._on_epoch_end = on_epoch_end
        self._runner = None
        step, elapsed = 0, 0.0
        if resume is not None:
            if self.full_batch:
                raise ValueError("resume: a full-batch (L-BFGS) run cannot be resumed; start it again")
            step, elapsed = self._load_state(resume)
        self._start = time.perf_counter() - elapsed
        try:
            if self.full_batch:
                self._fit_full_batch(X, y)
            else:
                self._fit_mini_batches(X, y, step)
        except Stop as stop:
            self._history.stop_reason = str(stop)
            self.log(f"stopped: {stop}")
        except KeyboardInterrupt:
            self._history.stop_reason = f"{INTERRUPTED} after {len(self._history.epochs)} epochs"
            self.log("stopped: " + self._history.stop_reason)
        if self.restore_best:
            model.flat_params[:], model.running[:] = self._best
        return self._history

    def state_dict(self):
        """The run's state at the end of an epoch, beyond the model's and optimizer's: epoch and
        step counters, the shuffling generator, the history, the best parameters so far, the
        schedule's state and the elapsed time."""
        return {"epoch": len(self._history.epochs), "step": self._runner.step if self._runner else 0,
                "rng": self._rng.bit_generator.state, "history": self._history.to_dict(),
                "schedule": self.schedule.state_dict(), "elapsed": time.perf_counter() - self._start,
                "best_params": self._best[0].copy(), "best_running": self._best[1].copy()}

    def _load_state(self, state):
        self._rng.bit_generator.state = state["rng"]
        self._history = History(**state["history"])
        self.schedule.load_state_dict(state["schedule"])
        self._best[0][:], self._best[1][:] = state["best_params"], state["best_running"]
        return int(state["step"]), float(state["elapsed"])

    def _fit_mini_batches(self, X, y, step):
        from tqdm.auto import tqdm  # imported here: it imports asyncio, 30 ms of every start-up
        self._runner = EpochRunner(self, X, y, self._rng)  # X and y were checked by fit
        self._runner.step = step
        total = self.epochs * (len(self._runner.bounds) - 1)
        with tqdm(total=total, initial=step, unit="step", desc="training", disable=None if self.progress else True,
                  dynamic_ncols=True, leave=False) as self._bar:
            for epoch in range(len(self._history.epochs) + 1, self.epochs + 1):
                lr = self._runner.run(epoch)
                self._end_epoch(epoch, lr)
        self._bar = None

    def epoch_runner(self, X, y, rng=None):
        """An EpochRunner over (X, y): ``runner.run(epoch)`` trains one epoch. ``fit`` drives one;
        ``scripts/benchmark.py`` and the estimator use the same code."""
        X = check_features(X, self.model.input_dim, self.model.dtype, "X_train")
        y = check_labels(y, X.shape[0], self.model.num_classes, "y_train")
        return EpochRunner(self, X, y, np.random.default_rng(self.seed) if rng is None else rng)

    def _fit_full_batch(self, X, y):
        if self.model.dropout > 0:
            self.log(f"{self.optimizer!r} is full-batch: dropout ({self.model.dropout}) is off for this run")

        def after_iteration(loss):
            self._record_step(loss, None, len(self._history.epochs) + 1)
            self._end_epoch(len(self._history.epochs) + 1, None)

        try:
            result = self.optimizer.minimize(self.model, X, y, self.epochs, callback=after_iteration)
        except NonFiniteLoss as error:
            raise Stop(f"{NON_FINITE} ({error}) in L-BFGS: check the data and the initialization") from None
        if len(self._history.epochs) < self.epochs:
            self._history.stop_reason = f"{'converged' if result.success else 'stopped'}: {result.message}"

    def _record_step(self, loss, lr, epoch):
        if not math.isfinite(loss):
            raise Stop(non_finite(loss, epoch, len(self._history.iteration_loss)))
        self._history.iteration_loss.append(loss)
        self._history.iteration_lr.append(lr)

    def _end_epoch(self, epoch, lr):
        """Evaluate, keep the best parameters, feed the schedule, log."""
        X_sub, y_sub, X_val, y_val = self._eval_sets
        train_loss, train_acc = self.model._evaluate(X_sub, y_sub)
        val_loss, val_acc = self.model._evaluate(X_val, y_val)
        record = {"epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
                  "val_loss": val_loss, "val_acc": val_acc, "time": time.perf_counter() - self._start}
        history = self._history
        history.epochs.append(record)
        if val_acc > history.best_val_acc:
            history.best_epoch, history.best_val_acc = epoch, val_acc
            self._best[0][:], self._best[1][:] = self.model.flat_params, self.model.running
        self.schedule.observe(val_loss)
        lr_text = "" if lr is None else f"  lr {lr:.3g}"
        self.log(f"epoch {epoch:3d}/{self.epochs}  loss {train_loss:.4f}  train acc {train_acc:.4f}  "
                 f"val loss {val_loss:.4f}  val acc {val_acc:.4f}{lr_text}  {record['time']:.1f}s")
        if self._on_epoch_end is not None:
            self._on_epoch_end(self)


def batch_bounds(n_samples, batch_size, batchnorm):
    """Where an epoch's mini-batches start, and n_samples at the end: ``len(bounds) - 1`` steps
    per epoch. Under batch norm a last batch of one sample joins the batch before (batch statistics
    need two samples)."""
    starts = list(range(0, n_samples, min(batch_size, n_samples)))
    if batchnorm and len(starts) > 1 and n_samples - starts[-1] == 1:
        starts.pop()
    return np.array(starts + [n_samples], np.int64)


class EpochRunner:
    """One epoch of mini-batch training at a time, in compiled code (kernels/training.py): shuffle,
    then for each batch gather it into preallocated buffers, [augment], forward/backward and update.
    Python runs once per CHUNK steps: to evaluate the schedule, record the history, and let Ctrl-C in."""

    CHUNK = 64

    def __init__(self, trainer, X, y, rng):
        self.trainer, self.X, self.y, self.rng = trainer, X, y, rng
        model = trainer.model
        batch_size = trainer.batch_size
        if batch_size > len(X):
            trainer.log(f"batch_size {batch_size} is larger than the {len(X)} training samples; using {len(X)}")
            batch_size = len(X)
        if model.batchnorm and batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 with batch norm (a batch's statistics need two "
                             f"samples), got {trainer.batch_size} with {len(X)} training samples")
        augment = trainer.augment
        if augment is not None and int(np.prod(augment.image_shape)) != X.shape[1]:
            raise ValueError(f"augment is for images of shape {augment.image_shape} ({int(np.prod(augment.image_shape))} "
                             f"features) but X_train has {X.shape[1]} features")
        self.bounds = batch_bounds(len(X), batch_size, model.batchnorm)
        capacity = int(np.diff(self.bounds).max())
        self.X_batch = np.empty((capacity, X.shape[1]), model.dtype)
        self.y_batch = np.empty(capacity, np.int64)
        self.X_augmented = np.empty_like(self.X_batch) if augment else self.X_batch
        self.augment_args = augment.kernel_args(model.dtype) if augment else \
            (np.zeros(3, np.int64), 0, False, model.dtype.type(0), np.zeros(3), np.zeros(3))
        self.augment_seed = seed_for(trainer.seed, AUGMENT_STREAM)
        self.losses = np.empty(self.CHUNK, np.float64)
        self.lrs = np.empty(self.CHUNK, np.float64)
        self.step = 0

    def run(self, epoch):
        """Train one epoch; returns the learning rate of its last step."""
        t, model, optimizer = self.trainer, self.trainer.model, self.trainer.optimizer
        order = self.rng.permutation(len(self.X))
        buffers = model.training_buffers(len(self.X_batch))
        scalars = model.training_scalars()
        slots = optimizer.prepare(model.flat_params, model.flat_grads)
        coef = optimizer.coefficients(model.dtype)
        batches = len(self.bounds) - 1
        for first in range(0, batches, self.CHUNK):
            count = min(self.CHUNK, batches - first)
            for k in range(count):
                self.lrs[k] = t.schedule(optimizer.lr, epoch - 1, self.step + k)
            if not (np.all(np.isfinite(self.lrs[:count])) and np.all(self.lrs[:count] >= 0)):
                raise ValueError(f"schedule must give finite learning rates >= 0, gave {self.lrs[:count].min()} "
                                 f"at epoch {epoch}")
            with threads.pools(model.flat_params.size):
                done = train_steps(self.X, self.y, order, self.bounds, first, count, self.X_batch, self.y_batch,
                                   t.augment is not None, *self.augment_args, self.augment_seed, self.X_augmented,
                                   *buffers, *scalars, np.uint64(t.seed), optimizer.kind, *slots, optimizer.flags,
                                   optimizer.hyper, coef, self.lrs, self.step, optimizer.steps, self.losses)
            optimizer.steps += done
            if t._bar is not None:
                t._bar.update(done)
                t._bar.set_postfix(epoch=epoch, loss=f"{self.losses[done - 1]:.4f}" if done else "-", refresh=False)
            t._history.iteration_loss.extend(self.losses[:done].tolist())
            t._history.iteration_lr.extend(self.lrs[:done].tolist())
            self.step += done
            if done < count:
                raise Stop(non_finite(self.losses[done], epoch, self.step))
        return float(self.lrs[count - 1])
