"""Hessian-vector products, Hessians, Jacobians and the critical-point toolkit."""

import numpy as np
import pytest

from tinygrad_edu import Tensor, critical, hessian, hvp, jacobian, make_hvp, nn, optim
from tinygrad_edu.autograd import numerical_grad
from tinygrad_edu.nn import functional as F

RNG = np.random.default_rng(0)


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_hessian(a, b):
    return np.array([[2 - 400 * (b - 3 * a**2), -400 * a], [-400 * a, 200.0]])


def test_hessian_of_quadratic_form_is_a_plus_a_transpose():
    A = RNG.standard_normal((5, 5))
    H = hessian(lambda x: x @ (Tensor(A) @ x), RNG.standard_normal(5))
    np.testing.assert_allclose(H.data, A + A.T, atol=1e-12)


def test_hessian_of_rosenbrock_matches_analytic():
    for point in ([1.0, 1.0], [-1.2, 1.0], [0.3, -0.5]):
        np.testing.assert_allclose(hessian(rosenbrock, np.array(point)).data, rosenbrock_hessian(*point), rtol=1e-12)


def test_hessian_of_log_sum_exp_is_diag_p_minus_p_p_transpose():
    x = RNG.standard_normal(4)
    p = np.exp(x) / np.exp(x).sum()
    H = hessian(lambda t: t.exp().sum().log(), x)
    np.testing.assert_allclose(H.data, np.diag(p) - np.outer(p, p), atol=1e-12)


def test_hessian_over_a_tuple_concatenates_the_inputs():
    H = hessian(lambda a, b: (a * a).sum() * b.sum(), (np.array([1.0, 2.0]), np.array([3.0])))
    expected = np.array([[6.0, 0.0, 2.0], [0.0, 6.0, 4.0], [2.0, 4.0, 0.0]])
    np.testing.assert_allclose(H.data, expected)


def small_mlp_loss():
    """A 3→5→2 tanh network's cross-entropy as a function of its four parameter arrays."""
    model = nn.MLP([3, 5, 2], activation="tanh", generator=np.random.default_rng(1))
    X, y = RNG.standard_normal((8, 3)), RNG.integers(0, 2, 8)

    def loss(w1, b1, w2, b2):
        return F.cross_entropy(F.linear(F.linear(X, w1, b1).tanh(), w2, b2), y)

    return loss, tuple(p.data.copy() for p in model.parameters())


def test_hvp_equals_hessian_times_v_and_finite_differences_on_an_mlp_loss():
    loss, params = small_mlp_loss()
    v = tuple(RNG.standard_normal(p.shape) for p in params)
    value, hv = hvp(loss, params, v)
    flat_hv = np.concatenate([h.data.ravel() for h in hv])
    H = hessian(loss, params).data
    flat_v = np.concatenate([x.ravel() for x in v])
    np.testing.assert_allclose(flat_hv, H @ flat_v, rtol=1e-9, atol=1e-12)
    # Finite differences of the gradient along v: (∇L(θ + εv) − ∇L(θ − εv)) / 2ε
    eps = 1e-6
    leaves_plus = [Tensor(p + eps * d, requires_grad=True) for p, d in zip(params, v)]
    leaves_minus = [Tensor(p - eps * d, requires_grad=True) for p, d in zip(params, v)]
    from tinygrad_edu import grad

    g_plus = grad(loss(*leaves_plus), leaves_plus)
    g_minus = grad(loss(*leaves_minus), leaves_minus)
    fd = np.concatenate([((a.data - b.data) / (2 * eps)).ravel() for a, b in zip(g_plus, g_minus)])
    np.testing.assert_allclose(flat_hv, fd, rtol=1e-5, atol=1e-7)
    assert value.item() == pytest.approx(loss(*[Tensor(p) for p in params]).item())


