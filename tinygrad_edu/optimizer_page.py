"""The lecture's optimizers side by side on its error surfaces, as one offline page.

Every path is computed here, by the library's own optimizers and schedulers,
for a grid of learning rates, and embedded in the page as data; sliders pick
the learning rate and the step.  Each step records the optimizer's three parts
of the lecture's summary  θᵗ⁺¹ ← θᵗ − (ηᵗ/σᵗ)·mᵗ,  so the page can plot σᵗ
and mᵗ under the surface.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu import optim, pages
from tinygrad_edu.files import atomic_path
from tinygrad_edu.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, WarmupLR
from tinygrad_edu.tensor import Tensor

STEPS = 100
WARMUP = 10
LEARNING_RATES = [float(f"{10.0**k:.3g}") for k in np.arange(-4.0, 0.01, 0.5)]  # 1e-4, 3.16e-4, ..., 1
RUNAWAY = 1e4  # a path that leaves |θ| < RUNAWAY has diverged: the rest of it is not drawn


@dataclass(frozen=True)
class Surface:
    title: str
    loss: Callable[[Any, Any], Any]  # on numbers, arrays and Tensors alike
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    saddles: tuple[tuple[float, float], ...] = ()
    minima: tuple[tuple[float, float], ...] = ()  # isolated minima
    minimum_curve: Callable[[np.ndarray], np.ndarray] | None = None  # y(x) along a valley of minima


SURFACES = {
    "bowl": Surface("L = x² + 1000·y²: convex, but 1000 times steeper across than along (chapter 4)",
                    lambda x, y: x**2 + 1000 * y**2, (-4.0, 0.5), (-4.5, 1.0), (-0.7, 0.7), minima=((0.0, 0.0),)),
    "saddle": Surface("L = (1 − w₁w₂)²: a saddle at the origin, minima on the curve w₁w₂ = 1 (chapter 1)",
                      lambda x, y: (1 - x * y) ** 2, (1.0, -0.98), (-2.0, 2.0), (-2.0, 2.0), saddles=((0.0, 0.0),),
                      minimum_curve=lambda x: 1 / x),
}  # fmt: skip

OPTIMIZERS: dict[str, tuple[str, Callable[[list[Tensor], float], optim.Optimizer]]] = {
    "GD": ("mᵗ = gᵗ, σᵗ = 1", lambda ps, lr: optim.SGD(ps, lr=lr)),
    "momentum": ("mᵗ = λmᵗ⁻¹ + gᵗ (λ = 0.9), σᵗ = 1", lambda ps, lr: optim.Momentum(ps, lr=lr, momentum=0.9)),
    "RMS": ("mᵗ = gᵗ, σᵗ = √(mean of g⁰² … gᵗ²): the lecture's Adagrad", lambda ps, lr: optim.RMS(ps, lr=lr)),
    "RMSProp": ("mᵗ = gᵗ, σᵗ = √(α(σᵗ⁻¹)² + (1 − α)(gᵗ)²), σ⁰ = |g⁰| (α = 0.9)",
                lambda ps, lr: optim.RMSprop(ps, lr=lr, alpha=0.9, lecture=True)),
    "Adam": ("mᵗ = β₁mᵗ⁻¹ + (1 − β₁)gᵗ, σᵗ = √(β₂-average of g²), ηᵗ bias-corrected (PyTorch's defaults)",
             lambda ps, lr: optim.Adam(ps, lr=lr)),
}  # fmt: skip

SCHEDULES: dict[str, Callable[[optim.Optimizer], LRScheduler | None]] = {
    "constant": lambda opt: None,
    "warmup": lambda opt: WarmupLR(opt, WARMUP),
    "decay": lambda opt: CosineAnnealingLR(opt, T_max=STEPS),
    "warmup + decay": lambda opt: WarmupLR(opt, WARMUP, after=CosineAnnealingLR(opt, T_max=STEPS - WARMUP)),
}


@dataclass
class Path2D:
    """One run: θ⁰ … θᵀ (NaN after it ran away) and each step's ηᵗ, σᵗ (NaN for σ = 1), mᵗ."""

    theta: np.ndarray  # (STEPS + 1, 2)
    eta: np.ndarray  # (STEPS,)
    sigma: np.ndarray  # (STEPS, 2)
    m: np.ndarray  # (STEPS, 2)


