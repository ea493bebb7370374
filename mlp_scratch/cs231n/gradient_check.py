"""CS231n's ``gradient_check.py`` on ``mlp_scratch.gradient_check``: the centered difference
(f(x + h) - f(x - h)) / 2h is written once, there; these functions give it the course's signatures,
printing and return types. ``rel_error`` is ours, the course's formula."""
import random

import numpy as np

from mlp_scratch import gradient_check as _ours
from mlp_scratch.gradient_check import rel_error

__all__ = ["eval_numerical_gradient", "eval_numerical_gradient_array", "grad_check_sparse", "rel_error"]


def _like(grad, x):
    """The course returns np.zeros_like(x) filled in: the gradient in x's dtype when x is float."""
    x = np.asarray(x)
    return grad.astype(x.dtype) if x.dtype.kind == "f" else grad


def eval_numerical_gradient(f, x, verbose=True, h=0.00001):
    """A naive implementation of numerical gradient of f at x.

    - f should be a function that takes a single argument (it may ignore it and read x)
    - x is the point (numpy array) to evaluate the gradient at; it is perturbed in place, one
      element at a time, and restored.

    With verbose, prints each index and its gradient, as the course does (after the whole
    gradient is computed rather than during).
    """
    grad = _like(_ours.eval_numerical_gradient(f, x, h), x)
    if verbose:
        for ix in np.ndindex(grad.shape):
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Evaluate a numeric gradient for a function that accepts a numpy array and returns a numpy
    array: the gradient of sum(f(x) * df) with respect to x (ours, in x's dtype)."""
    return _like(_ours.eval_numerical_gradient_array(f, x, df, h), x)


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5):
    """Sample a few random elements (Python's ``random.randrange``, as the course) and print the
    numeric and analytic gradient there and their relative error (``rel_error``: the course's
    |a - n| / (|a| + |n|), with our 1e-8 floor on the denominator)."""
    for _ in range(num_checks):
        ix = tuple(random.randrange(m) for m in x.shape)
        element = x[tuple(slice(i, i + 1) for i in ix)]  # a view: perturbing it perturbs x
        grad_numerical = float(_ours.eval_numerical_gradient(lambda _: f(x), element, h).item())
        grad_analytic = float(analytic_grad[ix])
        error = rel_error(grad_numerical, grad_analytic)
        print("numerical: %f analytic: %f, relative error: %e" % (grad_numerical, grad_analytic, error))
