"""Forward mode: jvp of every op against finite differences and against the engine's
vjp through ⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩, to first and second order, in float64 and float32."""

import numpy as np
import pytest
from test_ops_table import ANY_SHAPE, BINARY, NN, SHAPE_OPS, UNARY, sample

from tinygrad_edu import Tensor, concat, grad, hvp, jacobian, jvp, make_hvp, stack
from tinygrad_edu.engine import Op, apply
from tinygrad_edu.nn import functional as F

CLASSES = np.array([0, 2, 1])
CORE = {  # the ops of the engine and of nn, on a (3, 4) input x (and y: same shape, positive)
    "arithmetic": lambda x, y: (x + y) * (x - y) / y - (-x),
    "pow": lambda x, y: y**x + x**3 + y**0.5,
    "matmul": lambda x, y: x @ y.T + x[0] @ y[1],
    "batched_matmul": lambda x, y: x.reshape(3, 2, 2) @ y.reshape(3, 2, 2),
    "exp_log_sqrt_abs": lambda x, y: x.exp() + y.log() + y.sqrt() + x.abs(),
    "relu_sigmoid_tanh": lambda x, y: x.relu() + x.sigmoid() * x.tanh(),
    "clip_cast": lambda x, y: x.clip(-0.5, 0.5) * y.astype(np.float64),
    "sum_mean_max_min": lambda x, y: x.sum(axis=0) + x.mean(axis=1).sum() + x.max(axis=1).sum() + y.min(),
    "var_std": lambda x, y: x.var(axis=0) + y.std(),
    "softmax_log_softmax": lambda x, y: x.softmax(axis=0) * y + x.log_softmax(axis=-1),
    "reshape_transpose_expand": lambda x, y: x.reshape(2, 6).T.reshape(3, 4) + x[:1].expand(3, 4) * y,
    "indexing": lambda x, y: x[np.array([0, 0, 2]), 1:] * y[:, :3] + x[..., None][1, 2],
    "concat_stack": lambda x, y: concat([x, y * x], axis=1).sum(axis=0)[2:6] + stack([x, y]).sum(axis=0).sum(axis=0),
    "where": lambda x, y: np.where(x.data > 0, x * y, y),
    "linear": lambda x, y: F.linear(x, y[:2], y[2, :2]),
    "mse": lambda x, y: F.mse_loss(x, y) + F.mse_loss(x, y, "sum"),
    "cross_entropy": lambda x, y: F.cross_entropy(x * y, CLASSES),
    "nll_pick": lambda x, y: F.nll_loss(x * y, CLASSES, "none") + F.cross_entropy(x, CLASSES, "none"),
    "cross_entropy_slope": lambda x, y: apply(F.CrossEntropySlope, x, y * x, np.eye(4)[CLASSES], 0.5),  # its tangent
}
EVERY = (
    [(f"core:{k}", f) for k, f in CORE.items()]
    + [(f"unary:{k}", lambda x, y, f=f: f(y)) for k, (f, _, _) in UNARY.items()]  # y > 0: every domain
    + [(f"nn:{k}", lambda x, y, f=f: f(x)) for k, (f, _) in NN.items()]
    + [(f"binary:{k}", lambda x, y, f=f: f(x * y + 5.0, y + 1.0)) for k, f in BINARY.items()]
    + [(f"reduce:{k}", lambda x, y, k=k: getattr(y, k)(axis=1)) for k in ("prod", "logsumexp", "std", "cumsum")]
    + [(f"shape:{k}", lambda x, y, f=f: f(x[:2, :3])) for k, (f, _) in SHAPE_OPS.items()]
    + [(f"any_shape:{k}", lambda x, y, f=f: f(x)) for k, (f, _) in ANY_SHAPE.items()]
)


def points(dtype=np.float64):
    rng = np.random.default_rng(0)
    x = sample(rng, (3, 4), "off_integers") * 0.5  # off the kinks of relu, abs, floor, ...
    y = rng.uniform(0.5, 1.5, (3, 4))
    v, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    return [np.asarray(a, dtype) for a in (x, y, v, w)]


@pytest.mark.parametrize("name,f", EVERY, ids=[name for name, _ in EVERY])
def test_jvp_matches_finite_differences_and_the_vjp(name, f):
    x, y, v, w = points()
    out, tangent = jvp(f, (x, y), (v, w))
    np.testing.assert_allclose(out.data, f(Tensor(x), Tensor(y)).data)
    eps = 1e-6
    plus, minus = f(Tensor(x + eps * v), Tensor(y + eps * w)), f(Tensor(x - eps * v), Tensor(y - eps * w))
    np.testing.assert_allclose(tangent.data, (plus.data - minus.data) / (2 * eps), rtol=1e-5, atol=1e-6)
    u = np.random.default_rng(1).standard_normal(out.shape)
    a, b = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    ga, gb = grad((f(a, b) * u).sum(), (a, b), allow_unused=True)
    transposed = sum(float((g.data * t).sum()) for g, t in ((ga, v), (gb, w)) if g is not None)
    assert float((u * tangent.data).sum()) == pytest.approx(transposed, rel=1e-9, abs=1e-9)  # ⟨u, Jv⟩ = ⟨Jᵀu, v⟩


