"""Where every layer's blocks live in the flat buffers: the one module that knows the offsets.

An MLP's parameters, gradients, batch-norm statistics and activations each live in one flat array.
``Layout`` says, per affine layer l, where layer l's blocks start in them (-1: the layer has no such
block). The compiled passes take a layer's row as a ``Layer`` of integers and read its blocks
through the accessors below; the Python side reads them through ``parameter_views`` and
``running_views``. Nothing else reads an offset.

- params (and grads, laid out alike): W (d_in x d_out, row-major), then b, or gamma and beta where
  batch norm follows (beta takes the bias's place: the bias's gradient would be identically zero);
- running and stats: two vectors of d_out per batch-norm layer (running mean and variance; the last
  batch's mean and inv_std);
- acts, for a batch of n rows: a block that starts at column c and is m wide occupies
  acts[n*c : n*(c+m)] as an (n, m) C-contiguous array. A hidden layer has its output (act), the
  normalized input of batch norm (xhat) and the output after dropout (drop).
"""
from typing import NamedTuple

import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, overload

from ..config import njit


class Layout(NamedTuple):
    """One int64 array per field, one entry per affine layer."""
    d_in: np.ndarray
    d_out: np.ndarray
    W: np.ndarray        # offsets into params
    b: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    stats: np.ndarray    # offsets into running and stats
    act: np.ndarray      # columns of acts
    xhat: np.ndarray
    drop: np.ndarray
    activation: np.ndarray  # the activation kind of a hidden layer (kernels/layers/activations.py)


class Sizes(NamedTuple):
    """The lengths of the flat buffers a Layout indexes: params, statistics, activation columns."""
    params: int
    stats: int
    act_columns: int


def build_layout(sizes, batchnorm, dropout, activations):
    """The Layout of an MLP with layer widths ``sizes`` (input, hidden..., output), and its Sizes.
    ``activations``: one activation kind per hidden layer."""
    layers = len(sizes) - 1
    columns = {name: np.full(layers, -1, np.int64) for name in Layout._fields}
    offset = stat = col = 0
    for l, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = l < layers - 1
        columns["d_in"][l], columns["d_out"][l] = d_in, d_out
        columns["W"][l], offset = offset, offset + d_in * d_out
        if not (hidden and batchnorm):
            columns["b"][l], offset = offset, offset + d_out
        if hidden and batchnorm:
            columns["gamma"][l], offset = offset, offset + d_out
            columns["beta"][l], offset = offset, offset + d_out
            columns["stats"][l], stat = stat, stat + 2 * d_out
            columns["xhat"][l], col = col, col + d_out
        if hidden:
            columns["act"][l], col = col, col + d_out
            columns["activation"][l] = activations[l]
        if hidden and dropout:
            columns["drop"][l], col = col, col + d_out
    return Layout(**columns), Sizes(offset, stat, col)


def parameter_views(flat, layout):
    """CS231n-style names (W1, b1 or gamma1 and beta1, ..., W{L}, b{L}) to views into ``flat``."""
    views = {}
    for l in range(len(layout.d_in)):
        d_in, d_out = layout.d_in[l], layout.d_out[l]
        views[f"W{l + 1}"] = flat[layout.W[l]:layout.W[l] + d_in * d_out].reshape(d_in, d_out)
        for name in ("b", "gamma", "beta"):
            start = getattr(layout, name)[l]
            if start >= 0:
                views[f"{name}{l + 1}"] = flat[start:start + d_out]
    return views


def running_views(running, layout):
    """{'running_mean1': ..., 'running_var1': ..., ...}: each batch-norm layer's two vectors, views
    into ``running``."""
    views = {}
    for l in range(len(layout.d_in)):
        start, m = layout.stats[l], layout.d_out[l]
        if start >= 0:
            views[f"running_mean{l + 1}"] = running[start:start + m]
            views[f"running_var{l + 1}"] = running[start + m:start + 2 * m]
    return views


def weight_chunks(layout, size):
    """Each layer's weight matrix cut into chunks of at most ``size`` consecutive elements of params:
    where each chunk starts, how long it is, and each layer's first chunk (one more entry at the
    end). For kernels that take the weights of all layers in one parallel loop."""
    starts, lengths, first = [], [], [0]
    for start, count in zip(layout.W, layout.d_in * layout.d_out):
        cuts = np.arange(0, count, size)
        starts += list(start + cuts)
        lengths += list(np.minimum(size, count - cuts))
        first.append(len(starts))
    return np.array(starts, np.int64), np.array(lengths, np.int64), np.array(first, np.int64)


def hidden_outputs(acts, layout, n):
    """Copies of each hidden layer's output block for a batch of n rows."""
    return [acts[n * c:n * (c + m)].reshape(n, m).copy() for c, m in zip(layout.act[:-1], layout.d_out[:-1])]


