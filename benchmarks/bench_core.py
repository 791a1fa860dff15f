"""Core engine speed: per-op overhead, MLP forward+backward, a 100,000-node chain.

Run:  python benchmarks/bench_core.py     (ratios: ours ÷ reference, lower is better)
"""

# ruff: noqa: E402, I001  (the BLAS thread count must be set, by benchmarks.timing, before numpy loads)
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import compare, print_table, references, say_what_is_missing

import numpy as np

from benchmarks.networks import MEDIUM, SMALL, NumpyMLP, make_data, ours, torch_model
from tinygrad_edu import Tensor, no_grad


class Boxed:
    """The least any tensor type written in Python does for ``x + y``: call its method, add the
    numpy arrays, wrap the sum in one new object; no checks, no graph (the untracked add's floor)."""

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray) -> None:
        self.data = data

    def __add__(self, other: Boxed) -> Boxed:
        out = object.__new__(Boxed)
        out.data = self.data + other.data
        return out


def per_op_rows(torch=None, micrograd_value=None):
    """One operation on 1-element tensors: the cost of the engine's bookkeeping."""
    a, b = np.ones(1), np.ones(1)
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    plain_x, plain_y = Tensor(a), Tensor(b)
    rows = [
        ("add, 1 element, tracked (records the graph)", *compare(lambda: x + y, lambda: a + b), "numpy add"),
        (
            "add, 1 element, untracked (target ≤ 0.5×)",
            *compare(lambda: plain_x + plain_y, lambda: x + y),
            "our tracked add",
        ),
    ]
    with no_grad():
        rows.append(("add, 1 element, requires_grad, no_grad()", *compare(lambda: x + y, lambda: a + b), "numpy add"))
    if micrograd_value is not None:
        u, w = micrograd_value(1.0), micrograd_value(1.0)
        rows.append(
            ("add, 1 element, tracked (target ≤ 1×)", *compare(lambda: x + y, lambda: u + w), "micrograd Value add")
        )
        floor_x, floor_y = Boxed(a), Boxed(b)  # both targets together ask untracked ≤ 0.5× micrograd's add
        rows.append(("floor of any untracked add (Boxed)", *compare(lambda: floor_x + floor_y, lambda: u + w),
                     "micrograd Value add"))  # fmt: skip
    if torch is not None:
        ta = torch.ones(1, dtype=torch.float64, requires_grad=True)
        tb = torch.ones(1, dtype=torch.float64, requires_grad=True)
        rows.append(("add, 1 element, tracked", *compare(lambda: x + y, lambda: ta + tb), "PyTorch tracked add"))
    big_a, big_b = np.ones((256, 256)), np.ones((256, 256))
    bx, by = Tensor(big_a, requires_grad=True), Tensor(big_b, requires_grad=True)
    rows.append(("add, 256×256, tracked", *compare(lambda: bx + by, lambda: big_a + big_b), "numpy add"))
    return rows


def scalar_chain_rows(torch=None, steps: int = 10_000):
    """y = y·1.0001 + 0.0001, ``steps`` times on a 1-element tensor, then backward:
    micrograd-style scalar code, where all the cost is per operation."""

    def ours():
        x = Tensor(np.ones(1), requires_grad=True)
        y = x
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        y.backward(np.ones(1))

    def numpy_by_hand():  # the same forward, and the chain rule written out: dy/dx = 1.0001^steps
        y = np.ones(1)
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        g = np.ones(1)
        for _ in range(steps):
            g = g * 1.0001

    label = f"scalar chain of {steps:,} steps, fwd + bwd"
    rows = [(label, *compare(ours, numpy_by_hand, min_time=0.3, repeats=5), "hand-written numpy")]
    if torch is not None:
        torch.set_num_threads(1)

        def pytorch():
            x = torch.ones(1, dtype=torch.float64, requires_grad=True)
            y = x
            for _ in range(steps):
                y = y * 1.0001 + 0.0001
            y.backward(torch.ones(1, dtype=torch.float64))

        rows.append(
            (label + " (target ≤ 1×)", *compare(ours, pytorch, min_time=0.3, repeats=5), "PyTorch eager, 1 thread")
        )
    return rows


def mlp_rows(spec, torch):
    sizes, batch, loss = spec
    label = "→".join(map(str, sizes)) + f", batch {batch}"
    model, X, y, loss_fn = ours(sizes, batch, loss)

    def step():
        model.zero_grad()
        loss_fn(model(X), y).backward()

    reference = NumpyMLP(sizes, loss)
    Xn, yn = make_data(sizes, batch, loss)
    rows = [(f"MLP fwd+bwd {label}", *compare(step, lambda: reference.loss_and_grads(Xn, yn)), "hand-written numpy")]
    if torch is not None:
        torch.set_num_threads(1)
        tmodel, tloss = torch_model(torch, sizes, loss)
        tX = torch.from_numpy(Xn)
        ty = torch.from_numpy(yn)

        def torch_step():
            tmodel.zero_grad()
            tloss(tmodel(tX), ty).backward()

        rows.append((f"MLP fwd+bwd {label}", *compare(step, torch_step), "PyTorch eager, 1 thread"))
    return rows


def chain_seconds(n=100_000):
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0
    start = time.perf_counter()
    y.backward()
    return time.perf_counter() - start


def main() -> None:
    torch, micrograd_value = references()
    print_table("Per-op overhead", per_op_rows(torch, micrograd_value))
    print_table("Scalar code", scalar_chain_rows(torch))
    print_table("MLP forward + backward (loss included)", mlp_rows(SMALL, torch) + mlp_rows(MEDIUM, torch))
    print(f"\n100,000-node chain: backward {chain_seconds():.3f} s (target < 1 s)")
    say_what_is_missing(torch, micrograd_value)


if __name__ == "__main__":
    main()
