"""Stateless forms of the layers and losses.

A layer and each loss is one fused op (written like those of ops.py): one
node in the graph instead of five, and a backward rule per input that reads
like the textbook's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_edu import numpy_xp, tensor_xp
from tinygrad_edu.engine import InputError, Op, apply
from tinygrad_edu.tensor import ArrayLike, Tensor


# ------------------------------------------------------------ the fused ops
def _linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
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


def _rows(xp: Any, a: Any) -> Any:
    """(..., n) as a matrix of rows (N, n)."""
    return a if a.ndim == 2 else xp.reshape(a, (-1, a.shape[-1]))


Linear = Op(  # out = x @ wᵀ + b (PyTorch's layout):  x̄ = ḡ @ w,  w̄ = ḡᵀ @ x,  b̄ = Σ over rows of ḡ
    "Linear",
    _linear,
    lambda xp, g, out, x, w, b=None: g @ w,
    lambda xp, g, out, x, w, b=None: xp.transpose(_rows(xp, g)) @ _rows(xp, x),
    lambda xp, g, out, x, w, b=None: xp.sum(_rows(xp, g), axis=0),
    jvp=(  # ȯut = ẋ @ wᵀ + x @ ẇᵀ + ḃ: Linear is bilinear, so its tangent is Linear of the tangents
        lambda xp, dx, out, x, w, b=None: xp.apply(Linear, dx, w),
        lambda xp, dw, out, x, w, b=None: xp.apply(Linear, x, dw),
        lambda xp, db, out, x, w, b=None: db,  # the engine broadcasts it over the rows
    ),
)


def _mse(x: np.ndarray, t: np.ndarray, scale: float) -> np.ndarray:
    d = (x - t).ravel()
    return np.dot(d, d) * scale


def _mse_dx(xp: Any, g: Any, out: Any, x: Any, t: Any, scale: float) -> Any:
    return (x - t) * (g * (2 * scale))


MSE = Op(  # scale · Σ(x − t)²  (scale = 1/N for the mean):  x̄ = 2·scale·ḡ·(x − t),  t̄ = −x̄
    "MSELoss",
    _mse,
    _mse_dx,
    lambda xp, g, out, x, t, scale: -_mse_dx(xp, g, out, x, t, scale),
    jvp=(  # ȯut = 2·scale·Σ (x − t)·(ẋ − ṫ)
        lambda xp, dx, out, x, t, scale: xp.sum(_mse_dx(xp, 1.0, out, x, t, scale) * dx),
        lambda xp, dt, out, x, t, scale: -xp.sum(_mse_dx(xp, 1.0, out, x, t, scale) * dt),
    ),
)


def _cross_entropy(z: np.ndarray, one_hot: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)
    picked = np.vdot(shifted, one_hot)
    if math.isnan(picked):  # a logit of −∞ (a masked class) times its 0 in one_hot: sum the targets' entries alone
        picked = np.vdot(np.where(one_hot != 0, shifted, 0), one_hot)
    return (np.log(total).sum() - picked) * scale, e / total  # the loss, and softmax(z) saved


CrossEntropy = Op(  # scale · Σ over rows of −log softmax(z)[class]:  z̄ = scale·ḡ·(softmax(z) − one_hot)
    "CrossEntropy",
    _cross_entropy,
    lambda xp, g, out, z, one_hot, scale, saved: (xp.softmax(z, -1, known=saved) - one_hot) * (g * scale),
    saves=True,
    jvp=(
        lambda xp, dz, out, z, one_hot, scale, saved: xp.apply(CrossEntropySlope, z, dz, one_hot, scale, known=saved),
    ),
)


def _cross_entropy_slope(z: np.ndarray, dz: np.ndarray, y: np.ndarray, scale: float, known: Any = None) -> Any:
    """scale·Σ (p − y)·ż with p = softmax(z) (``known``: p, when the caller has it); p is saved."""
    p = numpy_xp.softmax(z, -1, known)
    return ((p - y) * dz).sum() * scale, p


def _jacobian_times(xp: Any, z: Any, dz: Any, saved: Any) -> Any:
    """(diag(p) − p·pᵀ)·ż row by row: softmax's Jacobian times ż, and (times scale) the
    cross-entropy's Hessian in z times ż."""
    p = xp.softmax(z, -1, known=saved)
    return p * (dz - xp.sum(p * dz, -1, True))


# The cross-entropy's tangent as one op, where it would record five nodes (Softmax, Sub, Mul, Sum, Mul):
#   s = scale·Σ (p − y)·ż, with p = softmax(z) and H·ż = (diag(p) − p·pᵀ)·ż row by row (_jacobian_times),
#   z̄ = scale·ḡ·H·ż,  ż̄ = scale·ḡ·(p − y);  its tangents along t: scale·Σ (H·ż)·t for z, scale·Σ (p − y)·t for ż.
CrossEntropySlope = Op(
    "CrossEntropySlope",
    _cross_entropy_slope,
    lambda xp, g, out, z, dz, y, scale, known=None, saved=None: _jacobian_times(xp, z, dz, saved) * (g * scale),
    lambda xp, g, out, z, dz, y, scale, known=None, saved=None: (xp.softmax(z, -1, known=saved) - y) * (g * scale),
    saves=True,
    jvp=(
        lambda xp, t, out, z, dz, y, scale, known=None, saved=None: (
            xp.sum(_jacobian_times(xp, z, dz, saved) * t) * scale
        ),
        lambda xp, t, out, z, dz, y, scale, known=None, saved=None: (
            xp.sum((xp.softmax(z, -1, known=saved) - y) * t) * scale
        ),
    ),
)