def test_hvp_returns_the_structure_of_inputs():
    value, hv = hvp(lambda x: (x**3).sum(), np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    assert isinstance(hv, Tensor) and value.item() == 9.0
    np.testing.assert_allclose(hv.data, [6.0, 12.0])


def test_hvp_is_zero_where_the_slope_does_not_depend_on_the_inputs():
    a, x = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    _, hv = hvp(lambda t: (t * a).sum(), x, np.array([1.0, 1.0]))  # linear: the slope is a constant
    np.testing.assert_array_equal(hv.data, [0.0, 0.0])
    _, hv = hvp(lambda t: (t**3).sum(), x, np.zeros(2))  # nothing seeded
    np.testing.assert_array_equal(hv.data, [0.0, 0.0])
    _, (h_used, h_unused) = hvp(lambda t, u: (t**3).sum(), (x, x.astype(np.float32)), (np.ones(2), np.ones(2)))
    np.testing.assert_allclose(h_used.data, 6 * x)  # f'' = 6t
    assert h_unused.dtype == np.float32 and not h_unused.data.any()


def test_make_hvp_stays_at_its_point_when_the_callers_array_changes():
    def f(t):  # power's rules read the input: with the caller's array shared, they would move to the new point
        return (t**3).sum() + t.exp().sum()

    x, v = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    expected = hvp(f, x.copy(), v)[1].data
    value, _, hvp_fn = make_hvp(f, x)
    x += 3.0
    for _ in range(3):  # the plain sweep, the compiled one, a replay
        np.testing.assert_allclose(hvp_fn(v).data, expected, rtol=1e-12)
    assert value.item() == pytest.approx(f(Tensor(x - 3.0)).item())


def test_transforms_ignore_a_no_grad_around_them_and_keep_one_inside_f():
    """torch.func's rule: a transform's result does not depend on the grad mode around it."""
    from tinygrad_edu import jvp, make_hvp, no_grad

    x, v = np.array([1.0, 2.0]), np.array([1.0, -1.0])

    def transforms(f, g):  # f scalar, g elementwise
        return [hvp(f, x, v)[1], make_hvp(f, x)[2](v), jvp(f, (x,), (v,))[1], hessian(f, x), jacobian(g, x),
                jacobian(g, x, mode="forward"), critical.top_eigenvalues(f, x, k=1)[0]]  # fmt: skip

    cube, cubes = (lambda t: (t**3).sum()), (lambda t: t**3)
    with no_grad():
        inside = transforms(cube, cubes)
    for a, b in zip(inside, transforms(cube, cubes)):
        np.testing.assert_array_equal(np.asarray(getattr(a, "data", a)), np.asarray(getattr(b, "data", b)))
    np.testing.assert_allclose(inside[0].data, 6 * x * v)

    def frozen(t):  # t·c with c = t² taken under no_grad inside f: a constant, so f'' = 0
        with no_grad():
            c = t * t
        return (t * c).sum()

    assert not hvp(frozen, x, v)[1].data.any() and not hessian(frozen, x).data.any()


def test_every_transform_answers_float32_inputs_in_float32():
    """As PyTorch does: a derivative with respect to a float32 input is float32, also where
    it is zero (a block of v left unseeded, an input f does not use, a constant output)."""
    a, b = np.linspace(0.5, 1.5, 3, dtype=np.float32), np.ones(2, np.float32)
    va, vb = np.ones(3, np.float32), np.zeros(2, np.float32)

    def loss(a, b):
        return (a * a * a).sum()  # b unused

    assert [h.dtype for h in hvp(loss, (a, b), (va, vb))[1]] == [np.float32] * 2
    hvp_fn = make_hvp(loss, (a, b))[2]
    for _ in range(3):  # a plain sweep, a compiled one, a replay
        assert [h.dtype for h in hvp_fn((va, vb))] == [np.float32] * 2
    assert hessian(loss, (a, b)).dtype == np.float32
    np.testing.assert_allclose(hessian(loss, (a, b)).data[:3, :3], np.diag(6 * a), rtol=1e-6)
    for mode in ("reverse", "forward"):
        assert [J.dtype for J in jacobian(lambda a, b: a * a, (a, b), mode=mode)] == [np.float32] * 2
        assert jacobian(lambda a: Tensor(np.ones(2, np.float32)), a, mode=mode).dtype == np.float32
    saddle = (np.zeros(2, np.float32), np.zeros(1, np.float32))  # x² − y² at 0: escape along y
    point = critical.classify(lambda x, y: (x * x).sum() - (y * y).sum(), saddle)
    assert point.kind == "saddle" and [u.dtype for u in point.escape_direction] == [np.float32] * 2
    _, vectors = critical.top_eigenvalues(lambda x, y: (x * x).sum() - (y * y).sum(), saddle, k=1)
    assert [u.dtype for u in vectors[0]] == [np.float32] * 2


def test_a_module_stands_for_its_parameters_in_every_transform():
    """DESIGN: a Module as inputs is its parameters, and f is called as f(); the answers are
    those of the same loss written as a function of the parameters' arrays."""
    model = nn.MLP([2, 3, 1], activation="tanh", generator=np.random.default_rng(0))
    X, y = Tensor(RNG.normal(size=(8, 2))), Tensor(RNG.normal(size=(8, 1)))
    arrays = tuple(p.data.copy() for p in model.parameters())
    v = tuple(RNG.normal(size=p.shape) for p in model.parameters())

    def reads_the_module():
        return F.mse_loss(model(X), y)

    def forward(w1, b1, w2, b2):
        return (X @ w1.T + b1).tanh() @ w2.T + b2

    def of_arrays(*weights):
        return F.mse_loss(forward(*weights), y)

    for ours, theirs in zip(hvp(reads_the_module, model, v)[1], hvp(of_arrays, arrays, v)[1]):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12)
    hvp_fn = make_hvp(reads_the_module, model)[2]
    for ours, theirs in zip(hvp_fn(v), hvp(of_arrays, arrays, v)[1]):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12)
    np.testing.assert_allclose(hessian(reads_the_module, model).data, hessian(of_arrays, arrays).data, rtol=1e-12)
    for ours, theirs in zip(jacobian(lambda: model(X), model), jacobian(forward, arrays)):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12)
    assert all(p.grad is None for p in model.parameters())  # transforms leave .grad alone

    model.parameters()[0].grad = Tensor(np.ones((3, 2)))
    optim.SGD(model.parameters(), lr=0.1).step()  # the point moves: the operator built at the old one refuses
    with pytest.raises(RuntimeError, match="call make_hvp again"):
        hvp_fn(v)


