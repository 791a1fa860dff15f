"""Every differentiable operation: a numpy forward and, beside it, one backward
rule per input.

A rule is ``rule(xp, g, out, *inputs, **options)``: the gradient ḡ of the
output, the output, the op's inputs and its options in; x̄ = (∂out/∂x)ᵀ·ḡ for
one input out.  ``xp`` is numpy_xp (ndarrays) or tensor_xp (Tensors, when the
backward is recorded), so a rule calls ``xp.log(x)``, never ``np.log(x)``.
The engine sums a gradient back over broadcast axes and casts it to its
input's dtype, so ``Add``'s rules are just ``g``.  An op with no rules
(comparisons, sign) has no gradient.  The fused layers and losses of nn
(Linear, MSE, cross-entropy) are written the same way in nn/functional.py.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_tuple

from tinygrad_edu import numpy_xp
from tinygrad_edu.engine import Op, SameRuleForEach, sum_to


def kept_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape a reduction over ``axis`` has with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    axes = normalize_axis_tuple(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# --------------------------------------------------------------- arithmetic
Add = Op("Add", np.add, lambda xp, g, out, x, y: g, lambda xp, g, out, x, y: g, elementwise=True)
Sub = Op("Sub", np.subtract, lambda xp, g, out, x, y: g, lambda xp, g, out, x, y: -g, elementwise=True)
Mul = Op("Mul", np.multiply, lambda xp, g, out, x, y: g * y, lambda xp, g, out, x, y: g * x, elementwise=True)
Div = Op("Div", np.divide, lambda xp, g, out, x, y: g / y, lambda xp, g, out, x, y: -g * out / y, elementwise=True)
Neg = Op("Neg", np.negative, lambda xp, g, out, x: -g, elementwise=True)


def _pow_dx(xp: Any, g: Any, out: Any, x: Any, y: Any) -> Any:
    """∂xʸ/∂x = y·xʸ⁻¹, and 0 where y = 0 (x⁰ = 1 for every x: no x⁻¹, which is infinite at 0)."""
    return g * y * x ** xp.where(y == 0, 1, y - 1)


def _pow_dy(xp: Any, g: Any, out: Any, x: Any, y: Any) -> Any:
    """∂xʸ/∂y = xʸ·log x; at x = 0 PyTorch's limits: 0 for y ≥ 0 (0ʸ is flat there), −∞ for y < 0."""
    zero = x == 0
    at_zero = xp.where(y >= 0, 0, -math.inf)
    return g * xp.where(zero, at_zero, xp.where(zero, 0, out) * xp.log(xp.where(zero, 1, x)))


Pow = Op("Pow", np.power, _pow_dx, _pow_dy, elementwise=True)
PowScalar = Op(  # xᶜ for a number c, the common case, drawn as "**c":  x̄ = ḡ·c·xᶜ⁻¹ (0 for c = 0)
    "PowScalar",
    lambda x, exponent: x**exponent,
    lambda xp, g, out, x, exponent: g * (exponent * x ** (exponent - 1) if exponent else 0),
    elementwise=True,
)


def _matrices(xp: Any, g: Any, a: Any, b: Any) -> tuple[Any, Any, Any]:
    """a @ b with vectors as matrices: a (k,) as (1, k), b (k,) as (k, 1), and g to match."""
    a2 = xp.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = xp.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    if a.ndim == 1 or b.ndim == 1:
        g = xp.reshape(g, np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1]))
    return g, a2, b2


def _matmul_da(xp: Any, g: Any, out: Any, a: Any, b: Any) -> Any:
    """ā = ḡ @ bᵀ, summed over the batch axes a was broadcast along."""
    g, a2, b2 = _matrices(xp, g, a, b)
    return xp.reshape(sum_to(xp, g @ xp.swapaxes(b2, -1, -2), a2.shape), a.shape)


def _matmul_db(xp: Any, g: Any, out: Any, a: Any, b: Any) -> Any:
    """b̄ = aᵀ @ ḡ, summed over the batch axes b was broadcast along."""
    g, a2, b2 = _matrices(xp, g, a, b)
    return xp.reshape(sum_to(xp, xp.swapaxes(a2, -1, -2) @ g, b2.shape), b.shape)


MatMul = Op(
    "MatMul",
    np.matmul,
    _matmul_da,
    _matmul_db,
    jvp=(lambda xp, da, out, a, b: da @ b, lambda xp, db, out, a, b: a @ db),
)

