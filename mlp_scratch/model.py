"""The multi-layer perceptron: flat parameter buffers, their named views, and the compiled passes."""
import numpy as np

from mlp_scratch import threads
from mlp_scratch.kernels.layers.activations import ELU, LEAKY_RELU, RELU, SIGMOID, TANH, network_activations
from mlp_scratch.kernels.layers.affine import penalty_sums_size
from mlp_scratch.kernels.layers.dropout import Dropout, mask_parameters
from mlp_scratch.kernels.layers.losses import MSE, SOFTMAX, SVM, data_loss, softmax
from mlp_scratch.kernels.training import network
from mlp_scratch.kernels.training.layout import build_layout, hidden_outputs, parameter_views, running_views
from mlp_scratch.kernels.training.network import Network, Workspace
from mlp_scratch.validation import (check_bool, check_choice, check_dtype, check_features, check_labels,
                                    check_number, check_positive_int, check_seed, check_targets)

LOSSES = {"softmax": SOFTMAX, "svm": SVM, "mse": MSE}
ACTIVATIONS = {"relu": RELU, "leaky_relu": LEAKY_RELU, "elu": ELU, "tanh": TANH, "sigmoid": SIGMOID}
DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}  # torch's defaults; the others take none
INITS = ("he", "xavier")
DROPOUT_MODES = ("inverted", "classic")
# Rows per chunk when scoring a large X: bounds the activation workspace (784-512-512 in float32:
# 6 MB) while keeping the matrix products large enough for BLAS to run at full speed.
EVAL_ROWS = 1024


def weight_std(init, fan_in, fan_out, leak=0.0):
    """Standard deviation of the normal distribution a weight matrix is drawn from.

    he:     sqrt(2 / ((1 + leak**2) fan_in))  (He et al. 2015; torch.nn.init.kaiming_normal_ with
            a = leak: the leaky ReLU's slope, 0 for ReLU and the rest; for ReLU-like activations)
    xavier: sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio 2010; torch.nn.init.xavier_normal_; for
            tanh and sigmoid)
    a number: that fixed std (CS231n's ``weight_scale``, e.g. 1e-2)
    """
    if init == "he":
        return np.sqrt(2.0 / ((1 + leak ** 2) * fan_in))
    if init == "xavier":
        return np.sqrt(2.0 / (fan_in + fan_out))
    return float(init)


def check_init(init):
    if isinstance(init, str):
        if init in INITS:
            return init
        try:
            init = float(init)
        except ValueError:
            raise ValueError(f"init must be one of {list(INITS)} or a positive std, got {init!r}") from None
    return check_number("init", init, low=0, low_open=True)


