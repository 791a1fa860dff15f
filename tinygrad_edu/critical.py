"""Critical points: where the gradient vanishes, is it a minimum or a saddle?

Near a critical point θ' the loss is, to second order,

    L(θ) ≈ L(θ') + ½ (θ − θ')ᵀ H (θ − θ')          (the gradient term is 0)

so the Hessian H decides: all eigenvalues positive → local minimum; all
negative → local maximum; some of each → saddle point.  At a saddle, moving
along an eigenvector u of a negative eigenvalue λ changes the loss by
½λ‖u‖² < 0: that is the escape direction.  "Minimum ratio" = the fraction of
positive eigenvalues (1 at a true local minimum).

For large models nothing here forms H: ``top_eigenvalues`` (Lanczos or power
iteration), ``hessian_trace`` (Hutchinson) and ``eigenvalue_density``
(stochastic Lanczos quadrature) use only Hessian-vector products, as
PyHessian does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_edu.autograd import _check_products, _fresh_leaves, gradient_graph, hessian_matrix, scalar_output
from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Tensor

GRAD_TOL, EIG_TOL = 1e-6, 1e-8  # classify's defaults: ‖g‖ of a critical point, |λ| counted as 0
DENSE_LIMIT = 2500  # up to this many parameters classify forms H (n tangent sweeps) and its spectrum: ~2–3 s at 2,500


@dataclass
class CriticalPoint:
    """What the second-order test says about a point.

    ``kind`` is one of "local_min", "local_max", "saddle", "degenerate" (some
    eigenvalue is 0 within eig_tol: the second-order test cannot tell) and
    "not_critical" (the gradient is not small).
    """

    kind: str
    grad_norm: float
    eigenvalues: np.ndarray  # ascending; with method="lanczos", Ritz values (the extremes are accurate)
    min_ratio: float
    escape_direction: Any  # unit vector with the structure of params, or None
    loss: float
    method: str  # "dense" or "lanczos"


class Objective:
    """A scalar loss of some tensors, seen as a function of one flat vector θ.

    ``params`` may be a Tensor or array (f(x)), a tuple or list of them
    (f(*xs), as torch.autograd.functional unpacks them), or an ``nn.Module``
    (its parameters that require grad; f() reads them itself).
    """

    def __init__(self, f: Callable[..., Tensor], params: Any) -> None:
        leaves, is_sequence, args = _fresh_leaves(params)
        self.tensors = list(leaves)
        self.evaluate = lambda: f(*args)
        # a vector shaped like params: a list for a Module (one array per parameter), else params' own structure
        self.pack: Callable[[list], Any] = (
            list if isinstance(params, Module) else type(params) if is_sequence else lambda pieces: pieces[0]
        )
        self._at: tuple[float, np.ndarray, Any] | None = None  # (L, ∇L, v ↦ H·v) at the current θ
        self.shapes = [t.shape for t in self.tensors]
        self.sizes = [t.size for t in self.tensors]
        self.n = sum(self.sizes)
        ends = np.cumsum(self.sizes)
        self.slices = [slice(int(end - size), int(end)) for end, size in zip(ends, self.sizes)]

    def loss(self) -> float:
        return scalar_output(self.evaluate()).item()

    def at_point(self) -> tuple[float, np.ndarray, Any]:
        """L(θ), the flat ∇L(θ) and the map v ↦ H·v, from one forward and one recorded backward
        at the current θ (built on first use, kept until ``move``)."""
        if self._at is None:
            out, grads, hessian_times = gradient_graph(self.evaluate, self.tensors)
            flat = np.concatenate([np.zeros(s) if g is None else g.data.ravel() for g, s in zip(grads, self.sizes)])
            self._at = (out.item(), flat, hessian_times)
        return self._at

    def loss_and_gradient(self) -> tuple[float, np.ndarray]:
        return self.at_point()[:2]

    def split(self, flat: np.ndarray) -> list[np.ndarray]:
        flat = np.asarray(flat, dtype=float)
        return [flat[part].reshape(shape) for part, shape in zip(self.slices, self.shapes)]

    def hvp(self, v: np.ndarray) -> np.ndarray:
        """H·v for a flat v: one backward through the gradient graph built once at this point."""
        flat = np.concatenate([h.ravel() for h in self.at_point()[2](self.split(v))])
        return _check_products([flat], [v])[0]  # one check of the whole

    def hessian(self) -> np.ndarray:
        H = hessian_matrix(self.at_point()[2], self.shapes)
        return (H + H.T) / 2  # symmetric up to rounding; make it exactly so for eigh

    def structured(self, flat: np.ndarray) -> Any:
        """A flat vector shaped like params, in their dtypes: an array, a tuple or a list of arrays
        (a list for a Module)."""
        return self.pack([piece.astype(t.dtype, copy=False) for t, piece in zip(self.tensors, self.split(flat))])

    def move(self, flat: np.ndarray) -> None:
        """θ ← θ + flat, in place (the gradient graph of the old point is dropped)."""
        self._at = None
        for t, piece in zip(self.tensors, self.split(flat)):
            t.data += piece.astype(t.dtype)
            t.bump_version()


# ------------------------------------------------------------ Krylov methods
def lanczos(
    matvec: Callable[[np.ndarray], np.ndarray],
    n: int,
    steps: int,
    rng: np.random.Generator,
    done: Callable[[np.ndarray, np.ndarray, float], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lanczos with full reorthogonalisation: (α, β, Q) with QᵀHQ = T tridiagonal
    (diagonal α, off-diagonal β).  Stops after ``steps`` products, when the
    Krylov space is exhausted, or when ``done(α, β, β_next)`` says so."""
    steps = min(steps, n)
    Q = np.zeros((steps, n))
    alphas: list[float] = []
    betas: list[float] = []
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    for j in range(steps):
        Q[j] = q
        w = matvec(q)
        alphas.append(float(q @ w))
        basis = Q[: j + 1]
        w -= basis.T @ (basis @ w)  # orthogonalise against every earlier vector,
        w -= basis.T @ (basis @ w)  # twice ("twice is enough", Parlett)
        beta = float(np.linalg.norm(w))
        exhausted = beta < 1e-10 * max(1.0, max(abs(a) for a in alphas))
        if j == steps - 1 or exhausted or (done is not None and done(np.array(alphas), np.array(betas), beta)):
            return np.array(alphas), np.array(betas), Q[: j + 1]
        betas.append(beta)
        q = w / beta
    raise AssertionError("unreachable")


