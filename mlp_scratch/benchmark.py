"""Training throughput of mlp-scratch against PyTorch (eager and compiled), JAX, scikit-learn, plain
NumPy and the step limit, on the same networks: ``python scripts/benchmark.py --help``.

Every side trains the same network (architecture, batch size, Adam with torch's defaults, float32,
softmax cross-entropy, thread count) on the same random data, one epoch per call. Rounds interleave
the sides (A B C ... A B C ...) so that machine noise hits all of them alike; the first round warms
up (compilation, caches) and is discarded; each side's samples/s is the median of the other rounds.
A short rest before each epoch lets the previous side's threads stop spinning (see PAUSE).

The "step limit" is what a perfect implementation would pay per step: the step's own matrix products
at the same shapes plus one pass of the fused Adam kernel over the flat buffers, and nothing else.

This file also holds ``NumpyNet``, a plain CS231n-style NumPy implementation of the same network and
of Adam: the "numpy" side, and a readable reference that the tests check against numeric gradients.
"""
import argparse
import datetime
import importlib
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from mlp_scratch.validation import check_positive_int

N_SAMPLES, ROUNDS = 20000, 7
QUICK = {"rounds": 3, "samples": 4000}
SIDES = ("mlp-scratch", "torch", "torch.compile", "jax", "sklearn", "numpy", "step-limit")
OURS, BASELINE, LIMIT = "mlp-scratch", "torch", "step-limit"
BETAS, EPS, LR = (0.9, 0.999), 1e-8, 1e-3
BN_MOMENTUM, BN_EPS = 0.1, 1e-5
VERSIONS = {"numpy": "numpy", "numba": "numba", "scipy": "scipy", "torch": "torch", "jax": "jax", "jaxlib": "jaxlib",
            "optax": "optax", "sklearn": "scikit-learn", "threadpoolctl": "threadpoolctl", "mlp_scratch": "mlp-scratch"}
# Seconds of sleep before each side's epoch. OpenBLAS's threads spin ~0.1 s after a product, and
# NumPy's and SciPy's OpenBLAS (numba's np.dot) are two pools: without the pause each side loses up
# to half its speed to the pool of the side before it (measured: 784-512-512-10, mlp-scratch after
# the step limit, 0.20 s an epoch instead of 0.12 s).
PAUSE = 0.25
BUSY = 0.05  # cores used by other processes above which a config's figures are flagged as noisy


@dataclass(frozen=True)
class Config:
    """One benchmarked network and its batch size; hidden layers with batch norm have no bias."""
    input_dim: int
    hidden_sizes: tuple
    num_classes: int
    batchnorm: bool
    dropout: float  # probability of dropping a unit
    batch_size: int

    @property
    def sizes(self):
        return [self.input_dim, *self.hidden_sizes, self.num_classes]

    def mlp(self, **kwargs):
        """mlp-scratch's model of this network (float32, seed 0)."""
        from mlp_scratch import MLP
        return MLP(self.input_dim, list(self.hidden_sizes), self.num_classes, batchnorm=self.batchnorm,
                   dropout=self.dropout, seed=0, **kwargs)

    def describe(self):
        parts = ["-".join(map(str, self.sizes))]
        parts += ["batch norm"] if self.batchnorm else []
        parts += [f"dropout {self.dropout}"] if self.dropout else []
        return ", ".join(parts + [f"batch {self.batch_size}"])


CONFIGS = {
    "large": Config(784, (512, 512), 10, batchnorm=True, dropout=0.5, batch_size=128),
    "medium": Config(784, (100,), 10, batchnorm=True, dropout=0.5, batch_size=64),
    "small": Config(64, (64, 64), 10, batchnorm=True, dropout=0.0, batch_size=32),
    "sklearn": Config(784, (256, 256), 10, batchnorm=False, dropout=0.0, batch_size=200),
}


class Skip(Exception):
    """A side that cannot run here (library missing, network it cannot express, compile failure)."""


