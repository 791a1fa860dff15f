"""Stateless forms of the layers and losses."""

from __future__ import annotations

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.tensor import ArrayLike, Tensor, _lift


def linear(x: ArrayLike, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x · Wᵀ + b, with W of shape (out_features, in_features), fused into one op."""
    x = _lift(x, weight)
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(
            f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features "
            f"but the weight of shape {weight.shape} expects {weight.shape[1]}."
        )
    return ops.Linear.apply(x, weight) if bias is None else ops.Linear.apply(x, weight, bias)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")


def mse_loss(input: Tensor, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((input − target)²)."""
    target = _lift(target, input)
    if target.shape != input.shape:
        raise ValueError(
            f"mse_loss: input shape {input.shape} and target shape {target.shape} differ; "
            "reshape the target (e.g. y.reshape(-1, 1)) so they match."
        )
    diff = input - target
    return _reduce(diff * diff, reduction)


def one_hot(target: np.ndarray, num_classes: int, dtype: np.dtype) -> np.ndarray:
    encoded = np.zeros((target.size, num_classes), dtype)
    encoded[np.arange(target.size), target.ravel()] = 1
    return encoded.reshape(target.shape + (num_classes,))


def cross_entropy(logits: Tensor, target: ArrayLike, reduction: str = "mean") -> Tensor:
    """−log softmax(logits)[target], averaged: logits (N, C), target (N,) class indices."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    num_classes = logits.shape[-1] if logits.ndim else 0
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype {target.dtype}.")
    if logits.ndim < 1 or target.shape != logits.shape[:-1]:
        raise ValueError(
            f"cross_entropy: logits of shape {logits.shape} need targets of shape {logits.shape[:-1]}, "
            f"got {target.shape}."
        )
    if target.size and (target.min() < 0 or target.max() >= num_classes):
        raise ValueError(
            f"cross_entropy: class indices must lie in [0, {num_classes}), "
            f"got values from {target.min()} to {target.max()}."
        )
    picked = logits.log_softmax(axis=-1) * one_hot(target, num_classes, logits.dtype)
    return _reduce(-picked.sum(axis=-1), reduction)
