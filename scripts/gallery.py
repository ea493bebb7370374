"""Run every experiment with its defaults and copy one figure of each into docs/gallery/ (the
README's gallery). ``python scripts/gallery.py [--only NAME ...]``; outputs in runs/gallery/NAME."""
import argparse
import importlib
import pathlib
import shutil
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
# experiment module -> the figure the gallery shows
FIGURES = {"compare": "loss", "paths": "quadratic", "schedules": "learning_rate",
           "initialization": "activation_histograms", "batchnorm": "accuracy_vs_scale",
           "regularization": "accuracy_vs_strength", "search": "search", "ensembles": "ensemble_size",
           "transfer": "transfer", "features": "weights", "dropout": "dropout_forms", "babysitting": "babysitting",
           "regression": "regression"}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--only", nargs="+", choices=list(FIGURES), default=list(FIGURES))
    args = p.parse_args()
    gallery = ROOT / "docs" / "gallery"
    gallery.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        out = ROOT / "runs" / "gallery" / name
        start = time.perf_counter()
        importlib.import_module(f"mlp_scratch.experiments.{name}").main(["--out", str(out), "--overwrite"])
        shutil.copy(out / f"{FIGURES[name]}.png", gallery / f"{name}.png")
        print(f"== {name}: {time.perf_counter() - start:.0f} s, figure docs/gallery/{name}.png")


if __name__ == "__main__":
    main()
