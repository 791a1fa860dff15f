"""Details the lecture states in passing, each checked with a number: the Taylor
approximation, why saddles outnumber minima in high dimension, why escaping
along the Hessian is rarely done, m against σ, RMS with decay = Adagrad,
RMSProp against RMS when the gradient's scale changes, training that stalls
with a large gradient, small batches' noisy updates, and Adam's defaults.

    python examples/lecture_details.py [--quick]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from _common import main

from tinygrad_edu import Tensor, grad, hessian, nn, optim
from tinygrad_edu.data import DataLoader, datasets
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import lr_scheduler as S


def taylor() -> dict:
    """L(θ′ + δ) against its first- and second-order predictions as δ shrinks (a non-critical θ′)."""
    f = lambda w1, w2: (1 - w1 * w2) ** 2 + 0.1 * (w1**2 + w2**2)  # noqa: E731
    at = (np.array(0.8), np.array(-0.3))
    leaves = [Tensor(x, requires_grad=True) for x in at]
    g = np.array([t.item() for t in grad(f(*leaves), leaves)])
    H = hessian(f, at).data
    direction = np.array([0.6, 0.8])
    base = f(*(Tensor(x) for x in at)).item()
    print("Taylor: L(θ′+δ) − [L + δᵀg] and − [L + δᵀg + ½δᵀHδ] at θ′ = (0.8, −0.3), δ = h·(0.6, 0.8):")
    errors = {}
    for h in (1e-1, 1e-2, 1e-3):
        d = h * direction
        true = f(*(Tensor(x + dx) for x, dx in zip(at, d))).item()
        first, second = abs(true - (base + d @ g)), abs(true - (base + d @ g + 0.5 * d @ H @ d))
        errors[h] = (first, second)
        print(f"  h = {h:g}: first-order error {first:.2e}, second-order error {second:.2e}")
    print("  (the first-order error falls as h², the second-order one as h³: H is the next term)")
    return {"errors": errors}


def saddles_in_high_dimension(samples: int) -> dict:
    """At a random critical point (a random symmetric Hessian), all n eigenvalues positive gets rare fast."""
    rng = np.random.default_rng(0)
    print(f"random symmetric Hessians ({samples:,} per size): the fraction with every eigenvalue > 0")
    fractions = {}
    for n in (1, 2, 4, 8, 16):
        A = rng.standard_normal((samples, n, n))
        eigenvalues = np.linalg.eigvalsh((A + A.transpose(0, 2, 1)) / 2)
        fractions[n] = float(np.mean((eigenvalues > 0).all(axis=1)))
        print(f"  n = {n:2d}: {fractions[n]:.4f}")
    print("  a minimum needs every direction to curve up; with many directions, some curve down: saddles")
    return fractions


def cost_of_escaping() -> dict:
    """Escaping along an eigenvector needs the Hessian's spectrum: one Hessian-vector product per
    parameter for the dense matrix, where a gradient step needs one gradient."""
    model = nn.MLP([64, 32, 10], generator=np.random.default_rng(1))
    n = model.num_parameters()
    print(f"escape along the Hessian: the dense spectrum of a 64→32→10 network takes one Hessian-vector product "
          f"per parameter, {n:,} of them (each about one gradient's work), against one gradient for a step of descent: "
          f"rarely worth it in practice")  # fmt: skip
    return {"parameters": n}


def momentum_and_sigma() -> dict:
    """In Adam, m keeps the gradients' signs (directions) and σ only their size: they do not cancel."""
    p = Tensor(np.zeros(1), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    for g in (1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0):
        p.grad = Tensor(np.array([g]))
        opt.step()
    state, t = opt.state[p], 8
    m = float(state["exp_avg"][0]) / (1 - 0.9**t)  # bias-corrected, as Adam uses them
    sigma = math.sqrt(float(state["exp_avg_sq"][0]) / (1 - 0.999**t))
    print(f"m against σ: after gradients +1 −1 +1 −1 +1 +1 +1 +1, Adam's m = {m:+.3f} (signs kept: the "
          f"oscillation cancels) while σ = {sigma:.3f} (sizes only: nothing cancels)")  # fmt: skip
    return {"m": m, "sigma": sigma}


def rms_with_decay_is_adagrad(steps: int) -> dict:
    """RMS's σ = √(Σg²/(t+1)); with η/√(t+1), the step is η·g/√(Σg²): Adagrad's."""
    rng = np.random.default_rng(2)
    gradients = rng.standard_normal((steps, 3))
    paths = []
    for make in (lambda ps: optim.RMS(ps, lr=0.1, eps=0.0), lambda ps: optim.Adagrad(ps, lr=0.1, eps=0.0)):
        p = Tensor(np.zeros(3), requires_grad=True)
        opt = make([p])
        schedule = S.LambdaLR(opt, lambda t: 1 / math.sqrt(t + 1)) if isinstance(opt, optim.RMS) else None
        for g in gradients:
            p.grad = Tensor(g)
            opt.step()
            if schedule:
                schedule.step()
        paths.append(p.data.copy())
    gap = float(np.abs(paths[0] - paths[1]).max())
    print(f"RMS with η/√(t+1) against Adagrad, {steps} steps of the same gradients: largest difference {gap:.1e}")
    return {"gap": gap}


def rmsprop_reacts_faster(steps: int) -> dict:
    """The gradient's size jumps ×10 at step 50: how many steps until σ reaches 90% of the new size?"""
    sizes = np.where(np.arange(steps) < 50, 1.0, 10.0)
    reached = {}
    for name, make in (("RMS", lambda ps: optim.RMS(ps, lr=0.0)),
                       ("RMSProp α = 0.9", lambda ps: optim.RMSprop(ps, lr=0.0, alpha=0.9, lecture=True))):  # fmt: skip
        p = Tensor(np.zeros(1), requires_grad=True)
        opt = make([p])
        sigmas = []
        for size in sizes:
            p.grad = Tensor(np.array([size]))
            sigma = opt.direction_and_scale(p.data, p.grad.data, opt.state.setdefault(p, {}), opt.param_groups[0])[1]
            sigmas.append(float(sigma[0]))
        after = [t - 50 for t in range(50, steps) if sigmas[t] >= 9.0]
        reached[name] = after[0] if after else None
        print(
            f"  {name:16s}: σ reaches 90% of the new size {reached[name]} steps after the jump"
            if after
            else f"  {name:16s}: σ still below 90% of the new size {steps - 50} steps after the jump"
        )
    return reached


def stalls_without_a_small_gradient(steps: int) -> dict:
    """GD at the edge of stability on x² + 1000y²: the loss stops falling while ‖g‖ stays large."""
    w = Tensor(np.array([-4.0, 0.5]), requires_grad=True)
    opt = optim.SGD([w], lr=0.001)  # 2/λ_max: the steep direction bounces between its walls for ever
    seen = {}
    for t in range(1, steps + 1):
        opt.zero_grad()
        loss = w[0] ** 2 + 1000 * w[1] ** 2
        loss.backward()
        if t in (1, steps // 2, steps):
            seen[t] = (loss.item(), float(np.linalg.norm(w.grad.data)))
            print(f"  step {t:5d}: loss {seen[t][0]:8.3f}, gradient norm {seen[t][1]:7.1f}")
        opt.step()
    return seen


def noisy_small_batches(updates: int) -> dict:
    """How often an update raises the loss on the whole training set, by batch size (SGD, η = 0.05)."""
    X, y = datasets.digits()
    raised = {}
    for b in (1, 32, len(X)):
        model = nn.MLP([64, 32, 10], generator=np.random.default_rng(0))
        opt = optim.SGD(model.parameters(), lr=0.05)
        batches = iter(())
        previous = F.cross_entropy(model(X), y).item()
        raised[b] = 0
        for _ in range(updates):
            xb, yb = next(batches, (None, None))
            if xb is None:  # a new epoch, reshuffled
                batches = iter(DataLoader(X, y, b, seed=0))
                xb, yb = next(batches)
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
            current = F.cross_entropy(model(X), y).item()
            raised[b] += current > previous
            previous = current
        print(f"  batch {b:4d}: {raised[b]:3d} of {updates} updates raised the training loss")
    return raised


def run(quick: bool, out: Path) -> dict:
    results = {"taylor": taylor(), "saddles": saddles_in_high_dimension(2_000 if quick else 20_000)}
    results["escape_cost"] = cost_of_escaping()
    results["m_and_sigma"] = momentum_and_sigma()
    results["rms_decay_adagrad"] = rms_with_decay_is_adagrad(200)
    print("the gradient's size jumps from 1 to 10 at step 50:")
    results["rmsprop_faster"] = rmsprop_reacts_faster(150 if quick else 400)
    print("gradient descent at η = 2/λ_max on x² + 1000y² from (−4, 0.5):")
    results["stall"] = stalls_without_a_small_gradient(500 if quick else 2000)
    print("how noisy a small batch's updates are (the digits MLP 64→32→10):")
    results["noisy_updates"] = noisy_small_batches(60 if quick else 200)
    defaults = optim.Adam([Tensor(np.zeros(1), requires_grad=True)]).defaults
    print(f"Adam's defaults (PyTorch's, the lecture's advice): lr {defaults['lr']}, betas {defaults['betas']}, "
          f"eps {defaults['eps']}")  # fmt: skip
    return results


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
