"""Losses on scores (N, C): loss value and dscores. The classification losses take integer labels
y (N,), the regression loss real targets y (N, C).

All are row-parallel; each row's loss goes to its own slot of ``row_loss`` and the slots are added
in order, so the loss does not depend on the number of threads. The loss is the mean over the batch.
"""
import numpy as np
from numba import prange

from ..config import FASTMATH, kernel, njit
from ..expf import exp
from ..reductions import ordered_sum

SOFTMAX, SVM, MSE = 0, 1, 2


@njit(fastmath=FASTMATH, cache=True, inline="always")
def exp_shifted_row(scores, i, out):
    """out[i, j] = exp(s_ij - max_j s_ij); returns (max_j s_ij, sum_j out[i, j]).

    Subtracting the row maximum keeps exp from overflowing without changing the softmax. The
    exps in a loop of their own, which vectorizes (kernels/expf.py), the sum in order after it.
    """
    top = scores[i, 0]
    for j in range(1, scores.shape[1]):
        top = max(top, scores[i, j])
    for j in range(scores.shape[1]):
        out[i, j] = exp(scores[i, j] - top)
    total = 0.0
    for j in range(scores.shape[1]):
        total += out[i, j]
    return top, total


@kernel
def softmax_loss(scores, y, dscores, row_loss):
    """Softmax cross-entropy: L_i = log(sum_j exp(s_ij)) - s_i,y_i;  dscores = (softmax(s) - onehot) / N."""
    n, c = scores.shape
    for i in prange(n):
        top, total = exp_shifted_row(scores, i, dscores)
        row_loss[i] = np.log(total) - (scores[i, y[i]] - top)
        scale = 1.0 / (total * n)
        for j in range(c):
            dscores[i, j] *= scale
        dscores[i, y[i]] -= 1.0 / n
    return ordered_sum(row_loss[:n]) / n


@kernel
def svm_loss(scores, y, dscores, row_loss):
    """Multiclass SVM (hinge) loss with margin 1 (CS231n):
    L_i = sum_{j != y_i} max(0, s_ij - s_i,y_i + 1);  each positive margin adds 1/N to dscores[i, j]
    and subtracts 1/N from dscores[i, y_i].
    """
    n, c = scores.shape
    for i in prange(n):
        correct = scores[i, y[i]]
        total = 0.0
        positive = 0
        for j in range(c):
            margin = scores[i, j] - correct + 1.0
            if j != y[i] and margin > 0:
                total += margin
                positive += 1
                dscores[i, j] = 1.0 / n
            else:
                dscores[i, j] = 0.0
        dscores[i, y[i]] = -positive / n
        row_loss[i] = total
    return ordered_sum(row_loss[:n]) / n


@kernel
def mse_loss(scores, targets, dscores, row_loss):
    """Mean squared error over every output (torch.nn.MSELoss): L = sum_ij (s_ij - t_ij)**2 / (N C);
    dscores = 2 (s - t) / (N C)."""
    n, c = scores.shape
    scale = 2.0 / (n * c)
    for i in prange(n):
        total = 0.0
        for j in range(c):
            difference = scores[i, j] - targets[i, j]
            total += difference * difference
            dscores[i, j] = scale * difference
        row_loss[i] = total
    return ordered_sum(row_loss[:n]) / (n * c)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def softmax(scores, probs):
    """probs = softmax(scores) row by row (predict_proba). probs may alias scores."""
    for i in prange(scores.shape[0]):
        _, total = exp_shifted_row(scores, i, probs)
        for j in range(scores.shape[1]):
            probs[i, j] /= total


@njit(cache=True)
def data_loss(kind, scores, y, dscores, row_loss):
    """The loss named by ``kind`` (SOFTMAX, SVM or MSE): one dispatch for the network and the model.
    MSE takes real targets (N, C), the others labels (N,): numba compiles only the branch that
    matches y's type (it knows y.ndim before compiling)."""
    if y.ndim == 2:
        return mse_loss(scores, y, dscores, row_loss)
    if kind == SOFTMAX:
        return softmax_loss(scores, y, dscores, row_loss)
    return svm_loss(scores, y, dscores, row_loss)
