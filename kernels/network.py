"""The forward and backward pass of a whole MLP in compiled code.

Hidden layer l:  affine -> [batch norm] -> activation -> [inverted dropout];  output layer: affine -> loss.
The activation of hidden layer l is kind layout[l, ACT_KIND] with parameter act_alpha[l] (activations.py).

Everything lives in flat buffers described by ``layout``, an int64 table with one row per affine
layer (columns named below). Parameters, gradients, running statistics and the per-layer batch
statistics are flat 1-D arrays indexed by the *_OFF columns; activations of a batch of N rows live in
``acts``, where a block that starts at column c and is M wide occupies acts[N*c : N*(c+M)] as an
(N, M) C-contiguous array. Backward-pass gradients alternate between two scratch buffers.
"""
from numba import njit

from .activations import RELU, activation_backward, activation_forward
from .affine import affine_backward_input, affine_backward_params, affine_forward, weight_penalty
from .batchnorm import batch_statistics, batchnorm_backward, batchnorm_forward_eval, normalize_affine
from .dropout import mask_parameters, masked_scale
from .fused import normalize_relu, normalize_relu_dropout, relu_dropout, relu_dropout_backward
from .losses import SOFTMAX, SVM, data_loss  # noqa: F401 (SOFTMAX, SVM: the loss kinds callers pass)
from .random import derive_seed

# Columns of the layout table. Offsets of -1 mean "this layer has no such block".
W_OFF, B_OFF, GAMMA_OFF, BETA_OFF, D_IN, D_OUT, STAT_OFF, ACT_COL, XHAT_COL, DROP_COL, ACT_KIND = range(11)
LAYOUT_COLUMNS = 11


@njit(cache=True)
def block(flat, n, col, width):
    """The (n, width) C-contiguous view of the block starting at column ``col`` of ``flat``; (0, width)
    where col is -1 (a block the layer does not have)."""
    if col < 0:
        return flat[:0].reshape((0, width))
    return flat[n * col:n * (col + width)].reshape((n, width))


@njit(cache=True)
def weights(params, layout, l):
    return params[layout[l, W_OFF]:layout[l, W_OFF] + layout[l, D_IN] * layout[l, D_OUT]].reshape(
        (layout[l, D_IN], layout[l, D_OUT]))


@njit(cache=True)
def vector(flat, start, width):
    """flat[start:start + width]; empty where start is -1 (a block the layer does not have)."""
    if start < 0:
        return flat[:0]
    return flat[start:start + width]


@njit(cache=True)
def statistics(flat, start, width):
    """The two vectors of a batch-norm layer's statistics that start at ``start`` (mean and variance,
    or mean and inv_std); empty where start is -1."""
    return vector(flat, start, width), vector(flat, start + width if start >= 0 else -1, width)


@njit(cache=True)
def layer_input(X, acts, layout, l, training):
    """The input of affine layer l: X for the first layer, else the previous hidden layer's output
    (after dropout in training mode)."""
    if l == 0:
        return X
    dropped = training and layout[l - 1, DROP_COL] >= 0
    col = layout[l - 1, DROP_COL] if dropped else layout[l - 1, ACT_COL]
    return block(acts, X.shape[0], col, layout[l - 1, D_OUT])


@njit(cache=True)
def forward_eval(X, params, running, stats, acts, scores, layout, act_alpha, bn_eps):
    """Evaluation mode: batch norm with the running averages, no dropout. Writes scores (N, C)."""
    n = X.shape[0]
    last = layout.shape[0] - 1
    for l in range(last):
        m = layout[l, D_OUT]
        a = block(acts, n, layout[l, ACT_COL], m)
        affine_forward(layer_input(X, acts, layout, l, False), weights(params, layout, l),
                       vector(params, layout[l, B_OFF], m), a)
        if layout[l, GAMMA_OFF] >= 0:
            running_mean, running_var = statistics(running, layout[l, STAT_OFF], m)
            batchnorm_forward_eval(a, vector(params, layout[l, GAMMA_OFF], m),
                                   vector(params, layout[l, BETA_OFF], m), bn_eps, running_mean, running_var,
                                   statistics(stats, layout[l, STAT_OFF], m)[1], a)
        activation_forward(layout[l, ACT_KIND], act_alpha[l], a, a)
    affine_forward(layer_input(X, acts, layout, last, False), weights(params, layout, last),
                   vector(params, layout[last, B_OFF], layout[last, D_OUT]), scores)


