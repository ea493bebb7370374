"""Every numba kernel of the package: pure functions on arrays, outputs preallocated by the caller.

- layers/: each layer's forward and backward side by side, one file per layer, and the losses;
- training/: the layout of the flat buffers, the whole-network pass, the optimizer updates,
  augmentation and the compiled training loop, which read named structures built by the Python side;
- blas/: the matrix products, SciPy's BLAS called from compiled code;
- config.py, random.py, reductions.py: what the others share; denormals.py: the processor's
  flush-to-zero switch, set in every thread while training; expf.py: the C library's exp of a
  float32, in code that vectorizes; cache.py: numba's cache, safe for processes compiling at once.

numba's cache checks only the file that defines a function, not the helpers it calls from other
files, so after an edit to any kernel the whole in-tree cache is dropped (see ``_drop_stale_cache``).
The first compile of a process says so once on stderr (``CompileNotice``): a fresh install's first
run compiles for about 20 s, and should not look hung.
"""
import hashlib
import os
import pathlib
import sys

from numba.core import event


def _drop_stale_cache():
    """Delete this folder's compiled-kernel caches (one __pycache__ per subfolder) when the kernels'
    sources changed since they were written. Only the default in-tree caches: with NUMBA_CACHE_DIR
    set, or in a read-only install (whose sources do not change), there is nothing to do."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    folder = pathlib.Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    stamp = folder / "__pycache__" / "kernel-sources.sha256"
    try:
        if stamp.read_text() == digest.hexdigest():
            return
    except OSError:
        pass
    try:
        for path in list(folder.rglob("__pycache__/*.nbi")) + list(folder.rglob("__pycache__/*.nbc")):
            path.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # read-only: numba caches elsewhere (its user-wide folder)
        pass


_drop_stale_cache()


COMPILE_NOTICE = ("mlp-scratch: compiling kernels, once per install and configuration: about 20 s on 2 cores; "
                  "later runs load them from numba's cache")


class CompileNotice(event.Listener):
    """Prints COMPILE_NOTICE at the first compile of one of these kernels in this process (numba
    announces compiles, not loads from its cache)."""

    def __init__(self):
        self.said = False

    def on_start(self, ev):
        if not self.said and ev.data["dispatcher"].py_func.__module__.startswith(__name__ + "."):
            self.said = True
            print(COMPILE_NOTICE, file=sys.stderr, flush=True)

    def on_end(self, ev):
        pass


event.register("numba:compile", CompileNotice())
