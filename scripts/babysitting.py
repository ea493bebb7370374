"""Babysitting the learning process: one network with the learning rate too low, about right and too
high, and from a bad initialization, watched layer by layer: ``python scripts/babysitting.py --help``."""
from mlp_scratch.experiments.babysitting import main

if __name__ == "__main__":
    main()
