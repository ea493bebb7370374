"""Training throughput of mlp-scratch under different thread-pool settings, each in a fresh process
(the OpenMP wait policy and threading layer are read once, when the pool starts).

    python scripts/thread_settings.py [--rounds 3] [--configs large medium small sklearn] [--neighbour N]
                                      [--alternate]

Runs scripts/benchmark.py's mlp-scratch side under each setting and prints samples/s per network;
with ``--neighbour N``, each setting's process measures every network again beside N busy processes.
Fresh processes differ by 10% and more on a noisy machine; ``--alternate`` instead compares the two
ways a call can run, kernels on 1 thread and one pool, in one process, epoch by epoch (A B A B ...).
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

BENCHMARK = pathlib.Path(__file__).with_name("benchmark.py")
SETTINGS = [  # (label, environment, BLAS threads)
    ("kernels at 1 thread, OpenBLAS threading the products", {"MLP_SCRATCH_KERNEL_THREADS": "1"}, 2),
    ("one pool: kernels at 2, OpenBLAS at 1 during a call", {"MLP_SCRATCH_KERNEL_THREADS": "2"}, 2),
    ("one pool with OMP_WAIT_POLICY=PASSIVE", {"MLP_SCRATCH_KERNEL_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}, 2),
    ("one pool on numba's workqueue threading layer", {"MLP_SCRATCH_KERNEL_THREADS": "2",
                                                       "NUMBA_THREADING_LAYER": "workqueue"}, 2),
    ("automatic, by the step's size (the default)", {}, 2),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", nargs="+", default=["large", "medium", "small", "sklearn"])
    parser.add_argument("--alternate", action="store_true",
                        help="kernels on 1 thread vs one pool, alternating epochs in this process")
    parser.add_argument("--neighbour", type=int, default=0, metavar="N",
                        help="each setting's process measures each network again beside N busy processes")
    args = parser.parse_args(argv)
    if args.neighbour < 0:
        parser.error(f"--neighbour must be 0 (none) or a number of busy processes, got {args.neighbour}")
    if args.neighbour and args.alternate:
        parser.error("--neighbour measures settings in fresh processes: it does not go with --alternate")
    if args.alternate:
        from mlp_scratch.threads import budget
        if budget() < 2:
            parser.error(f"--alternate compares 1 kernel thread with one pool of more, but this process may use "
                         f"{budget()} thread")
        return [alternate(config, args.rounds) for config in args.configs]
    rows = []
    for label, env, blas in SETTINGS:
        with tempfile.TemporaryDirectory() as folder:
            out = pathlib.Path(folder) / "result.json"
            neighbour = ["--neighbour", str(args.neighbour)] if args.neighbour else []
            subprocess.run([sys.executable, str(BENCHMARK), "--sides", "mlp-scratch", "--no-startup",
                            "--rounds", str(args.rounds), "--threads", str(blas), "--json", str(out),
                            "--configs", *args.configs, *neighbour], env={**os.environ, **env}, check=True,
                           stdout=subprocess.DEVNULL)
            result = json.loads(out.read_text())
        loads = [("idle", lambda c: result["configs"][c])]
        if args.neighbour:
            loads.append((f"beside {args.neighbour} busy", lambda c: result["configs"][c]["neighbour"]))
        for load, measured in loads:
            rates = [measured(c)["sides"]["mlp-scratch"]["samples_per_s"] for c in args.configs]
            rows.append((label, load, rates))
            print(f"{label:52s} {load:15s} " + "  ".join(f"{c} {r / 1000:8.1f}k" for c, r in zip(args.configs, rates)),
                  flush=True)
    return rows


def alternate(name, rounds, samples=20000):
    """samples/s of one network with the kernels fixed at 1 thread and at the whole budget (one pool),
    each on its own model, epochs alternating; and the median of the rounds' ratios."""
    from mlp_scratch import Trainer, threads
    from mlp_scratch.benchmark.configs import CONFIGS, LR, PAUSE, make_data
    from mlp_scratch.optim import Adam
    config = CONFIGS[name]
    X, y = make_data(config, samples)
    ways = {1: "kernels at 1 thread", threads.budget(): "one pool"}
    runners = {k: Trainer(config.mlp(), Adam(lr=LR), batch_size=config.batch_size, seed=0, log=None).epoch_runner(X, y)
               for k in ways}
    rates = {k: [] for k in ways}
    for round_ in range(rounds + 1):  # round 0 warms up
        for kernels, runner in runners.items():
            threads.set_threads(kernels=kernels)
            time.sleep(PAUSE)
            start = time.perf_counter()
            runner.run(round_ + 1)
            if round_:
                rates[kernels].append(samples / (time.perf_counter() - start))
    one, pool = rates.values()
    ratios = [b / a for a, b in zip(one, pool)]
    print(f"{name}: " + ", ".join(f"{ways[k]} {statistics.median(r) / 1000:.1f}k" for k, r in rates.items())
          + f"; one pool / 1 thread: median {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})",
          flush=True)
    return name, rates


if __name__ == "__main__":
    main()
