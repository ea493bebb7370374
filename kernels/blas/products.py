"""Matrix products, out = a @ b: BLAS's gemm, called the way the kernels' threads need.

On one kernel thread a product is one BLAS call, which OpenBLAS threads itself. On more (one pool
for the whole step: mlp_scratch/threads.py, which limits OpenBLAS to 1 thread meanwhile) a large
product is cut into one block per thread, each block one single-threaded BLAS call. Like BLAS's own
threading, that can round differently at another thread count (the blocks start at whole SIMD
registers, where this machine's OpenBLAS gave the same bits for 2 and 4 blocks; a fixed 4 blocks
on 2 threads took 4-5% longer per large step).

numba's np.dot copies an operand that is not contiguous, as a block of columns is not: these calls
give BLAS the block with its row stride instead.
"""
import contextlib
import ctypes
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, FileFinder
from importlib.util import module_from_spec

import numpy as np
from llvmlite import ir
from numba import _helperlib, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ..config import njit

# numba's C helper behind np.dot: numba_xxgemm(kind, transa, transb, m, n, k, &alpha, a, lda, b, ldb,
# &beta, c, ldc), column-major, forwarding to SciPy's sgemm or dgemm (kind 's' or 'd').
_GEMM_ARGS = (types.char,) * 3 + (types.intp,) * 3 + (types.voidptr,) * 2 + (types.intp, types.voidptr, types.intp,
                                                                             types.voidptr, types.voidptr, types.intp)
_xxgemm = types.ExternalFunction("numba_xxgemm", types.intc(*_GEMM_ARGS))

_CYTHON_BLAS = "scipy.linalg.cython_blas"  # where the helper looks the functions up


@contextlib.contextmanager
def _cython_blas_alone():
    """While in the block, SciPy's cython_blas is in sys.modules without scipy.linalg: importing it
    the usual way runs scipy.linalg's __init__ first, 0.15-0.2 s of imports (array-API shims, f2py)
    that the kernels never use, a fifth of a warm start. Afterwards sys.modules is as it was; a
    later import of scipy.linalg gets the same module again."""
    if _CYTHON_BLAS in sys.modules:
        yield
        return
    import scipy  # its __init__ sets up where the shared libraries are found
    finder = FileFinder(os.path.join(scipy.__path__[0], "linalg"), (ExtensionFileLoader, EXTENSION_SUFFIXES))
    spec = finder.find_spec(_CYTHON_BLAS)
    if spec is None:
        raise ImportError(f"SciPy has no {_CYTHON_BLAS} in {finder.path}; it provides the BLAS the kernels call")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[_CYTHON_BLAS] = module
    try:
        yield
    finally:
        del sys.modules[_CYTHON_BLAS]


def _find_gemm():
    """The helper looks up SciPy's gemm on its first call, taking the GIL to do so; a kernel's worker
    thread doing that while the calling thread holds the GIL would wait forever. So call it once
    for each dtype here, in the importing thread."""
    c = ctypes
    gemm = c.CFUNCTYPE(c.c_int, c.c_char, c.c_char, c.c_char, c.c_ssize_t, c.c_ssize_t, c.c_ssize_t, c.c_void_p,
                       c.c_void_p, c.c_ssize_t, c.c_void_p, c.c_ssize_t, c.c_void_p, c.c_void_p,
                       c.c_ssize_t)(_helperlib.c_helpers["xxgemm"])
    with _cython_blas_alone():
        # numba's first compiled call imports arraymath, whose BLAS check imports cython_blas: done
        # here, that finds the module above
        import numba.np.arraymath  # noqa: F401
        for kind, dtype in ((b"s", np.float32), (b"d", np.float64)):
            one, out = np.ones(1, dtype), np.zeros(1, dtype)
            p, q = one.ctypes.data, out.ctypes.data
            if gemm(kind, b"n", b"n", 1, 1, 1, p, p, 1, p, 1, q, q, 1) != 0 or out[0] != 1:
                raise ImportError(f"numba could not call SciPy's {kind.decode()}gemm")


_find_gemm()

SMALL_KERNEL_CORES = ("SkylakeX", "Cooperlake", "SapphireRapids")  # OpenBLAS's cores with small-product kernels


def _has_small_kernels():
    """Whether every BLAS loaded is OpenBLAS on its SkylakeX family of kernels (AVX-512), whose
    kernels for small products skip the packing of the general path (see _small_kernel_wants_copy).
    Asked once, when a kernel that multiplies compiles: its cached copy keeps the answer."""
    from threadpoolctl import ThreadpoolController
    blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return bool(blas) and all(library.internal_api == "openblas" and library.architecture in SMALL_KERNEL_CORES
                              for library in blas)


def small_kernels():
    """_has_small_kernels(), as a constant of the compiled code."""


@overload(small_kernels)
def _small_kernels_constant():
    answer = _has_small_kernels()
    return lambda: answer


