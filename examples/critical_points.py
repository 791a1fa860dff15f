"""Chapter 1, critical points: the lecture's ŷ = w₁w₂x network, its saddle at
the origin and the escape along (1, 1); then the critical points of a small
network, found with Newton's method on the gradient (true critical points,
‖g‖ < 1e-6), with their loss against the minimum ratio; the Taylor expansion
checked at one of its saddles, and the escape from it.

    python examples/critical_points.py [--quick]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import main

from tinygrad_edu import Tensor, critical, nn, optim, viz


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


DECAY = 1e-3  # a little weight decay: without it the loss has flat valleys and no isolated critical points
STARTS = (0, 30, 150, 600, 2000)  # Adam steps after which Newton's method sets off


def sine_problem(seed: int) -> tuple[nn.MLP, Callable[[], Tensor]]:
    """A 1→6→1 tanh network (19 parameters) and its loss on 24 noisy samples of sin 2x,
    mean squared error + (λ/2)‖θ‖²."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (24, 1))
    y = np.sin(2 * X) + 0.1 * rng.standard_normal(X.shape)
    model = nn.MLP([1, 6, 1], activation="tanh", generator=np.random.default_rng(seed))
    loss = lambda: nn.functional.mse_loss(model(X), y) + DECAY / 2 * sum((p * p).sum() for p in model.parameters())  # noqa: E731
    return model, loss


def newton_on_gradient(objective: critical.Objective, steps: int = 1000, tol: float = 1e-12) -> int:
    """Solve g(θ) = 0 with Newton's method: δ = −H⁺g, halved until ‖g‖ falls; the number of steps taken.

    Descent only finds minima; Newton's method on g goes to the critical point of the
    basin it starts in, whatever its kind, which is what counting them needs.  A run
    ends when ‖g‖ < tol, or when no step along δ, down to δ/10⁴, lowers ‖g‖ (stuck).
    Runs near a minimum with flat directions creep (hundreds of steps at t = 1/64), so
    the budget is far above the slowest run: one that ran out would be counted by how
    fast this machine's rounding let it creep, not by where it was going."""
    _, g = objective.loss_and_gradient()
    for step in range(steps):
        norm = np.linalg.norm(g)
        if norm < tol:
            return step
        delta = -np.linalg.lstsq(objective.hessian(), g, rcond=None)[0]
        t = 1.0
        while True:
            objective.move(t * delta)
            g_new = objective.loss_and_gradient()[1]
            if np.linalg.norm(g_new) < norm:
                break
            objective.move(-t * delta)
            t /= 2
            if t < 1e-4:
                return step  # stuck: this start reaches no critical point
        g = g_new
    raise RuntimeError(f"Newton's method used all {steps} steps: raise the budget, or the counts depend on it")


def find_critical_points(seeds: int, starts: tuple[int, ...]) -> list[tuple[int, critical.CriticalPoint, list]]:
    """For each seed: train with Adam; from the parameters after each of ``starts`` steps, run
    Newton's method on g; keep what classify (default grad_tol 1e-6) calls critical."""
    found = []
    for seed in range(seeds):
        model, loss = sine_problem(seed)
        opt = optim.Adam(model.parameters(), lr=0.02)
        snapshots = {}
        for step in range(max(starts) + 1):
            if step in starts:
                snapshots[step] = [p.data.copy() for p in model.parameters()]
            if step < max(starts):
                opt.zero_grad()
                loss().backward()
                opt.step()
        for start, snapshot in snapshots.items():
            for p, value in zip(model.parameters(), snapshot):
                p.data[...] = value
            newton_on_gradient(critical.Objective(loss, model))
            point = critical.classify(loss, model)
            if point.kind != "not_critical":
                found.append((start, point, [p.data.copy() for p in model.parameters()]))
    return found


def many_networks(out: Path, quick: bool) -> tuple[dict, tuple]:
    seeds, starts = (5, STARTS[:3]) if quick else (20, STARTS)
    found = find_critical_points(seeds, starts)
    kinds = np.array([point.kind for _, point, _ in found])
    losses = np.array([point.loss for _, point, _ in found])
    ratios = np.array([point.min_ratio for _, point, _ in found])
    print(
        f"{seeds * len(starts)} starts ({seeds} networks 1→6→1 tanh, Newton's method on g after {starts} Adam steps):"
    )
    print(f"  {len(found)} reached a critical point (‖g‖ < 1e-6; the others got stuck)")
    for kind in ("saddle", "local_min", "degenerate"):
        chosen = kinds == kind
        if chosen.any():
            print(f"  {kind:10s} {chosen.sum():2d}: loss {losses[chosen].min():.4f} to {losses[chosen].max():.4f}, "
                  f"{len(np.unique(losses[chosen].round(8)))} distinct values, minimum ratio "
                  f"{ratios[chosen].min():.3f} to {ratios[chosen].max():.3f}")  # fmt: skip
    for start in starts:
        from_here = [point.kind for s, point, _ in found if s == start]
        print(f"  from step {start:4d}: saddles {from_here.count('saddle')}, minima {from_here.count('local_min')}")
    if (kinds == "local_min").any() and (kinds == "saddle").any():
        below = losses[kinds == "local_min"].max() < losses[kinds == "saddle"].min()
        print(f"  every minimum lies below every saddle: {below}")
    viz.plot_scatter(ratios, losses, out / "critical_min_ratio.png", "minimum ratio (fraction of positive eigenvalues)",
                     "loss at the critical point", title="True critical points of a 19-parameter network",
                     xlim=(0.6, 1.02), groups=kinds.tolist(), log_y=True)  # fmt: skip
    saddles = [(point, theta) for _, point, theta in found if point.kind == "saddle"]
    steepest = min(saddles, key=lambda pair: pair[0].eigenvalues[0]) if saddles else None
    results = {"starts": seeds * len(starts), "kinds": kinds.tolist(), "losses": losses.tolist(),
               "min_ratios": ratios.tolist(), "grad_norms": [point.grad_norm for _, point, _ in found]}  # fmt: skip
    return results, steepest


