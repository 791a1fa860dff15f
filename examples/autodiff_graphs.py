"""The figures of "autodiff from the inside": the graph of a small expression
with its gradients, the page that steps through its forward and backward pass,
and the graph that backward(create_graph=True) records — the reason a second
backward gives Hessian-vector products.

    python examples/autodiff_graphs.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from _common import main

from tinygrad_edu import Tensor, grad, nn, viz


def render(graph: Any, out: Path, name: str) -> str:
    """Write the graph as SVG (or only its .dot file when Graphviz is missing)."""
    try:
        return viz.render(graph, out / name, "svg").name
    except viz.GraphvizMissing as missing:
        print(f"note: {missing}")
        return f"{name}.dot"


def step_through(root: Tensor, out: Path, name: str) -> str | None:
    """Write the step-through page of root's forward and backward pass (it needs Graphviz too)."""
    try:
        return viz.to_html(root, out / name).name
    except viz.GraphvizMissing as missing:
        print(f"note: {missing}")
        return None


def run(quick: bool, out: Path) -> dict:
    a = Tensor(-4.0, requires_grad=True, name="a")
    b = Tensor(2.0, requires_grad=True, name="b")
    ab, b_cubed = a * b, b**3
    c = ab + b_cubed
    ab.name, b_cubed.name, c.name = "a·b", "b³", "c"  # boxes that say what they hold
    for t in (ab, b_cubed, c):  # non-leaf tensors keep their gradient only when asked to
        t.retain_grad()
    c.backward()  # frees what the rules saved, keeps the graph's structure: it can still be drawn
    print(f"c = a·b + b³ = {c.item():g};  ∂c/∂a = b = {a.grad.item():g},  ∂c/∂b = a + 3b² = {b.grad.item():g}")
    steps = step_through(c, out, "autodiff_steps.html")  # the graph was freed: the page recomputes what it needs
    c.name = "c = a·b + b³"
    forward = render(viz.draw_graph(c), out, "autodiff_forward")

    x = Tensor(1.5, requires_grad=True, name="x")
    y = x**3
    y.name = "y = x³"
    (dy,) = grad(y, x, create_graph=True)  # 3x², as a graph of its own
    dy.name = "dy/dx"
    (d2y,) = grad(dy, x, retain_graph=True)
    print(f"y = x³ at x = 1.5: dy/dx = 3x² = {dy.item():g} (a Tensor with a graph), d²y/dx² = 6x = {d2y.item():g}")
    backward = render(viz.draw_graph(dy), out, "autodiff_double_backward")

    model = nn.MLP([2, 3, 1], generator=np.random.default_rng(0))
    with viz.record_modules(model):  # tag each layer's operations with the layer's name
        loss = nn.functional.mse_loss(model(np.ones((4, 2))), np.zeros((4, 1)))
    collapsed = render(viz.draw_graph(loss, collapse=True, show_values=False), out, "autodiff_mlp_collapsed")
    print(f"MLP 2→3→1 with its loss: its {len(model.parameters())} parameter tensors are hidden in 3 module boxes")
    return {"c": c.item(), "dc_da": a.grad.item(), "dc_db": b.grad.item(), "dy": dy.item(), "d2y": d2y.item(),
            "figures": [forward, backward, collapsed], "page": steps}  # fmt: skip


if __name__ == "__main__":
    main(run, __doc__.splitlines()[0])
