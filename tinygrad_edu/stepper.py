"""Step through the forward and the backward pass of a graph, one node at a time.

``story(root)`` tells what happens, in order:

* step 0: the graph with only the inputs' values;
* forward: each operation in evaluation order, its output's value appearing;
* backward: the seed ȳ = 1 at the output, then every use of every input in
  the sweep's order (youngest node first, as ``engine.sweep``), with its rule
  written out, ``b̄ += a · c̄ = −4 · 1 = −4``, and the running sum of b̄.

The gradients are computed here, with the ops' own rules, so each step can be
shown; a test checks they are the engine's.  ``to_html(root, path)`` writes the
story and the graph (laid out by Graphviz now) as one self-contained page:
buttons, arrow keys, and the step in the URL (``graph.html#step=7``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu import engine, numpy_xp, ops, pages, viz
from tinygrad_edu.engine import Function
from tinygrad_edu.files import atomic_path
from tinygrad_edu.tensor import Tensor

# How each common op reads, forward and backward: {x0}, {x1} its inputs, {y} its
# output, {g} = ȳ its output's gradient, {c} a PowScalar's exponent.  Each rule is
# the op's vector-Jacobian product for that input, as ops.py computes it.
OP_TEXT: dict[ops.Op, tuple[str, tuple[str, ...]]] = {
    ops.Add: ("{x0} + {x1}", ("{g}", "{g}")),
    ops.Sub: ("{x0} − {x1}", ("{g}", "−{g}")),
    ops.Mul: ("{x0} · {x1}", ("{x1} · {g}", "{x0} · {g}")),
    ops.Div: ("{x0} / {x1}", ("{g} / {x1}", "−{g} · {y} / {x1}")),
    ops.Neg: ("−{x0}", ("−{g}",)),
    ops.PowScalar: ("{x0}{^c}", ("{c} · {x0}{^c1} · {g}",)),
    ops.Exp: ("exp({x0})", ("{y} · {g}",)),
    ops.Log: ("log({x0})", ("{g} / {x0}",)),
    ops.Sqrt: ("√{x0}", ("{g} / (2 · {y})",)),
    ops.Tanh: ("tanh({x0})", ("(1 − {y}²) · {g}",)),
    ops.Sigmoid: ("σ({x0})", ("{y} · (1 − {y}) · {g}",)),
    ops.ReLU: ("relu({x0})", ("[{x0} > 0] · {g}",)),
    ops.Sin: ("sin({x0})", ("cos({x0}) · {g}",)),
    ops.Cos: ("cos({x0})", ("−sin({x0}) · {g}",)),
}


@dataclass
class Step:
    phase: str  # "start", "forward", "seed" or "backward"
    text: str  # what happens, e.g. "b̄ += a · c̄ = −4 · 1 = −4"
    op: str | None = None  # the drawn op (ellipse or module box) it happens at
    tensor: str | None = None  # the box whose value or gradient it changes
    edge: tuple[str, str] | None = None  # the edge the gradient flows back along


@dataclass
class Story:
    """The drawing, and what every step shows: ``values[box] = (step, text)``:
    the step from which the box shows its value; ``grads[box] = [(step, text)]``:
    its gradient's running sum after each contribution."""

    drawing: viz.Drawing
    names: dict[str, str]
    steps: list[Step] = field(default_factory=list)
    values: dict[str, tuple[int, str]] = field(default_factory=dict)
    grads: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    gradients: dict[Any, np.ndarray] = field(default_factory=dict)  # node or leaf -> gradient, as engine.sweep


def story(root: Tensor, collapse: bool = False, params: dict[str, Tensor] | None = None) -> Story:
    """The forward pass and the backward pass of ``root`` (one element), step by step."""
    if not isinstance(root, Tensor) or root._node is None:
        raise ValueError("there is nothing to step through: the tensor was not computed from tensors that require grad")
    if root.size != 1:
        raise ValueError(f"the backward pass starts from one number; got a tensor of shape {root.shape} (try .sum())")
    drawing = viz.walk(root, collapse)
    told = Story(drawing, _names(drawing, params))
    told.steps.append(Step("start", "the inputs' values; nothing is computed yet"))
    _forward(told)
    _backward(told, root)
    return told


def _names(drawing: viz.Drawing, params: dict[str, Tensor] | None) -> dict[str, str]:
    """A name for every box: the tensor's own or parameter name, a constant's value, else its box id."""
    named = {id(t): name for name, t in (params or {}).items()}
    names = {}
    for key, t in drawing.tensors.items():
        if not isinstance(t, Tensor):
            names[key] = _number(np.asarray(t)) if np.size(t) == 1 else f"const {key}"
        else:
            names[key] = named.get(id(t)) or t.name or key
    return names


