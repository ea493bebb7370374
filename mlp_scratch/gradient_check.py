"""Numeric gradients by centered differences, for checking analytic gradients (CS231n style)."""
import numpy as np


def rel_error(x, y):
    """max |x - y| / max(1e-8, |x| + |y|), elementwise: the course's relative error."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f, x, h=1e-5):
    """Gradient of the scalar function f at x: (f(x + h e_i) - f(x - h e_i)) / 2h for every i.

    ``x`` is perturbed in place, one element at a time, and restored; ``f(x)`` must read x.
    """
    grad = np.zeros(x.shape, np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Gradient of sum(f(x) * df) at x for an array-valued f with upstream gradient df.

    f at the unperturbed x is subtracted inside the sum (the difference is unchanged): the sums then
    stay of the size of the difference, like the course's np.sum((f(x + h) - f(x - h)) * df),
    instead of losing digits to two large, nearly equal sums.
    """
    base = np.array(f(x), dtype=np.float64, copy=True)
    return eval_numerical_gradient(lambda v: np.sum((f(v) - base) * df), x, h)


def check_model_gradients(model, X, y, seed=0, h=1e-5):
    """Max relative error per parameter between the model's analytic gradients and numeric ones.

    Uses a fixed dropout seed so that every loss evaluation sees the same mask, and leaves the
    batch-norm running averages as they were. Needs a float64 model: float32 rounding alone gives
    relative errors near 1e-2. Returns {'W1': err, 'b1': err, ...}.
    """
    if model.dtype != np.float64:
        raise ValueError(f"check_model_gradients needs a float64 model, got {model.dtype.name}")
    running = model.running.copy()
    model.forward_backward(X, y, seed=seed)
    analytic = {name: g.copy() for name, g in model.grads.items()}
    errors = {}
    for name, p in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.forward_backward(X, y, seed=seed), p, h)
        errors[name] = rel_error(analytic[name], numeric)
    model.running[:] = running
    return errors
