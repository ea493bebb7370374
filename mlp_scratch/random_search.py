"""Random local search over the weights: the lecture's first strategy, and its warning ("a very bad
idea"): no gradient, only the loss. A baseline for the optimizer comparison, to show how far it
stays from the gradient methods."""
from types import SimpleNamespace

import numpy as np

from mlp_scratch.full_batch import FullBatchMethod, training_loss
from mlp_scratch.validation import check_number, check_seed


class RandomSearch(FullBatchMethod):
    """Full batch, one candidate per iteration: the best parameters so far plus ``step`` times
    standard normal noise in every element (frozen ones stay), kept if its training loss (data loss
    + penalty, training mode, no dropout) is lower. Batch norm's running averages are set to the
    training set's statistics of each kept candidate, as with L-BFGS."""

    def __init__(self, step=1e-2, seed=0):
        self.step = check_number("step", step, low=0, low_open=True)
        self.seed = check_seed("seed", seed)

    def hyperparameters(self):
        return {"step": self.step, "seed": self.seed}

    def minimize(self, model, X, y, max_iter, callback=None):
        """``max_iter`` candidates from the model's parameters, which end as the best one;
        ``callback(best loss)`` after each. Returns (success, message, x) as SciPy's result does."""
        training_loss_at, statistics = training_loss(model, X, y)
        rng = np.random.default_rng(self.seed)
        kept_statistics = model.running.copy()

        def loss(params):
            value = training_loss_at(params)
            return value if np.isfinite(value) else np.inf

        best = model.flat_params.copy()
        best_loss, kept_statistics[:] = loss(best), statistics
        free = slice(None) if self.frozen is None else ~self.frozen
        for _ in range(max_iter):
            candidate = best.copy()
            candidate[free] += (self.step * rng.standard_normal(candidate[free].size)).astype(best.dtype)
            value = loss(candidate)
            if value < best_loss:
                best, best_loss, kept_statistics[:] = candidate, value, statistics
            model.flat_params[:], model.running[:] = best, kept_statistics
            if callback is not None:
                callback(float(best_loss))
        return SimpleNamespace(success=False, message=f"{max_iter} random candidates tried", x=best)