def make_data(config, n_samples, seed=0):
    """Standard normal float32 features, labels ``arange(n) % classes`` shuffled with a fixed seed."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, config.input_dim), dtype=np.float32)
    y = rng.permutation(np.arange(n_samples) % config.num_classes).astype(np.int64)
    return X, y


def batch_bounds(n_samples, config):
    """Where an epoch's shuffled indices are split into mini-batches, as mlp-scratch's EpochRunner
    does: every batch full but the last, which joins the one before if batch norm would see 1 sample."""
    bounds = list(range(config.batch_size, n_samples, config.batch_size))
    if config.batchnorm and bounds and n_samples - bounds[-1] == 1:
        bounds.pop()
    return bounds


# -- the NumPy reference (CS231n layers) -----------------------------------------------------------
def affine_forward(x, W, b):
    """out = x @ W (+ b). x (N, D), W (D, M), b (M,) or None (a layer followed by batch norm)."""
    out = x @ W
    if b is not None:
        out += b
    return out, (x, W)


def affine_backward(dout, cache, input_grad=True):
    """(dx, dW, db) for dout (N, M); dx is None when the input needs no gradient (the first layer)."""
    x, W = cache
    return (dout @ W.T if input_grad else None), x.T @ dout, dout.sum(axis=0)


def batchnorm_forward(x, gamma, beta, running_mean, running_var):
    """Training mode: normalize with the batch's mean and (biased) variance; update the running
    averages in place with the unbiased variance (torch's convention). x (N, M)."""
    n = x.shape[0]
    mean, var = x.mean(axis=0), x.var(axis=0)
    inv_std = 1 / np.sqrt(var + BN_EPS)
    xhat = (x - mean) * inv_std
    running_mean += BN_MOMENTUM * (mean - running_mean)
    running_var += BN_MOMENTUM * (var * (n / (n - 1)) - running_var)
    return gamma * xhat + beta, (xhat, gamma, inv_std)


def batchnorm_backward(dout, cache):
    """(dx, dgamma, dbeta): the simplified closed form of the staged graph's gradient."""
    xhat, gamma, inv_std = cache
    dxhat = dout * gamma
    dx = inv_std * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, x):
    return np.where(x > 0, dout, 0)


def dropout_forward(x, keep_mask, keep_prob):
    """Inverted dropout: kept units scaled by 1 / keep_prob. keep_mask (N, M) bool."""
    return x * keep_mask / keep_prob, (keep_mask, keep_prob)


def dropout_backward(dout, cache):
    keep_mask, keep_prob = cache
    return dout * keep_mask / keep_prob


def softmax_loss(scores, y):
    """Mean cross-entropy of softmax(scores) and its gradient. scores (N, C), y (N,) ints."""
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return -log_probs[np.arange(n), y].mean(), dscores / n


class NumpyNet:
    """affine -> [batch norm] -> ReLU -> [dropout] per hidden layer, affine -> softmax loss, in plain
    NumPy. Parameters are named like MLP's (W1, gamma1, beta1, ..., W{L}, b{L}): a hidden layer
    followed by batch norm has no bias, beta plays its part."""

    def __init__(self, config, dtype=np.float32, seed=0):
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.params, self.running = {}, {}
        sizes = config.sizes
        for l, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.params[f"W{l}"] = (np.sqrt(2 / d_in) * self.rng.standard_normal((d_in, d_out))).astype(dtype)
            if config.batchnorm and l < len(sizes) - 1:
                self.params[f"gamma{l}"] = np.ones(d_out, dtype)
                self.params[f"beta{l}"] = np.zeros(d_out, dtype)
                self.running[f"running_mean{l}"] = np.zeros(d_out, dtype)
                self.running[f"running_var{l}"] = np.ones(d_out, dtype)
            else:
                self.params[f"b{l}"] = np.zeros(d_out, dtype)

    def draw_masks(self, n):
        """One keep mask per hidden layer for a batch of n rows (empty without dropout)."""
        if not self.config.dropout:
            return []
        return [self.rng.random((n, h), dtype=np.float32) >= self.config.dropout
                for h in self.config.hidden_sizes]

    def loss(self, X, y, masks=None):
        """Training-mode (loss, grads) on the batch; ``masks`` fixes the dropout masks (else drawn)."""
        p, layers = self.params, len(self.config.hidden_sizes) + 1
        masks = self.draw_masks(len(X)) if masks is None else masks
        keep_prob, caches, out = 1 - self.config.dropout, [], X
        for l in range(1, layers):
            cache = {}
            out, cache["affine"] = affine_forward(out, p[f"W{l}"], p.get(f"b{l}"))
            if f"gamma{l}" in p:
                out, cache["bn"] = batchnorm_forward(out, p[f"gamma{l}"], p[f"beta{l}"],
                                                     self.running[f"running_mean{l}"], self.running[f"running_var{l}"])
            out, cache["relu"] = relu_forward(out)
            if masks:
                out, cache["dropout"] = dropout_forward(out, masks[l - 1], keep_prob)
            caches.append(cache)
        scores, last_cache = affine_forward(out, p[f"W{layers}"], p[f"b{layers}"])
        loss, dout = softmax_loss(scores, y)

        grads = {}
        dout, grads[f"W{layers}"], grads[f"b{layers}"] = affine_backward(dout, last_cache)
        for l in range(layers - 1, 0, -1):
            cache = caches[l - 1]
            if "dropout" in cache:
                dout = dropout_backward(dout, cache["dropout"])
            dout = relu_backward(dout, cache["relu"])
            if "bn" in cache:
                dout, grads[f"gamma{l}"], grads[f"beta{l}"] = batchnorm_backward(dout, cache["bn"])
            dout, grads[f"W{l}"], db = affine_backward(dout, cache["affine"], input_grad=l > 1)
            if f"b{l}" in p:
                grads[f"b{l}"] = db
        return loss, grads


