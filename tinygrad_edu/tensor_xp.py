"""numpy's functions on Tensors, each one a recorded op (like jax.numpy or autograd.numpy).

This is ``xp`` on the recorded path: a backward rule run with
``create_graph=True`` calls these, so its own computation becomes a graph
that can be differentiated again.  numpy_xp.py has the same names on
ndarrays.  The same functions serve numpy's protocols: ``np.exp(t)`` or
``np.sum(t)`` on a Tensor lands here (Tensor.__array_ufunc__ and
__array_function__ look a numpy function up by name in ``__all__``), and
Tensor's methods of the same name are these functions.

Arguments that are not Tensors (numbers, ndarrays) are constants.
``apply(op, *inputs)`` (the engine's own) lets a rule use another op.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from tinygrad_edu import ops
from tinygrad_edu.engine import Op, apply, constant

if TYPE_CHECKING:
    from tinygrad_edu.tensor import Tensor

__all__ = [
    "absolute", "add", "all", "any", "apply", "argmax", "argmin", "astype", "broadcast_to", "ceil", "clip",
    "concatenate", "cos", "cumsum", "divide", "dot", "equal", "exp", "exp2", "expand_dims", "expm1", "flip",
    "floor", "floor_divide", "greater", "greater_equal", "isfinite", "isinf", "isnan", "less", "less_equal", "log",
    "log10", "log1p", "log2", "logaddexp", "matmul", "max", "maximum", "mean", "min", "minimum", "multiply", "ndim",
    "negative", "not_equal", "outer", "pad", "positive", "power", "prod", "ravel", "remainder", "repeat", "reshape",
    "roll", "round", "scatter_add", "shape", "sign", "sin", "size", "softmax", "split", "sqrt", "square", "squeeze",
    "stack", "std", "subtract", "sum", "swapaxes", "take_along_axis", "tan", "tanh", "tensordot", "tile",
    "transpose", "tril", "triu", "trunc", "var", "where", "zeros_like",
]  # fmt: skip
Axis = int | tuple[int, ...] | None


def recorded(op: Op) -> Callable[..., Tensor]:
    """numpy's function of the same name, on Tensors: ``f(*inputs) = apply(op, *inputs)``."""

    def function(*inputs: Any) -> Tensor:
        return apply(op, *inputs)

    function.__qualname__ = function.__name__ = op.name
    function.__doc__ = f"The recorded op {op.name}."
    return function


# elementwise, with numpy broadcasting
add, subtract, multiply, divide = recorded(ops.Add), recorded(ops.Sub), recorded(ops.Mul), recorded(ops.Div)
matmul, negative, exp, log = recorded(ops.MatMul), recorded(ops.Neg), recorded(ops.Exp), recorded(ops.Log)
sqrt, absolute, tanh, square = recorded(ops.Sqrt), recorded(ops.Abs), recorded(ops.Tanh), recorded(ops.Square)
sin, cos, tan = recorded(ops.Sin), recorded(ops.Cos), recorded(ops.Tan)
log1p, expm1, log2, log10, exp2 = (recorded(op) for op in (ops.Log1p, ops.Expm1, ops.Log2, ops.Log10, ops.Exp2))
maximum, minimum, logaddexp = recorded(ops.Maximum), recorded(ops.Minimum), recorded(ops.Logaddexp)
remainder = recorded(ops.Remainder)


def power(x: Any, y: Any) -> Tensor:
    """xʸ; a number y is the common case x**c, recorded as PowScalar (drawn as "**c")."""
    y = constant(y)  # a numpy scalar acts as a Python number: float32 ** np.float64(2) stays float32
    if isinstance(y, (int, float)):
        return apply(ops.PowScalar, x, exponent=y)
    return apply(ops.Pow, x, y)


def positive(x: Any) -> Any:
    return x


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition holds, else y; each branch's gradient flows only where it was chosen."""
    return apply(ops.Where, np.asarray(condition, dtype=bool), x, y)


