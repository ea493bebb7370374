"""Transfer learning from MNIST digits 0-4 to digits 5-9 and to grayscale CIFAR-10, for several target
training-set sizes: ``python scripts/transfer_learning.py --help``."""
from mlp_scratch.experiments.transfer import main

if __name__ == "__main__":
    main()
