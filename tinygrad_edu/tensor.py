"""The Tensor, the graph it records, and the reverse-mode walk over that graph.

Every operation on Tensors that require grad creates one `Function` node (see
ops.py) holding its input Tensors and the arrays its backward rule needs.
`backward()` sorts those nodes topologically without recursion and applies
the chain rule in reverse:  x̄ = Σ over uses of x of (∂use/∂x)ᵀ · ūse.

Two paths, one rule.  A backward rule is written with numpy operators and
functions.  With ``create_graph=False`` it runs on plain ndarrays: no Tensor
objects, no graph, the cost of hand-written numpy.  With ``create_graph=True``
it runs on Tensors (Tensor takes part in numpy's ``__array_ufunc__`` and
``__array_function__`` protocols), so the backward pass records a graph of its
own and can be differentiated again: this gives Hessian-vector products.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

ArrayLike = Any  # anything np.asarray accepts, or a Tensor


# ----------------------------------------------------------------------------
# Grad mode
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


# ----------------------------------------------------------------------------
# Function: one node of the graph
# ----------------------------------------------------------------------------
class Function:
    """Base of every differentiable op.

    A subclass defines ``forward(self, *arrays, **options) -> ndarray`` and
    ``backward(self, g, *inputs, out) -> tuple`` (one gradient per input, or
    None where ``self.needs[i]`` is False).  In backward, ``inputs`` and
    ``out`` are ndarrays on the fast path and Tensors when a graph of the
    backward pass is being recorded; rules use only operations both support.
    """

    parents: tuple[Tensor, ...] | None
    retained: weakref.ref | None = None  # set by Tensor.retain_grad()
    out_modified = False  # set when the output is changed in place

    @classmethod
    def apply(cls, *parents: Tensor, **options: Any) -> Tensor:
        fn = cls.__new__(cls)
        arrays, needs = [], []
        for p in parents:  # a plain loop: cheaper than two comprehensions on Python 3.11
            arrays.append(p.data)
            needs.append(p._requires_grad)
        try:
            out = fn.forward(*arrays, **options)
        except ValueError as error:
            shapes = " and ".join(str(a.shape) for a in arrays)
            raise ValueError(f"{cls.__name__} of shapes {shapes}: {error}") from None
        if type(out) is not np.ndarray:  # full reductions give numpy scalars
            out = np.asarray(out)
        if _GradMode.enabled and True in needs:
            fn.parents = parents
            fn.needs = needs
            fn.inputs = arrays
            fn.out = out
            fn.stamp = _InPlaceClock.now
            fn.sequence = next(_sequence)
            return Tensor._make(out, fn)
        return Tensor._make(out, None)

    def forward(self, *arrays: np.ndarray, **options: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: Any, *saved: Any) -> tuple:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name}>"


_sequence = itertools.count()  # creation order: a node is always younger than its inputs' nodes

_FREED = (
    "Trying to backward through the graph a second time: the values saved for "
    "backward by {op} were freed after the first backward. Pass "
    "retain_graph=True to the first backward() or grad() call if you need to "
    "go through the graph again."
)
_MODIFIED = (
    "A tensor needed by {op} for its gradient was modified in place after it "
    "was used (by an in-place method such as add_ or by an optimizer step). "
    "Compute the gradient before modifying it, or use the out-of-place "
    "operation (x + y instead of x.add_(y))."
)


class _InPlaceClock:
    """Counts in-place changes; a tensor's _version is the count at its last one."""

    now = 0

    @classmethod
    def tick(cls) -> int:
        cls.now += 1
        return cls.now


