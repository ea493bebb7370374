"""Every numba kernel of the package: pure functions on arrays, outputs preallocated by the caller.

Each layer's forward and backward sit side by side in one file; ``network.py`` composes them into the
compiled forward/backward pass of a whole MLP, ``optimizers.py`` holds the fused update loops and
``training.py`` the compiled training loop.

numba's cache checks only the file that defines a function, not the helpers it calls from other
files, so after an edit to any kernel the whole in-tree cache is dropped (see ``_drop_stale_cache``).
"""
import hashlib
import os
import pathlib


def _drop_stale_cache():
    """Delete this folder's compiled-kernel cache when the kernels' sources changed since it was
    written. Only the default in-tree cache: with NUMBA_CACHE_DIR set, or in a read-only install
    (whose sources do not change), there is nothing to do."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = pathlib.Path(__file__).parent
    cache = folder / "__pycache__"
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    stamp = cache / "kernel-sources.sha256"
    try:
        if stamp.read_text() == digest.hexdigest():
            return
    except OSError:
        pass
    try:
        for path in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
            path.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # read-only: numba caches elsewhere (its user-wide folder)
        pass


_drop_stale_cache()
