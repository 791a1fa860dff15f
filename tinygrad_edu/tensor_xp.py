"""numpy's functions on Tensors, each one a recorded op (like jax.numpy or autograd.numpy).

This is ``xp`` on the recorded path: a backward rule run with
``create_graph=True`` calls these, so its own computation becomes a graph
that can be differentiated again.  numpy_xp.py has the same names on
ndarrays.  The same functions serve numpy's protocols: ``np.exp(t)`` or
``np.sum(t)`` on a Tensor lands here (Tensor.__array_ufunc__ and
__array_function__ look a numpy function up by name in ``__all__``), and
Tensor's methods of the same name are these functions.

Arguments that are not Tensors (numbers, ndarrays) are constants.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from tinygrad_edu import ops
from tinygrad_edu.engine import Op, apply

if TYPE_CHECKING:
    from tinygrad_edu.tensor import Tensor

__all__ = [
    "absolute", "add", "astype", "broadcast_to", "concatenate", "divide", "equal", "exp", "expand_dims",
    "greater", "greater_equal", "isfinite", "isnan", "less", "less_equal", "log", "matmul", "max", "mean",
    "min", "multiply", "negative", "not_equal", "positive", "power", "reshape", "scatter_add", "sign",
    "softmax", "sqrt", "squeeze", "stack", "subtract", "sum", "swapaxes", "tanh", "transpose", "where",
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
sqrt, absolute, tanh = recorded(ops.Sqrt), recorded(ops.Abs), recorded(ops.Tanh)


def power(x: Any, y: Any) -> Tensor:
    """xʸ; a number y is the common case x**c, recorded as PowScalar (drawn as "**c")."""
    if isinstance(y, (int, float)):
        return apply(ops.PowScalar, x, exponent=y)
    return apply(ops.Pow, x, y)


def positive(x: Any) -> Any:
    return x


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition holds, else y; each branch's gradient flows only where it was chosen."""
    return apply(ops.Where, np.asarray(condition, dtype=bool), x, y)


def astype(x: Any, dtype: Any) -> Tensor:
    return apply(ops.Cast, x, dtype=np.dtype(dtype))


# no gradient: comparisons and other piecewise constant functions
sign, isfinite, isnan = recorded(ops.Sign), recorded(ops.IsFinite), recorded(ops.IsNan)
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
        if any(x.shape[i] != 1 for i in gone):
            raise ValueError(f"cannot squeeze axis {axis} of a tensor of shape {x.shape}: its length is not 1.")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in gone))


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
