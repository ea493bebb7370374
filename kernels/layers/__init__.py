"""Each layer's forward and backward kernels side by side, one file per layer (affine, activations,
batch norm, layer norm, dropout, and the one-pass kernels of ReLU layers in fused.py), and the losses:
what a course assignment's layers.py holds, compiled."""
