"""A run compiles the kernels its configuration uses, not every kind's: the optimizer's rule, the
network's activation and dropout reach compiled code as types, and numba compiles only what they
select (kernels/training/optimizers.py, kernels/layers/activations.py, kernels/layers/dropout.py)."""
import json
import os
import subprocess
import sys

# From an empty cache: one training pass of a tanh network without dropout, and one Adam step.
PASS = r"""
import json
import numpy as np
from numba.core import event
from mlp_scratch import MLP
from mlp_scratch.optim import Adam

compiled = []

class Compiles(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__name__)

    def on_end(self, ev):
        pass

event.register("numba:compile", Compiles())
model = MLP(8, [6, 5], 3, activation="tanh", batchnorm=True, seed=0)
X = np.random.default_rng(0).standard_normal((4, 8), dtype=np.float32)
model.forward_backward(X, np.array([0, 1, 2, 0]))
Adam().step(model.flat_params, model.flat_grads)
print(json.dumps(compiled))
"""

USED = {"tanh_forward", "tanh_backward", "normalize_affine", "batch_statistics", "adam_step"}
UNUSED = {"relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward", "elu_forward",
          "elu_backward", "sigmoid_forward", "sigmoid_backward",  # other activations
          "normalize_relu", "normalize_relu_dropout", "relu_dropout", "relu_dropout_backward",  # ReLU's fused kernels
          "masked_scale",  # dropout
          "sgd_step", "adagrad_step", "rmsprop_step", "adadelta_step"}  # other optimizer rules


def test_a_pass_and_an_update_compile_only_the_kernels_of_their_configuration(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}  # empty: everything it needs compiles
    compiled = set(json.loads(subprocess.run([sys.executable, "-c", PASS], env=env, check=True, capture_output=True,
                                             text=True).stdout))
    assert USED <= compiled
    assert not compiled & UNUSED
