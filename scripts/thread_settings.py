"""Training throughput of mlp-scratch under different thread-pool settings, each in a fresh process
(the OpenMP wait policy and threading layer are read once, when the pool starts).

    python scripts/thread_settings.py [--rounds 3] [--configs large medium small]

Runs scripts/benchmark.py's mlp-scratch side under each setting and prints samples/s per network.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

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
    args = parser.parse_args(argv)
    rows = []
    for label, env, blas in SETTINGS:
        with tempfile.TemporaryDirectory() as folder:
            out = pathlib.Path(folder) / "result.json"
            subprocess.run([sys.executable, str(BENCHMARK), "--sides", "mlp-scratch", "--no-startup",
                            "--rounds", str(args.rounds), "--threads", str(blas), "--json", str(out),
                            "--configs", *args.configs], env={**os.environ, **env}, check=True,
                           stdout=subprocess.DEVNULL)
            result = json.loads(out.read_text())
        rates = [result["configs"][c]["sides"]["mlp-scratch"]["samples_per_s"] for c in args.configs]
        rows.append((label, rates))
        print(f"{label:52s} " + "  ".join(f"{c} {r / 1000:8.1f}k" for c, r in zip(args.configs, rates)), flush=True)
    return rows


if __name__ == "__main__":
    main()