def test_a_frozen_parameter_of_a_module_is_a_constant_of_every_transform():
    model = nn.MLP([2, 3, 1], activation="tanh", generator=np.random.default_rng(1))
    w1, b1, w2, b2 = model.parameters()
    w1.requires_grad = False
    X, y = Tensor(RNG.normal(size=(8, 2))), Tensor(RNG.normal(size=(8, 1)))
    v = tuple(RNG.normal(size=p.shape) for p in (b1, w2, b2))

    def reads_the_module():
        return F.mse_loss(model(X), y)

    def of_the_rest(b1, w2, b2):
        return F.mse_loss((X @ w1.data.T + b1).tanh() @ w2.T + b2, y)

    rest = (b1.data.copy(), w2.data.copy(), b2.data.copy())
    for ours, theirs in zip(hvp(reads_the_module, model, v)[1], hvp(of_the_rest, rest, v)[1]):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12)
    np.testing.assert_allclose(hessian(reads_the_module, model).data, hessian(of_the_rest, rest).data, rtol=1e-12)
    point = critical.classify(reads_the_module, model, grad_tol=10.0)
    assert len(point.eigenvalues) == b1.size + w2.size + b2.size
    for p in model.parameters():
        p.requires_grad = False
    with pytest.raises(ValueError, match="no parameters that require grad"):
        hessian(reads_the_module, model)


def test_jacobian_shapes_and_values():
    J = jacobian(lambda x: x.reshape(2, 2) * 3, np.ones(4))
    assert J.shape == (2, 2, 4)
    np.testing.assert_allclose(J.data.reshape(4, 4), 3 * np.eye(4))
    Ja, Jb = jacobian(lambda a, b: a * b, (np.array([1.0, 2.0]), np.array([3.0, 4.0])))
    np.testing.assert_allclose(Ja.data, np.diag([3.0, 4.0]))
    np.testing.assert_allclose(Jb.data, np.diag([1.0, 2.0]))
    x = RNG.standard_normal(3)
    Jt = jacobian(lambda t: t.tanh(), x).data
    numeric = np.stack([numerical_grad(lambda t, i=i: t.tanh()[i], [Tensor(x.copy())])[0] for i in range(3)])
    np.testing.assert_allclose(Jt, numeric, atol=1e-8)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match=r"scalar .* got shape \(2,\)"):
        hvp(lambda x: x * 2, np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"v\[0\] has shape \(3,\) but input 0 has shape \(2,\)"):
        hvp(lambda x: x.sum(), np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="structure of inputs"):
        hvp(lambda x, y: (x * y).sum(), (np.ones(2), np.ones(2)), np.ones(2))
    with pytest.raises(FloatingPointError, match="returned nan"):
        hessian(lambda x: (x * np.nan).sum(), np.ones(2))
    with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(FloatingPointError, match=r"not finite.*index"):
        hessian(lambda x: (x.abs() ** 1.5).sum(), np.array([0.0, 1.0]))