def _check_saved(fn: Function) -> None:
    if fn.parents is None:
        raise RuntimeError(_FREED.format(op=fn.name))
    changed_since = _InPlaceClock.now != fn.stamp  # cheap test first: anything changed in place?
    if changed_since and (any(p._version > fn.stamp for p in fn.parents) or fn.out_modified):
        raise RuntimeError(_MODIFIED.format(op=fn.name))


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    *,
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> dict[Tensor, Any] | None:
    """The reverse sweep shared by Tensor.backward and autograd.grad.

    Topological order without recursion: every node is created after the
    nodes of its inputs, so visiting nodes from the youngest to the oldest
    (a heap keyed by creation number, as PyTorch's engine does) reaches each
    node only after all of its consumers have added their share x̄ += (∂y/∂x)ᵀȳ.

    root_grads are ndarrays (fast path) or Tensors (create_graph).  Without
    ``capture`` gradients are accumulated into the ``.grad`` of leaves; with
    it, the gradients of the captured tensors are returned (a dict keyed by
    tensor) and no ``.grad`` is touched.
    """
    pending: dict[Function, Any] = {}  # node -> gradient of its output so far
    heap: list[tuple[int, Function]] = []  # (-creation number, node)
    leaves: dict[Tensor, Any] = {}  # leaf (or captured tensor) -> gradient so far; Tensors hash by identity
    captured = {t._ctx: t for t in capture if t._ctx is not None} if capture is not None else {}
    push, pop, clock = heapq.heappush, heapq.heappop, _InPlaceClock.now  # locals: this loop is hot

    def send(t: Tensor, g: Any) -> None:
        """Add g to the gradient waiting at tensor t."""
        dtype = t.data.dtype
        if g.dtype is not dtype and g.dtype != dtype:  # a gradient keeps its tensor's dtype
            g = g.astype(dtype)
        ctx = t._ctx
        if ctx is not None:
            previous = pending.get(ctx)
            if previous is None:
                if ctx.parents is None or ctx.stamp != clock:  # freed, or maybe modified in place
                    _check_saved(ctx)
                pending[ctx] = g
                push(heap, (-ctx.sequence, ctx))
            else:
                pending[ctx] = previous + g
        else:
            previous = leaves.get(t)
            leaves[t] = g if previous is None else previous + g

    for t, g in zip(roots, root_grads):
        send(t, g)
    grad_mode = _GradMode.enabled
    _GradMode.enabled = create_graph  # the rules record a graph only when one is asked for
    try:
        while heap:
            fn = pop(heap)[1]
            g = pending.pop(fn)
            if captured and fn in captured:
                leaves[captured[fn]] = g
            if fn.retained is not None and capture is None:
                kept = fn.retained()
                if kept is not None:
                    kept.grad = g if create_graph else Tensor._make(g, None)
            if create_graph:
                grads = fn.backward(g, *fn.parents, Tensor._make(fn.out, fn))
            else:
                grads = fn.backward(g, *fn.inputs, fn.out)
            for p, gp in zip(fn.parents, grads):
                if gp is not None and p._requires_grad:
                    send(p, gp)
            if not retain_graph:  # free the saved buffers; a later backward through fn raises
                fn.__dict__.clear()
                fn.parents = None
    finally:
        _GradMode.enabled = grad_mode

    if capture is not None:
        return leaves
    handed: set[int] = set()
    for leaf, g in leaves.items():  # writes ._grad directly: shapes are right by construction
        if create_graph:
            leaf._grad = g if leaf._grad is None else leaf._grad + g
        elif leaf._grad is not None:
            leaf._grad = Tensor._make(leaf._grad.data + g, None)
        else:
            # .grad arrays must not alias each other or be a view of another array.
            if g.base is not None or id(g) in handed or not g.flags.writeable:
                g = g.copy()
            handed.add(id(g))
            leaf._grad = Tensor._make(g, None)
    return None