# ------------------------------------------------------------------ layers
def linear(x: ArrayLike, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x · Wᵀ + b, with W of shape (out_features, in_features), fused into one op."""
    return apply(Linear, x, weight) if bias is None else apply(Linear, x, weight, bias)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope·x otherwise."""
    return tensor_xp.where(x > 0, x, x * negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, α·(eˣ − 1) otherwise."""
    return tensor_xp.where(x > 0, x, tensor_xp.expm1(x) * alpha)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(βx)) / β, and x itself where βx > threshold (PyTorch's form)."""
    return tensor_xp.where(x * beta > threshold, x, tensor_xp.logaddexp(0.0, x * beta) / beta)


def silu(x: Tensor) -> Tensor:
    """x · σ(x) (also called swish)."""
    return x * x.sigmoid()


def gelu(x: Tensor, approximate: str = "tanh") -> Tensor:
    """½x·(1 + tanh(√(2/π)·(x + 0.044715x³))): the tanh form (PyTorch's approximate="tanh";
    the exact erf form would need an erf op, which numpy does not have)."""
    if approximate != "tanh":
        raise NotImplementedError(f"gelu has the tanh form only (approximate='tanh'), got approximate={approximate!r}.")
    return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)).tanh())


def mse_loss(input: Tensor, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((input − target)²) (one fused op for mean and sum)."""
    target_shape = np.shape(target.data if isinstance(target, Tensor) else target)
    if target_shape != input.shape:
        raise ValueError(
            f"mse_loss: input shape {input.shape} and target shape {target_shape} differ; "
            "reshape the target (e.g. y.reshape(-1, 1)) so they match."
        )
    if reduction == "none":
        diff = input - target
        return diff * diff
    return apply(MSE, input, target, scale=_scale(reduction, input.size))


def _scale(reduction: str, count: int) -> float:
    if reduction == "mean":
        return 1.0 / max(count, 1)
    if reduction == "sum":
        return 1.0
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")


def one_hot(tensor: ArrayLike, num_classes: int = -1) -> Tensor:
    """(…,) class indices → (…, num_classes) int64 rows of zeros with a one at the class (PyTorch's
    one_hot; num_classes=-1 means the largest index + 1)."""
    indices = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if num_classes == -1:
        num_classes = int(indices.max()) + 1 if indices.size else 0
    return Tensor(_one_hot(indices, num_classes, np.int64))


def _check_classes(target: np.ndarray, num_classes: int) -> None:
    if target.dtype.kind not in "iu":
        raise TypeError(f"targets must be integer class indices, got dtype {target.dtype}.")
    if target.size:
        lowest, highest = target.min(), target.max()
        if lowest < 0 or highest >= num_classes:
            raise InputError(f"class indices must lie in [0, {num_classes}), got {lowest if lowest < 0 else highest}.")


def _one_hot(target: np.ndarray, num_classes: int, dtype: np.dtype = np.float64) -> np.ndarray:
    """(…,) class indices (checked: an op's forward, so a jitted step checks every batch)
    → (…, num_classes) rows of zeros with a one at the class."""
    _check_classes(target, num_classes)
    encoded = np.zeros((target.size, num_classes), dtype)
    encoded[np.arange(target.size), target.ravel()] = 1
    return encoded.reshape(target.shape + (num_classes,))


OneHot = Op("OneHot", _one_hot)  # no gradient; an op, so that a jitted step encodes each batch's own targets


def _pick(x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """x[…, target[…]]: each row's entry at its class (target checked, as by _one_hot)."""
    _check_classes(target, x.shape[-1])
    return np.take_along_axis(x, target[..., None], axis=-1)[..., 0]


Pick = Op(  # out = x[…, target]:  x̄ = ḡ on each row's target entry, 0 elsewhere (ḡ times the one-hot rows)
    "Pick",
    _pick,
    lambda xp, g, out, x, target: (
        xp.reshape(g, g.shape + (1,)) * xp.apply(OneHot, target, num_classes=x.shape[-1], dtype=x.dtype)
    ),
    jvp=(lambda xp, dx, out, x, target: xp.apply(Pick, dx, target),),
)


def _class_targets(loss: str, scores: Tensor, target: ArrayLike) -> np.ndarray:
    """The targets as an array, one class index per row of scores (…, C); their values are
    checked by the op that reads them (an op's forward, so a jitted step checks every batch)."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if scores.ndim < 1 or target.shape != scores.shape[:-1]:
        raise ValueError(
            f"{loss}: input of shape {scores.shape} needs targets of shape {scores.shape[:-1]}, got {target.shape}."
        )
    return target


def _apply_to_targets(loss: str, op: Op, *inputs: Any, **options: Any) -> Tensor:
    """apply(op, …) with the targets' errors named after the loss."""
    try:
        return apply(op, *inputs, **options)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{loss}: {error}") from None


def cross_entropy(logits: Tensor, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """−log softmax(logits)[target], averaged: logits (N, C), target (N,) class indices.

    One fused, numerically stable op (log-sum-exp with the row maximum subtracted).
    """
    target = _class_targets("cross_entropy", logits, target)
    if reduction == "none":
        return -_apply_to_targets("cross_entropy", Pick, logits.log_softmax(axis=-1), target)
    encoded = _apply_to_targets("cross_entropy", OneHot, target, num_classes=logits.shape[-1], dtype=logits.dtype)
    return apply(CrossEntropy, logits, encoded, scale=_scale(reduction, target.size))


def nll_loss(input: Tensor, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """−input[class] per row (input holds log-probabilities, e.g. log_softmax), averaged or summed."""
    picked = -_apply_to_targets("nll_loss", Pick, input, _class_targets("nll_loss", input, target))
    if reduction == "none":
        return picked
    return picked.sum() * _scale(reduction, picked.size)