def test_every_way_to_an_hvp_says_when_it_is_not_finite():
    from tinygrad_edu import make_hvp

    def f(x):  # |x|^1.5 has an infinite second derivative at 0
        return (x.abs() ** 1.5).sum()

    at, v = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    message = r"Hessian-vector product is not finite: input 0 has (inf|nan) at index \(0,\)"
    with np.errstate(divide="ignore", invalid="ignore"):
        with pytest.raises(FloatingPointError, match=message):
            hvp(f, at, v)
        hvp_fn = make_hvp(f, at)[2]
        for _ in range(3):  # the plain sweep, the compiled one, a replay
            with pytest.raises(FloatingPointError, match=message):
                hvp_fn(v)
        with pytest.raises(FloatingPointError, match=message):
            critical.top_eigenvalues(f, at)
    with pytest.raises(FloatingPointError, match=r"^v is not finite: input 0 has nan at index \(1,\)"):
        hvp(lambda x: (x**3).sum(), at, np.array([1.0, np.nan]))  # v, not H, is what to fix
    for _ in range(3):
        with pytest.raises(FloatingPointError, match=r"^v is not finite: input 1 has inf"):
            make_hvp(lambda x, y: (x * y).sum(), (at, at))[2]((v, np.array([np.inf, 0.0])))


# ------------------------------------------------------------------ critical
def test_bowl_is_a_local_minimum():
    point = critical.classify(lambda p: (p * p).sum(), np.zeros(2))
    assert point.kind == "local_min" and point.min_ratio == 1.0 and point.escape_direction is None
    assert point.method == "dense"


def test_cap_is_a_local_maximum():
    point = critical.classify(lambda p: -(p * p).sum(), np.zeros(2))
    assert point.kind == "local_max" and point.min_ratio == 0.0


def test_saddle_has_an_escape_direction_that_lowers_the_loss():
    f = lambda p: p[0] ** 2 - p[1] ** 2  # noqa: E731
    point = critical.classify(f, np.zeros(2))
    assert point.kind == "saddle" and point.min_ratio == 0.5
    np.testing.assert_allclose(point.escape_direction, [0.0, 1.0], atol=1e-12)  # of ±u, largest entry positive
    params = Tensor(np.zeros(2))
    new_loss = critical.escape_saddle(f, params, step=0.1)
    assert new_loss < 0.0 and new_loss == pytest.approx(-0.01)
    assert abs(params.data[1]) == pytest.approx(0.1)  # moved in place


def test_flat_direction_is_degenerate():
    point = critical.classify(lambda p: p[0] ** 4 + p[1] ** 2, np.zeros(2))
    assert point.kind == "degenerate"


def test_large_gradient_is_not_critical():
    point = critical.classify(lambda p: (p * p).sum(), np.array([1.0, 0.0]))
    assert point.kind == "not_critical" and point.grad_norm == pytest.approx(2.0)


def test_the_lectures_w1_w2_network_has_the_saddle_the_lecture_computes():
    """ŷ = w₁w₂x on (x=1, ŷ=1): L = (1 − w₁w₂)², H(0,0) = [[0, −2], [−2, 0]]."""
    loss = lambda w1, w2: (1 - w1 * w2 * 1.0) ** 2  # noqa: E731
    w = (np.array(0.0), np.array(0.0))
    np.testing.assert_allclose(hessian(loss, w).data, [[0.0, -2.0], [-2.0, 0.0]])
    point = critical.classify(loss, w)
    assert point.kind == "saddle" and point.grad_norm == 0.0 and point.loss == 1.0
    np.testing.assert_allclose(point.eigenvalues, [-2.0, 2.0])
    direction = np.array([float(d) for d in point.escape_direction])
    np.testing.assert_allclose(np.abs(direction), [2**-0.5, 2**-0.5])
    assert direction[0] == pytest.approx(direction[1])  # ±(1, 1)/√2
    assert critical.escape_saddle(loss, w, step=0.5) < 1.0


