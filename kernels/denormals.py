"""Flush-to-zero (FTZ) and denormals-are-zero (DAZ): arithmetic that treats subnormal floats as 0.

Subnormal numbers (non-zero, below 1.2e-38 in float32) take a slow path in these processors, in the
matrix products too: parameters and optimizer state that decay towards zero made each epoch of a
784-256-256-10 MNIST run slower than the last. FTZ writes 0 where a result would be subnormal, DAZ
reads subnormal operands as 0. Both are bits of the x86 control register MXCSR, which every thread
has its own copy of, and numba offers no switch for it: ``control`` and ``set_control`` read and
write it through LLVM's x86 intrinsics. On other processors they do nothing.
"""
import platform

from llvmlite import ir
from numba import get_thread_id, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .config import njit

FTZ, DAZ = 0x8000, 0x0040  # MXCSR bits 15 and 6
X86 = platform.machine().lower() in ("x86_64", "amd64")

if X86:
    def _mxcsr_call(builder, name, pointer):
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        builder.call(fn, [builder.bitcast(pointer, ir.IntType(8).as_pointer())])

    @intrinsic
    def _control(typingctx):
        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
            return builder.zext(builder.load(slot), ir.IntType(64))
        return types.int64(), codegen

    @intrinsic
    def _set_control(typingctx, value):
        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
            _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
            return context.get_dummy_value()
        return types.void(types.int64), codegen


@njit(cache=True)
def control():
    """The calling thread's MXCSR (0 where there is none)."""
    return _control() if X86 else 0


@njit(cache=True)
def set_control(value):
    """Write the calling thread's MXCSR."""
    if X86:
        _set_control(value)


@njit(cache=True)
def switch(value, on):
    """``value`` (an MXCSR) with FTZ and DAZ set (on) or cleared."""
    return value | (FTZ | DAZ) if on else value & ~(FTZ | DAZ)


@njit(parallel=True, cache=True)
def switch_threads(on, threads):
    """FTZ and DAZ on or off in the calling thread and in each of numba's ``threads`` pool threads
    (called with numba's thread count at ``threads``: numba's scheduler gives each thread one of the
    ``threads`` iterations)."""
    set_control(switch(control(), on))
    for _ in prange(threads):
        set_control(switch(control(), on))


@njit(parallel=True, cache=True)
def thread_controls(out):
    """out[t] = the MXCSR of numba's thread t, for every thread that runs one of many iterations."""
    for i in prange(64 * out.shape[0]):
        out[get_thread_id()] = control()
