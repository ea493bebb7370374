"""The tutorial notebooks (notebooks/) run as a student runs them: every cell in a Jupyter kernel,
in order; their own asserts check what they claim. Stored without outputs."""
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 5


@pytest.fixture(scope="module")
def this_python(tmp_path_factory):
    """A Jupyter kernel of the interpreter running the tests (a "python3" found elsewhere on the
    machine may be another Python without this package)."""
    import json
    import os
    import sys

    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / "mlp-scratch-tests"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "the tests' Python", "language": "python"}))
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(folder), previous]))
    yield "mlp-scratch-tests"
    if previous is None:
        del os.environ["JUPYTER_PATH"]
    else:
        os.environ["JUPYTER_PATH"] = previous


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs(path, tmp_path, this_python):
    notebook = nbformat.read(path, as_version=4)
    assert all(cell.get("outputs", []) == [] for cell in notebook.cells), "commit notebooks without outputs"
    nbclient.NotebookClient(notebook, timeout=600, kernel_name=this_python,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    if any("plt.show()" in cell.source for cell in notebook.cells):
        shown = [output for cell in notebook.cells for output in cell.get("outputs", [])]
        assert any("image/png" in output.get("data", {}) for output in shown)  # figures inline


def test_the_courses_classic_cells_run_against_the_cs231n_module():
    """scripts/cs231n_checks.py: the assignment's gradient checks, update rules, normalization and
    dropout cells. A wrong backward pass gives errors of order 1; these stay below 1e-3 (the course
    accepts up to 1e-4 for the nets with batch norm, where elements near 0 dominate)."""
    import re
    import subprocess
    import sys

    script = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "cs231n_checks.py"
    result = subprocess.run([sys.executable, str(script), "--only", "fully-connected", "update-rules",
                             "normalization", "dropout"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    errors = [float(value) for value in re.findall(r"error: ([0-9.e+-]+)$", result.stdout, flags=re.M)]
    assert len(errors) > 40 and max(errors) < 1e-3, sorted(errors)[-5:]
    initial = [float(value) for value in re.findall(r"Initial loss: ([0-9.]+)", result.stdout)]
    assert abs(initial[0] - 2.3026) < 0.05  # small weights, no regularization: about log(10)
