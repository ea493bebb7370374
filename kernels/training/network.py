"""The forward and backward pass of a whole MLP in compiled code.

Hidden layer l:  affine -> [batch norm] -> activation -> [inverted dropout];  output layer: affine -> loss.

A pass reads two structures, built by the model (mlp_scratch/model.py): the ``Network`` (its Layout,
flat parameters and gradients, batch-norm statistics and settings) and a ``Workspace`` (the
activations and scratch of a batch). Blocks are found through kernels/training/layout.py. Backward-pass
gradients alternate between two scratch buffers.
"""
from typing import NamedTuple, Optional

import numpy as np
from numba.extending import overload

from ..config import njit
from ..layers.activations import RELU, Mixed, Relu, backward_for, forward_for, relu_forward
from ..layers.affine import affine_backward_input, affine_backward_params, affine_forward, weight_penalty
from ..layers.batchnorm import batch_statistics, batchnorm_backward, batchnorm_forward_eval, normalize_affine
from ..layers.dropout import Dropout, masked_scale
from ..layers.fused import normalize_relu, normalize_relu_dropout, relu_dropout, relu_dropout_backward
from ..layers.losses import data_loss
from ..random import derive_seed
from ..reductions import sum_of_squares
from .layout import Layout, block, disowned, layer, output, statistics, vector, weights


class Network(NamedTuple):
    """An MLP as the compiled passes see it. The settings are scalars of the parameters' dtype,
    which keeps float32 kernels in float32."""
    layout: Layout
    params: np.ndarray       # flat, laid out by ``layout``
    grads: np.ndarray        # laid out like params
    running: np.ndarray      # running mean and variance of each batch-norm layer
    stats: np.ndarray        # the last training batch's mean and inv_std, laid out like running
    act_alpha: np.ndarray    # float64, per hidden layer: the leaky ReLU's slope or ELU's alpha
    activations: NamedTuple  # the hidden layers' activation kinds as a type (layers/activations.py: Relu(), ...,
                             # Mixed()): a pass compiles only their kernels
    loss: int                # losses.SOFTMAX, SVM or MSE
    l1: float
    l2: float
    dropout: Optional[Dropout]  # None where the layers have no dropout
    bn_momentum: float
    bn_eps: float
    blocks: int              # the blocks of each large product (kernels/blas/products.py, matmul)


class Workspace(NamedTuple):
    """A batch's buffers, sized for at most ``capacity`` rows; a pass uses the first rows it needs."""
    acts: np.ndarray         # the layers' activation blocks (see kernels/training/layout.py)
    grad_a: np.ndarray       # backward scratch, one hidden layer's gradient each
    grad_b: np.ndarray
    scores: np.ndarray       # (capacity, C)
    dscores: np.ndarray
    row_loss: np.ndarray     # float64, per row
    penalty_sums: np.ndarray  # float64, weight_penalty's scratch: penalty_sums_size of the largest W
    loss_grads: np.ndarray   # float64, per layer, or empty: the backward pass writes there the sum of squares of
                             # the loss's gradient at the layer's affine output (kernels/training/diagnostics.py)


@njit(cache=True)
def forward_eval(X, net, acts, scores):
    """Evaluation mode: batch norm with the running averages, no dropout. Writes scores (N, C)."""
    layout, params, running, stats = net.layout, net.params, net.running, net.stats
    n = X.shape[0]
    last = len(layout.d_in) - 1
    x = X
    for l in range(last):
        this = layer(layout, l)
        m = this.d_out
        a = block(acts, n, this.act, m)
        affine_forward(x, weights(params, this), vector(params, this.b, m), a, net.blocks)
        if this.gamma >= 0:
            running_mean, running_var = statistics(running, this)
            batchnorm_forward_eval(a, vector(params, this.gamma, m), vector(params, this.beta, m), net.bn_eps,
                                   running_mean, running_var, statistics(stats, this)[1], a)
        forward_for(net.activations, this.activation, net.act_alpha[l], a, a)
        dropout_eval(a, net.dropout)
        x = a
    out = layer(layout, last)
    affine_forward(x, weights(params, out), vector(params, out.b, out.d_out), scores, net.blocks)


