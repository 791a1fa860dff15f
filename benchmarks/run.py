"""The benchmark suite: every speed and memory claim, as ratios measured in one run.

Run:  python -m benchmarks   (or python benchmarks/run.py)

Rows compare tinygrad_edu with a hand-written numpy implementation (the
floor) and, when installed (pip install torch==2.13.0), PyTorch CPU eager at
one thread and at its default thread count.
"""

# ruff: noqa: E402, I001  (the BLAS thread count must be set, by benchmarks.timing, before numpy loads)
from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import compare, print_table, references, say_what_is_missing, seconds_per_call


from benchmarks import bench_core, bench_second_order
from benchmarks.networks import MEDIUM, SMALL, NumpyAdam, NumpyMLP, make_data, ours, torch_model
from tinygrad_edu import jit, optim
from tinygrad_edu.trainer import Run, TrainConfig


def training_step(spec, jitted=False):
    """One full step, ours: zero_grad, forward, loss, backward, Adam step (eager, or replayed by jit)."""
    model, X, y, loss_fn = ours(*spec)
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step(X, y):
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        return loss

    run = jit(step) if jitted else step
    return lambda: run(X, y)


def first_call_seconds(spec, jitted: bool, repeats: int = 20) -> tuple[float, float]:
    """The first and the second call of a step on a fresh model and optimizer, best of repeats."""
    first, second = [], []
    for _ in range(repeats):
        step = training_step(spec, jitted)
        start = time.perf_counter()
        step()
        first.append(time.perf_counter() - start)
        step()
        second.append(time.perf_counter() - start - first[-1])
    return min(first), min(second)


def trace_rows():
    """(what, the jit's first call, its first replay, an eager step, the first eager step) per network.
    A jit's first call traces; its second compiles the program and (check=True) checks it."""
    rows = []
    for spec in (SMALL, MEDIUM):
        label = "→".join(map(str, spec[0]))
        first, replay = first_call_seconds(spec, jitted=True)
        rows.append((label, first, replay, seconds_per_call(training_step(spec)), first_call_seconds(spec, False)[0]))
    return rows


def demo_seconds(jitted: bool, repeats: int = 3) -> float:
    """The demo's training (15 epochs of digits, 675 steps, with each epoch's evaluation), best of repeats."""
    best = float("inf")
    for _ in range(repeats):
        run = Run.create(TrainConfig())
        start = time.perf_counter()
        run.train(progress=False, jit=jitted)
        best = min(best, time.perf_counter() - start)
    return best


def numpy_training_step(spec):
    sizes, batch, loss = spec
    reference = NumpyMLP(sizes, loss)
    adam = NumpyAdam(reference.params)
    X, y = make_data(sizes, batch, loss)

    def step():
        _, grads = reference.loss_and_grads(X, y)
        adam.step(grads)

    return step


def torch_training_step(torch, spec):
    sizes, batch, loss = spec
    model, loss_fn = torch_model(torch, sizes, loss)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xn, yn = make_data(sizes, batch, loss)
    X, y = torch.from_numpy(Xn), torch.from_numpy(yn)

    def step():
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()

    return step


def step_rows(torch):
    rows = []
    for spec in (SMALL, MEDIUM):
        label = "Adam step " + "→".join(map(str, spec[0])) + f", batch {spec[1]}"
        mine = training_step(spec)
        rows.append((label, *compare(mine, numpy_training_step(spec)), "hand-written numpy + Adam"))
        rows.append((label + ", jit", *compare(training_step(spec, True), numpy_training_step(spec)),
                     "hand-written numpy + Adam"))  # fmt: skip
        if torch is not None:  # ours runs on one BLAS thread; PyTorch at one and at every core
            for threads in sorted({1, os.cpu_count() or 1}):
                torch.set_num_threads(threads)
                rows.append(
                    (label, *compare(mine, torch_training_step(torch, spec)), f"PyTorch eager, {threads} thread(s)")
                )
            torch.set_num_threads(1)
    return rows


def peak_bytes(step, repeats: int = 3) -> int:
    step()  # allocate optimizer state and caches first (a jitted step: traces)
    step()  # (a jitted step: compiles and checks its program)
    tracemalloc.start()
    for _ in range(repeats):
        step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def memory_rows():
    rows = []
    for spec in (SMALL, MEDIUM):
        label = "→".join(map(str, spec[0]))
        mine, floor = peak_bytes(training_step(spec)), peak_bytes(numpy_training_step(spec))
        rows.append((label, mine, floor))
        rows.append((label + ", jit", peak_bytes(training_step(spec, True)), floor))
    return rows


def chain_rows(torch):
    ours_seconds = bench_core.chain_seconds()
    line = f"100,000-node chain backward: {ours_seconds:.3f} s (target < 1 s)"
    if torch is not None:
        x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        y = x
        for _ in range(100_000):
            y = y * 1.0
        start = time.perf_counter()
        y.backward()
        line += f"; PyTorch {time.perf_counter() - start:.3f} s"
    return line


def main() -> None:
    torch, micrograd_value = references()
    per_op = bench_core.per_op_rows(torch, micrograd_value)
    print_table("Per-op overhead (targets: tracked ≤ micrograd's Value add; untracked ≤ ½ tracked)", per_op)
    print_table("Scalar code (target: ≤ PyTorch eager)", bench_core.scalar_chain_rows(torch))
    print_table(
        "Training step (targets: eager ≤ 2× numpy, ≤ 1× PyTorch at the same thread count; jit ≤ 1× numpy)",
        step_rows(torch),
    )
    print("\nTracing (target: the first call ≤ 3× an eager step; the first replay also compiles and checks)")
    for label, first, replay, eager, eager_first in trace_rows():
        print(f"  {label:11s} first call {first * 1e6:4.0f}µs = {first / eager:3.1f}× an eager step "
              f"({eager * 1e6:.0f}µs), {first / eager_first:3.1f}× the first one ({eager_first * 1e6:.0f}µs); "
              f"first replay {replay * 1e6:4.0f}µs = {replay / eager:4.1f}×")  # fmt: skip
    eager, jitted = demo_seconds(False), demo_seconds(True)
    print(f"  the demo's training: eager {eager:.3f} s, jit {jitted:.3f} s ({eager / jitted:.2f}× faster)")
    print_table(bench_second_order.TITLE, bench_second_order.hvp_rows(torch))
    bench_second_order.lanczos_report()
    bench_second_order.demo_check_report()
    print("\n" + chain_rows(torch))
    print("\nPeak memory of a training step (tracemalloc; target ≤ 2× numpy)")
    for label, mine, floor in memory_rows():
        print(f"  {label:19s} ours {mine / 1024:8.1f} KiB, numpy {floor / 1024:8.1f} KiB, ratio {mine / floor:.2f}×")
    say_what_is_missing(torch, micrograd_value)


if __name__ == "__main__":
    main()
