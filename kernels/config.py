"""Compilation settings shared by every kernel, defined once."""
import ast
import functools
import linecache

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.core.compiler import Compiler
from numba.extending import intrinsic
from numba.np.ufunc.parallel import _launch_threads

from .cache import locked

# FMA contraction, reciprocals and no signed zeros, but unlike fastmath=True keeps NaN/inf semantics, so
# that a diverging run is detected instead of silently continuing, and the order of sums: numba links a
# copy of each kernel into every kernel that calls it, and LLVM reassociated a sum differently in each
# copy, so a process that compiled its kernels and one that loaded them trained to different last bits.
# A sum that should vectorize keeps independent partial sums (per column, or lanes), which need no
# reassociation.
FASTMATH = {"contract", "nsz", "arcp"}

# Column blocks for reductions over the batch: each prange iteration owns BLOCK output columns and
# walks the rows in order, so there is no race and the summation order does not depend on threads.
BLOCK = 64

# Elements below which a kernel runs on the calling thread alone (see ``kernel``): on 2 threads a
# parallel loop took longer than one thread's up to 64 x 256 (batch norm's and dropout's kernels,
# 1.0-2.0x as long), and less from 128 x 512 on (0.57-0.85x); at 200 x 256 it depended on the kernel.
SERIAL_ELEMENTS = 32768

# LLVM's optimization level for the kernels. numba's default, 3, optimizes each kernel again inside
# every kernel that calls it; at 2 the layer kernels run as fast and a first run compiles about a tenth
# faster (README.md, Compile cache).
OPT_LEVEL = 2


class KernelCompiler(Compiler):
    """numba's compiler at LLVM level ``level``. numba reads the level from its global config at each
    compile: set while a kernel (and the kernels it calls) compiles, restored after, so that other
    numba functions in the process keep theirs. With ``noalias`` the function's arrays are marked as
    not overlapping, as numba marks a parallel loop's."""
    level = OPT_LEVEL
    noalias = False

    def compile_extra(self, func):
        self.state.flags.noalias = self.noalias
        saved = config.OPT
        config.OPT = type(saved)(self.level)
        try:
            return super().compile_extra(func)
        finally:
            config.OPT = saved


@functools.cache
def compiler_at(level, noalias=False):
    """The KernelCompiler of ``level`` and ``noalias``: numba takes the compiler as a class."""
    return type(f"KernelCompilerO{level}{'NoAlias' if noalias else ''}", (KernelCompiler,),
                {"level": level, "noalias": noalias})


def njit(func=None, *, level=OPT_LEVEL, **options):
    """numba.njit, compiling at LLVM level ``level``; with cache=True, saving under a lock (cache.py)."""
    if func is None:
        return functools.partial(njit, level=level, **options)
    dispatcher = numba.njit(func, pipeline_class=compiler_at(level), **options)
    return locked(dispatcher) if options.get("cache") else dispatcher


@intrinsic
def kernel_threads(typingctx):
    """The calling thread's numba thread count, from compiled code. (numba.get_num_threads there calls
    it through a ctypes pointer, which numba's cache refuses; this calls it by its name, as numba's
    parallel loops do.)"""
    _launch_threads()

    def codegen(context, builder, signature, args):
        get = cgutils.get_or_insert_function(builder.module, ir.FunctionType(cgutils.intp_t, []), "get_num_threads")
        return builder.call(get, [])
    return types.intp(), codegen


_THREADS = "_kernel_threads"  # the name kernel() calls kernel_threads by in the kernels' modules


def _with_plain_loop(func):
    """func (a function whose body runs ``for ... in prange(...)`` loops) with each such loop as

        if kernel_threads() == 1 or <the first argument>.size < SERIAL_ELEMENTS:
            for ... in range(...): <the body>
        else:
            for ... in prange(...): <the body>

    compiled from func's own source lines, so that numba's cache and error messages point there."""
    code = func.__code__
    last = max(end for _, end, _, _ in code.co_positions() if end is not None)
    lines = linecache.getlines(code.co_filename)[code.co_firstlineno - 1:last]
    definition = ast.parse("\n" * (code.co_firstlineno - 1) + "".join(lines), code.co_filename).body[0]
    definition.decorator_list = []
    work = definition.args.args[0].arg
    loops = 0
    for k, statement in enumerate(definition.body):
        if (isinstance(statement, ast.For) and isinstance(statement.iter, ast.Call)
                and isinstance(statement.iter.func, ast.Name) and statement.iter.func.id == "prange"):
            one_thread = ast.Compare(ast.Call(ast.Name(_THREADS, ast.Load()), [], []), [ast.Eq()], [ast.Constant(1)])
            small = ast.Compare(ast.Attribute(ast.Name(work, ast.Load()), "size", ast.Load()), [ast.Lt()],
                                [ast.Constant(SERIAL_ELEMENTS)])
            header = ast.If(ast.BoolOp(ast.Or(), [one_thread, small]), [], [])
            plain = ast.For(statement.target, ast.Call(ast.Name("range", ast.Load()), statement.iter.args, []),
                            statement.body, statement.orelse)  # the same body: compile() only reads it
            for node in [*ast.walk(header), plain, plain.iter, plain.iter.func]:  # in the loop's place in the source
                ast.copy_location(node, statement)
            header.body, header.orelse = [plain], [statement]
            definition.body[k] = header
            loops += 1
    if loops == 0:
        raise ValueError(f"kernel {func.__qualname__} has no prange loop at the top of its body")
    func.__globals__.setdefault(_THREADS, kernel_threads)
    namespace = {}
    exec(compile(ast.Module([definition], []), code.co_filename, "exec"), func.__globals__, namespace)
    result = namespace[func.__name__]
    result.__qualname__, result.__doc__ = func.__qualname__, func.__doc__
    return result


def kernel(func=None, *, fastmath=FASTMATH, level=OPT_LEVEL):
    """A kernel whose ``prange`` loops run on numba's threads, each compiled twice in one function:
    numba's parallel loop, and a plain loop for one thread or for a first argument (the array that
    measures the work) below SERIAL_ELEMENTS, where launching a parallel loop costs more than it saves
    (64-64-64-10 at batch 32: 13 launches of about 0.5 us each in a step of 45 us). The function's
    arrays are marked as not overlapping, as numba marks a parallel loop's: without that LLVM does not
    vectorize the plain loop where the pass calls it, on views of one workspace. So the arrays a kernel
    writes must not overlap the others except element for element (``out`` the same array as ``x``,
    each element read before it is written).

    Both loops divide as NumPy does (a float divided by zero is inf or nan), the error model numba
    gives a parallel loop: Python's, numba's default, tests each divisor and raises, which keeps LLVM
    from vectorizing a plain loop that divides (Adam's update: 3.3 against 0.48 ns per float32)."""
    if func is None:
        return functools.partial(kernel, fastmath=fastmath, level=level)
    return locked(numba.njit(_with_plain_loop(func), parallel=True, fastmath=fastmath, error_model="numpy",
                             cache=True, pipeline_class=compiler_at(level, noalias=True)))