def clip(x: Any, a_min: float | None = None, a_max: float | None = None) -> Tensor:
    """x clamped to [a_min, a_max]; the gradient passes where x was left unchanged."""
    return apply(ops.Clip, x, low=constant(a_min), high=constant(a_max))  # numpy scalars act as Python numbers


def astype(x: Any, dtype: Any) -> Tensor:
    return apply(ops.Cast, x, dtype=np.dtype(dtype))


# piecewise constant: a zero gradient
sign, floor, ceil, trunc = recorded(ops.Sign), recorded(ops.Floor), recorded(ops.Ceil), recorded(ops.Trunc)
floor_divide = recorded(ops.FloorDivide)


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001
    return apply(ops.Round, x, decimals=decimals)


# no gradient: comparisons, tests, and constants
isfinite, isnan, isinf = recorded(ops.IsFinite), recorded(ops.IsNan), recorded(ops.IsInf)
zeros_like = recorded(ops.ZerosLike)
equal, not_equal = recorded(ops.Equal), recorded(ops.NotEqual)
less, less_equal = recorded(ops.Less), recorded(ops.LessEqual)
greater, greater_equal = recorded(ops.Greater), recorded(ops.GreaterEqual)


# reductions
def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    return apply(ops.Sum, x, axis=axis, keepdims=keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    return sum(x, axis, keepdims) / count(x.shape, axis)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Largest values (tied elements share the gradient equally)."""
    return apply(ops.Max, x, axis=axis, keepdims=keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    return apply(ops.Min, x, axis=axis, keepdims=keepdims)


def var(x: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Σ(x − mean)² / (N − ddof), numpy's definition (nan or inf when N − ddof ≤ 0, as numpy)."""
    centered = x - mean(x, axis, keepdims=True)
    return sum(centered * centered, axis, keepdims) / builtins.max(count(np.shape(x), axis) - ddof, 0)


def std(x: Any, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """√var; its gradient is 0 where the sample is constant (PyTorch's convention; √'s would be ∞·0 = nan)."""
    return apply(ops.StdOfVariance, var(x, axis, ddof, keepdims))


def prod(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The product; its gradient Πⱼ≠ᵢ xⱼ is exact with zeros (to second order)."""
    return apply(ops.Prod, x, axis=axis, keepdims=keepdims)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log Σ eˣ, computed without overflow (the maximum is taken out first)."""
    return apply(ops.LogSumExp, x, axis=axis, keepdims=keepdims)


def cumsum(x: Any, axis: int | None = None) -> Tensor:
    """Running sums along axis (of the flattened tensor when axis is None)."""
    if axis is None:
        x, axis = reshape(x, -1), 0
    return apply(ops.CumSum, x, axis=normalize_axis_index(axis, np.ndim(x)))


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return apply(ops.ArgMax, x, axis=axis, keepdims=keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return apply(ops.ArgMin, x, axis=axis, keepdims=keepdims)


def any(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(ops.AnyOf, x, axis=axis, keepdims=keepdims)


def all(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return apply(ops.AllOf, x, axis=axis, keepdims=keepdims)


def softmax(x: Any, axis: int = -1, known: np.ndarray | None = None) -> Any:
    """eˣ / Σeˣ along axis; ``known``: its value, when the caller computed it already."""
    return apply(ops.Softmax, x, axis=axis, known=known)


def count(shape: tuple[int, ...], axis: Axis) -> int:
    """How many elements a reduction over ``axis`` combines into each result."""
    if axis is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in normalize_axis_tuple(axis, len(shape)))


# shape
def reshape(x: Any, shape: int | tuple[int, ...]) -> Tensor:
    return apply(ops.Reshape, x, shape=shape)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """Permute the axes (reversed when axes is None); negative axes count from the end."""
    ndim = x.ndim
    axes = tuple(reversed(range(ndim))) if axes is None else normalize_axis_tuple(tuple(axes), ndim)
    if len(axes) != ndim:
        raise ValueError(f"axes {axes} are not a permutation of the {ndim} axes of a tensor of shape {x.shape}.")
    return apply(ops.Transpose, x, axes=axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    axes = list(range(x.ndim))
    axis1, axis2 = normalize_axis_index(axis1, len(axes)), normalize_axis_index(axis2, len(axes))
    axes[axis1], axes[axis2] = axis2, axis1
    return transpose(x, axes)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Tensor:
    return apply(ops.Expand, x, shape=tuple(shape))


def expand_dims(x: Any, axis: int | tuple[int, ...]) -> Any:
    """Insert axes of length 1 at the positions ``axis`` of the result."""
    new = normalize_axis_tuple(axis, x.ndim + (1 if isinstance(axis, int) else len(axis)))
    rest = iter(x.shape)
    return reshape(x, tuple(1 if i in new else next(rest) for i in range(x.ndim + len(new))))


def squeeze(x: Any, axis: Axis = None) -> Any:
    """Remove axes of length 1 (all of them, or those named)."""
    if axis is None:
        gone = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        gone = normalize_axis_tuple(axis, x.ndim)
        if builtins.any(x.shape[i] != 1 for i in gone):
            raise ValueError(f"cannot squeeze axis {axis} of a tensor of shape {x.shape}: its length is not 1.")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in gone))


def ravel(x: Any) -> Tensor:
    return reshape(x, -1)


def flip(x: Any, axis: Axis = None) -> Tensor:
    """Reverse the order of the elements along axis (every axis when None)."""
    return apply(ops.Flip, x, axis=axis)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0) -> Tensor:
    """np.pad with a constant: pad_width is n, (before, after), or one such pair per axis."""
    if mode != "constant":
        raise NotImplementedError(f"pad supports mode='constant' only, got {mode!r}.")
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (np.ndim(x), 2))
    if (widths < 0).any():
        raise ValueError(f"pad widths must be >= 0, got {pad_width!r}.")
    return apply(ops.Pad, x, pad_width=tuple(map(tuple, widths.tolist())), value=constant_values)


def _take(x: Any, index: np.ndarray, axis: int) -> Tensor:
    """x indexed along one axis by an integer array (the gradient scatters back, repeats accumulating)."""
    return apply(ops.GetItem, x, index=(slice(None),) * axis + (index,))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """numpy's repeat: each element ``repeats`` times along axis (of the flattened tensor when None)."""
    if axis is None:
        x, axis = reshape(x, -1), 0
    axis = normalize_axis_index(axis, np.ndim(x))
    return _take(x, np.repeat(np.arange(np.shape(x)[axis]), repeats), axis)


def tile(x: Any, reps: int | Sequence[int]) -> Tensor:
    """The whole tensor repeated ``reps`` times along each axis (numpy's tile, PyTorch's Tensor.repeat)."""
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    ndim = builtins.max(np.ndim(x), len(reps))
    x = reshape(x, (1,) * (ndim - np.ndim(x)) + np.shape(x))
    reps = (1,) * (ndim - len(reps)) + reps
    return apply(ops.GetItem, x, index=np.ix_(*(np.tile(np.arange(n), r) for n, r in zip(np.shape(x), reps))))


def roll(x: Any, shift: int | Sequence[int], axis: Axis = None) -> Tensor:
    """Shift the elements along axis, wrapping around (of the flattened tensor when axis is None)."""
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), np.shape(x))
    shifts, axes = np.broadcast_arrays(np.atleast_1d(shift), np.atleast_1d(axis))
    for s, a in zip(shifts.tolist(), normalize_axis_tuple(axes.tolist(), np.ndim(x), allow_duplicate=True)):
        n = np.shape(x)[a]
        x = _take(x, (np.arange(n) - s) % n if n else np.arange(0), a)
    return x


