"""The web pages: file size, and the time each takes in headless Chromium to
load and show its last step (the page's own clock, performance.now(), when its
script has drawn that step).

Run:  python benchmarks/bench_pages.py   (needs Graphviz's dot and Chromium)
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from tinygrad_edu import Tensor, optimizer_page, stepper  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def fifty_node_graph() -> Tensor:
    """25 tensors and 25 operations (the sum included)."""
    x = Tensor(np.linspace(-1, 1, 5), requires_grad=True, name="x")
    y = x
    for k in range(24):
        y = (y * 0.9).tanh() if k % 2 else y + x
    return y.sum()


def ready_ms(chromium: str, page: Path, fragment: str, repeats: int = 5) -> float:
    """Median over fresh browser starts of the page's own time to its drawn step."""
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as profile:
            dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                                  f"{page.resolve().as_uri()}#{fragment}"],
                                 capture_output=True, text=True, check=True, timeout=60).stdout  # fmt: skip
        times.append(float(re.search(r'data-ready-ms="([\d.]+)"', dom).group(1)))
    return statistics.median(times)


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or shutil.which("dot") is None:
        sys.exit("needs headless Chromium and Graphviz's dot (Debian: apt-get install chromium graphviz)")
    folder = Path(tempfile.mkdtemp(prefix="tinygrad-edu-pages-"))
    root = fifty_node_graph()
    steps = stepper.story(root).steps
    graph = stepper.to_html(root, folder / "graph.html")
    optimizers = optimizer_page.write(folder / "optimizers.html")
    rows = [
        ("step-through page, 50-node graph", graph, f"step={len(steps) - 1}", 200_000, f"{len(steps)} steps"),
        ("optimizers page", optimizers, "step=100", 2_000_000, "360 runs × 100 steps"),
    ]
    print(f"{'page':36} {'size':>10} {'target':>10} {'ready at last step':>20}")
    for name, page, fragment, limit, what in rows:
        size = page.stat().st_size
        print(f"{name:36} {size / 1000:>8.0f} kB {limit / 1000:>7.0f} kB {ready_ms(chromium, page, fragment):>17.0f} ms"
              f"   ({what})")  # fmt: skip


if __name__ == "__main__":
    main()
