"""The benchmarked networks, the shared data and batch split, and the benchmark's constants."""
from dataclasses import dataclass

import numpy as np

N_SAMPLES, ROUNDS = 20000, 7
QUICK = {"rounds": 3, "samples": 4000}
SIDES = ("mlp-scratch", "diagnostics", "trainer.fit", "estimator", "torch", "torch.compile", "jax", "sklearn", "numpy", "step-limit",
         "interleaved-limit")
OURS, BASELINE, LIMIT, INTERLEAVED_LIMIT = "mlp-scratch", "torch", "step-limit", "interleaved-limit"
TRAINER_FIT, ESTIMATOR = "trainer.fit", "estimator"
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
    """Where an epoch's shuffled indices are split into mini-batches, for every side as for
    mlp-scratch's EpochRunner (trainer.batch_bounds, without its ends)."""
    from mlp_scratch.trainer import batch_bounds  # here: the other sides' processes need no numba
    return batch_bounds(n_samples, config.batch_size, config.batchnorm)[1:-1].tolist()
