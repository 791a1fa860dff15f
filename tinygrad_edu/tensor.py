"""The Tensor: an ndarray that remembers how it was computed.

This file is the Tensor's surface: construction, the autograd state users see
(``grad``, ``requires_grad``, ``backward()``), operators, methods, in-place
updates and factories.  Every differentiable operation goes through
``engine.apply`` with an op from ops.py; the graph and the backward sweep are
engine.py's.  Methods named like numpy's functions (``sum``, ``exp``,
``max`` ...) are tensor_xp's functions, so ``t.sum(axis=0)`` and
``np.sum(t, axis=0)`` are the same recorded op.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from tinygrad_edu import ops, tensor_xp
from tinygrad_edu.engine import Function, InPlace, Tracing, apply, binary_operator, is_grad_enabled, sweep, untraceable

ArrayLike = Any  # anything np.asarray accepts, or a Tensor
Rng = np.random.Generator | None
_new = object.__new__


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


IN_PLACE_WITH_GRAD = (
    "an in-place operation on a tensor that requires grad would hide it from autograd; "
    "do it inside `with no_grad():` (as optimizers do) or use the out-of-place form (x = x + y)."
)
READ_OUTSIDE = "return the tensor from the function and read it after the call"
RANDOM_OUTSIDE = "draw them outside and pass them in as an argument"


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    ``Tensor(data, requires_grad=False, dtype=None, name=None)`` copies data
    into a new ndarray; Python floats become float64.
    """

    __slots__ = ("data", "_grad", "_requires_grad", "_node", "_version", "name", "__weakref__")
    __array_priority__ = 100

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self.data = _to_array(data, dtype)
        if Tracing.tape is not None:  # a copy of an array of a jitted step is made again at each replay
            Tracing.tape.copy(data, self.data)
        self._grad: Tensor | None = None
        self._requires_grad = False
        self._node: Function | None = None
        self._version = 0
        self.name = name
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _make(data: np.ndarray, node: Function | None) -> Tensor:
        """Wrap an ndarray without copying (the engine's constructor)."""
        t = _new(Tensor)
        t.data = data
        t._grad = None
        t._requires_grad = node is not None
        t._node = node
        t._version = 0
        t.name = None
        return t

    # -- autograd state ------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by backward(); users may assign a Tensor, an array or None."""
        if Tracing.tape is not None and self._grad is not None:  # a jitted step reads it afresh at each replay
            Tracing.tape.read_gradient(self, self._grad)
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
        if Tracing.tape is not None:  # a jitted step replays the assignment
            Tracing.tape.assign_gradient(self, value)
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._node is not None and not value:
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
        return self._node is None

    @property
    def grad_fn(self) -> Function | None:
        return self._node

    def retain_grad(self) -> None:
        """Fill .grad of this non-leaf tensor at each backward (fresh each time)."""
        if self._node is not None:
            self._node.retained = weakref.ref(self)

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
        tape = Tracing.tape
        if tape is not None and create_graph:
            untraceable("backward(create_graph=True)", "differentiate twice outside the jitted function")
        seed = initial_gradient(self, gradient, create_graph or tape is not None)
        if tape is not None and gradient is None:  # the implicit 1: the same at every call
            tape.constant(seed.data)
        found = sweep(
            [self],
            [seed],
            create_graph=create_graph,
            retain_graph=create_graph if retain_graph is None else retain_graph,
            traced=tape is not None,  # under jit the rules run on Tensors: their operations are recorded too
        )
        handed: set[int] = set()  # ids of the arrays given out as .grad so far
        for t, g in found.items():
            if tape is not None:  # the gradient, as an array: replayed as the line below
                g = tape.gradient(t, g)
            if t._node is not None:  # a non-leaf that called retain_grad(): fresh at each backward
                t._grad = g if create_graph else Tensor._make(_own_array(g, handed), None)
            elif create_graph:
                t._grad = g if t._grad is None else t._grad + g
            else:
                t._grad = Tensor._make(_own_array(g, handed) if t._grad is None else t._grad.data + g, None)

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
        untraceable("t.numpy()", READ_OUTSIDE)
        return self.data

    def item(self) -> float | int | bool:
        untraceable("t.item()", READ_OUTSIDE)
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
        untraceable("bool(t), as in `if t > 0:`, ", "compute both branches and pick with Tensor.where")
        return bool(self.data)

    def __float__(self) -> float:
        untraceable("float(t)", READ_OUTSIDE)
        return float(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, prefix="Tensor(", separator=", ")
        extra = f", shape={self.shape}" if self.ndim else ""
        if self.data.dtype != np.float64:
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn={self._node!r}"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        if self.name:
            extra += f", name={self.name!r}"
        return f"Tensor({body}{extra})"

    # -- in-place updates (tracked: a saved tensor modified in place is detected)
    def _in_place(self, new_data: np.ndarray) -> Tensor:
        untraceable("an in-place tensor method (add_, copy_, fill_, …)", "use the out-of-place operation")
        if is_grad_enabled() and self._requires_grad:
            raise RuntimeError(IN_PLACE_WITH_GRAD)
        self._write(new_data)
        return self

    def _write(self, new_data: np.ndarray) -> None:
        """Change the data in place; a node that saved it will refuse to use it (its version is newer)."""
        self.data[...] = new_data
        self._version = InPlace.tick()
        if self._node is not None:
            self._node.out_modified = True

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

    def _augmented(self, op: ops.Op, other: ArrayLike, symbol: str) -> Tensor:
        """x ∘= y.  Where nothing is recorded (under no_grad(), or no tensor requires grad) x's data
        changes in place, as in PyTorch: ``p -= lr * p.grad`` under no_grad() updates the parameter
        that every reference sees, not a copy bound to the name p.  Where a graph is recorded it is
        x = x ∘ y (PyTorch rewrites x's node in place; here nodes point at tensors, so x becomes a new
        tensor), and on a leaf that requires grad it is refused, as in PyTorch."""
        if self._requires_grad and self._node is None and is_grad_enabled():
            raise RuntimeError(IN_PLACE_WITH_GRAD)
        out = apply(op, self, other)  # recorded by a jit's trace, as every op
        if out._node is not None:  # a graph is recorded
            return out
        result = out.data
        if result.shape != self.shape or not np.can_cast(result.dtype, self.dtype, "same_kind"):
            raise ValueError(
                f"x {symbol}= y changes x in place, so the result must keep x's shape {self.shape} and dtype "
                f"{self.dtype}, but it has shape {result.shape} and dtype {result.dtype}; "
                f"write x = x {symbol} y for a new tensor."
            )
        if Tracing.tape is not None:
            Tracing.tape.write(self, result)
        self._write(result)
        return self

    def __iadd__(self, other: ArrayLike) -> Tensor:
        return self._augmented(ops.Add, other, "+")

    def __isub__(self, other: ArrayLike) -> Tensor:
        return self._augmented(ops.Sub, other, "-")

    def __imul__(self, other: ArrayLike) -> Tensor:
        return self._augmented(ops.Mul, other, "*")

    def __itruediv__(self, other: ArrayLike) -> Tensor:
        return self._augmented(ops.Div, other, "/")

    def bump_version(self) -> None:
        """Record an in-place change made directly on ``.data`` (optimizers)."""
        self._version = InPlace.tick()

    # -- factories -------------------------------------------------------------
    @classmethod
    def zeros(cls, *shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
        return cls(np.zeros(_shape_arg(shape), dtype), requires_grad, dtype)

    @classmethod
    def ones(cls, *shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
        return cls(np.ones(_shape_arg(shape), dtype), requires_grad, dtype)

    @classmethod
    def randn(cls, *shape: Any, dtype: Any = np.float64, requires_grad: bool = False, rng: Rng = None) -> Tensor:
        """Standard normal samples (from ``rng``, else the seedable default of manual_seed)."""
        untraceable("drawing random numbers", RANDOM_OUTSIDE)
        return cls((rng or _default_rng).standard_normal(_shape_arg(shape)), requires_grad, dtype)

    @classmethod
    def rand(cls, *shape: Any, dtype: Any = np.float64, requires_grad: bool = False, rng: Rng = None) -> Tensor:
        """Uniform samples on [0, 1)."""
        untraceable("drawing random numbers", RANDOM_OUTSIDE)
        return cls((rng or _default_rng).random(_shape_arg(shape)), requires_grad, dtype)

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

    # -- arithmetic: numpy broadcasting; constants (numbers, arrays) need no gradient
    __add__, __radd__ = binary_operator(ops.Add), binary_operator(ops.Add, reflected=True)
    __sub__, __rsub__ = binary_operator(ops.Sub), binary_operator(ops.Sub, reflected=True)
    __mul__, __rmul__ = binary_operator(ops.Mul), binary_operator(ops.Mul, reflected=True)
    __truediv__, __rtruediv__ = binary_operator(ops.Div), binary_operator(ops.Div, reflected=True)

    def __pow__(self, exponent: ArrayLike) -> Tensor:
        return tensor_xp.power(self, exponent)

    def __rpow__(self, base: ArrayLike) -> Tensor:
        return apply(ops.Pow, base, self)

    __matmul__, __rmatmul__ = binary_operator(ops.MatMul), binary_operator(ops.MatMul, reflected=True)

    def __neg__(self) -> Tensor:
        return apply(ops.Neg, self)

    def __pos__(self) -> Tensor:
        return self

    def matmul(self, other: ArrayLike) -> Tensor:
        return self @ other

    __mod__, __rmod__ = binary_operator(ops.Remainder), binary_operator(ops.Remainder, reflected=True)
    __floordiv__ = binary_operator(ops.FloorDivide)
    __rfloordiv__ = binary_operator(ops.FloorDivide, reflected=True)
    dot, outer, tensordot = tensor_xp.dot, tensor_xp.outer, tensor_xp.tensordot

    # -- comparisons: elementwise, boolean, no gradient
    __eq__ = tensor_xp.equal  # type: ignore[assignment]
    __ne__ = tensor_xp.not_equal  # type: ignore[assignment]
    __lt__ = tensor_xp.less
    __le__ = tensor_xp.less_equal
    __gt__ = tensor_xp.greater
    __ge__ = tensor_xp.greater_equal
    __hash__ = object.__hash__

    # -- elementwise functions, reductions and shape functions: tensor_xp's, as methods
    exp, log, sqrt, abs, tanh = tensor_xp.exp, tensor_xp.log, tensor_xp.sqrt, tensor_xp.absolute, tensor_xp.tanh
    square, sin, cos, tan = tensor_xp.square, tensor_xp.sin, tensor_xp.cos, tensor_xp.tan
    log1p, expm1, log2, log10, exp2 = tensor_xp.log1p, tensor_xp.expm1, tensor_xp.log2, tensor_xp.log10, tensor_xp.exp2
    maximum, minimum, logaddexp = tensor_xp.maximum, tensor_xp.minimum, tensor_xp.logaddexp
    sign, floor, ceil, round, trunc = tensor_xp.sign, tensor_xp.floor, tensor_xp.ceil, tensor_xp.round, tensor_xp.trunc
    isnan, isinf, isfinite = tensor_xp.isnan, tensor_xp.isinf, tensor_xp.isfinite
    sum, mean, max, min, prod = tensor_xp.sum, tensor_xp.mean, tensor_xp.max, tensor_xp.min, tensor_xp.prod
    var, std, logsumexp, cumsum = tensor_xp.var, tensor_xp.std, tensor_xp.logsumexp, tensor_xp.cumsum
    argmax, argmin, any, all = tensor_xp.argmax, tensor_xp.argmin, tensor_xp.any, tensor_xp.all
    squeeze, swapaxes, ravel, flip = tensor_xp.squeeze, tensor_xp.swapaxes, tensor_xp.ravel, tensor_xp.flip
    repeat, tile, roll, tril, triu = tensor_xp.repeat, tensor_xp.tile, tensor_xp.roll, tensor_xp.tril, tensor_xp.triu

    def relu(self) -> Tensor:
        return apply(ops.ReLU, self)

    def sigmoid(self) -> Tensor:
        return apply(ops.Sigmoid, self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Clamp to [min, max]; the gradient passes where min <= x <= max."""
        return tensor_xp.clip(self, min, max)

    def astype(self, dtype: Any) -> Tensor:
        return self if np.dtype(dtype) == self.data.dtype else tensor_xp.astype(self, dtype)

    def where(self, condition: ArrayLike, other: ArrayLike) -> Tensor:
        """self where condition holds, else other (PyTorch's Tensor.where)."""
        return tensor_xp.where(condition, self, other)

    def masked_fill(self, mask: ArrayLike, value: float) -> Tensor:
        """value where mask is true, self elsewhere; no gradient flows to the filled places."""
        return tensor_xp.where(mask, value, self)

    def softmax(self, axis: int = -1) -> Tensor:
        return apply(ops.Softmax, self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return apply(ops.LogSoftmax, self, axis=axis)

    # -- shape
    def reshape(self, *shape: Any) -> Tensor:
        return tensor_xp.reshape(self, _shape_arg(shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge the axes start_dim … end_dim into one (all of them by default), as PyTorch."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = normalize_axis_tuple((start_dim, end_dim), self.ndim, allow_duplicate=True)
        merged = math.prod(self.shape[start : end + 1])
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1 :])

    def split(self, split_size_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
        """PyTorch's Tensor.split: pieces of split_size (the last one smaller), or of the given sizes.
        (np.split(t, n) on a Tensor keeps numpy's meaning: n equal sections.)"""
        n = self.shape[normalize_axis_index(axis, self.ndim)]
        if isinstance(split_size_or_sections, int):
            sizes = [split_size_or_sections] * (-(-n // split_size_or_sections))
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"split sizes {sizes} add up to {sum(sizes)}, not to the axis length {n}.")
        return tensor_xp.split(self, list(itertools.accumulate(sizes))[:-1] if sizes else 1, axis)

    def chunk(self, chunks: int, axis: int = 0) -> list[Tensor]:
        """PyTorch's chunk: at most ``chunks`` pieces of ⌈n / chunks⌉ (the last one smaller)."""
        n = self.shape[normalize_axis_index(axis, self.ndim)]
        return self.split(max(1, -(-n // chunks)), axis)

    def gather(self, axis: int, index: ArrayLike) -> Tensor:
        """PyTorch's gather: out[i][j] = self[index[i][j]][j] along axis 0, and so on."""
        return tensor_xp.take_along_axis(self, index.data if isinstance(index, Tensor) else index, axis)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes (numpy semantics: no arguments reverses them)."""
        return tensor_xp.transpose(self, _shape_arg(axes) or None)

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def unsqueeze(self, axis: int) -> Tensor:
        return tensor_xp.expand_dims(self, axis)

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast to a larger shape (np.broadcast_to)."""
        return tensor_xp.broadcast_to(self, _shape_arg(shape))

    def __getitem__(self, index: Any) -> Tensor:
        return apply(ops.GetItem, self, index=_index_data(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "Tensors do not support item assignment (it would silently break gradients). Build the "
            "new tensor with operations (e.g. concat, or x * mask), or change t.data[...] under no_grad()."
        )

    # -- numpy's protocols: numpy functions on Tensors are tensor_xp's functions of the same name
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        name = ufunc.__name__
        if method != "__call__":
            raise TypeError(f"np.{name}.{method} does not take Tensors; use a Tensor method "
                            f"(t.sum() for np.add.reduce, t.cumsum() for np.add.accumulate).")  # fmt: skip
        if kwargs:
            raise TypeError(f"np.{name} on Tensors takes no keyword arguments ({', '.join(kwargs)}); "
                            f"call np.{name}(t) and use its result.")  # fmt: skip
        return _numpy_function(ufunc)(*inputs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _numpy_function(func)(*args, **kwargs)


def _numpy_function(func: Any) -> Any:
    """tensor_xp's function for a numpy function; a TypeError that says so when there is none."""
    name = getattr(func, "__name__", "")
    if name in tensor_xp.__all__ and getattr(np, name, None) is func:
        return getattr(tensor_xp, name)
    module = (getattr(func, "__module__", None) or "numpy").replace("numpy", "np", 1)
    raise TypeError(
        f"{module}.{name} has no gradient rule for Tensors: write it with Tensor operations (tensor_xp.__all__ "
        f"lists the numpy functions that take Tensors), or apply it to t.data for a constant without gradient."
    )


stack = tensor_xp.stack
concat = tensor_xp.concatenate


def _index_data(index: Any) -> Any:
    """Tensors and lists inside an index become ndarrays."""
    if isinstance(index, tuple):
        return tuple(_index_data(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _own_array(g: np.ndarray, handed: set[int]) -> np.ndarray:
    """g, or a copy of it when it is a view, read-only, or already some other tensor's .grad."""
    if g.base is not None or id(g) in handed or not g.flags.writeable:
        g = g.copy()
    handed.add(id(g))
    return g


def initial_gradient(root: Tensor, gradient: ArrayLike | None, create_graph: bool) -> Any:
    """The gradient a backward starts from: 1 for a scalar, else ``gradient`` (checked)."""
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {root.shape} needs `gradient`: an "
                "implicit gradient (1) exists only for scalar outputs. Reduce it "
                "first (e.g. loss.sum()) or pass gradient=<tensor of the same shape>."
            )
        g = np.ones_like(root.data)
    else:
        g = np.array(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=root.data.dtype)
        if g.shape != root.shape:
            raise ValueError(f"gradient has shape {g.shape} but the tensor has shape {root.shape}.")
        if create_graph and isinstance(gradient, Tensor):
            return gradient
    return Tensor._make(g, None) if create_graph else g