@njit(cache=True)
def dropout_eval(a, dropout):
    """A dropout layer's output at test time: ``a`` times the test scale (classic dropout's keep)."""
    if dropout is not None and dropout.test_scale != 1:
        a *= dropout.test_scale


@njit(cache=True)
def hidden_forward_train(activations, this, params, running, stats, acts, n, alpha, bn_eps, bn_momentum, dropout,
                         seed):
    """Training mode, after the affine product of hidden layer ``this`` (a Layer): [batch norm] ->
    activation -> [dropout]. ReLU layers take the one-pass kernels of fused.py; with dropout they
    leave the act block as the product (the backward pass reads the drop block), else the activation
    replaces the product. Takes the network's arrays one by one: see layout.Layer."""
    m = this.d_out
    a, xhat, dropped = block(acts, n, this.act, m), block(acts, n, this.xhat, m), block(acts, n, this.drop, m)
    gamma, beta = vector(params, this.gamma, m), vector(params, this.beta, m)
    mean, inv_std = statistics(stats, this)
    if this.gamma >= 0:
        running_mean, running_var = statistics(running, this)
        batch_statistics(a, bn_eps, bn_momentum, running_mean, running_var, mean, inv_std)
    activate_train(activations, this.activation, alpha, a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed)


@njit(cache=True)
def relu_train(a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed):
    """activate_train of a ReLU layer: one pass over the layer (fused.py)."""
    bn = len(xhat) > 0
    if dropout is None:
        if bn:
            normalize_relu(a, mean, inv_std, gamma, beta, xhat, a)
        else:
            relu_forward(a, a)
    else:
        if bn:
            normalize_relu_dropout(a, mean, inv_std, gamma, beta, dropout.threshold, dropout.train_scale, seed, xhat,
                                   dropped)
        else:
            relu_dropout(a, dropout.threshold, dropout.train_scale, seed, dropped)


@njit(cache=True)
def other_train(activations, kind, alpha, a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed):
    """activate_train of a layer of another kind: a pass per part."""
    if len(xhat) > 0:
        normalize_affine(a, mean, inv_std, gamma, beta, xhat, a)
    forward_for(activations, kind, alpha, a, a)
    if dropout is not None:
        masked_scale(a, dropout.threshold, dropout.train_scale, seed, dropped)


def activate_train(activations, kind, alpha, a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed):
    """A hidden layer's product ``a`` in training mode, its batch statistics known: [batch norm (where
    xhat is not empty)] -> activation ``kind`` -> [dropout into ``dropped`` (unless dropout is None)]."""
    if kind == RELU:
        relu_train(a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed)
    else:
        other_train(activations, kind, alpha, a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed)


@njit(cache=True)
def relu_backward_train(activations, kind, alpha, dx, a, dropped, dropout, seed):
    """deactivate_train of a ReLU layer: with dropout, one pass (fused.py)."""
    if dropout is None:
        backward_for(activations, kind, alpha, dx, a, dx)
    else:
        relu_dropout_backward(dx, dropped, dropout.train_scale, dx)


@njit(cache=True)
def other_backward_train(activations, kind, alpha, dx, a, dropped, dropout, seed):
    """deactivate_train of a layer of another kind."""
    if dropout is not None:
        masked_scale(dx, dropout.threshold, dropout.train_scale, seed, dx)  # the forward pass's mask
    backward_for(activations, kind, alpha, dx, a, dx)


def deactivate_train(activations, kind, alpha, dx, a, dropped, dropout, seed):
    """Backward through a hidden layer's [dropout] and activation ``kind``, in place in dx: ``a`` is the
    activation's output, ``dropped`` the layer's output after dropout, ``seed`` its masks'."""
    if kind == RELU:
        relu_backward_train(activations, kind, alpha, dx, a, dropped, dropout, seed)
    else:
        other_backward_train(activations, kind, alpha, dx, a, dropped, dropout, seed)


