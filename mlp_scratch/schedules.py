"""Learning-rate schedules: the learning rate as a function of the training clock.

A schedule is called as ``schedule(lr0, epoch, iteration)``, where ``epoch`` counts the epochs
completed before this step (0 during the first epoch) and ``iteration`` the steps completed before
it (0 for the first step). Each schedule below says whether it moves per epoch or per iteration
(``per``); the trainer takes every step's rate, a chunk of steps at a time (``fill``), so per-epoch
schedules change at epoch boundaries.
ReduceLROnPlateau also observes the validation loss at the end of each epoch.
"""
import bisect
import math

from mlp_scratch.validation import check_int, check_number, check_positive_int


class Schedule:
    """Base class: a constant learning rate. Subclasses override ``multiplier`` (or ``__call__``)."""
    per = "iteration"

    def __call__(self, lr0, epoch, iteration):
        return lr0 * self.multiplier(epoch, iteration)

    def multiplier(self, epoch, iteration):
        return 1.0

    def fill(self, out, lr0, epoch, iteration):
        """out[k] = self(lr0, epoch, iteration + k): the learning rates of consecutive steps of one epoch
        (a schedule that moves per epoch is evaluated once)."""
        if self.per == "epoch":
            out[:] = self(lr0, epoch, iteration)
        else:
            for k in range(len(out)):
                out[k] = self(lr0, epoch, iteration + k)

    def clock(self, epoch, iteration):
        """t for schedules that count either iterations or epochs (``per``)."""
        return iteration if self.per == "iteration" else epoch

    def observe(self, val_loss):
        """Called with the validation loss after each epoch; only ReduceLROnPlateau uses it."""

    def state_dict(self):
        return dict(vars(self))

    def load_state_dict(self, state):
        vars(self).update(state)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Constant(Schedule):
    """lr0 throughout."""
    per = "epoch"


