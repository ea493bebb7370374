"""Where a cold start's compile time goes: the benchmark's start-up step (small model, one training
step) with an empty numba cache, timed per kernel from numba's compile events.

    python scripts/compile_times.py [--top 25]

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25, help="kernels to list, most own seconds first")
    args = parser.parse_args(argv)
    times = CompileTimes()
    start = time.perf_counter()
    with event.install_listener("numba:compile", times):
        exec(STARTUP_CODE, {})
    print(f"cold first step after import: {time.perf_counter() - start:.1f}s, "
          f"{sum(own for _, own, _ in times.done):.1f}s of it compiling, {len(times.done)} compiles")
    print(f"{'own s':>7} {'total s':>8}  kernel")
    for total, own, name in sorted(times.done, key=lambda row: -row[1])[:args.top]:
        print(f"{own:7.2f} {total:8.2f}  {name}")


if __name__ == "__main__":
    main()
