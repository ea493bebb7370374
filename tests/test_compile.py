"""A run compiles the kernels its configuration uses, not every kind's: the optimizer's rule, the
network's activation and dropout reach compiled code as types, and numba compiles only what they
select (kernels/training/optimizers.py, kernels/layers/activations.py, kernels/layers/dropout.py).
The kernels compile at LLVM's level kernels/config.py sets; other numba functions keep numba's."""
import json
import os
import subprocess
import sys

import numba
import numpy as np
from numba.core import codegen, config

from mlp_scratch.kernels import config as kernel_config

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


def test_kernels_compile_at_their_level_and_other_functions_at_numbas(monkeypatch):
    levels = []
    create = codegen.create_pass_builder

    def recording(tm, opt, **options):
        levels.append(opt)
        return create(tm, opt=opt, **options)

    monkeypatch.setattr(codegen, "create_pass_builder", recording)

    def twice(x):
        return 2 * x

    plain, kernel = numba.njit(twice), kernel_config.njit(twice)  # not cached: both compile here
    numba_level = int(config.OPT)
    assert plain(np.arange(3.0)).tolist() == [0.0, 2.0, 4.0]  # first: it also compiles numba's runtime
    plain_levels, levels[:] = levels[:], []
    assert kernel(np.arange(3.0)).tolist() == [0.0, 2.0, 4.0]
    # numba's cheap pre-pass runs at 0 in both; every other pass at the compiler's level
    assert set(levels) - {0} == {kernel_config.OPT_LEVEL} != {numba_level} == set(plain_levels) - {0}
    assert int(config.OPT) == numba_level
