"""mlp-scratch: multi-layer perceptrons from scratch on NumPy, with numba-compiled kernels."""
import importlib

__version__ = "0.1.0"
# Each name is imported on first use, so that importing a submodule (the command line's entry point,
# a data loader) does not load numba and the kernels before it needs them.
_EXPORTS = {"MLP": "mlp_scratch.model", "SGD": "mlp_scratch.optim", "set_threads": "mlp_scratch.threads",
            "History": "mlp_scratch.trainer", "Trainer": "mlp_scratch.trainer",
            "MLPClassifier": "mlp_scratch.estimator", "MLPRegressor": "mlp_scratch.estimator"}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mlp_scratch' has no attribute {name!r}")