@njit(cache=True)
def _small_kernel_wants_copy(trans_a, trans_b, m, n, k):
    """Whether OpenBLAS computes the column-major product op(A) @ op(B), (m x k) @ (k x n) with op
    given by trans_a and trans_b, faster with B copied transposed, trans_b 'n' becoming 't'. Its
    SkylakeX kernels for products of at most 100^3 multiply-adds take every layout but ('t', 'n')
    where m * n > 1200 or k < 32, and ('t', 't') from k = 4; the general path packs both operands
    first. A layer's dx = dout @ W.T is such a product, n its batch: the copy paid up to n = 64 and
    2^18 multiply-adds (on a Zen 4 core: 0.69-0.92x the time of the product without it, 0.77x at
    64-64-64-10's batch of 32, to the same bits), and cost up to 2x at batches of 128 and 200."""
    return (small_kernels() and trans_a == ord("t") and trans_b == ord("n") and n <= 64 and m * n * k <= 1 << 18
            and (m * n > 1200 or k < 32) and k >= 4)


SPLIT = 1 << 20  # multiply-adds below which a product stays one BLAS call
ALIGN = 16  # block starts: whole SIMD registers of float32, so BLAS runs its full-width loops


@intrinsic
def _address_of_copy(typingctx, value):
    """A pointer to a copy of ``value`` in the calling function's stack frame (BLAS takes alpha and
    beta by address)."""
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once_value(builder, args[0])
        return builder.bitcast(slot, ir.IntType(8).as_pointer())
    return types.voidptr(value), codegen


@njit(cache=True)
def operand(x):
    """How the column-major BLAS sees the 2-D view x: (transpose flag, leading dimension). BLAS sees
    the transpose of a row-major x, so 'n' for rows with a unit stride and 't' for the transpose of
    such an array. A leading dimension below the other axis's length is valid only where the view has
    one row or column: BLAS refuses it, so it is raised to that length."""
    size = x.itemsize
    if x.strides[1] == size or x.shape[1] == 1:
        return np.int8(ord("n")), max(x.strides[0] // size, x.shape[1], 1)
    return np.int8(ord("t")), max(x.strides[1] // size, x.shape[0], 1)


@njit(cache=True)
def gemm(a, b, out):
    """out = a @ b in one BLAS call, shapes (m, k) @ (k, n) -> (m, n). Each view must have a unit
    stride along one axis: rows of a C-contiguous array (a block of its columns included) or the
    transpose of such an array; out, rows. A row-major a is first copied transposed where only that
    layout has one of OpenBLAS's small-product kernels (_small_kernel_wants_copy)."""
    m, n = out.shape
    if m == 0 or n == 0:
        return
    k = a.shape[1]
    # Column-major: out.T (n x m) = b.T (n x k) @ a.T (k x m).
    trans_b, ld_b = operand(b)
    trans_a, ld_a = operand(a)
    if _small_kernel_wants_copy(trans_b, trans_a, n, m, k):
        a_t = np.empty((k, m), a.dtype)  # at most 2^18 / n elements, freed on return
        for j in range(k):
            for i in range(m):
                a_t[j, i] = a[i, j]
        a = a_t.T
        trans_a, ld_a = operand(a)
    one, zero = out.dtype.type(1), out.dtype.type(0)
    _xxgemm(np.int8(ord("s") if out.itemsize == 4 else ord("d")), trans_b, trans_a, n, m, k,
            _address_of_copy(one), b.ctypes, ld_b, a.ctypes, ld_a, _address_of_copy(zero), out.ctypes,
            operand(out)[1])


@njit(cache=True)
def block(length, parts, part):
    """The bounds of part ``part`` of range(length) cut into ``parts`` blocks that start at whole
    multiples of ALIGN, as near in length as that allows (100 in 2: 48 and 52)."""
    units = -(-length // ALIGN)  # ALIGN-wide units, the last one maybe shorter
    return min(length, units * part // parts * ALIGN), min(length, units * (part + 1) // parts * ALIGN)


@njit(cache=True, inline="always")
def matmul(a, b, out, parts, rows=False):
    """out = a @ b, shapes (m, k) @ (k, n) -> (m, n): one BLAS call below SPLIT multiply-adds or
    for ``parts`` 1, else ``parts`` blocks of out's longer side (of its rows, with ``rows``), one
    BLAS call each, spread over the kernel threads. ``parts`` is the threads of an idle machine
    (mlp_scratch/threads.py, blocks_for): where a busy one leaves fewer, they compute the same
    blocks in turn, to the same bits. Either side's blocks gave the same bits here; a weight
    gradient x.T @ dout took 1.2-2.2x as long in blocks of columns as of rows (784 x 100 to 512 x 512
    on 2 threads), the other products at most 1.15x either way.

    The operands go on as views of any layout ([:, :]): the parallel kernel compiles once per
    dtype instead of once per combination of C-ordered and transposed operands (three in a network's
    pass, about 0.6 s each)."""
    blocked_matmul(a[:, :], b[:, :], out[:, :], parts, rows)


@njit(parallel=True, cache=True)
def blocked_matmul(a, b, out, parts, rows):
    """matmul's kernel, on operands of any layout."""
    m, n = out.shape
    if parts == 1 or m * n * a.shape[1] < SPLIT:
        gemm(a, b, out)
        return
    for part in prange(parts):
        if n >= m and not rows:
            j0, j1 = block(n, parts, part)
            gemm(a, b[:, j0:j1], out[:, j0:j1])
        else:
            i0, i1 = block(m, parts, part)
            gemm(a[i0:i1], b, out[i0:i1])
