"""Training throughput against PyTorch, JAX, scikit-learn, NumPy and the step limit:
``python scripts/benchmark.py --help``."""
import sys

from mlp_scratch.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
