"""Data sets as train/validation/test splits; imported as ``mlp_scratch.datasets``."""
from .dataset import Dataset, Standardizer, split_and_standardize
from .loaders import BUNDLED, load

__all__ = ["Dataset", "Standardizer", "split_and_standardize", "load", "BUNDLED"]