class NumpyAdam:
    """torch.optim.Adam (= CS231n's adam) per parameter array, state updated in place:
    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;  p <- p - lr m_hat / (sqrt(v_hat) + eps)."""

    def __init__(self, params, lr=LR, betas=BETAS, eps=EPS):
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params, grads):
        (beta1, beta2), self.t = self.betas, self.t + 1
        # Python floats, not NumPy float64 scalars: they keep float32 arrays in float32.
        step_size, bias2 = self.lr / (1 - beta1 ** self.t), math.sqrt(1 - beta2 ** self.t)
        for name, w in params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            w -= step_size * m / (np.sqrt(v) / bias2 + self.eps)


# -- the sides: prepare(config, X, y, threads), then run_epoch(epoch) trains one epoch ---------------
class Side:
    """One way of training the network. ``prepare`` builds the model and optimizer for the data (or
    raises Skip); ``run_epoch(epoch)`` trains one shuffled pass over it and returns when it is done."""
    name = ""
    optional = True  # a failure in the warm-up round skips the side instead of ending the benchmark

    def prepare(self, config, X, y, threads):
        raise NotImplementedError

    def run_epoch(self, epoch):
        raise NotImplementedError


class Ours(Side):
    """Exactly the code path of a user's training: Trainer.epoch_runner(X, y).run(epoch)."""
    name, optional = OURS, False

    def prepare(self, config, X, y, threads):
        from mlp_scratch import Trainer
        from mlp_scratch.optim import Adam
        trainer = Trainer(config.mlp(), Adam(lr=LR, betas=BETAS, eps=EPS), batch_size=config.batch_size, seed=0,
                          log=None)
        self.runner = trainer.epoch_runner(X, y)

    def run_epoch(self, epoch):
        self.runner.run(epoch)


class TorchEager(Side):
    """nn.Sequential on the CPU, torch.optim.Adam, batches by indexing a per-epoch randperm."""
    name = "torch"

    def prepare(self, config, X, y, threads):
        torch = import_or_skip("torch")
        from torch import nn
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        layers, sizes = [], config.sizes
        for d_in, d_out in zip(sizes[:-2], sizes[1:-1]):
            layers.append(nn.Linear(d_in, d_out, bias=not config.batchnorm))
            layers += [nn.BatchNorm1d(d_out, eps=BN_EPS, momentum=BN_MOMENTUM)] if config.batchnorm else []
            layers.append(nn.ReLU())
            layers += [nn.Dropout(config.dropout)] if config.dropout else []
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        self.torch, self.model = torch, nn.Sequential(*layers).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR, betas=BETAS, eps=EPS)
        self.forward = self.wrap(self.model)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.bounds = batch_bounds(len(X), config)
        self.generator = torch.Generator().manual_seed(0)

    def wrap(self, model):
        return model

    def run_epoch(self, epoch):
        torch = self.torch
        for idx in torch.randperm(len(self.X), generator=self.generator).tensor_split(self.bounds):
            self.optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(self.forward(self.X[idx]), self.y[idx])
            loss.backward()
            self.optimizer.step()


class TorchCompiled(TorchEager):
    """The same with ``torch.compile`` on the model; compilation happens in the warm-up round."""
    name = "torch.compile"

    def wrap(self, model):
        return self.torch.compile(model)


