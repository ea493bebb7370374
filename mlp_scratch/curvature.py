"""Exact curvature-vector products of an MLP's training loss: the Hessian times a vector, and the
Gauss-Newton matrix times a vector, by the R-operator (Pearlmutter 1994): R{f} = d/dr f(theta + r v)
at r = 0, carried through the forward pass and then the backward pass. Exact, not finite differences;
each product costs about two forward and backward passes.

The loss is the one the full-batch methods minimize (mlp_scratch/full_batch.py): training mode with
the batch's own batch-norm statistics, no dropout, plus the penalty. In float64 (NumPy, and the
network's activation and loss kernels), layer by layer in the notation of the lecture notes:
z = x W + b, [u = gamma * xhat + beta with xhat = (z - mean z) / sqrt(var z + eps)], a = f(u);
scores s = x W + b; loss l(s).

- Hessian:      H v = R{grad}: the backward pass's R-operator (every term of the chain rule).
- Gauss-Newton: G v = J^T H_l J v, with J the Jacobian of the scores and H_l the loss's Hessian
  in the scores: the forward R-pass gives J v, the loss's Hessian scales it, and the ordinary
  backward pass applies J^T. G is positive semi-definite (softmax and mean squared error are convex
  in the scores), which makes it the curvature of choice for conjugate gradient (Martens 2010).

The L2 term adds l2 * v on the weights; L1's Hessian is zero wherever it has one (W != 0), and so
is the SVM hinge's and ReLU's second derivative.
"""
import numpy as np

from mlp_scratch.kernels.layers.activations import activation_backward, activation_forward
from mlp_scratch.kernels.layers.losses import data_loss, softmax
from mlp_scratch.kernels.training.layout import parameter_views
from mlp_scratch.model import ACTIVATIONS, LOSSES
from mlp_scratch.validation import check_features


def second_derivative(name, u, a, alpha):
    """f''(u) given u and a = f(u), for the activations of kernels/layers/activations.py (which
    compute f and f')."""
    if name in ("relu", "leaky_relu"):
        return np.zeros_like(u)
    if name == "elu":
        return np.where(u > 0, 0.0, a + alpha)
    if name == "tanh":
        return -2 * a * (1 - a * a)
    return a * (1 - a) * (1 - 2 * a)  # sigmoid


