"""Compilation settings shared by every kernel, defined once."""

# Allows reassociation (vectorized reductions) and FMA contraction but, unlike fastmath=True, keeps
# NaN/inf semantics so that a diverging run is detected instead of silently continuing.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# Column blocks for reductions over the batch: each prange iteration owns BLOCK output columns and
# walks the rows in order, so there is no race and the summation order does not depend on threads.
BLOCK = 64