def taylor_at_saddle(out: Path, point: critical.CriticalPoint, theta: list) -> dict:
    """L(θ' + εu) − L(θ') against the expansion's terms: εgᵀu (first order) and ½λε² (second)."""
    model, loss = sine_problem(0)
    u = point.escape_direction
    steps = np.logspace(-3, 0, 13)
    change = []
    for eps in steps:
        for p, value, direction in zip(model.parameters(), theta, u):
            p.data[...] = value + eps * direction
        change.append(loss().item() - point.loss)
    change = np.array(change)
    first = point.grad_norm * steps  # |gᵀu|·ε is at most ‖g‖·ε
    second = 0.5 * point.eigenvalues[0] * steps**2
    gradient = "‖g‖ < 1e-12" if point.grad_norm < 1e-12 else f"‖g‖ = {point.grad_norm:.1e}"  # below: rounding noise
    print(f"Taylor at the saddle with loss {point.loss:.4f} (λ_min = {point.eigenvalues[0]:.4f}, {gradient}), "
          "along its eigenvector u:")  # fmt: skip
    for eps, true, predicted in zip(steps[::4], change[::4], second[::4]):
        print(f"  ε = {eps:6.3f}: L change {true:+.3e}, ½λε² {predicted:+.3e}, ratio {true / predicted:.4f}")
    viz.plot_curves({"|L(θ′ + εu) − L(θ′)| (true)": np.abs(change), "|½λε²| (second order)": np.abs(second),
                     "‖g‖·ε (bound on the first-order term)": first}, out / "critical_taylor.png",
                    xlabel="step ε along u", ylabel="loss change", log=True, x=steps, log_x=True)  # fmt: skip
    return {"steps": steps.tolist(), "change": change.tolist(), "second_order": second.tolist()}


NUDGE, NUDGED = 1e-8, "nudged 1e-8 off the saddle"  # in place of the rounding errors that alone move it there


def escape(out: Path, point: critical.CriticalPoint, theta: list, steps: int = 2000, lr: float = 0.1) -> dict:
    """Gradient descent from next to the saddle, and after critical.escape_saddle's step along u.

    At the saddle itself only rounding errors move descent, and how many steps that takes
    changes with the machine's arithmetic; a nudge of 1e-8 in a random direction plays
    their part, is ten million times larger, and so gives the same run everywhere."""
    model, loss = sine_problem(0)
    nudge = np.random.default_rng(0).standard_normal(sum(p.size for p in model.parameters()))
    nudge *= NUDGE / np.linalg.norm(nudge)
    curves = {}
    for name, step in ((NUDGED, 0.0), ("after a step of 0.1 along u", 0.1)):
        for p, value in zip(model.parameters(), theta):
            p.data[...] = value
        if step:
            critical.escape_saddle(loss, model, step=step)
        else:
            critical.Objective(loss, model).move(nudge)
        opt = optim.SGD(model.parameters(), lr=lr)
        history = []
        for _ in range(steps):
            opt.zero_grad()
            current = loss()
            current.backward()
            opt.step()
            history.append(current.item())
        curves[name] = np.array(history)
    left = {name: int(np.argmax(h < point.loss - 1e-3)) for name, h in curves.items()}
    print(f"gradient descent (η = {lr}) at the saddle with loss {point.loss:.4f}:")
    for name, history in curves.items():
        print(f"  {name}: {left[name]} steps to fall 1e-3 below it, loss {history[-1]:.4f} after {steps}")
    viz.plot_curves(curves, out / "critical_escape.png", ylabel="loss", log=True)
    return {"steps_to_leave": left, "final": {name: float(h[-1]) for name, h in curves.items()}, "saddle": point.loss}


def run(quick: bool, out: Path) -> dict:
    results = {"lecture_network": lecture_network(out)}
    results["many_networks"], steepest = many_networks(out, quick)
    point, theta = steepest
    results["taylor"] = taylor_at_saddle(out, point, theta)
    results["escape"] = escape(out, point, theta)
    return results


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