def test_classify_accepts_a_module_and_uses_lanczos_above_the_dense_limit():
    model = nn.MLP([4, 6, 3], activation="tanh", generator=np.random.default_rng(2))
    X, y = RNG.standard_normal((10, 4)), RNG.integers(0, 3, 10)
    loss = lambda: F.cross_entropy(model(X), y)  # noqa: E731
    dense = critical.classify(loss, model, grad_tol=10.0)
    krylov = critical.classify(loss, model, grad_tol=10.0, dense_limit=10)
    assert dense.method == "dense" and krylov.method == "lanczos"
    assert len(dense.eigenvalues) == model.num_parameters()
    assert krylov.eigenvalues[0] == pytest.approx(dense.eigenvalues[0], rel=1e-5, abs=1e-8)
    assert krylov.eigenvalues[-1] == pytest.approx(dense.eigenvalues[-1], rel=1e-6)
    assert abs(krylov.min_ratio - dense.min_ratio) < 0.15
    assert dense.kind == krylov.kind


@pytest.mark.parametrize("method", ["lanczos", "power"])
@pytest.mark.parametrize("which", ["largest", "smallest"])
def test_top_eigenvalues_agree_with_eigh_on_random_symmetric_matrices(method, which):
    for seed in range(3):
        A = np.random.default_rng(seed).standard_normal((50, 50))
        A = (A + A.T) / 2
        exact = np.linalg.eigvalsh(A)
        values, vectors = critical.top_eigenvalues(
            lambda x, A=A: 0.5 * (x @ (Tensor(A) @ x)), np.zeros(50), k=2, which=which, method=method,
            tol=1e-10 if method == "lanczos" else 1e-14, max_steps=20_000,
        )  # fmt: skip
        expected = exact[::-1][:2] if which == "largest" else exact[:2]
        np.testing.assert_allclose(values, expected, rtol=1e-6)
        for value, vector in zip(values, vectors):
            np.testing.assert_allclose(A @ vector, value * vector, atol=1e-4)


def test_top_eigenvalue_of_a_real_mlp_hessian_matches_eigh():
    model = nn.MLP([5, 8, 3], activation="tanh", generator=np.random.default_rng(3))
    X, y = RNG.standard_normal((20, 5)), RNG.integers(0, 3, 20)
    loss = lambda: F.cross_entropy(model(X), y)  # noqa: E731
    exact = np.linalg.eigvalsh(critical.Objective(loss, model).hessian())
    top, _ = critical.top_eigenvalues(loss, model, which="largest")
    bottom, _ = critical.top_eigenvalues(loss, model, which="smallest")
    assert top[0] == pytest.approx(exact[-1], rel=1e-6)
    assert bottom[0] == pytest.approx(exact[0], rel=1e-6)


def test_hutchinson_trace_is_within_5_percent_with_200_samples():
    """A Hessian whose diagonal dominates (Hutchinson's variance is 2·Σ_{i≠j} H_ij²)."""
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((30, 30)) * 0.05
    A = np.diag(rng.uniform(1, 3, 30)) + (noise + noise.T) / 2
    estimate = critical.hessian_trace(lambda x: 0.5 * (x @ (Tensor(A) @ x)), np.zeros(30), samples=200, seed=0)
    assert abs(estimate - np.trace(A)) <= 0.05 * np.trace(A)


def test_hutchinson_trace_of_an_mlp_hessian_is_within_three_standard_errors():
    """On a real MLP the estimator's standard error with 200 samples is itself
    about 5% (off-diagonal curvature), so the check is against that error."""
    model = nn.MLP([5, 8, 3], activation="tanh", generator=np.random.default_rng(4))
    X, y = RNG.standard_normal((20, 5)), RNG.integers(0, 3, 20)
    loss = lambda: F.cross_entropy(model(X), y)  # noqa: E731
    H = critical.Objective(loss, model).hessian()
    standard_error = np.sqrt(2 * ((H**2).sum() - (np.diag(H) ** 2).sum()) / 200)
    estimate = critical.hessian_trace(loss, model, samples=200, seed=0)
    assert abs(estimate - np.trace(H)) <= 3 * standard_error


def test_eigenvalue_density_integrates_to_one_and_covers_the_spectrum():
    A = np.diag(np.linspace(-1, 3, 40))
    grid, density = critical.eigenvalue_density(lambda x: 0.5 * (x @ (Tensor(A) @ x)), np.zeros(40), steps=40)
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)
    assert grid[0] < -1 and grid[-1] > 3 and np.all(density >= 0)