# -- the compiled side's accessors -----------------------------------------------------------------
class Layer(NamedTuple):
    """One affine layer's row of the Layout, as plain integers. The compiled passes read a layer's
    blocks through it: a structure of arrays passed to a function costs a reference count per array
    and call (measured: 5% of a small network's step), a structure of integers nothing."""
    d_in: int
    d_out: int
    W: int
    b: int
    gamma: int
    beta: int
    stats: int
    act: int
    xhat: int
    drop: int
    activation: int


@intrinsic
def unowned(typingctx, array):
    """``array`` as a view that owns nothing, for a compiled pass that holds the owner for its whole
    call: numba counts a reference (an atomic add, and its release) each time a view of an owned array
    is made or passed on, and a small network's step makes hundreds; of a view of this, none."""
    def codegen(context, builder, signature, args):
        source = context.make_array(array)(context, builder, value=args[0])
        view = context.make_array(array)(context, builder)
        for field in ("data", "shape", "strides", "itemsize", "nitems"):
            setattr(view, field, getattr(source, field))
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()
    return array(array), codegen


def disowned(value):
    """``value`` with every array in it, in nested named tuples too, replaced by ``unowned(array)``: a
    compiled pass calls it once on each structure it takes (the network, its workspace, the
    optimizer's state) and then reads and views their arrays without counting references."""
    return value


@overload(disowned)
def _compiled_disowned(value):
    if isinstance(value, types.Array):
        return lambda value: unowned(value)
    if isinstance(value, types.BaseNamedTuple):
        fields = ", ".join(f"disowned(value.{name})" for name in value.fields)
        namespace = {"structure": value.instance_class, "disowned": disowned}
        exec(f"def rebuilt(value):\n    return structure({fields})", namespace)
        return namespace["rebuilt"]
    return lambda value: value


@njit(cache=True)
def layer(layout, l):
    return Layer(layout.d_in[l], layout.d_out[l], layout.W[l], layout.b[l], layout.gamma[l], layout.beta[l],
                 layout.stats[l], layout.act[l], layout.xhat[l], layout.drop[l], layout.activation[l])


@intrinsic
def _matrix(typingctx, flat, start, rows, columns):
    """flat[start:start + rows * columns] as a (rows, columns) C-contiguous view, unchecked: what
    slicing and reshaping make, without reshape's call into numba's C helper (a dozen a step)."""
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"):
        return None
    view_type = types.Array(flat.dtype, 2, "C")

    def codegen(context, builder, signature, args):
        source = context.make_array(flat)(context, builder, value=args[0])
        start, rows, columns = (context.cast(builder, value, kind, types.intp)
                                for value, kind in zip(args[1:], signature.args[1:]))
        view = context.make_array(view_type)(context, builder)
        context.populate_array(view, data=builder.gep(source.data, [start]),
                               shape=cgutils.pack_array(builder, [rows, columns]),
                               strides=cgutils.pack_array(builder, [builder.mul(columns, source.itemsize),
                                                                    source.itemsize]),
                               itemsize=source.itemsize, meminfo=source.meminfo, parent=None)
        return impl_ret_borrowed(context, builder, view_type, view._getvalue())
    return view_type(flat, start, rows, columns), codegen


@njit(cache=True)
def matrix(flat, start, rows, columns):
    """flat[start:start + rows * columns] as a (rows, columns) C-contiguous view."""
    if start < 0 or rows < 0 or columns < 0 or start + rows * columns > flat.shape[0]:
        raise ValueError("a block outside its flat buffer")
    return _matrix(flat, start, rows, columns)


@njit(cache=True)
def block(flat, n, col, width):
    """The (n, width) C-contiguous view of the block starting at column ``col`` of ``flat``; (0, width)
    where col is -1 (a block the layer does not have)."""
    if col < 0:
        return matrix(flat, 0, 0, width)
    return matrix(flat, n * col, n, width)


@njit(cache=True)
def vector(flat, start, width):
    """flat[start:start + width]; empty where start is -1 (a block the layer does not have)."""
    if start < 0:
        return flat[:0]
    return flat[start:start + width]


@njit(cache=True)
def weights(params, layer):
    return matrix(params, layer.W, layer.d_in, layer.d_out)


@njit(cache=True)
def statistics(flat, layer):
    """The two vectors of a batch-norm layer in ``flat`` (running mean and variance, or the batch's
    mean and inv_std); empty where the layer has no batch norm."""
    start, width = layer.stats, layer.d_out
    return vector(flat, start, width), vector(flat, start + width if start >= 0 else -1, width)


@njit(cache=True)
def output(acts, n, layer, training):
    """A hidden layer's output for a batch of n rows: after dropout in training mode, else after its
    activation."""
    return block(acts, n, layer.drop if training and layer.drop >= 0 else layer.act, layer.d_out)
