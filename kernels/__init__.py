"""Every numba kernel of the package: pure functions on arrays, outputs preallocated by the caller.

Each layer's forward and backward sit side by side in one file; ``network.py`` composes them into the
compiled forward/backward pass of a whole MLP, and ``optimizers.py`` holds the fused update loops.
"""
