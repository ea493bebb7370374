"""mlp-scratch: multi-layer perceptrons from scratch on NumPy, with numba-compiled kernels."""
from mlp_scratch.model import MLP
from mlp_scratch.optim import SGD
from mlp_scratch.threads import set_threads
from mlp_scratch.trainer import History, Trainer

__version__ = "0.1.0"
__all__ = ["MLPClassifier", "MLP", "SGD", "Trainer", "History", "set_threads"]


def __getattr__(name):
    # The estimator imports scikit-learn's estimator machinery (~0.5 s): only when asked for.
    if name == "MLPClassifier":
        from mlp_scratch.estimator import MLPClassifier
        return MLPClassifier
    raise AttributeError(f"module 'mlp_scratch' has no attribute {name!r}")