class MLP:
    """affine -> [batch norm] -> activation -> [dropout], once per hidden layer, then affine -> loss.

    A hidden affine layer followed by batch norm has no bias: beta plays its part, and the bias's
    gradient would be identically zero (torch users write ``Linear(bias=False)`` there).

    Parameters
    ----------
    input_dim, num_classes : int
        num_classes is the number of outputs: classes, or regression targets with loss="mse".
    hidden_sizes : sequence of int
        Width of each hidden layer; empty for softmax regression / a linear SVM.
    batchnorm : bool
        Batch normalization after each hidden affine layer (torch's running-average convention).
    activation : str or list of str, one per hidden layer
        "relu" (default), "leaky_relu", "elu", "tanh" or "sigmoid" (kernels/layers/activations.py).
    activation_alpha : float or None
        The leaky ReLU's negative slope (default 0.01) or ELU's alpha (default 1.0).
    dropout : float in [0, 1)
        The probability of DROPPING a hidden unit in training; 0 disables it.
    dropout_mode : "inverted" (default) or "classic"
        Inverted dropout scales kept units by 1 / (1 - dropout) in training and leaves test mode the
        identity; classic dropout leaves kept units as they are and scales a dropout layer's output
        by 1 - dropout at test time. Both give each unit its training-time expectation at test time.
    l2 : float >= 0
        Adds 0.5 * l2 * sum(W**2) over the weight matrices (not biases, gamma or beta) to the loss.
    l1 : float >= 0
        Adds l1 * sum(|W|) over the weight matrices (subgradient l1 * sign(W), 0 at W = 0); with l2
        too, the elastic net.
    loss : "softmax", "svm" or "mse"
        "mse" makes a regression network: its outputs are predictions of real targets (y (N, C)),
        its loss their mean squared error and its score R^2.
    init : "he", "xavier" or a positive std; see ``weight_std``. Biases start at 0, gamma at 1.
    dtype : "float32" (default) or "float64"
    seed : int, seeds the initialization.

    All parameters live in one flat array ``flat_params`` and all gradients in ``flat_grads`` with the
    same layout; ``params`` and ``grads`` are CS231n-style dicts of views into them
    (W1, b1 or gamma1 and beta1, ..., W{L}, b{L}).
    """

    def __init__(self, input_dim, hidden_sizes, num_classes, *, activation="relu", activation_alpha=None,
                 batchnorm=False, dropout=0.0, dropout_mode="inverted",
                 l2=0.0, l1=0.0, loss="softmax", init="he", dtype="float32", seed=0,
                 bn_momentum=0.1, bn_eps=1e-5):
        self.input_dim = check_positive_int("input_dim", input_dim)
        self.num_classes = check_positive_int("num_classes", num_classes)
        if isinstance(hidden_sizes, (int, np.integer)):
            hidden_sizes = [hidden_sizes]
        if isinstance(hidden_sizes, str) or not hasattr(hidden_sizes, "__iter__"):
            raise ValueError(f"hidden_sizes must be a sequence of positive integers, got {hidden_sizes!r}")
        self.hidden_sizes = [check_positive_int("hidden_sizes[%d]" % i, h)
                             for i, h in enumerate(hidden_sizes)]
        self.batchnorm = check_bool("batchnorm", batchnorm)
        names = [activation] * len(self.hidden_sizes) if isinstance(activation, str) else list(activation)
        if len(names) != len(self.hidden_sizes):
            raise ValueError(f"activation must be one name or one per hidden layer ({len(self.hidden_sizes)}), "
                             f"got {activation!r}")
        self.activation = [check_choice("activation", name, ACTIVATIONS) for name in names]
        self.activation_alpha = None if activation_alpha is None else check_number(
            "activation_alpha", activation_alpha, low=0, low_open=True)
        self.act_alpha = np.array([DEFAULT_ALPHA.get(name, 0.0) if self.activation_alpha is None
                                   else self.activation_alpha for name in self.activation] or [0.0])
        self.dropout = check_number("dropout", dropout, low=0, high=1, high_open=True)
        self.dropout_mode = check_choice("dropout_mode", dropout_mode, DROPOUT_MODES)
        self.l2 = check_number("l2", l2, low=0)
        self.l1 = check_number("l1", l1, low=0)
        self.loss_name = check_choice("loss", loss, LOSSES)
        if self.num_classes < 2 and not self.regression:
            raise ValueError(f"num_classes must be at least 2 for a classifier (loss={loss!r}), got {num_classes}")
        self.init = check_init(init)
        self.dtype = check_dtype(dtype)
        self.seed = check_seed("seed", seed)
        self.bn_momentum = check_number("bn_momentum", bn_momentum, low=0, high=1)
        self.bn_eps = check_number("bn_eps", bn_eps, low=0, low_open=True)

        sizes = [self.input_dim] + self.hidden_sizes + [self.num_classes]
        self.layout, self._sizes = build_layout(sizes, self.batchnorm, self.dropout > 0,
                                                [ACTIVATIONS[name] for name in self.activation])
        self.flat_params = np.zeros(self._sizes.params, self.dtype)
        self.flat_grads = np.zeros(self._sizes.params, self.dtype)
        self.running = np.zeros(self._sizes.stats, self.dtype)  # running_mean, running_var per BN layer
        self._batch_stats = np.zeros(self._sizes.stats, self.dtype)  # the last batch's mean, inv_std
        self.params = parameter_views(self.flat_params, self.layout)
        self.grads = parameter_views(self.flat_grads, self.layout)
        self._work = None
        self.reset_parameters()

    def __getstate__(self):
        """Pickles as config and flat buffers: pickle would turn the views into copies."""
        return {"config": self.config(), "flat_params": self.flat_params, "running": self.running}

    def __setstate__(self, state):
        self.__init__(**state["config"])
        self.flat_params[:] = state["flat_params"]
        self.running[:] = state["running"]

    def config(self):
        """The constructor arguments; ``MLP(**model.config())`` builds the same architecture."""
        return dict(input_dim=self.input_dim, hidden_sizes=list(self.hidden_sizes),
                    num_classes=self.num_classes, activation=list(self.activation),
                    activation_alpha=self.activation_alpha, batchnorm=self.batchnorm, dropout=self.dropout,
                    dropout_mode=self.dropout_mode, l2=self.l2, l1=self.l1, loss=self.loss_name, init=self.init,
                    dtype=self.dtype.name, seed=self.seed, bn_momentum=self.bn_momentum, bn_eps=self.bn_eps)

    @property
    def regression(self):
        """Whether the network predicts real targets (loss "mse") rather than classes."""
        return self.loss_name == "mse"

    @property
    def metric(self):
        """The name of ``score``'s figure: "acc" (accuracy) or "r2" (R^2, for regression)."""
        return "r2" if self.regression else "acc"

    def check_targets(self, y, n_samples, name="y"):
        """y checked for this network: n_samples class labels, or real targets (n_samples, num_classes)
        in the model's dtype for regression."""
        if self.regression:
            return check_targets(y, n_samples, self.num_classes, self.dtype, name)
        return check_labels(y, n_samples, self.num_classes, name)

    def running_stats(self):
        """{'running_mean1': ..., 'running_var1': ..., ...}: views into ``running``."""
        return running_views(self.running, self.layout)

    def weight_mask(self):
        """True on the elements of weight matrices: where L2 and, by default, weight decay apply."""
        mask = np.zeros(self.flat_params.size, bool)
        for name, view in parameter_views(mask, self.layout).items():
            view[...] = name.startswith("W")
        return mask

    def layer_mask(self, layers):
        """True on every parameter (W, b, gamma, beta) of the given layers (numbered from 1, the last
        affine layer included): e.g. the frozen part of a network in transfer learning."""
        mask = np.zeros(self.flat_params.size, bool)
        for name, view in parameter_views(mask, self.layout).items():
            view[...] = int(name[len(name.rstrip("0123456789")):]) in layers
        return mask

    def reset_parameters(self):
        """Weights from N(0, weight_std**2) drawn in float64 from ``seed``; b = beta = 0, gamma = 1."""
        rng = np.random.default_rng(self.seed)
        self.flat_params[:] = 0
        for l, (d_in, d_out) in enumerate(zip(self.layout.d_in, self.layout.d_out), start=1):
            leaky = l <= len(self.activation) and self.activation[l - 1] == "leaky_relu"
            std = weight_std(self.init, d_in, d_out, self.act_alpha[l - 1] if leaky else 0.0)
            self.params[f"W{l}"][:] = std * rng.standard_normal((d_in, d_out))
            if f"gamma{l}" in self.params:
                self.params[f"gamma{l}"][:] = 1
        for name, view in self.running_stats().items():
            view[:] = 1 if name.startswith("running_var") else 0

    # -- what the compiled passes take ---------------------------------------------------------------
    def network(self, dropout=None):
        """The model as the compiled passes take it (kernels/training/network.py): views of its buffers and its
        settings in its dtype. ``dropout`` overrides the model's rate (full-batch methods use 0)."""
        cast = self.dtype.type
        settings = None
        if (self.layout.drop >= 0).any():  # the layers have dropout blocks
            keep = 1.0 - (self.dropout if dropout is None else dropout)
            threshold, inverted_scale = mask_parameters(cast(keep))  # the scale in float64: 1 / keep
            classic = self.dropout_mode == "classic"
            settings = Dropout(np.uint64(threshold), 1.0 if classic else inverted_scale,
                               cast(1.0 - self.dropout if classic else 1.0))
        return Network(self.layout, self.flat_params, self.flat_grads, self.running, self._batch_stats,
                       self.act_alpha, network_activations([ACTIVATIONS[name] for name in self.activation]),
                       LOSSES[self.loss_name], cast(self.l1), cast(self.l2), settings,
                       cast(self.bn_momentum), cast(self.bn_eps), threads.blocks_for(self.flat_params.size))

    def workspace(self, n):
        """Activation and gradient buffers for batches of up to n rows, allocated once and grown
        when a larger batch comes."""
        if self._work is None or len(self._work.scores) < n:
            widest = max(self.hidden_sizes, default=1)  # backward scratch holds hidden layers' gradients
            penalty_sums = max(map(penalty_sums_size, self.layout.d_in, self.layout.d_out))
            self._work = Workspace(acts=np.empty(n * self._sizes.act_columns, self.dtype),
                                   grad_a=np.empty(n * widest, self.dtype), grad_b=np.empty(n * widest, self.dtype),
                                   scores=np.empty((n, self.num_classes), self.dtype),
                                   dscores=np.empty((n, self.num_classes), self.dtype),
                                   row_loss=np.empty(n, np.float64),
                                   penalty_sums=np.empty(penalty_sums, np.float64),
                                   loss_grads=np.empty(0, np.float64))
        return self._work

    # -- passes ------------------------------------------------------------------------------------
    def forward_backward(self, X, y, seed=0, dropout=None):
        """One training-mode pass on the batch (X, y): fills ``grads`` and returns the loss
        (data loss + L2 penalty). ``seed`` fixes the dropout masks and ``dropout`` overrides the
        model's rate for this pass (full-batch methods use 0); batch norm uses the batch's
        statistics and updates its running averages."""
        X = check_features(X, self.input_dim, self.dtype)
        y = self.check_targets(y, X.shape[0])
        return self.forward_backward_checked(X, y, np.uint64(check_seed("seed", seed)), dropout)

    def forward_backward_checked(self, X, y, seed, dropout=None, statistics=None):
        """forward_backward on data already checked (check_features, check_targets) and a uint64
        seed: for callers that check their data once and pass over it many times (L-BFGS).
        ``statistics``, an array shaped as ``running``, receives the batch's batch-norm statistics
        (as running averages of momentum 1) and the running averages stay as they are."""
        if self.batchnorm and X.shape[0] < 2:
            raise ValueError("batch norm needs at least 2 samples per training batch, got 1")
        net = self.network(dropout)
        if statistics is not None:
            net = net._replace(running=statistics, bn_momentum=self.dtype.type(1.0))
        work = self.workspace(X.shape[0])
        with threads.pools(self.flat_params.size):
            data_loss, penalty = network.forward_backward(X, y, net, work, seed)
        return data_loss + penalty

    def scores(self, X):
        """Evaluation-mode class scores (N, C): running batch-norm averages, no dropout."""
        X = check_features(X, self.input_dim, self.dtype)
        return self.scores_checked(X)

    def scores_checked(self, X):
        out = np.empty((X.shape[0], self.num_classes), self.dtype)
        rows = max(0 if self._work is None else len(self._work.scores), EVAL_ROWS)
        for start in range(0, X.shape[0], rows):
            stop = min(start + rows, X.shape[0])
            self._forward_eval(X[start:stop], out[start:stop])
        return out

    def _forward_eval(self, X, scores):
        """The compiled evaluation pass on checked X."""
        work = self.workspace(X.shape[0])
        with threads.pools(self.flat_params.size):
            network.forward_eval(X, self.network(), work.acts, scores)

    def hidden_activations(self, X):
        """Evaluation-mode output of each hidden layer on X, after its activation (batch norm with the
        running averages, no dropout): a list of one (N, H_l) array per hidden layer, empty without
        hidden layers. The arrays are copies, kept when the model runs again. Runs all of X in one
        pass, so the activation workspace grows to N rows; for looking inside the network, e.g.
        activation statistics at initialization, not for scoring large sets."""
        X = check_features(X, self.input_dim, self.dtype)
        self._forward_eval(X, np.empty((X.shape[0], self.num_classes), self.dtype))
        return hidden_outputs(self.workspace(X.shape[0]).acts, self.layout, X.shape[0])

    def predict_proba(self, X):
        """Softmax of the evaluation-mode scores (also for an SVM-trained model)."""
        if self.regression:
            raise ValueError("predict_proba: a regression network (loss='mse') predicts values, not classes: "
                             "use predict")
        probs = self.scores(X)
        softmax(probs, probs)
        return probs

    def predict(self, X):
        """Class labels, or for regression the predicted targets (N, num_classes)."""
        scores = self.scores(X)
        return scores if self.regression else np.argmax(scores, axis=1)

    def score(self, X, y):
        """Mean accuracy on (X, y); R^2 for regression (see ``r_squared``)."""
        return self.evaluate(X, y)[1]

    def evaluate(self, X, y):
        """(data loss, score) in evaluation mode: the score is the accuracy, or R^2 for regression."""
        X = check_features(X, self.input_dim, self.dtype)
        return self.evaluate_checked(X, self.check_targets(y, X.shape[0]))

    def score_bound(self, input_bound):
        """An upper bound on the 2-norm of evaluation-mode scores, and of every partial sum on the
        way to them, for an input of 2-norm at most ``input_bound`` (float64; inf where it overflows).
        Layer by layer: |x @ W + b| <= |W|_F |x| + |b|; batch norm scales by at most
        max |gamma| / sqrt(var + eps) after subtracting the mean, then adds beta; the activations
        grow a value by at most their slope (leaky ReLU's and ELU's alpha, where above 1), sigmoid
        is at most 1."""
        def norm(name):
            return float(np.linalg.norm(self.params[name].astype(np.float64))) if name in self.params else 0.0

        bound, running = float(input_bound), self.running_stats()
        with np.errstate(over="ignore", invalid="ignore"):
            for l, name in enumerate(self.activation, start=1):
                bound = norm(f"W{l}") * bound + norm(f"b{l}")
                if f"gamma{l}" in self.params:
                    var = running[f"running_var{l}"].astype(np.float64)
                    scale = float(np.max(np.abs(self.params[f"gamma{l}"]) / np.sqrt(np.maximum(var, 0) + self.bn_eps)))
                    mean = float(np.linalg.norm(running[f"running_mean{l}"].astype(np.float64)))
                    bound = scale * (bound + mean) + norm(f"beta{l}")
                if name == "sigmoid":
                    bound = np.sqrt(self.params[f"W{l}"].shape[1])
                elif name in ("leaky_relu", "elu"):
                    bound *= max(1.0, float(self.act_alpha[l - 1]))
            last = len(self.activation) + 1
            bound = norm(f"W{last}") * bound + norm(f"b{last}")
        return bound if np.isfinite(bound) else np.inf

    def evaluate_checked(self, X, y):
        """evaluate on data already checked (check_features, check_targets): for callers that
        check their data once and evaluate it every epoch (the trainer)."""
        scores = self.scores_checked(X)
        dscores = np.empty_like(scores)
        row_loss = np.empty(X.shape[0], np.float64)
        loss = data_loss(LOSSES[self.loss_name], scores, y, dscores, row_loss)
        if self.regression:
            return float(loss), r_squared(y, scores)
        return float(loss), float(np.mean(np.argmax(scores, axis=1) == y))


def r_squared(targets, predictions):
    """The coefficient of determination, averaged over the outputs (scikit-learn's r2_score):
    1 - sum (t - p)**2 / sum (t - mean t)**2 per output; an output with constant targets scores 1
    if predicted exactly, else 0. In float64."""
    targets, predictions = np.asarray(targets, np.float64), np.asarray(predictions, np.float64)
    residual = ((targets - predictions) ** 2).sum(axis=0)
    total = ((targets - targets.mean(axis=0)) ** 2).sum(axis=0)
    constant = total == 0
    scores = np.where(constant, (residual == 0).astype(np.float64), 1 - residual / np.where(constant, 1, total))
    return float(scores.mean())
