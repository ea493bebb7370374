"""scikit-learn estimators, a classifier and a regressor, over the same model, optimizers and
compiled training loop."""
import warnings
from types import SimpleNamespace

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from mlp_scratch.model import MLP
from mlp_scratch.optim import OPTIMIZERS, make_optimizer
from mlp_scratch.schedules import make_schedule
from mlp_scratch.trainer import NON_FINITE, Stop, Trainer
from mlp_scratch.validation import check_bool, check_int, check_number, check_positive_int, features_and_magnitude


# The parameters of both estimators (their docstrings include them).
PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
    activation : {"relu", "leaky_relu", "elu", "tanh", "sigmoid"}, default="relu"
    batchnorm : bool, default=False
    dropout : float in [0, 1), default=0.0
        Probability of dropping a hidden unit during training.
    l2 : float, default=1e-4
    l1 : float, default=0.0
        l1 * sum(|W|) on the mean loss; with ``l2``, the elastic net.
    loss : None, or {"softmax", "svm"} (classifier), {"mse"} (regressor), default=None
        None: softmax cross-entropy for the classifier, mean squared error for the regressor.
    init : "he", "xavier" or a positive std, default="he"
    optimizer : {"sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw"}, default="adam"
    lr : float, default=1e-3
    optimizer_params : dict or None
        Further optimizer hyperparameters, e.g. ``{"momentum": 0.9, "nesterov": True}``.
    schedule : str or None, and schedule_params : dict or None
        A learning-rate schedule of mlp_scratch.schedules by name, e.g. "cosine" with {"t_max": 50}.
    batch_size : int or "auto", default="auto"
        "auto" is min(200, n_samples), as in scikit-learn; a larger integer than the number of
        samples is clipped to it, with a warning.
    max_iter : int, default=200
        Epochs (passes over the data).
    tol : float, default=1e-4, and n_iter_no_change : int, default=10
        Training stops when the training loss (or, with early stopping, the validation score:
        accuracy, or R^2 for the regressor) has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for the classifier) and keep the
        parameters of the best validation score.
    validation_fraction : float in [0, 1), default=0.1
        Above 0 with early stopping.
    warm_start : bool, default=False
        ``fit`` continues from the previous solution, optimizer state included.
    dtype : "float32", "float64" or None, default=None
        None: float32 for float32 input, else float64 (scikit-learn's dtype convention).
    random_state : int, RandomState or None
    verbose : bool, default=False
        Print a line per epoch, and the diagnostics' warnings.
    diagnostics : None, True, int or mlp_scratch.diagnostics.Diagnostics, default=None
        Per-layer statistics each epoch (True) or every that many steps (mlp_scratch.diagnostics),
        kept in ``diagnostics_`` and ``histograms_``.
"""

# What both estimators keep besides their own: classes_ for the classifier, n_outputs_ for the regressor.
ATTRIBUTES = """n_features_in_, model_ (the MLP), optimizer_, loss_curve_ (mean training loss per
    epoch: the step losses weighted by batch size, as scikit-learn's), validation_scores_ (with
    early stopping), best_loss_, best_validation_score_, n_iter_ (epochs), t_ (steps); with
    ``diagnostics``, diagnostics_ (a dict per record and layer) and histograms_, over all fits since
    the last fresh one."""


class MLPEstimator(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: their parameters, training through the package's
    Trainer (fit, partial_fit, warm_start) and scikit-learn's stopping rule. A subclass says how
    its targets are checked, split and encoded."""

    def __init__(self, hidden_layer_sizes=(100,), *, activation="relu", batchnorm=False, dropout=0.0, l2=1e-4, l1=0.0,
                 loss=None, init="he", optimizer="adam", lr=1e-3, optimizer_params=None, schedule=None,
                 schedule_params=None, batch_size="auto", max_iter=200, tol=1e-4, n_iter_no_change=10,
                 early_stopping=False, validation_fraction=0.1, warm_start=False, dtype=None, random_state=None,
                 verbose=False, diagnostics=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.batchnorm = batchnorm
        self.dropout = dropout
        self.l2 = l2
        self.l1 = l1
        self.loss = loss
        self.init = init
        self.optimizer = optimizer
        self.lr = lr
        self.optimizer_params = optimizer_params
        self.schedule = schedule
        self.schedule_params = schedule_params
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.diagnostics = diagnostics

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, X, y):
        """Train for up to ``max_iter`` epochs (from scratch unless ``warm_start``)."""
        reset = not (self.warm_start and hasattr(self, "model_"))
        X, y, largest = self._checked_data(X, y, reset)
        if reset:
            self._start(X)
        self._check_parameters()
        return self._train(X, y, largest, self.max_iter, stop_early=True)

    def _partial_fit(self, X, y, classes=None):
        first = not hasattr(self, "model_")
        X, y, largest = self._checked_data(X, y, first, classes)
        if first:
            self._start(X)
        return self._train(X, y, largest, 1, stop_early=False)

    def _checked_data(self, X, y, reset, classes=None):
        """(X, y, the largest |x|): X in the model's dtype, checked by scikit-learn but for its values,
        which the package's check reads once, naming X (scikit-learn's took 2.8 ms of 20,000 MNIST-sized
        rows), finding the bound the Trainer needs; y as the subclass's _validate makes it."""
        X, y = self._validate(X, y, reset, classes)
        X, largest = features_and_magnitude(X, None, self._dtype(X, reset), "X")
        return X, y, largest

    def _check_parameters(self):
        check_positive_int("max_iter", self.max_iter)
        check_number("tol", self.tol, low=0)
        check_int("n_iter_no_change", self.n_iter_no_change, low=1)
        check_bool("early_stopping", self.early_stopping)
        check_bool("warm_start", self.warm_start)
        check_number("validation_fraction", self.validation_fraction, low=0, high=1, high_open=True)
        if self.early_stopping and self.validation_fraction == 0:
            raise ValueError("validation_fraction must be above 0 with early_stopping=True (it holds out that "
                             "fraction for validation), got 0.0")
        if isinstance(self.batch_size, str):
            if self.batch_size != "auto":
                raise ValueError(f"batch_size must be a positive integer or 'auto', got {self.batch_size!r}")
        else:
            check_positive_int("batch_size", self.batch_size)
        sizes = self.hidden_layer_sizes
        return [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)

    def _dtype(self, X, reset):
        if hasattr(self, "model_") and not reset:
            return self.model_.dtype  # a warm start keeps the model's dtype
        return self.dtype or ("float32" if X.dtype == np.float32 else "float64")

    def _start(self, X):
        hidden_sizes = self._check_parameters()
        rng = check_random_state(self.random_state)
        self._seed = int(rng.randint(0, 2 ** 31 - 1))
        if self.loss is not None and self.loss not in self._losses:
            raise ValueError(f"loss must be None or one of {list(self._losses)} for {type(self).__name__}, "
                             f"got {self.loss!r}")
        self.model_ = MLP(X.shape[1], hidden_sizes, self._outputs(), activation=self.activation,
                          batchnorm=self.batchnorm, dropout=self.dropout, l2=self.l2, l1=self.l1,
                          loss=self.loss or self._losses[0], init=self.init, dtype=X.dtype.name, seed=self._seed)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)} (L-BFGS is not offered here), "
                             f"got {self.optimizer!r}")
        try:
            self.optimizer_ = make_optimizer(self.optimizer, lr=self.lr, **(self.optimizer_params or {}))
        except TypeError as error:
            raise ValueError(f"optimizer_params: {error}") from None
        self._schedule()  # checks schedule_params now; each fit builds its own
        self._run_state = None  # the Trainer's state after the last fit, from which the next one continues
        self.loss_curve_, self.validation_scores_ = [], []
        self.best_loss_, self.best_validation_score_ = np.inf, -np.inf
        self.n_iter_ = self.t_ = 0

    def _schedule(self):
        try:
            return make_schedule(self.schedule, **(self.schedule_params or {})) if self.schedule else None
        except TypeError as error:
            raise ValueError(f"schedule_params: {error}") from None

    def _split(self, X, y):
        """(training part, validation part) of (X, y) for early stopping."""
        X, X_val, y, y_val = train_test_split(X, y, test_size=self.validation_fraction, random_state=self._seed)
        if len(X_val) < 2:
            raise ValueError(f"early_stopping: validation_fraction={self.validation_fraction} of {len(X) + len(X_val)} "
                             f"samples holds out {len(X_val)}, and R^2 needs at least 2: raise validation_fraction, "
                             f"give more samples, or set early_stopping=False")
        return SimpleNamespace(X_train=X, y_train=y, X_val=X_val, y_val=y_val)

    def _train(self, X, y, largest, epochs, stop_early):
        """``epochs`` more epochs through the package's Trainer, continuing the previous fit's run (step
        clock, shuffling stream, schedule); with ``stop_early``, scikit-learn's stopping rule. ``largest``
        bounds |x| over X (_checked_data)."""
        validating = self.early_stopping and stop_early
        data = self._split(X, y) if validating else SimpleNamespace(X_train=X, y_train=y, X_val=None, y_val=None)
        batch_size = min(200, len(data.X_train)) if isinstance(self.batch_size, str) else self.batch_size
        trainer = Trainer(self.model_, self.optimizer_, epochs=self.n_iter_ + epochs, batch_size=batch_size,
                          schedule=self._schedule(), seed=self._seed, restore_best=validating, train_eval_samples=0,
                          log=print if self.verbose else None, diagnostics=self.diagnostics)
        without_improvement = 0

        def after_epoch(trainer):
            """scikit-learn's rule: stop after more than n_iter_no_change epochs without improvement by tol."""
            nonlocal without_improvement
            record = trainer.history.epochs[-1]
            self.n_iter_, self.t_ = record["epoch"], len(trainer.history.iteration_loss)
            self.loss_curve_.append(record["batch_loss"])
            if validating:
                score = record[f"val_{self.model_.metric}"]
                self.validation_scores_.append(score)
                improved = score > self.best_validation_score_ + self.tol
                self.best_validation_score_ = max(self.best_validation_score_, score)
            else:
                improved = self.loss_curve_[-1] < self.best_loss_ - self.tol
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            without_improvement = 0 if improved else without_improvement + 1
            if stop_early and without_improvement > self.n_iter_no_change:
                raise Stop(f"no improvement by tol={self.tol} in {self.n_iter_no_change} epochs")

        history = trainer.fit(data, on_epoch_end=after_epoch, resume=self._run_state, largest_input=largest)
        self._run_state = trainer.state_dict()
        self.diagnostics_, self.histograms_ = history.diagnostics, history.histograms
        if history.stop_reason.startswith(NON_FINITE):
            raise ValueError(f"training diverged: {history.stop_reason}")
        if stop_early and epochs > 1 and history.stop_reason == "completed":
            warnings.warn(f"{type(self).__name__} stopped at max_iter={self.max_iter} epochs before converging",
                          ConvergenceWarning)
        return self

    # -- predicting --------------------------------------------------------------------------------
    def _checked(self, X):
        """X checked against the fitted estimator by scikit-learn but for its values, which the
        model's prediction checks in its one pass over X, converting it to the model's dtype."""
        check_is_fitted(self, "model_")
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False)



