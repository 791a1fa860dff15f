"""The core of reverse-mode autodiff, top to bottom: grad mode, the graph's
nodes, and the backward sweep.

A Tensor (tensor.py) is an ndarray ``.data`` and, when it was computed from
tensors that require grad, ``._node``: the `Function` that recorded how.
Each `Op` (ops.py) is a numpy forward and one backward rule per input, the
vector-Jacobian product x̄ = (∂out/∂x)ᵀ·ḡ.  `apply` runs an op and records a
node; `sweep` walks the nodes from the output back to the inputs, applying
the chain rule  x̄ = Σ over every use u of x of (∂u/∂x)ᵀ·ū.

One rule, two paths.  A rule computes with the array namespace it is handed,
``xp``, and with operators (+ − * / ** @, indexing):

* ``numpy_xp`` (plain ``backward()``): numpy's functions on ndarrays.  No
  Tensor is created and no graph is recorded: backward costs what
  hand-written numpy costs.
* ``tensor_xp`` (``create_graph=True``): the same names on Tensors, each one a
  recorded op.  The backward pass then builds a graph of its own, which can
  be differentiated again: second derivatives, Hessian-vector products.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


# ----------------------------------------------------------------------------
# Grad mode: whether operations record a graph
# ----------------------------------------------------------------------------
class _GradMode:
    enabled = True


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: operations inside record no graph."""

    _target = False

    def __enter__(self) -> None:
        self._previous = _GradMode.enabled
        _GradMode.enabled = self._target

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self._previous


class enable_grad(no_grad):
    """Context manager and decorator: record the graph even inside no_grad."""

    _target = True


def is_grad_enabled() -> bool:
    return _GradMode.enabled


class Tracing:
    """While ``jit`` (jit.py) traces a function, ``tape`` is told every op that
    runs, with or without grad, so the function can be replayed without Tensors."""

    tape: Any = None


class InputError(ValueError):
    """An op's forward refusing its inputs' values, in words of its own (kept as it is by apply)."""


class JitError(RuntimeError):
    """A jitted function does something a recorded program could not replay."""


DIFFERENTIATE_OUTSIDE = "a jitted function differentiates only with loss.backward(); take other derivatives outside it"


def untraceable(what: str, fix: str) -> None:
    """Refuse ``what`` while jit traces: its result would be baked into the program."""
    if Tracing.tape is not None:
        raise JitError(f"{what} inside a jitted function cannot be replayed (the trace would keep this "
                       f"call's values forever); {fix}.")  # fmt: skip


# ----------------------------------------------------------------------------
# One clock: the order of the nodes, and catching tensors changed in place
# ----------------------------------------------------------------------------
_ticks = itertools.count(1)  # ticks when a node is made and when a tensor is changed in place


class InPlace:
    """A node's ``sequence`` is the clock's tick when it was made, so a node is
    always younger than its inputs' nodes.  A tensor changed in place takes a
    new tick as its ``_version``: an input whose version is newer than the
    node was changed after the node saved it."""

    last = 0  # the tick of the latest in-place change anywhere

    @classmethod
    def tick(cls) -> int:
        """Record an in-place change; returns the changed tensor's new version."""
        cls.last = next(_ticks)
        return cls.last


# ----------------------------------------------------------------------------
# Op and Function: what an operation is, and the record of one use of it
# ----------------------------------------------------------------------------
Rule = Callable[..., Any]  # rule(xp, g, out, *inputs, **options) -> gradient of one input


class Op:
    """An operation: ``forward(*arrays, **options) -> ndarray``, one backward rule
    per input, ``vjp[i](xp, g, out, *inputs, **options)`` = (∂out/∂xᵢ)ᵀ·g, and
    one tangent rule per input, ``jvp[i](xp, ẋᵢ, out, *inputs, **options)`` =
    (∂out/∂xᵢ)·ẋᵢ.  For an ``elementwise`` op the Jacobian is diagonal, so the
    backward rules are the tangent rules.

    With ``saves=True`` the forward returns ``(out, saved)`` and the rules
    get ``saved=`` too: values the forward computed that the rules reuse.
    """

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        *vjp: Rule,
        saves: bool = False,
        vjp_each: Rule | None = None,
        jvp: Sequence[Rule] | SameRuleForEach = (),
        elementwise: bool = False,
    ) -> None:
        self.name, self.forward, self.saves = name, forward, saves
        self.vjp = vjp if vjp_each is None else SameRuleForEach(vjp_each)
        self.jvp = self.vjp if elementwise else jvp

    def __repr__(self) -> str:
        return f"<op {self.name}>"


