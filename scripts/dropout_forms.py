"""Dropout's two forms, classic and inverted: the same expected output, and training alike:
``python scripts/dropout_forms.py --help``."""
from mlp_scratch.experiments.dropout import main

if __name__ == "__main__":
    main()
