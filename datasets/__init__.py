"""Data sets as train/validation/test splits; imported as ``mlp_scratch.datasets``."""
from .augment import Augmentation
from .dataset import PREPROCESSING, Dataset, Preprocessing, stratified_indices
from .loaders import BUNDLED, GENERATORS, NAMES, REGRESSION_SETS, load
from .sources import DATA_ENV, IMAGE_SETS

__all__ = ["Augmentation", "Dataset", "Preprocessing", "PREPROCESSING", "stratified_indices", "load", "NAMES", "BUNDLED",
           "GENERATORS", "IMAGE_SETS", "REGRESSION_SETS", "DATA_ENV"]