class StepLR(Schedule):
    """Per epoch: lr0 * gamma ** (epoch // step_size)   (torch.optim.lr_scheduler.StepLR)."""
    per = "epoch"

    def __init__(self, step_size, gamma=0.1):
        self.step_size = check_positive_int("step_size", step_size)
        self.gamma = check_number("gamma", gamma, low=0, low_open=True)

    def multiplier(self, epoch, iteration):
        return self.gamma ** (epoch // self.step_size)


class MultiStepLR(Schedule):
    """Per epoch: lr0 * gamma ** (number of milestones <= epoch)   (torch's MultiStepLR)."""
    per = "epoch"

    def __init__(self, milestones, gamma=0.1):
        if not hasattr(milestones, "__iter__"):
            raise ValueError(f"milestones must be a list of epochs, got {milestones!r}")
        self.milestones = sorted(check_positive_int("milestones", m) for m in milestones)
        self.gamma = check_number("gamma", gamma, low=0, low_open=True)

    def multiplier(self, epoch, iteration):
        return self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ExponentialLR(Schedule):
    """Per epoch: lr0 * gamma ** epoch   (torch's ExponentialLR)."""
    per = "epoch"

    def __init__(self, gamma):
        self.gamma = check_number("gamma", gamma, low=0, low_open=True)

    def multiplier(self, epoch, iteration):
        return self.gamma ** epoch


class ExponentialDecay(Schedule):
    """Per iteration: lr0 * exp(-k * t)   (the lecture's exponential decay, t = iteration)."""

    def __init__(self, k):
        self.k = check_number("k", k, low=0)

    def multiplier(self, epoch, iteration):
        return math.exp(-self.k * iteration)


class InverseTimeDecay(Schedule):
    """lr0 / (1 + k * t), with t the iteration (per="iteration", default) or the epoch (per="epoch")."""

    def __init__(self, k, per="iteration"):
        self.k = check_number("k", k, low=0)
        self.per = _check_per(per)

    def multiplier(self, epoch, iteration):
        return 1.0 / (1.0 + self.k * self.clock(epoch, iteration))


class CosineAnnealingLR(Schedule):
    """eta_min + (lr0 - eta_min) * (1 + cos(pi * t / t_max)) / 2 for t <= t_max, then eta_min;
    t counts epochs (per="epoch", default, as torch's CosineAnnealingLR is usually stepped) or
    iterations."""

    def __init__(self, t_max, eta_min=0.0, per="epoch"):
        self.t_max = check_positive_int("t_max", t_max)
        self.eta_min = check_number("eta_min", eta_min, low=0)
        self.per = _check_per(per)

    def __call__(self, lr0, epoch, iteration):
        t = min(self.clock(epoch, iteration), self.t_max)
        return self.eta_min + (lr0 - self.eta_min) * (1 + math.cos(math.pi * t / self.t_max)) / 2


class CosineWarmRestarts(Schedule):
    """lr0 / 2 * (1 + cos(pi * (t mod T) / T)), T = ``cycle_length``: a cosine from lr0 down to near 0,
    restarted every T iterations (per="iteration", default) or epochs (per="epoch"); SGDR
    (Loshchilov & Hutter 2017), torch's CosineAnnealingWarmRestarts with T_mult=1 and eta_min=0.
    Snapshot ensembles take a model at the end of each cycle."""

    def __init__(self, cycle_length, per="iteration"):
        self.cycle_length = check_positive_int("cycle_length", cycle_length)
        self.per = _check_per(per)

    def __call__(self, lr0, epoch, iteration):
        t = self.clock(epoch, iteration) % self.cycle_length
        return lr0 / 2 * (1 + math.cos(math.pi * t / self.cycle_length))


class LinearWarmup(Schedule):
    """Per iteration for the first ``warmup`` steps: schedule(lr0, ...) * (t + 1) / warmup, then
    ``schedule`` unchanged. Goes in front of any schedule."""

    def __init__(self, schedule, warmup):
        self.schedule = schedule
        self.warmup = check_positive_int("warmup", warmup)

    def __call__(self, lr0, epoch, iteration):
        return self.schedule(lr0, epoch, iteration) * min(1.0, (iteration + 1) / self.warmup)

    def observe(self, val_loss):
        self.schedule.observe(val_loss)

    def state_dict(self):
        return {"warmup": self.warmup, "schedule": self.schedule.state_dict()}

    def load_state_dict(self, state):
        self.warmup = state["warmup"]
        self.schedule.load_state_dict(state["schedule"])


class ReduceLROnPlateau(Schedule):
    """Per epoch, driven by the validation loss (torch's ReduceLROnPlateau, mode "min", relative
    threshold): after ``patience`` epochs without a loss below best * (1 - threshold), multiply the
    learning rate by ``factor`` (not below ``min_lr``; and not at all when that would change it by
    ``eps`` or less), then wait ``cooldown`` epochs."""
    per = "epoch"

    def __init__(self, factor=0.1, patience=10, threshold=1e-4, cooldown=0, min_lr=0.0, eps=1e-8):
        self.factor = check_number("factor", factor, low=0, high=1, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, low=0)
        self.threshold = check_number("threshold", threshold, low=0, high=1, high_open=True)
        self.cooldown = check_int("cooldown", cooldown, low=0)
        self.min_lr = check_number("min_lr", min_lr, low=0)
        self.eps = check_number("eps", eps, low=0)
        self.scale, self.best, self.bad_epochs, self.cooldown_left = 1.0, math.inf, 0, 0
        self.lr0 = None  # the learning rate it scales, as of the last call

    def __call__(self, lr0, epoch, iteration):
        self.lr0 = lr0
        return self._lr(self.scale)

    def _lr(self, scale):
        return max(self.lr0 * scale, self.min_lr)

    def _changes_enough(self, scale):
        return self.lr0 is None or self._lr(self.scale) - self._lr(scale) > self.eps

    def observe(self, val_loss):
        if val_loss < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = val_loss, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        elif self.bad_epochs > self.patience:
            if self._changes_enough(self.scale * self.factor):
                self.scale *= self.factor
            self.cooldown_left, self.bad_epochs = self.cooldown, 0


def _check_per(per):
    if per not in ("iteration", "epoch"):
        raise ValueError(f"per must be 'iteration' or 'epoch', got {per!r}")
    return per


SCHEDULES = {"constant": Constant, "step": StepLR, "multistep": MultiStepLR, "exponential": ExponentialLR,
             "exp-decay": ExponentialDecay, "inverse-time": InverseTimeDecay, "cosine": CosineAnnealingLR,
             "cosine-restarts": CosineWarmRestarts, "plateau": ReduceLROnPlateau}


def make_schedule(name, warmup=0, **kwargs):
    """A schedule by name (see SCHEDULES), with linear warm-up over ``warmup`` iterations if > 0."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {sorted(SCHEDULES)}, got {name!r}")
    schedule = SCHEDULES[name](**kwargs)
    return LinearWarmup(schedule, warmup) if warmup else schedule


class FunctionSchedule(Schedule):
    """A plain callable ``f(lr0, epoch, iteration) -> lr`` as a Schedule (no state to save)."""

    def __init__(self, function):
        self.function = function

    def __call__(self, lr0, epoch, iteration):
        return self.function(lr0, epoch, iteration)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def as_schedule(schedule):
    """None -> Constant, a Schedule as it is, any other callable wrapped; anything else refused."""
    if schedule is None:
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    if callable(schedule):
        return FunctionSchedule(schedule)
    raise ValueError(f"schedule must be a Schedule (see make_schedule) or a callable (lr0, epoch, iteration) -> lr, "
                     f"got {schedule!r}")
