"""Weight initialization in a deep ReLU network: ``python scripts/compare_initializations.py --help``."""
from mlp_scratch.experiments.initialization import main

if __name__ == "__main__":
    main()
