"""First-layer weights as images and the test confusion matrix on an MNIST subset (or CIFAR-10): ``python scripts/learned_features.py --help``."""
from mlp_scratch.experiments.features import main

if __name__ == "__main__":
    main()
