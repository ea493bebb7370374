"""The README's Python snippets run as shown: each is written to a file and run as a script, in a
folder where the README's commands before it have run (runs/long). Snippets on MNIST run where the
data is on disk (MLP_SCRATCH_DATA, as in CI)."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

from mlp_scratch.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]
SNIPPETS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.S | re.M)


def mnist_on_disk():
    folder = os.environ.get("MLP_SCRATCH_DATA")
    return folder is not None and (pathlib.Path(folder) / "mnist").is_dir()


def test_the_readme_has_its_snippets():
    assert len(SNIPPETS) >= 7


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_snippet_runs(index, tmp_path):
    code = SNIPPETS[index]
    if '"mnist"' in code and not mnist_on_disk():
        pytest.skip("MNIST is not on disk (MLP_SCRATCH_DATA)")
    if "runs/long" in code:  # python scripts/train.py --epochs 40 --out runs/long, shortened
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            assert main(["train", "--epochs", "2", "--out", "runs/long", "--quiet"]) == 0
        finally:
            os.chdir(cwd)
    script = tmp_path / "snippet.py"
    script.write_text(code)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