def test_make_hvp_builds_the_gradient_graph_once_and_applies_h_to_any_v():
    from tinygrad_edu import make_hvp

    A = RNG.standard_normal((4, 4))
    f = lambda x, w: (x @ (Tensor(A) @ x)) * w.sum() + (w**3).sum()  # noqa: E731
    x0, w0 = RNG.standard_normal(4), RNG.standard_normal(2)
    calls = [0]

    def counted(x, w):
        calls[0] += 1
        return f(x, w)

    value, gradient, hvp_fn = make_hvp(counted, (x0, w0))
    H = hessian(f, (x0, w0)).data
    for _ in range(5):
        v = (RNG.standard_normal(4), RNG.standard_normal(2))
        hx, hw = hvp_fn(v)
        np.testing.assert_allclose(np.concatenate([hx.data, hw.data]), H @ np.concatenate(v), rtol=1e-10)
        np.testing.assert_allclose(hx.data, hvp(f, (x0, w0), v)[1][0].data, rtol=1e-12)
    assert calls[0] == 1  # one forward pass served every product
    assert value.item() == pytest.approx(f(Tensor(x0), Tensor(w0)).item())
    expected_dx = (A + A.T) @ x0 * w0.sum()
    np.testing.assert_allclose(gradient[0].data, expected_dx, rtol=1e-12)
    with pytest.raises(ValueError, match="v must have the structure of inputs"):
        hvp_fn(np.ones(4))
    with pytest.raises(ValueError, match=r"v\[1\] has shape \(3,\)"):
        hvp_fn((np.ones(4), np.ones(3)))


def relu_mlp_loss(dtype=np.float64):
    """A 4→6→3 ReLU network's cross-entropy plus a squared-error term, of its four parameter arrays."""
    model = nn.MLP([4, 6, 3], generator=np.random.default_rng(2))
    X, y = RNG.standard_normal((10, 4)).astype(dtype), RNG.integers(0, 3, 10)

    def loss(w1, b1, w2, b2):
        logits = F.linear(F.linear(X, w1, b1).relu(), w2, b2)
        return F.cross_entropy(logits, y) + (logits * logits).mean()

    return loss, tuple(p.data.astype(dtype) for p in model.parameters())


