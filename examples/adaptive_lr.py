"""Chapter 4, adaptive learning rates: on the convex but ill-conditioned error
surface L = x² + 1000·y², one fixed learning rate cannot serve both directions;
Adagrad/RMS, RMSProp and Adam give each parameter its own σᵢ.

    python examples/adaptive_lr.py [--quick]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _common import main

from tinygrad_edu import Tensor, optim, optimizer_page, viz

WEIGHTS = np.array([1.0, 1000.0])  # curvatures 2 and 2000: condition number 1000
START = (-4.0, 0.5)


def surface(x, y):
    return WEIGHTS[0] * x**2 + WEIGHTS[1] * y**2


def descend(make, steps: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The trajectory θ⁰ … θᵀ, and σᵗ where the optimizer keeps one."""
    p = Tensor(np.array(START), requires_grad=True)
    opt = make([p])
    points, sigmas = [p.data.copy()], []
    weights = Tensor(WEIGHTS)
    for _ in range(steps):
        opt.zero_grad()
        (weights * p * p).sum().backward()
        opt.step()
        points.append(p.data.copy())
        state = opt.state[p]
        if "sum_sq" in state:  # the lecture's RMS: σ = √(mean of g²)
            sigmas.append(np.sqrt(state["sum_sq"] / state["step"]))
        elif "square_avg" in state:  # RMSProp
            sigmas.append(np.sqrt(state["square_avg"]))
    return np.array(points), sigmas


METHODS = {
    "GD η=0.00099 (just stable)": lambda ps: optim.SGD(ps, lr=0.00099),
    "GD η=0.0001": lambda ps: optim.SGD(ps, lr=0.0001),
    "RMS (lecture's Adagrad) η=0.1": lambda ps: optim.RMS(ps, lr=0.1),
    "Adagrad η=0.5": lambda ps: optim.Adagrad(ps, lr=0.5),
    "RMSProp η=0.05, α=0.9": lambda ps: optim.RMSprop(ps, lr=0.05, alpha=0.9),
    "Adam η=0.1": lambda ps: optim.Adam(ps, lr=0.1),
}


def run(quick: bool, out: Path) -> dict:
    steps = 300 if quick else 1000
    results, trajectories, sigma_traces = {}, {}, {}
    print(f"L = x² + 1000·y² from {START}, {steps} steps:")
    for name, make in METHODS.items():
        points, sigmas = descend(make, steps)
        distance = np.linalg.norm(points, axis=1)
        reached = np.nonzero(distance < 1e-3)[0]
        results[name] = {
            "final_distance": float(distance[-1]),
            "steps_to_1e-3": int(reached[0]) if len(reached) else None,
        }
        trajectories[name] = points
        if sigmas:
            sigma_traces[name] = np.array(sigmas)
        steps_text = results[name]["steps_to_1e-3"] or f"not within {steps}"
        print(f"  {name:32s} final ‖θ‖ = {distance[-1]:.2e}; steps to ‖θ‖ < 1e-3: {steps_text}")
    viz.plot_surface(surface, out / "adaptive_trajectories.png", xlim=(-4.5, 1.0), ylim=(-0.7, 0.7), log=True,
                     trajectories=trajectories, points={"minimum": (0.0, 0.0)}, small_multiples=True,
                     title="L = x² + 1000y²: fixed η against per-parameter σ")  # fmt: skip
    name = "RMS (lecture's Adagrad) η=0.1"
    trace = sigma_traces[name]
    viz.plot_curves({"σ_x (gentle direction)": trace[:, 0], "σ_y (steep direction)": trace[:, 1]},
                    out / "adaptive_sigma.png", ylabel="σᵢᵗ", log=True)  # fmt: skip
    print(f"  RMS: σ_y/σ_x = {trace[0, 1] / trace[0, 0]:.0f} at the first step: each direction gets its own step size")
    optimizer_page.write(out / "optimizers.html")  # every method, schedule and η on this surface and the saddle
    return results


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
