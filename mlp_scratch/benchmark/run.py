"""Measuring: interleaved rounds, other processes' load, start-up times, the machine, the report."""
import argparse
import contextlib
import datetime
import gc
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
from numba.core import event

from mlp_scratch.threads import OtherLoad, available_cores, kernel_threads
from mlp_scratch.validation import check_positive_int

from .configs import (BASELINE, BUSY, CONFIGS, ESTIMATOR, LIMIT, N_SAMPLES, OURS, PAUSE, QUICK, ROUNDS, SIDES,
                      TRAINER_FIT, VERSIONS, Skip, make_data)
from .real_data import OPTIMIZERS, measure_real_data
from .sides import SIDE_CLASSES, limit_threads

# -- measuring --------------------------------------------------------------------------------------
def measure(config, names, n_samples, rounds, threads, pause=PAUSE, log=print):
    """Interleaved rounds of one epoch per side. Returns ({side: result dict}, the cores other
    processes kept busy meanwhile).

    Python's garbage collector runs on whichever side's clock it fills a generation, and a full
    collection walks every object the process holds: with torch, torch.compile and JAX loaded, it
    took 130-530 ms here, more than a whole epoch of a small network. So before each side's epoch the
    garbage so far is collected and what survives is frozen out of later collections: a side pays
    for collecting its own objects only."""
    X, y = make_data(config, n_samples)
    results, sides = {}, []
    for name in names:
        side = SIDE_CLASSES[name]()
        try:
            side.prepare(config, X, y, threads)
            sides.append(side)
        except Skip as reason:
            results[name] = skipped(name, str(reason), log)
    limit_threads(threads)  # again: libraries loaded by the sides' imports get the limit too
    times, other_load = {side.name: [] for side in sides}, OtherLoad()
    for round_ in range(rounds):
        for side in list(sides):
            gc.collect()
            gc.freeze()  # what survives: the collections of the side's epoch will not walk it
            time.sleep(pause)
            start = time.perf_counter()
            try:
                seconds = side.run_epoch(round_ + 1)
            except Exception as error:  # noqa: BLE001 (e.g. torch.compile without a working compiler)
                if not side.optional or round_ > 0:
                    raise
                results[side.name] = skipped(side.name, f"{type(error).__name__}: {error}".splitlines()[0], log)
                sides.remove(side)
                continue
            times[side.name].append(time.perf_counter() - start if seconds is None else seconds)
        log(f"  round {round_ + 1}/{rounds}{' (warm-up, discarded)' if round_ == 0 else ''}: " + "  ".join(
            f"{name} {t[-1]:.2f}s" for name, t in times.items() if len(t) == round_ + 1))
    gc.unfreeze()
    for side in sides:
        rates = [n_samples / t for t in times[side.name][1:]]
        results[side.name] = {"status": "ok", "samples_per_s": float(np.median(rates)), "min": min(rates),
                              "max": max(rates), "rounds": rates, "warmup_seconds": times[side.name][0]}
    add_ratios(results)
    return {name: results[name] for name in names}, other_load.cores()


@contextlib.contextmanager
def busy_neighbours(n):
    """``n`` other processes that each keep a core busy, for the block: a browser tab, another run,
    a shared notebook runtime."""
    processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)  # started, and seen by the package's load readings
        yield
    finally:
        for process in processes:
            process.kill()
            process.wait()


def neighbour_table(idle, busy, n):
    """Each side's samples/s beside ``n`` busy processes, and as a fraction of its idle speed."""
    header = f"  {'side':<17} {'idle':>10} {f'{n} busy':>10} {'of idle':>8} {'ours/side':>10}"
    lines = [header, "  " + "-" * (len(header) - 2)]
    for name, r in busy.items():
        if r["status"] != "ok" or idle[name]["status"] != "ok":
            continue
        lines.append(f"  {name:<17} {kilo(idle[name]['samples_per_s']):>10} {kilo(r['samples_per_s']):>10} "
                     f"{100 * r['of_idle']:>7.0f}% {times_x(r['ours_over_side']):>10}")
    return "\n".join(lines)


def paired(numerator, denominator):
    """The median over the rounds of numerator / denominator within a round (lists of samples/s)."""
    return float(np.median(np.divide(numerator, denominator)))


