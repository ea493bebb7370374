"""Seed ensembles, snapshot ensembles and averaged parameters on an MNIST subset: ``python scripts/ensembles.py --help``."""
from mlp_scratch.experiments.ensembles import main

if __name__ == "__main__":
    main()