@pytest.fixture
def counted_sweeps(monkeypatch):
    """How often autograd sweeps tangents plainly and how often it compiles a sweep."""
    from tinygrad_edu import autograd

    calls = {"sweep": 0, "compile": 0}

    def counting(name, f):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return f(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(autograd, "tangent_sweep", counting("sweep", autograd.tangent_sweep))
    monkeypatch.setattr(autograd, "compile_tangent_sweep", counting("compile", autograd.compile_tangent_sweep))
    return calls


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_hvp_used_again_replays_its_compiled_sweep_bit_for_bit(dtype, counted_sweeps):
    from tinygrad_edu import make_hvp

    loss, params = relu_mlp_loss(dtype)
    hvp_fn = make_hvp(loss, params)[2]
    vs = [tuple(RNG.standard_normal(p.shape) for p in params) for _ in range(4)]
    results = [hvp_fn(v) for v in vs]
    assert counted_sweeps == {"sweep": 1, "compile": 1}  # plain, compiled, then replayed twice
    for v, got in zip(vs, results):  # each result is its own array: later replays did not overwrite it
        expected = make_hvp(loss, params)[2](v)  # a new graph and a plain sweep
        for a, b, c in zip(got, expected, hvp(loss, params, v)[1]):  # hvp: reverse over forward
            assert a.dtype == c.dtype == dtype
            np.testing.assert_array_equal(a.data, b.data)
            np.testing.assert_allclose(a.data, c.data, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_zero_blocks_are_not_seeded_and_each_seeded_set_has_its_own_program(counted_sweeps):
    from tinygrad_edu import make_hvp

    loss, params = relu_mlp_loss()
    hvp_fn = make_hvp(loss, params)[2]
    full = tuple(RNG.standard_normal(p.shape) for p in params)
    only_b1 = tuple(v if i == 1 else np.zeros_like(v) for i, v in enumerate(full))
    for v in (full, only_b1, full, only_b1, only_b1):
        got = hvp_fn(v)
        for a, b in zip(got, make_hvp(loss, params)[2](v)):
            np.testing.assert_array_equal(a.data, b.data)
    assert counted_sweeps["compile"] == 2  # one program for all four blocks, one for b1 alone


def test_the_dense_hessian_from_compiled_tangents_equals_reverse_over_reverse():
    from tinygrad_edu import grad
    from tinygrad_edu.autograd import gradient_graph, hessian_matrix

    loss, params = relu_mlp_loss()
    leaves = [Tensor(p, requires_grad=True) for p in params]
    forward = hessian_matrix(gradient_graph(lambda: loss(*leaves), leaves)[2], [p.shape for p in params])
    gradient = grad(loss(*leaves), leaves, create_graph=True)
    basis = [np.zeros(p.shape) for p in params]
    columns = []
    for block in basis:
        for i in range(block.size):  # column by column, a backward through the recorded gradient seeded with eᵢ
            block.flat[i] = 1.0
            column = grad(gradient, leaves, grad_outputs=basis, retain_graph=True, allow_unused=True)
            columns.append(np.concatenate([(np.zeros(x.shape) if h is None else h.data).ravel()
                                           for h, x in zip(column, leaves)]))  # fmt: skip
            block.flat[i] = 0.0
    np.testing.assert_allclose(forward, np.stack(columns, axis=1), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(forward, forward.T, atol=1e-14)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_escape_direction_has_one_sign_whatever_the_eigensolver_returns(sign, monkeypatch):
    f = lambda p: p[0] ** 2 - (p[1] + 2 * p[2]) ** 2  # noqa: E731  (λ_min along (0, 1, 2)/√5)
    solver = critical.lowest_eigenvector
    monkeypatch.setattr(critical, "lowest_eigenvector", lambda H, values: sign * solver(H, values))
    u = np.array(critical.classify(f, np.zeros(3)).escape_direction)
    np.testing.assert_allclose(u, np.array([0.0, 1.0, 2.0]) / np.sqrt(5), atol=1e-12)


@pytest.mark.parametrize("gap", [1.0, 1e-3, 1e-7])
def test_lowest_eigenvector_by_inverse_iteration_matches_eigh(gap):
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((50, 50)))[0]
    values = np.concatenate([[-2.0, -2.0 + gap], np.linspace(-1, 5, 48)])
    H = (Q * values) @ Q.T
    H = (H + H.T) / 2
    eigenvalues = np.linalg.eigvalsh(H)
    u = critical.lowest_eigenvector(H, eigenvalues)
    assert np.linalg.norm(u) == pytest.approx(1.0)
    assert np.linalg.norm(H @ u - eigenvalues[0] * u) <= 1e-10 * 5
    if gap >= 1e-3:  # a well separated eigenvalue: the same direction as eigh's, up to sign
        assert abs(u @ np.linalg.eigh(H)[1][:, 0]) == pytest.approx(1.0, abs=1e-12)


def test_lowest_eigenvector_of_a_hessian_with_zero_rows():
    """Dead ReLU units give H rows and columns of zeros: the shifted matrix is still invertible."""
    H = np.diag([3.0, 0.0, -1.5, 0.0])
    H[0, 2] = H[2, 0] = 0.5
    u = critical.lowest_eigenvector(H, np.linalg.eigvalsh(H))
    expected = np.linalg.eigh(H)[1][:, 0]
    assert abs(u @ expected) == pytest.approx(1.0, abs=1e-12)


def test_lowest_eigenvector_falls_back_to_eigh_when_inverse_iteration_does_not_converge(monkeypatch):
    H = np.diag([-1.0, 2.0, 3.0])
    monkeypatch.setattr(np.linalg, "solve", lambda A, b: np.ones_like(b))  # a solver that gets nowhere
    u = critical.lowest_eigenvector(H, np.linalg.eigvalsh(H))
    assert abs(u[0]) == pytest.approx(1.0)


def test_a_compiled_sweep_traced_with_v_equal_to_the_point_itself_still_replays_for_any_v():
    """H·x at x: the vector is the very array the graph holds as x, which the trace must not confuse."""
    from tinygrad_edu.autograd import gradient_graph

    A = RNG.standard_normal((3, 3))
    x = Tensor(np.array([0.3, -0.2, 0.5]), requires_grad=True)
    hessian_times = gradient_graph(lambda: ((Tensor(A) @ x).tanh() * x * x).sum(), [x])[2]
    hessian_times([x.data]), hessian_times([x.data])  # plain, then traced with the point as v
    v = np.array([1.0, 2.0, 3.0])
    expected = hessian(lambda t: ((Tensor(A) @ t).tanh() * t * t).sum(), x.data).data @ v
    np.testing.assert_allclose(hessian_times([v])[0], expected, rtol=1e-12)