def tril(x: Any, k: int = 0) -> Tensor:
    """The lower triangle of the last two axes (the rest set to 0)."""
    return multiply(x, np.tri(*np.shape(x)[-2:], k=k, dtype=bool))


def triu(x: Any, k: int = 0) -> Tensor:
    """The upper triangle of the last two axes (the rest set to 0)."""
    return multiply(x, ~np.tri(*np.shape(x)[-2:], k=k - 1, dtype=bool))


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Tensor]:
    """numpy's split: n equal sections, or the pieces between the given indices."""
    axis = normalize_axis_index(axis, np.ndim(x))
    pieces = np.split(np.arange(np.shape(x)[axis]), indices_or_sections)
    return [
        apply(
            ops.GetItem, x, index=(slice(None),) * axis + (slice(int(p[0]), int(p[-1]) + 1) if p.size else slice(0, 0),)
        )
        for p in pieces
    ]


def take_along_axis(x: Any, indices: Any, axis: int) -> Tensor:
    """out[..., i, ...] = x[..., indices[..., i, ...], ...] along axis (PyTorch's gather)."""
    indices = np.asarray(indices)
    axis = normalize_axis_index(axis, np.ndim(x))
    if indices.ndim != np.ndim(x) or indices.dtype.kind not in "iu":
        raise ValueError(
            f"indices must be integers with as many dimensions as x ({np.ndim(x)}), "
            f"got {indices.dtype} of shape {indices.shape}."
        )
    index = tuple(
        indices if i == axis else np.arange(n).reshape([-1 if j == i else 1 for j in range(indices.ndim)])
        for i, n in enumerate(np.shape(x))
    )
    return apply(ops.GetItem, x, index=index)


