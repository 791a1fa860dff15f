"""Chapter 1, critical points: the lecture's ŷ = w₁w₂x network, its saddle at
the origin and the escape along (1, 1); then many small networks trained to a
critical point, with their training loss against the minimum ratio.

    python examples/critical_points.py [--quick]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _common import main

from tinygrad_edu import Tensor, critical, grad, nn, optim, viz
from tinygrad_edu.autograd import flat_hvp


def lecture_network(out: Path) -> dict:
    """ŷ = w₁w₂x trained on (x=1, ŷ=1):  L(w₁, w₂) = (1 − w₁w₂)²."""
    loss = lambda w1, w2: (1 - w1 * w2 * 1.0) ** 2  # noqa: E731
    w = (np.array(0.0), np.array(0.0))
    point = critical.classify(loss, w)
    u = np.array([float(d) for d in point.escape_direction])
    after = critical.escape_saddle(loss, w, step=0.5)  # moves w in place
    print(f"ŷ = w₁w₂x at w = (0, 0): {point.kind}, eigenvalues {point.eigenvalues}, escape direction {u.round(4)}")
    predicted = point.loss + 0.5 * point.eigenvalues[0] * 0.5**2  # L + ½λ‖δ‖² (the gradient term is 0)
    print(
        f"loss at the saddle {point.loss:.3f} → after a step of 0.5 along u: {after:.4f} "
        f"(second-order prediction {predicted:.4f})"
    )
    w1 = np.concatenate([np.linspace(-2, -0.5, 60), [np.nan], np.linspace(0.5, 2, 60)])
    viz.plot_surface(
        lambda a, b: (1 - a * b) ** 2, out / "critical_saddle.png", xlim=(-2, 2), ylim=(-2, 2), log=True,
        points={"saddle (0, 0)": (0.0, 0.0)}, axis_labels=("w₁", "w₂"),
        lines={"minima: every w with w₁w₂ = 1": np.column_stack([w1, 1 / w1])},
        trajectories={"a step of 0.5 along u": np.array([[0.0, 0.0], [0.5 * u[0], 0.5 * u[1]]])},
        title="L = (1 − w₁w₂)²: a saddle at the origin",
    )  # fmt: skip
    return {"kind": point.kind, "eigenvalues": point.eigenvalues.tolist(), "escape": u.tolist(),
            "loss_at_saddle": point.loss, "loss_after_escape": after}  # fmt: skip


def train_to_critical_point(seed: int, adam_steps: int, norm_steps: int, X: np.ndarray, y: np.ndarray):
    """Train a 1→6→1 tanh network, then minimise ½‖∇L‖² (its gradient is H·∇L,
    one HVP) to push the gradient towards 0; return (loss, min ratio, ‖g‖, λ_min).
    The curvature is classified whatever the gradient norm (grad_tol=inf): the
    chapter says that these are not critical points by classify's default test."""
    model = nn.MLP([1, 6, 1], activation="tanh", generator=np.random.default_rng(seed))
    params = model.parameters()
    loss = lambda: nn.functional.mse_loss(model(X), y)  # noqa: E731
    opt = optim.Adam(params, lr=0.02)
    for _ in range(adam_steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
    opt = optim.Adam(params, lr=1e-3)
    for _ in range(norm_steps):
        gradient = [g.data for g in grad(loss(), params)]
        for p, hg in zip(params, flat_hvp(loss, params, gradient)):
            p.grad = Tensor(hg)
        opt.step()
    point = critical.classify(loss, model, grad_tol=np.inf)
    return point.loss, point.min_ratio, point.grad_norm, point.eigenvalues[0]


def many_networks(out: Path, quick: bool) -> dict:
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (24, 1))
    y = np.sin(2 * X) + 0.1 * rng.standard_normal(X.shape)
    runs = 6 if quick else 40
    adam_steps, norm_steps = (300, 150) if quick else (2000, 1500)
    results = [train_to_critical_point(seed, adam_steps, norm_steps, X, y) for seed in range(runs)]
    losses, ratios, norms, lowest = (np.array(v) for v in zip(*results))
    print(f"{runs} networks (1→6→1 tanh, {adam_steps} Adam steps, then {norm_steps} steps on ½‖∇L‖²):")
    print(f"  final gradient norms: median {np.median(norms):.2e}, max {norms.max():.2e}")
    print(f"  minimum ratio: median {np.median(ratios):.3f}, {np.mean(ratios < 1):.0%} of points have ratio < 1")
    print(
        f"  {np.mean(lowest < -1e-6):.0%} have a clearly negative eigenvalue (< −1e-6): saddle-like curvature; "
        f"median lowest eigenvalue {np.median(lowest):.2e}"
    )
    viz.plot_scatter(ratios, losses, out / "critical_min_ratio.png", "minimum ratio (fraction of positive eigenvalues)",
                     "training loss", title="Where training stops: small gradient, not 0", xlim=(0, 1.02))  # fmt: skip
    return {"runs": runs, "min_ratios": ratios.tolist(), "losses": losses.tolist(), "grad_norms": norms.tolist(),
            "fraction_below_1": float(np.mean(ratios < 1)), "lowest_eigenvalues": lowest.tolist()}  # fmt: skip


def run(quick: bool, out: Path) -> dict:
    return {"lecture_network": lecture_network(out), "many_networks": many_networks(out, quick)}


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
