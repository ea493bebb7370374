"""Second-order methods on a whole network, full batch, one iteration per epoch like L-BFGS:

- Hessian-free (truncated Newton; Martens 2010): each iteration solves (B + lambda I) d = -g by
  conjugate gradient, where B v is an exact curvature-vector product (mlp_scratch/curvature.py:
  the Gauss-Newton matrix by default, or the Hessian itself) on the training set or a large batch
  of it, so the N x N matrix is never formed; lambda follows the Levenberg-Marquardt rule, and a
  backtracking line search takes the step.
- BFGS: the dense N x N inverse-Hessian approximation of the lecture (O(N^2) memory and work per
  iteration), with a Wolfe line search; refused, with the memory it would need, for networks
  beyond ``memory_limit``. L-BFGS (mlp_scratch/lbfgs.py) keeps only the last m steps instead.
"""
import warnings
from types import SimpleNamespace

import numpy as np

from mlp_scratch.curvature import Curvature
from mlp_scratch.full_batch import FullBatchMethod, Objective
from mlp_scratch.validation import check_choice, check_number, check_positive_int, check_seed

CURVATURES = ("gauss-newton", "hessian")
ARMIJO = 1e-4  # sufficient decrease: loss(theta + a d) <= loss + ARMIJO * a * g.d
BACKTRACK, BACKTRACKS = 0.8, 30  # step shrink factor and most shrinks per line search


def backtracking(objective, theta, loss, gradient, direction):
    """The largest step a = BACKTRACK**k (k < BACKTRACKS) along ``direction`` with sufficient decrease:
    (a, loss there, gradient there), or (0, loss, gradient) when none is found."""
    slope = float(gradient @ direction)
    step = 1.0
    for _ in range(BACKTRACKS):
        new_loss, new_gradient = objective(theta + step * direction)
        if np.isfinite(new_loss) and new_loss <= loss + ARMIJO * step * slope:
            return step, new_loss, new_gradient
        step *= BACKTRACK
    return 0.0, loss, gradient


def conjugate_gradient(product, b, x0, iterations, tol):
    """Approximately solves A x = b for a symmetric A given as ``product(v) = A v``, from x0, for at
    most ``iterations`` steps or until |residual| <= tol * |b|. Stops early on a direction of
    non-positive curvature (the Hessian of a non-convex loss has them). Returns (x, steps taken)."""
    x = x0.copy()
    r = b - product(x)
    p = r.copy()
    rr = float(r @ r)
    limit = (tol * np.linalg.norm(b)) ** 2
    for k in range(iterations):
        if rr <= limit:
            return x, k
        Ap = product(p)
        curvature = float(p @ Ap)
        if curvature <= 0:
            return (x if k > 0 else b.copy()), k  # no descent model along p: keep what we have
        alpha = rr / curvature
        x += alpha * p
        r -= alpha * Ap
        rr, rr_old = float(r @ r), rr
        p = r + (rr / rr_old) * p
    return x, iterations


