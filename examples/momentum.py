"""Chapter 3, momentum: plain gradient descent stops in a local minimum where
gradient descent with momentum rolls on to the global one — from one start, and
from a grid of starts against GD at a matched step; and the momentum term is a
weighted sum of all past gradients.

    python examples/momentum.py [--quick]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _common import main

from tinygrad_edu import Tensor, optim, viz


def loss(theta):
    """A double well tilted to one side: local minimum near +0.96, global near −1.04."""
    return (theta**2 - 1) ** 2 + 0.3 * theta


def trajectory(make, steps: int, start: float = 2.0) -> tuple[np.ndarray, list[np.ndarray]]:
    p = Tensor(np.array([start]), requires_grad=True)
    opt = make([p])
    points, gradients = [start], []
    for _ in range(steps):
        opt.zero_grad()
        loss(p).sum().backward()
        gradients.append(p.grad.data.copy())
        opt.step()
        points.append(float(p.data[0]))
    return np.array(points), gradients


def run(quick: bool, out: Path) -> dict:
    steps, lr, lam = (150 if quick else 400), 0.02, 0.9
    plain, _ = trajectory(lambda ps: optim.SGD(ps, lr=lr), steps)
    heavy, gradients = trajectory(lambda ps: optim.Momentum(ps, lr=lr, momentum=lam), steps)
    print(f"from θ = 2, η = {lr}, {steps} steps:")
    print(f"  gradient descent ends at θ = {plain[-1]:+.4f}, L = {loss(plain[-1]):.4f} (the local minimum)")
    print(f"  with momentum λ = {lam} it ends at θ = {heavy[-1]:+.4f}, L = {loss(heavy[-1]):.4f} (the global minimum)")

    # m^t = λm^{t−1} − ηg^{t−1}  ⇒  m^t = −η Σᵢ λ^{t−1−i} gⁱ: a weighted sum of every past gradient.
    t = len(gradients)
    weighted_sum = -lr * sum(lam ** (t - 1 - i) * g for i, g in enumerate(gradients))
    movement = heavy[-1] - heavy[-2]
    gap = abs(float(weighted_sum[0]) - movement)
    print(f"  last movement m^t = {movement:.3e}; −η Σ λ^(t−1−i) gⁱ = {float(weighted_sum[0]):.3e} (gap {gap:.1e})")

    starts = several_starts(steps, lr, lam)

    plt = viz._pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    grid = np.linspace(-1.6, 2.1, 300)
    axes[0].plot(grid, loss(grid), color="gray")
    for label, points, marker in (("gradient descent", plain, "o"), (f"momentum λ={lam}", heavy, ".")):
        axes[0].plot(points, loss(points), marker, markersize=4, alpha=0.7, label=label)
    axes[0].set(xlabel="θ", ylabel="L(θ)", title="a ball with momentum rolls over the bump")
    axes[0].legend()
    ages = np.arange(30)
    axes[1].bar(ages, lam**ages, color="steelblue")
    axes[1].set(xlabel="age of the gradient (steps ago)", ylabel="weight λ^age", title="momentum = weighted past")
    viz._save(fig, out / "momentum.png")
    return {"plain_end": float(plain[-1]), "momentum_end": float(heavy[-1]), "weighted_sum_gap": gap,
            "plain_loss": float(loss(plain[-1])), "momentum_loss": float(loss(heavy[-1])),
            "starts": starts}  # fmt: skip


def several_starts(steps: int, lr: float, lam: float) -> dict:
    """One start proves little: from a grid of starts, where does each method end?  Against plain GD
    both at η and at the step momentum reaches on a steady slope, η/(1 − λ)."""
    grid = np.round(np.linspace(-2.5, 3.0, 12), 2)
    methods = {
        f"GD, η = {lr}": lambda ps: optim.SGD(ps, lr=lr),
        f"GD, η/(1 − λ) = {lr / (1 - lam):g}": lambda ps: optim.SGD(ps, lr=lr / (1 - lam)),
        f"momentum λ = {lam}, η = {lr}": lambda ps: optim.Momentum(ps, lr=lr, momentum=lam),
    }
    print(f"from {len(grid)} starts θ₀ = {grid[0]:g} … {grid[-1]:g} ({steps} steps), where each method ends:")
    results = {}
    with np.errstate(all="ignore"):  # the larger step diverges from far starts: that is one of the outcomes
        for name, make in methods.items():
            ends = [trajectory(make, steps, float(start))[0][-1] for start in grid]
            verdicts = ["diverged" if not np.isfinite(e) else "global" if e < 0 else "local" for e in ends]
            results[name] = dict(zip(grid.tolist(), verdicts))
            counts = ", ".join(f"{v} {verdicts.count(v):2d}" for v in ("global", "local", "diverged"))
            letters = " ".join({"global": "G", "local": "L", "diverged": "x"}[v] for v in verdicts)
            print(f"  {name:28s}: {counts}   ({letters})")
    return results


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
