"""Optimizers over flat arrays: a formula (in the docstring and once in its kernel), explicit state
arrays, and nothing else. They never see layers: per-element treatment comes as masks."""
import numpy as np

from mlp_scratch import threads
from mlp_scratch.kernels.training import optimizers as kernels
from mlp_scratch.lbfgs import LBFGS
from mlp_scratch.random_search import RandomSearch
from mlp_scratch.second_order import BFGS, HessianFree
from mlp_scratch.validation import check_bool, check_int, check_number



class Optimizer:
    """Base class. A subclass names its compiled update rule by the structure of its hyperparameters
    (``rule``, a NamedTuple of kernels/training/optimizers.py, filled by name from
    ``hyperparameters``) and the state arrays it keeps (``state_names``, torch.optim's names).

    ``step(params, grads, lr=None)`` updates ``params`` in place from ``grads`` (flat float arrays of
    one dtype); ``lr`` overrides the learning rate for this step (a schedule's value). State arrays are
    created on the first step with the parameters' size and dtype. ``steps`` counts the steps taken,
    by ``step`` or by the compiled training loop, which advances it itself.
    """

    state_names = ()

    def __init__(self, lr, **hyperparameters):
        self.lr = check_number("lr", lr, low=0, low_open=True)
        self.hyperparameters = hyperparameters
        self.hyper = self._compiled_hyperparameters()
        self._steps = np.zeros(1, np.int64)  # shared with the compiled update, which advances it
        self.state = {}
        self.decay_mask = self.frozen_mask = None
        self.flags = None

    @property
    def steps(self):
        return int(self._steps[0])

    @steps.setter
    def steps(self, value):
        self._steps[0] = check_int("steps", value, low=0)

    def _compiled_hyperparameters(self):
        """The hyperparameters the compiled update reads: the fields of ``rule``, each of its type."""
        values = self._hyper()
        return self.rule(**{name: kind(values[name]) for name, kind in self.rule.__annotations__.items()})

    def _hyper(self):
        """The hyperparameters by the names of ``rule``'s fields (a subclass adds those it derives)."""
        return self.hyperparameters

    def set_masks(self, decay=None, frozen=None):
        """Boolean per-element masks: where weight decay applies (default: everywhere, as in torch)
        and which elements are frozen (default: none). A mask left as None keeps its current value;
        ``clear_masks`` resets both."""
        if decay is not None:
            self.decay_mask = np.asarray(decay, bool)
        if frozen is not None:
            self.frozen_mask = np.asarray(frozen, bool)
        masks = [m for m in (self.decay_mask, self.frozen_mask) if m is not None]
        if any(m.shape != masks[0].shape or m.ndim != 1 for m in masks):
            raise ValueError(f"decay and frozen masks must be 1-D of one size, got {[m.shape for m in masks]}")
        flags = np.full(masks[0].shape, kernels.DECAY, np.uint8)
        if self.decay_mask is not None:
            flags[~self.decay_mask] = 0
        if self.frozen_mask is not None:
            flags[self.frozen_mask] |= kernels.FROZEN
        self.flags = flags

    def clear_masks(self):
        self.decay_mask = self.frozen_mask = None
        self.flags = None

    def _init_state(self, params):
        return {name: np.zeros_like(params) for name in self.state_names}

    def step(self, params, grads, lr=None):
        lr = self.lr if lr is None else check_number("lr", lr, low=0)
        threads.apply()
        kernels.optimizer_update(params, grads, self.compiled(params, grads), lr)

    def compiled(self, params, grads):
        """The optimizer as the compiled update takes it (kernels.OptimizerState) for these
        parameters and gradients: checked against each other and against the masks and state (the
        compiled update indexes them without bounds checks), the state created on first use."""
        if (params.shape != grads.shape or params.ndim != 1 or params.dtype != grads.dtype
                or params.dtype.kind != "f"):
            raise ValueError(f"params and grads must be flat float arrays of one shape and dtype, got "
                             f"{params.shape} {params.dtype} and {grads.shape} {grads.dtype}")
        if self.flags is not None and self.flags.size != params.size:
            raise ValueError(f"the masks have {self.flags.size} elements but params has {params.size}")
        if not self.state:
            self.state = self._init_state(params)
        for name in self.state_names:
            array = self.state.get(name)
            if array is None or array.shape != params.shape or array.dtype != params.dtype:
                raise ValueError(f"optimizer state {name!r} must match params ({params.shape} {params.dtype}), "
                                 f"got {None if array is None else (array.shape, array.dtype)}")
        unused = params[:0]
        buffers = kernels.Buffers(**{name: self.state.get(name, unused) for name in kernels.Buffers._fields})
        return kernels.OptimizerState(self.hyper, buffers, self.flags, self._steps)

    def state_dict(self):
        """Everything needed to continue exactly: hyperparameters, step count, state arrays."""
        return {"lr": self.lr, "hyperparameters": dict(self.hyperparameters), "steps": self.steps,
                "state": {name: array.copy() for name, array in self.state.items()}}

    def load_state_dict(self, state):
        """Restore a ``state_dict``; the hyperparameters go through the constructor's checks."""
        hyperparameters = {k: tuple(v) if isinstance(v, list) else v for k, v in state["hyperparameters"].items()}
        checked = type(self)(lr=state["lr"], **{**self.hyperparameters, **hyperparameters})
        arrays = {name: np.array(array) for name, array in state["state"].items()}
        steps = check_int("steps", state["steps"], low=0)
        if set(arrays) != (set(checked.state_names) if steps else set()):
            raise ValueError(f"the state holds {sorted(arrays)} after {steps} steps but {checked!r} needs "
                             f"{sorted(checked.state_names) if steps else 'none before its first step'}")
        self.lr, self.hyperparameters, self.hyper, self.state = checked.lr, checked.hyperparameters, checked.hyper, arrays
        self.steps = steps

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in {"lr": self.lr, **self.hyperparameters}.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2-style
    weight decay, exactly as torch.optim.SGD:

        g <- g + weight_decay * p
        b <- g (first step),  else  b <- momentum * b + (1 - dampening) * g
        g <- g + momentum * b (nesterov)  or  g <- b
        p <- p - lr * g

    With dampening 0 this is CS231n's ``v = mu * v - lr * dw; w += v`` for a constant learning rate
    (their v is our -lr * b). Nesterov here is the look-ahead form rewritten at the current point
    (Sutskever et al. 2013 as implemented by torch); it equals CS231n's ``nesterov_momentum`` form.
    """

    rule = kernels.SGDHyper

    def __init__(self, lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(lr, momentum=check_number("momentum", momentum, low=0),
                         dampening=check_number("dampening", dampening, low=0, high=1),
                         weight_decay=check_number("weight_decay", weight_decay, low=0),
                         nesterov=check_bool("nesterov", nesterov))
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov requires momentum > 0 and dampening = 0, "
                             f"got momentum={momentum}, dampening={dampening}")

    @property
    def state_names(self):
        return ("momentum_buffer",) if self.hyperparameters["momentum"] else ()


class Adagrad(Optimizer):
    r"""torch.optim.Adagrad; step t = 1, 2, ...:

        lr_t = lr / (1 + (t - 1) * lr_decay)
        g <- g + weight_decay * p;   s <- s + g**2;   p <- p - lr_t * g / (sqrt(s) + eps)

    ``s`` starts at ``initial_accumulator_value``. CS231n's adagrad is the same with lr_decay 0 and
    eps added outside the square root too (they write ``eps`` = 1e-7).
    """
    rule, state_names = kernels.AdagradHyper, ("sum",)

    def __init__(self, lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(lr, lr_decay=check_number("lr_decay", lr_decay, low=0),
                         weight_decay=check_number("weight_decay", weight_decay, low=0),
                         initial_accumulator_value=check_number(
                             "initial_accumulator_value", initial_accumulator_value, low=0),
                         eps=check_number("eps", eps, low=0, low_open=True))

    def _init_state(self, params):
        return {"sum": np.full_like(params, self.hyperparameters["initial_accumulator_value"])}


class RMSprop(Optimizer):
    r"""torch.optim.RMSprop:

        g <- g + weight_decay * p;   v <- alpha * v + (1 - alpha) * g**2
        centered:  a <- alpha * a + (1 - alpha) * g;  denom = sqrt(v - a**2) + eps,  else  sqrt(v) + eps
        momentum > 0:  b <- momentum * b + g / denom;  p <- p - lr * b,   else  p <- p - lr * g / denom

    CS231n's rmsprop is the uncentered rule without momentum, with ``decay_rate`` = alpha (0.99) and
    eps = 1e-8 added outside the square root: the same formula.
    """

    rule = kernels.RMSpropHyper

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(lr, alpha=check_number("alpha", alpha, low=0, high=1),
                         eps=check_number("eps", eps, low=0, low_open=True),
                         weight_decay=check_number("weight_decay", weight_decay, low=0),
                         momentum=check_number("momentum", momentum, low=0), centered=check_bool("centered", centered))

    @property
    def state_names(self):
        h = self.hyperparameters
        return ("square_avg",) + (("momentum_buffer",) if h["momentum"] else ()) + \
            (("grad_avg",) if h["centered"] else ())


class Adadelta(Optimizer):
    r"""torch.optim.Adadelta (Zeiler 2012, with a learning rate that scales the step, 1.0 by default):

        g <- g + weight_decay * p;   v <- rho * v + (1 - rho) * g**2
        d = sqrt(u + eps) / sqrt(v + eps) * g;   u <- rho * u + (1 - rho) * d**2;   p <- p - lr * d
    """
    rule, state_names = kernels.AdadeltaHyper, ("square_avg", "acc_delta")

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(lr, rho=check_number("rho", rho, low=0, high=1),
                         eps=check_number("eps", eps, low=0, low_open=True),
                         weight_decay=check_number("weight_decay", weight_decay, low=0))


class Adam(Optimizer):
    r"""torch.optim.Adam, step t = 1, 2, ...:

        g <- g + weight_decay * p          (coupled, L2-style: the decay passes through m and v)
        m <- beta1 * m + (1 - beta1) * g;   v <- beta2 * v + (1 - beta2) * g**2
        amsgrad:  vmax <- max(vmax, v), used in place of v
        p <- p - lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    CS231n's adam is the same rule (no amsgrad, no weight decay), incrementing t before use.
    """
    rule, decoupled = kernels.AdamHyper, False

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        if not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        beta1, beta2 = betas
        super().__init__(lr, betas=(check_number("betas[0]", beta1, low=0, high=1, high_open=True),
                                    check_number("betas[1]", beta2, low=0, high=1, high_open=True)),
                         eps=check_number("eps", eps, low=0, low_open=True),
                         weight_decay=check_number("weight_decay", weight_decay, low=0), amsgrad=check_bool("amsgrad", amsgrad))

    @property
    def state_names(self):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.hyperparameters["amsgrad"] else ())

    def _hyper(self):
        beta1, beta2 = self.hyperparameters["betas"]
        return {**self.hyperparameters, "beta1": beta1, "beta2": beta2, "decoupled": self.decoupled}


class AdamW(Adam):
    r"""torch.optim.AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019),

        p <- p * (1 - lr * weight_decay)   before the Adam step, which sees the raw gradient.

    Unlike Adam's (or the model's ``l2``) penalty, the decay is not rescaled by sqrt(v). Default
    weight_decay 0.01 as in torch; by default the trainer applies it to weight matrices only.
    """
    decoupled = True

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adadelta": Adadelta, "adam": Adam,
              "adamw": AdamW}


# Everything the trainer accepts: the per-element optimizers and the full-batch methods.
METHODS = {**OPTIMIZERS, "lbfgs": LBFGS, "hessian-free": HessianFree, "bfgs": BFGS, "random-search": RandomSearch}


def make_optimizer(name, **kwargs):
    """An optimizer by name (see METHODS), e.g. make_optimizer("sgd", lr=0.1, momentum=0.9)."""
    if name not in METHODS:
        raise ValueError(f"optimizer must be one of {sorted(METHODS)}, got {name!r}")
    return METHODS[name](**kwargs)
