"""Functional transforms: gradients as values instead of ``.grad`` side effects."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_edu.engine import (
    DIFFERENTIATE_OUTSIDE,
    creation_order,
    enable_grad,
    sweep,
    tangent_sweep,
    untraceable,
)
from tinygrad_edu.jit import Tangents, compile_tangent_sweep
from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import ArrayLike, Tensor, initial_gradient


def _as_tuple(x: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    return (x,) if isinstance(x, Tensor) else tuple(x)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: ArrayLike | Sequence[ArrayLike] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Σₖ grad_outputsₖ · ∂outputsₖ/∂inputs, one entry per input (torch.autograd.grad).

    Leaves' ``.grad`` are left untouched.  With ``create_graph=True`` the
    results carry a graph and can be differentiated again.
    """
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad_outputs has {len(grad_outputs)} entries but there are {len(outputs)} outputs.")
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(
                f"output {i} does not require grad: it was computed from no tensor "
                "with requires_grad=True (or under no_grad())."
            )
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"input {i} does not require grad; set requires_grad=True on it.")
    found = sweep(
        outputs,
        [initial_gradient(o, g, create_graph) for o, g in zip(outputs, grad_outputs)],
        create_graph=create_graph,
        retain_graph=create_graph if retain_graph is None else retain_graph,
        targets=inputs,
    )
    results: list[Tensor | None] = []
    for i, x in enumerate(inputs):
        g = found.get(x)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"input {i} (shape {x.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it."
            )
        if g is not None and not create_graph:
            g = Tensor._make(g, None)
        results.append(g)
    return tuple(results)


