"""Random search over learning rate and L2 strength (or weight decay), coarse then fine, on an MNIST
subset (or another set): ``python scripts/hyperparameter_search.py --help``."""
from mlp_scratch.experiments.search import main

if __name__ == "__main__":
    main()
