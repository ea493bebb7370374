"""Image augmentation of a mini-batch, parallel over samples.

Rows of X are images stored as C planes of H x W pixels. Each sample draws, from uniform(seed, .),
a horizontal flip (probability 1/2, if enabled) and a shift (dy, dx) in [-max_shift, max_shift]:

    out[c, r, col] = x[c, r - dy, w(col - dx)],   w(j) = W - 1 - j if flipped else j,
                     0 where (r - dy, col - dx) falls outside the image

(a random crop of the zero-padded image is exactly such a shift), then adds N(0, noise_std^2) noise
to every pixel (Box-Muller on two uniforms per pixel).
"""
import numpy as np
from numba import njit, prange

from .config import FASTMATH
from .random import uniform


@njit(fastmath=FASTMATH, cache=True, inline="always")
def gaussian(seed, index):
    """A standard normal draw from the uniforms at 2 * index and 2 * index + 1 (Box-Muller)."""
    u1 = uniform(seed, 2 * index)
    u2 = uniform(seed, 2 * index + 1)
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def augment_images(X, out, channels, height, width, max_shift, flip, noise_std, seed, noise_seed):
    """Writes the augmented copy of X (N, C*H*W) into out (same shape; must not alias X)."""
    n, d = X.shape
    span = 2 * max_shift + 1
    for i in prange(n):
        dy = min(int(uniform(seed, 3 * i) * span), span - 1) - max_shift
        dx = min(int(uniform(seed, 3 * i + 1) * span), span - 1) - max_shift
        mirrored = flip and uniform(seed, 3 * i + 2) < 0.5
        for c in range(channels):
            base = c * height * width
            for r in range(height):
                src_r = r - dy
                for col in range(width):
                    src_c = col - dx
                    value = 0.0
                    if 0 <= src_r < height and 0 <= src_c < width:
                        value = X[i, base + src_r * width + (width - 1 - src_c if mirrored else src_c)]
                    out[i, base + r * width + col] = value
        if noise_std > 0:
            for p in range(d):
                out[i, p] += noise_std * gaussian(noise_seed, i * d + p)