@pytest.mark.parametrize("name,f", EVERY, ids=[name for name, _ in EVERY])
def test_jvp_is_differentiable_again(name, f):
    """d/dx ⟨u, J(x)·v⟩ by reverse over forward equals d/dx ⟨Jᵀ(x)·u, v⟩ by reverse over reverse."""
    x, y, v, w = points()
    u = np.random.default_rng(2).standard_normal(f(Tensor(x), Tensor(y)).shape)

    def u_dot_jvp(a, b):
        return (jvp(f, (a, b), (v, w), create_graph=True)[1] * u).sum()

    def jtu_dot_v(a, b):
        ga, gb = grad((f(a, b) * u).sum(), (a, b), create_graph=True, allow_unused=True)
        return sum((g * t).sum() for g, t in ((ga, v), (gb, w)) if g is not None)

    a, b = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    left, right = u_dot_jvp(a, b), jtu_dot_v(a, b)
    if not (left.requires_grad and right.requires_grad):  # linear in (x, y): no second derivative
        return
    for p, q in zip(grad(left, (a, b), allow_unused=True), grad(right, (a, b), allow_unused=True)):
        if p is not None or q is not None:
            p = np.zeros_like(x) if p is None else p.data
            q = np.zeros_like(x) if q is None else q.data
            np.testing.assert_allclose(p, q, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name,f", EVERY, ids=[name for name, _ in EVERY])
def test_hvp_by_reverse_over_forward_equals_make_hvp_by_forward_over_reverse(name, f):
    x, y, v, w = points()
    u = np.random.default_rng(3).standard_normal(f(Tensor(x), Tensor(y)).shape)

    def loss(a, b):
        return (f(a, b) * u).sum()

    _, once = hvp(loss, (x, y), (v, w))
    kept = make_hvp(loss, (x, y))[2]
    for _ in range(3):  # a plain sweep, a compiled one, a replay
        for p, q in zip(once, kept((v, w))):
            np.testing.assert_allclose(p.data, q.data, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name,f", EVERY, ids=[name for name, _ in EVERY])
def test_jvp_keeps_float32(name, f):
    x, y, v, w = points(np.float32)
    out, tangent = jvp(f, (x, y), (v, w))
    assert tangent.dtype == out.dtype


def test_every_op_with_a_backward_rule_has_a_tangent_rule():
    from tinygrad_edu import ops

    missing = [
        op.name for module in (ops, F) for op in vars(module).values() if isinstance(op, Op) and op.vjp and not op.jvp
    ]
    assert missing == []


def test_jvp_takes_tuples_and_tuple_outputs_and_refuses_mismatched_tangents():
    out, tangent = jvp(lambda x: (x.sin(), x * 2), (np.array([0.0, 1.0]),), (np.array([1.0, 1.0]),))
    assert isinstance(out, tuple) and isinstance(tangent, tuple)
    np.testing.assert_allclose(tangent[0].data, np.cos([0.0, 1.0]))
    np.testing.assert_allclose(tangent[1].data, [2.0, 2.0])
    with pytest.raises(TypeError, match="as tuples"):
        jvp(lambda x: x, np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"v\[0\] has shape \(3,\)"):
        jvp(lambda x: x, (np.ones(2),), (np.ones(3),))
    with pytest.raises(ValueError, match="structure of inputs"):
        jvp(lambda x, y: x, (np.ones(2), np.ones(2)), (np.ones(2),))
    with pytest.raises(TypeError, match="tangent 0 has dtype float32 but primal 0 has dtype float64"):
        jvp(lambda x: x, (np.ones(2),), (np.ones(2, np.float32),))
    with pytest.raises(FloatingPointError, match=r"^the tangent is not finite: input 1 has nan at index \(0,\)"):
        jvp(lambda x, y: x * y, (np.ones(2), np.ones(2)), (np.ones(2), np.array([np.nan, 0.0])))
    _, constant = jvp(lambda x: Tensor([1.0, 2.0]) * 3, (np.ones(2),), (np.ones(2),))
    np.testing.assert_array_equal(constant.data, [0.0, 0.0])


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_forward_and_reverse_jacobians_agree(shape):
    def f(x, y):
        return (x * y.sum()).exp()[..., None] * np.arange(1.0, 3.0) + (x**2).sum()

    inputs = (np.random.default_rng(3).standard_normal(shape), np.random.default_rng(4).standard_normal(4))
    for forward, reverse in zip(jacobian(f, inputs, mode="forward"), jacobian(f, inputs)):
        assert forward.shape == reverse.shape
        np.testing.assert_allclose(forward.data, reverse.data, rtol=1e-12)
    with pytest.raises(ValueError, match="mode must be"):
        jacobian(f, inputs, mode="sideways")


def test_forward_over_reverse_is_a_hessian_vector_product():
    def loss(w):
        return ((w**3).sum() * w[0]).sin() + (w * w).sum()

    w0, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, -1.0])
    _, expected = hvp(loss, w0, v)
    _, hv = jvp(lambda w: grad(loss(w), w, create_graph=True)[0], (w0,), (v,))
    np.testing.assert_allclose(hv.data, expected.data, rtol=1e-12)