@njit(cache=True)
def hidden_forward_train(params, running, stats, acts, layout, act_alpha, l, n, bn_eps, bn_momentum,
                         threshold, scale, seed):
    """Training mode, after hidden layer l's affine product: [batch norm] -> activation -> [dropout].
    ReLU layers take the one-pass kernels of fused.py; with dropout they leave the ACT block as the
    product (the backward pass reads the DROP block), else the activation replaces the product."""
    m, kind = layout[l, D_OUT], layout[l, ACT_KIND]
    bn, dropping = layout[l, GAMMA_OFF] >= 0, layout[l, DROP_COL] >= 0
    a, xhat, dropped = (block(acts, n, layout[l, ACT_COL], m), block(acts, n, layout[l, XHAT_COL], m),
                        block(acts, n, layout[l, DROP_COL], m))
    gamma, beta = vector(params, layout[l, GAMMA_OFF], m), vector(params, layout[l, BETA_OFF], m)
    mean, inv_std = statistics(stats, layout[l, STAT_OFF], m)
    if bn:
        running_mean, running_var = statistics(running, layout[l, STAT_OFF], m)
        batch_statistics(a, bn_eps, bn_momentum, running_mean, running_var, mean, inv_std)
    if kind == RELU and bn and dropping:
        normalize_relu_dropout(a, mean, inv_std, gamma, beta, threshold, scale, seed, xhat, dropped)
    elif kind == RELU and bn:
        normalize_relu(a, mean, inv_std, gamma, beta, xhat, a)
    elif kind == RELU and dropping:
        relu_dropout(a, threshold, scale, seed, dropped)
    else:
        if bn:
            normalize_affine(a, mean, inv_std, gamma, beta, xhat, a)
        activation_forward(kind, act_alpha[l], a, a)
        if dropping:
            masked_scale(a, threshold, scale, seed, dropped)


@njit(cache=True)
def forward_backward(X, y, params, grads, running, stats, acts, grad_a, grad_b, scores, dscores,
                     row_loss, l2_rows, layout, act_alpha, loss_kind, l1, l2, keep_prob, bn_momentum, bn_eps, seed):
    """Training mode: one forward and backward pass over the batch (X, y).

    Buffers (acts, grad_a, grad_b, scores, dscores, row_loss) may be sized for more rows than X has;
    ``l2_rows`` is float64 scratch as long as the widest layer input.

    Writes every gradient into ``grads`` (laid out like ``params``), updates the batch-norm running
    averages in ``running``, and returns (data loss, penalty l1 * sum|W| + 0.5 * l2 * sum(W**2)).
    Dropout masks are drawn from ``seed`` (one stream per layer), so a fixed seed fixes the masks.
    """
    n = X.shape[0]
    scores, dscores = scores[:n], dscores[:n]
    last = layout.shape[0] - 1
    threshold, scale = mask_parameters(keep_prob)
    for l in range(last):
        m = layout[l, D_OUT]
        a = block(acts, n, layout[l, ACT_COL], m)
        affine_forward(layer_input(X, acts, layout, l, True), weights(params, layout, l),
                       vector(params, layout[l, B_OFF], m), a)
        hidden_forward_train(params, running, stats, acts, layout, act_alpha, l, n, bn_eps, bn_momentum,
                             threshold, scale, derive_seed(seed, l))

    c = layout[last, D_OUT]
    affine_forward(layer_input(X, acts, layout, last, True), weights(params, layout, last),
                   vector(params, layout[last, B_OFF], c), scores)
    loss = data_loss(loss_kind, scores, y, dscores, row_loss)

    penalty = 0.0
    dout = dscores
    for l in range(last, -1, -1):
        W = weights(params, layout, l)
        dW = weights(grads, layout, l)
        affine_backward_params(layer_input(X, acts, layout, l, True), dout,
                               dW, vector(grads, layout[l, B_OFF], layout[l, D_OUT]))
        if l1 > 0 or l2 > 0:
            penalty += weight_penalty(W, l1, l2, dW, l2_rows)
        if l == 0:
            break
        # Backward through hidden layer l - 1, in place in one scratch buffer.
        h = l - 1
        m = layout[h, D_OUT]
        dx = block(grad_a if l % 2 == 0 else grad_b, n, 0, m)
        affine_backward_input(dout, W, dx)
        if layout[h, DROP_COL] >= 0 and layout[h, ACT_KIND] == RELU:
            relu_dropout_backward(dx, block(acts, n, layout[h, DROP_COL], m), scale, dx)
        else:
            if layout[h, DROP_COL] >= 0:
                masked_scale(dx, threshold, scale, derive_seed(seed, h), dx)  # the forward pass's mask
            activation_backward(layout[h, ACT_KIND], act_alpha[h], dx, block(acts, n, layout[h, ACT_COL], m), dx)
        if layout[h, GAMMA_OFF] >= 0:
            inv_std = statistics(stats, layout[h, STAT_OFF], m)[1]
            batchnorm_backward(dx, block(acts, n, layout[h, XHAT_COL], m), vector(params, layout[h, GAMMA_OFF], m),
                               inv_std, dx,
                               vector(grads, layout[h, GAMMA_OFF], m),
                               vector(grads, layout[h, BETA_OFF], m))
        dout = dx
    return loss, penalty
