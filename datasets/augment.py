"""Data augmentation for image data sets, applied to each training mini-batch (never at test time)."""
import numpy as np

from mlp_scratch.kernels.training.augment import augment_images, kernel_settings
from mlp_scratch.validation import check_bool, check_int, check_number

# Lens distortion maps a radius r (relative to the half-size) to r (1 + k r^2), one to one while
# 1 + 3 k r^2 > 0: up to the corners of a square image (r^2 = 2), for k > -1/6. Beyond, pincushion
# folds the corners over the middle.
MAX_DISTORT = 1 / 6


class Augmentation:
    """Random shifts (crops with padding, translations), horizontal flips, affine warps (rotation,
    scaling, shear; bilinear), lens distortion (barrel and pincushion), color jitter and additive
    noise (formulas in kernels/training/augment.py).

    Parameters
    ----------
    image_shape : (channels, height, width) of each row's C planes of H x W pixels.
    crop_padding : int
        A random H x W crop of the image zero-padded by this many pixels on each side.
    translate : int
        A further random translation by up to this many pixels (zero fill). A crop of the padded
        image is itself a translation, so both are one shift of up to crop_padding + translate.
    flip : bool
        Mirror left-right with probability 1/2 (right for CIFAR-10's objects, not for digits).
    noise_std : float
        Standard deviation of Gaussian noise added to every feature.
    rotate, shear : float
        Largest rotation and shear angle, in degrees (each sample draws uniformly in [-max, max]).
    scale : float
        Largest relative change of size: a factor drawn in [1 - scale, 1 + scale].
    distort : float in [0, MAX_DISTORT]
        Largest lens distortion |k|: each sample draws k in [-distort, distort], barrel for k > 0 and
        pincushion for k < 0; at the farther edges' midpoints pixels come from 1 + k times as far out.
    brightness, contrast, saturation : float
        Largest relative change of each: factors drawn in [1 - max, 1 + max] (saturation needs 3
        channels). They act on the values as given, i.e. after preprocessing: exact in pixel terms
        for "scale" preprocessing, an approximation after standardization.

    The batch is augmented after preprocessing, so padding is 0 in preprocessed units (the mean
    pixel, with standardization). Random numbers come from (seed, step, sample): reproducible and
    independent of the number of threads.
    """

    def __init__(self, image_shape, crop_padding=0, translate=0, flip=False, noise_std=0.0, rotate=0.0, scale=0.0,
                 shear=0.0, brightness=0.0, contrast=0.0, saturation=0.0, distort=0.0):
        if len(image_shape) != 3 or min(image_shape) <= 0:
            raise ValueError(f"image_shape must be (channels, height, width), got {image_shape!r}")
        self.image_shape = tuple(int(v) for v in image_shape)
        self.crop_padding = check_int("crop_padding", crop_padding, low=0)
        self.translate = check_int("translate", translate, low=0)
        if self.crop_padding + self.translate >= min(self.image_shape[1:]):
            raise ValueError(f"crop_padding + translate must be below the image size {self.image_shape[1:]}, "
                             f"got {self.crop_padding + self.translate}")
        self.flip = check_bool("flip", flip)
        self.noise_std = check_number("noise_std", noise_std, low=0)
        self.rotate = check_number("rotate", rotate, low=0, high=180)
        self.shear = check_number("shear", shear, low=0, high=60)
        self.scale = check_number("scale", scale, low=0, high=1, high_open=True)
        self.distort = check_number("distort", distort, low=0, high=MAX_DISTORT)
        self.brightness = check_number("brightness", brightness, low=0, high=1)
        self.contrast = check_number("contrast", contrast, low=0, high=1)
        self.saturation = check_number("saturation", saturation, low=0, high=1)
        if self.saturation and self.image_shape[0] != 3:
            raise ValueError(f"saturation needs 3 color channels, got image_shape {self.image_shape}")

    @classmethod
    def default_for(cls, meta, noise_std=0.0, **warp_and_jitter):
        """CIFAR-10: crops with 4 pixels of padding and flips; digit and fashion images: 2-pixel
        translations without flips (mirrored digits are other symbols); plus any of rotate, scale,
        shear, distort, brightness, contrast, saturation given."""
        if "image_shape" not in meta:
            raise ValueError(f"augmentation needs an image data set; {meta.get('name')!r} has no image_shape")
        if meta["name"] == "cifar10":
            return cls(meta["image_shape"], crop_padding=4, flip=True, noise_std=noise_std, **warp_and_jitter)
        return cls(meta["image_shape"], translate=2 if meta["image_shape"][1] > 8 else 1, noise_std=noise_std,
                   **warp_and_jitter)

    def __call__(self, X, out, seed):
        """Writes the augmented copy of the batch X into out, from the uint64 seed of this step."""
        channels, height, width = self.image_shape
        if X.ndim != 2 or X.shape[1] != channels * height * width or out.shape != X.shape:
            raise ValueError(f"X must have rows of {channels * height * width} features for images of shape "
                             f"{self.image_shape}, got {X.shape}")
        augment_images(X, out, kernel_settings(self, X.dtype), np.uint64(seed))

    def config(self):
        return {"image_shape": list(self.image_shape), "crop_padding": self.crop_padding,
                "translate": self.translate, "flip": self.flip, "noise_std": self.noise_std, "rotate": self.rotate,
                "scale": self.scale, "shear": self.shear, "distort": self.distort, "brightness": self.brightness,
                "contrast": self.contrast, "saturation": self.saturation}

    def __repr__(self):
        return "Augmentation(" + ", ".join(f"{k}={v!r}" for k, v in self.config().items()) + ")"

