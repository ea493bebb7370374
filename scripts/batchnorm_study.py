"""Batch normalization across weight scales in a deep ReLU network: ``python scripts/batchnorm_study.py --help``."""
from mlp_scratch.experiments.batchnorm import main

if __name__ == "__main__":
    main()
