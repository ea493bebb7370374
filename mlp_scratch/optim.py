"""Optimizers over flat arrays: a formula (in the docstring and once in its kernel), explicit state
arrays, and nothing else. They never see layers: per-element treatment comes as masks."""
import numpy as np

from mlp_scratch.kernels import optimizers as kernels
from mlp_scratch.validation import check_number

_NO_FLAGS = np.zeros(0, np.uint8)


class Optimizer:
    """Base class. Subclasses set ``hyperparameters`` and ``state_names`` and implement ``_update``.

    ``step(params, grads, lr=None)`` updates ``params`` in place from ``grads`` (flat arrays of one
    dtype); ``lr`` overrides the learning rate for this step (a schedule's value). State arrays are
    created on the first step with the parameters' size and dtype.
    """

    state_names = ()

    def __init__(self, lr, **hyperparameters):
        self.lr = check_number("lr", lr, low=0, low_open=True)
        self.hyperparameters = hyperparameters
        self.steps = 0
        self.state = {}
        self.flags = _NO_FLAGS

    def set_masks(self, decay=None, frozen=None):
        """Boolean per-element masks: where weight decay applies (default: everywhere, as in torch)
        and which elements are frozen (default: none)."""
        if decay is None and frozen is None:
            self.flags = _NO_FLAGS
            return
        size = len(decay if decay is not None else frozen)
        flags = np.full(size, kernels.DECAY, np.uint8) if decay is None else \
            np.where(np.asarray(decay, bool), kernels.DECAY, 0).astype(np.uint8)
        if frozen is not None:
            if len(frozen) != size:
                raise ValueError(f"frozen must have {size} elements like decay, got {len(frozen)}")
            flags[np.asarray(frozen, bool)] |= kernels.FROZEN
        self.flags = flags

    def step(self, params, grads, lr=None):
        if params.shape != grads.shape or params.ndim != 1 or params.dtype != grads.dtype:
            raise ValueError(f"params and grads must be flat arrays of one shape and dtype, got "
                             f"{params.shape} {params.dtype} and {grads.shape} {grads.dtype}")
        if self.flags.size not in (0, params.size):
            raise ValueError(f"the masks have {self.flags.size} elements but params has {params.size}")
        if not self.state:
            self.state = {name: np.zeros_like(params) for name in self.state_names}
        lr = self.lr if lr is None else lr
        self._update(params, grads, params.dtype.type(lr))
        self.steps += 1

    def state_dict(self):
        """Everything needed to continue exactly: hyperparameters, step count, state arrays."""
        return {"lr": self.lr, "hyperparameters": dict(self.hyperparameters), "steps": self.steps,
                "state": {name: array.copy() for name, array in self.state.items()}}

    def load_state_dict(self, state):
        self.lr = state["lr"]
        self.hyperparameters.update(state["hyperparameters"])
        self.steps = int(state["steps"])
        self.state = {name: np.array(array) for name, array in state["state"].items()}

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

    def __init__(self, lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(lr, momentum=check_number("momentum", momentum, low=0),
                         dampening=check_number("dampening", dampening, low=0, high=1),
                         weight_decay=check_number("weight_decay", weight_decay, low=0),
                         nesterov=bool(nesterov))
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov requires momentum > 0 and dampening = 0, "
                             f"got momentum={momentum}, dampening={dampening}")
        self.state_names = ("momentum_buffer",) if momentum else ()

    def _update(self, params, grads, lr):
        h, cast = self.hyperparameters, params.dtype.type
        buffer = self.state.get("momentum_buffer", params[:0])
        kernels.sgd_step(params, grads, buffer, self.flags, lr, cast(h["momentum"]),
                         cast(h["dampening"]), cast(h["weight_decay"]), h["nesterov"],
                         self.steps == 0)


OPTIMIZERS = {"sgd": SGD}


def make_optimizer(name, **kwargs):
    """An optimizer by name, e.g. make_optimizer("sgd", lr=0.1, momentum=0.9)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](**kwargs)
