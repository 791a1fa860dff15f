"""Optimizers: one update rule, many choices of its three parts.

The lecture's summary of every method is one line,

    θᵢᵗ⁺¹ ← θᵢᵗ − (ηᵗ / σᵢᵗ) · mᵢᵗ

with mᵗ the direction (the gradient, or a momentum of gradients), σᵗ a
per-parameter scale (1, or a root mean square of gradients) and ηᵗ the
learning rate (possibly scheduled, possibly bias-corrected).  ``Optimizer``
applies that line; each subclass only says how it computes (ηᵗ, σᵗ, mᵗ) in
``direction_and_scale``.  One thing happens outside the line, in the base
too: decoupled weight decay (AdamW) shrinks θ ← θ·(1 − ηλ) before the step.
The signatures, defaults and floating-point formulas are PyTorch's, so
results agree with torch.optim.
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_edu.engine import Tracing
from tinygrad_edu.tensor import Tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


Step = tuple[float, "np.ndarray | None", np.ndarray]
"""One parameter's (ηᵗ, σᵗ, mᵗ) for θ ← θ − (ηᵗ/σᵗ)·mᵗ: the learning rate (scheduled, maybe
bias-corrected), the per-parameter scale (None where the method has none: σ = 1), the direction.
A plain tuple: a NamedTuple would cost ~2 µs per step of a small network."""


def is_finite_number(v: Any) -> bool:
    """A real number (a bool is not one here) that is neither nan nor infinite."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _check_hyperparameters(values: dict[str, Any]) -> None:
    for name in ("lr", "eps", "weight_decay", "momentum", "dampening", "lr_decay", "initial_accumulator_value"):
        if name in values:
            v = values[name]
            if not is_finite_number(v) or v < 0:
                raise ValueError(f"Invalid {name}: {v!r}; it must be a finite number >= 0.")
            values[name] = float(v) if isinstance(v, np.floating) else v  # np.float32(0.1) is a number too
    if "alpha" in values and not 0.0 <= values["alpha"] <= 1.0:
        raise ValueError(f"Invalid alpha: {values['alpha']!r}; it must lie in [0, 1].")
    if "betas" in values:
        betas = values["betas"]
        if len(betas) != 2 or not all(isinstance(b, numbers.Real) and 0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Invalid betas: {betas!r}; both must lie in [0, 1).")


class Optimizer:
    """Base class: parameter groups, per-parameter state, and the update.

    ``params`` is an iterable of Tensors, or of dicts ``{"params": [...],
    "lr": ...}`` (parameter groups with their own hyperparameters).
    """

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        _check_hyperparameters(defaults)
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list; pass model.parameters().")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        seen: set[int] = set()
        for group in groups:
            group = {**defaults, **group, "params": list(group["params"])}
            _check_hyperparameters(group)
            for p in group["params"]:
                if not isinstance(p, Tensor):
                    raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}.")
                if not p.is_leaf or not p.requires_grad:
                    raise ValueError("optimizer can only optimize leaf tensors with requires_grad=True.")
                if id(p) in seen:
                    raise ValueError(
                        f"a parameter of shape {p.shape} appears twice in the optimizer; pass each parameter once."
                    )
                seen.add(id(p))
            self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        if Tracing.tape is not None:  # jit records this call, to replay as it is
            return Tracing.tape.call(functools.partial(self.zero_grad, set_to_none))
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = Tensor._make(np.zeros_like(p.data), None)

    def direction_and_scale(
        self, theta: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> Step:
        """(ηᵗ, σᵗ, mᵗ) for one parameter with gradient g, updating its ``state``."""
        raise NotImplementedError

    def step(self) -> None:
        """θ ← θ − ηᵗ · (mᵗ / σᵗ) for every parameter that has a gradient."""
        if Tracing.tape is not None:  # jit records this call, to replay it: ηᵗ and the step count are read each time
            return Tracing.tape.call(self.step)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if state is None:  # made once: a dict a step per parameter would be work for nothing
                    state = self.state[p] = {}
                self.update(p.data, p.grad.data, state, group)
                p.bump_version()

    def update(self, theta: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """θ ← θ − ηᵗ · (mᵗ / σᵗ) in place, for one parameter (or, as optim.flat does, for
        many at once: every rule here is elementwise).  AdamW first shrinks θ ← θ·(1 − ηλ)."""
        if group.get("decoupled_weight_decay") and group["weight_decay"]:
            theta *= 1 - group["lr"] * group["weight_decay"]
        eta, sigma, m = self.direction_and_scale(theta, g, state, group)
        theta -= eta * (m if sigma is None else m / sigma)

    # -- checkpoints ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{'optimizer': name, 'state': {index: {...}}, 'param_groups': [...]}; parameters by index."""
        index = {}
        groups = []
        for group in self.param_groups:
            entry = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items() if k != "params"}
            entry["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                entry["params"].append(index[id(p)])
            groups.append(entry)
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items()}
        return {"optimizer": type(self).__name__, "state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state so training continues exactly."""
        name = state_dict.get("optimizer")
        if name != type(self).__name__:
            raise ValueError(f"this state_dict is from a {name} optimizer, not {type(self).__name__}.")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(saved["params"]) != len(own["params"]) for saved, own in zip(groups, self.param_groups)
        ):
            raise ValueError("the state_dict has a different number of parameter groups or parameters.")
        params = [p for group in self.param_groups for p in group["params"]]
        new_state = {}
        for i, s in state_dict["state"].items():
            if not (isinstance(i, int) and 0 <= i < len(params)):
                raise ValueError(f"the state_dict has state for parameter {i!r}; there are {len(params)} parameters.")
            p = params[i]
            for key, value in s.items():
                _check_state(key, value, i, p.shape)
            new_state[p] = {k: (v.astype(p.dtype) if isinstance(v, np.ndarray) else v) for k, v in s.items()}
        new_groups = []
        for saved, own in zip(groups, self.param_groups):
            group = dict(own)
            for key, value in saved.items():
                if key != "params":
                    group[key] = tuple(value) if isinstance(own.get(key), tuple) else value
            _check_hyperparameters(group)
            new_groups.append(group)
        for own, group in zip(self.param_groups, new_groups):  # nothing changes unless all of it is valid
            own.update(group)
        self.state = new_state

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({settings})"


def _check_state(key: str, value: Any, index: int, shape: tuple[int, ...]) -> None:
    """A saved state entry is a float array of its parameter's shape or a finite number (a step count)."""
    if isinstance(value, np.ndarray):
        if value.shape != shape or value.dtype.kind != "f":
            raise ValueError(
                f"state '{key}' of parameter {index} is a {value.dtype} array of shape {value.shape}, "
                f"but the parameter is a float array of shape {shape}."
            )
    elif not is_finite_number(value):
        raise ValueError(f"state '{key}' of parameter {index} is {value!r}, not an array or a finite number.")


def _buffer(state: dict[str, Any], key: str, like: np.ndarray) -> np.ndarray:
    """state[key], created as zeros shaped like ``like`` on first use (then updated in place)."""
    buffer = state.get(key)
    if buffer is None:
        buffer = state[key] = np.zeros_like(like)
    return buffer


def _average(state: dict[str, Any], key: str, decay: float, value: np.ndarray) -> np.ndarray:
    """state[key] ← decay·state[key] + (1 − decay)·value: an exponential moving average from 0."""
    average = _buffer(state, key, value)
    average *= decay
    average += (1 - decay) * value
    return average


def _accumulate(state: dict[str, Any], key: str, value: np.ndarray) -> np.ndarray:
    """state[key] ← state[key] + value (a running sum from 0)."""
    total = _buffer(state, key, value)
    total += value
    return total


def _with_weight_decay(theta: np.ndarray, g: np.ndarray, weight_decay: float) -> np.ndarray:
    """L2 regularisation folded into the gradient: g + λ·θ."""
    return g + weight_decay * theta if weight_decay else g


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (PyTorch's form).

    g ← g + λθ;   b ← μ·b + (1 − τ)·g  (b = g at the first step)
    m = g + μ·b (nesterov) or b;   θ ← θ − η·m          (σ = 1)
    """

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 nesterov: bool = False, weight_decay: float = 0) -> None:  # fmt: skip
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires momentum > 0 and dampening = 0.")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def direction_and_scale(self, theta, g, state, group):
        g = _with_weight_decay(theta, g, group["weight_decay"])
        mu = group["momentum"]
        if mu:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = np.array(g)  # an array even for a 0-d g (numpy gives scalars)
            else:
                buffer *= mu
                buffer += (1 - group["dampening"]) * g
            g = g + mu * buffer if group["nesterov"] else buffer
        return group["lr"], None, g


class Momentum(Optimizer):
    """The lecture's momentum: the direction is a weighted sum of all past gradients,

        mᵗ = λ·mᵗ⁻¹ + gᵗ  (m⁰ = 0),   θ ← θ − ηᵗ·mᵗ          (σ = 1)

    The lecture's slide writes the same method with η inside m,
    m̃ᵗ = λ·m̃ᵗ⁻¹ − η·gᵗ⁻¹ and θᵗ = θᵗ⁻¹ + m̃ᵗ: with a constant η, m̃ = −η·m
    and the steps are the same.  A scheduled ηᵗ scales the whole sum, as in
    the lecture's summary θ ← θ − (ηᵗ/σᵗ)·mᵗ (and as PyTorch's SGD momentum,
    which this equals).
    """

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0.9) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def direction_and_scale(self, theta, g, state, group):
        m = _buffer(state, "m", g)
        m *= group["momentum"]
        m += g
        return group["lr"], None, m


class Adagrad(Optimizer):
    """Adagrad (PyTorch's form):

    ηᵗ = η / (1 + (t − 1)·lr_decay);   s ← s + g²;   σ = √s + ε;   θ ← θ − ηᵗ·g/σ
    """

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10) -> None:  # fmt: skip
        defaults = dict(
            lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, eps=eps,
        )  # fmt: skip
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0, "sum": np.full_like(p.data, group["initial_accumulator_value"])}

    def direction_and_scale(self, theta, g, state, group):
        state["step"] += 1
        g = _with_weight_decay(theta, g, group["weight_decay"])
        eta = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        total = _accumulate(state, "sum", g * g)
        return eta, np.sqrt(total) + group["eps"], g


class RMS(Optimizer):
    """The lecture's Adagrad: σᵢᵗ is the root mean square of the current and
    all past gradients,  σᵗ = √( (1/(t+1)) Σₖ₌₀ᵗ (gᵏ)² ),   θ ← θ − η·g/(σ + ε)."""

    def __init__(self, params: Params, lr: float = 1e-2, eps: float = 1e-10) -> None:
        super().__init__(params, dict(lr=lr, eps=eps))

    def direction_and_scale(self, theta, g, state, group):
        state["step"] = state.get("step", 0) + 1
        sigma = np.sqrt(_accumulate(state, "sum_sq", g * g) / state["step"])
        return group["lr"], sigma + group["eps"], g


class RMSprop(Optimizer):
    """RMSProp (PyTorch's form): σᵗ = √(α(σᵗ⁻¹)² + (1 − α)(gᵗ)²) + ε.

    v ← α·v + (1 − α)·g², from v = 0;   centered: ḡ ← α·ḡ + (1 − α)·g,  σ = √(v − ḡ²) + ε
    θ ← θ − η·g/σ;   with momentum μ > 0, PyTorch scales before it averages:
    m ← μ·m + g/σ and θ ← θ − η·m (σ is inside m, so the summary's σ is 1)

    ``lecture=True`` is the lecture's RMSProp: it starts from σ⁰ = |g⁰| (v = (g⁰)²)
    instead of from 0, whose first steps are 1/√(1 − α) times too long
    (3.2× at α = 0.9, 10× at α = 0.99).
    """

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 lecture: bool = False) -> None:  # fmt: skip
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        super().__init__(params, {**defaults, "lecture": lecture} if lecture else defaults)

    def direction_and_scale(self, theta, g, state, group):
        alpha = group["alpha"]
        g = _with_weight_decay(theta, g, group["weight_decay"])
        state["step"] = state.get("step", 0) + 1
        if group.get("lecture") and "square_avg" not in state:
            v = state["square_avg"] = np.array(g * g)  # the lecture's σ⁰ = |g⁰|: the average starts at (g⁰)²
        else:
            v = _average(state, "square_avg", alpha, g * g)
        if group["centered"]:
            mean = _average(state, "grad_avg", alpha, g)
            v = v - mean * mean
        sigma = np.sqrt(v) + group["eps"]
        if group["momentum"] > 0:
            buffer = _buffer(state, "momentum_buffer", g)
            buffer *= group["momentum"]
            buffer += g / sigma
            return group["lr"], None, buffer
        return group["lr"], sigma, g


class Adam(Optimizer):
    """Adam = RMSProp + momentum, with bias correction (PyTorch's form):

    m ← β₁m + (1 − β₁)g;   v ← β₂v + (1 − β₂)g²     (v ← max(v_max, v) with amsgrad)
    ηᵗ = η / (1 − β₁ᵗ);    σᵗ = √v / √(1 − β₂ᵗ) + ε;   θ ← θ − ηᵗ · m/σᵗ
    """

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 decoupled_weight_decay: bool = False) -> None:  # fmt: skip
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, {**defaults, "decoupled_weight_decay": decoupled_weight_decay})

    def direction_and_scale(self, theta, g, state, group):
        beta1, beta2 = group["betas"]
        if not group.get("decoupled_weight_decay"):
            g = _with_weight_decay(theta, g, group["weight_decay"])
        t = state["step"] = state.get("step", 0) + 1
        m = _average(state, "exp_avg", beta1, g)
        v = _average(state, "exp_avg_sq", beta2, g * g)
        if group["amsgrad"]:
            v = np.maximum(_buffer(state, "max_exp_avg_sq", v), v, out=state["max_exp_avg_sq"])
        sigma = np.sqrt(v) / math.sqrt(1 - beta2**t) + group["eps"]
        return group["lr"] / (1 - beta1**t), sigma, m


class RAdam(Optimizer):
    """Rectified Adam (Liu et al. 2020; PyTorch's form): Adam whose adaptive σ is used
    only once it is a reliable statistic — the lecture's reason for warmup, built in.

    m, v as Adam;  ρ∞ = 2/(1 − β₂) − 1,  ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)  (how many samples σ rests on)
    ρₜ > 5:  θ ← θ − η·rₜ/(1 − β₁ᵗ) · m/σ,  σ = (√v + ε)/√(1 − β₂ᵗ),  rₜ = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ))
    else:    θ ← θ − η/(1 − β₁ᵗ) · m  (momentum SGD while σ is unreliable)
    """

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False) -> None:  # fmt: skip
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, {**defaults, "decoupled_weight_decay": decoupled_weight_decay})

    def direction_and_scale(self, theta, g, state, group):
        beta1, beta2 = group["betas"]
        if not group["decoupled_weight_decay"]:
            g = _with_weight_decay(theta, g, group["weight_decay"])
        t = state["step"] = state.get("step", 0) + 1
        m = _average(state, "exp_avg", beta1, g)
        v = _average(state, "exp_avg_sq", beta2, g * g)
        rho_inf = 2 / (1 - beta2) - 1
        rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho <= 5:
            return group["lr"] / (1 - beta1**t), None, m
        rect = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        sigma = (np.sqrt(v) + group["eps"]) / math.sqrt(1 - beta2**t)
        return group["lr"] * rect / (1 - beta1**t), sigma, m


class AdamW(Adam):
    """Adam with decoupled weight decay:  θ ← θ·(1 − η·λ) (in Optimizer.step), then Adam's step.
    The same as Adam(..., decoupled_weight_decay=True), with weight_decay=1e-2 by default."""

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True)
