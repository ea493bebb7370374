"""The multi-layer perceptron: flat parameter buffers, their named views, and the compiled passes."""
import numpy as np

from mlp_scratch import threads
from mlp_scratch.kernels import network
from mlp_scratch.kernels.losses import data_loss, softmax
from mlp_scratch.kernels.activations import ELU, LEAKY_RELU, RELU, SIGMOID, TANH
from mlp_scratch.kernels.network import (ACT_COL, ACT_KIND, B_OFF, BETA_OFF, D_IN, D_OUT, DROP_COL,
                                         GAMMA_OFF, LAYOUT_COLUMNS, STAT_OFF, W_OFF, XHAT_COL)
from mlp_scratch.validation import (check_bool, check_choice, check_dtype, check_features, check_labels,
                                    check_number, check_positive_int, check_seed)

LOSSES = {"softmax": network.SOFTMAX, "svm": network.SVM}
ACTIVATIONS = {"relu": RELU, "leaky_relu": LEAKY_RELU, "elu": ELU, "tanh": TANH, "sigmoid": SIGMOID}
DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}  # torch's defaults; the others take none
INITS = ("he", "xavier")
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
    hidden_sizes : sequence of int
        Width of each hidden layer; empty for softmax regression / a linear SVM.
    batchnorm : bool
        Batch normalization after each hidden affine layer (torch's running-average convention).
    activation : str or list of str, one per hidden layer
        "relu" (default), "leaky_relu", "elu", "tanh" or "sigmoid" (kernels/activations.py).
    activation_alpha : float or None
        The leaky ReLU's negative slope (default 0.01) or ELU's alpha (default 1.0).
    dropout : float in [0, 1)
        The probability of DROPPING a hidden unit in training (inverted dropout: kept units are
        scaled by 1 / (1 - dropout)); 0 disables it. Test mode is the identity.
    l2 : float >= 0
        Adds 0.5 * l2 * sum(W**2) over the weight matrices (not biases, gamma or beta) to the loss.
    l1 : float >= 0
        Adds l1 * sum(|W|) over the weight matrices (subgradient l1 * sign(W), 0 at W = 0); with l2
        too, the elastic net.
    loss : "softmax" or "svm"
    init : "he", "xavier" or a positive std; see ``weight_std``. Biases start at 0, gamma at 1.
    dtype : "float32" (default) or "float64"
    seed : int, seeds the initialization.

    All parameters live in one flat array ``flat_params`` and all gradients in ``flat_grads`` with the
    same layout; ``params`` and ``grads`` are CS231n-style dicts of views into them
    (W1, b1 or gamma1 and beta1, ..., W{L}, b{L}).
    """

    def __init__(self, input_dim, hidden_sizes, num_classes, *, activation="relu", activation_alpha=None,
                 batchnorm=False, dropout=0.0,
                 l2=0.0, l1=0.0, loss="softmax", init="he", dtype="float32", seed=0,
                 bn_momentum=0.1, bn_eps=1e-5):
        self.input_dim = check_positive_int("input_dim", input_dim)
        self.num_classes = check_positive_int("num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
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
        self.l2 = check_number("l2", l2, low=0)
        self.l1 = check_number("l1", l1, low=0)
        self.loss_name = check_choice("loss", loss, LOSSES)
        self.init = check_init(init)
        self.dtype = check_dtype(dtype)
        self.seed = check_seed("seed", seed)
        self.bn_momentum = check_number("bn_momentum", bn_momentum, low=0, high=1)
        self.bn_eps = check_number("bn_eps", bn_eps, low=0, low_open=True)

        self.layout, n_params, n_stats, self._act_width = self._build_layout()
        self.flat_params = np.zeros(n_params, self.dtype)
        self.flat_grads = np.zeros(n_params, self.dtype)
        self.running = np.zeros(n_stats, self.dtype)   # running_mean, running_var per BN layer
        self._stats = np.zeros(n_stats, self.dtype)    # the last batch's mean, inv_std
        self.params = self._views(self.flat_params)
        self.grads = self._views(self.flat_grads)
        self._capacity = 0
        self._l2_rows = np.empty(max(self.layout[:, D_IN]), np.float64)
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
                    l2=self.l2, l1=self.l1, loss=self.loss_name, init=self.init, dtype=self.dtype.name,
                    seed=self.seed, bn_momentum=self.bn_momentum, bn_eps=self.bn_eps)

    # -- layout ------------------------------------------------------------------------------------
    def _build_layout(self):
        sizes = [self.input_dim] + self.hidden_sizes + [self.num_classes]
        layout = np.full((len(sizes) - 1, LAYOUT_COLUMNS), -1, np.int64)
        offset = stat = col = 0
        for l, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            hidden = l < len(sizes) - 2
            layout[l, D_IN], layout[l, D_OUT] = d_in, d_out
            layout[l, W_OFF], offset = offset, offset + d_in * d_out
            if not (hidden and self.batchnorm):  # beta takes the bias's place after batch norm
                layout[l, B_OFF], offset = offset, offset + d_out
            if hidden and self.batchnorm:
                layout[l, GAMMA_OFF], offset = offset, offset + d_out
                layout[l, BETA_OFF], offset = offset, offset + d_out
                layout[l, STAT_OFF], stat = stat, stat + 2 * d_out
                layout[l, XHAT_COL], col = col, col + d_out
            if hidden:
                layout[l, ACT_COL], col = col, col + d_out
                layout[l, ACT_KIND] = ACTIVATIONS[self.activation[l]]
            if hidden and self.dropout > 0:
                layout[l, DROP_COL], col = col, col + d_out
        return layout, offset, stat, col

    def _views(self, flat):
        views = {}
        for l, row in enumerate(self.layout, start=1):
            d_in, d_out = row[D_IN], row[D_OUT]
            views[f"W{l}"] = flat[row[W_OFF]:row[W_OFF] + d_in * d_out].reshape(d_in, d_out)
            if row[B_OFF] >= 0:
                views[f"b{l}"] = flat[row[B_OFF]:row[B_OFF] + d_out]
            if row[GAMMA_OFF] >= 0:
                views[f"gamma{l}"] = flat[row[GAMMA_OFF]:row[GAMMA_OFF] + d_out]
                views[f"beta{l}"] = flat[row[BETA_OFF]:row[BETA_OFF] + d_out]
        return views

    def running_stats(self):
        """{'running_mean1': ..., 'running_var1': ..., ...}: views into ``running``."""
        views = {}
        for l, row in enumerate(self.layout, start=1):
            if row[STAT_OFF] >= 0:
                s, m = row[STAT_OFF], row[D_OUT]
                views[f"running_mean{l}"] = self.running[s:s + m]
                views[f"running_var{l}"] = self.running[s + m:s + 2 * m]
        return views

    def weight_mask(self):
        """True on the elements of weight matrices: where L2 and, by default, weight decay apply."""
        mask = np.zeros(self.flat_params.size, bool)
        for name, view in self._views(mask).items():
            view[...] = name.startswith("W")
        return mask

    def layer_mask(self, layers):
        """True on every parameter (W, b, gamma, beta) of the given layers (numbered from 1, the last
        affine layer included): e.g. the frozen part of a network in transfer learning."""
        mask = np.zeros(self.flat_params.size, bool)
        for name, view in self._views(mask).items():
            view[...] = int(name[len(name.rstrip("0123456789")):]) in layers
        return mask

    def reset_parameters(self):
        """Weights from N(0, weight_std**2) drawn in float64 from ``seed``; b = beta = 0, gamma = 1."""
        rng = np.random.default_rng(self.seed)
        self.flat_params[:] = 0
        for l, row in enumerate(self.layout, start=1):
            leaky = l <= len(self.activation) and self.activation[l - 1] == "leaky_relu"
            std = weight_std(self.init, row[D_IN], row[D_OUT], self.act_alpha[l - 1] if leaky else 0.0)
            self.params[f"W{l}"][:] = std * rng.standard_normal((row[D_IN], row[D_OUT]))
            if row[GAMMA_OFF] >= 0:
                self.params[f"gamma{l}"][:] = 1
        for name, view in self.running_stats().items():
            view[:] = 1 if name.startswith("running_var") else 0

    # -- workspaces --------------------------------------------------------------------------------
    def _workspace(self, n):
        """Activation and gradient scratch buffers for up to n rows, allocated once and reused."""
        if n > self._capacity:
            widest = max(self.hidden_sizes, default=1)  # backward scratch holds hidden layers' gradients
            self._acts = np.empty(n * self._act_width, self.dtype)
            self._grad_a = np.empty(n * widest, self.dtype)
            self._grad_b = np.empty(n * widest, self.dtype)
            self._scores = np.empty((n, self.num_classes), self.dtype)
            self._dscores = np.empty((n, self.num_classes), self.dtype)
            self._row_loss = np.empty(n, np.float64)
            self._capacity = n

    # -- passes ------------------------------------------------------------------------------------
    def forward_backward(self, X, y, seed=0):
        """One training-mode pass on the batch (X, y): fills ``grads`` and returns the loss
        (data loss + L2 penalty). ``seed`` fixes the dropout masks; batch norm uses the batch's
        statistics and updates its running averages."""
        X = check_features(X, self.input_dim, self.dtype)
        y = check_labels(y, X.shape[0], self.num_classes)
        data_loss, penalty = self._forward_backward(X, y, check_seed("seed", seed))
        return data_loss + penalty

    def _forward_backward(self, X, y, seed, dropout=None):
        """forward_backward on checked, C-contiguous inputs; returns (data loss, penalty).
        ``dropout`` overrides the model's rate for this pass (full-batch methods use 0)."""
        n = X.shape[0]
        if self.batchnorm and n < 2:
            raise ValueError("batch norm needs at least 2 samples per training batch, got 1")
        buffers = self.training_buffers(n)
        with threads.pools(self.flat_params.size):
            return network.forward_backward(X, y, *buffers, *self.training_scalars(dropout), np.uint64(seed))

    def training_buffers(self, n):
        """The buffers of a training pass over up to n rows, in forward_backward's order."""
        self._workspace(n)
        return (self.flat_params, self.flat_grads, self.running, self._stats, self._acts, self._grad_a,
                self._grad_b, self._scores, self._dscores, self._row_loss, self._l2_rows, self.layout,
                self.act_alpha)

    def training_scalars(self, dropout=None):
        """(loss kind, l1, l2, keep probability, bn_momentum, bn_eps) as forward_backward takes them: in
        the arrays' dtype, which keeps float32 kernels in float32. ``dropout`` overrides the rate."""
        cast = self.dtype.type
        keep = 1.0 - (self.dropout if dropout is None else dropout)
        return (LOSSES[self.loss_name], cast(self.l1), cast(self.l2), cast(keep), cast(self.bn_momentum),
                cast(self.bn_eps))

    def scores(self, X):
        """Evaluation-mode class scores (N, C): running batch-norm averages, no dropout."""
        X = check_features(X, self.input_dim, self.dtype)
        return self._scores_checked(X)

    def _scores_checked(self, X):
        out = np.empty((X.shape[0], self.num_classes), self.dtype)
        rows = max(self._capacity, EVAL_ROWS)
        self._workspace(rows)
        for start in range(0, X.shape[0], rows):
            stop = min(start + rows, X.shape[0])
            self._forward_eval(X[start:stop], out[start:stop])
        return out

    def _forward_eval(self, X, scores):
        """The compiled evaluation pass on checked X, within the workspace's rows."""
        with threads.pools(self.flat_params.size):
            network.forward_eval(X, self.flat_params, self.running, self._stats, self._acts, scores, self.layout,
                                 self.act_alpha, self.dtype.type(self.bn_eps))

    def hidden_activations(self, X):
        """Evaluation-mode output of each hidden layer on X, after its activation (batch norm with the
        running averages, no dropout): a list of one (N, H_l) array per hidden layer, empty without
        hidden layers. The arrays are copies, kept when the model runs again. Runs all of X in one
        pass, so the activation workspace grows to N rows; for looking inside the network, e.g.
        activation statistics at initialization, not for scoring large sets."""
        X = check_features(X, self.input_dim, self.dtype)
        n = X.shape[0]
        self._workspace(n)
        self._forward_eval(X, np.empty((n, self.num_classes), self.dtype))
        return [self._acts[n * c:n * (c + m)].reshape(n, m).copy() for c, m in self.layout[:-1, [ACT_COL, D_OUT]]]

    def predict_proba(self, X):
        """Softmax of the evaluation-mode scores (also for an SVM-trained model)."""
        probs = self.scores(X)
        softmax(probs, probs)
        return probs

    def predict(self, X):
        return np.argmax(self.scores(X), axis=1)

    def score(self, X, y):
        """Mean accuracy on (X, y)."""
        X = check_features(X, self.input_dim, self.dtype)
        y = check_labels(y, X.shape[0], self.num_classes)
        return float(np.mean(np.argmax(self._scores_checked(X), axis=1) == y))

    def evaluate(self, X, y):
        """(data loss, accuracy) in evaluation mode."""
        X = check_features(X, self.input_dim, self.dtype)
        return self._evaluate(X, check_labels(y, X.shape[0], self.num_classes))

    def _evaluate(self, X, y):
        scores = self._scores_checked(X)
        dscores = np.empty_like(scores)
        row_loss = np.empty(X.shape[0], np.float64)
        loss = data_loss(LOSSES[self.loss_name], scores, y, dscores, row_loss)
        return float(loss), float(np.mean(np.argmax(scores, axis=1) == y))
