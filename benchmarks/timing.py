"""Shared timing helpers: one BLAS thread, best-of-repeats medians, a ratio table."""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # tiny networks: threads only add overhead
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gc  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402


def _calls_for(fn: Callable[[], object], min_time: float) -> int:
    """How many calls take about min_time."""
    fn()  # warm up caches and lazy imports
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 10:
            return max(1, int(calls * min_time / elapsed))
        calls *= 2


def _run(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def seconds_per_call(fn: Callable[[], object], min_time: float = 0.05, repeats: int = 7) -> float:
    """Best over `repeats` runs of the mean time per call (the least disturbed run)."""
    calls = _calls_for(fn, min_time)
    return min(_run(fn, calls) for _ in range(repeats))


def compare(ours: Callable[[], object], reference: Callable[[], object], min_time: float = 0.05, repeats: int = 9):
    """Seconds per call of both, measured in alternation so that machine noise hits both alike."""
    calls_ours, calls_ref = _calls_for(ours, min_time), _calls_for(reference, min_time)
    best_ours = best_ref = float("inf")
    for _ in range(repeats):
        best_ours = min(best_ours, _run(ours, calls_ours))
        best_ref = min(best_ref, _run(reference, calls_ref))
    return best_ours, best_ref


def torch_or_none():
    """PyTorch if installed (pip install torch==2.13.0), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def micrograd_value_or_none():
    """micrograd's Value class if installed (pip install micrograd), else None."""
    try:
        from micrograd.engine import Value
    except ImportError:
        return None
    return Value


def references() -> tuple[object, object]:
    """(torch, micrograd's Value), each None if not installed; then the allocator is settled
    (settle_the_allocator) and every object imported so far is frozen out of the garbage
    collector's scans (freeze_imported_objects)."""
    torch, micrograd_value = torch_or_none(), micrograd_value_or_none()
    settle_the_allocator()
    freeze_imported_objects()
    return torch, micrograd_value


def say_what_is_missing(torch: object, micrograd_value: object) -> None:
    """A line for each optional reference that is not installed, and how to add it."""
    if torch is None:
        print("\n(PyTorch is not installed: pip install torch==2.13.0 adds its rows.)")
    if micrograd_value is None:
        print("(micrograd is not installed: pip install micrograd adds its row.)")


def settle_the_allocator() -> None:
    """Free one 8 MB array, as every program that has loaded data has done.  glibc serves
    such an array by mmap, and freeing it raises its thresholds (mmap to 8 MB, trimming to
    16 MB).  Before that, a process that frees more than 128 KB at the top of its heap hands
    the memory back to the OS, and the next call page-faults it in again: a fresh process
    timing an HVP of the 64→128→10 MLP saw 620 µs instead of 330 µs (64 page faults a call)."""
    import numpy as np

    np.ones(1 << 20)  # allocated and, unreferenced, freed at once


def freeze_imported_objects() -> None:
    """Hide every object created so far (PyTorch alone brings ~10⁶) from Python's
    garbage collector, so that collections during our timings scan only what the
    benchmark creates: ours are then timed as in a process without PyTorch."""
    gc.collect()
    gc.freeze()


def print_table(title: str, rows: list[tuple[str, float, float, str]]) -> None:
    """rows: (what, ours in seconds, reference in seconds, reference name)."""
    print(f"\n{title}")
    print(f"  {'benchmark':44s} {'ours':>10s} {'reference':>10s} {'ratio':>7s}  reference")
    for what, ours, ref, ref_name in rows:
        print(f"  {what:44s} {ours * 1e6:8.1f}µs {ref * 1e6:8.1f}µs {ours / ref:6.2f}×  {ref_name}")