class SameRuleForEach:
    """The rules of an op with any number of inputs (concatenate): one rule,
    told which input it is for: ``vjp[i] = rule(..., argnum=i)``."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    def __getitem__(self, argnum: int) -> Rule:
        return functools.partial(self.rule, argnum=argnum)


class Function:
    """One node of the graph: the op that made a tensor, and what its rules need.

    The structure (op, inputs, options) stays for as long as the output
    tensor lives, so the graph can be drawn after backward.  What was saved
    for the rules (the input arrays, the op's own saved values) is dropped by
    a backward without ``retain_graph``; ``freed`` says so.
    """

    __slots__ = ("op", "inputs", "wants", "options", "arrays", "out", "sequence", "retained", "out_modified",
                 "scope")  # fmt: skip

    def __init__(self, op: Op, inputs: tuple, wants: tuple[int, ...], options: Any, arrays: tuple, out: Any) -> None:
        self.op = op
        self.inputs = inputs  # Tensors, or constants (numbers, ndarrays) that need no gradient
        self.wants = wants  # positions of the inputs that require grad
        self.options = options  # keyword arguments of the forward (axis=, shape=, ...), and saved=
        self.arrays = arrays  # saved for the rules: the input arrays as the forward saw them
        self.out = out  # the output array
        self.sequence = next(_ticks)  # creation order; compared with the inputs' versions too
        self.retained = None  # weakref to the output tensor, set by Tensor.retain_grad()
        self.out_modified = False  # the output was changed in place
        self.scope = None  # the module that made it, set by viz.record_modules

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def freed(self) -> bool:
        """Whether a backward dropped what was saved for the rules (a later backward through it raises)."""
        return self.arrays is None

    def free(self) -> None:
        """Drop what was saved for the rules."""
        self.arrays = None
        if "saved" in self.options:  # only apply() makes saving nodes, each with its own options dict
            del self.options["saved"]

    def __repr__(self) -> str:
        return f"<{self.op.name}>"


def apply(op: Op, *inputs: Any, **options: Any) -> Tensor:
    """Run ``op`` on the inputs' arrays.  If grad mode is on and an input
    requires grad, the result remembers a `Function` node; otherwise it is a
    plain tensor and nothing is recorded."""
    arrays = []
    wants = []
    for i, x in enumerate(inputs):  # a plain loop: cheaper than two comprehensions
        if isinstance(x, Tensor):
            arrays.append(x.data)
            if x._requires_grad:
                wants.append(i)
        else:
            arrays.append(constant(x))
    try:
        out = op.forward(*arrays, **options)
    except (np.exceptions.AxisError, InputError):  # numpy's own message, or the op's: keep it
        raise
    except ValueError as error:
        raise shape_error(op, arrays, error) from None
    if op.saves:
        out, options["saved"] = out
    if type(out) is not np.ndarray:  # numpy gives scalars for 0-d results
        out = np.asarray(out)
    if Tracing.tape is not None:
        Tracing.tape.op(op, inputs, options, out)
    if wants and op.vjp and _GradMode.enabled:  # an op without rules (x > 0) has no gradient
        return Tensor._make(out, Function(op, inputs, tuple(wants), options, tuple(arrays), out))
    return Tensor._make(out, None)


def binary_operator(op: Op, reflected: bool = False) -> Callable[[Tensor, Any], Tensor]:
    """Tensor's method for an arithmetic operator: ``x ∘ y`` runs op (``y ∘ x``
    when reflected).  It is apply() unrolled for two inputs: + − * / on small
    tensors are most of the operations of scalar code, where apply's loop and
    calls would cost a third of the op."""
    forward = op.forward

    def operator(self: Tensor, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            b, b_wants = other.data, other._requires_grad
        else:
            b, b_wants = constant(other), False
        if reflected:  # other ∘ self
            x, y, a, b, x_wants, y_wants = other, self, b, self.data, b_wants, self._requires_grad
        else:
            x, y, a, x_wants, y_wants = self, other, self.data, self._requires_grad, b_wants
        try:
            out = forward(a, b)
        except ValueError as error:
            raise shape_error(op, (a, b), error) from None
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if Tracing.tape is not None:
            Tracing.tape.op(op, (x, y), NO_OPTIONS, out)
        if (x_wants or y_wants) and _GradMode.enabled:
            wants = ((0, 1) if y_wants else (0,)) if x_wants else (1,)
            return Tensor._make(out, Function(op, (x, y), wants, NO_OPTIONS, (a, b), out))
        return Tensor._make(out, None)

    return operator


NO_OPTIONS = types.MappingProxyType({})  # the options of every binary operator: none, shared, read-only


def constant(x: Any) -> Any:
    """An input that is not a Tensor; a numpy scalar acts as a Python one (float32 * np.float64(2) is float32)."""
    return x.item() if isinstance(x, np.generic) else x


def shape_error(op: Op, arrays: Sequence[Any], error: ValueError) -> ValueError:
    """numpy's complaint, with the op and the shapes it was given (matmul and broadcasting mismatches)."""
    return ValueError(f"{op.name} of shapes {' and '.join(str(np.shape(a)) for a in arrays)}: {error}")


