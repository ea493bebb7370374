"""Compiled kernels are cached in a folder keyed by the kernels' sources: numba's cache does not
notice edits to a helper in another file, so any edit to kernels/ starts a fresh cache. Property
tests draw fixed examples unless HYPOTHESIS_PROFILE=explore. The package does not follow other
processes' load here (tests/test_threads.py tests that), so no test's thread count depends on it."""
import hashlib
import os
import pathlib

KERNELS = pathlib.Path(__file__).resolve().parents[1] / "kernels"
if "NUMBA_CACHE_DIR" not in os.environ and KERNELS.is_dir():
    digest = hashlib.sha256()
    for path in sorted(KERNELS.rglob("*.py")):
        digest.update(str(path.relative_to(KERNELS)).encode() + path.read_bytes())
    os.environ["NUMBA_CACHE_DIR"] = str(KERNELS.parent / ".numba_cache" / digest.hexdigest()[:16])

# Property tests draw the same examples on every run, so that the suite cannot pass or fail by chance;
# HYPOTHESIS_PROFILE=explore draws new ones on each run.
try:
    from hypothesis import settings
except ImportError:  # the property tests skip themselves
    pass
else:
    settings.register_profile("ci", derandomize=True)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from mlp_scratch import threads  # noqa: E402 (after NUMBA_CACHE_DIR is set)

threads.set_threads(follow_load=False)


def pytest_collection_modifyitems(items):
    """Tests marked ``long`` first: on several cores (pytest-xdist) the others run beside them instead
    of one core finishing them alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