def _forward(told: Story) -> None:
    drawing, names = told.drawing, told.names
    outputs: dict[str, list[str]] = {}
    for tail, head in drawing.edges:
        if tail in drawing.ops:
            outputs.setdefault(tail, []).append(head)
    made = {box for boxes in outputs.values() for box in boxes}
    for key, t in drawing.tensors.items():
        if key not in made:
            told.values[key] = (0, viz.summary(np.asarray(t.data if isinstance(t, Tensor) else t)))
    last = {op: max(n.sequence for n, o in drawing.op_of.items() if o == op) for op in drawing.ops}
    for op in sorted(drawing.ops, key=last.__getitem__):  # evaluation order
        inputs = [tail for tail, head in drawing.edges if head == op]
        for out in outputs.get(op, []):
            value = drawing.tensors[out].data
            told.values[out] = (len(told.steps), viz.summary(value))
            told.steps.append(Step("forward", f"{names[out]} = {_forward_text(told, op, inputs)} = {_shown(value)}",
                                   op=op, tensor=out))  # fmt: skip


def _forward_text(told: Story, op: str, inputs: list[str]) -> str:
    node, names = told.drawing.ops[op], told.names
    if isinstance(node, str):  # a collapsed module
        return f"{node.split(':')[0]}({', '.join(names[x] for x in inputs)})"
    boxes = [_box_of(told.drawing, x) for x in node.inputs]
    text = OP_TEXT.get(node.op, (None,))[0]
    if text is None:
        return f"{node.name}({', '.join(names[b] for b in boxes)})"
    return _fill(text, {f"x{i}": names[b] for i, b in enumerate(boxes)} | _exponent(node))


def _backward(told: Story, root: Tensor) -> None:
    """The sweep of engine.sweep, one contribution at a time: nodes youngest first."""
    drawing, names, gradients = told.drawing, told.names, told.gradients
    root_box = _box_of(drawing, root)
    gradients[root._node] = np.ones_like(root.data)
    told.grads[root_box] = [(len(told.steps), viz.summary(gradients[root._node]))]
    told.steps.append(Step("seed", f"{_bar(names[root_box])} = 1: the output's gradient with respect to itself",
                           op=None, tensor=root_box))  # fmt: skip
    for node in sorted(drawing.op_of, key=lambda n: n.sequence, reverse=True):
        g = gradients.get(node)
        if g is None:  # no path from it to the root carries a gradient
            continue
        arrays, options = _saved(node)
        for i in node.wants:
            x = node.inputs[i]
            part = node.op.vjp[i](numpy_xp, g, node.out, *arrays, **options)
            part = engine.sum_to(numpy_xp, part, x.shape).astype(x.dtype, copy=False)
            key = x._node or x
            gradients[key] = part if key not in gradients else gradients[key] + part
            box = _box_of(drawing, x)
            if box is None or (box, drawing.op_of[node]) not in drawing.edges:
                continue  # inside a collapsed module
            step = len(told.steps)
            told.grads.setdefault(box, []).append((step, viz.summary(gradients[key])))
            text = _rule_text(told, node, i, g, part)
            told.steps.append(Step("backward", text, op=drawing.op_of[node], tensor=box,
                                   edge=(box, drawing.op_of[node])))  # fmt: skip


def _saved(node: Function) -> tuple[tuple, dict[str, Any]]:
    """What the node's rules need; after a backward freed it, computed again from its inputs."""
    if engine.modified(node):
        raise RuntimeError(engine.MODIFIED.format(op=node.name))
    options = dict(node.options)
    if not node.freed:
        return node.arrays, options
    arrays = tuple(x.data if isinstance(x, Tensor) else engine.constant(x) for x in node.inputs)
    if node.op.saves:
        options["saved"] = node.op.forward(*arrays, **options)[1]
    return arrays, options