# -------------------------------------------------------------- elementwise
Exp = Op("Exp", np.exp, lambda xp, g, out, x: g * out, elementwise=True)
Log = Op("Log", np.log, lambda xp, g, out, x: g / x, elementwise=True)
Sqrt = Op("Sqrt", np.sqrt, lambda xp, g, out, x: g / (2 * out), elementwise=True)
StdOfVariance = Op(  # std = √var, but where std = 0 (a constant sample) x̄ = 0, not ∞·0 = nan: PyTorch's choice
    "Std",
    np.sqrt,
    lambda xp, g, out, x: xp.where(out > 0, g, 0) / (2 * xp.where(out > 0, out, 1)),
    elementwise=True,
)
Abs = Op("Abs", np.abs, lambda xp, g, out, x: g * xp.sign(x), elementwise=True)
Square = Op("Square", np.square, lambda xp, g, out, x: g * (2 * x), elementwise=True)
Sin = Op("Sin", np.sin, lambda xp, g, out, x: g * xp.cos(x), elementwise=True)
Cos = Op("Cos", np.cos, lambda xp, g, out, x: -g * xp.sin(x), elementwise=True)
Tan = Op("Tan", np.tan, lambda xp, g, out, x: g * (1 + out * out), elementwise=True)
Log1p = Op("Log1p", np.log1p, lambda xp, g, out, x: g / (1 + x), elementwise=True)
Expm1 = Op("Expm1", np.expm1, lambda xp, g, out, x: g * (out + 1), elementwise=True)
Log2 = Op("Log2", np.log2, lambda xp, g, out, x: g / (x * math.log(2)), elementwise=True)
Log10 = Op("Log10", np.log10, lambda xp, g, out, x: g / (x * math.log(10)), elementwise=True)
Exp2 = Op("Exp2", np.exp2, lambda xp, g, out, x: g * out * math.log(2), elementwise=True)
Logaddexp = Op(  # out = log(eˣ + eʸ):  x̄ = ḡ·eˣ⁻ᵒᵘᵗ,  ȳ = ḡ·eʸ⁻ᵒᵘᵗ
    "Logaddexp",
    np.logaddexp,
    lambda xp, g, out, x, y: g * xp.exp(x - out),
    lambda xp, g, out, x, y: g * xp.exp(y - out),
    elementwise=True,
)
Maximum = Op(  # ties share ḡ equally, as in PyTorch
    "Maximum",
    np.maximum,
    lambda xp, g, out, x, y: g * ((x > y) + (x == y) * 0.5),
    lambda xp, g, out, x, y: g * ((y > x) + (x == y) * 0.5),
    elementwise=True,
)
Minimum = Op(
    "Minimum",
    np.minimum,
    lambda xp, g, out, x, y: g * ((x < y) + (x == y) * 0.5),
    lambda xp, g, out, x, y: g * ((y < x) + (x == y) * 0.5),
    elementwise=True,
)
Remainder = Op(  # x mod y = x − ⌊x/y⌋·y:  x̄ = ḡ,  ȳ = −ḡ·⌊x/y⌋
    "Remainder",
    np.remainder,
    lambda xp, g, out, x, y: g,
    lambda xp, g, out, x, y: -g * xp.floor_divide(x, y),
    elementwise=True,
)
ReLU = Op("ReLU", lambda x: np.maximum(x, 0), lambda xp, g, out, x: g * (x > 0), elementwise=True)
Sigmoid = Op(
    "Sigmoid", lambda x: np.exp(-np.logaddexp(0, -x)), lambda xp, g, out, x: g * out * (1 - out), elementwise=True
)
Tanh = Op("Tanh", np.tanh, lambda xp, g, out, x: g * (1 - out * out), elementwise=True)
Clip = Op(  # the gradient passes where x was left unchanged
    "Clip",
    lambda x, low, high: np.clip(x, low, high),
    lambda xp, g, out, x, low, high: g * (out == x),
    elementwise=True,
)
Cast = Op(  # the engine casts ḡ (and a tangent) to the right dtype
    "Cast", lambda x, dtype: x.astype(dtype), lambda xp, g, out, x, dtype: g, elementwise=True
)

Where = Op(  # the condition gets no gradient; each branch gets ḡ where it was chosen
    "Where",
    np.where,
    None,
    lambda xp, g, out, c, x, y: xp.where(c, g, 0),
    lambda xp, g, out, c, x, y: xp.where(c, 0, g),
    elementwise=True,
)


def _flat(xp: Any, g: Any, out: Any, *inputs: Any, **options: Any) -> Any:
    """The rule of a piecewise constant function: a zero gradient (PyTorch's convention)."""
    return xp.zeros_like(g)


Sign, Floor, Ceil, Trunc = (
    Op("Sign", np.sign, _flat, elementwise=True),
    Op("Floor", np.floor, _flat, elementwise=True),
    Op("Ceil", np.ceil, _flat, elementwise=True),
    Op("Trunc", np.trunc, _flat, elementwise=True),
)
Round = Op("Round", lambda x, decimals: np.round(x, decimals), _flat, elementwise=True)
FloorDivide = Op("FloorDivide", np.floor_divide, _flat, _flat, elementwise=True)

