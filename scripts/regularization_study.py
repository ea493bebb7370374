"""Overfit a small MNIST subset, then regularize it (L2, weight decay, dropout):
``python scripts/regularization_study.py --help``."""
from mlp_scratch.experiments.regularization import main

if __name__ == "__main__":
    main()
