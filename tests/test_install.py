"""A regular (non-editable) install maps kernels/ and datasets/ into the package and installs no
top-level ``kernels`` or ``datasets`` package."""
import os
import subprocess
import sys

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_regular_install_has_the_subpackages_and_no_top_level_ones(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(ROOT)], check=True, capture_output=True)
    installed = {p.name for p in target.iterdir()}
    assert "mlp_scratch" in installed
    assert "kernels" not in installed and "datasets" not in installed
    code = ("import mlp_scratch, mlp_scratch.kernels.training.network, mlp_scratch.benchmark, mlp_scratch.datasets as d; "
            "import mlp_scratch.cs231n.classifiers.fc_net, mlp_scratch.cs231n.solver, mlp_scratch.experiments.compare; "
            "print(mlp_scratch.__file__); print(d.load('iris').n_classes)")
    env = {**os.environ, "PYTHONPATH": str(target), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, check=True)
    path, classes = result.stdout.split()
    assert path.startswith(str(target)) and classes == "3"
