"""The forward and backward pass of a whole MLP in compiled code.

Hidden layer l:  affine -> [batch norm] -> activation -> [inverted dropout];  output layer: affine -> loss.

A pass reads two structures, built by the model (mlp_scratch/model.py): the ``Network`` (its Layout,
flat parameters and gradients, batch-norm statistics and settings) and a ``Workspace`` (the
activations and scratch of a batch). Blocks are found through kernels/training/layout.py. Backward-pass
gradients alternate between two scratch buffers.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from ..layers.activations import RELU, activation_backward, activation_forward
from ..layers.affine import affine_backward_input, affine_backward_params, affine_forward, weight_penalty
from ..layers.batchnorm import batch_statistics, batchnorm_backward, batchnorm_forward_eval, normalize_affine
from ..layers.dropout import mask_parameters, masked_scale
from ..layers.fused import normalize_relu, normalize_relu_dropout, relu_dropout, relu_dropout_backward
from ..layers.losses import data_loss
from ..random import derive_seed
from .layout import Layout, block, layer_input, statistics, vector, weights


class Network(NamedTuple):
    """An MLP as the compiled passes see it. The settings are scalars of the parameters' dtype,
    which keeps float32 kernels in float32."""
    layout: Layout
    params: np.ndarray       # flat, laid out by ``layout``
    grads: np.ndarray        # laid out like params
    running: np.ndarray      # running mean and variance of each batch-norm layer
    stats: np.ndarray        # the last training batch's mean and inv_std, laid out like running
    act_alpha: np.ndarray    # float64, per hidden layer: the leaky ReLU's slope or ELU's alpha
    loss: int                # losses.SOFTMAX or losses.SVM
    l1: float
    l2: float
    keep: float              # dropout's keep probability
    bn_momentum: float
    bn_eps: float


class Workspace(NamedTuple):
    """A batch's buffers, sized for at most ``capacity`` rows; a pass uses the first rows it needs."""
    acts: np.ndarray         # the layers' activation blocks (see kernels/training/layout.py)
    grad_a: np.ndarray       # backward scratch, one hidden layer's gradient each
    grad_b: np.ndarray
    scores: np.ndarray       # (capacity, C)
    dscores: np.ndarray
    row_loss: np.ndarray     # float64, per row
    l2_rows: np.ndarray      # float64 scratch as long as the widest layer input


@njit(cache=True)
def forward_eval(X, net, acts, scores):
    """Evaluation mode: batch norm with the running averages, no dropout. Writes scores (N, C)."""
    layout, params = net.layout, net.params
    n = X.shape[0]
    last = layout.d_in.shape[0] - 1
    for l in range(last):
        m = layout.d_out[l]
        a = block(acts, n, layout.act[l], m)
        affine_forward(layer_input(X, acts, layout, l, False), weights(params, layout, l),
                       vector(params, layout.b[l], m), a)
        if layout.gamma[l] >= 0:
            running_mean, running_var = statistics(net.running, layout, l)
            batchnorm_forward_eval(a, vector(params, layout.gamma[l], m), vector(params, layout.beta[l], m),
                                   net.bn_eps, running_mean, running_var, statistics(net.stats, layout, l)[1], a)
        activation_forward(layout.activation[l], net.act_alpha[l], a, a)
    affine_forward(layer_input(X, acts, layout, last, False), weights(params, layout, last),
                   vector(params, layout.b[last], layout.d_out[last]), scores)


