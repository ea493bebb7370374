"""Compare learning-rate schedules on an MNIST subset (or another set): ``python scripts/compare_schedules.py --help``."""
from mlp_scratch.experiments.schedules import main

if __name__ == "__main__":
    main()
