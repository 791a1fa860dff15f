"""``xp`` on the plain path: every function a backward rule may call, on ndarrays.

A rule (ops.py) computes with operators and with the functions named here;
when ``backward()`` records no graph, the engine hands it this module, so
the backward pass is plain numpy.  tensor_xp.py has the same names on
Tensors, for the path that records the backward (``create_graph=True``).

The ufuncs, ``where`` and ``zeros_like`` are numpy's own.  The rest have
numpy's names and signatures but call the ndarray method directly (``np.sum``
costs ~1 µs of dispatch more than ``ndarray.sum``), and four are not in
numpy: ``astype`` as a function, ``scatter_add`` (the adjoint of indexing),
``softmax``, and ``apply``, which runs another op (Linear's tangent is Linear
of the tangents).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy import cos, exp, floor_divide, log, sign, sin, where, zeros_like  # noqa: F401  (numpy's own)

if TYPE_CHECKING:
    from tinygrad_edu.engine import Op


def sum(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:  # noqa: A001
    return x.sum(axis=axis, keepdims=keepdims)


def prod(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return x.prod(axis=axis, keepdims=keepdims)


def cumsum(x: np.ndarray, axis: int) -> np.ndarray:
    return x.cumsum(axis=axis)


def flip(x: np.ndarray, axis: Any = None) -> np.ndarray:
    return np.flip(x, axis)


def pad(x: np.ndarray, pad_width: Any) -> np.ndarray:
    """np.pad with zeros; ``pad_width`` holds one (before, after) pair per axis."""
    return np.pad(x, pad_width) if x.ndim else x.copy()


def reshape(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return x.reshape(shape)


def transpose(x: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
    return x.transpose(axes)


def swapaxes(x: np.ndarray, axis1: int, axis2: int) -> np.ndarray:
    return x.swapaxes(axis1, axis2)


def astype(x: np.ndarray, dtype: Any) -> np.ndarray:
    return x.astype(dtype)


def broadcast_to(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """np.broadcast_to as a new writable array (filling one is cheaper than numpy's read-only view)."""
    out = np.empty(shape, x.dtype)
    out[...] = x
    return out


def scatter_add(g: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
    """zeros(shape) with g added at ``index``; repeated positions accumulate.
    It is the adjoint of indexing: if y = x[index], then x̄ = scatter_add(ȳ, x.shape, index)."""
    out = np.zeros(shape, g.dtype)
    if is_fancy(index):
        np.add.at(out, index, g)  # slow, but right when integer arrays repeat a position
    else:
        out[index] = g
    return out


def is_fancy(index: Any) -> bool:
    """Does the index hold integer arrays (which may name a position twice)?"""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


def softmax(x: np.ndarray, axis: int = -1, known: np.ndarray | None = None) -> np.ndarray:
    """eˣ / Σeˣ along ``axis`` (the maximum subtracted first, so nothing overflows).
    ``known``: the result, when the caller computed it already."""
    if known is not None:
        return known
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def apply(op: Op, *arrays: Any, **options: Any) -> np.ndarray:
    """The op's forward on arrays (on Tensors, tensor_xp.apply records it as a node)."""
    out = op.forward(*arrays, **options)
    return out[0] if op.saves else out
