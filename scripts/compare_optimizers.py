"""Compare training methods on an MNIST subset (or another set): ``python scripts/compare_optimizers.py --help``."""
from mlp_scratch.experiments.compare import main

if __name__ == "__main__":
    main()
