"""Image augmentation of a mini-batch, parallel over samples.

Rows of X are images stored as C planes of H x W pixels. Each sample draws, from uniform(seed, .),
a horizontal flip (probability 1/2, if enabled) and a shift (dy, dx) in [-max_shift, max_shift]:

    out[c, r, col] = x[c, r - dy, w(col - dx)],   w(j) = W - 1 - j if flipped else j,
                     0 where (r - dy, col - dx) falls outside the image

(a random crop of the zero-padded image is exactly such a shift), then adds N(0, noise_std^2) noise
to every pixel (Box-Muller on two uniforms per pixel).

With a warp (``warp`` = largest rotation and shear in radians, largest relative scale change, any
non-zero), each sample also draws theta, phi in [-max, max] and s in [1 - max, 1 + max], and every
output pixel q = (r, col) samples the input bilinearly (zero outside) at

    p = M (q - center) + center - (dy, dx),   M = R(theta) Sh(phi) / s,   center = ((H-1)/2, (W-1)/2)

(R a rotation, Sh(phi) = [[1, 0], [tan(phi), 1]]), column mirrored as above. Lens distortion (the
warp's fourth entry, the largest |k|) draws k in [-max, max] and bends q first, radially about the
center (one coefficient, the first term of the Brown-Conrady model):

    q' = center + (1 + k rho^2) (q - center),   rho = |q - center| / max(center)

so k > 0 samples ever farther out towards the edges (barrel: the content shrinks there) and k < 0
ever nearer the center (pincushion); then p = M (q' - center) + center - (dy, dx). With ``jitter`` =
largest relative brightness, contrast and saturation changes, each sample then draws factors
b, c, a in [1 - max, 1 + max] and maps its values x (in the units it is given, i.e. after
preprocessing) to b * x, then m + c * (x - m) with m the sample's mean, then (3 channels)
g + a * (x - g) with g the pixel's luminance 0.299 R + 0.587 G + 0.114 B. The warp and jitter
draws use uniforms 3 N + 6 i + k, after the shift and flip draws of the N samples; the lens's k the
uniform 9 N + i.
"""
from typing import NamedTuple

import numpy as np
from numba import prange

from ..config import FASTMATH, njit
from ..random import derive_seed, uniform


class AugmentSettings(NamedTuple):
    """An augmentation as the kernel takes it, built by mlp_scratch.datasets.Augmentation."""
    channels: int
    height: int
    width: int
    max_shift: int
    flip: bool
    noise_std: float    # in the data's dtype
    warp: np.ndarray    # float64 (4,): largest rotation and shear (radians), relative scale change, lens |k|
    jitter: np.ndarray  # float64 (3,): largest relative brightness, contrast and saturation changes


def kernel_settings(augmentation, dtype):
    """The AugmentSettings of an mlp_scratch.datasets.Augmentation for data of ``dtype``; None for
    None (the training loop compiles without augmentation then: 3.7 s of a first run's compile)."""
    if augmentation is None:
        return None
    a = augmentation
    return AugmentSettings(*a.image_shape, a.crop_padding + a.translate, a.flip, np.dtype(dtype).type(a.noise_std),
                           np.array([np.radians(a.rotate), a.scale, np.radians(a.shear), a.distort]),
                           np.array([a.brightness, a.contrast, a.saturation]))


@njit(fastmath=FASTMATH, cache=True, inline="always")
def gaussian(seed, index):
    """A standard normal draw from the uniforms at 2 * index and 2 * index + 1 (Box-Muller)."""
    u1 = uniform(seed, 2 * index)
    u2 = uniform(seed, 2 * index + 1)
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


@njit(fastmath=FASTMATH, cache=True, inline="always")
def symmetric(seed, index, largest):
    """A uniform draw in [-largest, largest]."""
    return (2.0 * uniform(seed, index) - 1.0) * largest


@njit(fastmath=FASTMATH, cache=True, inline="always")
def bilinear(x, out, channels, height, width, mirrored, r, col, sy, sx):
    """Output pixel (r, col) of every channel: the input at (sy, sx), bilinear, zero outside."""
    y0, x0 = int(np.floor(sy)), int(np.floor(sx))
    wy, wx = sy - y0, sx - x0
    for c in range(channels):
        base = c * height * width
        value = 0.0
        for yy, fy in ((y0, 1.0 - wy), (y0 + 1, wy)):
            for xx, fx in ((x0, 1.0 - wx), (x0 + 1, wx)):
                if 0 <= yy < height and 0 <= xx < width and fy * fx != 0.0:
                    value += fy * fx * x[base + yy * width + (width - 1 - xx if mirrored else xx)]
        out[base + r * width + col] = value


