"""Learning-rate schedules ηᵗ: decay, warmup, and PyTorch's schedulers.

Each schedule is first a pure function ``step -> lr`` (optax style), made by a
factory such as ``cosine_annealing(base_lr, T_max)``; plot it without any
optimizer.  The scheduler classes wrap those functions with PyTorch's
interface: construction sets the lr for step 0, ``step()`` advances,
``get_last_lr()`` reads, ``state_dict()`` / ``load_state_dict()`` resume.
"""

from __future__ import annotations

import bisect
import functools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from tinygrad_edu.engine import Tracing
from tinygrad_edu.optim.optimizers import Optimizer, is_finite_number

Schedule = Callable[[int], float]


# ------------------------------------------------------------ pure schedules
def _require(value: Any, name: str, minimum: int) -> None:
    """A whole number of steps, at least ``minimum`` (bools are no numbers of steps)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}.")


def constant(base_lr: float) -> Schedule:
    return lambda t: base_lr


def step_decay(base_lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """ηᵗ = η · γ^⌊t / step_size⌋"""
    _require(step_size, "step_size", minimum=1)
    return lambda t: base_lr * gamma ** (t // step_size)


def multi_step_decay(base_lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """ηᵗ = η · γ^(number of milestones ≤ t)"""
    marks = sorted(milestones)
    return lambda t: base_lr * gamma ** bisect.bisect_right(marks, t)


def exponential_decay(base_lr: float, gamma: float) -> Schedule:
    """ηᵗ = η · γᵗ"""
    if not (isinstance(gamma, numbers.Real) and math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"the exponential decay needs a finite gamma > 0, got {gamma!r}.")
    return lambda t: base_lr * gamma**t


def cosine_annealing(base_lr: float, T_max: int, eta_min: float = 0.0) -> Schedule:
    """ηᵗ = η_min + (η − η_min) · (1 + cos(π t / T_max)) / 2"""
    _require(T_max, "T_max", minimum=1)
    return lambda t: eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


def linear_ramp(base_lr: float, start_factor: float = 1 / 3, end_factor: float = 1.0, total_iters: int = 5) -> Schedule:
    """ηᵗ = η · (s + (e − s) · min(t, T) / T): a straight line from s·η to e·η."""
    if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
        raise ValueError("a linear ramp needs 0 < start_factor <= 1 and 0 <= end_factor <= 1.")
    _require(total_iters, "total_iters", minimum=1)
    return lambda t: base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)


def linear_warmup(base_lr: float, warmup_steps: int, after: Schedule | None = None) -> Schedule:
    """ηᵗ = η · (t + 1) / w for t < w (rising to η), then after(t − w) (default: η).

    Warmup, because σ is a statistic that is inaccurate in the first steps.
    """
    after = after or constant(base_lr)
    return lambda t: base_lr * (t + 1) / warmup_steps if t < warmup_steps else after(t - warmup_steps)


def inverse_sqrt(base_lr: float, d_model: int, warmup_steps: int) -> Schedule:
    """The Transformer schedule ηᵗ = η · d^−½ · min(s^−½, s · w^−³ᐟ²) with s = t + 1
    (η = 1 gives the paper's values): linear warmup, then decay as 1/√s."""
    _require(d_model, "d_model", minimum=1)
    _require(warmup_steps, "warmup_steps", minimum=1)
    return lambda t: base_lr * d_model**-0.5 * min((t + 1) ** -0.5, (t + 1) * warmup_steps**-1.5)


def sequential(schedules: Sequence[Schedule], milestones: Sequence[int]) -> Schedule:
    """schedules[i] from milestones[i−1] on, each restarting its own count at 0."""
    if len(milestones) != len(schedules) - 1:
        raise ValueError(f"{len(schedules)} schedules need {len(schedules) - 1} milestones, got {len(milestones)}.")

    def at(t: int) -> float:
        i = bisect.bisect_right(milestones, t)
        return schedules[i](t - (milestones[i - 1] if i else 0))

    return at


def _anneal(start: float, end: float, fraction: float, strategy: str) -> float:
    if strategy == "cos":
        return end + (start - end) / 2 * (1 + math.cos(math.pi * fraction))
    return start + (end - start) * fraction


def one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[tuple[float, str, str]]:
    """(last step of the phase, value at its start, value at its end) as in PyTorch."""
    if three_phase:
        return [
            (pct_start * total_steps - 1, "initial", "max"),
            (2 * pct_start * total_steps - 2, "max", "initial"),
            (total_steps - 1, "initial", "min"),
        ]
    return [(pct_start * total_steps - 1, "initial", "max"), (total_steps - 1, "max", "min")]


def one_cycle(
    values: dict[str, float], total_steps: int, pct_start: float = 0.3, anneal_strategy: str = "cos",
    three_phase: bool = False,
) -> Schedule:  # fmt: skip
    """PyTorch's 1cycle: anneal between named values (initial → max → min) in phases."""
    phases = one_cycle_phases(total_steps, pct_start, three_phase)

    def at(t: int) -> float:
        if t > total_steps:
            raise ValueError(f"one-cycle schedule asked for step {t}, but it has {total_steps} steps in total.")
        start_step = 0.0
        for end_step, start, end in phases:
            if t <= end_step or end_step == phases[-1][0]:
                fraction = (t - start_step) / (end_step - start_step)
                return _anneal(values[start], values[end], fraction, anneal_strategy)
            start_step = end_step
        raise AssertionError("unreachable")

    return at


# ------------------------------------------------------------ scheduler classes


class LRScheduler:
    """Sets every parameter group's lr to its schedule at the current step.

    Chaining (PyTorch's chainable schedulers: StepLR, MultiStepLR, ExponentialLR, LinearLR,
    CosineAnnealingLR): when the lr η is not this scheduler's own last value sᵗ⁻¹ (another
    scheduler, or the user, changed it), this one applies its own change to it instead of
    overwriting it, ηᵗ = f + (η − f)·(sᵗ − f)/(sᵗ⁻¹ − f) with f its floor (0, or
    CosineAnnealingLR's eta_min): ExponentialLR and StepLR stepped together multiply their
    factors.  The others (LambdaLR, OneCycleLR, SequentialLR, WarmupLR, InverseSqrtLR) set
    their own value, as in PyTorch.
    """

    chain_floor: float | None = None  # f above; None: not chainable

    def __init__(
        self, optimizer: Optimizer, last_epoch: int = -1, curve: Callable[[float], Schedule] | None = None
    ) -> None:
        if curve is not None:
            self.curve = curve
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}.")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.schedules = [self.make_schedule(base, i) for i, base in enumerate(self.base_lrs)]
        self._scheduled = self._last_lr = list(self.base_lrs)  # its schedule's last lr, and the lr it set
        self.step()

    curve: Callable[[float], Schedule]  # base lr -> schedule, for the schedulers that set it

    def make_schedule(self, base_lr: float, group_index: int) -> Schedule:
        """The schedule of one parameter group (by default ``self.curve`` of its base lr)."""
        return self.curve(base_lr)

    def lr_at(self, t: int) -> list[float]:
        """The lr of each group at step t (pure: changes nothing)."""
        return [schedule(t) for schedule in self.schedules]

    def step(self) -> None:
        if Tracing.tape is not None:  # jit records this call, to replay as it is
            return Tracing.tape.call(self.step)
        self.last_epoch += 1
        scheduled, set_now, floor = self.lr_at(self.last_epoch), [], self.chain_floor
        groups = self.optimizer.param_groups
        for group, lr, before in zip(groups, scheduled, self._scheduled):
            if floor is not None and group["lr"] != before and before != floor:  # chained: see the class
                lr = floor + (group["lr"] - floor) * (lr - floor) / (before - floor)
            if not math.isfinite(lr):
                raise ValueError(f"{type(self).__name__} gave the learning rate {lr} at step {self.last_epoch}.")
            group["lr"] = lr
            set_now.append(lr)
        self._scheduled, self._last_lr = scheduled, set_now

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {
            "scheduler": type(self).__name__,
            "last_epoch": self.last_epoch,
            "base_lrs": list(self.base_lrs),
            "last_lr": list(self._last_lr),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("scheduler") != type(self).__name__:
            raise ValueError(f"this state_dict is from a {state.get('scheduler')}, not a {type(self).__name__}.")
        base_lrs, last_lr = self._checked_lrs("base_lrs", state["base_lrs"]), state.get("last_lr")
        if last_lr is not None:  # None: saved before schedulers chained
            last_lr = self._checked_lrs("last_lr", last_lr)
        last_epoch = state["last_epoch"]
        if not isinstance(last_epoch, int) or isinstance(last_epoch, bool) or last_epoch < 0:
            raise ValueError(f"last_epoch {last_epoch!r} is not a step count (an integer of at least 0).")
        self.base_lrs = base_lrs
        self.schedules = [self.make_schedule(base, i) for i, base in enumerate(self.base_lrs)]
        self.last_epoch = last_epoch
        self._scheduled = self.lr_at(last_epoch)
        self._last_lr = self._scheduled if last_lr is None else last_lr
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def _checked_lrs(self, key: str, lrs: Any) -> list[float]:
        """A saved list of learning rates, checked: one finite number per group."""
        groups = len(self.optimizer.param_groups)
        if not (isinstance(lrs, list) and len(lrs) == groups and all(is_finite_number(lr) for lr in lrs)):
            raise ValueError(f"{key} {lrs!r} are not {groups} finite numbers, one per group.")
        return list(lrs)


class StepLR(LRScheduler):
    """Multiply the lr by gamma every step_size steps."""

    chain_floor = 0.0

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        super().__init__(optimizer, last_epoch, functools.partial(step_decay, step_size=step_size, gamma=gamma))


class MultiStepLR(LRScheduler):
    """Multiply the lr by gamma at each milestone."""

    chain_floor = 0.0

    def __init__(
        self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        super().__init__(
            optimizer, last_epoch, functools.partial(multi_step_decay, milestones=list(milestones), gamma=gamma)
        )


class ExponentialLR(LRScheduler):
    """Multiply the lr by gamma every step."""

    chain_floor = 0.0

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        super().__init__(optimizer, last_epoch, functools.partial(exponential_decay, gamma=gamma))


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the base lr down to eta_min over T_max steps."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.chain_floor = eta_min
        super().__init__(optimizer, last_epoch, functools.partial(cosine_annealing, T_max=T_max, eta_min=eta_min))


class LinearLR(LRScheduler):
    """Scale the lr linearly from start_factor to end_factor over total_iters steps."""

    chain_floor = 0.0

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        ramp = functools.partial(linear_ramp, start_factor=start_factor, end_factor=end_factor, total_iters=total_iters)
        super().__init__(optimizer, last_epoch, ramp)


class LambdaLR(LRScheduler):
    """lr = base lr · lr_lambda(t) (one function, or one per parameter group)."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        groups = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
        if len(self.lr_lambdas) != groups:
            raise ValueError(f"LambdaLR got {len(self.lr_lambdas)} functions for {groups} parameter groups.")
        super().__init__(optimizer, last_epoch)

    def make_schedule(self, base_lr, group_index):
        factor = self.lr_lambdas[group_index]
        return lambda t: base_lr * factor(t)


class SequentialLR(LRScheduler):
    """Run schedulers one after another, switching at the milestones."""

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ) -> None:
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("SequentialLR: every scheduler must belong to the same optimizer.")
        self.schedulers, self.milestones = list(schedulers), list(milestones)
        super().__init__(optimizer, last_epoch)

    def make_schedule(self, base_lr, group_index):
        return sequential([s.schedules[group_index] for s in self.schedulers], self.milestones)


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up from max_lr/div_factor to max_lr, then anneal to
    initial_lr/final_div_factor; momentum (or Adam's β₁) cycles the opposite way."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR needs total_steps, or both epochs and steps_per_epoch.")
            total_steps = epochs * steps_per_epoch
        if total_steps <= 0:
            raise ValueError(f"OneCycleLR: total_steps must be positive, got {total_steps}.")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}.")
        groups = optimizer.param_groups
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(groups)
        self.total_steps, self.pct_start, self.three_phase = total_steps, pct_start, three_phase
        self.anneal_strategy, self.cycle_momentum = anneal_strategy, cycle_momentum
        self.lr_values = [
            {"initial": m / div_factor, "max": m, "min": m / div_factor / final_div_factor} for m in max_lrs
        ]
        for group, values in zip(groups, self.lr_values):
            group["initial_lr"] = values["initial"]
        self.momentum_key = None
        if cycle_momentum:
            if all("betas" in g for g in groups):
                self.momentum_key = "betas"
            elif all("momentum" in g for g in groups):
                self.momentum_key = "momentum"
            else:
                raise ValueError("OneCycleLR with cycle_momentum=True needs an optimizer with momentum or betas.")
            self.momentum_values = {"initial": max_momentum, "max": base_momentum, "min": max_momentum}
        super().__init__(optimizer, last_epoch)

    def make_schedule(self, base_lr, group_index):
        return one_cycle(
            self.lr_values[group_index], self.total_steps, self.pct_start, self.anneal_strategy, self.three_phase
        )

    def step(self) -> None:
        super().step()
        if self.momentum_key is None:
            return
        momentum = one_cycle(
            self.momentum_values, self.total_steps, self.pct_start, self.anneal_strategy, self.three_phase
        )(self.last_epoch)
        for group in self.optimizer.param_groups:
            if self.momentum_key == "betas":
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum


class WarmupLR(LRScheduler):
    """Linear warmup over warmup_steps (lr rises to the base lr), then ``after``
    (another scheduler of this optimizer, counting from 0 when warmup ends)."""

    def __init__(
        self, optimizer: Optimizer, warmup_steps: int, after: LRScheduler | None = None, last_epoch: int = -1
    ) -> None:
        _require(warmup_steps, "warmup_steps", minimum=1)
        if after is not None and after.optimizer is not optimizer:
            raise ValueError("WarmupLR: `after` must be a scheduler of the same optimizer.")
        self.warmup_steps, self.after = warmup_steps, after
        super().__init__(optimizer, last_epoch)

    def make_schedule(self, base_lr, group_index):
        after = self.after.schedules[group_index] if self.after is not None else None
        return linear_warmup(base_lr, self.warmup_steps, after)


class InverseSqrtLR(LRScheduler):
    """The Transformer schedule: base lr · d_model^−½ · min(s^−½, s · warmup^−³ᐟ²), s = step + 1."""

    def __init__(self, optimizer: Optimizer, d_model: int, warmup_steps: int, last_epoch: int = -1) -> None:
        super().__init__(
            optimizer, last_epoch, functools.partial(inverse_sqrt, d_model=d_model, warmup_steps=warmup_steps)
        )
