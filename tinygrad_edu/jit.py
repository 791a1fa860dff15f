"""jit: trace a function once, replay it as a flat list of numpy calls (``tinygrad_edu.jit``).

On tiny networks most of a training step's time is Python bookkeeping:
Tensors, graph nodes, the backward sweep's heap.  ``jit(step)`` removes it the
way JAX's jit and tinygrad's TinyJit do, without a compiler:

1. **Trace.**  The first call for given argument shapes and dtypes runs
   ``step`` as usual while the engine tells a `Tape` every op it applies
   (engine.Tracing).  ``loss.backward()`` runs its rules on Tensors, so the
   backward's own numpy calls are recorded too; ``optimizer.step()``,
   ``zero_grad()`` and ``scheduler.step()`` are recorded as calls to replay
   as they are (so ηᵗ and the step count are read afresh each time), and so is
   assigning a tensor's ``.grad``; a ``.grad`` the step reads is read afresh too.
2. **Program.**  What was recorded becomes a `Program`: one line per numpy
   call over numbered buffers, e.g. ``b4 = Linear(x0, p0.data, p1.data)``.
   The arguments are inputs (``x``), the tensors ``step`` read from outside
   (``p``: parameters, read at each replay, so in-place updates are seen) and
   constants (``c``).  Passes: an op on constants alone is computed once
   (constant folding, in `Tape.op`); lines whose results nothing uses are
   dropped; a numpy ufunc writes into a buffer allocated once (``out=``)
   unless its result is handed out as a gradient or returned; ``optimizer.step()``
   runs over flat arrays (optim.flat).
3. **Replay.**  Later calls with the same shapes run the lines — compiled
   from Python source at the first replay — then return the outputs (copies
   of those the program keeps or reuses): no Tensor objects, no graph.  New
   shapes (a smaller last batch) trace again; each program is kept.  So does
   a change of what the trace could not see from its arguments: the grad mode,
   or ``requires_grad`` of a tensor the program reads (a frozen layer).

The rules, as jax.jit's:

* Everything the step does to tensors must go through Tensor operations,
  ``backward()``, an optimizer or a scheduler.  Reading a value into Python
  (``.item()``, ``.numpy()``, ``if loss > 0:``), in-place methods (``add_``; but
  ``p -= lr * p.grad`` on a parameter is replayed), ``grad()``/``hvp()``, drawing
  random numbers and indexing with a boolean mask of the program (its shape
  depends on the values) are refused while tracing.
* Python values are baked in: numbers computed in the step are constants of
  the program, and Python arguments (not arrays) are part of its key, as are
  the names of keyword arguments.
* Array arguments arrive in the step as Tensors; the step returns Tensors
  (or a tuple, list or dict of them, or None), as plain Tensors without a graph.
  ``backward()`` gives gradients to the tensors read from outside (parameters),
  not to arguments (refused: a replay could not hand them to a later call's).
* With ``check=True`` (the default) the first replay of each program also
  runs the step eagerly and compares every output, parameter, gradient and
  optimizer state bit for bit; a difference (something the trace did not see,
  such as raw numpy on ``.data``) raises JitError and keeps the eager result.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.engine import Function, JitError, Op, Tracing, constant, is_grad_enabled, tangent_sweep
from tinygrad_edu.optim.flat import FlatStep
from tinygrad_edu.optim.optimizers import Optimizer
from tinygrad_edu.tensor import Tensor

# An argument of a line: ("b", k) buffer k, ("p", tensor) the data of a tensor read from outside
# (a parameter), ("t", tensor) the tensor itself, ("c", value) a constant, ("tuple", arguments) a
# tuple of them (an index whose arrays are buffers: labels picking one entry per row).
Argument = tuple[str, Any]


@dataclasses.dataclass(slots=True)
class Line:
    """One call of the program: ``outs = call(*args, **kwargs)``."""

    call: Callable[..., Any]  # an op's numpy forward, or a Python call replayed as it is
    name: str  # what the program's source calls it
    args: tuple[Argument, ...] = ()
    kwargs: dict[str, Argument] = dataclasses.field(default_factory=dict)
    outs: tuple[int, ...] = ()  # the buffers it writes: the output, and what an op saves for its rule
    reads: tuple[int, ...] = ()  # the buffers among its arguments
    owner: Any = None  # for a Python call replayed as it is: the optimizer or scheduler it steps


PLAIN_OPTIONS = frozenset({int, float, bool, str, type(None)})  # option types that never hold an array


class Tape:
    """What runs while a function is traced (engine.Tracing.tape points here)."""

    def __init__(self, arguments: list[np.ndarray]) -> None:
        self.buffer_of: dict[int, int] = {}  # id(array) -> its buffer
        self.examples: list[Any] = []  # each buffer's traced value; holding them, no id is reused while tracing
        self.lines: list[Line] = []
        self.inputs = tuple(self._new_buffer(a) for a in arguments)
        self.constants: set[int] = set()  # ids of arrays made during the trace from Python values alone
        self.gradients_read: dict[int, Tensor] = {}  # id(t.grad) -> t.grad, for each one read (kept alive)
        self.outside: dict[int, tuple[Tensor, bool]] = {}  # tensors read from outside, and their requires_grad

    def _new_buffer(self, array: Any) -> int:
        self.examples.append(array)
        self.buffer_of[id(array)] = len(self.examples) - 1
        return len(self.examples) - 1

    def argument(self, x: Any) -> Argument:
        data = x.data if isinstance(x, Tensor) else constant(x)  # a numpy scalar acts as the Python number
        buffer = self.buffer_of.get(id(data))  # every buffer's array is alive: ids are not reused
        if buffer is not None:
            return ("b", buffer)
        if isinstance(x, Tensor) and id(data) not in self.constants:
            if id(x) not in self.outside:
                self.outside[id(x)] = (x, x._requires_grad)
            return ("p", x)
        return ("c", data)

    def op(self, op: Op, inputs: tuple, options: dict[str, Any], out: np.ndarray) -> None:
        """Record ``out = op.forward(*inputs, **options)`` (engine.apply calls this).

        Constant folding: an op whose arguments are all constants (the backward's seed, and what
        is computed from it alone) is not recorded; its value is a constant of the program."""
        argument = self.argument
        args = tuple([argument(x) for x in inputs])
        kwargs = {name: self.option(v) for name, v in options.items() if name != "saved"} if options else {}
        every = (*args, *kwargs.values()) if kwargs else args
        reads = tuple([v for kind, v in every if kind == "b"])
        if kwargs:  # and the buffers inside an index
            reads += tuple([v for kind, parts in kwargs.values() if kind == "tuple" for k, v in parts if k == "b"])
        if not reads and all(kind == "c" for kind, _ in every):
            self.constant(out, *([options["saved"]] if op.saves else []))
            return
        outs = (self._new_buffer(out), self._new_buffer(options["saved"])) if op.saves else (self._new_buffer(out),)
        self.lines.append(Line(op.forward, op.name, args, kwargs, outs, reads))

    def option(self, value: Any) -> Argument:
        """An op's keyword argument.  An index is a tuple that may hold arrays of the program
        (``logp[np.arange(n), y]`` with y an argument): those are read at each replay."""
        if type(value) in PLAIN_OPTIONS:  # an axis, a number, None: the same at every call (most options)
            return ("c", value)
        if type(value) is tuple and np.ndarray in map(type, value):
            parts = tuple([self.argument(v) for v in value])
            for v, (kind, _) in zip(value, parts):
                self._refuse_mask(v, kind)
            return ("tuple", parts) if any(kind != "c" for kind, _ in parts) else ("c", value)
        given = self.argument(value)
        self._refuse_mask(value, given[0])
        return given

    @staticmethod
    def _refuse_mask(value: Any, kind: str) -> None:
        """A boolean mask that changes from call to call picks a different number of entries:
        no program of fixed shapes can replay that (jax.jit refuses it too)."""
        if kind == "b" and value.dtype == np.bool_:
            raise JitError(
                "indexing with a boolean mask computed in a jitted function (or passed to it) gives a shape "
                "that depends on the values; write t.where(mask, 0.0) or t.masked_fill(~mask, 0.0) instead, "
                "which keep the shape."
            )

    def copy(self, source: Any, out: np.ndarray) -> None:
        """Record ``Tensor(source)`` as ``out = Cast(source)`` when source is a tensor or an array
        of the program: a replay copies it afresh (the arguments of this call, the parameters now).
        Made of anything else (numbers, a new array), it is a constant of the program, not a
        tensor read from outside: each call makes its own."""
        if isinstance(source, Tensor) or (isinstance(source, np.ndarray) and id(source) in self.buffer_of):
            self.op(ops.Cast, (source,), {"dtype": out.dtype}, out)
        else:
            self.constant(out)

    def constant(self, *arrays: np.ndarray) -> None:
        """These arrays are the same at every call: the program may compute with their values."""
        self.constants.update(id(a) for a in arrays)
        self.examples.extend(arrays)  # kept alive, so that their ids are not reused while tracing

    def gradient(self, t: Tensor, g: Tensor) -> np.ndarray:
        """Record that backward() gives t the gradient g; returns it as an array."""
        if self.buffer_of.get(id(t.data)) in self.inputs:
            raise JitError(
                "backward() inside a jitted function gives gradients to tensors it reads from outside "
                "(parameters), not to its arguments: a replay could not hand them to a later call's tensor. "
                "Pass arrays, or take the argument's gradient outside the jitted function."
            )
        self._call_on(hand_gradient, t, self.argument(g))
        return g.data

    def call(self, method: Callable[[], Any]) -> None:
        """Record a Python call (an optimizer's step, a scheduler's) to replay as it is, and make
        it now with the tape paused: the call is the record, not what it does inside."""
        bound = getattr(method, "func", method)  # a functools.partial carries its arguments
        owner = bound.__self__
        self.lines.append(Line(method, f"{type(owner).__name__}_{bound.__name__}", owner=owner))
        Tracing.tape = None
        try:
            method()
        finally:
            Tracing.tape = self

    def read_gradient(self, t: Tensor, g: Tensor) -> None:
        """``t.grad`` was read: a line reads it there at each replay (backward may have added to
        it or handed a new one), and what uses the tensor read uses that line's buffer."""
        if id(g) not in self.gradients_read:
            self.gradients_read[id(g)] = g
            self.lines.append(Line(gradient_of, "gradient_of", (("t", t),), outs=(self._new_buffer(g.data),)))

    def assign_gradient(self, t: Tensor, g: Tensor | None) -> None:
        """Record ``t.grad = g`` (``module.zero_grad()`` sets None), to replay in its place."""
        self._call_on(assign_gradient, t, ("c", None) if g is None else self.argument(g))

    def write(self, t: Tensor, value: np.ndarray) -> None:
        """Record ``t ∘= y`` in place: on a tensor read from outside, as a hand-written SGD step
        ``p -= lr * p.grad`` under no_grad() changes a parameter, replayed in its place."""
        if self.argument(t)[0] != "p":
            raise JitError(
                "x += y (or -=, *=, /=) in place inside a jitted function works on tensors read from outside "
                "(parameters); on an argument or a tensor the function makes, write x = x + y."
            )
        self._call_on(write_into, t, self.argument(value))

    def _call_on(self, call: Callable[[Tensor, Any], None], t: Tensor, given: Argument) -> None:
        """A line ``call(t, value)`` that changes tensor t (its gradient, its data)."""
        reads = (given[1],) if given[0] == "b" else ()
        self.lines.append(Line(call, call.__name__, (("t", t), given), reads=reads))

    def outputs(self, returned: Any) -> Any:
        """The returned structure with an Argument in place of each Tensor."""

        def output(value: Any) -> Argument | None:
            if isinstance(value, Tensor):
                return self.argument(value)
            if value is None:
                return None
            raise JitError(f"a jitted function returns Tensors (or tuples, lists, dicts of them); got {type(value)}")

        return _map(returned, output, _is_value)


