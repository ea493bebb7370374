"""Train an MLP from the command line: ``python scripts/train.py --help``."""
import sys

from mlp_scratch.launch import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]], prog="python scripts/train.py"))