@njit(fastmath=FASTMATH, cache=True, inline="always")
def affine_matrix(theta, phi, scale):
    """M = R(theta) Sh(phi) / s with Sh = [[1, 0], [tan(phi), 1]], as (m00, m01, m10, m11)."""
    cos_t, sin_t, tan_p = np.cos(theta) / scale, np.sin(theta) / scale, np.tan(phi)
    return cos_t - sin_t * tan_p, -sin_t, sin_t + cos_t * tan_p, cos_t


@njit(fastmath=FASTMATH, cache=True)
def warp_sample(x, out, channels, height, width, dy, dx, mirrored, theta, phi, scale):
    """One sample's bilinear affine warp (see the module docstring); x and out are its rows."""
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    m00, m01, m10, m11 = affine_matrix(theta, phi, scale)
    for r in range(height):
        for col in range(width):
            qy, qx = r - cy, col - cx
            bilinear(x, out, channels, height, width, mirrored, r, col, m00 * qy + m01 * qx + cy - dy,
                     m10 * qy + m11 * qx + cx - dx)


@njit(fastmath=FASTMATH, cache=True)
def lens_warp_sample(x, out, channels, height, width, dy, dx, mirrored, theta, phi, scale, lens):
    """warp_sample after lens distortion k = ``lens`` (see the module docstring). A function of its
    own: the bend inside warp_sample's loop changed the plain warp's float64 rounding (fastmath lets
    the compiler contract its products differently)."""
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    m00, m01, m10, m11 = affine_matrix(theta, phi, scale)
    radius = max(cy, cx, 0.5)  # rho = 1 at the farther edge's midpoint (0.5: a one-pixel image)
    for r in range(height):
        for col in range(width):
            qy, qx = r - cy, col - cx
            bend = 1.0 + lens * (qy * qy + qx * qx) / (radius * radius)
            qy, qx = bend * qy, bend * qx
            bilinear(x, out, channels, height, width, mirrored, r, col, m00 * qy + m01 * qx + cy - dy,
                     m10 * qy + m11 * qx + cx - dx)


@njit(fastmath=FASTMATH, cache=True)
def jitter_sample(out, channels, plane, brightness, contrast, saturation):
    """One sample's brightness, contrast and (3 channels) saturation factors, in place on its row."""
    total = 0.0
    for p in range(out.shape[0]):
        out[p] *= brightness
        total += out[p]
    mean = total / out.shape[0]
    for p in range(out.shape[0]):
        out[p] = mean + contrast * (out[p] - mean)
    if channels == 3:
        for p in range(plane):
            gray = 0.299 * out[p] + 0.587 * out[plane + p] + 0.114 * out[2 * plane + p]
            for c in range(3):
                out[c * plane + p] = gray + saturation * (out[c * plane + p] - gray)


@njit(parallel=True, fastmath=FASTMATH, cache=True)
def augment_images(X, out, settings, seed):
    """Writes the augmented copy of X (N, C*H*W) into out (same shape; must not alias X), drawing from
    the uint64 ``seed`` (the noise from its stream 1)."""
    channels, height, width, max_shift = settings.channels, settings.height, settings.width, settings.max_shift
    flip, noise_std, warp, jitter = settings.flip, settings.noise_std, settings.warp, settings.jitter
    noise_seed = derive_seed(seed, 1)
    n, d = X.shape
    span = 2 * max_shift + 1
    warped = warp[0] != 0 or warp[1] != 0 or warp[2] != 0 or warp[3] != 0
    jittered = jitter[0] != 0 or jitter[1] != 0 or jitter[2] != 0
    for i in prange(n):
        dy = min(int(uniform(seed, 3 * i) * span), span - 1) - max_shift
        dx = min(int(uniform(seed, 3 * i + 1) * span), span - 1) - max_shift
        mirrored = flip and uniform(seed, 3 * i + 2) < 0.5
        extra = 3 * n + 6 * i
        if warped:
            theta, phi = symmetric(seed, extra, warp[0]), symmetric(seed, extra + 1, warp[2])
            scale = 1.0 + symmetric(seed, extra + 2, warp[1])
            if warp[3] != 0:
                lens_warp_sample(X[i], out[i], channels, height, width, dy, dx, mirrored, theta, phi, scale,
                                 symmetric(seed, 9 * n + i, warp[3]))
            else:
                warp_sample(X[i], out[i], channels, height, width, dy, dx, mirrored, theta, phi, scale)
        else:
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
        if jittered:
            jitter_sample(out[i], channels, height * width, 1.0 + symmetric(seed, extra + 3, jitter[0]),
                          1.0 + symmetric(seed, extra + 4, jitter[1]), 1.0 + symmetric(seed, extra + 5, jitter[2]))
        if noise_std > 0:
            for p in range(d):
                out[i, p] += noise_std * gaussian(noise_seed, i * d + p)