def outer(a: Any, b: Any) -> Tensor:
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2) -> Tensor:
    """Sum the products over the given axes: the last ``axes`` of a with the first of b, or the named pairs."""
    if isinstance(axes, int):
        axes_a, axes_b = list(range(np.ndim(a) - axes, np.ndim(a))), list(range(axes))
    else:
        axes_a, axes_b = ([axis] if isinstance(axis, int) else list(axis) for axis in axes)
    axes_a, axes_b = normalize_axis_tuple(axes_a, np.ndim(a)), normalize_axis_tuple(axes_b, np.ndim(b))
    if len(axes_a) != len(axes_b) or builtins.any(np.shape(a)[i] != np.shape(b)[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError(
            f"tensordot: shapes {np.shape(a)} and {np.shape(b)} do not match along axes {axes_a} and {axes_b}."
        )
    free_a = [i for i in range(np.ndim(a)) if i not in axes_a]
    free_b = [j for j in range(np.ndim(b)) if j not in axes_b]
    k = math.prod(np.shape(a)[i] for i in axes_a)
    left = reshape(transpose(a, free_a + list(axes_a)), (-1, k))
    right = reshape(transpose(b, list(axes_b) + free_b), (k, -1))
    return reshape(matmul(left, right), tuple(np.shape(a)[i] for i in free_a) + tuple(np.shape(b)[j] for j in free_b))


def dot(a: Any, b: Any) -> Tensor:
    """numpy's dot: a product with a 0-d operand, an inner or matrix product, and over the last axis
    of a and the second-to-last of b beyond two dimensions."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return multiply(a, b)
    if np.ndim(a) <= 2 and np.ndim(b) <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([-1], [-2 if np.ndim(b) > 1 else 0]))


def shape(x: Any) -> tuple[int, ...]:
    return x.shape


def ndim(x: Any) -> int:
    return x.ndim


def size(x: Any) -> int:
    return x.size


def scatter_add(g: Any, shape: tuple[int, ...], index: Any) -> Any:
    """zeros(shape) with g added at index (repeats accumulate): the adjoint of indexing."""
    return apply(ops.ScatterAdd, g, shape=shape, index=index)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Any:
    """Join along an existing axis; the gradient flows to every input."""
    if len(tensors) == 0:
        raise ValueError("concatenate needs at least one tensor.")
    return apply(ops.Concatenate, *tensors, axis=normalize_axis_index(axis, tensors[0].ndim))


def stack(tensors: Sequence[Any], axis: int = 0) -> Any:
    """Join along a new axis; the gradient flows to every input."""
    if len(tensors) == 0:
        raise ValueError("stack needs at least one tensor.")
    return concatenate([expand_dims(t, axis) for t in tensors], axis=axis)
