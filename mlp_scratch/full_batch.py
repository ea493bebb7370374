"""What the full-batch methods (L-BFGS, Hessian-free, BFGS, random search) share: no learning rate, the trainer's masks
(frozen elements stay where they are), their settings as their state, and the objective: the
model's training loss on the whole training set, whose batch-norm statistics go to a scratch array
instead of the running averages, so that only the points a method accepts set them."""
import numpy as np

from mlp_scratch.validation import check_features


class FullBatchMethod:
    """Base class: subclasses define ``hyperparameters()`` and ``minimize(model, X, y, max_iter,
    callback)``, which the trainer runs with one iteration per epoch."""
    full_batch = True
    lr = None
    frozen = None

    def set_masks(self, decay=None, frozen=None):
        """Weight decay does not apply (use the model's l2); frozen elements stay where they are.
        A mask left as None keeps its current value, as with the other optimizers."""
        if frozen is not None:
            self.frozen = np.asarray(frozen, bool)

    def check_model(self, model):
        """Refuse, before training starts, a model the method cannot train (the trainer asks)."""

    def hyperparameters(self):
        raise NotImplementedError

    def state_dict(self):
        """The same shape as the first-order optimizers' (no state survives between runs)."""
        return {"lr": None, "hyperparameters": self.hyperparameters(), "steps": 0, "state": {}}

    def load_state_dict(self, state):
        vars(self).update(state["hyperparameters"])

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.hyperparameters().items())})"


def training_loss(model, X, y):
    """(loss, statistics): ``loss(params)`` puts ``params`` in the model and returns its training
    loss on (X, y) (data loss + penalty, training mode, no dropout), with the gradient in
    ``model.flat_grads``; each evaluation's batch-norm statistics (the whole set's) go to
    ``statistics``, and the running averages stay. X and y are checked once, here."""
    X = check_features(X, model.input_dim, model.dtype)
    y = model.check_targets(y, X.shape[0])
    statistics = np.zeros_like(model.running)

    def loss(params):
        model.flat_params[:] = params
        return model.forward_backward_checked(X, y, np.uint64(0), dropout=0.0, statistics=statistics)

    return loss, statistics


class Objective:
    """``training_loss`` as an optimizer takes it: (loss, gradient) at a float64 point, the last point
    remembered (line searches ask for it again); ``accept`` puts a point and its batch-norm statistics
    in the model. A ``frozen`` mask zeroes the gradient there."""

    def __init__(self, model, X, y, frozen=None):
        self.model = model
        self.loss_at, self.statistics = training_loss(model, X, y)
        self.free = np.ones(model.flat_params.size, bool) if frozen is None else ~frozen
        self._last = (None, None)  # the last point evaluated and its (loss, gradient)

    def __call__(self, theta):
        """(loss, gradient) at theta; the gradient is 0 on frozen elements."""
        if not np.array_equal(theta, self._last[0]):
            loss = float(self.loss_at(theta))
            self._last = (theta.copy(), (loss, np.where(self.free, self.model.flat_grads.astype(np.float64), 0.0)))
        return self._last[1]

    def accept(self, theta):
        """theta becomes the model's parameters, with the batch-norm statistics of the whole set there."""
        self(theta)  # evaluates unless theta was the last point: either way the model now holds it
        self.model.running[:] = self.statistics
