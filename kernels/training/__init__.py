"""The compiled training step and what it reads: the layout of the flat buffers (layout.py), the
whole-network pass (network.py), the optimizer updates (optimizers.py), batch augmentation
(augment.py) and the loop over a chunk of steps (loop.py)."""