class Jax(Side):
    """One jax.jit-ted step (gather, forward, backward, optax Adam) over a params pytree; batch
    norm with batch statistics (running averages updated), dropout keyed by a PRNG key split per step."""
    name = "jax"

    def prepare(self, config, X, y, threads):
        jax, optax = import_or_skip("jax"), import_or_skip("optax")
        if threads != available_cores():
            # Measured: XLA_FLAGS=--xla_cpu_multi_thread_eigen=false changes nothing with jax 0.10.
            raise Skip(f"JAX sizes its CPU thread pool from the process's cores and cannot be told to use {threads}: "
                       f"run the benchmark under `taskset -c 0-{threads - 1}` instead of --threads")
        jnp = jax.numpy
        net = NumpyNet(config)  # He-initialized parameters, same names
        params = jax.tree_util.tree_map(jnp.asarray, net.params)
        running = jax.tree_util.tree_map(jnp.asarray, net.running)
        optimizer = optax.adam(LR, b1=BETAS[0], b2=BETAS[1], eps=EPS)
        layers, keep_prob = len(config.hidden_sizes) + 1, 1 - config.dropout

        def loss_fn(params, running, key, xb, yb):
            out, new_running = xb, {}
            for l in range(1, layers):
                out = out @ params[f"W{l}"]
                if config.batchnorm:
                    n, mean, var = out.shape[0], out.mean(axis=0), out.var(axis=0)
                    out = (out - mean) * jax.lax.rsqrt(var + BN_EPS) * params[f"gamma{l}"] + params[f"beta{l}"]
                    for stat, value in ((f"running_mean{l}", mean), (f"running_var{l}", var * n / (n - 1))):
                        new_running[stat] = running[stat] + BN_MOMENTUM * (value - running[stat])
                else:
                    out = out + params[f"b{l}"]
                out = jax.nn.relu(out)
                if config.dropout:
                    key, sub = jax.random.split(key)
                    out = jnp.where(jax.random.bernoulli(sub, keep_prob, out.shape), out / keep_prob, 0)
            scores = out @ params[f"W{layers}"] + params[f"b{layers}"]
            return optax.softmax_cross_entropy_with_integer_labels(scores, yb).mean(), new_running

        def step(params, opt_state, running, key, X, y, idx):
            key, sub = jax.random.split(key)
            (_, running), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, running, sub, X[idx], y[idx])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, running, key

        self.jax, self.step = jax, jax.jit(step, donate_argnums=(0, 1, 2))
        self.state = (params, optimizer.init(params), running, jax.random.PRNGKey(0))
        self.X, self.y = jnp.asarray(X), jnp.asarray(y.astype(np.int32))
        self.bounds, self.rng = batch_bounds(len(X), config), np.random.default_rng(0)

    def run_epoch(self, epoch):
        for idx in np.array_split(self.rng.permutation(len(self.X)).astype(np.int32), self.bounds):
            self.state = self.step(*self.state, self.X, self.y, idx)
        self.jax.block_until_ready(self.state)  # dispatch is asynchronous


class Sklearn(Side):
    """MLPClassifier(solver="adam"), one epoch per partial_fit; BLAS threads limited by threadpoolctl
    (set globally by ``limit_threads``). Only networks without batch norm or dropout. (With an integer
    random_state every partial_fit reseeds, so each epoch repeats the same shuffle: same work.)"""
    name = "sklearn"

    def prepare(self, config, X, y, threads):
        if config.batchnorm or config.dropout:
            raise Skip("MLPClassifier has no batch norm or dropout")
        neural_network = import_or_skip("sklearn.neural_network")
        self.model = neural_network.MLPClassifier(
            hidden_layer_sizes=config.hidden_sizes, solver="adam", batch_size=config.batch_size,
            learning_rate_init=LR, beta_1=BETAS[0], beta_2=BETAS[1], epsilon=EPS, alpha=0.0,
            shuffle=True, random_state=0)
        self.X, self.y, self.classes = X, y, np.arange(config.num_classes)

    def run_epoch(self, epoch):
        self.model.partial_fit(self.X, self.y, classes=self.classes)


class Numpy(Side):
    """NumpyNet and NumpyAdam: a plain NumPy training loop."""
    name = "numpy"

    def prepare(self, config, X, y, threads):
        self.net = NumpyNet(config)
        self.optimizer = NumpyAdam(self.net.params)
        self.X, self.y, self.bounds = X, y, batch_bounds(len(X), config)

    def run_epoch(self, epoch):
        for idx in np.array_split(self.net.rng.permutation(len(self.X)), self.bounds):
            _, grads = self.net.loss(self.X[idx], self.y[idx])
            self.optimizer.step(self.net.params, grads)