class HessianFree(FullBatchMethod):
    """Truncated Newton with exact curvature-vector products (Hessian-free optimization).

    Each iteration (an "epoch" of the trainer): the gradient g at theta, then conjugate gradient on
    (B + damping I) d = -g from the previous direction times ``warm_start`` (B: the Gauss-Newton
    matrix J^T H_l J, or the Hessian with ``curvature="hessian"``, of the training loss on
    ``curvature_batch`` samples drawn anew each iteration), then a backtracking line search
    along d. The damping follows the reduction ratio rho = (loss(theta + d) - loss) / q(d) of the
    quadratic model q(d) = g.d + d.B d / 2: times 3/2 below rho = 1/4, times 2/3 above 3/4.

    Parameters
    ----------
    curvature : "gauss-newton" (default; positive semi-definite) or "hessian"
    damping : float > 0, the initial lambda
    cg_iterations : int, most conjugate-gradient steps per iteration (each one curvature product,
        about two passes over the curvature batch)
    cg_tol : float, conjugate gradient stops at |residual| <= cg_tol * |g|
    tol : float, stop when the largest gradient element is below it
    warm_start : float in [0, 1], the fraction of the previous direction conjugate gradient starts from
    curvature_batch : int or None, the samples the curvature products use (None: the whole training
        set; the gradient and the line search always use it all)
    seed : int, seeds the curvature batches
    """

    def __init__(self, curvature="gauss-newton", damping=1.0, cg_iterations=50, cg_tol=1e-2, tol=1e-5,
                 warm_start=0.95, curvature_batch=2000, seed=0):
        self.curvature = check_choice("curvature", curvature, CURVATURES)
        self.damping = check_number("damping", damping, low=0, low_open=True)
        self.cg_iterations = check_positive_int("cg_iterations", cg_iterations)
        self.cg_tol = check_number("cg_tol", cg_tol, low=0)
        self.tol = check_number("tol", tol, low=0)
        self.warm_start = check_number("warm_start", warm_start, low=0, high=1)
        self.curvature_batch = None if curvature_batch is None else check_positive_int("curvature_batch",
                                                                                       curvature_batch)
        self.seed = check_seed("seed", seed)

    def hyperparameters(self):
        return {"curvature": self.curvature, "damping": self.damping, "cg_iterations": self.cg_iterations,
                "cg_tol": self.cg_tol, "tol": self.tol, "warm_start": self.warm_start,
                "curvature_batch": self.curvature_batch, "seed": self.seed}

    def minimize(self, model, X, y, max_iter, callback=None):
        """Minimize the model's training loss on (X, y) in place; ``callback(loss)`` after each
        iteration. Returns (success, message, x, cg_steps: conjugate-gradient steps per iteration)."""
        objective = Objective(model, X, y, self.frozen)
        X, y = np.asarray(X), np.asarray(y)
        theta = model.flat_params.astype(np.float64)
        loss, gradient = objective(theta)
        objective.accept(theta)
        rng = np.random.default_rng(self.seed)
        free, damping = objective.free, self.damping
        direction, cg_steps = np.zeros_like(theta), []
        for _ in range(max_iter):
            if np.max(np.abs(gradient)) < self.tol:
                return SimpleNamespace(success=True, message="the gradient is below tol", x=theta, cg_steps=cg_steps)
            rows = slice(None)
            if self.curvature_batch is not None and self.curvature_batch < len(X):
                rows = np.sort(rng.choice(len(X), self.curvature_batch, replace=False))
            curvature = Curvature(model, X[rows], y[rows])  # at theta, which the model holds
            multiply = curvature.gauss_newton_vector if self.curvature == "gauss-newton" else curvature.hessian_vector

            def curve(v):  # B v on the free elements
                return np.where(free, multiply(np.where(free, v, 0.0)), 0.0)

            direction, steps = conjugate_gradient(lambda v: curve(v) + damping * v, -gradient,
                                                  self.warm_start * direction, self.cg_iterations, self.cg_tol)
            cg_steps.append(steps)
            predicted = float(gradient @ direction + 0.5 * direction @ curve(direction))  # q(d)
            full_loss = objective(theta + direction)[0]
            rho = (full_loss - loss) / predicted if predicted < 0 and np.isfinite(full_loss) else -np.inf
            if rho < 0.25:
                damping *= 1.5
            elif rho > 0.75:
                damping *= 2 / 3
            step, loss, gradient = backtracking(objective, theta, loss, gradient, direction)
            if step > 0:
                theta = theta + step * direction
            else:
                direction[:] = 0  # a direction that does not descend: start the next solve afresh
            objective.accept(theta)  # the model holds theta (and not a trial point) for the next products
            if callback is not None:
                callback(loss)
        return SimpleNamespace(success=False, message=f"{max_iter} iterations", x=theta, cg_steps=cg_steps)


