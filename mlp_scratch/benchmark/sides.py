"""One class per benchmarked side, all with the same interface: prepare(config, X, y, threads), then
run_epoch(epoch) trains one epoch."""
import importlib
import time

import numpy as np

from mlp_scratch.threads import available_cores

from .configs import (BETAS, BN_EPS, BN_MOMENTUM, EPS, ESTIMATOR, INTERLEAVED_LIMIT, LIMIT, LR, OURS, PAUSE, TRAINER_FIT,
                      Skip, batch_bounds)
from .numpy_reference import NumpyAdam, NumpyNet

class Side:
    """One way of training the network. ``prepare`` builds the model and optimizer for the data (or
    raises Skip); ``run_epoch(epoch)`` trains one shuffled pass over it and returns when it is done."""
    name = ""
    optional = True  # a failure in the warm-up round skips the side instead of ending the benchmark

    def prepare(self, config, X, y, threads):
        raise NotImplementedError

    def run_epoch(self, epoch):
        """Returns None, or the seconds to count for the epoch where the side times itself."""
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


class Watched(Ours):
    """Ours with the per-layer diagnostics on, a record each epoch (mlp_scratch/diagnostics.py): their
    cost is this side's time over ours."""
    name, optional = "diagnostics", True

    def prepare(self, config, X, y, threads):
        from mlp_scratch import Trainer
        from mlp_scratch.optim import Adam
        trainer = Trainer(config.mlp(), Adam(lr=LR, betas=BETAS, eps=EPS), batch_size=config.batch_size, seed=0,
                          log=None, diagnostics=True)
        self.runner = trainer.epoch_runner(X, y)


FIT_EPOCHS = 2  # epochs of each fit the trainer.fit and estimator sides time, set-up included


class TrainerFit(Side):
    """A new Trainer.fit of FIT_EPOCHS epochs each round, set-up included (the data's checks, the
    model's initialization, the final check of its predictions): what a user of the Python API
    times. Each round counts as an epoch of its mean time."""
    name = TRAINER_FIT

    def prepare(self, config, X, y, threads):
        from types import SimpleNamespace
        self.config, self.data = config, SimpleNamespace(X_train=X, y_train=y, X_val=None, y_val=None)

    def run_epoch(self, epoch):
        from mlp_scratch import Trainer
        from mlp_scratch.optim import Adam
        start = time.perf_counter()
        Trainer(self.config.mlp(), Adam(lr=LR, betas=BETAS, eps=EPS), epochs=FIT_EPOCHS,
                batch_size=self.config.batch_size, seed=0, train_eval_samples=0, log=None).fit(self.data)
        return (time.perf_counter() - start) / FIT_EPOCHS


class Estimator(Side):
    """A new mlp_scratch.MLPClassifier.fit of FIT_EPOCHS epochs (max_iter) each round, set-up
    included: what a scikit-learn user times. The same network (l2 = 0) as the other sides."""
    name = ESTIMATOR

    def prepare(self, config, X, y, threads):
        self.config, self.X, self.y = config, X, y

    def run_epoch(self, epoch):
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        from mlp_scratch import MLPClassifier
        c = self.config
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter epochs "did not converge"
            MLPClassifier(c.hidden_sizes, batchnorm=c.batchnorm, dropout=c.dropout, l2=0.0, optimizer="adam", lr=LR,
                          optimizer_params={"betas": BETAS, "eps": EPS}, batch_size=c.batch_size,
                          max_iter=FIT_EPOCHS, random_state=0, dtype="float32").fit(self.X, self.y)
        return (time.perf_counter() - start) / FIT_EPOCHS


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
    (all but the first layer) dout @ W.T at the step's shapes, and one Adam update over flat float32
    buffers of the model's parameter count. Each runs in a compiled loop of its own
    (mlp_scratch/benchmark/step_limit.py) on the threads that suit it best, timed apart with a pause between them
    so that neither pool's spinning threads slow the other: the products on BLAS's threads, the
    updates on the kernel threads that training picks for the model (threads.py). The fraction of this
    limit measures everything else a step does."""
    name, optional = LIMIT, False

    def prepare(self, config, X, y, threads):
        from numba.typed import List

        from mlp_scratch.optim import Adam
        rng, n = np.random.default_rng(0), config.batch_size
        sizes = list(zip(config.sizes[:-1], config.sizes[1:]))

        def normal(*shape):
            return rng.standard_normal(shape, dtype=np.float32)

        self.layers = [List([normal(n, d_in) for d_in, _ in sizes]), List([normal(d_in, d_out) for d_in, d_out in sizes]),
                       List([normal(n, d_out) for _, d_out in sizes]), List([np.empty((n, d_out), np.float32) for _, d_out in sizes]),
                       List([np.empty((d_in, d_out), np.float32) for d_in, d_out in sizes]),
                       List([np.empty((n, d_in), np.float32) for d_in, _ in sizes])]
        size = config.mlp().flat_params.size
        self.params, self.grads = normal(size), 1e-3 * normal(size)
        self.optimizer = Adam(lr=LR, betas=BETAS, eps=EPS)
        self.compiled = self.optimizer.compiled(self.params, self.grads)
        self.batch_sizes = np.array([len(b) for b in np.array_split(np.arange(len(X)), batch_bounds(len(X), config))])

    def run_epoch(self, epoch):
        from mlp_scratch import threads
        from mlp_scratch.benchmark.step_limit import products, updates
        start = time.perf_counter()
        products(self.batch_sizes, *self.layers)
        seconds = time.perf_counter() - start
        time.sleep(PAUSE)
        threads.apply(self.params.size)
        start = time.perf_counter()
        updates(self.batch_sizes.shape[0], self.params, self.grads, self.compiled, self.optimizer.lr)
        return seconds + time.perf_counter() - start


class InterleavedLimit(StepLimit):
    """The step limit's products and updates in one compiled loop, step by step, on the threads that
    training gives the model (threads.py, blocks_for): the limit's work as training interleaves it.
    There the update runs right after products, whose AVX-512 code leaves the core slower for a
    while (measured here: a fixed chain of scalar arithmetic took 19-21% longer within 20 us of a
    64-64-64-10 step's products, 9% longer after 100 us), where the step limit's loop of updates runs
    at full speed."""
    name, optional = INTERLEAVED_LIMIT, False

    def run_epoch(self, epoch):
        from mlp_scratch import threads
        from mlp_scratch.benchmark.step_limit import interleaved
        size = self.params.size
        with threads.pools(size):
            start = time.perf_counter()
            interleaved(self.batch_sizes, *self.layers, self.params, self.grads, self.compiled, self.optimizer.lr,
                        threads.blocks_for(size))
            return time.perf_counter() - start


SIDE_CLASSES = {cls.name: cls for cls in (Ours, Watched, TrainerFit, Estimator, TorchEager, TorchCompiled, Jax, Sklearn,
                                          Numpy, StepLimit, InterleavedLimit)}


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
