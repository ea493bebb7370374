"""Mini-batch training: shuffled batches each epoch, validation each epoch, history, best parameters.
Full-batch optimizers (L-BFGS) run one of their iterations per epoch instead."""
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from mlp_scratch import diagnostics as watch
from mlp_scratch import threads
from mlp_scratch.kernels.training.augment import kernel_settings
from mlp_scratch.kernels.random import seed_for
from mlp_scratch.kernels.training.loop import Batches, Steps, train_steps
from mlp_scratch.lbfgs import NonFiniteLoss
from mlp_scratch.schedules import as_schedule
from mlp_scratch.validation import (check_bool, check_features, check_int, check_positive_int, check_seed,
                                    features_and_magnitude)


@dataclass
class History:
    """What a run produced. ``iteration_loss`` is the minimized objective (data loss + L2 penalty) of
    each step and ``iteration_lr`` the learning rate it used; the per-epoch losses in ``epochs`` are
    data losses in evaluation mode, comparable across L2 strengths."""
    iteration_loss: list = field(default_factory=list)
    iteration_lr: list = field(default_factory=list)
    # dicts: epoch, lr, batch_loss (the epoch's step losses weighted by batch size), train_loss,
    # train_acc, val_loss, val_acc (None where not measured), time; a regression network's
    # records have train_r2 and val_r2 in place of the accuracies (MLP.metric)
    epochs: list = field(default_factory=list)
    best_epoch: int = 0
    best_val_score: float = -math.inf  # the best validation accuracy (R^2 for regression); -inf before any
    stop_reason: str = "completed"
    # With diagnostics on (mlp_scratch/diagnostics.py): a dict per record and layer, and the histograms
    diagnostics: list = field(default_factory=list)
    histograms: list = field(default_factory=list)

    @property
    def best_val_acc(self):
        """The former name of best_val_score, for code written before regression came."""
        return self.best_val_score

    @property
    def metric(self):
        """The score the epochs record: "acc" (accuracy), or "r2" (R^2) for a regression network."""
        return "r2" if self.epochs and "val_r2" in self.epochs[0] else "acc"

    def to_dict(self):
        """Plain lists and dicts (copies; dataclasses.asdict deep-copies every number, 7 ms for a
        2-epoch run of 1,250 steps)."""
        return {**vars(self), "iteration_loss": list(self.iteration_loss), "iteration_lr": list(self.iteration_lr),
                # JSON has no infinity: None until a validation epoch
                "best_val_score": self.best_val_score if math.isfinite(self.best_val_score) else None,
                "epochs": [dict(record) for record in self.epochs],
                "diagnostics": [dict(row) for row in self.diagnostics],
                "histograms": [dict(row) for row in self.histograms]}


# Augmentation draws from its own stream of the run's seed; steps use streams 0, 1, 2, ... for dropout.
AUGMENT_STREAM = 2 ** 40


METRIC_NAMES = {"acc": "accuracy", "r2": "R^2"}  # MLP.metric as the log and the command line name it

# How History.stop_reason begins when training diverged or was interrupted (sweeps read them).
NON_FINITE, INTERRUPTED = "non-finite loss", "interrupted"


def non_finite(loss, epoch, iteration):
    return f"{NON_FINITE} ({loss}) at epoch {epoch}, iteration {iteration}: lower the learning rate or check the data"


def overflowing(where, dtype):
    return (f"{NON_FINITE} {where}: the parameters grew too large for {dtype} (the forward pass overflows); lower "
            f"the learning rate")


def silent(line):
    """The log of a quiet trainer (a named function, so that trainers pickle)."""


class Stop(Exception):
    """Ends training early with a reason for the history."""