# ----------------------------------------------------------------------------
# The backward sweep
# ----------------------------------------------------------------------------
def sum_to(xp: Any, g: Any, shape: tuple[int, ...]) -> Any:
    """Sum g over the axes that broadcasting added or stretched, back to ``shape``:
    x of shape (3, 1) used in x + y of shape (3, 4) gets x̄ = Σ over axis 1 of ḡ."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return xp.reshape(xp.sum(g, axis=tuple(range(lead)) + stretched, keepdims=True), shape)


FREED = (
    "Trying to backward through the graph a second time: the values saved for backward by {op} were "
    "freed after the first backward. Pass retain_graph=True to the first backward() or grad() call if "
    "you need to go through the graph again."
)
MODIFIED = (
    "A tensor needed by {op} for its gradient was modified in place after it was used (by an in-place "
    "method such as add_ or by an optimizer step). Compute the gradient before modifying it, or use the "
    "out-of-place operation (x + y instead of x.add_(y))."
)


def check_saved(node: Function) -> None:
    """Refuse a node whose saved values are gone or were changed in place."""
    if node.freed:
        raise RuntimeError(FREED.format(op=node.name))
    if modified(node):
        raise RuntimeError(MODIFIED.format(op=node.name))


def modified(node: Function) -> bool:
    """Whether the node's output or an input was changed in place after the node was made."""
    return node.out_modified or any(isinstance(x, Tensor) and x._version > node.sequence for x in node.inputs)


def sweep(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    *,
    create_graph: bool,
    retain_graph: bool,
    targets: Sequence[Tensor] = (),
    traced: bool = False,
) -> dict[Tensor, Any]:
    """Send the roots' gradients back through the graph.

    Returns {tensor: gradient} for every leaf that requires grad, every
    non-leaf tensor in ``targets`` and every tensor that called retain_grad().
    The gradients are ndarrays, or Tensors with a graph when ``create_graph``
    (Tensors without one when ``traced``: jit records the rules' operations).

    Order: every node is created after the nodes of its inputs, so taking
    nodes from the youngest to the oldest (a heap keyed by creation number,
    as PyTorch's engine does) reaches a node only after all of its consumers
    have added their share to its gradient.  No recursion: any depth works.
    """
    if not traced:
        untraceable("grad(), hvp() or jvp()", DIFFERENTIATE_OUTSIDE)
    on_tensors = create_graph or traced
    xp = tensor_xp if on_tensors else numpy_xp
    wanted = {t._node: t for t in targets if t._node is not None}
    found: dict[Tensor, Any] = {}  # tensor -> gradient, for the tensors returned
    pending: dict[Function, Any] = {}  # node -> gradient of its output, summed so far
    heap: list[tuple[int, Function]] = []  # (−creation number, node): youngest first
    last_change = InPlace.last

    def send(x: Tensor, g: Any) -> None:
        """Add g to the gradient of tensor x."""
        data = x.data
        if g.shape != data.shape:  # x was broadcast in the forward
            g = sum_to(xp, g, data.shape)
        if g.dtype is not data.dtype and g.dtype != data.dtype:  # a gradient has its tensor's dtype
            g = xp.astype(g, data.dtype)
        node = x._node
        if node is None:  # a leaf
            found[x] = g if x not in found else found[x] + g
        elif node in pending:
            pending[node] = pending[node] + g
        else:
            if node.freed or last_change > node.sequence:  # cheap test first: freed, or anything changed since?
                check_saved(node)
            pending[node] = g
            heapq.heappush(heap, (-node.sequence, node))

    for root, g in zip(roots, root_grads):
        send(root, g)
    with enable_grad() if create_graph else no_grad():  # the rules record a graph only if asked to
        while heap:
            node = heapq.heappop(heap)[1]
            g = pending.pop(node)
            target = wanted.get(node)
            if target is None and node.retained is not None:
                target = node.retained()
            if target is not None:
                found[target] = g
            if on_tensors:  # Tensors in, so that the rules' own operations are recorded
                out, inputs = Tensor._make(node.out, node), node.inputs
            else:
                out, inputs = node.out, node.arrays
            rules, options = node.op.vjp, node.options
            for i in node.wants:
                send(node.inputs[i], rules[i](xp, g, out, *inputs, **options))
            if not retain_graph:
                node.free()
    return found


