"""Full-batch L-BFGS: scipy.optimize.minimize(method="L-BFGS-B", jac=True) on the model's compiled
loss and flat gradient, as scikit-learn's MLPClassifier does."""
import numpy as np

from mlp_scratch.validation import check_features, check_labels, check_number, check_positive_int


class NonFiniteLoss(Exception):
    """Raised inside the objective to stop SciPy on a NaN or infinite loss."""


class LBFGS:
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
    full_batch = True
    lr = None

    def __init__(self, history_size=10, tol=1e-5, ftol=2.2e-9):
        self.history_size = check_positive_int("history_size", history_size)
        self.tol = check_number("tol", tol, low=0)
        self.ftol = check_number("ftol", ftol, low=0)
        self.frozen = None

    def set_masks(self, decay=None, frozen=None):
        """Weight decay does not apply (use the model's l2); frozen elements stay where they are.
        A mask left as None keeps its current value, as with the other optimizers."""
        if frozen is not None:
            self.frozen = np.asarray(frozen, bool)

    def minimize(self, model, X, y, max_iter, callback=None):
        """Minimize the model's training loss on (X, y) in place; ``callback(loss)`` after each
        iteration. Returns SciPy's OptimizeResult."""
        from scipy.optimize import Bounds, minimize  # 0.3 s to import: only when L-BFGS runs
        X = check_features(X, model.input_dim, model.dtype)  # once, not at every evaluation
        y = check_labels(y, X.shape[0], model.num_classes)

        # Trial points of the line search leave batch norm's running averages alone: each
        # evaluation's statistics go to a scratch array, and an accepted iterate's become the
        # running averages (the whole training set's statistics, so evaluation mode computes
        # what the objective did).
        statistics = np.zeros_like(model.running)
        evaluated = {"theta": None}

        def objective(theta):
            model.flat_params[:] = theta
            loss = model.forward_backward_checked(X, y, np.uint64(0), dropout=0.0, statistics=statistics)
            if not np.isfinite(loss):
                raise NonFiniteLoss(loss)
            evaluated["theta"] = theta.copy()
            return loss, model.flat_grads.astype(np.float64)

        def accept(theta):
            if not np.array_equal(theta, evaluated["theta"]):  # SciPy accepts its last evaluation as a rule
                objective(theta)
            model.flat_params[:] = theta
            model.running[:] = statistics

        def after_iteration(intermediate_result):  # SciPy passes the result only under this name
            accept(intermediate_result.x)
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
        accept(result.x)
        return result

    def state_dict(self):
        """The same shape as the first-order optimizers' (no state survives between runs)."""
        return {"lr": None, "hyperparameters": {"history_size": self.history_size, "tol": self.tol,
                                                "ftol": self.ftol}, "steps": 0, "state": {}}

    def load_state_dict(self, state):
        vars(self).update(state["hyperparameters"])

    def __repr__(self):
        return f"LBFGS(history_size={self.history_size}, tol={self.tol}, ftol={self.ftol})"
