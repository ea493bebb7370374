"""Regression: mlp-scratch's MLPRegressor against scikit-learn's at equal settings:
``python scripts/compare_regressors.py --help``."""
from mlp_scratch.experiments.regression import main

if __name__ == "__main__":
    main()
