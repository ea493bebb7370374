"""Where a cold start's compile time goes: the benchmark's start-up step (small model, one training
step), or with --cs231n the first float64 loss of the CS231n module's FullyConnectedNet, with an
empty numba cache, timed per kernel from numba's compile events.

    python scripts/compile_times.py [--top 25] [--cs231n]

"total" includes the kernels a kernel calls (numba compiles them inside its compile); "own" is the
total less theirs. A kernel compiles once for each set of argument types it meets.
"""
import argparse
import os
import tempfile
import time

os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="mlp-scratch-compile-times-")  # before numba reads it

from numba.core import event  # noqa: E402

from mlp_scratch.benchmark.run import STARTUP_CODE, CompileTimes  # noqa: E402

# The course's first check of FullyConnectedNet (its notebook's cell: float64, two hidden layers).
CS231N_CODE = """
import numpy as np
from mlp_scratch.cs231n.classifiers.fc_net import FullyConnectedNet
np.random.seed(231)
X, y = np.random.randn(2, 15), np.random.randint(10, size=(2,))
model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, reg=0.0, weight_scale=5e-2, dtype=np.float64)
model.loss(X, y)
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25, help="kernels to list, most own seconds first")
    parser.add_argument("--cs231n", action="store_true",
                        help="the CS231n module's first float64 FullyConnectedNet.loss instead of a training step")
    args = parser.parse_args(argv)
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