class StepLimit(Side):
    """Per step, only what a perfect implementation must pay: for each layer x @ W, x.T @ dout and
    (all but the first layer) dout @ W.T at the step's shapes, then one mlp_scratch Adam step over
    flat float32 buffers of the model's parameter count. The products go through mlp_scratch's own
    affine kernels without bias (np.dot into preallocated outputs, the BLAS training uses), so the
    fraction of this limit measures everything else a step does."""
    name, optional = LIMIT, False

    def prepare(self, config, X, y, threads):
        from mlp_scratch import threads as thread_settings
        from mlp_scratch.kernels import affine
        from mlp_scratch.optim import Adam
        self.affine = affine
        rng, n = np.random.default_rng(0), config.batch_size
        sizes = config.sizes

        def normal(*shape):
            return rng.standard_normal(shape, dtype=np.float32)

        self.layers = [(normal(n, d_in), normal(d_in, d_out), normal(n, d_out), np.empty((n, d_out), np.float32),
                        np.empty((d_in, d_out), np.float32), np.empty((n, d_in) if l else (0, 0), np.float32))
                       for l, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:]))]
        size = config.mlp().flat_params.size
        self.params, self.grads, self.no_bias = normal(size), 1e-3 * normal(size), np.empty(0, np.float32)
        self.optimizer = Adam(lr=LR, betas=BETAS, eps=EPS)
        self.batch_sizes = [len(b) for b in np.array_split(np.arange(len(X)), batch_bounds(len(X), config))]
        thread_settings.apply()  # the Adam kernel runs on the kernel threads, as in training

    def run_epoch(self, epoch):
        affine, no_bias = self.affine, self.no_bias
        for n in self.batch_sizes:
            for x, W, dout, out, dW, dx in self.layers:
                affine.affine_forward(x[:n], W, no_bias, out[:n])
                affine.affine_backward_params(x[:n], dout[:n], dW, no_bias)
                if dx.size:
                    affine.affine_backward_input(dout[:n], W, dx[:n])
            self.optimizer.step(self.params, self.grads)


SIDE_CLASSES = {cls.name: cls for cls in (Ours, TorchEager, TorchCompiled, Jax, Sklearn, Numpy, StepLimit)}


def import_or_skip(module):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise Skip(f"{module} is not installed ({error})") from None


def limit_threads(threads):
    """BLAS threads of NumPy's and SciPy's OpenBLAS (numba's np.dot uses SciPy's) for every side;
    torch and mlp-scratch's own settings are applied by their sides."""
    from mlp_scratch import set_threads
    set_threads(blas=threads)


# -- measuring --------------------------------------------------------------------------------------
def measure(config, names, n_samples, rounds, threads, pause=PAUSE, log=print):
    """Interleaved rounds of one epoch per side. Returns ({side: result dict}, the cores other
    processes kept busy meanwhile)."""
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
            time.sleep(pause)
            start = time.perf_counter()
            try:
                side.run_epoch(round_ + 1)
            except Exception as error:  # noqa: BLE001 (e.g. torch.compile without a working compiler)
                if not side.optional or round_ > 0:
                    raise
                results[side.name] = skipped(side.name, f"{type(error).__name__}: {error}".splitlines()[0], log)
                sides.remove(side)
                continue
            times[side.name].append(time.perf_counter() - start)
        log(f"  round {round_ + 1}/{rounds}{' (warm-up, discarded)' if round_ == 0 else ''}: " + "  ".join(
            f"{name} {t[-1]:.2f}s" for name, t in times.items() if len(t) == round_ + 1))
    for side in sides:
        rates = [n_samples / t for t in times[side.name][1:]]
        results[side.name] = {"status": "ok", "samples_per_s": float(np.median(rates)), "min": min(rates),
                              "max": max(rates), "rounds": rates, "warmup_seconds": times[side.name][0]}
    add_ratios(results)
    return {name: results[name] for name in names}, other_load.cores()


class OtherLoad:
    """Cores kept busy by other processes while measuring (from /proc/stat, minus this process's
    CPU time): on a small machine another job's threads make every OpenMP pool here collapse, so
    the report says when the figures were taken on a busy machine. None where /proc/stat is missing."""

    def __init__(self):
        self.start = self.read()

    @staticmethod
    def read():
        try:
            with open("/proc/stat") as f:
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
        except (OSError, ValueError):
            return None
        busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        return busy, time.process_time(), time.perf_counter()

    def cores(self):
        end = self.read()
        if self.start is None or end is None:
            return None
        (busy0, own0, wall0), (busy1, own1, wall1) = self.start, end
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)


