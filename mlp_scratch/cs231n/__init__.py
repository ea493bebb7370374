"""A drop-in for the ``cs231n`` package of CS231n assignment 2 (2022-2024 versions), backed by this
package's compiled kernels and optimizers.

A notebook written for the course runs against it by changing its imports::

    from mlp_scratch.cs231n.fc_net import *           # the course's cs231n.classifiers.fc_net
    from mlp_scratch.cs231n.data_utils import get_CIFAR10_data
    from mlp_scratch.cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
    from mlp_scratch.cs231n.solver import Solver

Modules: ``layers`` (affine, relu, batch norm, layer norm, dropout, softmax and SVM losses),
``layer_utils`` (sandwich layers), ``fc_net`` (FullyConnectedNet), ``optim`` (sgd, sgd_momentum,
rmsprop, adam and the package's other optimizers), ``solver`` (Solver), ``gradient_check``,
``data_utils`` (get_CIFAR10_data). Names, arguments, defaults, return values and conventions are the
course's; where the course's convention differs from ours (batch norm's running averages, dropout's
``p`` as the keep probability, the momentum velocity), the adapter converts, and its docstring says
how. Convolutional layers are not provided.
"""
