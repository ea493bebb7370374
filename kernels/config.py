"""Compilation settings shared by every kernel, defined once."""
import functools

import numba
from numba.core import config
from numba.core.compiler import Compiler

# Allows reassociation (vectorized reductions) and FMA contraction but, unlike fastmath=True, keeps
# NaN/inf semantics so that a diverging run is detected instead of silently continuing.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}

# Column blocks for reductions over the batch: each prange iteration owns BLOCK output columns and
# walks the rows in order, so there is no race and the summation order does not depend on threads.
BLOCK = 64

# LLVM's optimization level for the kernels. numba's default, 3, optimizes each kernel again inside
# every kernel that calls it; at 2 the layer kernels run as fast and a first run compiles about a tenth
# faster (README.md, Compile cache).
OPT_LEVEL = 2


class KernelCompiler(Compiler):
    """numba's compiler at LLVM level ``level``. numba reads the level from its global config at each
    compile: set while a kernel (and the kernels it calls) compiles, restored after, so that other
    numba functions in the process keep theirs."""
    level = OPT_LEVEL

    def compile_extra(self, func):
        saved = config.OPT
        config.OPT = type(saved)(self.level)
        try:
            return super().compile_extra(func)
        finally:
            config.OPT = saved


@functools.cache
def compiler_at(level):
    """The KernelCompiler of ``level``: numba takes the compiler as a class."""
    return type(f"KernelCompilerO{level}", (KernelCompiler,), {"level": level})


def njit(*args, level=OPT_LEVEL, **options):
    """numba.njit, compiling at LLVM level ``level``."""
    return numba.njit(*args, pipeline_class=compiler_at(level), **options)