class Curvature:
    """Products with the curvature of ``model``'s training loss on (X, y) at its current parameters
    (the point is fixed when the object is made: call ``at`` again after the parameters change).

    >>> curvature = Curvature(model, X, y)
    >>> Hv = curvature.hessian_vector(v)        # flat, laid out like model.flat_params
    >>> Gv = curvature.gauss_newton_vector(v)
    """

    def __init__(self, model, X, y):
        if model.dropout > 0 and model.dropout_mode == "classic":
            raise ValueError("curvature products are of the loss without dropout; a model with dropout_mode='classic' "
                             "would change at test time: use dropout_mode='inverted'")
        self.model = model
        self.X = check_features(X, model.input_dim, np.float64)
        self.y = model.check_targets(y, len(self.X)).astype(np.float64 if model.regression else np.int64)
        self.at()

    def at(self):
        """Take the model's current parameters as the point: run and keep the forward pass."""
        model = self.model
        self.params = {name: view.astype(np.float64) for name, view in model.params.items()}
        self.layers = []  # per hidden layer: input, u (pre-activation), a, and batch norm's xhat, inv_std
        x = self.X
        for l, name in enumerate(model.activation, start=1):
            z = x @ self.params[f"W{l}"] + self.params.get(f"b{l}", 0.0)
            layer = {"x": x, "xhat": None, "inv_std": None}
            if f"gamma{l}" in self.params:
                mean, var = z.mean(axis=0), z.var(axis=0)
                layer["inv_std"] = 1 / np.sqrt(var + model.bn_eps)
                layer["xhat"] = (z - mean) * layer["inv_std"]
                u = self.params[f"gamma{l}"] * layer["xhat"] + self.params[f"beta{l}"]
            else:
                u = z
            kind, alpha = ACTIVATIONS[name], float(model.act_alpha[l - 1])
            a, df = np.empty_like(u), np.empty_like(u)
            activation_forward(kind, alpha, u, a)
            activation_backward(kind, alpha, np.ones_like(u), a, df)  # f'(u)
            layer.update(u=u, a=a, df=df, d2f=second_derivative(name, u, a, alpha))
            self.layers.append(layer)
            x = a
        last = len(model.activation) + 1
        self.last_input = x
        self.scores = x @ self.params[f"W{last}"] + self.params[f"b{last}"]
        self.loss, self.dscores = self._loss_gradient()
        return self

    # -- the loss in the scores ----------------------------------------------------------------------
    def _loss_gradient(self):
        """The data loss and its gradient in the scores (the network's own loss kernels), and for
        softmax the probabilities its Hessian needs."""
        dscores = np.empty_like(self.scores)
        loss = data_loss(LOSSES[self.model.loss_name], self.scores, self.y, dscores, np.empty(len(self.scores)))
        if self.model.loss_name == "softmax":
            self._probs = np.empty_like(self.scores)
            softmax(self.scores, self._probs)
        return loss, dscores

    def _loss_hessian(self, r_scores):
        """H_l R{s}: the loss's Hessian in the scores times the scores' change."""
        kind = self.model.loss_name
        if kind == "mse":
            return 2 * r_scores / r_scores.size
        if kind == "softmax":
            p = self._probs
            return (p * r_scores - p * np.sum(p * r_scores, axis=1, keepdims=True)) / len(p)
        return np.zeros_like(r_scores)  # svm: piecewise linear

    # -- passes --------------------------------------------------------------------------------------
    def gradient(self):
        """The training loss's gradient (data loss + penalty), flat: the ordinary backward pass."""
        return self._backward(self.dscores, penalty_at=self.model.flat_params)

    def hessian_vector(self, v):
        """H v, flat, for a flat direction v laid out like the parameters."""
        return self._backward(self.dscores, v, exact=True)

    def gauss_newton_vector(self, v):
        """G v = J^T H_l J v (+ l2 on the weights), flat."""
        return self._backward(None, v, exact=False)

    def _forward_r(self, V):
        """R{u} and R{a} per hidden layer (and R{xhat}), and R{s}: the forward pass's change along V."""
        r_x, changes = np.zeros_like(self.X), []
        for l, layer in enumerate(self.layers, start=1):
            r_z = r_x @ self.params[f"W{l}"] + layer["x"] @ V[f"W{l}"] + V.get(f"b{l}", 0.0)
            change = {"x": r_x}
            if layer["xhat"] is not None:
                xhat = layer["xhat"]
                change["xhat"] = layer["inv_std"] * (r_z - r_z.mean(axis=0) - xhat * np.mean(xhat * r_z, axis=0))
                change["inv_std"] = -layer["inv_std"] ** 2 * np.mean(xhat * r_z, axis=0)
                r_u = V[f"gamma{l}"] * xhat + self.params[f"gamma{l}"] * change["xhat"] + V[f"beta{l}"]
            else:
                r_u = r_z
            change["u"] = r_u
            r_x = layer["df"] * r_u
            changes.append(change)
        last = len(self.layers) + 1
        r_scores = r_x @ self.params[f"W{last}"] + self.last_input @ V[f"W{last}"] + V[f"b{last}"]
        return changes, r_x, r_scores

    def _backward(self, dscores, v=None, exact=False, penalty_at=None):
        """The backward pass, flat. Without v: the gradient of ``dscores``. With v: exact -> H v (the
        R-operator of every step below); not exact -> G v (the ordinary pass of H_l J v)."""
        model = self.model
        out = np.zeros(model.flat_params.size)
        grads = parameter_views(out, model.layout)
        if v is not None:
            v = np.asarray(v, np.float64)
            if v.shape != model.flat_params.shape or not np.all(np.isfinite(v)):
                raise ValueError(f"v must be a finite vector of the model's {model.flat_params.size} parameters (laid "
                                 f"out like flat_params), got shape {v.shape}")
            V = parameter_views(v, model.layout)
            changes, r_last, r_scores = self._forward_r(V)
            top = self._loss_hessian(r_scores)
        last = len(self.layers) + 1
        # d: the gradient flowing back (dL/dz at the current layer); r: its R-operator (exact only)
        if v is None:
            d, r = dscores, None
        elif exact:
            d, r = dscores, top
        else:
            d, r = top, None
        x_below, r_x_below = self.last_input, (r_last if exact else None)
        for l in range(last, 0, -1):
            W = self.params[f"W{l}"]
            if r is None:  # an ordinary pass of d
                grads[f"W{l}"][:] = x_below.T @ d
                bias = d.sum(axis=0)
            else:
                grads[f"W{l}"][:] = r_x_below.T @ d + x_below.T @ r
                bias = r.sum(axis=0)
            if f"b{l}" in grads:
                grads[f"b{l}"][:] = bias
            if l == 1:
                break
            layer, below = self.layers[l - 2], l - 1
            da = d @ W.T
            r_da = None if r is None else r @ W.T + d @ V[f"W{l}"].T
            du = layer["df"] * da
            r_du = None if r is None else layer["d2f"] * changes[below - 1]["u"] * da + layer["df"] * r_da
            if layer["xhat"] is not None:
                d, r = self._batchnorm_backward(below, layer, du, r_du, grads, V if r is not None else None,
                                                changes[below - 1] if r is not None else None)
            else:
                d, r = du, r_du
            x_below = layer["x"]
            r_x_below = None if r is None else changes[below - 1]["x"]
        self._add_penalty(grads, V if v is not None else None, penalty_at)
        return out

    def _batchnorm_backward(self, l, layer, du, r_du, grads, V, change):
        """dL/dz through u = gamma * xhat + beta (the closed form of the course's batchnorm_backward_alt),
        writing dgamma and dbeta; with r_du, the R-operator of each term as well."""
        gamma, xhat, inv_std = self.params[f"gamma{l}"], layer["xhat"], layer["inv_std"]
        w = du - du.mean(axis=0) - xhat * np.mean(du * xhat, axis=0)
        dz = gamma * inv_std * w
        if r_du is None:
            grads[f"gamma{l}"][:] = np.sum(du * xhat, axis=0)
            grads[f"beta{l}"][:] = du.sum(axis=0)
            return dz, None
        r_xhat = change["xhat"]
        grads[f"gamma{l}"][:] = np.sum(r_du * xhat + du * r_xhat, axis=0)
        grads[f"beta{l}"][:] = r_du.sum(axis=0)
        r_w = (r_du - r_du.mean(axis=0) - r_xhat * np.mean(du * xhat, axis=0)
               - xhat * np.mean(r_du * xhat + du * r_xhat, axis=0))
        r_dz = (V[f"gamma{l}"] * inv_std + gamma * change["inv_std"]) * w + gamma * inv_std * r_w
        return dz, r_dz

    def _add_penalty(self, grads, V, point):
        """The penalty's part: its gradient at ``point`` (flat), or its Hessian (l2) times V."""
        model = self.model
        if point is not None:
            at = parameter_views(np.asarray(point, np.float64), model.layout)
        for name in grads:
            if name.startswith("W"):
                if V is not None:
                    grads[name] += model.l2 * V[name]
                elif point is not None:
                    grads[name] += model.l2 * at[name] + model.l1 * np.sign(at[name])