# ----------------------------------------------------------------------------
# Checking gradients against finite differences
# ----------------------------------------------------------------------------
def numerical_grad(f: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences (f(x + ε) − f(x − ε)) / 2ε of a scalar f, element by element."""
    result = []
    for x in inputs:
        numeric = np.zeros_like(x.data, dtype=np.float64)
        for idx in np.ndindex(x.shape):
            original = x.data[idx]
            x.data[idx] = original + eps
            plus = f(*inputs).item()
            x.data[idx] = original - eps
            minus = f(*inputs).item()
            x.data[idx] = original
            numeric[idx] = (plus - minus) / (2 * eps)
        result.append(numeric)
    return result


def gradcheck(
    f: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int = 0,
) -> bool:
    """Check the vector-Jacobian product of f against central differences.

    A random cotangent v turns any f into the scalar ⟨f(x), v⟩, whose
    gradient is exactly what backward computes.  Use float64 inputs.
    Raises AssertionError naming the input that disagrees; returns True.
    """
    inputs = _as_tuple(inputs)
    v = np.random.default_rng(seed).standard_normal(f(*inputs).shape)

    def f_dot_v(*xs: Tensor) -> Tensor:
        return (f(*xs) * v).sum()

    out = f_dot_v(*inputs)
    analytic = grad(out, inputs, allow_unused=True) if out.requires_grad else (None,) * len(inputs)
    for i, (a, n) in enumerate(zip(analytic, numerical_grad(f_dot_v, inputs, eps))):
        a = np.zeros_like(n) if a is None else a.data
        if not np.allclose(a, n, atol=atol, rtol=rtol):
            raise AssertionError(
                f"the gradient of {getattr(f, '__qualname__', 'f')} for input {i} (shape {n.shape}) differs from "
                f"finite differences by up to {np.max(np.abs(a - n)):.3g}\nanalytic:\n{a}\nnumeric:\n{n}"
            )
    return True


def gradgradcheck(f: Callable[..., Tensor], inputs: Sequence[Tensor], seed: int = 0, **tolerances: float) -> bool:
    """Check the backward pass itself: gradcheck of ⟨∇⟨f, v⟩, u⟩ for random v, u
    (this is what Hessian-vector products rely on).  ``tolerances``: eps, atol,
    rtol, as for gradcheck."""
    inputs = _as_tuple(inputs)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(f(*inputs).shape)
    u = [rng.standard_normal(x.shape) for x in inputs]

    def backward_of_f_dot_u(*xs: Tensor) -> Tensor:  # the second-order check: its gradient needs the backward's
        gs = grad((f(*xs) * v).sum(), xs, create_graph=True, allow_unused=True)
        terms = [(g * ui).sum() for g, ui in zip(gs, u) if g is not None]
        return sum(terms[1:], terms[0]) if terms else Tensor(0.0)

    return gradcheck(backward_of_f_dot_u, inputs, seed=seed, **tolerances)


# ----------------------------------------------------------------------------
# Functional transforms (torch.autograd.functional semantics)
# ----------------------------------------------------------------------------
TensorOrTuple = Tensor | tuple[Tensor, ...]


def _fresh_leaves(
    inputs: ArrayLike | Sequence[ArrayLike] | Module, copy: bool = False
) -> tuple[tuple[Tensor, ...], bool, tuple[Tensor, ...]]:
    """(the leaves to differentiate by, whether they form a tuple, f's arguments).

    A tensor, array, tuple or list becomes new leaves that require grad (sharing data
    unless ``copy``), passed as f(*leaves); a Module stands for its trainable parameters
    (a frozen one, requires_grad=False, is a constant), which f() reads itself (DESIGN's
    convention, torch.autograd.functional's for the rest)."""
    if isinstance(inputs, Module):
        params = tuple(p for p in inputs.parameters() if p.requires_grad)
        if not params:
            raise ValueError(f"the {type(inputs).__name__} has no parameters that require grad to differentiate.")
        return params, True, ()
    is_tuple = isinstance(inputs, (tuple, list))
    items = inputs if is_tuple else (inputs,)
    leaves = []
    for x in items:
        data = np.array(x.data if isinstance(x, Tensor) else x, copy=copy or None)
        if data.dtype.kind != "f":  # integers and booleans become float64; float32 stays float32
            data = data.astype(np.float64)
        leaf = Tensor._make(data, None)
        leaf.requires_grad = True
        leaves.append(leaf)
    return tuple(leaves), is_tuple, tuple(leaves)


def _with_grad_on(f: Callable[..., Any], *args: Any) -> Any:
    """f(*args) with its graph recorded even inside no_grad(): a transform's result does not
    depend on the grad mode around it (torch.func's rule), while a no_grad() inside f holds."""
    with enable_grad():
        return f(*args)


def scalar_output(out: Any, what: str = "f") -> Tensor:
    """Check that f returned a finite scalar Tensor, saying what is wrong otherwise."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{what} must return a Tensor, got {type(out).__name__}.")
    if out.size != 1:
        raise ValueError(f"{what} must return a scalar (one element), got shape {out.shape}; reduce it, e.g. .sum().")
    if not math.isfinite(out.data.item()):
        raise FloatingPointError(f"{what} returned {out.item()} at the given inputs; the loss must be finite there.")
    return out


def _zeros_where_none(grads: Sequence[Tensor | None], like: Sequence[Tensor]) -> tuple[Tensor, ...]:
    return tuple(Tensor(np.zeros_like(x.data)) if g is None else g for g, x in zip(grads, like))


def _check_finite(arrays: list[np.ndarray], what: str) -> list[np.ndarray]:
    """The arrays, once checked to be finite."""
    for i, a in enumerate(arrays):
        if math.isfinite(a.sum()):  # one cheap reduction; a sum that overflows is checked in full below
            continue
        bad = ~np.isfinite(a)
        if bad.any():
            where = tuple(int(j) for j in np.argwhere(bad)[0])
            raise FloatingPointError(f"{what} is not finite: input {i} has {a[where]} at index {where}.")
    return arrays


def _check_products(products: list[np.ndarray], vectors: Sequence[np.ndarray]) -> list[np.ndarray]:
    """H·v, once checked to be finite; if it is not, the error names v when v is the cause."""
    try:
        return _check_finite(products, "the Hessian-vector product")
    except FloatingPointError:
        _check_finite(list(vectors), "v")
        raise


def _nonzero(v: np.ndarray) -> bool:
    """v.any(), with a dense v told by its first entry (0.05 µs, against 2 µs to scan 8,192)."""
    return v.size > 0 and (v.item(0) != 0 or bool(v.any()))


HVP = Callable[[Sequence[np.ndarray]], list[np.ndarray]]  # hessian_times(vectors); unchecked: callers check


def gradient_graph(loss: Callable[[], Tensor], params: Sequence[Tensor]) -> tuple[Tensor, tuple, HVP]:
    """L(θ), ∇L(θ) recorded as a graph of its own, and the map v ↦ H·v on that graph.

    H·v is the derivative of ∇L(θ) along v.  ``hessian_times(vectors)`` takes it by
    a tangent sweep through the recorded gradient (forward over reverse; reverse over
    reverse, a backward through that graph seeded with v, measured slower everywhere
    here).  The second time the same parameters are seeded, the sweep is compiled
    into a program of numpy calls (jit.compile_tangent_sweep), which later calls
    replay: 0.95–0.98× one gradient on the 64→128→10 benchmark, and half a plain sweep
    on the demo's dense Hessian.  Zero blocks of v are not seeded.
    """
    out = scalar_output(_with_grad_on(loss))
    grads = grad(out, params, create_graph=True, allow_unused=True)
    live = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]  # the others have ∂g/∂θ = 0
    outputs = [grads[i] for i in live]
    order = creation_order(outputs)
    compiled: dict[tuple[int, ...], Tangents | None] = {}  # seeded parameters -> None once swept, then their program

    def forward_over_reverse(seeded: tuple[int, ...], seeds: dict[Tensor, np.ndarray]) -> list[Any]:
        if seeded not in compiled:  # the first time: a plain sweep
            compiled[seeded] = None
            return tangent_sweep(outputs, seeds, create_graph=False, order=order)
        replay = compiled[seeded]
        if replay is None:  # the second: traced, and compiled for the next ones
            tangents, compiled[seeded] = compile_tangent_sweep(outputs, seeds, order)
            return tangents
        return replay(seeds.values())

    def hessian_times(vectors: Sequence[np.ndarray]) -> list[np.ndarray]:
        untraceable("an HVP", DIFFERENTIATE_OUTSIDE)  # a replayed program would not be seen either
        found: list[Any] = [None] * len(params)
        seeded = tuple(i for i, v in enumerate(vectors) if _nonzero(v))
        if seeded:
            seeds = {params[i]: np.asarray(vectors[i], params[i].dtype) for i in seeded}
            for i, t in zip(live, forward_over_reverse(seeded, seeds)):
                found[i] = t
        return [np.zeros(p.shape, p.dtype) if t is None else t for t, p in zip(found, params)]  # zeros only where asked

    return out, grads, hessian_times


def hvp_once(
    loss: Callable[[], Tensor], params: Sequence[Tensor], vectors: Sequence[np.ndarray]
) -> tuple[Tensor, list[np.ndarray]]:
    """L(θ) and H·v at one point, as the gradient of the slope along v (reverse over forward):

        H·v = ∇_θ ⟨∇L(θ), v⟩ = ∇_θ (the derivative of L along v),

    the slope by forward mode, recording its graph, then one backward from it.  Unlike
    forward over reverse through a recorded gradient (gradient_graph), it never computes
    ∇L itself, whose weight products H·v does not need: 2.0× one gradient against 2.5×
    on the 64→128→10 benchmark, and faster on every network measured (docs/benchmarks.md).
    Worth it once; at a point used again, gradient_graph's compiled sweep is cheaper."""
    out = scalar_output(_with_grad_on(loss))
    seeds = {p: Tensor._make(np.asarray(v, p.dtype), None) for p, v in zip(params, vectors) if _nonzero(v)}
    (slope,) = tangent_sweep([out], seeds, create_graph=True) if seeds else (None,)
    found: dict[Tensor, np.ndarray] = {}  # param -> its part of H·v, from one backward sweep from the slope
    if slope is not None and slope.requires_grad:  # else the slope is constant in θ: H·v = 0
        found = sweep([slope], [np.ones_like(slope.data)], create_graph=False, retain_graph=False, targets=params)
    products = [found[p] if p in found else np.zeros(p.shape, p.dtype) for p in params]
    return out.detach(), _check_products(products, vectors)


def flat_hessian(loss: Callable[[], Tensor], params: Sequence[Tensor]) -> np.ndarray:
    """The dense n×n Hessian over the flattened params: the gradient graph once, then
    one tangent sweep through it per column (compiled after the first of each parameter)."""
    return hessian_matrix(gradient_graph(loss, params)[2], [p.shape for p in params])


def hessian_matrix(hessian_times: HVP, shapes: Sequence[tuple[int, ...]]) -> np.ndarray:
    """H = [H·e₁ … H·eₙ] from the map v ↦ H·v, over the flattened entries of the given shapes."""
    basis = [np.zeros(shape) for shape in shapes]
    flat_basis = [b.reshape(-1) for b in basis]  # views: setting an entry sets it in basis
    columns = np.zeros((sum(b.size for b in basis),) * 2)
    column = 0
    for b in flat_basis:
        for i in range(b.size):
            b[i] = 1.0
            columns[:, column] = np.concatenate([h.ravel() for h in hessian_times(basis)])
            b[i] = 0.0
            column += 1
    _check_finite([columns], "the Hessian")
    return columns


def _unpack(arrays: Sequence[np.ndarray], is_tuple: bool) -> TensorOrTuple:
    tensors = tuple(Tensor._make(np.asarray(a), None) for a in arrays)
    return tensors if is_tuple else tensors[0]


def _vectors_like(v: ArrayLike | Sequence[ArrayLike], leaves: Sequence[Tensor], is_tuple: bool) -> list[np.ndarray]:
    """v as arrays, checked to have the structure and shapes of the inputs."""
    vs = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if (isinstance(v, (tuple, list))) != is_tuple or len(vs) != len(leaves):
        raise ValueError(
            f"v must have the structure of inputs: {len(leaves)} "
            f"{'tensors in a tuple' if is_tuple else 'tensor'}, got {len(vs)} ({type(v).__name__})."
        )
    vectors = [np.asarray(x.data if isinstance(x, Tensor) else x, dtype=float) for x in vs]
    for i, (x, vec) in enumerate(zip(leaves, vectors)):
        if vec.shape != x.shape:
            raise ValueError(f"v[{i}] has shape {vec.shape} but input {i} has shape {x.shape}.")
    return vectors


def _versions(leaves: Sequence[Tensor]) -> list[tuple[int, int]]:
    """What changes when a tensor does (an in-place step bumps its version; ``.data =`` replaces its array)."""
    return [(t._version, id(t.data)) for t in leaves]


def make_hvp(
    f: Callable[..., Tensor], inputs: ArrayLike | Sequence[ArrayLike]
) -> tuple[Tensor, TensorOrTuple, Callable[[ArrayLike | Sequence[ArrayLike]], TensorOrTuple]]:
    """(f(inputs), ∇f(inputs), hvp_fn) with the gradient's graph built once at inputs:
    ``hvp_fn(v)`` is H·v for any v of the structure of inputs, for the cost of one
    backward through that graph (Lanczos, Hutchinson and the dense Hessian call it
    many times at one point).  The inputs are copied: the point stays where it was when
    the caller's arrays change afterwards.  A Module's parameters cannot be: once they
    change (an optimizer step, a new ``.data``), hvp_fn refuses to mix two points."""
    leaves, is_tuple, args = _fresh_leaves(inputs, copy=True)
    value, grads, hessian_times = gradient_graph(lambda: f(*args), leaves)
    point = _versions(leaves)

    def hvp_fn(v: ArrayLike | Sequence[ArrayLike]) -> TensorOrTuple:
        if _versions(leaves) != point:
            raise RuntimeError(
                "the parameters changed since make_hvp built its graph; call make_hvp again at the new point."
            )
        vectors = _vectors_like(v, leaves, is_tuple)
        return _unpack(_check_products(hessian_times(vectors), vectors), is_tuple)

    gradient = _unpack([g.data for g in _zeros_where_none(grads, leaves)], is_tuple)
    return value.detach(), gradient, hvp_fn


def hvp(
    f: Callable[..., Tensor], inputs: ArrayLike | Sequence[ArrayLike], v: ArrayLike | Sequence[ArrayLike]
) -> tuple[Tensor, TensorOrTuple]:
    """(f(inputs), H·v) with H the Hessian of the scalar f at inputs.

    A tuple of inputs is passed as f(*inputs); a Module stands for its trainable parameters
    (a tuple of them; f() reads them itself).  v has the same structure and shapes,
    and so does the returned H·v.
    """
    leaves, is_tuple, args = _fresh_leaves(inputs)
    vectors = _vectors_like(v, leaves, is_tuple)  # checked before any work
    value, products = hvp_once(lambda: f(*args), leaves, vectors)
    return value, _unpack(products, is_tuple)


def jvp(
    f: Callable[..., Tensor | tuple[Tensor, ...]],
    primals: Sequence[ArrayLike],
    tangents: Sequence[ArrayLike],
    create_graph: bool = False,
) -> tuple[TensorOrTuple, TensorOrTuple]:
    """(f(*primals), J·tangents): forward mode, torch.func.jvp's semantics.

    primals and tangents are tuples of the same structure, shapes and dtypes; f
    may return a Tensor or a tuple of them (the tangent is then a tuple too).
    f runs once, recording its graph; then the tangents flow through that graph
    in creation order, each op's tangent rule beside its backward rule (ops.py).
    With ``create_graph=True`` the tangent can be differentiated again.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp takes primals and tangents as tuples, as torch.func.jvp: jvp(f, (x,), (v,)).")
    # Primals that already require grad are used as they are, so that the tangent stays a function of
    # them (reverse over forward); the others become fresh leaves.
    fresh = _fresh_leaves(tuple(primals))[0]
    leaves = tuple(p if isinstance(p, Tensor) and p.requires_grad else x for p, x in zip(primals, fresh))
    vectors = _vectors_like(tuple(tangents), leaves, True)
    for i, (x, t) in enumerate(zip(leaves, tangents)):
        given = np.asarray(t.data if isinstance(t, Tensor) else t)
        if given.dtype.kind == "f" and given.dtype != x.dtype:
            raise TypeError(f"tangent {i} has dtype {given.dtype} but primal {i} has dtype {x.dtype}; make them match.")
        vectors[i] = vectors[i].astype(x.dtype)
    _check_finite(vectors, "the tangent")
    out = _with_grad_on(f, *leaves)
    outs = out if isinstance(out, tuple) else (out,)
    if not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(f"f must return a Tensor or a tuple of Tensors, got {type(out).__name__}.")
    seeds = {x: (Tensor._make(v, None) if create_graph else v) for x, v in zip(leaves, vectors)}
    found = tangent_sweep(outs, seeds, create_graph=create_graph)
    tangent_outs = tuple(
        Tensor(np.zeros_like(o.data)) if t is None else t if create_graph else Tensor._make(np.asarray(t), None)
        for o, t in zip(outs, found)
    )
    if isinstance(out, tuple):
        return tuple(o.detach() for o in outs), tangent_outs
    return out.detach(), tangent_outs[0]


def hessian(f: Callable[..., Tensor], inputs: ArrayLike | Sequence[ArrayLike]) -> Tensor:
    """The (n, n) Hessian of a scalar f over the flattened inputs (concatenated for a tuple)."""
    leaves, _, args = _fresh_leaves(inputs)
    dtype = np.result_type(*(x.dtype for x in leaves))  # float32 inputs give a float32 Hessian, as in PyTorch
    return Tensor._make(flat_hessian(lambda: f(*args), leaves).astype(dtype, copy=False), None)


def jacobian(f: Callable[..., Tensor], inputs: ArrayLike | Sequence[ArrayLike], mode: str = "reverse") -> TensorOrTuple:
    """∂f/∂inputs: shape output.shape + input.shape (a tuple of those for tuple inputs).

    mode="reverse": one backward per output entry; mode="forward": one tangent
    sweep per input entry (cheaper when there are fewer inputs than outputs).
    f runs once either way.
    """
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}.")
    leaves, is_tuple, args = _fresh_leaves(inputs)
    out = _with_grad_on(f, *args)
    if not isinstance(out, Tensor):
        raise TypeError(f"f must return a Tensor, got {type(out).__name__}.")
    blocks = [np.zeros(out.shape + x.shape, x.dtype) for x in leaves]  # a gradient's dtype is its input's
    if out.requires_grad and mode == "reverse":
        seed = np.zeros(out.shape, out.dtype)
        for index in np.ndindex(out.shape):  # row `index`: a backward seeded with the basis vector e_index
            seed[index] = 1.0
            rows = grad(out, leaves, grad_outputs=seed, retain_graph=True, allow_unused=True)
            seed[index] = 0.0
            for block, row in zip(blocks, rows):
                if row is not None:
                    block[index] = row.data
    elif out.requires_grad:
        for x, block in zip(leaves, blocks):
            basis = np.zeros(x.shape, x.dtype)
            for index in np.ndindex(x.shape):
                basis[index] = 1.0
                (column,) = tangent_sweep([out], {x: basis}, create_graph=False)
                basis[index] = 0.0
                if column is not None:
                    block[(...,) + index] = column
    return _unpack(blocks, is_tuple)
