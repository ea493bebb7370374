"""Training throughput of mlp-scratch against PyTorch (eager and compiled), JAX, scikit-learn, plain
NumPy and the step limit, on the same networks: ``python scripts/benchmark.py --help``.

Every side trains the same network (architecture, batch size, Adam with torch's defaults, float32,
softmax cross-entropy, thread count) on the same random data, one epoch per call. Rounds interleave
the sides (A B C ... A B C ...) so that machine noise hits all of them alike; the first round warms
up (compilation, caches) and is discarded; each side's samples/s is the median of the other rounds.
A short rest before each epoch lets the previous side's threads stop spinning (see PAUSE).

The "step limit" is what a perfect implementation would pay per step: the step's own matrix products
at the same shapes plus one pass of the fused Adam kernel over the flat buffers, and nothing else.
The "interleaved limit" is the same work in one loop, step by step, as training runs it.

``numpy_reference.py`` holds ``NumpyNet`` and ``NumpyAdam``, a plain CS231n-style NumPy implementation of
the same network and of Adam: the "numpy" side, and a readable reference that the tests check against
numeric gradients.
"""
from .configs import CONFIGS, SIDES, Config, Skip
from .numpy_reference import NumpyAdam, NumpyNet
from .run import main, measure
from .sides import SIDE_CLASSES, Side

__all__ = ["CONFIGS", "SIDES", "Config", "Skip", "NumpyAdam", "NumpyNet", "main", "measure", "SIDE_CLASSES", "Side"]
