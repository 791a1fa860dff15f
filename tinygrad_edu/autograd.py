"""Functional transforms: gradients as values instead of ``.grad`` side effects."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinygrad_edu.tensor import ArrayLike, Tensor, _initial_gradient, run_backward


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
    root_grads = [_initial_gradient(o, g, create_graph) for o, g in zip(outputs, grad_outputs)]
    found = run_backward(
        outputs,
        root_grads,
        retain_graph=create_graph if retain_graph is None else retain_graph,
        create_graph=create_graph,
        capture=inputs,
    )
    results: list[Tensor | None] = []
    for i, x in enumerate(inputs):
        g = found.get(id(x))
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


def _compare_with_numeric(
    scalar_f: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float, atol: float, rtol: float, order: str
) -> None:
    out = scalar_f(*inputs)
    if out.requires_grad:
        analytic = grad(out, inputs, allow_unused=True)
    else:  # the function does not depend on the inputs at all
        analytic = (None,) * len(inputs)
    numeric = numerical_grad(scalar_f, inputs, eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        a = np.zeros_like(n) if a is None else a.data
        if not np.allclose(a, n, atol=atol, rtol=rtol):
            worst = np.max(np.abs(a - n))
            raise AssertionError(
                f"{order} gradient of input {i} (shape {n.shape}) differs from finite "
                f"differences by up to {worst:.3g}\nanalytic:\n{a}\nnumeric:\n{n}"
            )


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
    _compare_with_numeric(lambda *xs: (f(*xs) * v).sum(), inputs, eps, atol, rtol, "first-order")
    return True


def gradgradcheck(
    f: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    seed: int = 0,
) -> bool:
    """Check the backward pass itself: the gradient of ⟨∇⟨f, v⟩, u⟩ against
    central differences (this is what Hessian-vector products rely on)."""
    inputs = _as_tuple(inputs)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(f(*inputs).shape)
    u = [rng.standard_normal(x.shape) for x in inputs]

    def backward_dot_u(*xs: Tensor) -> Tensor:
        gs = grad((f(*xs) * v).sum(), xs, create_graph=True, allow_unused=True)
        terms = [(g * ui).sum() for g, ui in zip(gs, u) if g is not None]
        return sum(terms[1:], terms[0]) if terms else Tensor(0.0)

    _compare_with_numeric(backward_dot_u, inputs, eps, atol, rtol, "second-order")
    return True
