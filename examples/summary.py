"""Chapter 6, the summary: every optimizer is  θ ← θ − (ηᵗ/σᵗ)·mᵗ.

Runs three steps of each optimizer in the package on the same gradients and
prints the (ηᵗ, σᵗ, mᵗ) its ``direction_and_scale`` returned at the third step,
straight from the code.

    python examples/summary.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _common import main

from tinygrad_edu import Tensor, optim

OPTIMIZERS = {
    "SGD": (lambda ps: optim.SGD(ps, lr=0.1), "g", "1", "η"),
    "SGD momentum": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), "b = λb + g", "1", "η"),
    "Momentum (lecture)": (lambda ps: optim.Momentum(ps, lr=0.1, momentum=0.9), "m = λm + g", "1", "η"),
    "Adagrad": (lambda ps: optim.Adagrad(ps, lr=0.1), "g", "√(Σ g²) + ε", "η/(1 + (t−1)·decay)"),
    "RMS (lecture)": (lambda ps: optim.RMS(ps, lr=0.1), "g", "√(mean g²) + ε", "η"),
    "RMSprop": (lambda ps: optim.RMSprop(ps, lr=0.1), "g", "√(αv + (1−α)g²) + ε", "η"),
    "Adam": (lambda ps: optim.Adam(ps, lr=0.1), "β₁m + (1−β₁)g", "√v/√(1−β₂ᵗ) + ε", "η/(1 − β₁ᵗ)"),
    "AdamW": (lambda ps: optim.AdamW(ps, lr=0.1), "β₁m + (1−β₁)g", "√v/√(1−β₂ᵗ) + ε", "η/(1 − β₁ᵗ), θ·(1−ηλ)"),
}
GRADIENTS = [np.array([1.0, -0.1]), np.array([0.8, 0.2]), np.array([0.5, -0.3])]


def run(quick: bool, out: Path) -> dict:
    print(f"{'optimizer':20s} {'m (direction)':16s} {'σ (scale)':22s} {'η (rate)':24s} observed (η, σ, m) at t = 3")
    table = {}
    for name, (make, m_text, sigma_text, eta_text) in OPTIMIZERS.items():
        p = Tensor(np.zeros(2), requires_grad=True)
        opt = make([p])
        seen = []
        original = opt.direction_and_scale

        def spy(theta, g, state, group, original=original, seen=seen):
            seen.append(original(theta, g, state, group))
            return seen[-1]

        opt.direction_and_scale = spy
        for g in GRADIENTS:
            p.grad = Tensor(g)
            opt.step()
        eta, sigma, m = seen[-1]
        sigma = 1.0 if sigma is None else sigma  # None: the method has no per-parameter scale
        observed = f"({eta:.4g}, {np.round(sigma, 4)}, {np.round(m, 4)})"
        print(f"{name:20s} {m_text:16s} {sigma_text:22s} {eta_text:24s} {observed}")
        table[name] = {"eta": float(eta), "sigma": np.atleast_1d(sigma).tolist(), "m": m.tolist()}
    return table


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