def skipped(name, reason, log):
    log(f"  {name}: skipped: {reason}")
    return {"status": "skipped", "reason": reason}


def add_ratios(results):
    """ratio_to_torch = side / torch eager; ours_over_side = mlp-scratch / side; fraction_of_limit =
    side / step limit (all in samples/s; None where a side did not run)."""
    def rate(name):
        return results.get(name, {}).get("samples_per_s")

    for name, result in results.items():
        if result["status"] == "ok":
            for key, numerator, denominator in (("ratio_to_torch", name, BASELINE), ("ours_over_side", OURS, name),
                                                ("fraction_of_limit", name, LIMIT)):
                result[key] = rate(numerator) / rate(denominator) if rate(numerator) and rate(denominator) else None


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


def time_process(code, env):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return time.perf_counter() - start


def measure_startup(log=print):
    """Whole-process seconds: bare interpreter, ``import mlp_scratch``, and import + small model +
    one training step with an empty numba cache (cold) and again with the cache it filled (warm)."""
    with tempfile.TemporaryDirectory(prefix="mlp-scratch-benchmark-cache-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        result = {"interpreter": time_process("pass", env), "cold_first_step": time_process(STARTUP_CODE, env),
                  "warm_first_step": time_process(STARTUP_CODE, env), "import": time_process("import mlp_scratch", env)}
    log("start-up (whole processes): " + ", ".join(f"{k.replace('_', ' ')} {v:.2f}s" for k, v in result.items()))
    return result


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


def kernel_threads():
    from mlp_scratch import threads
    return threads._settings["kernels"]


def blas_libraries():
    """The thread pools loaded by the end of the run, as threadpoolctl sees them."""
    from threadpoolctl import threadpool_info
    return [{key: pool.get(key) for key in ("internal_api", "version", "num_threads", "architecture", "filepath")}
            for pool in threadpool_info()]


def available_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def kilo(value):
    return "-" if value is None else f"{value / 1000:.1f}k"


def times_x(value):
    return "-" if value is None else f"{value:.2f}x"


def table(results):
    """The printed table of one config."""
    header = f"  {'side':<14} {'samples/s':>10} {'min-max':>15} {'vs torch':>9} {'ours/side':>10} {'of limit':>9}"
    lines = [header, "  " + "-" * (len(header) - 2)]
    for name, r in results.items():
        if r["status"] != "ok":
            lines.append(f"  {name:<14} skipped: {r['reason']}")
            continue
        limit = "-" if r["fraction_of_limit"] is None else f"{100 * r['fraction_of_limit']:.0f}%"
        lines.append(f"  {name:<14} {kilo(r['samples_per_s']):>10} {kilo(r['min']) + '-' + kilo(r['max']):>15} "
                     f"{times_x(r['ratio_to_torch']):>9} {times_x(r['ours_over_side']):>10} {limit:>9}")
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
    parser.add_argument("--no-startup", dest="startup", action="store_false", help="skip the start-up timing")
    parser.add_argument("--json", metavar="PATH", help="write every figure and the machine's description here")
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
    print(f"mlp-scratch's element-wise kernels run on {kernel_threads()} thread(s), its default by design "
          f"(see mlp_scratch/threads.py)")
    if args.quick:
        print(f"--quick: {args.rounds} rounds and {args.samples} samples per epoch "
              f"(instead of {ROUNDS} and {N_SAMPLES})")
    print(f"samples/s: median of {args.rounds - 1} rounds after 1 warm-up round, {args.pause}s rest before each "
          f"side's epoch;\nvs torch = side / torch eager; ours/side = mlp-scratch / side; of limit = side / step "
          f"limit (the step's matrix products + one Adam pass)\n")
    for name in configs:
        config = CONFIGS[name]
        print(f"{name}: {config.describe()}, {args.samples} samples per epoch")
        results, other = measure(config, sides, args.samples, args.rounds, args.threads, args.pause)
        report["configs"][name] = {"architecture": config.sizes, "batchnorm": config.batchnorm,
                                   "dropout": config.dropout, "batch_size": config.batch_size,
                                   "other_processes_cores": other, "sides": results}
        print(table(results))
        if other is not None and other > BUSY:
            print(f"  WARNING: other processes kept {other:.2f} cores busy meanwhile: these figures are noisy")
        print()
    if args.startup:
        report["startup"] = measure_startup()
    report["blas"] = blas_libraries()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.json}")
    return 0
