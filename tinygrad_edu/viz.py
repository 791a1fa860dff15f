"""Seeing what autodiff does: computation graphs (Graphviz) and plots (matplotlib).

``draw_graph(t)`` walks the graph behind a tensor and returns a
``graphviz.Digraph``: one box per tensor (name, shape, value, gradient) and one
ellipse per operation.  ``to_dot`` gives the DOT text and needs no binary;
``render`` turns it into SVG/PNG/PDF with Graphviz's ``dot`` and, when ``dot``
is missing, writes the .dot file and says how to install it.

The plots need matplotlib (``pip install tinygrad-edu[plots]``).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.engine import Function
from tinygrad_edu.files import atomic_path
from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Tensor

SMALL = 8  # tensors with at most this many elements show every value


# ------------------------------------------------------------ graph drawing
def summary(array: np.ndarray) -> str:
    if array.size <= SMALL:
        flat = np.asarray(array).ravel() if np.ndim(array) else np.asarray(array)
        return np.array2string(flat, precision=4, separator=", ", suppress_small=True, max_line_width=10**6)
    return f"mean {array.mean():.4g}, min {array.min():.4g}, max {array.max():.4g}"


def tensor_lines(t: Tensor | Any, show_values: bool, names: dict[int, str]) -> list[str]:
    """Name, shape, value and gradient of a tensor, escaped for Graphviz; a
    constant input of an op (2 in x * 2) is a "const"."""
    if not isinstance(t, Tensor):
        t = Tensor(t)
    lines = [tensor_title(t, names)]
    if show_values:
        lines.append(f"data {summary(t.data)}")
        if t.grad is not None:
            lines.append(f"grad {summary(t.grad.data)}")
    return [graphviz.escape(line) for line in lines]


def tensor_title(t: Tensor, names: dict[int, str]) -> str:
    title = names.get(id(t)) or t.name or ("param" if t.is_leaf and t.requires_grad else "const" if t.is_leaf else "")
    return f"{title} {t.shape}".strip() if t.ndim else title or "scalar"


def _op_label(node: Function) -> str:
    label = f"**{node.options['exponent']:g}" if node.op is ops.PowScalar else node.name  # x**3 reads better
    return graphviz.nohtml(graphviz.escape(label))


@contextlib.contextmanager
def record_modules(model: Module) -> Iterator[None]:
    """While active, calls of the direct children of ``model`` tag the
    operations they perform, so ``draw_graph(..., collapse=True)`` can draw
    each child as one box."""
    originals = {}
    children = dict(model.named_children())
    for name, child in children.items():
        originals[name] = child.__dict__.get("forward")

        def traced(*inputs: Any, _child: Module = child, _name: str = name) -> Any:
            out = type(_child).forward(_child, *inputs)
            _tag(out, inputs, f"{_name}: {type(_child).__name__}")
            return out

        object.__setattr__(child, "forward", traced)
    try:
        yield
    finally:
        for name, child in children.items():
            if originals[name] is None:
                del child.__dict__["forward"]
            else:
                object.__setattr__(child, "forward", originals[name])


def _tag(out: Any, inputs: Sequence[Any], scope: str) -> None:
    """Mark every node between the inputs and out as belonging to scope."""
    if not isinstance(out, Tensor):
        return
    stop = {id(x) for x in inputs if isinstance(x, Tensor)}
    stack = [out]
    while stack:
        t = stack.pop()
        node = t._node
        if node is None or id(t) in stop or node.scope is not None:
            continue
        node.scope = scope
        stack.extend(x for x in node.inputs if isinstance(x, Tensor) and (not x.requires_grad or x._node is not None))


@dataclass
class Drawing:
    """What a drawing of the graph shows, before any Graphviz: ``tensors`` (box
    id -> Tensor or constant), ``ops`` (ellipse id -> Function; with
    ``collapse``, box id -> module name) and ``edges`` (tail id, head id), in
    visiting order so that the same graph gives the same ids, and ``op_of``:
    the drawn id of every node behind the root, a collapsed module's inner
    nodes included."""

    tensors: dict[str, Any] = field(default_factory=dict)
    ops: dict[str, Function | str] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    op_of: dict[Function, str] = field(default_factory=dict)


def walk(root: Tensor, collapse: bool = False) -> Drawing:
    """The boxes, ellipses and edges of the graph behind ``root``.  With
    ``collapse``, the operations tagged by ``record_modules`` become one box
    per module, hiding its inner tensors and its parameters."""
    drawing = Drawing()
    ids: dict[int, str] = {}  # id(tensor or node) -> "t3", "f4"; module name -> "m0"
    edges: set[tuple[str, str]] = set()

    def scope_of(t: Any) -> str | None:
        return t._node.scope if collapse and isinstance(t, Tensor) and t._node is not None else None

    def tensor_box(t: Any) -> str:
        if id(t) not in ids:
            ids[id(t)] = f"t{len(ids)}"
            drawing.tensors[ids[id(t)]] = t
        return ids[id(t)]

    def edge(tail: str, head: str) -> None:
        if (tail, head) not in edges:
            edges.add((tail, head))
            drawing.edges.append((tail, head))

    tensor_box(root)
    stack = [(root, True)]  # (tensor, whether it is drawn)
    while stack:
        t, visible = stack.pop()
        node = t._node if isinstance(t, Tensor) else None
        if node is None:  # a leaf or a constant
            continue
        scope = scope_of(t)
        if scope:
            op = drawing.op_of.get(node) or next((k for k, v in drawing.ops.items() if v == scope), None)
            if op is None:
                op = f"m{sum(isinstance(v, str) for v in drawing.ops.values())}"
                drawing.ops[op] = scope
        else:
            op = ids.setdefault(id(node), f"f{len(ids)}")
            drawing.ops[op] = node
        if visible:
            edge(op, tensor_box(t))
        if node in drawing.op_of:  # its inputs are drawn already
            continue
        drawing.op_of[node] = op
        for x in node.inputs:
            if scope and scope_of(x) == scope:  # inside the same collapsed module
                stack.append((x, False))
            elif scope and isinstance(x, Tensor) and x.is_leaf and x.requires_grad:  # the module's own parameter
                continue
            else:
                edge(tensor_box(x), op)
                stack.append((x, True))
    return drawing


def draw_graph(
    root: Tensor,
    rankdir: str = "LR",
    show_values: bool = True,
    collapse: bool = False,
    params: dict[str, Tensor] | None = None,
    label: Callable[[Any], str] | None = None,
) -> graphviz.Digraph:
    """The computation graph behind ``root``: tensors as boxes, operations as ellipses.

    ``rankdir`` "LR" (left to right) or "TB" (top down).  ``params`` names
    tensors in the drawing, e.g. ``dict(model.named_parameters())``.  With
    ``collapse``, the operations tagged by ``record_modules`` are drawn as one
    box per module, hiding its inner tensors and its parameters.  ``label``
    replaces the boxes' text (lines joined by newlines).
    """
    if rankdir not in ("LR", "TB"):
        raise ValueError(f"rankdir must be 'LR' or 'TB', got {rankdir!r}.")
    return to_digraph(walk(root, collapse), rankdir, label or _labeller(show_values, params))


def _labeller(show_values: bool, params: dict[str, Tensor] | None) -> Callable[[Any], str]:
    names = {id(t): name for name, t in (params or {}).items()}
    return lambda t: "\\n".join(tensor_lines(t, show_values, names))


def to_digraph(drawing: Drawing, rankdir: str, label: Callable[[Any], str]) -> graphviz.Digraph:
    dot = graphviz.Digraph(graph_attr={"rankdir": rankdir}, node_attr={"fontname": "Helvetica", "fontsize": "11"})
    for key, t in drawing.tensors.items():
        dot.node(key, graphviz.nohtml(label(t)), shape="box", style="rounded")
    for key, op in drawing.ops.items():
        if isinstance(op, str):  # a collapsed module
            dot.node(key, graphviz.escape(op), shape="box3d", style="filled", fillcolor="lightyellow")
        else:
            dot.node(key, _op_label(op), shape="ellipse", style="filled", fillcolor="lightblue")
    for tail, head in drawing.edges:
        dot.edge(tail, head)
    return dot


def to_dot(root: Tensor, **options: Any) -> str:
    """The DOT source of ``draw_graph(root, **options)``; needs no Graphviz binary."""
    return draw_graph(root, **options).source


def to_html(root: Tensor, path: str | Path, **options: Any) -> Path:
    """A self-contained page stepping through the forward and backward pass of
    ``root`` (``path#step=N`` opens step N); see ``stepper.to_html`` for the options."""
    from tinygrad_edu import stepper  # the stepper draws with this module, so it is imported when used

    return stepper.to_html(root, path, **options)


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` program is not installed; the .dot file was written instead."""


def render(graph: graphviz.Digraph | Tensor, path: str | Path, format: str = "svg", timeout: float = 60.0) -> Path:
    """Write the graph to ``path`` (extension added) as svg, png or pdf.

    Without Graphviz's ``dot`` it writes ``path.dot`` and raises GraphvizMissing
    with the install command.  A layout that takes longer than ``timeout``
    seconds (a node with hundreds of edges can take minutes) is stopped with
    a RuntimeError that says so; the .dot file is there either way.
    """
    if isinstance(graph, Tensor):
        graph = draw_graph(graph)
    if format not in ("svg", "png", "pdf"):
        raise ValueError(f"format must be svg, png or pdf, got {format!r}.")
    path = Path(path)
    dot_file = path.with_suffix(".dot")
    with atomic_path(dot_file) as temporary:
        temporary.write_text(graph.source)
    target = path.with_suffix("." + format)
    try:
        drawn = layout(graph, format, timeout)
    except GraphvizMissing as missing:
        raise GraphvizMissing(f"{missing}: only the DOT source was written, to {dot_file}; then run: "
                              f"dot -T{format} {dot_file} -o {target}") from None  # fmt: skip
    except RuntimeError as failed:
        raise RuntimeError(f"{failed}; {target} was not written (the DOT source is in {dot_file})") from None
    with atomic_path(target) as temporary:
        temporary.write_bytes(drawn)
    return target


def layout(graph: graphviz.Digraph, format: str = "svg", timeout: float = 60.0) -> bytes:
    """The graph drawn by Graphviz's ``dot`` (GraphvizMissing when it is not installed)."""
    if shutil.which("dot") is None:
        raise GraphvizMissing(
            "Graphviz's `dot` program is not installed "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
        )
    try:
        return subprocess.run(["dot", f"-T{format}"], input=graph.source.encode(), capture_output=True,
                              timeout=timeout, check=True).stdout  # fmt: skip
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"Graphviz needed more than {timeout:g} s to lay out the graph ({graph.source.count(' -> ')} edges); "
            "draw a smaller graph"
        ) from None
    except subprocess.CalledProcessError as failed:
        raise RuntimeError(f"Graphviz could not draw the graph: {failed.stderr.decode().strip()[:300]}") from None


# ------------------------------------------------------------ plots
def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "plots need matplotlib: pip install matplotlib (or pip install 'tinygrad-edu[plots]')."
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path, tight: bool = True) -> Path:
    if tight:
        fig.tight_layout()
    try:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, dpi=110, format=Path(path).suffix.lstrip(".") or "png")
    finally:
        _pyplot().close(fig)
    return Path(path)


def plot_curves(
    curves: dict[str, Sequence[float]],
    path: str | Path,
    xlabel: str = "step",
    ylabel: str = "loss",
    log: bool = False,
    legend_outside: bool = False,
    x: Sequence[float] | None = None,
    log_x: bool = False,
) -> Path:
    """Several named curves (loss, accuracy, learning rate, ...) on one axis, against the
    step or against ``x``; with many curves, ``legend_outside`` keeps the legend off the lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 3.6) if legend_outside else (6, 3.6))
    for label, values in curves.items():
        ax.plot(np.arange(len(values)) if x is None else x, values, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if log:
        ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(**({"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": 8} if legend_outside else {}))
    return _save(fig, path)


def plot_surface(
    loss: Any,
    path: str | Path,
    xlim: tuple[float, float] = (-2.0, 2.0),
    ylim: tuple[float, float] = (-2.0, 2.0),
    trajectories: dict[str, np.ndarray] | None = None,
    points: dict[str, tuple[float, float]] | None = None,
    resolution: int = 120,
    log: bool = False,
    title: str = "",
    axis_labels: tuple[str, str] = ("θ₁", "θ₂"),
    lines: dict[str, np.ndarray] | None = None,
    small_multiples: bool = False,
) -> Path:
    """Contours of a 2-D error surface loss(x, y) (numpy-vectorised) with
    optimizer trajectories (arrays of shape (steps, 2)), marked points, and
    marked curves (``lines``: arrays of shape (n, 2), NaN rows break a curve).
    With ``small_multiples``, one panel per trajectory instead of all on one."""
    plt = _pyplot()
    xs, ys = np.linspace(*xlim, resolution), np.linspace(*ylim, resolution)
    X, Y = np.meshgrid(xs, ys)
    Z = np.asarray(loss(X, Y), dtype=float)
    if log:  # contours of log₁₀ L show both the valley floor and the steep walls
        Z = np.log10(Z - Z.min() + 1e-3 * (Z.max() - Z.min() + 1e-12))
    panels = [{name: path} for name, path in (trajectories or {}).items()] if small_multiples else [trajectories or {}]
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns + 1, 3.4 * rows) if small_multiples else (5.5, 4.6),
                             squeeze=False, sharex=True, sharey=True)  # fmt: skip
    for ax, panel in zip(axes.flat, panels):
        contour = ax.contourf(X, Y, Z, levels=30, cmap="viridis")
        for label, curve in (lines or {}).items():
            curve = np.asarray(curve)
            ax.plot(curve[:, 0], curve[:, 1], "--", color="white", linewidth=1.5, label=label)
        for label, path_points in panel.items():
            path_points = np.asarray(path_points)
            few = len(path_points) < 10  # a step or two: draw them large enough to see
            style = dict(markersize=6 if few else 3, linewidth=2.5 if few else 1.2, label=label)
            if small_multiples:
                style["color"] = "tab:orange"  # one path per panel: the same bright colour in each
            ax.plot(path_points[:, 0], path_points[:, 1], "o-" if few else ".-", **style)
        for label, (px, py) in (points or {}).items():
            ax.plot([px], [py], "r*", markersize=12)
            if not small_multiples:  # in small panels the star says it
                ax.annotate(label, (px, py), textcoords="offset points", xytext=(6, 6), color="white")
        ax.set(xlim=xlim, ylim=ylim, xlabel=axis_labels[0], ylabel=axis_labels[1])
        if small_multiples:
            ax.set_title(next(iter(panel)), fontsize=9)
        elif panel or lines:
            ax.legend(loc="upper right", fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.colorbar(contour, ax=axes if small_multiples else axes[0, 0], label="log₁₀ (loss − min)" if log else "loss")
    fig.suptitle(title) if small_multiples else axes[0, 0].set_title(title)
    return _save(fig, path, tight=not small_multiples)


def plot_spectrum(eigenvalues: np.ndarray, path: str | Path, title: str = "Hessian eigenvalues") -> Path:
    """A histogram of Hessian eigenvalues with 0 marked (negative = saddle directions)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.hist(np.asarray(eigenvalues), bins=60, color="steelblue")
    ax.axvline(0.0, color="red", linewidth=1)
    ax.set(xlabel="eigenvalue", ylabel="count", title=title)
    ax.set_yscale("log")
    return _save(fig, path)


def plot_density(grid: np.ndarray, density: np.ndarray, path: str | Path, title: str = "spectral density") -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(grid, density)
    ax.axvline(0.0, color="red", linewidth=1)
    ax.set(xlabel="eigenvalue", ylabel="density", title=title)
    return _save(fig, path)


def plot_scatter(
    x: Sequence[float],
    y: Sequence[float],
    path: str | Path,
    xlabel: str,
    ylabel: str,
    title: str = "",
    xlim: tuple[float, float] | None = None,
    groups: Sequence[str] | None = None,
    log_y: bool = False,
) -> Path:
    """Points (x, y); ``groups`` names each point's kind (one colour and legend entry a kind)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    kinds = np.asarray(groups if groups is not None else [""] * len(x))
    for kind in dict.fromkeys(kinds):
        chosen = kinds == kind
        ax.scatter(np.asarray(x)[chosen], np.asarray(y)[chosen], s=18, alpha=0.8, label=kind or None)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if xlim is not None:
        ax.set_xlim(*xlim)
    if log_y:
        ax.set_yscale("log")
    if groups is not None:
        ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)