def _ritz(alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of the tridiagonal T (ascending): Ritz values and T's eigenvectors."""
    T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
    return np.linalg.eigh(T)


def _pick(values: np.ndarray, k: int, which: str) -> np.ndarray:
    order = np.argsort(values)
    return order[::-1][:k] if which == "largest" else order[:k]


def _converged(k: int, ends: tuple[str, ...], tol: float, min_steps: int = 0) -> Callable[..., bool]:
    """A Lanczos stopping rule: the k wanted Ritz pairs at each end are eigenpairs
    to tolerance, i.e. the residual ‖Hx − θx‖ = β_next·|last entry of y| ≤ tol·max|θ|."""

    def done(alphas: np.ndarray, betas: np.ndarray, beta_next: float) -> bool:
        if len(alphas) < max(k + 1, min_steps):
            return False
        theta, Y = _ritz(alphas, betas)
        chosen = np.concatenate([_pick(theta, k, end) for end in ends])
        scale = max(np.abs(theta).max(), 1e-30)
        return bool(np.all(beta_next * np.abs(Y[-1, chosen]) <= tol * scale))

    return done


def _lanczos_extremes(obj: Objective, k: int, which: str, tol: float, max_steps: int, seed: int):
    """Lanczos until the k wanted Ritz pairs are eigenpairs to tolerance."""
    rng = np.random.default_rng(seed)
    alphas, betas, Q = lanczos(obj.hvp, obj.n, max_steps, rng, _converged(k, (which,), tol))
    theta, Y = _ritz(alphas, betas)
    chosen = _pick(theta, k, which)
    return theta[chosen], [Q.T @ Y[:, i] for i in chosen]


def _power_iteration(obj: Objective, k: int, which: str, tol: float, max_steps: int, seed: int):
    """Power iteration with deflation.  It finds the eigenvalue largest in
    magnitude; shifting by the spectral radius makes that the largest or the
    smallest one, and deflation then gives the next k − 1 in order."""
    rng = np.random.default_rng(seed)

    def dominant(matvec, found):
        v = rng.standard_normal(obj.n)
        value = 0.0
        for _ in range(max_steps):
            for u in found:
                v -= (u @ v) * u
            v /= np.linalg.norm(v)
            w = matvec(v)
            new_value = float(v @ w)
            for u in found:
                w -= (u @ w) * u
            if abs(new_value - value) <= tol * max(abs(new_value), 1e-12):
                return new_value, w / np.linalg.norm(w) if np.linalg.norm(w) else v
            value, v = new_value, w
        return value, v / np.linalg.norm(v)

    radius = abs(dominant(obj.hvp, [])[0])  # spectral radius ρ: all eigenvalues lie in [−ρ, ρ]
    # H + ρI (largest) or H − ρI (smallest) has the wanted end of the spectrum dominant.
    shift = -radius if which == "largest" else radius
    matvec = lambda v: obj.hvp(v) - shift * v  # noqa: E731
    values, vectors = [], []
    for _ in range(k):
        value, vector = dominant(matvec, vectors)
        values.append(value + shift)
        vectors.append(vector)
    return np.array(values), vectors


def top_eigenvalues(
    f: Callable[..., Tensor],
    params: Any,
    k: int = 1,
    which: str = "largest",
    method: str = "lanczos",
    tol: float = 1e-8,
    max_steps: int = 300,
    seed: int = 0,
) -> tuple[np.ndarray, list[Any]]:
    """The k largest (descending) or smallest (most negative first) Hessian
    eigenvalues and their unit eigenvectors (shaped like params), from HVPs only."""
    if which not in ("largest", "smallest"):
        raise ValueError(f"which must be 'largest' or 'smallest', got {which!r}.")
    if method not in ("lanczos", "power"):
        raise ValueError(f"method must be 'lanczos' or 'power', got {method!r}.")
    obj = Objective(f, params)
    if not 1 <= k <= obj.n:
        raise ValueError(f"k must lie between 1 and the number of parameters ({obj.n}), got {k}.")
    search = _lanczos_extremes if method == "lanczos" else _power_iteration
    values, vectors = search(obj, k, which, tol, max_steps, seed)
    return np.asarray(values), [obj.structured(v / np.linalg.norm(v)) for v in vectors]


def hessian_trace(f: Callable[..., Tensor], params: Any, samples: int = 100, seed: int = 0) -> float:
    """Hutchinson's estimator: tr H = E[vᵀHv] for Rademacher v (entries ±1)."""
    obj = Objective(f, params)
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(samples):
        v = rng.choice([-1.0, 1.0], size=obj.n)
        estimates.append(v @ obj.hvp(v))
    return float(np.mean(estimates))


def _spectral_measure(obj: Objective, steps: int, runs: int, rng: np.random.Generator):
    """Stochastic Lanczos quadrature: nodes θⱼ and weights (sum 1) of the Hessian's
    spectral measure, from Lanczos runs started at random unit vectors."""
    nodes, weights = [], []
    for _ in range(runs):
        alphas, betas, _ = lanczos(obj.hvp, obj.n, steps, rng)
        theta, Y = _ritz(alphas, betas)
        nodes.append(theta)
        weights.append(Y[0] ** 2 / runs)
    return np.concatenate(nodes), np.concatenate(weights)


def eigenvalue_density(
    f: Callable[..., Tensor],
    params: Any,
    steps: int = 30,
    runs: int = 3,
    grid_points: int = 1000,
    sigma: float | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Stochastic Lanczos quadrature: (grid, density) of the Hessian spectrum.

    Each run starts Lanczos from a random unit vector; the Ritz values θⱼ with
    weights (first component of their eigenvectors)² approximate the spectral
    measure.  Each is smoothed by a Gaussian of width sigma; the density
    integrates to 1.
    """
    nodes, weights = _spectral_measure(Objective(f, params), steps, runs, np.random.default_rng(seed))
    spread = float(nodes.max() - nodes.min())
    sigma = sigma or max(spread / 100, 1e-3 * max(1.0, float(np.abs(nodes).max())))
    grid = np.linspace(nodes.min() - 6 * sigma, nodes.max() + 6 * sigma, grid_points)
    bumps = np.exp(-((grid[:, None] - nodes[None, :]) ** 2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
    return grid, bumps @ weights


def classify(
    f: Callable[..., Tensor],
    params: Any,
    grad_tol: float = GRAD_TOL,
    eig_tol: float = EIG_TOL,
    dense_limit: int = DENSE_LIMIT,
    seed: int = 0,
) -> CriticalPoint:
    """The second-order test at params: local_min, local_max, saddle,
    degenerate (some |λ| ≤ eig_tol: inconclusive) or not_critical (‖g‖ > grad_tol).

    Up to ``dense_limit`` parameters H is formed and fully diagonalised
    (method "dense"); above, Lanczos gives the extreme eigenvalues (and
    ``eigenvalues`` holds its Ritz values) and stochastic Lanczos quadrature
    with 4 × 40 HVPs estimates the minimum ratio (method "lanczos"); that
    estimate blurs eigenvalues closer to 0 than about (λ_max − λ_min)/40,
    so with many near-zero eigenvalues it is only indicative.
    """
    return _second_order_test(Objective(f, params), grad_tol, eig_tol, dense_limit, seed)[0]


def _second_order_test(
    obj: Objective, grad_tol: float, eig_tol: float, dense_limit: int, seed: int
) -> tuple[CriticalPoint, np.ndarray | None]:
    """classify's work on an Objective: the point, and the flat unit vector of the lowest eigenvalue
    when it is negative (the escape direction)."""
    loss, gradient = obj.loss_and_gradient()
    grad_norm = float(np.linalg.norm(gradient))
    if obj.n <= dense_limit:
        method = "dense"
        H = obj.hessian()
        eigenvalues = np.linalg.eigvalsh(H)  # half the time of eigh: of the eigenvectors only one is needed
        min_ratio = float(np.mean(eigenvalues > eig_tol))
        lowest_vector = lowest_eigenvector(H, eigenvalues) if eigenvalues[0] < -eig_tol else None
    else:
        method = "lanczos"
        rng = np.random.default_rng(seed)
        done = _converged(1, ("smallest", "largest"), 1e-6)  # both ends of the spectrum
        alphas, betas, Q = lanczos(obj.hvp, obj.n, 300, rng, done)
        eigenvalues, Y = _ritz(alphas, betas)
        lowest_vector = Q.T @ Y[:, 0]
        nodes, weights = _spectral_measure(obj, steps=40, runs=4, rng=rng)
        min_ratio = float(weights @ (nodes > eig_tol))  # the spectral mass above 0
    smallest, largest = eigenvalues[0], eigenvalues[-1]
    if grad_norm > grad_tol:
        kind = "not_critical"
    elif smallest < -eig_tol and largest > eig_tol:
        kind = "saddle"
    elif np.any(np.abs(eigenvalues) <= eig_tol):
        kind = "degenerate"
    else:
        kind = "local_min" if smallest > 0 else "local_max"
    escape = None
    if smallest < -eig_tol:  # a unit vector, and of ±u the one whose largest entry is positive
        lowest_vector = lowest_vector / np.linalg.norm(lowest_vector)
        lowest_vector *= np.sign(lowest_vector[np.argmax(np.abs(lowest_vector))])
        escape = obj.structured(lowest_vector)
    return CriticalPoint(kind, grad_norm, eigenvalues, min_ratio, escape, loss, method), lowest_vector


def lowest_eigenvector(H: np.ndarray, eigenvalues: np.ndarray) -> np.ndarray:
    """The unit eigenvector u of the lowest eigenvalue λ₁ of a symmetric H, given all its
    eigenvalues, by inverse iteration: (H − σI)⁻¹ scales the eigenvector of each λᵢ by
    1/(λᵢ − σ), so with σ just below λ₁ one solve of (H − σI)x = b leaves x along u, up to
    a part (λ₁ − σ)/(λ₂ − σ) of the others.  One LU factorisation instead of every
    eigenvector: on the demo's 2,410-parameter Hessian, 0.4 s instead of eigh's extra 1.1 s.
    Accepted when its residual ‖Hu − λ₁u‖ is tiny (after one step, nearly always); else eigh."""
    lowest, norm = eigenvalues[0], max(abs(eigenvalues[0]), abs(eigenvalues[-1]))
    shifted = H - (lowest - 1e-12 * norm) * np.eye(len(H))
    u = np.random.default_rng(0).standard_normal(len(H))
    for _ in range(2):
        u = np.linalg.solve(shifted, u)
        u /= np.linalg.norm(u)
        if np.linalg.norm(H @ u - lowest * u) <= 1e-10 * norm:
            return u
    return np.linalg.eigh(H)[1][:, 0]


def escape_saddle(f: Callable[..., Tensor], params: Any, step: float = 0.1) -> float:
    """Move params in place by ±step·u (u: eigenvector of the most negative
    eigenvalue; the sign that lowers the loss) and return the new loss."""
    obj = Objective(f, params)
    point, u = _second_order_test(obj, GRAD_TOL, EIG_TOL, DENSE_LIMIT, seed=0)
    if point.escape_direction is None:
        raise ValueError(f"no negative curvature to escape along: the point is {point.kind}.")
    obj.move(step * u)
    forward = obj.loss()
    obj.move(-2 * step * u)
    backward = obj.loss()
    if forward < backward:
        obj.move(2 * step * u)
        return forward
    return backward