def estimator_cost(results):
    """What the estimator costs: its samples/s over Trainer.fit's, as the ratio of their medians and,
    steadier where the machine's speed drifts between rounds, as the median of their ratio round by
    round (the two run one after the other in each round). None unless both ran."""
    estimator, fit = results.get(ESTIMATOR, {}), results.get(TRAINER_FIT, {})
    if estimator.get("status") != "ok" or fit.get("status") != "ok":
        return None
    return {"medians": estimator["samples_per_s"] / fit["samples_per_s"],
            "paired": paired(estimator["rounds"], fit["rounds"])}


def estimator_line(cost):
    return f"  estimator / trainer.fit: {cost['medians']:.3f}x, paired {cost['paired']:.3f}x"


def skipped(name, reason, log):
    log(f"  {name}: skipped: {reason}")
    return {"status": "skipped", "reason": reason}


def add_ratios(results):
    """ratio_to_torch = side / torch eager; ours_over_side = mlp-scratch / side; fraction_of_limit =
    side / step limit (all in samples/s; None where a side did not run); paired = the median over
    the rounds of mlp-scratch / side within a round: steadier than the ratio of medians where the
    machine's speed drifts between rounds (a side's cost, such as the diagnostics')."""
    def rate(name):
        return results.get(name, {}).get("samples_per_s")

    ours = results.get(OURS, {}).get("rounds")
    for name, result in results.items():
        if result["status"] == "ok":
            for key, numerator, denominator in (("ratio_to_torch", name, BASELINE), ("ours_over_side", OURS, name),
                                                ("fraction_of_limit", name, LIMIT)):
                result[key] = rate(numerator) / rate(denominator) if rate(numerator) and rate(denominator) else None
            result["paired"] = paired(ours, result["rounds"]) if ours and "rounds" in result else None


# -- start-up ---------------------------------------------------------------------------------------
STARTUP_CODE = """
import numpy as np
from mlp_scratch import MLP, Trainer
from mlp_scratch.optim import Adam
X = np.random.default_rng(0).standard_normal((32, 64), dtype=np.float32)
y = np.arange(32) % 10
model = MLP(64, [64, 64], 10, batchnorm=True, seed=0)
Trainer(model, Adam(lr=1e-3), batch_size=32, seed=0, log=None).epoch_runner(X, y).run(1)
"""


STARTUP_RUNS = 5  # warm processes, alternating with bare imports: one alone moves 30-50% on a busy machine
COLD_RUNS = 3  # processes from an empty cache: about 20 s each on 2 cores


def time_process(code, env):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return time.perf_counter() - start


def measure_startup(runs=STARTUP_RUNS, cold_runs=COLD_RUNS, log=print):
    """Whole-process seconds: bare interpreter, ``import mlp_scratch``, and import + small model +
    one training step with an empty numba cache (cold: ``cold_runs`` processes, each with a cache of
    its own) and with a cache it filled (warm). Every figure is the median of its processes, kept in
    "runs"."""
    times = {"cold_first_step": [], "interpreter": [], "import": [], "warm_first_step": []}
    with tempfile.TemporaryDirectory(prefix="mlp-scratch-benchmark-cache-") as caches:
        for k in range(cold_runs):
            env = {**os.environ, "NUMBA_CACHE_DIR": os.path.join(caches, str(k))}
            times["cold_first_step"].append(time_process(STARTUP_CODE, env))
        for _ in range(runs):
            for name, code in (("interpreter", "pass"), ("import", "import mlp_scratch"),
                               ("warm_first_step", STARTUP_CODE)):
                times[name].append(time_process(code, env))
    result = {name: float(np.median(seconds)) for name, seconds in times.items()}
    result["runs"] = times
    log(f"start-up (whole processes; medians of {runs}, cold of {cold_runs}): " + ", ".join(
        f"{name.replace('_', ' ')} {seconds:.2f}s" for name, seconds in result.items() if name != "runs"))
    return result