def _rule_text(told: Story, node: Function, i: int, g: np.ndarray, part: np.ndarray) -> str:
    drawing, names = told.drawing, told.names
    boxes = [_box_of(drawing, x) for x in node.inputs]
    out_box = next((head for tail, head in drawing.edges if tail == drawing.op_of[node]), None)
    y = names.get(out_box, "y")
    lhs = f"{_bar(names[boxes[i]])} +="
    rules = OP_TEXT.get(node.op, (None, ()))[1]
    if isinstance(drawing.ops[drawing.op_of[node]], str) or i >= len(rules):
        return f"{lhs} (∂{y}/∂{names[boxes[i]]})ᵀ · {_bar(y)} by {node.name}'s rule = {_shown(part)}"
    symbols = {f"x{k}": names[b] for k, b in enumerate(boxes)} | {"y": y, "g": _bar(y)} | _exponent(node)
    text = f"{lhs} {_fill(rules[i], symbols)}"
    arrays = [x.data if isinstance(x, Tensor) else np.asarray(x) for x in node.inputs]
    if all(a.size == 1 for a in arrays) and g.size == 1:  # every number fits: write the rule with them
        numbers = {f"x{k}": _number(a) for k, a in enumerate(arrays)} | {"y": _number(node.out), "g": _number(g)}
        with_numbers = _fill(rules[i], numbers | _exponent(node), wrap_negative=True)
        if with_numbers != _number(part):
            text += f" = {with_numbers}"
    return f"{text} = {_shown(part)}"


def _box_of(drawing: viz.Drawing, x: Any) -> str | None:
    return next((key for key, t in drawing.tensors.items() if t is x), None)


def _exponent(node: Function) -> dict[str, str]:
    if node.op is not ops.PowScalar:
        return {}
    c = node.options["exponent"]
    return {"c": _number(np.asarray(c)), "c1": _number(np.asarray(c - 1)), "^c": _power(c), "^c1": _power(c - 1)}


SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power(c: float) -> str:
    """x³ for a small whole exponent, x^2.5 otherwise."""
    if float(c).is_integer() and 0 <= c < 10:
        return str(int(c)).translate(SUPERSCRIPTS)
    return f"^{_number(np.asarray(c))}"


def _fill(template: str, symbols: dict[str, str], wrap_negative: bool = False) -> str:
    """The template with its {names} replaced; a negative number inside a product gets parentheses."""

    def replace(match: re.Match) -> str:
        text = symbols[match.group(1)]
        return f"({text})" if wrap_negative and text.startswith("−") and match.start() > 0 else text

    return re.sub(r"\{(\^?\w+)\}", replace, template)


def _bar(name: str) -> str:
    """x̄, the gradient of x: a macron over one letter, an overline over a longer name."""
    if len(name) == 1:
        return name + "\u0304"
    name = name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f"({name})"
    return "".join(ch + "\u0305" for ch in name)


def _number(a: np.ndarray) -> str:
    return f"{float(np.asarray(a).ravel()[0]):.4g}".replace("-", "−")


def _shown(a: np.ndarray) -> str:
    return _number(a) if np.size(a) == 1 else viz.summary(np.asarray(a))


# ------------------------------------------------------------ the page
def to_html(
    root: Tensor,
    path: str | Path,
    collapse: bool = False,
    params: dict[str, Tensor] | None = None,
    rankdir: str = "LR",
    timeout: float = 60.0,
) -> Path:
    """Write a self-contained page (no network needed) stepping through the
    forward and backward pass of ``root``; ``path#step=N`` opens step N.
    Needs Graphviz's ``dot`` for the layout (viz.GraphvizMissing without it)."""
    told = story(root, collapse, params)
    final = {key: steps[-1][1] for key, steps in told.grads.items()}

    def label(t: Any) -> str:
        key = _box_of(told.drawing, t)
        title = told.names[key] if isinstance(t, Tensor) else "const"
        lines = [f"{title} {t.shape}" if isinstance(t, Tensor) and t.ndim else title, f"data {told.values[key][1]}"]
        if key in final:
            lines.append(f"grad {final[key]}")
        return "\\n".join(viz.graphviz.escape(line) for line in lines)

    graph = viz.to_digraph(told.drawing, rankdir, label)
    try:
        svg = viz.layout(graph, "svg", timeout).decode()
    except viz.GraphvizMissing as missing:
        raise viz.GraphvizMissing(f"{missing}; the step-through page needs it to lay out the graph") from None
    svg = svg[svg.index("<svg") :]  # no XML prologue or DOCTYPE: the page has no external address
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    data = {
        "steps": [vars(s) for s in told.steps],
        "values": told.values,
        "grads": told.grads,
    }
    title = html.escape(told.names[_box_of(told.drawing, root)])
    page = pages.fill("stepper.html", TITLE=title, SVG=svg, DATA=pages.json_for_script(data),
                      SCRIPT=pages.template("stepper.js"))  # fmt: skip
    path = Path(path)
    with atomic_path(path) as temporary:
        temporary.write_text(page, encoding="utf-8")
    return path
