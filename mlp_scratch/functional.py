"""CS231n-style functional optimizers: ``next_w, config = update(w, dw, config)``.

Each is a thin wrapper over the optimizer class of the same name (one kernel, one formula). ``config``
holds the hyperparameters under the class's argument names (``lr``, ``momentum``, ``betas``, ...),
and the wrapper keeps the state in it: ``steps`` and each state array (``momentum_buffer``,
``exp_avg``, ...) shaped like ``w``. ``w`` is not modified; ``next_w`` is a new array.

    >>> config = {"lr": 0.1, "momentum": 0.9}
    >>> next_w, config = sgd(w, dw, config)

The course's own names and conventions (``learning_rate``, ``velocity = mu * v - lr * dw``) are the
CS231n layer's (``mlp_scratch.cs231n.optim``), which adapts the optimizer classes itself rather than
calling these.
"""
import inspect

import numpy as np

from mlp_scratch.optim import OPTIMIZERS


def _make_update(name):
    cls = OPTIMIZERS[name]
    arguments = set(inspect.signature(cls.__init__).parameters) - {"self"}

    def update(w, dw, config=None):
        config = {} if config is None else config
        optimizer = cls(**{k: v for k, v in config.items() if k in arguments})
        unknown = set(config) - arguments - {"steps"} - set(optimizer.state_names)
        if unknown:
            raise ValueError(f"config has keys {sorted(unknown)} that {name} does not take; "
                             f"it takes {sorted(arguments)} and its own state")
        next_w = np.array(w, dtype=np.result_type(w, np.float32), order="C")
        flat = next_w.reshape(-1)
        if np.shape(dw) != next_w.shape:
            raise ValueError(f"dw must have the shape of w {next_w.shape}, got {np.shape(dw)}")
        grads = np.ascontiguousarray(dw, dtype=next_w.dtype).reshape(-1)
        if config.get("steps", 0):
            missing = [k for k in optimizer.state_names if k not in config]
            if missing:
                raise ValueError(f"config says steps={config['steps']} but lacks the state {missing}")
            optimizer.load_state_dict({"lr": optimizer.lr, "hyperparameters": {}, "steps": config["steps"],
                                       "state": {k: np.reshape(config[k], -1) for k in optimizer.state_names}})
        optimizer.step(flat, grads)
        config["steps"] = optimizer.steps
        config.update({k: v.reshape(next_w.shape) for k, v in optimizer.state.items()})
        return next_w, config

    update.__name__ = update.__qualname__ = name
    update.__doc__ = f"next_w, config = {name}(w, dw, config): one step of {cls.__name__}.\n\n{cls.__doc__}"
    return update


sgd = _make_update("sgd")
adagrad = _make_update("adagrad")
rmsprop = _make_update("rmsprop")
adadelta = _make_update("adadelta")
adam = _make_update("adam")
adamw = _make_update("adamw")