class CompileTimes(event.Listener):
    """Listens to numba's "numba:compile" events: (seconds including callees, seconds of its own,
    kernel name) for each finished compile. numba compiles the kernels a kernel calls inside its
    compile, so its own seconds are its total less theirs."""

    def __init__(self):
        self.open, self.done = [], []  # open: [name, start, callees' seconds], innermost last

    def on_start(self, ev):
        function = ev.data["dispatcher"].py_func
        self.open.append([f"{function.__module__}.{function.__qualname__}", time.perf_counter(), 0.0])

    def on_end(self, ev):
        name, start, callees = self.open.pop()
        total = time.perf_counter() - start
        if self.open:
            self.open[-1][2] += total
        self.done.append((total, total - callees, name))


# -- report -----------------------------------------------------------------------------------------
def machine(threads):
    def version(distribution):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    return {"cpu": cpu or platform.processor() or None, "cores": available_cores(), "threads": threads,
            "python": platform.python_version(), "date": datetime.datetime.now().isoformat(timespec="seconds"),
            **{name: version(distribution) for name, distribution in VERSIONS.items()}}


def blas_libraries():
    """The thread pools loaded by the end of the run, as threadpoolctl sees them."""
    from threadpoolctl import threadpool_info
    return [{key: pool.get(key) for key in ("internal_api", "version", "num_threads", "architecture", "filepath")}
            for pool in threadpool_info()]


def kilo(value):
    return "-" if value is None else f"{value / 1000:.1f}k"


def times_x(value):
    return "-" if value is None else f"{value:.2f}x"