class Trainer:
    """Trains ``model`` with ``optimizer`` on a Dataset (see mlp_scratch.datasets): the package's one
    epoch loop, which the command line, the experiments, the sweeps and the estimator all drive.

    Parameters
    ----------
    epochs, batch_size : int
        A batch size above the number of training samples is clipped to it (with a warning).
        With a full-batch optimizer (L-BFGS) an epoch is one of its iterations.
    schedule : callable or None
        ``schedule(lr0, epoch, iteration)`` gives each step's learning rate from the optimizer's
        ``lr`` (see mlp_scratch.schedules); None keeps it constant.
    seed : int
        Seeds the shuffling and the dropout masks: the same seed gives bitwise-identical training at
        a fixed thread count.
    restore_best : bool
        At the end, put back the parameters of the epoch with the best validation score (accuracy,
        or R^2 for a regression network; the initial ones if training stopped before the first
        epoch ended). Without validation data the last parameters stay.
    train_eval_samples : int
        Training accuracy and loss per epoch are measured in evaluation mode on at most this many
        training samples (a fixed random subset), since a full pass over a large set costs as much
        as an epoch; 0 measures none (``batch_loss``, the epoch's mean training objective, is
        always recorded).
    augment : Augmentation or None
        Augments each training mini-batch in the compiled loop (mlp_scratch.datasets.Augmentation);
        validation, test and the data set itself are untouched.
    log : callable or None
        Receives one line per epoch; None for silence.
    progress : bool
        A progress bar over the steps (loss, validation accuracy, samples/s); tqdm hides it when
        the output is not a terminal.
    diagnostics : None, True, int or Diagnostics
        Per-layer statistics every epoch (True), every that many steps, or as a Diagnostics says
        (mlp_scratch/diagnostics.py), into ``history.diagnostics`` and ``history.histograms``; a
        broken rule of thumb is logged once per layer. Mini-batch optimizers only.

    Weight decay, where the optimizer has it, applies to weight matrices only (``model.weight_mask``).
    """

    def __init__(self, model, optimizer, *, epochs=10, batch_size=64, schedule=None, seed=0,
                 restore_best=True, train_eval_samples=10000, augment=None, log=print, progress=False,
                 diagnostics=None):
        self.model = model
        self.optimizer = optimizer
        self.epochs = check_positive_int("epochs", epochs)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.schedule = as_schedule(schedule)
        self.seed = check_seed("seed", seed)
        self.restore_best = check_bool("restore_best", restore_best)
        self.train_eval_samples = check_int("train_eval_samples", train_eval_samples, low=0)
        if log is not None and not callable(log):
            raise ValueError(f"log must be a callable taking one line of text, or None, got {log!r}")
        self.log = log or silent
        self.progress = check_bool("progress", progress)
        self.full_batch = getattr(optimizer, "full_batch", False)
        if self.full_batch:
            optimizer.check_model(model)
        if augment is not None and self.full_batch:
            raise ValueError(f"augment needs mini-batches; {optimizer!r} is full-batch")
        if self.full_batch and model.dropout > 0 and model.dropout_mode == "classic":
            raise ValueError(f"{optimizer!r} trains without dropout, but a model with dropout_mode='classic' scales "
                             f"its outputs at test time for the dropout it trained with: use dropout_mode='inverted'")
        self.diagnostics = watch.as_diagnostics(diagnostics)
        if self.diagnostics is not None and self.full_batch:
            raise ValueError(f"diagnostics watch mini-batch steps; {optimizer!r} is full-batch")
        self.augment = augment
        self.history = History()
        self._runner = None
        optimizer.set_masks(decay=model.weight_mask())

    def fit(self, data, on_epoch_end=None, resume=None, largest_input=None):
        """Train on data.X_train / y_train, validating on X_val / y_val (None: no validation).
        Returns the History, also kept as ``history``.

        ``on_epoch_end(trainer)`` runs after each epoch (a run folder saves its checkpoint there, from
        ``state_dict``; the estimator applies its stopping rule) and may end training by raising
        ``Stop(reason)``. ``resume`` is a ``state_dict``, from which training continues exactly as
        the original run would have, up to ``epochs`` epochs in all. ``largest_input`` is a bound
        on |x| over X_train and X_val found by a caller that has checked them finite (the estimators
        do, naming their X): they are not read again. Stops early, keeping the best parameters and
        the history, on a non-finite loss or on KeyboardInterrupt (``history.stop_reason`` says which)."""
        model = self.model
        X, magnitude = features_and_magnitude(data.X_train, model.input_dim, model.dtype, "X_train",
                                              largest_input)
        magnitudes = [magnitude]  # of the sets whose predictions must be finite at the end
        y = model.check_targets(data.y_train, X.shape[0], "y_train")
        if not model.regression:
            warn_if_too_few(y, model.num_classes)
        validation = None
        if data.X_val is not None:
            X_val, magnitude = features_and_magnitude(data.X_val, model.input_dim, model.dtype, "X_val",
                                                  largest_input)
            magnitudes.append(magnitude)
            if model.regression and len(X_val) < 2:
                raise ValueError(f"X_val: R^2 needs at least 2 validation samples (their variance), got {len(X_val)}")
            validation = (X_val, model.check_targets(data.y_val, X_val.shape[0], "y_val"))
        self._rng = np.random.default_rng(self.seed)
        subset = np.sort(self._rng.permutation(len(X))[:self.train_eval_samples]) if self.train_eval_samples else []
        self._eval_sets = ((X[subset], y[subset]) if len(subset) else None, validation)
        self._histogram_sample = X[:self.diagnostics.histogram_samples] if self.diagnostics else None
        self._advised = set()
        self._covers_all = len(subset) == len(X)  # the epochs' evaluation sees every training row
        self.history = History()
        self._best = (model.flat_params.copy(), model.running.copy())
        self._on_epoch_end = on_epoch_end
        self._runner = None
        step, elapsed = 0, 0.0
        if resume is not None:
            if self.full_batch:
                raise ValueError("resume: a full-batch (L-BFGS) run cannot be resumed; start it again")
            step, elapsed = self._load_state(resume)
        # The parameters to fall back on after a divergence: those of the last epoch whose evaluation
        # was finite (first the starting ones), and the starting ones.
        self._finite = (model.flat_params.copy(), model.running.copy())
        self._start_params = (model.flat_params.copy(), model.running.copy())
        self._start = time.perf_counter() - elapsed
        try:
            with threads.subnormals_flushed(model.flat_params.size):
                if self.full_batch:
                    self._fit_full_batch(X, y)
                else:
                    self._fit_mini_batches(X, y, step)
        except Stop as stop:
            self.history.stop_reason = str(stop)
            self.log(f"stopped: {stop}")
        except KeyboardInterrupt:
            self.history.stop_reason = f"{INTERRUPTED} after {len(self.history.epochs)} epochs"
            self.log("stopped: " + self.history.stop_reason)
        if self.history.stop_reason.startswith(NON_FINITE):
            model.flat_params[:], model.running[:] = self._finite
        if self.restore_best and validation is not None:
            model.flat_params[:], model.running[:] = self._best
        self._hand_back_finite([X] + ([validation[0]] if validation else []), magnitudes)
        return self.history

    def _hand_back_finite(self, sets, magnitudes):
        """Never hand back a model whose predictions on its training or validation data (``sets``, of
        largest magnitudes ``magnitudes``) are not finite: parameters whose forward pass overflows
        there count as divergence, and the last ones whose evaluation was finite come back (or the
        starting ones)."""
        model = self.model
        if self._covers_all and np.array_equal(model.flat_params, self._finite[0]):
            return  # the last epoch's evaluation saw every row
        # Below this no score can be: the forward pass need not run (the margin covers its rounding).
        safe = np.finfo(model.dtype).max / 1e3
        input_bounds = [np.sqrt(X.shape[1]) * magnitude for X, magnitude in zip(sets, magnitudes)]

        def predicts_finite():
            return all(model.score_bound(bound) < safe or np.isfinite(model.scores_checked(X)).all()
                       for X, bound in zip(sets, input_bounds))

        if predicts_finite():
            return
        self.history.stop_reason = overflowing(f"in the predictions after epoch {len(self.history.epochs)}",
                                               model.dtype)
        self.log("stopped: " + self.history.stop_reason)
        for params, running in (self._finite, self._start_params):
            model.flat_params[:], model.running[:] = params, running
            if predicts_finite():
                return

    def state_dict(self):
        """The run's state at the end of an epoch, beyond the model's and optimizer's: epoch and
        step counters, the shuffling generator, the history, the best parameters so far, the
        schedule's state and the elapsed time."""
        return {"epoch": len(self.history.epochs), "step": self._runner.step if self._runner else 0,
                "rng": self._rng.bit_generator.state, "history": self.history.to_dict(),
                "schedule": self.schedule.state_dict(), "elapsed": time.perf_counter() - self._start,
                "best_params": self._best[0].copy(), "best_running": self._best[1].copy()}

    def _load_state(self, state):
        self._rng.bit_generator.state = state["rng"]
        history = dict(state["history"])
        if "best_val_acc" in history:  # checkpoints written before regression came (-1.0: none yet)
            best = history.pop("best_val_acc")
            history["best_val_score"] = None if best < 0 else best
        if history["best_val_score"] is None:
            history["best_val_score"] = -math.inf
        self.history = History(**history)
        self.schedule.load_state_dict(state["schedule"])
        self._best[0][:], self._best[1][:] = state["best_params"], state["best_running"]
        return int(state["step"]), float(state["elapsed"])

    def _fit_mini_batches(self, X, y, step):
        from tqdm.auto import tqdm  # imported here: it imports asyncio, 30 ms of every start-up
        self._runner = self._epoch_runner_checked(X, y, self._rng)  # fit has checked X and y
        self._runner.step = step
        total = self.epochs * (len(self._runner.bounds) - 1)
        with tqdm(total=total, initial=step, unit="step", desc="training", disable=None if self.progress else True,
                  dynamic_ncols=True, leave=False) as bar:
            def record(losses, lrs):
                self.history.iteration_loss.extend(losses.tolist())
                self.history.iteration_lr.extend(lrs.tolist())
                bar.update(len(losses))
                bar.set_postfix(epoch=epoch, loss=f"{losses[-1]:.4f}" if len(losses) else "-", refresh=False)

            for epoch in range(len(self.history.epochs) + 1, self.epochs + 1):
                lr, batch_loss = self._runner.run(epoch, record)
                self._end_epoch(epoch, lr, batch_loss)

    def epoch_runner(self, X, y, rng=None):
        """An EpochRunner of this trainer's settings over (X, y): ``runner.run(epoch)`` trains one
        epoch. ``fit`` drives one; ``scripts/benchmark.py`` times the same code."""
        X = check_features(X, self.model.input_dim, self.model.dtype, "X_train")
        y = self.model.check_targets(y, X.shape[0], "y_train")
        return self._epoch_runner_checked(X, y, np.random.default_rng(self.seed) if rng is None else rng)

    def _epoch_runner_checked(self, X, y, rng):
        return EpochRunner(self.model, self.optimizer, X, y, batch_size=self.batch_size, schedule=self.schedule,
                           augment=self.augment, seed=self.seed, rng=rng, diagnostics=self.diagnostics)

    def _fit_full_batch(self, X, y):
        if self.model.dropout > 0:
            self.log(f"{self.optimizer!r} is full-batch: dropout ({self.model.dropout}) is off for this run")

        def after_iteration(loss):
            epoch = len(self.history.epochs) + 1
            if not math.isfinite(loss):
                raise Stop(non_finite(loss, epoch, len(self.history.iteration_loss)))
            self.history.iteration_loss.append(loss)
            self.history.iteration_lr.append(None)
            self._end_epoch(epoch, None, loss)

        try:
            result = self.optimizer.minimize(self.model, X, y, self.epochs, callback=after_iteration)
        except NonFiniteLoss as error:
            raise Stop(f"{NON_FINITE} ({error}) in L-BFGS: check the data and the initialization") from None
        if len(self.history.epochs) < self.epochs:
            self.history.stop_reason = f"{'converged' if result.success else 'stopped'}: {result.message}"

    def _end_epoch(self, epoch, lr, batch_loss):
        """Evaluate, keep the best parameters, feed the schedule, log, call on_epoch_end."""
        train, validation = self._eval_sets
        train_loss, train_score = self.model.evaluate_checked(*train) if train else (None, None)
        val_loss, val_score = self.model.evaluate_checked(*validation) if validation else (None, None)
        for name, loss in (("training", train_loss), ("validation", val_loss)):
            if loss is not None and not math.isfinite(loss):
                raise Stop(overflowing(f"({loss}) on the {name} data after epoch {epoch}", self.model.dtype))
        self._finite[0][:], self._finite[1][:] = self.model.flat_params, self.model.running
        metric = self.model.metric
        record = {"epoch": epoch, "lr": lr, "batch_loss": batch_loss, "train_loss": train_loss,
                  f"train_{metric}": train_score, "val_loss": val_loss, f"val_{metric}": val_score,
                  "time": time.perf_counter() - self._start}
        history = self.history
        history.epochs.append(record)
        if val_score is not None and val_score > history.best_val_score:
            history.best_epoch, history.best_val_score = epoch, val_score
            self._best[0][:], self._best[1][:] = self.model.flat_params, self.model.running
        self.schedule.observe(batch_loss if val_loss is None else val_loss)
        shown = {"loss": batch_loss if train_loss is None else train_loss, f"train {metric}": train_score,
                 "val loss": val_loss, f"val {metric}": val_score}
        text = "  ".join(f"{name} {value:.4f}" for name, value in shown.items() if value is not None)
        lr_text = "" if lr is None else f"  lr {lr:.3g}"
        self.log(f"epoch {epoch:3d}/{self.epochs}  {text}{lr_text}  {record['time']:.1f}s")
        if self.diagnostics is not None:
            self._watch(epoch)
        if self._on_epoch_end is not None:
            self._on_epoch_end(self)

    def _watch(self, epoch):
        """The epoch's diagnostics into the history; each broken rule of thumb logged once per layer."""
        rows = self._runner.take_records()
        self.history.diagnostics.extend(rows)
        for layer, rule, text in watch.advice_by_record(rows, self.model, self.diagnostics.period()):
            if (layer, rule) not in self._advised:
                self._advised.add((layer, rule))
                self.log(f"  diagnostics, epoch {epoch}: {text}")
        if epoch in self.diagnostics.histogram_epochs(self.epochs):
            self.history.histograms.extend(watch.histograms(self.model, self._histogram_sample, epoch))


