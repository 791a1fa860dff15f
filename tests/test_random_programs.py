"""Random programs of many ops, where tensors fan out to several uses and broadcast into
each other: what checks of one op at a time cannot see.  Each program's derivatives are
checked every way the engine computes them: the gradient and the backward's gradient
against finite differences; hvp, make_hvp's compiled products, the dense Hessian, a
double backward, jvp and both modes of jacobian against each other; a jitted step
against the eager one, in float64 and float32."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor, grad, hessian, hvp, jacobian, jit, jvp, make_hvp, optim
from tinygrad_edu.autograd import gradcheck, gradgradcheck
from tinygrad_edu.nn import functional as F

UNARY = {
    "exp": lambda x: x.tanh().exp(),  # every op keeps values moderate, so that chains of them do too
    "log": lambda x: (x * x + 1).log(),
    "sqrt": lambda x: (x * x + 1).sqrt(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "sin": lambda x: x.sin(),
    "cube": lambda x: x.tanh() ** 3,
    "reciprocal": lambda x: 1.0 / (x * x + 1),
    "abs": lambda x: (x + 0.05).abs(),  # kinks away from where the inputs are drawn
    "relu": lambda x: (x - 0.05).relu(),
    "clip": lambda x: x.clip(-0.5, 0.6),
    "sum": lambda x: x.sum(axis=0, keepdims=True) if x.ndim else x,
    "mean": lambda x: x.mean(),
    "max": lambda x: x.max(axis=-1, keepdims=True) if x.ndim else x,
    "prod": lambda x: x.prod(axis=-1, keepdims=True) if x.ndim else x,
    "var": lambda x: x.var(axis=0, keepdims=True) if x.ndim and x.shape[0] > 1 else x,
    "std": lambda x: x.std(axis=-1, keepdims=True) if x.ndim and x.shape[-1] > 1 else x,
    "pick": lambda x: (
        F.nll_loss(x, np.arange(np.prod(x.shape[:-1]), dtype=int).reshape(x.shape[:-1]) % x.shape[-1], "none")
        if x.ndim
        else x
    ),
    "logsumexp": lambda x: x.logsumexp(axis=-1, keepdims=True) if x.ndim else x,
    "softmax": lambda x: x.softmax(axis=-1) if x.ndim else x,
    "log_softmax": lambda x: x.log_softmax(axis=-1) if x.ndim else x,
    "cumsum": lambda x: x.cumsum(axis=0) if x.ndim else x,
    "transpose": lambda x: x.T,
    "flip": lambda x: x.flip(0) if x.ndim else x,
    "slice": lambda x: x[..., :1] if x.ndim else x,
    "gather": lambda x: x[np.array([0, 0, -1])] if x.ndim else x,  # a repeated index: gradients add up
    "pad": lambda x: np.pad(x, ((1, 0),) + ((0, 0),) * (x.ndim - 1)) if x.ndim else x,
    "stack": lambda x: tg.stack([x, x * 2], axis=0),
    "expand": lambda x: x.reshape(1, *x.shape).expand(2, *x.shape),
    "flatten": lambda x: x.reshape(-1),
}
BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / (y * y + 1),
    "pow": lambda x, y: (x.sigmoid() + 0.5) ** y.tanh(),
    "maximum": lambda x, y: x.maximum(y),
    "where": lambda x, y: x.where(x > y, y),
    "logaddexp": lambda x, y: x.logaddexp(y),
    "matmul": lambda x, y: x @ y,
}
SHAPES = [(), (4,), (1, 4), (3, 1), (3, 4), (4, 4)]

programs = st.lists(
    st.tuples(st.sampled_from(sorted(UNARY) + sorted(BINARY)), st.integers(0, 99), st.integers(0, 99)),
    min_size=2,
    max_size=8,
)
leaf_shapes = st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3)
# RANDOM_PROGRAMS=15000 pytest tests/test_random_programs.py: a long run
checks = settings(
    max_examples=int(os.environ.get("RANDOM_PROGRAMS", 100)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def program(steps, seed):
    """f(*inputs): each step applies an op to earlier tensors (the inputs too, any number of
    times); the result is a weighted sum of the last few tensors."""
    weights = np.random.default_rng(seed).standard_normal(4)

    def f(*inputs):
        tensors = list(inputs)
        for name, i, j in steps:
            x, y = tensors[i % len(tensors)], tensors[j % len(tensors)]
            if name in UNARY:
                tensors.append(UNARY[name](x))
            elif takes(name, x.shape, y.shape):
                tensors.append(BINARY[name](x, y))
        last = tensors[-4:]
        return sum(((t * w).sum() for t, w in zip(last[1:], weights[1:])), (last[0] * weights[0]).sum())

    return f


def takes(name, a, b):
    """Whether the binary op takes operands of shapes a and b (a step that does not is skipped)."""
    if name == "matmul":
        return len(a) >= 1 and len(b) >= 1 and a[-1] == b[-2 if len(b) > 1 else 0]
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def draw(shapes, seed):
    rng = np.random.default_rng(seed)
    point = tuple(rng.standard_normal(s) * 0.7 for s in shapes)
    return point, tuple(rng.standard_normal(s) for s in shapes)


@checks
@given(steps=programs, shapes=leaf_shapes, seed=st.integers(0, 2**32 - 1))
def test_gradients_of_random_programs_against_finite_differences(steps, shapes, seed):
    f = program(steps, seed)
    point, _ = draw(shapes, seed)
    inputs = [Tensor(x, requires_grad=True) for x in point]
    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


@checks
@given(steps=programs, shapes=leaf_shapes, seed=st.integers(0, 2**32 - 1))
def test_every_second_order_route_gives_the_same_hessian_vector_product(steps, shapes, seed):
    f = program(steps, seed)
    point, v = draw(shapes, seed)
    _, reference = hvp(f, point, v)
    hvp_fn = make_hvp(f, point)[2]
    for _ in range(3):  # a plain sweep, a compiled one, a replay
        for a, b in zip(hvp_fn(v), reference):
            np.testing.assert_allclose(a.data, b.data, rtol=1e-9, atol=1e-12)
    flat = np.concatenate([h.data.ravel() for h in reference])
    np.testing.assert_allclose(hessian(f, point).data @ np.concatenate([x.ravel() for x in v]), flat, atol=1e-10)

    leaves = [Tensor(x, requires_grad=True) for x in point]
    gradients = grad(f(*leaves), leaves, create_graph=True, allow_unused=True)
    slope = sum(((g * u).sum() for g, u in zip(gradients, v) if g is not None), Tensor(0.0))
    _, tangent = jvp(f, point, v)
    np.testing.assert_allclose(tangent.data, slope.data, rtol=1e-10, atol=1e-12)
    for forward, reverse, g in zip(jacobian(f, point, mode="forward"), jacobian(f, point), gradients):
        np.testing.assert_allclose(forward.data, reverse.data, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(reverse.data, np.zeros(forward.shape) if g is None else g.data, rtol=1e-12)
    if slope.requires_grad:  # the double backward: ∇⟨∇f, v⟩
        for a, b in zip(grad(slope, leaves, allow_unused=True), reference):
            np.testing.assert_allclose(np.zeros(b.shape) if a is None else a.data, b.data, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])  # float32: numpy scalars must stay weak in a replay
@checks
@given(steps=programs, shapes=leaf_shapes, seed=st.integers(0, 2**32 - 1))
def test_a_jitted_step_of_a_random_program_is_the_eager_step_bit_for_bit(dtype, steps, shapes, seed):
    f = program(steps, seed)
    point, _ = draw(shapes, seed)

    def run(use_jit):
        params = [Tensor(x.astype(dtype), requires_grad=True) for x in point]
        opt = optim.SGD(params, lr=0.01)

        def step():
            opt.zero_grad()
            loss = f(*params)
            loss.backward()
            opt.step()
            return loss

        stepped = jit(step, check=False) if use_jit else step
        losses = [stepped().data.tobytes() for _ in range(3)]  # a trace, a first replay, a second
        return losses, [p.data.tobytes() for p in params]

    assert run(use_jit=True) == run(use_jit=False)