@njit(cache=True)
def hidden_forward_train(net, acts, l, n, threshold, scale, seed):
    """Training mode, after hidden layer l's affine product: [batch norm] -> activation -> [dropout].
    ReLU layers take the one-pass kernels of fused.py; with dropout they leave the act block as the
    product (the backward pass reads the drop block), else the activation replaces the product."""
    layout, params = net.layout, net.params
    m, kind = layout.d_out[l], layout.activation[l]
    bn, dropping = layout.gamma[l] >= 0, layout.drop[l] >= 0
    a, xhat, dropped = (block(acts, n, layout.act[l], m), block(acts, n, layout.xhat[l], m),
                        block(acts, n, layout.drop[l], m))
    gamma, beta = vector(params, layout.gamma[l], m), vector(params, layout.beta[l], m)
    mean, inv_std = statistics(net.stats, layout, l)
    if bn:
        running_mean, running_var = statistics(net.running, layout, l)
        batch_statistics(a, net.bn_eps, net.bn_momentum, running_mean, running_var, mean, inv_std)
    if kind == RELU and bn and dropping:
        normalize_relu_dropout(a, mean, inv_std, gamma, beta, threshold, scale, seed, xhat, dropped)
    elif kind == RELU and bn:
        normalize_relu(a, mean, inv_std, gamma, beta, xhat, a)
    elif kind == RELU and dropping:
        relu_dropout(a, threshold, scale, seed, dropped)
    else:
        if bn:
            normalize_affine(a, mean, inv_std, gamma, beta, xhat, a)
        activation_forward(kind, net.act_alpha[l], a, a)
        if dropping:
            masked_scale(a, threshold, scale, seed, dropped)


@njit(cache=True)
def forward_backward(X, y, net, work, seed):
    """Training mode: one forward and backward pass over the batch (X, y), at most the workspace's
    capacity rows.

    Writes every gradient into ``net.grads``, updates the batch-norm running averages in
    ``net.running``, and returns (data loss, penalty l1 * sum|W| + 0.5 * l2 * sum(W**2)).
    Dropout masks are drawn from ``seed`` (one stream per layer), so a fixed seed fixes the masks.
    """
    layout, params, grads, acts = net.layout, net.params, net.grads, work.acts
    n = X.shape[0]
    scores, dscores = work.scores[:n], work.dscores[:n]
    last = layout.d_in.shape[0] - 1
    threshold, scale = mask_parameters(net.keep)
    for l in range(last):
        m = layout.d_out[l]
        a = block(acts, n, layout.act[l], m)
        affine_forward(layer_input(X, acts, layout, l, True), weights(params, layout, l),
                       vector(params, layout.b[l], m), a)
        hidden_forward_train(net, acts, l, n, threshold, scale, derive_seed(seed, l))

    c = layout.d_out[last]
    affine_forward(layer_input(X, acts, layout, last, True), weights(params, layout, last),
                   vector(params, layout.b[last], c), scores)
    loss = data_loss(net.loss, scores, y, dscores, work.row_loss)

    penalty = 0.0
    dout = dscores
    for l in range(last, -1, -1):
        W = weights(params, layout, l)
        dW = weights(grads, layout, l)
        affine_backward_params(layer_input(X, acts, layout, l, True), dout, dW, vector(grads, layout.b[l], layout.d_out[l]))
        if net.l1 > 0 or net.l2 > 0:
            penalty += weight_penalty(W, net.l1, net.l2, dW, work.l2_rows)
        if l == 0:
            break
        # Backward through hidden layer l - 1, in place in one scratch buffer.
        h = l - 1
        m = layout.d_out[h]
        dx = block(work.grad_a if l % 2 == 0 else work.grad_b, n, 0, m)
        affine_backward_input(dout, W, dx)
        if layout.drop[h] >= 0 and layout.activation[h] == RELU:
            relu_dropout_backward(dx, block(acts, n, layout.drop[h], m), scale, dx)
        else:
            if layout.drop[h] >= 0:
                masked_scale(dx, threshold, scale, derive_seed(seed, h), dx)  # the forward pass's mask
            activation_backward(layout.activation[h], net.act_alpha[h], dx, block(acts, n, layout.act[h], m), dx)
        if layout.gamma[h] >= 0:
            batchnorm_backward(dx, block(acts, n, layout.xhat[h], m), vector(params, layout.gamma[h], m),
                               statistics(net.stats, layout, h)[1], dx,
                               vector(grads, layout.gamma[h], m), vector(grads, layout.beta[h], m))
        dout = dx
    return loss, penalty