def descend(surface: str, optimizer: str, schedule: str, lr: float, steps: int = STEPS) -> Path2D:
    """Run one optimizer on one surface, recording every step's (ηᵗ, σᵗ, mᵗ)."""
    f = SURFACES[surface]
    p = Tensor(np.array(f.start), requires_grad=True)
    opt = OPTIMIZERS[optimizer][1]([p], lr)
    scheduler = SCHEDULES[schedule](opt)
    record = Path2D(np.full((steps + 1, 2), np.nan), np.full(steps, np.nan), np.full((steps, 2), np.nan),
                    np.full((steps, 2), np.nan))  # fmt: skip
    record.theta[0] = p.data
    parts = opt.direction_and_scale

    def recording(theta: np.ndarray, g: np.ndarray, state: dict, group: dict) -> Any:  # called in step t below
        eta, sigma, m = parts(theta, g, state, group)
        record.eta[t], record.m[t] = eta, m
        if sigma is not None:
            record.sigma[t] = sigma
        return eta, sigma, m

    opt.direction_and_scale = recording
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            opt.zero_grad()
            f.loss(p[0], p[1]).backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
            if not np.all(np.abs(p.data) < RUNAWAY):
                break
            record.theta[t + 1] = p.data
    return record


Key = tuple[str, str, str, float]  # surface, optimizer, schedule, learning rate


def every_run() -> dict[Key, Path2D]:
    """Every surface, optimizer, schedule and learning rate, in the page's order."""
    return {(surface, optimizer, schedule, lr): descend(surface, optimizer, schedule, lr)
            for surface in SURFACES for optimizer in OPTIMIZERS for schedule in SCHEDULES
            for lr in LEARNING_RATES}  # fmt: skip


def final_loss(key: Key, run: Path2D) -> float:
    """The loss where the run ended (inf if it ran away)."""
    x, y = run.theta[-1]
    return float(SURFACES[key[0]].loss(x, y)) if np.isfinite(x) else np.inf


def best_learning_rates(runs: dict[Key, Path2D]) -> dict[tuple[str, str, str], tuple[float, float]]:
    """For each surface, optimizer and schedule: (the lowest final loss, the learning rate that reached it)."""
    best: dict[tuple[str, str, str], tuple[float, float]] = {}
    for key, run in runs.items():
        loss = final_loss(key, run)
        if key[:3] not in best or loss < best[key[:3]][0]:
            best[key[:3]] = (loss, key[3])
    return best


def pack(runs: dict[Key, Path2D]) -> np.ndarray:
    """The runs as one float32 array for the page: per run θ (2·(STEPS+1) numbers), η (STEPS),
    σ (2·STEPS), m (2·STEPS)."""
    return np.array([np.concatenate([r.theta.ravel(), r.eta, r.sigma.ravel(), r.m.ravel()]) for r in runs.values()],
                    dtype=np.float32)  # fmt: skip


def write(path: str | Path, runs: dict[Key, Path2D] | None = None, resolution: int = 120) -> Path:
    """The page: surfaces, paths (``every_run()`` unless given), sliders; no network needed to open it."""
    surfaces = {}
    for name, f in SURFACES.items():
        X, Y = np.meshgrid(np.linspace(*f.xlim, resolution), np.linspace(*f.ylim, resolution))
        Z = f.loss(X, Y)
        surfaces[name] = {"title": f.title, "start": f.start, "xlim": f.xlim, "ylim": f.ylim,
                          "saddles": f.saddles, "minima": f.minima, "minimumCurve": _curve(f),
                          "grid": _base64(np.log10(Z - Z.min() + 1e-3 * (Z.max() - Z.min())))}  # fmt: skip
    data = {
        "surfaces": surfaces,
        "resolution": resolution,
        "optimizers": {name: formula for name, (formula, _) in OPTIMIZERS.items()},
        "schedules": list(SCHEDULES),
        "learningRates": LEARNING_RATES,
        "steps": STEPS,
        "warmup": WARMUP,
        "paths": _base64(pack(every_run() if runs is None else runs)),
    }
    page = pages.fill("optimizers.html", DATA=pages.json_for_script(data), SCRIPT=pages.template("optimizers.js"))
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text(page, encoding="utf-8")
    return path


def _curve(f: Surface) -> list[list[list[float]]]:
    """The valley of minima as polylines inside the plot (one per branch)."""
    if f.minimum_curve is None:
        return []
    branches = [np.linspace(f.xlim[0], -1e-3, 200), np.linspace(1e-3, f.xlim[1], 200)]
    lines = []
    for x in branches:
        y = f.minimum_curve(x)
        inside = (y >= f.ylim[0]) & (y <= f.ylim[1])
        lines.append(np.round(np.stack([x[inside], y[inside]], axis=1), 4).tolist())
    return lines


def _base64(array: np.ndarray) -> str:
    """Float32 numbers, little-endian, as base64 text (a third the size of JSON)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()