# ----------------------------------------------------------------------------
# Tensor
# ----------------------------------------------------------------------------
def _to_array(data: ArrayLike, dtype: Any = None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    array = np.array(data, dtype=dtype)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor data must be numeric (bool, int or float), got dtype {array.dtype}; "
            "convert it with np.asarray(data, dtype=float) first."
        )
    return array


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    """Accept both f(2, 3) and f((2, 3)), as numpy and PyTorch users expect."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator used by Tensor.randn / Tensor.rand and nn.init."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def default_rng() -> np.random.Generator:
    return _default_rng


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None, name=None)`` copies data
    into a new ndarray; Python floats become float64.
    """

    __slots__ = ("data", "_grad", "_requires_grad", "_ctx", "_version", "name", "__weakref__")
    __array_priority__ = 100

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self.data = _to_array(data, dtype)
        self._grad: Tensor | None = None
        self._requires_grad = False
        self._ctx: Function | None = None
        self._version = 0
        self.name = name
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, data: np.ndarray, ctx: Function | None) -> Tensor:
        """Wrap an ndarray without copying (the engine's constructor)."""
        t = object.__new__(cls)
        t.data = data
        t._grad = None
        t._requires_grad = ctx is not None
        t._ctx = ctx
        t._version = 0
        t.name = None
        return t

    # -- autograd state ------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by backward(); users may assign a Tensor, an array or None."""
        return self._grad

    @grad.setter
    def grad(self, value: ArrayLike | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                value = Tensor(value, dtype=self.data.dtype)
            if value.shape != self.data.shape:
                raise ValueError(
                    f"a gradient of shape {value.shape} cannot be assigned to a tensor of shape {self.shape}."
                )
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._ctx is not None and not value:
            raise RuntimeError(
                "requires_grad can only be switched off on a leaf tensor; "
                "use .detach() to get a tensor outside the graph."
            )
        if value and self.data.dtype.kind != "f":
            raise TypeError(
                f"Only floating-point tensors can require gradients, this one is "
                f"{self.data.dtype}; create it with dtype=np.float64 (or float32)."
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, value: bool = True) -> Tensor:
        self.requires_grad = value
        return self

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        return self._ctx

    def retain_grad(self) -> None:
        """Fill .grad of this non-leaf tensor at each backward (fresh each time)."""
        if self._ctx is not None:
            self._ctx.retained = weakref.ref(self)

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._make(self.data, None)

    def backward(
        self,
        gradient: ArrayLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) · gradient into every leaf's ``.grad``."""
        if not self._requires_grad:
            raise RuntimeError(
                "This tensor does not require grad: none of the tensors it was "
                "computed from has requires_grad=True, or it was computed under "
                "no_grad()."
            )
        root_grad = _initial_gradient(self, gradient, create_graph)
        run_backward(
            [self],
            [root_grad],
            retain_graph=create_graph if retain_graph is None else retain_graph,
            create_graph=create_graph,
        )

    # -- array facts -----------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float | int | bool:
        return self.data.item()

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, prefix="Tensor(", separator=", ")
        extra = f", shape={self.shape}" if self.ndim else ""
        if self.data.dtype != np.float64:
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx!r}"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        if self.name:
            extra += f", name={self.name!r}"
        return f"Tensor({body}{extra})"

    # -- in-place updates (tracked: a saved tensor modified in place is detected)
    def _in_place(self, new_data: np.ndarray) -> Tensor:
        if _GradMode.enabled and self._requires_grad:
            raise RuntimeError(
                "An in-place operation on a tensor that requires grad would hide "
                "it from autograd; do it inside `with no_grad():` (as optimizers "
                "do) or use the out-of-place form."
            )
        self.data[...] = new_data
        self._version = _InPlaceClock.tick()
        if self._ctx is not None:
            self._ctx.out_modified = True
        return self

    def add_(self, other: ArrayLike, alpha: float = 1.0) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return self._in_place(self.data + alpha * np.asarray(other))

    def sub_(self, other: ArrayLike, alpha: float = 1.0) -> Tensor:
        return self.add_(other, -alpha)

    def mul_(self, other: ArrayLike) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return self._in_place(self.data * other)

    def copy_(self, other: ArrayLike) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return self._in_place(np.asarray(other))

    def zero_(self) -> Tensor:
        return self._in_place(np.zeros_like(self.data))

    def fill_(self, value: float) -> Tensor:
        return self._in_place(np.full_like(self.data, value))

    def bump_version(self) -> None:
        """Record an in-place change made directly on ``.data`` (optimizers)."""
        self._version = _InPlaceClock.tick()

    # -- factories -------------------------------------------------------------
    @classmethod
    def zeros(cls, *shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
        return cls(np.zeros(_shape_arg(shape), dtype), requires_grad, dtype)

    @classmethod
    def ones(cls, *shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
        return cls(np.ones(_shape_arg(shape), dtype), requires_grad, dtype)

    @classmethod
    def randn(
        cls,
        *shape: Any,
        dtype: Any = np.float64,
        requires_grad: bool = False,
        rng: np.random.Generator | None = None,
    ) -> Tensor:
        """Standard normal samples (from ``rng``, else the seedable default)."""
        rng = rng or _default_rng
        return cls(rng.standard_normal(_shape_arg(shape)), requires_grad, dtype)

    @classmethod
    def rand(
        cls,
        *shape: Any,
        dtype: Any = np.float64,
        requires_grad: bool = False,
        rng: np.random.Generator | None = None,
    ) -> Tensor:
        """Uniform samples on [0, 1)."""
        rng = rng or _default_rng
        return cls(rng.random(_shape_arg(shape)), requires_grad, dtype)

    @classmethod
    def arange(cls, *args: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return cls(np.arange(*args), requires_grad, dtype)

    @classmethod
    def eye(cls, n: int, m: int | None = None, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
        return cls(np.eye(n, m), requires_grad, dtype)

    @classmethod
    def zeros_like(cls, other: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return cls(np.zeros_like(np.asarray(other), dtype), requires_grad)

    @classmethod
    def ones_like(cls, other: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return cls(np.ones_like(np.asarray(other), dtype), requires_grad)

    # -- arithmetic (numpy broadcasting; gradients summed back to each shape) --
    def __add__(self, other: ArrayLike) -> Tensor:
        return _ops.Add.apply(self, _lift(other, self))

    def __radd__(self, other: ArrayLike) -> Tensor:
        return _ops.Add.apply(_lift(other, self), self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return _ops.Sub.apply(self, _lift(other, self))

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return _ops.Sub.apply(_lift(other, self), self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return _ops.Mul.apply(self, _lift(other, self))

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return _ops.Mul.apply(_lift(other, self), self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return _ops.Div.apply(self, _lift(other, self))

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return _ops.Div.apply(_lift(other, self), self)

    def __pow__(self, exponent: ArrayLike) -> Tensor:
        if isinstance(exponent, (int, float)):
            return _ops.PowScalar.apply(self, exponent=exponent)
        return _ops.Pow.apply(self, _lift(exponent, self))

    def __rpow__(self, base: ArrayLike) -> Tensor:
        return _ops.Pow.apply(_lift(base, self), self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return _ops.MatMul.apply(self, _lift(other, self))

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return _ops.MatMul.apply(_lift(other, self), self)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def matmul(self, other: ArrayLike) -> Tensor:
        return self @ other

    def dot(self, other: ArrayLike) -> Tensor:
        """numpy.dot for 1-D and 2-D operands (inner product or matrix product)."""
        other = _lift(other, self)
        if self.ndim > 2 or other.ndim > 2:
            raise ValueError(
                f"dot takes 1-D or 2-D tensors, got shapes {self.shape} and {other.shape}; "
                "use matmul (@) for batched products."
            )
        if self.ndim == 0 or other.ndim == 0:
            return self * other
        return self @ other

    # -- comparisons: elementwise, boolean, no gradient ------------------------
    def _compare(self, other: ArrayLike, ufunc: np.ufunc) -> Tensor:
        return Tensor._make(ufunc(self.data, _data(other)), None)

    def __eq__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: ArrayLike) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __lt__(self, other: ArrayLike) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: ArrayLike) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: ArrayLike) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: ArrayLike) -> Tensor:
        return self._compare(other, np.greater_equal)

    __hash__ = object.__hash__

    # -- elementwise functions -------------------------------------------------
    def exp(self) -> Tensor:
        return _ops.Exp.apply(self)

    def log(self) -> Tensor:
        return _ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return _ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return _ops.Abs.apply(self)

    def relu(self) -> Tensor:
        return _ops.ReLU.apply(self)

    def sigmoid(self) -> Tensor:
        return _ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Clamp to [min, max]; the gradient passes where min <= x <= max."""
        return _ops.Clip.apply(self, low=min, high=max)

    def astype(self, dtype: Any) -> Tensor:
        if np.dtype(dtype) == self.data.dtype:
            return self
        return _ops.Cast.apply(self, dtype=np.dtype(dtype))

    # -- reductions ------------------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return self.sum(axis=axis, keepdims=keepdims) / _count(self.shape, axis)

    def var(self, axis: int | tuple[int, ...] | None = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        """Σ(x − mean)² / (N − ddof), numpy's definition."""
        centered = self - self.mean(axis=axis, keepdims=True)
        total = (centered * centered).sum(axis=axis, keepdims=keepdims)
        return total / (_count(self.shape, axis) - ddof)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Largest values (ties share the gradient equally)."""
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims, reduce=np.max)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims, reduce=np.min)

    def softmax(self, axis: int = -1) -> Tensor:
        return _ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _ops.LogSoftmax.apply(self, axis=axis)

    # -- shape -----------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return _ops.Reshape.apply(self, shape=_shape_arg(shape))

    def flatten(self) -> Tensor:
        return self.reshape(-1)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes (numpy semantics: no arguments reverses them)."""
        axes = _shape_arg(axes) or tuple(reversed(range(self.ndim)))
        return _ops.Transpose.apply(self, axes=axes)

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.transpose(axes)

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Tensor:
        return self.reshape(np.squeeze(self.data, axis).shape)

    def unsqueeze(self, axis: int) -> Tensor:
        return self.reshape(np.expand_dims(self.data, axis).shape)

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast to a larger shape (np.broadcast_to)."""
        return _ops.Expand.apply(self, shape=_shape_arg(shape))

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.GetItem.apply(self, index=_index_data(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "Tensors do not support item assignment (it would silently break gradients). Build the "
            "new tensor with operations (e.g. concat, or x * mask), or change t.data[...] under no_grad()."
        )

    # -- numpy protocols: numpy functions applied to Tensors give Tensors ------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs:
            return NotImplemented
        if ufunc in _CONSTANT_UFUNCS:  # piecewise constant: no gradient
            return Tensor._make(ufunc(*(_data(x) for x in inputs)), None)
        name = _UFUNC_METHODS.get(ufunc)
        if name is None:
            return NotImplemented
        first, *rest = inputs
        if not isinstance(first, Tensor):
            first = _lift(first, rest[0])
        return getattr(first, name)(*rest)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        impl = _ARRAY_FUNCTIONS.get(func)
        if impl is None:
            return NotImplemented
        return impl(*args, **kwargs)


def stack(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along a new axis; the gradient flows to every input."""
    return concat([_lift(t, None).unsqueeze(axis) for t in tensors], axis=axis)


def concat(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; the gradient flows to every input."""
    if not tensors:
        raise ValueError("concat needs at least one tensor.")
    return _ops.Concat.apply(*(_lift(t, None) for t in tensors), axis=axis)


def _count(shape: tuple[int, ...], axis: int | tuple[int, ...] | None) -> int:
    """How many elements a reduction over `axis` combines into each result."""
    if axis is None:
        return math.prod(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[a] for a in axes)


def _index_data(index: Any) -> Any:
    """Tensors and lists inside an index become ndarrays."""
    if isinstance(index, tuple):
        return tuple(_index_data(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _lift(value: Any, like: Tensor | Any) -> Tensor:
    """A constant operand as a Tensor.

    A Python scalar takes the dtype of the float tensor it meets, so
    float32 * 2.0 stays float32 (numpy's rule for Python scalars).
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float)) and isinstance(like, Tensor) and like.data.dtype.kind == "f":
        return Tensor._make(np.asarray(value, like.data.dtype), None)
    return Tensor._make(np.asarray(value), None)


def _initial_gradient(root: Tensor, gradient: ArrayLike | None, create_graph: bool) -> Any:
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {root.shape} needs `gradient`: an "
                "implicit gradient (1) exists only for scalar outputs. Reduce it "
                "first (e.g. loss.sum()) or pass gradient=<tensor of the same shape>."
            )
        g = np.ones_like(root.data)
    else:
        g = np.array(_data(gradient), dtype=root.data.dtype)
        if g.shape != root.shape:
            raise ValueError(f"gradient has shape {g.shape} but the tensor has shape {root.shape}.")
        if create_graph and isinstance(gradient, Tensor):
            return gradient
    return Tensor._make(g, None) if create_graph else g


_UFUNC_METHODS: dict[np.ufunc, str] = {
    np.add: "__add__",
    np.subtract: "__sub__",
    np.multiply: "__mul__",
    np.true_divide: "__truediv__",
    np.power: "__pow__",
    np.matmul: "__matmul__",
    np.negative: "__neg__",
    np.positive: "__pos__",
    np.exp: "exp",
    np.log: "log",
    np.sqrt: "sqrt",
    np.absolute: "abs",
    np.tanh: "tanh",
}
_CONSTANT_UFUNCS = {
    np.sign, np.equal, np.not_equal, np.less, np.less_equal, np.greater,
    np.greater_equal, np.isfinite, np.isnan, np.logical_and, np.logical_or,
    np.logical_not,
}  # fmt: skip
_ARRAY_FUNCTIONS: dict[Any, Any] = {
    np.sum: Tensor.sum,
    np.mean: Tensor.mean,
    np.reshape: lambda a, shape: a.reshape(shape),
    np.transpose: lambda a, axes=None: a.transpose(*(axes or ())),
    np.swapaxes: Tensor.swapaxes,
    np.broadcast_to: lambda a, shape: a.expand(shape),
    np.expand_dims: Tensor.unsqueeze,
    np.squeeze: Tensor.squeeze,
    np.stack: stack,
    np.concatenate: concat,
}

from tinygrad_edu import ops as _ops  # noqa: E402  (ops builds on the classes above)