def hand_gradient(t: Tensor, g: np.ndarray) -> None:
    """What backward() does with a gradient g that belongs to t alone (a fresh array)."""
    if t._node is not None or t._grad is None:
        t._grad = Tensor._make(g, None)
    else:
        t._grad = Tensor._make(t._grad.data + g, None)


def hand_copy(t: Tensor, g: np.ndarray) -> None:
    """hand_gradient for a g that the next replay overwrites, or that is a view of another buffer."""
    hand_gradient(t, g.copy() if t._node is not None or t._grad is None else g)


def gradient_of(t: Tensor) -> np.ndarray:
    """``t.grad`` read by a replay, as an array."""
    return t._grad.data


def assign_gradient(t: Tensor, g: np.ndarray | None) -> None:
    """``t.grad = g`` replayed: None, or a copy of g (whose buffer the next replay writes again)."""
    t._grad = None if g is None else Tensor._make(g.copy(), None)


def write_into(t: Tensor, value: np.ndarray) -> None:
    """``t ∘= y`` replayed: t's array changes in place (whatever holds it sees the change)."""
    t._write(value)


class Program:
    """A traced function as Python source: one line per numpy call over buffers b0, b1, ...,
    the arguments x0, x1, ... and the tensors read from outside p0, p1, ...

    Made when traced (the passes below); written as source and compiled at its first replay,
    since compiling costs ~7 µs a line: more than tracing the step."""

    def __init__(self, tape: Tape, returned: Any) -> None:
        self.returns = tape.outputs(returned)
        self.lines = flat_optimizer_steps(drop_unused(tape.lines, self.returns))
        self.inputs = {buffer: i for i, buffer in enumerate(tape.inputs)}
        self.watched = [t for t, _ in tape.outside.values()]
        self.requires_grad = [flag for _, flag in tape.outside.values()]
        self.examples: list[Any] = tape.examples  # the traced values (shapes, dtypes), until compiled
        self.namespace: dict[str, Any] = {"np": np, "asarray": np.asarray}
        self.names: dict[int, str] = {}  # id(object) -> its name in the namespace
        self.counts = {"p": 0, "c": 0}
        self.function: Callable[..., list[np.ndarray]] | None = None
        self.text = ""
        self.checked = False

    def current(self) -> bool:
        """Whether the tensors read from outside require grad as they did when traced: freezing
        a layer (``requires_grad = False``) changes which gradients the step computes."""
        return [t._requires_grad for t in self.watched] == self.requires_grad

    def run(self, arrays: list[np.ndarray]) -> Any:
        outputs = iter(self.arrays(arrays))
        return _map(self.returns, lambda _: Tensor._make(next(outputs), None))

    def arrays(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """The returned arrays in order, each the caller's own: a later replay does not change it."""
        if self.function is None:
            self._compile()
        return self.function(*arrays)

    def __str__(self) -> str:
        if self.function is None:
            self._compile()
        return self.text

    def _compile(self) -> None:
        flat: list[Argument] = []
        _map(self.returns, flat.append)
        fresh = self._fresh(self.examples, flat)
        written = [self._source(line, self.examples, fresh) for line in self.lines]
        code, notes = [c for c, _ in written], [n for _, n in written]
        head = f"def replay({', '.join(f'x{i}' for i in range(len(self.inputs)))}):"
        returned = [self._ref(a) if a[0] == "b" and a[1] in fresh else f"np.array({self._ref(a)})" for a in flat]
        tail = f"    return [{', '.join(returned)}]"
        body = [f"{c.ljust(60)}  {n}".rstrip() for c, n in zip(code, notes)]
        self.text = "\n".join([head, *self._legend(), *body, tail])
        source = "\n".join([head, *code, tail])
        exec(compile(source, "<jit program>", "exec"), self.namespace)  # noqa: S102  (our own source)
        self.function, self.examples = self.namespace["replay"], []

    def _legend(self) -> list[str]:
        """Comment lines that say what each p and c stands for."""
        lines = []
        for name, obj in self.namespace.items():
            if name[0] == "p" and name[1:].isdigit():
                what = f"{obj.name!r}, " if obj.name else ""
                lines.append(f"    # {name}: a tensor read at each call, {what}{obj.shape} {obj.dtype}")
            elif name[0] == "c" and name[1:].isdigit():
                if not isinstance(obj, np.ndarray):
                    value = repr(obj)
                elif obj.size <= 4:
                    value = np.array2string(obj)
                else:
                    value = f"an array {obj.shape} {obj.dtype}"
                lines.append(f"    # {name}: a constant of the trace, {value}")
        return lines

    def _name_of(self, obj: Any, name: str) -> str:
        """A name in the namespace for obj (unique: Linear, Linear_1, ...)."""
        if id(obj) not in self.names:
            unique = name if name not in self.namespace else f"{name}_{len(self.namespace)}"
            self.names[id(obj)] = unique
            self.namespace[unique] = obj
        return self.names[id(obj)]

    def _numbered(self, obj: Any, kind: str) -> str:
        """p0, p1, ... for tensors read from outside; c0, c1, ... for constants."""
        if id(obj) not in self.names:
            self.counts[kind] += 1
            return self._name_of(obj, f"{kind}{self.counts[kind] - 1}")
        return self.names[id(obj)]

    def _ref(self, argument: Argument) -> str:
        kind, v = argument
        if kind == "b":
            return f"x{self.inputs[v]}" if v in self.inputs else f"b{v}"
        if kind == "tuple":
            return "(" + "".join(f"{self._ref(a)}, " for a in v) + ")"
        if kind in ("p", "t"):
            return f"{self._numbered(v, 'p')}.data" if kind == "p" else self._numbered(v, "p")
        if isinstance(v, (bool, int, str)) or v is None or (isinstance(v, float) and np.isfinite(v)):
            return repr(v)  # a literal; a float's repr gives back the same float
        if isinstance(v, tuple) and all(isinstance(e, int) for e in v):
            return repr(v)
        return self._numbered(v, "c")

    def _fresh(self, examples: list[Any], returned: list[Argument]) -> set[int]:
        """Buffers each replay allocates anew and hands out once, as a gradient or a returned
        value, so that they need no copy: written without out=, owning their memory when traced,
        and held by nothing else."""
        gradients = [line.args[1] for line in self.lines if line.call is hand_gradient]
        handed = Counter(v for kind, v in (*gradients, *returned) if kind == "b")
        holders = Counter(id(e) for e in examples)
        return {k for line in self.lines if line.outs for k in line.outs[:1]
                if handed[k] == 1 and examples[k].base is None and holders[id(examples[k])] == 1}  # fmt: skip

    def _source(self, line: Line, examples: list[Any], fresh: set[int]) -> tuple[str, str]:
        """(the line of code, its note: the buffer's shape and dtype)."""
        if isinstance(line.call, np.ufunc) and getattr(np, line.call.__name__, None) is line.call:
            function = f"np.{line.call.__name__}"  # a numpy ufunc says so: np.multiply, np.matmul
        else:
            function = self._name_of(line.call, line.name)
        parts = [self._ref(a) for a in line.args] + [f"{n}={self._ref(a)}" for n, a in line.kwargs.items()]
        if line.call is hand_gradient and not (line.args[1][0] == "b" and line.args[1][1] in fresh):
            function = self._name_of(hand_copy, "hand_copy")
        if not line.outs:
            return f"    {function}({', '.join(parts)})", ""
        out = examples[line.outs[0]]
        targets = ", ".join(f"b{k}" for k in line.outs)
        if _writes_into(line) and line.outs[0] not in fresh:
            buffer = self._name_of(np.empty_like(out), f"o{line.outs[0]}")  # allocated once: out= reuses it
            call = f"{function}({', '.join(parts)}, out={buffer})"
        elif len(line.outs) == 1 and out.ndim == 0:
            call = f"asarray({function}({', '.join(parts)}))"  # numpy gives a scalar for a 0-d result
        else:
            call = f"{function}({', '.join(parts)})"
        return f"    {targets} = {call}", f"# {out.shape} {out.dtype}"


def _writes_into(line: Line) -> bool:
    """Can the line write into a buffer allocated once (a numpy ufunc's out=)?"""
    return isinstance(line.call, np.ufunc) and not line.kwargs and len(line.outs) == 1


def drop_unused(lines: list[Line], returns: Any) -> list[Line]:
    """Dead-buffer elimination: keep a line only if it is a call, or a later line or an output
    reads a buffer it writes."""
    needed: set[int] = set()
    _map(returns, lambda a: needed.add(a[1]) if a[0] == "b" else None)
    kept = []
    for line in reversed(lines):
        if line.outs and needed.isdisjoint(line.outs):
            continue
        kept.append(line)
        needed.update(line.reads)
    return kept[::-1]


def flat_optimizer_steps(lines: list[Line]) -> list[Line]:
    """Each ``optimizer.step()`` becomes one update per parameter group over flat arrays
    (optim.flat): bit for bit the same, with one numpy call where there were one per parameter."""
    handed = [line.args[0][1] for line in lines if line.call is hand_gradient]
    fused = []
    for line in lines:
        if isinstance(line.owner, Optimizer) and line.call == line.owner.step:
            line = Line(FlatStep(line.owner, handed), f"{type(line.owner).__name__}_step_flat", owner=line.owner)
        fused.append(line)
    return fused


def float_masks(lines: list[Line], examples: list[Any]) -> list[Line]:
    """A constant boolean mask multiplied into floats (ReLU's, in a replayed HVP) becomes a
    float constant: x·True = x·1.0 and x·False = x·0.0, bit for bit, but numpy converts the
    bools on every call otherwise (3.1 µs against 1.3 µs for a 64×128 mask).  Only tangent
    sweeps take this pass: in a training step the masks are computed at every call, and the
    pass would cost its trace ~5 µs for nothing."""
    as_floats: dict[tuple[int, np.dtype], np.ndarray] = {}

    def cast(argument: Argument, dtype: np.dtype) -> Argument:
        kind, value = argument
        if kind != "c" or not isinstance(value, np.ndarray) or value.dtype != bool:
            return argument
        if (id(value), dtype) not in as_floats:
            as_floats[id(value), dtype] = value.astype(dtype)
        return ("c", as_floats[id(value), dtype])

    for line in lines:
        if line.call is np.multiply and line.outs and examples[line.outs[0]].dtype.kind == "f":
            line.args = tuple(cast(a, examples[line.outs[0]].dtype) for a in line.args)
    return lines


def _is_argument(structure: Any) -> bool:
    return isinstance(structure, tuple) and len(structure) == 2 and structure[0] in ("b", "p", "t", "c")


def _is_value(structure: Any) -> bool:
    return not isinstance(structure, (tuple, list, dict))


def _map(structure: Any, f: Callable[[Any], Any], is_leaf: Callable[[Any], bool] = _is_argument) -> Any:
    """Apply f to every leaf (by default every Argument) in a (nested) tuple, list or dict."""
    if is_leaf(structure):
        return f(structure)
    if isinstance(structure, (tuple, list)):
        return type(structure)(_map(s, f, is_leaf) for s in structure)
    if isinstance(structure, dict):
        return {key: _map(s, f, is_leaf) for key, s in structure.items()}
    return structure


class Jitted:
    """``jit(fn)``: call it as fn; ``.trace(*args)`` shows the program for those arguments."""

    def __init__(self, fn: Callable[..., Any], check: bool = True) -> None:
        self.fn, self.check = fn, check
        self.programs: dict[tuple, Program] = {}
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values, names = _with_keywords(args, kwargs)
        arrays, key = _arrays_and_key(values, names)
        program = self._current(key)
        if program is None:
            result, self.programs[key] = trace(self._positional(len(args), names), values, arrays)
            return result
        if self.check and not program.checked:
            return checked_replay(self._positional(len(args), names), values, arrays, program)
        return program.run(arrays)

    def trace(self, *args: Any, **kwargs: Any) -> str:
        """The program for arguments like these, as text (traces them if no call did yet);
        without arguments, every program traced so far."""
        if not args and not kwargs:
            if not self.programs:
                raise JitError("nothing is traced yet: call the function first, or pass arguments to trace()")
            return "\n\n".join(str(program) for program in self.programs.values())
        values, names = _with_keywords(args, kwargs)
        arrays, key = _arrays_and_key(values, names)
        if self._current(key) is None:
            self.programs[key] = trace(self._positional(len(args), names), values, arrays)[1]
        return str(self.programs[key])

    def _current(self, key: tuple) -> Program | None:
        """The program for this key, unless there is none or it no longer fits (Program.current)."""
        program = self.programs.get(key)
        return program if program is not None and program.current() else None

    def _positional(self, count: int, names: tuple[str, ...]) -> Callable[..., Any]:
        """fn called with positional values only: ``count`` positional arguments, then the keywords."""
        if not names:
            return self.fn
        return lambda *values: self.fn(*values[:count], **dict(zip(names, values[count:])))


def jit(fn: Callable[..., Any] | None = None, *, check: bool = True) -> Any:
    """Trace ``fn`` once per argument shapes and dtypes and replay it as numpy calls.
    Usable as ``@jit`` or ``jit(fn, check=False)``; see the module's docstring for the rules."""
    if fn is None:
        return functools.partial(jit, check=check)
    return Jitted(fn, check)


def make_trace(fn: Callable[..., Any], *args: Any) -> str:
    """The program ``jit(fn)`` would replay for these arguments, as text (in the spirit of
    jax.make_jaxpr).  It runs ``fn`` once, with its effects (an optimizer step takes place)."""
    return Jitted(fn, check=False).trace(*args)


def _with_keywords(args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, tuple[str, ...]]:
    """The positional arguments, then the keyword arguments sorted by name; and those names."""
    if not kwargs:
        return args, ()
    names = tuple(sorted(kwargs))
    return (*args, *(kwargs[name] for name in names)), names


def _arrays_and_key(args: tuple, names: tuple[str, ...] = ()) -> tuple[list[np.ndarray], tuple]:
    """The array arguments, and the cache key: each argument's shape and dtype (or its value),
    whether a Tensor argument requires grad, the keyword names and the grad mode."""
    arrays, key = [], [names, is_grad_enabled()]
    for a in args:
        if isinstance(a, Tensor):
            arrays.append(a.data)
            key.append((a.data.shape, a.data.dtype.str, a._requires_grad))
        elif isinstance(a, np.ndarray):
            arrays.append(a)
            key.append((a.shape, a.dtype.str, False))
        else:
            try:
                hash(a)
            except TypeError:
                raise JitError(f"a jitted function's arguments are arrays, Tensors or hashable Python values; "
                               f"got {type(a).__name__}") from None  # fmt: skip
            key.append(("static", a))
    return arrays, tuple(key)


def _as_tensors(args: tuple, arrays: list[np.ndarray]) -> list[Any]:
    """Array arguments as Tensors (the same arrays, so the tape knows them)."""
    it = iter(arrays)
    return [Tensor._make(next(it), None) if isinstance(a, np.ndarray) else (next(it), a)[1] if isinstance(a, Tensor)
            else a for a in args]  # fmt: skip


def trace(fn: Callable[..., Any], args: tuple, arrays: list[np.ndarray]) -> tuple[Any, Program]:
    """Run fn once, eagerly, recording it; returns (its result, the program)."""
    tape = Tape(arrays)
    result = _recorded(tape, fn, *_as_tensors(args, arrays))
    return result, Program(tape, result)


def _recorded(tape: Tape, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) with every op it runs told to ``tape``."""
    if Tracing.tape is not None:
        raise JitError("a jitted function cannot call another jitted function while it is traced")
    Tracing.tape = tape
    try:
        return fn(*args)
    finally:
        Tracing.tape = None


# ------------------------------------------------------------ a fixed graph's tangent map
Tangents = Callable[[Sequence[np.ndarray]], list[np.ndarray | None]]


def compile_tangent_sweep(
    outputs: Sequence[Tensor], seeds: dict[Tensor, np.ndarray], order: list[Function]
) -> tuple[list[np.ndarray | None], Tangents]:
    """engine.tangent_sweep from the seeded tensors to ``outputs`` through a graph that
    no longer changes (a gradient graph held at one point, autograd.gradient_graph), traced
    into a Program.  Every array of the graph is a constant of it, so whatever depends on
    them alone (ReLU's mask, a transposed weight) is computed once, while tracing; the
    seeds' values are the arguments.  Returns (the outputs' tangents for these seeds, a
    function that replays the program for other values of the seeds, given in their order)."""
    vectors = [np.array(v) for v in seeds.values()]  # copies: a seed may be an array of the graph itself (H·x at x)
    tape = Tape(vectors)
    for node in order:
        inputs = [x.data for x in node.inputs if isinstance(x, Tensor)]
        held = (node.out, *(node.arrays or ()), *node.options.values(), *inputs)  # freed: the sweep says so
        tape.constant(*(a for a in held if isinstance(a, np.ndarray)))
    tangents = {x: Tensor._make(v, None) for x, v in zip(seeds, vectors)}
    found = _recorded(tape, lambda: tangent_sweep(outputs, tangents, create_graph=False, order=order, traced=True))
    program = Program(tape, found)
    program.lines = float_masks(program.lines, program.examples)  # the graph's masks are constants here

    def replay(values: Sequence[np.ndarray]) -> list[np.ndarray | None]:
        arrays = iter(program.arrays(list(values)))
        return [None if t is None else next(arrays) for t in found]

    return [None if t is None else t.data for t in found], replay


# ------------------------------------------------------------ the check of a first replay
def checked_replay(fn: Callable[..., Any], args: tuple, arrays: list[np.ndarray], program: Program) -> Any:
    """Replay, and run fn eagerly from the same state: every output, parameter, gradient and
    optimizer or scheduler state must agree bit for bit.  On a difference the eager result stays."""
    tensors, owners = _touched(program)
    before = _snapshot(tensors, owners)
    eager = fn(*_as_tensors(args, arrays))
    after_eager = _snapshot(tensors, owners)
    _restore(tensors, owners, before)
    replayed = program.run(arrays)
    differences = _differences(after_eager, _snapshot(tensors, owners), tensors, owners)
    data = lambda value: value.data if isinstance(value, Tensor) else value  # noqa: E731
    if not _same(_map(eager, data, _is_value), _map(replayed, data, _is_value)):
        differences.insert(0, "the returned values")
    if differences:
        _restore(tensors, owners, after_eager)
        raise JitError(
            f"the replayed program differs from running the function: {', '.join(differences[:3])}. The function "
            "changes or reads something the trace does not see (raw numpy on .data, a value computed from an "
            "argument outside Tensor operations); the eager result was kept — run the function without jit."
        )
    program.checked = True
    return replayed


def _touched(program: Program) -> tuple[list[Tensor], list[Any]]:
    """The tensors the program reads or hands gradients to, and the objects whose methods it calls.
    Not the non-leaf tensors: those it hands gradients to (``retain_grad()``) are the trace's own,
    each eager call makes new ones."""
    tensors: dict[int, Tensor] = {}
    owners: dict[int, Any] = {}
    for line in program.lines:
        for _, v in line.args:
            if isinstance(v, Tensor) and v._node is None:
                tensors[id(v)] = v
        if line.owner is not None:  # a replayed call
            owner = line.owner
            owners[id(owner)] = owner
            for group in getattr(owner, "param_groups", ()):
                tensors.update((id(t), t) for t in group["params"])
    return list(tensors.values()), list(owners.values())


def _snapshot(tensors: list[Tensor], owners: list[Any]) -> list[Any]:
    return [(t.data.copy(), None if t._grad is None else t._grad.data.copy()) for t in tensors] + [
        copy.deepcopy(o.state_dict()) for o in owners
    ]


def _restore(tensors: list[Tensor], owners: list[Any], state: list[Any]) -> None:
    for t, (data, grad) in zip(tensors, state):
        t.data[...] = data
        t._grad = None if grad is None else Tensor._make(grad.copy(), None)
    for o, saved in zip(owners, state[len(tensors) :]):
        o.load_state_dict(copy.deepcopy(saved))


def _differences(a: list[Any], b: list[Any], tensors: list[Tensor], owners: list[Any]) -> list[str]:
    names = [f"tensor {t.name or ''} {t.shape}".replace("  ", " ") for t in tensors]
    names += [f"the state of {type(o).__name__}" for o in owners]
    return [name for name, x, y in zip(names, a, b) if not _same(x, y)]


def _same(a: Any, b: Any) -> bool:
    """Equal bit for bit (NaN included), through tuples, lists and dicts."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b or (a != a and b != b)  # NaN equals NaN here
