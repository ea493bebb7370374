"""The same seed trains to the same bits in a process that compiled its kernels (an empty cache, as
after an install or a kernel edit) and in one that loaded them from the cache."""
import json
import os
import subprocess
import sys

import pytest

TRAIN = r"""
import hashlib, itertools, json
import numpy as np
from mlp_scratch import MLP, Trainer, datasets
from mlp_scratch.datasets import Augmentation
from mlp_scratch.optim import make_optimizer

digests = {}
data = datasets.load("digits", n_train=300, n_val=100, n_test=100)
# Compiled first: with reassociation allowed, a process whose first compile was one of these trained
# to other last bits than the processes that loaded its cache (L-BFGS: its losses; augmented: its weights).
model = MLP(64, [32, 16], 10, activation="relu", batchnorm=True, l2=1e-3, seed=0)
history = Trainer(model, make_optimizer("lbfgs"), epochs=8, seed=7, log=None).fit(data)
digests["lbfgs"] = hashlib.sha256(np.asarray(history.iteration_loss).tobytes()).hexdigest()
wide = datasets.load("digits", n_train=300, n_val=100, n_test=100, dtype="float64")
augment = Augmentation((1, 8, 8), crop_padding=1, translate=1, flip=True, noise_std=0.05, rotate=10.0, scale=0.1,
                       shear=5.0, brightness=0.2, contrast=0.2)
model = MLP(64, [32, 16], 10, activation="elu", loss="svm", l1=1e-4, dropout=0.2, dtype="float64", seed=0)
Trainer(model, make_optimizer("adam", lr=1e-3), epochs=3, batch_size=32, seed=7, log=None, augment=augment).fit(wide)
digests["augmented"] = hashlib.sha256(model.flat_params.tobytes()).hexdigest()

settings = [("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
            ("adagrad", {}), ("rmsprop", {"momentum": 0.5, "centered": True}), ("adadelta", {}),
            ("adam", {"amsgrad": True}), ("adam", {"weight_decay": 1e-3}), ("adamw", {})]
for (name, options), activation in zip(settings, itertools.cycle(["relu", "leaky_relu", "elu", "tanh", "sigmoid"])):
    model = MLP(64, [32, 16], 10, batchnorm=name != "adagrad", dropout=0.2, l2=1e-3, activation=activation, seed=0,
                loss="svm" if name == "adadelta" else "softmax")
    augment = Augmentation((1, 8, 8), translate=1, noise_std=0.1) if name == "rmsprop" else None
    Trainer(model, make_optimizer(name, lr=1e-2, **options), epochs=2, batch_size=32, log=None, augment=augment).fit(data)
    digests[f"{name} {options} {activation}"] = hashlib.sha256(model.flat_params.tobytes()).hexdigest()
print(json.dumps(digests))
"""


@pytest.mark.long
def test_a_run_that_compiled_its_kernels_equals_a_run_that_loaded_them(tmp_path):
    """... and the one that compiled said so, once."""
    from mlp_scratch.kernels import COMPILE_NOTICE

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}  # empty: the first run compiles
    compiled, loaded = (subprocess.run([sys.executable, "-c", TRAIN], env=env, check=True, capture_output=True,
                                       text=True) for _ in range(2))
    first, second = json.loads(compiled.stdout), json.loads(loaded.stdout)
    assert len(first) == 11 and first == second
    assert compiled.stderr.count(COMPILE_NOTICE) == 1 and COMPILE_NOTICE not in loaded.stderr
