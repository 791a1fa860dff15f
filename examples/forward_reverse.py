"""Forward against reverse mode: the cost of a Jacobian as the numbers of inputs and outputs vary.

f(x) = tanh(W·x) maps n inputs to m outputs.  Forward mode takes one tangent
sweep per input (jacobian(mode="forward")), reverse mode one backward per
output (mode="reverse"): forward mode's time grows with n, reverse mode's
with m.  The script measures both and counts the sweeps.

    python examples/forward_reverse.py [--quick]
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import main

from tinygrad_edu import Tensor, autograd, jacobian, viz


def counted_jacobian(f, x: np.ndarray, mode: str) -> tuple[float, int, np.ndarray]:
    """(seconds, sweeps, J): the best of three timings, and how many sweeps one Jacobian took."""
    name = "tangent_sweep" if mode == "forward" else "sweep"  # what jacobian calls, once per sweep
    sweep = getattr(autograd, name)
    calls = [0]

    def counting(*args, **kwargs):
        calls[0] += 1
        return sweep(*args, **kwargs)

    setattr(autograd, name, counting)
    try:
        best = np.inf
        for _ in range(3):
            calls[0] = 0
            start = time.perf_counter()
            J = jacobian(f, x, mode=mode)
            best = min(best, time.perf_counter() - start)
    finally:
        setattr(autograd, name, sweep)
    return best, calls[0], J.data


def run(quick: bool, out: Path) -> dict:
    sizes = [2, 8, 32] if quick else [2, 4, 8, 16, 32, 64, 128]
    fixed = 8
    rng = np.random.default_rng(0)
    results: dict = {"inputs": {}, "outputs": {}}
    for varying in ("inputs", "outputs"):
        for size in sizes:
            n, m = (size, fixed) if varying == "inputs" else (fixed, size)
            W = Tensor(rng.standard_normal((m, n)) / np.sqrt(n))

            def f(x, W=W):
                return (W @ x).tanh()

            x = rng.standard_normal(n)
            forward = counted_jacobian(f, x, "forward")
            reverse = counted_jacobian(f, x, "reverse")
            assert np.allclose(forward[2], reverse[2])
            results[varying][size] = {"forward_s": forward[0], "forward_sweeps": forward[1],
                                      "reverse_s": reverse[0], "reverse_sweeps": reverse[1]}  # fmt: skip
    print(f"Jacobian of tanh(W·x), {fixed} outputs, as the inputs grow:")
    for n, r in results["inputs"].items():
        print(f"  n = {n:4d} inputs:  forward {r['forward_s'] * 1e3:7.2f} ms ({r['forward_sweeps']:3d} sweeps), "
              f"reverse {r['reverse_s'] * 1e3:7.2f} ms ({r['reverse_sweeps']:3d} sweeps)")  # fmt: skip
    print(f"and with {fixed} inputs, as the outputs grow:")
    for m, r in results["outputs"].items():
        print(f"  m = {m:4d} outputs: forward {r['forward_s'] * 1e3:7.2f} ms ({r['forward_sweeps']:3d} sweeps), "
              f"reverse {r['reverse_s'] * 1e3:7.2f} ms ({r['reverse_sweeps']:3d} sweeps)")  # fmt: skip
    plt = viz._pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, varying, label in zip(
        axes, ("inputs", "outputs"), (f"inputs n ({fixed} outputs)", f"outputs m ({fixed} inputs)")
    ):
        grid = list(results[varying])
        for mode in ("forward", "reverse"):
            ax.plot(grid, [results[varying][s][f"{mode}_s"] * 1e3 for s in grid], "o-", label=f"{mode} mode")
        ax.set(xscale="log", yscale="log", xlabel=label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("time of one Jacobian (ms)")
    axes[0].legend()
    viz._save(fig, out / "autodiff_forward_reverse.png")
    return results


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