def table(results):
    """The printed table of one config."""
    header = (f"  {'side':<17} {'samples/s':>10} {'min-max':>15} {'vs torch':>9} {'ours/side':>10} {'paired':>7} "
              f"{'of limit':>9}")
    lines = [header, "  " + "-" * (len(header) - 2)]
    for name, r in results.items():
        if r["status"] != "ok":
            lines.append(f"  {name:<17} skipped: {r['reason']}")
            continue
        limit = "-" if r["fraction_of_limit"] is None else f"{100 * r['fraction_of_limit']:.0f}%"
        lines.append(f"  {name:<17} {kilo(r['samples_per_s']):>10} {kilo(r['min']) + '-' + kilo(r['max']):>15} "
                     f"{times_x(r['ratio_to_torch']):>9} {times_x(r['ours_over_side']):>10} "
                     f"{times_x(r['paired']):>7} {limit:>9}")
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="benchmark.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--rounds", type=int,
                        help=f"rounds including the warm-up one (default {ROUNDS}; --quick: {QUICK['rounds']})")
    parser.add_argument("--samples", type=int,
                        help=f"samples per epoch (default {N_SAMPLES}; --quick: {QUICK['samples']})")
    parser.add_argument("--threads", type=int, default=available_cores(),
                        help="threads for every side (default: the cores)")
    parser.add_argument("--pause", type=float, default=PAUSE,
                        help=f"seconds of rest before each side's epoch, for the previous side's threads to stop "
                             f"spinning (default {PAUSE})")
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and fewer samples per epoch: under two minutes")
    parser.add_argument("--neighbour", type=int, default=0, metavar="N",
                        help="measure each config again beside N processes that keep a core busy each, and report "
                             "each side's fraction of its idle speed")
    parser.add_argument("--no-startup", dest="startup", action="store_false", help="skip the start-up timing")
    parser.add_argument("--json", metavar="PATH", help="write every figure and the machine's description here")
    parser.add_argument("--real-data", action="store_true",
                        help="instead of the random-data configs: MNIST for --epochs epochs, 784-256-256-10 "
                             "without batch norm, Adam and SGD with momentum, beside scikit-learn (a few minutes)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of each --real-data run (default 30)")
    parser.add_argument("--data-dir", help="--real-data: the folder of MNIST's IDX files (default: MLP_SCRATCH_DATA)")
    args = parser.parse_args(argv)
    for name, default in (("rounds", ROUNDS), ("samples", N_SAMPLES)):
        if getattr(args, name) is None:
            setattr(args, name, QUICK[name] if args.quick else default)
    if not args.pause >= 0:
        parser.error(f"--pause must be >= 0 seconds, got {args.pause}")
    if args.rounds < 2:
        parser.error(f"--rounds must be at least 2 (one warm-up round is discarded), got {args.rounds}")
    largest = max(CONFIGS[name].batch_size for name in args.configs)
    if args.samples < largest:
        parser.error(f"--samples must be at least the largest batch size ({largest}), got {args.samples}")
    try:
        from mlp_scratch.threads import set_threads
        set_threads(blas=check_positive_int("--threads", args.threads))
        check_positive_int("--epochs", args.epochs)
        if args.neighbour:
            check_positive_int("--neighbour", args.neighbour)
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configs = list(dict.fromkeys(args.configs))
    sides = [name for name in SIDES if name in args.sides]
    report = {"machine": machine(args.threads),
              "settings": {"rounds": args.rounds, "warmup_rounds": 1, "samples_per_epoch": args.samples,
                           "quick": args.quick, "pause_seconds": args.pause, "configs": configs, "sides": sides,
                           "blas_threads": args.threads, "mlp_scratch_kernel_threads": kernel_threads()},
              "configs": {}, "startup": None}
    m = report["machine"]
    print(f"{m['cpu']}, {m['cores']} cores; {args.threads} threads for torch and for BLAS (NumPy's and SciPy's "
          f"OpenBLAS; SciPy's does mlp-scratch's matrix products); JAX's pool takes the process's cores")
    fixed = kernel_threads()
    print("mlp-scratch's kernels: " + (f"{fixed} thread(s), fixed by MLP_SCRATCH_KERNEL_THREADS" if fixed else
          "1 thread for a small model, else one pool of all the threads for kernels and products (the default, "
          "see mlp_scratch/threads.py)"))
    if args.real_data:
        return report_real_data(args, report)
    if args.quick:
        print(f"--quick: {args.rounds} rounds and {args.samples} samples per epoch "
              f"(instead of {ROUNDS} and {N_SAMPLES})")
    print(f"samples/s: median of {args.rounds - 1} rounds after 1 warm-up round, {args.pause}s rest before each "
          f"side's epoch;\nvs torch = side / torch eager; ours/side = mlp-scratch / side; paired = the median of "
          f"mlp-scratch / side round by round; of limit = side / step limit (the step's matrix products + one Adam "
          f"pass)\n")
    for name in configs:
        config = CONFIGS[name]
        print(f"{name}: {config.describe()}, {args.samples} samples per epoch")
        results, other = measure(config, sides, args.samples, args.rounds, args.threads, args.pause)
        report["configs"][name] = {"architecture": config.sizes, "batchnorm": config.batchnorm,
                                   "dropout": config.dropout, "batch_size": config.batch_size,
                                   "other_processes_cores": other, "sides": results}
        print(table(results))
        cost = estimator_cost(results)
        if cost:
            report["configs"][name]["estimator_over_trainer_fit"] = cost
            print(estimator_line(cost))
        if other is not None and other > BUSY:
            print(f"  WARNING: other processes kept {other:.2f} cores busy meanwhile: these figures are noisy")
        if args.neighbour:
            print(f"  again beside {args.neighbour} busy process(es):")
            with busy_neighbours(args.neighbour):
                busy, other = measure(config, sides, args.samples, args.rounds, args.threads, args.pause)
            for side, result in busy.items():
                if result["status"] == "ok" and results[side]["status"] == "ok":
                    result["of_idle"] = result["samples_per_s"] / results[side]["samples_per_s"]
            report["configs"][name]["neighbour"] = {"processes": args.neighbour, "other_processes_cores": other,
                                                    "sides": busy}
            print(neighbour_table(results, busy, args.neighbour))
            cost = estimator_cost(busy)
            if cost:
                report["configs"][name]["neighbour"]["estimator_over_trainer_fit"] = cost
                print(estimator_line(cost))
        print()
    if args.startup:
        report["startup"] = measure_startup()
    return write_report(args, report)


def report_real_data(args, report):
    """--real-data: each optimizer's run of each side, epoch by epoch in turn."""
    sides = [name for name in args.sides if name in ("mlp-scratch", "sklearn")] or ["mlp-scratch", "sklearn"]
    print(f"real data: epoch seconds (the first includes compiling), {args.pause}s rest before each side's epoch\n")
    try:
        report["real_data"] = measure_real_data(args.epochs, list(OPTIMIZERS), sides, args.data_dir, args.pause)
    except Skip as reason:
        print(f"skipped: {reason}")
        return 1
    report["settings"].update(real_data_epochs=args.epochs, configs=[])
    return write_report(args, report)


def write_report(args, report):
    report["blas"] = blas_libraries()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.json}")
    return 0
