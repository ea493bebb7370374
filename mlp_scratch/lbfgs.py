"""Full-batch L-BFGS: scipy.optimize.minimize(method="L-BFGS-B", jac=True) on the model's compiled
loss and flat gradient, as scikit-learn's MLPClassifier does."""
import numpy as np

from mlp_scratch.full_batch import FullBatchMethod, Objective
from mlp_scratch.validation import check_number, check_positive_int


class NonFiniteLoss(Exception):
    """Raised inside the objective to stop SciPy on a NaN or infinite loss."""


class LBFGS(FullBatchMethod):
    """Limited-memory BFGS over the whole training set (no mini-batches, no learning rate).

    Parameters
    ----------
    history_size : int
        Number of correction pairs kept (SciPy's ``maxcor``; scikit-learn and torch use 10 and 100).
    tol, ftol : float
        Stop when the largest gradient element is below ``tol`` (SciPy's ``gtol``) or the relative
        loss decrease below ``ftol``.

    The trainer runs one L-BFGS iteration per "epoch", with dropout off (its random masks would make
    the objective change from one evaluation to the next). Frozen elements are held by bounds.
    SciPy works in float64: use a float64 model for tight convergence (a float32 model is evaluated
    at SciPy's point rounded to float32). Batch norm's running averages are set to the training
    set's statistics at each accepted iterate; the line search's trial points leave them alone.
    """

    def __init__(self, history_size=10, tol=1e-5, ftol=2.2e-9):
        self.history_size = check_positive_int("history_size", history_size)
        self.tol = check_number("tol", tol, low=0)
        self.ftol = check_number("ftol", ftol, low=0)

    def hyperparameters(self):
        return {"history_size": self.history_size, "tol": self.tol, "ftol": self.ftol}

    def minimize(self, model, X, y, max_iter, callback=None):
        """Minimize the model's training loss on (X, y) in place; ``callback(loss)`` after each
        iteration. Returns SciPy's OptimizeResult."""
        from scipy.optimize import Bounds, minimize  # 0.3 s to import: only when L-BFGS runs
        # Trial points of the line search leave batch norm's running averages alone; an accepted
        # iterate's statistics (the whole training set's) become them, so that evaluation mode
        # computes what the objective did.
        evaluate = Objective(model, X, y)  # frozen elements are held by bounds instead

        def objective(theta):
            loss, gradient = evaluate(theta)
            if not np.isfinite(loss):
                raise NonFiniteLoss(loss)
            return loss, gradient

        def after_iteration(intermediate_result):  # SciPy passes the result only under this name
            evaluate.accept(intermediate_result.x)
            if callback is not None:
                callback(float(intermediate_result.fun))

        theta0 = model.flat_params.astype(np.float64)
        bounds = None
        if self.frozen is not None and self.frozen.any():
            lower = np.where(self.frozen, theta0, -np.inf)
            upper = np.where(self.frozen, theta0, np.inf)
            bounds = Bounds(lower, upper)
        result = minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                          callback=after_iteration,
                          options={"maxiter": max_iter, "maxcor": self.history_size, "gtol": self.tol,
                                   # a few evaluations per iteration for the line search, with room to spare
                                   "ftol": self.ftol, "maxfun": 20 * max_iter + 20})
        evaluate.accept(result.x)
        return result
