"""CS231n's ``Solver``: trains a model with ``loss(X, y=None)`` and a ``params`` dict by mini-batch
stochastic gradient descent with an update rule of ``optim.py`` (or any function of that form)."""
import os
import pickle
import tempfile

import numpy as np

from . import optim

__all__ = ["Solver"]


class Solver(object):
    """A Solver encapsulates all the logic necessary for training classification models. It
    performs stochastic gradient descent using the update rules of ``optim.py``.

    The solver accepts both training and validation data and labels so it can periodically check
    classification accuracy on both to watch out for overfitting. After ``train()`` returns,
    ``model.params`` holds the parameters that did best on the validation set over the course of
    training, and ``loss_history``, ``train_acc_history`` and ``val_acc_history`` hold the losses
    of every iteration and the accuracies of every epoch.

    Example usage::

        data = {'X_train': ..., 'y_train': ..., 'X_val': ..., 'y_val': ...}
        model = FullyConnectedNet([100], reg=1e-3)
        solver = Solver(model, data, update_rule='sgd', optim_config={'learning_rate': 1e-4},
                        lr_decay=0.95, num_epochs=5, batch_size=200, print_every=100)
        solver.train()

    The model must have ``params`` (a dict of arrays) and ``loss(X, y=None)``: scores (N, C) when
    y is None, else (loss, grads) with grads keyed like params.

    Behaviour as the course's: mini-batches are drawn with replacement by ``np.random.choice``
    (seed NumPy's global generator for repeatable runs); every parameter gets its own copy of
    ``optim_config``; the learning rate is multiplied by ``lr_decay`` after each epoch; accuracy is
    checked on the first and last iterations and at each epoch's end (on ``num_train_samples``
    random training samples). Two differences: when no epoch ever beats a validation accuracy of 0,
    the model keeps its last parameters (the course would set them to an empty dict), and the
    checkpoint pickles are written atomically (a temporary file renamed over the target).
    """

    def __init__(self, model, data, *, update_rule="sgd", optim_config=None, lr_decay=1.0, batch_size=100,
                 num_epochs=10, num_train_samples=1000, num_val_samples=None, checkpoint_name=None,
                 print_every=10, verbose=True):
        """Construct a new Solver instance.

        Required arguments:
        - model: A model object conforming to the API described above
        - data: A dictionary of training and validation data containing:
          'X_train': Array, shape (N_train, d_1, ..., d_k) of training images
          'X_val': Array, shape (N_val, d_1, ..., d_k) of validation images
          'y_train': Array, shape (N_train,) of labels for training images
          'y_val': Array, shape (N_val,) of labels for validation images

        Optional arguments:
        - update_rule: A string giving the name of an update rule in optim.py (sgd, sgd_momentum,
          nesterov_momentum, rmsprop, adam, adamw, adagrad, adadelta), or a function
          update(w, dw, config) -> (next_w, config). Default is 'sgd'.
        - optim_config: A dictionary containing hyperparameters that will be passed to the chosen
          update rule. Each update rule requires different hyperparameters (see optim.py) but all
          update rules require a 'learning_rate' parameter so that should always be present.
        - lr_decay: A scalar for learning rate decay; after each epoch the learning rate is
          multiplied by this value.
        - batch_size: Size of minibatches used to compute loss and gradient during training.
        - num_epochs: The number of epochs to run for during training.
        - print_every: Integer; training losses will be printed every print_every iterations.
        - verbose: Boolean; if set to false then no output will be printed during training.
        - num_train_samples: Number of training samples used to check training accuracy; default
          is 1000; set to None to use entire training set.
        - num_val_samples: Number of validation samples to use to check val accuracy; default is
          None, which uses the entire validation set.
        - checkpoint_name: If not None, then save model checkpoints here every epoch, as pickles
          named '<checkpoint_name>_epoch_<epoch>.pkl' (load them only from sources you trust).
        """
        self.model = model
        missing = [k for k in ("X_train", "y_train", "X_val", "y_val") if k not in data]
        if missing:
            raise ValueError(f"data must hold X_train, y_train, X_val and y_val; missing {missing}")
        self.X_train = data["X_train"]
        self.y_train = data["y_train"]
        self.X_val = data["X_val"]
        self.y_val = data["y_val"]

        self.optim_config = {} if optim_config is None else optim_config
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.num_epochs = num_epochs
        self.num_train_samples = num_train_samples
        self.num_val_samples = num_val_samples
        self.checkpoint_name = checkpoint_name
        self.print_every = print_every
        self.verbose = verbose

        if callable(update_rule):
            self.update_rule = update_rule
        elif isinstance(update_rule, str) and update_rule in optim.UPDATE_RULES:
            self.update_rule = optim.UPDATE_RULES[update_rule]
        else:
            raise ValueError(f'Invalid update_rule "{update_rule}": give one of {sorted(optim.UPDATE_RULES)} '
                             f"or a function update(w, dw, config) -> (next_w, config)")
        for name, value, low in (("batch_size", batch_size, 1), ("num_epochs", num_epochs, 0),
                                 ("print_every", print_every, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self._reset()

    def _reset(self):
        """Set up some book-keeping variables for optimization. Don't call this manually."""
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []

        # Make a deep copy of the optim_config for each parameter
        self.optim_configs = {}
        for p in self.model.params:
            d = {k: v for k, v in self.optim_config.items()}
            self.optim_configs[p] = d

    def _step(self):
        """Make a single gradient update. This is called by train() and should not be called manually."""
        num_train = self.X_train.shape[0]
        batch_mask = np.random.choice(num_train, self.batch_size)
        X_batch = self.X_train[batch_mask]
        y_batch = self.y_train[batch_mask]

        loss, grads = self.model.loss(X_batch, y_batch)
        self.loss_history.append(loss)

        for p, w in self.model.params.items():
            dw = grads[p]
            config = self.optim_configs[p]
            next_w, next_config = self.update_rule(w, dw, config)
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = "%s_epoch_%d.pkl" % (self.checkpoint_name, self.epoch)
        if self.verbose:
            print('Saving checkpoint to "%s"' % filename)
        # Written to a temporary file in the same folder, then renamed over the target: a crash
        # leaves the previous file whole, never a truncated one.
        folder = os.path.dirname(os.path.abspath(filename))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(filename) + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filename)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Check accuracy of the model on the provided data.

        Inputs:
        - X: Array of data, of shape (N, d_1, ..., d_k)
        - y: Array of labels, of shape (N,)
        - num_samples: If not None, subsample the data and only test the model on num_samples
          datapoints (drawn with replacement, as the course does).
        - batch_size: Split X and y into batches of this size to avoid using too much memory.

        Returns:
        - acc: Scalar giving the fraction of instances that were correctly classified by the model.
        """
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = np.random.choice(N, num_samples)
            N = num_samples
            X = X[mask]
            y = y[mask]

        num_batches = (N + batch_size - 1) // batch_size
        y_pred = []
        for i in range(num_batches):
            start = i * batch_size
            end = (i + 1) * batch_size
            scores = self.model.loss(X[start:end])
            y_pred.append(np.argmax(scores, axis=1))
        y_pred = np.hstack(y_pred)
        return np.mean(y_pred == y)

    def train(self):
        """Run optimization to train the model."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        for t in range(num_iterations):
            self._step()

            if self.verbose and t % self.print_every == 0:
                print("(Iteration %d / %d) loss: %f" % (t + 1, num_iterations, self.loss_history[-1]))

            # At the end of every epoch, increment the epoch counter and decay the learning rate.
            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for k in self.optim_configs:
                    config = self.optim_configs[k]
                    if "learning_rate" in config:
                        config["learning_rate"] *= self.lr_decay
                    elif self.lr_decay != 1:
                        raise ValueError(f"lr_decay={self.lr_decay} needs config['learning_rate'], which the "
                                         f"update rule did not keep for parameter {k!r}")

            # Check train and val accuracy on the first iteration, the last iteration, and at the
            # end of each epoch.
            first_it = t == 0
            last_it = t == num_iterations - 1
            if first_it or last_it or epoch_end:
                train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
                val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
                self.train_acc_history.append(train_acc)
                self.val_acc_history.append(val_acc)
                self._save_checkpoint()

                if self.verbose:
                    print("(Epoch %d / %d) train acc: %f; val_acc: %f" % (
                        self.epoch, self.num_epochs, train_acc, val_acc))

                # Keep track of the best model
                if val_acc > self.best_val_acc:
                    self.best_val_acc = val_acc
                    self.best_params = {k: v.copy() for k, v in self.model.params.items()}

        # At the end of training swap the best params into the model
        if self.best_params:
            self.model.params = self.best_params
