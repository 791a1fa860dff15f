"""Chapter 5, learning-rate scheduling: the lecture's RMS "explodes" long after
it has converged and decay fixes it; warmup rescues the lecture's RMSProp in its
first steps, when σ still rests on few samples — warmup and decay measured
apart over several seeds, with RAdam's built-in warmup beside them; and every
schedule, plotted.

    python examples/schedules.py [--quick]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from _common import main

from tinygrad_edu import Tensor, optim, viz
from tinygrad_edu.optim import lr_scheduler as S
from tinygrad_edu.trainer import Run, TrainConfig


def distances(decay: bool, steps: int, lr: float = 0.3) -> np.ndarray:
    """‖θᵗ‖ for the lecture's RMS on L = x² + 100y² from (1, 1), with or without ηᵗ = η/√(t+1)."""
    p = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = optim.RMS([p], lr=lr)
    scheduler = S.LambdaLR(opt, lambda t: 1 / math.sqrt(t + 1)) if decay else None
    weights = Tensor(np.array([1.0, 100.0]))
    norms = [np.linalg.norm(p.data)]
    for _ in range(steps):
        opt.zero_grad()
        (weights * p * p).sum().backward()
        opt.step()
        if scheduler:
            scheduler.step()
        norms.append(np.linalg.norm(p.data))
    return np.array(norms)


def explosion(quick: bool, out: Path) -> dict:
    steps = 1500 if quick else 5000
    plain, decayed = distances(False, steps), distances(True, steps)
    late = slice(200, None)
    print(f"RMS, η = 0.3 on L = x² + 100y², {steps} steps:")
    print(f"  constant η: ‖θ‖ falls to {plain[:200].min():.1e} by step 200, then bursts up to {plain[late].max():.2f}")
    print(f"  η/√(t+1):   no burst, largest ‖θ‖ after step 200 is {decayed[late].max():.1e}, final {decayed[-1]:.1e}")
    floor = 1e-40  # the plot shows anything smaller (down to exact zeros) at 1e-40
    viz.plot_curves({"constant η": np.maximum(plain, floor), "η/√(t+1)": np.maximum(decayed, floor)},
                    out / "schedule_explosion.png", ylabel="‖θ‖ (distance to the minimum)", log=True)  # fmt: skip
    return {"burst": float(plain[late].max()), "decayed_max_late": float(decayed[late].max()),
            "min_before_burst": float(plain[:200].min())}  # fmt: skip


WARMUP_ARMS = {  # (optimizer, schedule): warmup and decay separated, and RAdam's warmup built in
    "no warmup, constant η": ("rmsprop-lecture", "none"),
    "no warmup, cosine decay": ("rmsprop-lecture", "cosine"),
    "warmup, then constant η": ("rmsprop-lecture", "warmup"),
    "warmup, then cosine decay": ("rmsprop-lecture", "warmup-cosine"),
    "RAdam, constant η": ("radam", "none"),
}


def warmup(quick: bool, out: Path) -> dict:
    """The lecture's RMSProp (σ⁰ = |g⁰|, so no zero-start bias) on the digits, η = 0.1, over several seeds."""
    epochs, seeds = (2, 2) if quick else (8, 5)
    results, curves = {}, {}
    print(f"  the lecture's RMSProp, η = 0.1, 100-step warmup, digits MLP 64→64→10, {epochs} epochs, {seeds} seeds:")
    for name, (optimizer, schedule) in WARMUP_ARMS.items():
        first, accuracy, losses = [], [], []
        for seed in range(seeds):
            config = TrainConfig(dataset="digits", hidden=[64], optimizer=optimizer, lr=0.1, schedule=schedule,
                                 warmup_steps=100, epochs=epochs, seed=seed)  # fmt: skip
            run = Run.create(config)
            run.train(progress=False)
            losses.append(run.history["loss"][:300])
            first.append(float(np.mean(run.history["loss"][:100])))
            accuracy.append(run.history["test_accuracy"][-1])
        results[name] = {"first_100_mean_loss": first, "test_accuracy": accuracy}
        curves[name] = np.mean(losses, axis=0)
        print(
            f"    {name:26s}: mean loss over the first 100 steps {np.mean(first):6.3f} ± {np.std(first):5.3f}, "
            f"test accuracy {np.mean(accuracy):.3f} ± {np.std(accuracy):.3f}"
        )
    viz.plot_curves(curves, out / "schedule_warmup.png", ylabel=f"training loss (mean of {seeds} seeds)", log=True)
    # PyTorch's RMSProp starts its average from 0: at step t, σ is short by the factor √(1 − αᵗ).
    t = np.arange(1, 301)
    viz.plot_curves({"σ̂ / σ for α = 0.99: √(1 − αᵗ)": np.sqrt(1 - 0.99**t), "α = 0.9": np.sqrt(1 - 0.9**t)},
                    out / "schedule_sigma_bias.png", ylabel="σ estimate ÷ true σ", xlabel="step t")  # fmt: skip
    print(
        f"  PyTorch's RMSProp starts σ² from 0: after 1 step its σ is {math.sqrt(1 - 0.99):.2f} of the lecture's, "
        "so its first steps are 10× longer still"
    )
    return results


def every_schedule(out: Path) -> dict:
    steps = np.arange(300)
    schedules = {
        "StepLR (100, γ=0.5)": S.step_decay(1.0, 100, 0.5),
        "MultiStepLR ([60, 180])": S.multi_step_decay(1.0, [60, 180], 0.3),
        "ExponentialLR (γ=0.99)": S.exponential_decay(1.0, 0.99),
        "CosineAnnealingLR (300)": S.cosine_annealing(1.0, 300),
        "LinearLR (0.2 → 1, 50)": S.linear_ramp(1.0, 0.2, 1.0, 50),
        "WarmupLR (30) + cosine": S.linear_warmup(1.0, 30, S.cosine_annealing(1.0, 270)),
        "InverseSqrtLR (w=30, ×√30)": S.inverse_sqrt(math.sqrt(30), 1, 30),
        "OneCycleLR": S.one_cycle({"initial": 0.04, "max": 1.0, "min": 4e-6}, 300),
    }
    viz.plot_curves({name: [f(int(t)) for t in steps] for name, f in schedules.items()}, out / "schedules_all.png",
                    ylabel="ηᵗ / η", legend_outside=True)  # fmt: skip
    return {"plotted": sorted(schedules)}


def run(quick: bool, out: Path) -> dict:
    return {"explosion": explosion(quick, out), "warmup": warmup(quick, out), "schedules": every_schedule(out)}


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
