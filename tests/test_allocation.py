"""A training step in steady state allocates no new arrays: buffers are allocated once and reused."""
import tracemalloc

import numpy as np

from mlp_scratch import MLP, Trainer
from mlp_scratch.datasets import Augmentation
from mlp_scratch.optim import Adam


def allocated_during(fn):
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    fn()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    return [stat for stat in after.compare_to(before, "lineno") if stat.size_diff > 0]


def test_training_steps_allocate_nothing_per_step():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 64)).astype(np.float32)
    y = rng.integers(0, 10, 4000)
    model = MLP(64, [64, 64], 10, batchnorm=True, dropout=0.2, l2=1e-4, seed=0)
    trainer = Trainer(model, Adam(), batch_size=32, seed=0, log=None,
                      augment=Augmentation((1, 8, 8), translate=1, noise_std=0.01))
    runner = trainer.epoch_runner(X, y)
    losses = []
    record = lambda chunk_losses, lrs: losses.extend(chunk_losses.tolist())  # noqa: E731
    runner.run(1, record)  # first epoch: compiles, allocates workspaces and optimizer state
    steps = len(runner.bounds) - 1
    grown = allocated_during(lambda: runner.run(2, record))
    total = sum(stat.size_diff for stat in grown)
    # Per epoch: the shuffled order (8 bytes a sample) and the recorded loss of each step.
    # A batch alone is 32 * 64 * 4 = 8 KB: one array per step would add 1 MB here.
    assert total < 8 * len(X) + 100 * steps, [str(s) for s in grown[:5]]
    assert len(losses) == 2 * steps and np.all(np.isfinite(losses))