class MLPClassifier(ClassifierMixin, MLPEstimator):
    __doc__ = """Multi-layer perceptron classifier of mlp-scratch with scikit-learn's estimator API.

    Named like scikit-learn's ``sklearn.neural_network.MLPClassifier`` and used the same way, with
    this package's extras: activations, batch norm, dropout, the optimizer family and schedules. Differences:
    ``l2`` is the model's 0.5 * l2 * sum(W**2) on the mean loss (scikit-learn's ``alpha`` is divided
    by the batch size); ``warm_start`` keeps the optimizer's state.
    """ + PARAMETERS + """
    Attributes
    ----------
    classes_, """ + ATTRIBUTES + """

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), batchnorm=True, max_iter=20, random_state=0).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.95
    True
    """
    _losses = ("softmax", "svm")

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y); the first call needs ``classes`` (all labels that will appear)."""
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("classes must be given on the first call to partial_fit")
        return self._partial_fit(X, y, classes)

    def _validate(self, X, y, reset, classes=None):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False)
        # Integer labels spanning at most half as many values as samples pass scikit-learn's target
        # check (discrete, without its warning of more classes than half the samples) unchecked.
        labels = y.dtype.kind in "iu" and y.size > 0
        low, high = (int(y.min()), int(y.max())) if labels else (None, None)
        few_labels = labels and high - low < round(0.5 * len(y))
        if not few_labels:
            check_classification_targets(y)
        if reset:
            if few_labels and classes is None:
                # the labels present, counted: LabelEncoder's np.unique took 0.3 ms of 20,000 labels
                counts = np.bincount(y.astype(np.int64) - low)
                self._encoder, self.classes_ = None, (np.flatnonzero(counts) + low).astype(y.dtype)
            else:
                self._encoder = LabelEncoder().fit(y if classes is None else np.asarray(classes))
                self.classes_ = self._encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(f"MLPClassifier needs samples of at least 2 classes, got 1 class: {self.classes_}")
        # Labels 0, ..., K - 1 are their own indices into classes_: the encoder would sort and search
        # to find them (1.3 ms a fit of 20,000 labels, with the check above: 4% of a 64-64-64-10 fit).
        k = len(self.classes_)
        if (labels and self.classes_.dtype.kind in "iu" and np.array_equal(self.classes_, np.arange(k))
                and 0 <= low <= high < k):
            return X, y.astype(np.int64)
        if not reset and not np.isin(y, self.classes_).all():
            raise ValueError(f"y has labels {sorted(set(np.unique(y).tolist()) - set(self.classes_.tolist()))} not in "
                             f"classes_ {self.classes_.tolist()}")
        if self._encoder is None:  # classes_ counted from y's labels (above): sorted, and holding y's
            return X, np.searchsorted(self.classes_, y).astype(np.int64)
        return X, self._encoder.transform(y).astype(np.int64)

    def _outputs(self):
        return len(self.classes_)

    def _split(self, X, y):
        """Stratified, as scikit-learn's."""
        try:
            X, X_val, y, y_val = train_test_split(X, y, test_size=self.validation_fraction, stratify=y,
                                                  random_state=self._seed)
        except ValueError as error:
            raise ValueError(f"early_stopping: a stratified split of {len(y)} samples of {len(self.classes_)} classes "
                             f"with validation_fraction={self.validation_fraction} is not possible ({error}); raise "
                             f"validation_fraction, give more samples of each class, or set early_stopping=False") from None
        return SimpleNamespace(X_train=X, y_train=y, X_val=X_val, y_val=y_val)

    def predict_proba(self, X):
        """Class probabilities (softmax of the evaluation-mode scores), columns ordered as classes_."""
        X = self._checked(X)  # checks that the estimator is fitted before model_ is read
        return self.model_.predict_proba(X)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def predict(self, X):
        X = self._checked(X)  # checks that the estimator is fitted before model_ and classes_ are read
        scores = self.model_.scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, MLPEstimator):
    __doc__ = """Multi-layer perceptron regressor of mlp-scratch with scikit-learn's estimator API.

    Named like scikit-learn's ``sklearn.neural_network.MLPRegressor`` and used the same way: real
    targets, one (y a vector) or several (y of shape (n_samples, n_outputs)), a linear output layer
    and the mean squared error (``MLP(loss="mse")``), scored by R^2. The loss is the mean over
    samples and outputs of (prediction - target)**2, as torch's MSELoss; scikit-learn's squared
    error is half of it. Other differences as MLPClassifier's.
    """ + PARAMETERS + """
    Attributes
    ----------
    n_outputs_, """ + ATTRIBUTES + """

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import scale
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), lr=0.01, max_iter=100, random_state=0).fit(scale(X), scale(y))
    >>> reg.score(scale(X), scale(y)) > 0.5
    True
    """
    _losses = ("mse",)

    def partial_fit(self, X, y):
        """One epoch over (X, y)."""
        return self._partial_fit(X, y)

    def _validate(self, X, y, reset, classes=None):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], multi_output=True,
                             y_numeric=True, ensure_all_finite=False)
        outputs = 1 if y.ndim == 1 else y.shape[1]
        if reset:
            self.n_outputs_ = outputs
        elif outputs != self.n_outputs_:
            raise ValueError(f"y has {outputs} outputs, but {type(self).__name__} was fitted with {self.n_outputs_}")
        return X, np.ascontiguousarray(y.reshape(len(y), -1), dtype=self._dtype(X, reset))

    def _outputs(self):
        return self.n_outputs_

    def predict(self, X):
        """The predicted targets: a vector for one output, else (n_samples, n_outputs)."""
        X = self._checked(X)  # checks that the estimator is fitted before model_ is read
        predictions = self.model_.scores(X)
        return predictions.ravel() if self.n_outputs_ == 1 else predictions

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
