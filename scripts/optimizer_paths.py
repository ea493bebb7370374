"""Optimizer paths on 2-D surfaces (contour plots, loss per step): ``python scripts/optimizer_paths.py --help``."""
from mlp_scratch.experiments.paths import main

if __name__ == "__main__":
    main()