# ----------------------------------------------------------------------------
# The tangent sweep (forward mode)
# ----------------------------------------------------------------------------
def creation_order(outputs: Sequence[Tensor]) -> list[Function]:
    """Every node the outputs were computed from, oldest first."""
    nodes, stack, seen = [], [t._node for t in outputs if t._node is not None], set()
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            nodes.append(node)
            stack.extend(x._node for x in node.inputs if isinstance(x, Tensor) and x._node is not None)
    return sorted(nodes, key=lambda n: n.sequence)


def tangent_sweep(
    outputs: Sequence[Tensor],
    seeds: dict[Tensor, Any],
    *,
    create_graph: bool,
    order: list[Function] | None = None,
    traced: bool = False,
) -> list[Any]:
    """Forward mode over a recorded graph: push the tangents ẋ of the seeded tensors
    to the outputs, ẏ = Σᵢ (∂y/∂xᵢ)·ẋᵢ, node by node in creation order (the mirror
    of ``sweep``; ``order``: creation_order(outputs), when the caller keeps it).
    Returns each output's tangent (None where no seed reaches it): ndarrays, or
    Tensors when ``create_graph`` (with a graph) or ``traced`` (without one, for jit)."""
    if not traced:
        untraceable("jvp() or an HVP", DIFFERENTIATE_OUTSIDE)
    on_tensors = create_graph or traced
    xp = tensor_xp if on_tensors else numpy_xp
    tangents: dict[Any, Any] = {x._node or x: t for x, t in seeds.items()}  # keyed by node, or by leaf
    with enable_grad() if create_graph else no_grad():
        for node in creation_order(outputs) if order is None else order:
            rules, options, total = node.op.jvp, node.options, None
            if node.freed:
                raise RuntimeError(FREED.format(op=node.name))
            if not rules:
                raise NotImplementedError(f"{node.name} has no tangent rule, so forward mode cannot go through it.")
            out, inputs = (Tensor._make(node.out, node), node.inputs) if on_tensors else (node.out, node.arrays)
            for i in node.wants:
                x = node.inputs[i]
                dx = tangents.get(x._node or x)
                if dx is not None:
                    part = rules[i](xp, dx, out, *inputs, **options)
                    total = part if total is None else total + part
            if total is not None:
                if total.shape != node.out.shape:  # an input that was broadcast
                    total = xp.broadcast_to(total, node.out.shape)
                if total.dtype != node.out.dtype:
                    total = xp.astype(total, node.out.dtype)
                tangents[node] = total
    return [tangents.get(t._node or t) for t in outputs]


# The classes the engine hands out and the namespace of the graph path build on
# the definitions above, so they are imported last.
from tinygrad_edu import numpy_xp, tensor_xp  # noqa: E402
from tinygrad_edu.tensor import Tensor  # noqa: E402
