"""exp of a float32, bit for bit as glibc's expf computes it, in code that LLVM inlines and vectorizes.

numba turns np.exp of a float32 into a call to the C library's expf, one call per element: in the
softmax loss of 64-64-64-10 at batch 32 those calls took most of the loss's 2.4 us a step. This is
the algorithm of glibc's expf (2.28 and later, as its x86-64 FMA build compiles it): x / ln2 = (k +
r) / N with N = 32, exp(x) = 2^(k/N) * 2^(r/N), 2^(k/N) from a table and the exponent bits, 2^(r/N)
from a cubic, all in float64, rounded once to float32. `python scripts/check_expf.py` tries every
one of the 2^32 float32 inputs, with flush-to-zero off and on: the same bits as glibc's expf (NaN for
NaN), so training with it reproduces a run made with the C library's.
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .config import njit

N = 32
# 2^(i/N) as float64 bits less i << 47, so that adding k << 47 for k = i (mod N) gives 2^(k/N)
TABLE = np.array([np.float64(2.0 ** (i / N)).view(np.uint64) - np.uint64(i << 47) for i in range(N)], np.uint64)
INV_LN2_N = float.fromhex("0x1.71547652b82fep+0") * N
SHIFT = float.fromhex("0x1.8p+52")  # adding it rounds to an integer, kept in the low bits
C0, C1, C2 = (float.fromhex("0x1.c6af84b912394p-5") / N ** 3, float.fromhex("0x1.ebfce50fac4f3p-3") / N ** 2,
              float.fromhex("0x1.62e42ff0c52d6p-1") / N)
UNDERFLOW, OVERFLOW = float.fromhex("-0x1.9fe368p6"), float.fromhex("0x1.62e42ep6")  # exp is 0 below, inf above


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (float64): glibc's build fuses exactly these, nothing else may."""
    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(double, [double] * 3), "llvm.fma.f64")
        return builder.call(fma, args)
    return types.float64(types.float64, types.float64, types.float64), codegen


@intrinsic
def _bits(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.uint64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, u):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.uint64), codegen


@njit(cache=True)  # no fastmath: the operations and roundings are glibc's
def expf(x):
    """exp(x) of a float32 x, as a float32."""
    xd = np.float64(x)
    kd = _fma(INV_LN2_N, xd, SHIFT)  # k in the low bits
    ki = _bits(kd)
    kd -= SHIFT
    r = _fma(INV_LN2_N, xd, -kd)
    scale = _from_bits(TABLE[ki & np.uint64(N - 1)] + (ki << np.uint64(47)))  # 2^(k/N)
    y = _fma(_fma(C0, r, C1), r * r, _fma(C2, r, 1.0)) * scale
    if x < UNDERFLOW:
        return np.float32(0.0)
    if x > OVERFLOW:
        return np.float32(np.inf)
    return np.float32(y)


def exp(x):
    """np.exp(x); compiled, expf for a float32 (in plain Python, NumPy's own exp)."""
    return np.exp(x)


@overload(exp)
def _compiled_exp(x):
    if x == types.float32:
        return lambda x: expf(x)
    return lambda x: np.exp(x)
