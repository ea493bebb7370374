"""Counter-based random numbers for use inside parallel kernels.

``uniform(seed, index)`` hashes (seed, index) with SplitMix64's finalizer, so every element of a
dropout mask can be drawn independently, in any order, on any thread, and be redrawn identically in
the backward pass from the same seed.
"""
import numpy as np

from .config import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S40 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(40)
BITS_RANGE = 16777216.0  # 2**24: random_bits lies in [0, BITS_RANGE)


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 finalizer: a bijective scrambling of a uint64."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def random_bits(seed, index):
    """A uint64 in [0, 2**24) with 24 random bits, a pure function of (seed, index)."""
    return mix64(np.uint64(seed) + (np.uint64(index) + np.uint64(1)) * _GOLDEN) >> _S40


@njit(cache=True, inline="always")
def uniform(seed, index):
    """A float in [0, 1): random_bits(seed, index) / 2**24 (exact in float32)."""
    return np.float64(random_bits(seed, index)) * (1.0 / BITS_RANGE)


@njit(cache=True)
def derive_seed(seed, counter):
    """A new uint64 seed for stream ``counter`` (a training step, a layer) of ``seed``."""
    return mix64(np.uint64(seed) ^ mix64(np.uint64(counter) + _GOLDEN))


def seed_for(seed, counter):
    """derive_seed for Python callers, as np.uint64: numba hands a uint64 back as a Python int, which
    numba would then read as an int64 and overflow on above 2**63."""
    return np.uint64(derive_seed(np.uint64(seed), np.uint64(counter)))
