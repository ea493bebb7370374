"""Trials per minute of one optimizer comparison on each sweep backend and worker count:

    python scripts/sweep_throughput.py [--workload mnist-256] [--rounds 2]

Runs the same comparison (mlp_scratch.experiments.compare) under each setting, interleaved round by
round, and prints the median trials per minute of the whole run (worker start-up included, as a
user pays it) and of the trials alone (workers x 60 / a trial's mean training seconds, what a long
sweep approaches). It also checks that settings with equal BLAS threads per trial wrote identical
tables.
Needs the MNIST files (--data-dir or $MLP_SCRATCH_DATA) and the [distributed] extra.
"""
import argparse
import csv
import pathlib
import statistics
import sys
import tempfile
import time

from mlp_scratch import datasets
from mlp_scratch.experiments import compare

SETTINGS = [  # (label, sweep options)
    ("serial, 1 trial x 2 threads", dict(backend="serial", threads=2)),
    ("serial, 1 trial x 1 thread", dict(backend="serial", threads=1)),
    ("joblib, 1 worker x 2 threads", dict(backend="joblib", workers=1, threads=2)),
    ("joblib, 2 workers x 1 thread", dict(backend="joblib", workers=2, threads=1)),
    ("dask LocalCluster, 2 workers x 1 thread", dict(backend="dask", workers=2, threads=1)),
]
WORKLOADS = {  # 6 methods x 2 seeds = 12 trials each
    "mnist-256": dict(hidden_sizes=(256, 256), batch_size=64, epochs=10),
    "mnist-1024": dict(hidden_sizes=(1024, 1024), batch_size=128, epochs=3),
}
METHODS = ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"]
SEEDS = (0, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=WORKLOADS, default="mnist-256")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--data-dir", type=pathlib.Path)
    args = parser.parse_args(argv)
    data = datasets.load("mnist", n_train=args.n_train, n_val=1000, n_test=2000, data_dir=args.data_dir)
    n_trials = len(METHODS) * len(SEEDS)
    minutes = {label: [] for label, _ in SETTINGS}
    steady = {label: [] for label, _ in SETTINGS}
    tables = {}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for label, options in SETTINGS:
                out = pathlib.Path(folder) / label.replace(" ", "_")
                start = time.perf_counter()
                compare.compare_optimizers(data, out, methods=METHODS, seeds=SEEDS, log=lambda line: None,
                                           **WORKLOADS[args.workload], **options)
                minutes[label].append((time.perf_counter() - start) / 60)
                with open(out / "trials.csv", newline="") as f:
                    rows = list(csv.DictReader(f))
                tables[label] = [{k: v for k, v in row.items() if k not in ("seconds", "worker")} for row in rows]
                workers = options.get("workers", 1)
                steady[label].append(workers * 60 / statistics.mean(float(row["seconds"]) for row in rows))
                print(f"round {round_ + 1}: {label:42s} {n_trials / minutes[label][-1]:7.1f} trials/min, "
                      f"{steady[label][-1]:7.1f} in steady state", flush=True)
    print(f"\n{args.workload}: {n_trials} trials of {args.n_train} MNIST images, "
          f"{WORKLOADS[args.workload]}, median of {args.rounds} rounds")
    print(f"{'setting':42s} {'whole run':>10s} {'steady state':>13s}   (trials/min)")
    for label, _ in SETTINGS:
        whole, steady_state = n_trials / statistics.median(minutes[label]), statistics.median(steady[label])
        print(f"{label:42s} {whole:10.1f} {steady_state:13.1f}")
    by_threads = {}
    for label, options in SETTINGS:
        by_threads.setdefault(options["threads"], []).append(label)
    for threads, labels in sorted(by_threads.items()):
        same = all(tables[label] == tables[labels[0]] for label in labels)
        print(f"tables at {threads} BLAS thread(s) per trial {'identical' if same else 'DIFFER'}: {', '.join(labels)}")
        if not same:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
