"""The ``mlp-scratch`` command's entry point: loads the package (numba and the compiled kernels take
a second or more) where a Ctrl-C ends the command with one line instead of a traceback."""
import sys


def main(argv=None, prog="mlp-scratch train"):
    """``mlp_scratch.cli.main``; ``prog`` is how the messages name the train command."""
    try:
        from mlp_scratch.cli import main as cli_main
    except KeyboardInterrupt:
        print(f"{prog}: interrupted while starting; nothing was written", file=sys.stderr)
        return 130
    return cli_main(argv, prog)


if __name__ == "__main__":
    sys.exit(main())