FEW_PER_CLASS = 5  # fewer training samples than this many per class, on average: a warning


def warn_if_too_few(y, n_classes):
    """Warn when the training set is too small to learn from: fewer than FEW_PER_CLASS samples per
    class on average, or classes without any."""
    missing = int(np.sum(np.bincount(y, minlength=n_classes) == 0))
    if len(y) < FEW_PER_CLASS * n_classes or missing:
        warnings.warn(f"the training set has {len(y)} samples for {n_classes} classes"
                      f"{f' ({missing} of them have none)' if missing else ''}: too few to learn them; train on "
                      f"more samples (at least {FEW_PER_CLASS} per class)", stacklevel=3)


def batch_bounds(n_samples, batch_size, batchnorm):
    """Where an epoch's mini-batches start, and n_samples at the end: ``len(bounds) - 1`` steps
    per epoch. Under batch norm a last batch of one sample joins the batch before (batch statistics
    need two samples)."""
    starts = list(range(0, n_samples, min(batch_size, n_samples)))
    if batchnorm and len(starts) > 1 and n_samples - starts[-1] == 1:
        starts.pop()
    return np.array(starts + [n_samples], np.int64)


class EpochRunner:
    """One epoch of mini-batch training at a time, in compiled code (kernels/training/loop.py): shuffle,
    then for each batch gather it into preallocated buffers, [augment], forward/backward and update.
    Python runs once per chunk of steps: to evaluate the schedule, record the losses, and let Ctrl-C in.
    A chunk is CHUNK steps at first and doubles, up to LONGEST, while one takes less than
    CHUNK_SECONDS: Python's part of a chunk takes about 0.1 ms, 2 us a step of 64-64-64-10 at batch 32
    in chunks of 64. (With diagnostics on it stays at CHUNK, the probe's capacity.) ``step`` counts
    the steps taken over the run (it seeds dropout and augmentation, and drives per-step schedules)."""

    CHUNK, LONGEST, CHUNK_SECONDS = 64, 1024, 0.02

    def __init__(self, model, optimizer, X, y, *, batch_size, schedule, augment, seed, rng, diagnostics=None):
        self.model, self.optimizer, self.X, self.y, self.rng = model, optimizer, X, y, rng
        self.schedule = schedule
        if batch_size > len(X):
            warnings.warn(f"batch_size {batch_size} is larger than the {len(X)} training samples: every step "
                          f"uses all {len(X)} (full batch)", stacklevel=3)
            batch_size = len(X)
        if model.batchnorm and batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 with batch norm (a batch's statistics need two "
                             f"samples), got {batch_size} with {len(X)} sample{'' if len(X) == 1 else 's'} of "
                             f"training data")
        if augment is not None and int(np.prod(augment.image_shape)) != X.shape[1]:
            raise ValueError(f"augment is for images of shape {augment.image_shape} ({int(np.prod(augment.image_shape))} "
                             f"features) but X_train has {X.shape[1]} features")
        self.bounds = batch_bounds(len(X), batch_size, model.batchnorm)
        self.batch_sizes = np.diff(self.bounds)
        capacity = int(self.batch_sizes.max())
        X_batch = np.empty((capacity, X.shape[1]), model.dtype)
        y_batch = np.empty((capacity,) + y.shape[1:], y.dtype)  # labels, or a regression network's target rows
        self.batches = Batches(X, y, np.arange(len(X)), self.bounds, X_batch, y_batch,
                               np.empty_like(X_batch) if augment else X_batch)
        self.augment = kernel_settings(augment, model.dtype)
        self.seed, self.augment_seed = np.uint64(seed), seed_for(seed, AUGMENT_STREAM)
        self.chunk = self.CHUNK
        self.losses = np.empty(self.LONGEST, np.float64)
        self.lrs = np.empty(self.LONGEST, np.float64)
        self.step = 0
        self.probe = watch.probe(model, diagnostics.steps(len(self.batch_sizes)), self.CHUNK) if diagnostics else None
        self._records = []

    def take_records(self):
        """The diagnostics' rows recorded since the last call (mlp_scratch/diagnostics.py)."""
        rows, self._records = self._records, []
        return rows

    def run(self, epoch, record=None):
        """Train one epoch; ``record(losses, lrs)`` receives each chunk's step losses and learning
        rates. Returns (the learning rate of the last step, the epoch's mean training objective:
        the step losses weighted by batch size, as scikit-learn's loss_curve_). Raises Stop on a
        non-finite loss."""
        model, optimizer = self.model, self.optimizer
        batches = self.batches._replace(order=self.rng.permutation(len(self.X)))
        net, work = model.network(), model.workspace(len(batches.X_batch))
        probe = self.probe
        opt = optimizer.compiled(model.flat_params, model.flat_grads)
        count_all = len(self.bounds) - 1
        total = 0.0
        with threads.subnormals_flushed(model.flat_params.size):
            first = 0
            while first < count_all:
                count = min(self.chunk, count_all - first)
                self.schedule.fill(self.lrs[:count], optimizer.lr, epoch - 1, self.step)
                if not (np.all(np.isfinite(self.lrs[:count])) and np.all(self.lrs[:count] >= 0)):
                    raise ValueError(f"schedule must give finite learning rates >= 0, gave {self.lrs[:count].min()} "
                                     f"at epoch {epoch}")
                steps = Steps(first, count, self.step, self.seed, self.augment_seed, self.lrs, self.losses)
                start = time.perf_counter()
                with threads.pools(model.flat_params.size):
                    done = train_steps(batches, self.augment, net, work, opt, steps, probe)
                if probe is None and time.perf_counter() - start < self.CHUNK_SECONDS:
                    self.chunk = min(2 * self.chunk, self.LONGEST)
                if probe is not None:
                    self._records.extend(watch.take_rows(probe, len(self.batch_sizes)))
                if record is not None:
                    record(self.losses[:done], self.lrs[:done])
                total += float(self.losses[:done] @ self.batch_sizes[first:first + done])
                self.step += done
                if done < count:
                    raise Stop(non_finite(self.losses[done], epoch, self.step))
                first += count
        return float(self.lrs[count - 1]), total / len(self.X)
