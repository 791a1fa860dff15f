"""Every differentiable operation: a numpy forward with its backward rule beside it.

``backward(g, *inputs, out)`` returns the vector-Jacobian product
x̄ᵢ = (∂out/∂xᵢ)ᵀ·g for each input.  The rules use only numpy operators and
functions, so the same line runs on ndarrays (plain backward) and on Tensors
(``create_graph=True``, which makes the backward itself differentiable).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from tinygrad_edu.tensor import Function, Tensor


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum g over the axes that broadcasting added or stretched to reach g.shape."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


def kept_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape a reduction over `axis` has with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    axes = normalize_axis_tuple(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def broadcast_to(g: Any, shape: tuple[int, ...]) -> Any:
    """np.broadcast_to, but a fresh array on the fast path (cheaper than numpy's view)."""
    if isinstance(g, Tensor):
        return g.expand(shape)
    out = np.empty(shape, g.dtype)
    out[...] = g
    return out


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    def forward(self, x, y):
        return x + y

    def backward(self, g, x, y, out):
        return unbroadcast(g, x.shape), unbroadcast(g, y.shape)


class Sub(Function):
    def forward(self, x, y):
        return x - y

    def backward(self, g, x, y, out):
        return unbroadcast(g, x.shape), unbroadcast(-g, y.shape) if self.needs[1] else None


class Mul(Function):
    def forward(self, x, y):
        return x * y

    def backward(self, g, x, y, out):
        gx = unbroadcast(g * y, x.shape) if self.needs[0] else None
        gy = unbroadcast(g * x, y.shape) if self.needs[1] else None
        return gx, gy


class Div(Function):
    """out = x / y;  x̄ = g / y,  ȳ = −g · x / y² = −g · out / y."""

    def forward(self, x, y):
        return x / y

    def backward(self, g, x, y, out):
        gx = g / y
        gy = unbroadcast(-gx * out, y.shape) if self.needs[1] else None
        return (unbroadcast(gx, x.shape) if self.needs[0] else None), gy


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g, x, out):
        return (-g,)


class PowScalar(Function):
    """out = xᶜ for a constant c;  x̄ = g · c · xᶜ⁻¹."""

    def forward(self, x, exponent):
        self.exponent = exponent
        return x**exponent

    def backward(self, g, x, out):
        c = self.exponent
        if c == 0:  # x⁰ = 1 everywhere, even where x^(−1) would be infinite
            return (g * 0,)
        return (g * c * x ** (c - 1),)


class Pow(Function):
    """out = xʸ;  x̄ = g · y · xʸ⁻¹,  ȳ = g · out · log x."""

    def forward(self, x, y):
        return x**y

    def backward(self, g, x, y, out):
        gx = unbroadcast(g * y * x ** (y - 1), x.shape) if self.needs[0] else None
        gy = unbroadcast(g * out * np.log(x), y.shape) if self.needs[1] else None
        return gx, gy


class MatMul(Function):
    """out = a @ b (1-D, 2-D or batched);  ā = g @ bᵀ,  b̄ = aᵀ @ g."""

    def forward(self, a, b):
        return a @ b

    def backward(self, g, a, b, out):
        # View 1-D operands as matrices so one pair of formulas covers all cases.
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        if a.ndim == 1 or b.ndim == 1:
            g = g.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
        ga = unbroadcast(g @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape) if self.needs[0] else None
        gb = unbroadcast(a2.swapaxes(-1, -2) @ g, b2.shape).reshape(b.shape) if self.needs[1] else None
        return ga, gb


class Linear(Function):
    """out = x @ wᵀ + b (PyTorch's layout), fused:  x̄ = g @ w,  w̄ = gᵀ @ x,  b̄ = Σ g."""

    def forward(self, x, w, b=None):
        try:
            out = x @ w.T
        except ValueError:  # explain the mismatch only when it happens: no check on the hot path
            raise ValueError(
                f"input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features "
                f"but the weight of shape {w.shape} expects {w.shape[1]}"
            ) from None
        if b is None:
            return out
        if b.dtype == out.dtype:  # add in place when numpy's promotion allows it
            out += b
            return out
        return out + b

    def backward(self, g, x, w, *bias_and_out):
        rows_g = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        rows_x = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        gx = g @ w if self.needs[0] else None
        gw = rows_g.T @ rows_x if self.needs[1] else None
        if len(bias_and_out) == 1:
            return gx, gw
        return gx, gw, rows_g.sum(axis=0) if self.needs[2] else None


# ----------------------------------------------------------- fused losses
class MSELoss(Function):
    """scale · Σ(x − t)²  (scale = 1/N for the mean);  x̄ = 2·scale·g·(x − t),  t̄ = −x̄."""

    def forward(self, x, t, scale):
        self.scale = scale
        d = (x - t).ravel()
        return np.dot(d, d) * scale

    def backward(self, g, x, t, out):
        gx = (x - t) * (g * (2 * self.scale))
        return gx, -gx if self.needs[1] else None


