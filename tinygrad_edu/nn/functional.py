"""Stateless forms of the layers and losses."""

from __future__ import annotations

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.tensor import ArrayLike, Tensor, _lift


def linear(x: ArrayLike, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x · Wᵀ + b, with W of shape (out_features, in_features), fused into one op."""
    x = _lift(x, weight)
    return ops.Linear.apply(x, weight) if bias is None else ops.Linear.apply(x, weight, bias)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def mse_loss(input: Tensor, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((input − target)²) (one fused op for mean and sum)."""
    target = _lift(target, input)
    if target.shape != input.shape:
        raise ValueError(
            f"mse_loss: input shape {input.shape} and target shape {target.shape} differ; "
            "reshape the target (e.g. y.reshape(-1, 1)) so they match."
        )
    if reduction == "none":
        diff = input - target
        return diff * diff
    return ops.MSELoss.apply(input, target, scale=_scale(reduction, input.size))


def _scale(reduction: str, count: int) -> float:
    if reduction == "mean":
        return 1.0 / max(count, 1)
    if reduction == "sum":
        return 1.0
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")


def one_hot(target: np.ndarray, num_classes: int, dtype: np.dtype = np.float64) -> np.ndarray:
    """(…,) class indices → (…, num_classes) rows of zeros with a one at the class."""
    if target.dtype.kind not in "iu":
        raise TypeError(f"targets must be integer class indices, got dtype {target.dtype}.")
    if target.size and target.dtype.kind == "i" and target.min() < 0:
        raise ValueError(f"class indices must lie in [0, {num_classes}), got {target.min()}.")
    encoded = np.zeros((target.size, num_classes), dtype)
    try:
        encoded[np.arange(target.size), target.ravel()] = 1
    except IndexError:
        raise ValueError(f"class indices must lie in [0, {num_classes}), got {target.max()}.") from None
    return encoded.reshape(target.shape + (num_classes,))


def cross_entropy(logits: Tensor, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """−log softmax(logits)[target], averaged: logits (N, C), target (N,) class indices.

    One fused, numerically stable op (log-sum-exp with the row maximum subtracted).
    """
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if logits.ndim < 1 or target.shape != logits.shape[:-1]:
        raise ValueError(
            f"cross_entropy: logits of shape {logits.shape} need targets of shape {logits.shape[:-1]}, "
            f"got {target.shape}."
        )
    try:
        encoded = one_hot(target, logits.shape[-1], logits.dtype)
    except (TypeError, ValueError) as error:
        raise type(error)(f"cross_entropy: {error}") from None
    if reduction == "none":
        return -(logits.log_softmax(axis=-1) * encoded).sum(axis=-1)
    return ops.CrossEntropy.apply(logits, one_hot=encoded, scale=_scale(reduction, target.size))
