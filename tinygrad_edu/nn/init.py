"""Weight initialisation (PyTorch's formulas), seeded through a numpy Generator.

All functions fill a tensor in place and return it.  Without ``generator``
they draw from the default generator that ``tinygrad_edu.manual_seed`` sets.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_edu.tensor import Tensor, default_rng


def _fans(t: Tensor) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dimensions, got shape {t.shape}.")
    receptive = int(np.prod(t.shape[2:]))
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain: 1 (linear, sigmoid), 5/3 (tanh), √2 (relu), √(2/(1+a²)) (leaky_relu)."""
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}; use linear, sigmoid, tanh, relu or leaky_relu.")


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data[...] = values
    t.bump_version()
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    return _fill(t, (generator or default_rng()).uniform(a, b, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    return _fill(t, (generator or default_rng()).normal(mean, std, t.shape))


def zeros_(t: Tensor) -> Tensor:
    return _fill(t, 0.0)


def kaiming_uniform_(
    t: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """U(−bound, bound) with bound = gain · √(3 / fan)  (He et al., 2015)."""
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, generator)


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """U(−bound, bound) with bound = gain · √(6 / (fan_in + fan_out))  (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)