class CrossEntropy(Function):
    """scale · Σ −log softmax(z)[class] over rows, with the classes one-hot;
    z̄ = scale · g · (softmax(z) − one_hot)."""

    def forward(self, z, one_hot, scale):
        self.one_hot, self.scale = one_hot, scale
        shifted = z - z.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=-1, keepdims=True)
        self.probs = e / total
        return (np.log(total).sum() - np.vdot(shifted, one_hot)) * scale

    def backward(self, g, z, out):
        # The graph path needs softmax as a node of z, so that it can be differentiated again.
        probs = Softmax.apply(z, axis=-1, known=self.probs) if isinstance(z, Tensor) else self.probs
        return ((probs - self.one_hot) * (g * self.scale),)


# ------------------------------------------------------------------ unary
class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    def backward(self, g, x, out):
        return (g * out,)


class Log(Function):
    def forward(self, x):
        return np.log(x)

    def backward(self, g, x, out):
        return (g / x,)


class Sqrt(Function):
    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g, x, out):
        return (g / (2 * out),)


class Abs(Function):
    def forward(self, x):
        return np.abs(x)

    def backward(self, g, x, out):
        return (g * np.sign(x),)


class ReLU(Function):
    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g, x, out):
        return (g * (x > 0),)


class Sigmoid(Function):
    """σ(x) = 1 / (1 + e⁻ˣ);  x̄ = g · σ · (1 − σ)."""

    def forward(self, x):
        return np.exp(-np.logaddexp(0, -x))  # no overflow for large |x|

    def backward(self, g, x, out):
        return (g * out * (1 - out),)


class Tanh(Function):
    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, x, out):
        return (g * (1 - out * out),)


class Clip(Function):
    """Clamp; the gradient passes where the value was left unchanged."""

    def forward(self, x, low, high):
        return np.clip(x, low, high)

    def backward(self, g, x, out):
        return (g * (out == x),)


class Cast(Function):
    def forward(self, x, dtype):
        self.source = x.dtype
        return x.astype(dtype)

    def backward(self, g, x, out):
        return (g.astype(self.source),)


# ------------------------------------------------------------- reductions
class Sum(Function):
    def forward(self, x, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, g, x, out):
        if not self.keepdims:
            g = g.reshape(kept_shape(x.shape, self.axis))
        return (broadcast_to(g, x.shape),)


class Max(Function):
    """max or min (``reduce``); tied extremes share the gradient equally."""

    def forward(self, x, axis, keepdims, reduce):
        self.axis, self.keepdims = axis, keepdims
        return reduce(x, axis=axis, keepdims=keepdims)

    def backward(self, g, x, out):
        shape = kept_shape(x.shape, self.axis)
        hits = x == out.reshape(shape)
        share = hits / hits.sum(axis=self.axis, keepdims=True)
        return (g.reshape(shape) * share,)


class Softmax(Function):
    """s = eˣ / Σeˣ;  x̄ = s · (g − Σ g·s)."""

    def forward(self, x, axis, known=None):
        """``known``: softmax(x) when the caller has computed it already."""
        self.axis = axis
        if known is not None:
            return known
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def backward(self, g, x, out):
        return (out * (g - (g * out).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """out = x − log Σeˣ;  x̄ = g − softmax(x) · Σ g."""

    def forward(self, x, axis):
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(self, g, x, out):
        return (g - np.exp(out) * g.sum(axis=self.axis, keepdims=True),)


# ------------------------------------------------------------------ shape
class Reshape(Function):
    def forward(self, x, shape):
        return x.reshape(shape)

    def backward(self, g, x, out):
        return (g.reshape(x.shape),)


class Transpose(Function):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g, x, out):
        inverse = sorted(range(len(self.axes)), key=self.axes.__getitem__)
        return (g.transpose(inverse),)


class Expand(Function):
    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, g, x, out):
        return (unbroadcast(g, x.shape),)


def _is_advanced(index: Any) -> bool:
    """Does the index hold integer arrays (which may repeat positions)?"""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


def scatter_add(g: Any, shape: tuple[int, ...], index: Any) -> Any:
    """zeros(shape) with g added at `index` (repeated positions accumulate)."""
    if isinstance(g, Tensor):
        return ScatterAdd.apply(g, shape=shape, index=index)
    out = np.zeros(shape, g.dtype)
    if _is_advanced(index):
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


class GetItem(Function):
    def forward(self, x, index):
        self.index = index
        return x[index]

    def backward(self, g, x, out):
        return (scatter_add(g, x.shape, self.index),)


class ScatterAdd(Function):
    """The adjoint of indexing: its backward is indexing again."""

    def forward(self, g, shape, index):
        self.index = index
        return scatter_add(g, shape, index)

    def backward(self, g, x, out):
        return (g[self.index],)


class Concat(Function):
    def forward(self, *xs, axis):
        self.axis = normalize_axis_tuple(axis, xs[0].ndim)[0]
        return np.concatenate(xs, axis=axis)

    def backward(self, g, *inputs_and_out):
        inputs = inputs_and_out[:-1]
        lead = (slice(None),) * self.axis
        grads, start = [], 0
        for x in inputs:
            stop = start + x.shape[self.axis]
            grads.append(g[lead + (slice(start, stop),)])
            start = stop
        return tuple(grads)