# no gradient at all: the results are booleans or integers
Equal, NotEqual = Op("Equal", np.equal), Op("NotEqual", np.not_equal)
Less, LessEqual = Op("Less", np.less), Op("LessEqual", np.less_equal)
Greater, GreaterEqual = Op("Greater", np.greater), Op("GreaterEqual", np.greater_equal)
IsFinite, IsNan, IsInf = Op("IsFinite", np.isfinite), Op("IsNan", np.isnan), Op("IsInf", np.isinf)
ZerosLike = Op("ZerosLike", np.zeros_like)
ArgMax = Op("ArgMax", lambda x, axis, keepdims: np.argmax(x, axis=axis, keepdims=keepdims))
ArgMin = Op("ArgMin", lambda x, axis, keepdims: np.argmin(x, axis=axis, keepdims=keepdims))
AnyOf = Op("Any", lambda x, axis, keepdims: np.any(x, axis=axis, keepdims=keepdims))
AllOf = Op("All", lambda x, axis, keepdims: np.all(x, axis=axis, keepdims=keepdims))


# --------------------------------------------------------------- reductions
def _sum_dx(xp: Any, g: Any, out: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Every element summed receives the sum's gradient: ḡ spread back over x's shape."""
    return xp.broadcast_to(g if keepdims else xp.reshape(g, kept_shape(x.shape, axis)), x.shape)


def _extreme_dx(xp: Any, g: Any, out: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Only the extreme elements receive ḡ; k tied elements get ḡ/k each."""
    shape = kept_shape(x.shape, axis)
    hits = x == xp.reshape(out, shape)
    return xp.reshape(g, shape) * (hits / xp.sum(hits, axis=axis, keepdims=True))


def _prod_dx(xp: Any, g: Any, out: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """∂(Πⱼ xⱼ)/∂xᵢ = Πⱼ≠ᵢ xⱼ, zeros included, and written so that its own derivative is right too:
    with Q = the product of the non-zero entries and c zeros in the slice, it is Q/xᵢ (c = 0);
    Q at the zero and z·Q/xᵢ elsewhere, z = the zero entry (c = 1); the other zero times Q at
    each zero (c = 2); 0 (c ≥ 3)."""
    shape = kept_shape(x.shape, axis)
    g = g if keepdims else xp.reshape(g, shape)
    zero = x == 0
    c = xp.sum(zero, axis, True)
    safe = xp.where(zero, 1, x)
    q = xp.prod(safe, axis, True)
    zeros_sum = xp.sum(xp.where(zero, x, 0), axis, True)  # 0, but it carries the derivative of the zero entries
    one_zero = xp.where(zero, q, zeros_sum * q / safe)
    two_zeros = xp.where(zero, (zeros_sum - x) * q, 0)
    return g * xp.where(c == 0, q / safe, xp.where(c == 1, one_zero, xp.where(c == 2, two_zeros, 0)))


def _logsumexp(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    peak = x.max(axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)  # all −∞ (or +∞): nothing to shift by
    with np.errstate(divide="ignore"):  # log 0 = −∞ when every term is e^−∞
        out = np.log(np.exp(x - peak).sum(axis=axis, keepdims=True)) + peak
    return out if keepdims else out.reshape(np.sum(x, axis=axis).shape)


def _logsumexp_dx(xp: Any, g: Any, out: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """x̄ = ḡ·softmax(x) = ḡ·e^(x − out)."""
    shape = kept_shape(x.shape, axis)
    g, out = (g, out) if keepdims else (xp.reshape(g, shape), xp.reshape(out, shape))
    return g * xp.exp(x - out)


def _reduction_jvp(vjp: Any) -> Any:
    """The tangent rule of a reduction out = r(x) along axis: ṙ = Σᵢ (∂out/∂xᵢ)·ẋᵢ, where
    ∂out/∂xᵢ is the backward rule's answer for ḡ = 1."""

    def jvp(xp: Any, dx: Any, out: Any, x: Any, axis: Any, keepdims: bool) -> Any:
        return xp.sum(vjp(xp, xp.zeros_like(out) + 1, out, x, axis, keepdims) * dx, axis, keepdims)

    return jvp


Sum = Op("Sum", numpy_xp.sum, _sum_dx, jvp=(lambda xp, dx, out, x, axis, keepdims: xp.sum(dx, axis, keepdims),))
Prod = Op(
    "Prod", lambda x, axis, keepdims: x.prod(axis=axis, keepdims=keepdims), _prod_dx, jvp=(_reduction_jvp(_prod_dx),)
)
LogSumExp = Op("LogSumExp", _logsumexp, _logsumexp_dx, jvp=(_reduction_jvp(_logsumexp_dx),))
CumSum = Op(  # x̄ᵢ = Σ_{k ≥ i} ḡₖ: the cumulative sum taken from the other end
    "CumSum",
    numpy_xp.cumsum,
    lambda xp, g, out, x, axis: xp.flip(xp.cumsum(xp.flip(g, axis), axis), axis),
    jvp=(lambda xp, dx, out, x, axis: xp.cumsum(dx, axis),),
)
Max = Op(
    "Max",
    lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims),
    _extreme_dx,
    jvp=(_reduction_jvp(_extreme_dx),),
)
Min = Op(
    "Min",
    lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims),
    _extreme_dx,
    jvp=(_reduction_jvp(_extreme_dx),),
)


def _softmax_dx(xp: Any, g: Any, out: Any, x: Any, axis: int, known: Any = None) -> Any:
    """s = softmax(x):  x̄ = s·(ḡ − Σ ḡ·s).  The Jacobian diag(s) − s·sᵀ is symmetric: the same rule maps tangents."""
    return out * (g - xp.sum(g * out, axis, True))


Softmax = Op("Softmax", numpy_xp.softmax, _softmax_dx, jvp=(_softmax_dx,))


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


LogSoftmax = Op(  # out = x − log Σeˣ:  x̄ = ḡ − softmax·Σḡ,  ȯut = ẋ − Σ softmax·ẋ
    "LogSoftmax",
    _log_softmax,
    lambda xp, g, out, x, axis: g - xp.exp(out) * xp.sum(g, axis, True),
    jvp=(lambda xp, dx, out, x, axis: dx - xp.sum(xp.exp(out) * dx, axis, True),),
)

# -------------------------------------------------------------------- shape
# The linear ops: each tangent rule is the op itself, applied to the tangent.
Reshape = Op(
    "Reshape",
    numpy_xp.reshape,
    lambda xp, g, out, x, shape: xp.reshape(g, x.shape),
    jvp=(lambda xp, dx, out, x, shape: xp.reshape(dx, out.shape),),
)
Transpose = Op(  # axes: a permutation of 0 … ndim−1; the inverse permutation undoes it
    "Transpose",
    numpy_xp.transpose,
    lambda xp, g, out, x, axes: xp.transpose(g, tuple(np.argsort(axes))),
    jvp=(lambda xp, dx, out, x, axes: xp.transpose(dx, axes),),
)
Expand = Op(  # the engine sums ḡ back to x's shape, and broadcasts a tangent to the output's
    "Expand", np.broadcast_to, lambda xp, g, out, x, shape: g, jvp=(lambda xp, dx, out, x, shape: dx,)
)
Flip = Op("Flip", numpy_xp.flip, lambda xp, g, out, x, axis: xp.flip(g, axis), elementwise=True)  # self-adjoint
Pad = Op(  # pad_width: one (before, after) pair per axis; x̄ is ḡ without the padding
    "Pad",
    lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value) if x.ndim else x.copy(),  # 0-d: no axis
    lambda xp, g, out, x, pad_width, value: g[tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape))],
    jvp=(lambda xp, dx, out, x, pad_width, value: xp.pad(dx, pad_width),),
)
GetItem = Op(
    "GetItem",
    lambda x, index: x[index],
    lambda xp, g, out, x, index: xp.scatter_add(g, x.shape, index),
    jvp=(lambda xp, dx, out, x, index: dx[index],),
)
ScatterAdd = Op(
    "ScatterAdd",
    numpy_xp.scatter_add,
    lambda xp, g, out, x, shape, index: g[index],
    jvp=(lambda xp, dx, out, x, shape, index: xp.scatter_add(dx, shape, index),),
)


def _concatenate_dx(xp: Any, g: Any, out: Any, *xs: Any, axis: int, argnum: int) -> Any:
    """Input ``argnum`` receives its own slice of ḡ along ``axis``."""
    start = 0
    for x in xs[:argnum]:
        start += x.shape[axis]
    return g[(slice(None),) * axis + (slice(start, start + xs[argnum].shape[axis]),)]


def _concatenate_tangent(xp: Any, dx: Any, out: Any, *xs: Any, axis: int, argnum: int) -> Any:
    """Input ``argnum``'s tangent in its own slice of the output, zeros elsewhere."""
    before = builtins.sum(x.shape[axis] for x in xs[:argnum])
    after = out.shape[axis] - before - xs[argnum].shape[axis]
    return xp.pad(dx, tuple((before, after) if i == axis else (0, 0) for i in range(out.ndim)))


Concatenate = Op(
    "Concatenate",
    lambda *xs, axis: np.concatenate(xs, axis=axis),
    vjp_each=_concatenate_dx,
    jvp=SameRuleForEach(_concatenate_tangent),
)