# A network's layers take ReLU's functions, the others' or (Mixed) both, chosen while typing from its
# activations: a network without ReLU layers compiles none of fused.py's kernels, a ReLU network none
# of the separate passes.
@overload(activate_train)
def _compiled_activate_train(activations, kind, alpha, a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed):
    if activations.instance_class is Mixed:
        return activate_train
    if activations.instance_class is Relu:
        return lambda activations, kind, alpha, a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed: \
            relu_train(a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed)
    return lambda activations, kind, alpha, a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed: \
        other_train(activations, kind, alpha, a, xhat, dropped, mean, inv_std, gamma, beta, dropout, seed)


@overload(deactivate_train)
def _compiled_deactivate_train(activations, kind, alpha, dx, a, dropped, dropout, seed):
    if activations.instance_class is Mixed:
        return deactivate_train
    chosen = relu_backward_train if activations.instance_class is Relu else other_backward_train
    return lambda activations, kind, alpha, dx, a, dropped, dropout, seed: \
        chosen(activations, kind, alpha, dx, a, dropped, dropout, seed)


@njit(cache=True)
def forward_backward(X, y, net, work, seed):
    """Training mode: one forward and backward pass over the batch (X, y), at most the workspace's
    capacity rows.

    Writes every gradient into ``net.grads``, updates the batch-norm running averages in
    ``net.running``, and returns (data loss, penalty l1 * sum|W| + 0.5 * l2 * sum(W**2)).
    Dropout masks are drawn from ``seed`` (one stream per layer), so a fixed seed fixes the masks.
    """
    net, work, X, y = disowned(net), disowned(work), disowned(X), disowned(y)  # see layout.disowned
    layout, params, grads, running, stats = net.layout, net.params, net.grads, net.running, net.stats
    act_alpha, acts, grad_a, grad_b = net.act_alpha, work.acts, work.grad_a, work.grad_b
    n = X.shape[0]
    scores, dscores = work.scores[:n], work.dscores[:n]
    row_loss, penalty_sums = work.row_loss, work.penalty_sums
    last = len(layout.d_in) - 1
    x = X
    for l in range(last):
        this = layer(layout, l)
        a = block(acts, n, this.act, this.d_out)
        affine_forward(x, weights(params, this), vector(params, this.b, this.d_out), a, net.blocks)
        hidden_forward_train(net.activations, this, params, running, stats, acts, n, act_alpha[l], net.bn_eps,
                             net.bn_momentum, net.dropout, derive_seed(seed, l))
        x = output(acts, n, this, True)
    out = layer(layout, last)
    affine_forward(x, weights(params, out), vector(params, out.b, out.d_out), scores, net.blocks)
    loss = data_loss(net.loss, scores, y, dscores, row_loss)

    penalty = 0.0
    dout = dscores
    for l in range(last, -1, -1):
        this = layer(layout, l)
        W, dW = weights(params, this), weights(grads, this)
        if len(work.loss_grads) > 0:
            work.loss_grads[l] = sum_of_squares(dout)
        x = X if l == 0 else output(acts, n, layer(layout, l - 1), True)
        affine_backward_params(x, dout, dW, vector(grads, this.b, this.d_out), net.blocks)
        if net.l1 > 0 or net.l2 > 0:
            penalty += weight_penalty(W, net.l1, net.l2, dW, penalty_sums)
        if l == 0:
            break
        # Backward through hidden layer l - 1, in place in one scratch buffer.
        h = layer(layout, l - 1)
        m = h.d_out
        dx = block(grad_a if l % 2 == 0 else grad_b, n, 0, m)
        affine_backward_input(dout, W, dx, net.blocks)
        deactivate_train(net.activations, h.activation, act_alpha[l - 1], dx, block(acts, n, h.act, m),
                         block(acts, n, h.drop, m), net.dropout, derive_seed(seed, l - 1))
        if h.gamma >= 0:
            batchnorm_backward(dx, block(acts, n, h.xhat, m), vector(params, h.gamma, m), statistics(stats, h)[1],
                               dx, vector(grads, h.gamma, m), vector(grads, h.beta, m))
        dout = dx
    return loss, penalty