class BFGS(FullBatchMethod):
    """BFGS with the dense inverse-Hessian approximation H (Nocedal & Wright, algorithm 6.1):
    d = -H g, a step a along d satisfying the Wolfe conditions (SciPy's line_search; backtracking
    if it fails), and with s = a d, y = g_new - g, rho = 1 / y.s:

        H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T

    H starts as the identity, scaled by y.s / y.y at the first update (their 6.20). It holds one
    float64 number per pair of free parameters: 8 N^2 bytes, refused above ``memory_limit`` bytes.
    """

    def __init__(self, tol=1e-5, memory_limit=2 ** 30):
        self.tol = check_number("tol", tol, low=0)
        self.memory_limit = check_number("memory_limit", memory_limit, low=0, low_open=True)

    def hyperparameters(self):
        return {"tol": self.tol, "memory_limit": self.memory_limit}

    def memory(self, n_parameters):
        """Bytes of the N x N matrix for N free parameters."""
        return 8 * n_parameters ** 2

    def check_model(self, model):
        frozen = 0 if self.frozen is None else int(self.frozen.sum())
        self.check_size(model.flat_params.size - frozen)

    def check_size(self, n_parameters):
        need = self.memory(n_parameters)
        if need > self.memory_limit:
            raise ValueError(f"BFGS keeps an N x N matrix: {n_parameters:,} parameters need {need / 2 ** 30:.3g} GiB, "
                             f"above memory_limit ({self.memory_limit / 2 ** 30:.3g} GiB); use lbfgs (O(N) memory), "
                             f"hessian-free or a smaller network, or raise memory_limit")

    def minimize(self, model, X, y, max_iter, callback=None):
        """Minimize the model's training loss on (X, y) in place; ``callback(loss)`` after each
        iteration. Returns (success, message, x)."""
        from scipy.linalg.blas import dsymv, dsyr, dsyr2
        from scipy.optimize import line_search  # 0.3 s to import: only when BFGS runs

        objective = Objective(model, X, y, self.frozen)
        free = np.flatnonzero(objective.free)
        self.check_size(free.size)
        theta = model.flat_params.astype(np.float64)
        loss, gradient = objective(theta)
        objective.accept(theta)
        # The upper triangle of H, updated in place by BLAS's symmetric rank-1 and rank-2 updates: no
        # N x N temporaries.
        inverse = np.asfortranarray(np.eye(free.size))
        scaled = False  # H0 = (y.s / y.y) I, at the first pair that passes the curvature condition

        for _ in range(max_iter):
            if np.max(np.abs(gradient)) < self.tol:
                return SimpleNamespace(success=True, message="the gradient is below tol", x=theta)
            direction = np.zeros_like(theta)
            direction[free] = -dsymv(1.0, inverse, gradient[free])
            with warnings.catch_warnings():  # a failed Wolfe search falls back to backtracking, below
                warnings.filterwarnings("ignore", "The line search algorithm", RuntimeWarning)
                step = line_search(lambda x: objective(x)[0], lambda x: objective(x)[1], theta, direction, gradient,
                                   loss)[0]
            if step is None:
                step = backtracking(objective, theta, loss, gradient, direction)[0]
            if step == 0:
                objective.accept(theta)  # not the line search's last trial point
                return SimpleNamespace(success=False, message="no step along the BFGS direction decreases the loss",
                                       x=theta)
            s = step * direction[free]
            theta = theta + step * direction
            new_loss, new_gradient = objective(theta)
            change = new_gradient[free] - gradient[free]
            loss, gradient = new_loss, new_gradient
            objective.accept(theta)
            ys = float(change @ s)
            if ys > 1e-10 * np.linalg.norm(change) * np.linalg.norm(s):  # curvature condition: H stays positive
                if not scaled:
                    inverse *= ys / float(change @ change)
                    scaled = True
                rho = 1 / ys
                Hy = dsymv(1.0, inverse, change)
                # H + (rho^2 y.Hy + rho) s s^T - rho (Hy s^T + s Hy^T): the update above, multiplied out
                inverse = dsyr(rho * rho * float(change @ Hy) + rho, s, a=inverse, overwrite_a=True)
                inverse = dsyr2(-rho, Hy, s, a=inverse, overwrite_a=True)
            if callback is not None:
                callback(loss)
        return SimpleNamespace(success=False, message=f"{max_iter} iterations", x=theta)
