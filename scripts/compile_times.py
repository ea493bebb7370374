"""Where a cold start's compile time goes: the benchmark's start-up step (small model, one training
step), or with --cs231n the first float64 loss of the CS231n module's FullyConnectedNet, with an
empty numba cache, timed per kernel from numba's compile events. With --changes: what each change of
configuration costs a process that then trains again (a sweep, a notebook), one after the other.
With --suite: the test suite's seconds from an empty cache.

    python scripts/compile_times.py [--top 25] [--cs231n | --changes | --suite]

"total" includes the kernels a kernel calls (numba compiles them inside its compile); "own" is the
total less theirs. A kernel compiles once for each set of argument types it meets.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="mlp-scratch-compile-times-")  # before numba reads it

from numba.core import event  # noqa: E402

from mlp_scratch.benchmark.run import STARTUP_CODE, CompileTimes  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The course's first check of FullyConnectedNet (its notebook's cell: float64, two hidden layers).
CS231N_CODE = """
import numpy as np
from mlp_scratch.cs231n.classifiers.fc_net import FullyConnectedNet
np.random.seed(231)
X, y = np.random.randn(2, 15), np.random.randint(10, size=(2,))
model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, reg=0.0, weight_scale=5e-2, dtype=np.float64)
model.loss(X, y)
"""


# (change, optimizer, its options, the model's options): one epoch of 64 samples each, in this order.
CHANGES = [("first run: adam, relu, batch norm", "adam", {}, {}), ("the same again", "adam", {}, {}),
           ("another optimizer rule: sgd", "sgd", {}, {}), ("another optimizer rule: rmsprop", "rmsprop", {}, {}),
           ("another learning rate", "rmsprop", {"lr": 0.1}, {}),
           ("another activation: tanh", "sgd", {}, {"activation": "tanh"}),
           ("dropout", "sgd", {}, {"dropout": 0.2}), ("another loss: svm", "sgd", {}, {"loss": "svm"}),
           ("no batch norm", "sgd", {}, {"batchnorm": False})]


def changes():
    import numpy as np

    from mlp_scratch import MLP, Trainer
    from mlp_scratch.optim import make_optimizer
    X = np.random.default_rng(0).standard_normal((64, 64), dtype=np.float32)
    y = np.arange(64) % 10
    print(f"{'seconds':>8}  change")
    for name, optimizer, optimizer_options, model_options in CHANGES:
        start = time.perf_counter()
        model = MLP(64, [64, 64], 10, seed=0, **{"batchnorm": True, **model_options})
        Trainer(model, make_optimizer(optimizer, **{"lr": 1e-3, **optimizer_options}), batch_size=32, seed=0,
                log=None).epoch_runner(X, y).run(1)
        print(f"{time.perf_counter() - start:8.2f}  {name}", flush=True)


def suite():
    """Runs pytest on the repository's tests with the empty cache this script made."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True)
    print(done.stdout.strip().splitlines()[-1])
    print(f"test suite from an empty cache: {time.perf_counter() - start:.0f}s (exit {done.returncode})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25, help="kernels to list, most own seconds first")
    parser.add_argument("--cs231n", action="store_true",
                        help="the CS231n module's first float64 FullyConnectedNet.loss instead of a training step")
    parser.add_argument("--changes", action="store_true",
                        help="instead: the seconds of each change of configuration in one process")
    parser.add_argument("--suite", action="store_true", help="instead: the test suite's seconds from an empty cache")
    args = parser.parse_args(argv)
    if args.changes:
        return changes()
    if args.suite:
        return suite()
    times = CompileTimes()
    start = time.perf_counter()
    with event.install_listener("numba:compile", times):
        exec(CS231N_CODE if args.cs231n else STARTUP_CODE, {})
    what = "CS231n first loss" if args.cs231n else "cold first step"
    print(f"{what} after import: {time.perf_counter() - start:.1f}s, "
          f"{sum(own for _, own, _ in times.done):.1f}s of it compiling, {len(times.done)} compiles")
    print(f"{'own s':>7} {'total s':>8}  kernel")
    for total, own, name in sorted(times.done, key=lambda row: -row[1])[:args.top]:
        print(f"{own:7.2f} {total:8.2f}  {name}")


if __name__ == "__main__":
    main()
