"""Every differentiable op against central finite differences, float64,
first order and second order (the gradient of the backward pass), on random
shapes drawn by hypothesis, broadcasting pairs included."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu.autograd import gradcheck, gradgradcheck

checks = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)
shapes = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
nonscalar_shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3)


def leaf(rng, shape, low=None):
    """Random float64 leaf; with `low`, values are kept at least `low` away
    from 0 (kinks and poles), and positive if low > 0 is asked with abs."""
    x = np.asarray(rng.standard_normal(shape))
    if low is not None:
        x = np.where(x < 0, x - low, x + low)
    return Tensor(x, requires_grad=True)


def positive(rng, shape):
    return Tensor(np.abs(rng.standard_normal(shape)) + 0.5, requires_grad=True)


def check_both_orders(f, *inputs):
    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y,
    "pow": lambda x, y: x**y,
    "mixed": lambda x, y: (x * y + x / y - y) ** 2,
}


@pytest.mark.parametrize("name", BINARY)
@checks
@given(shape_pair=pairs, seed=seeds)
def test_binary_op_gradients_with_broadcasting(name, shape_pair, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shape_pair.input_shapes
    x = positive(rng, a_shape) if name == "pow" else leaf(rng, a_shape)
    y = leaf(rng, b_shape, low=0.5) if name in ("div", "mixed") else leaf(rng, b_shape)
    check_both_orders(BINARY[name], x, y)


UNARY = {
    "neg": (lambda x: -x, None),
    "exp": (lambda x: x.exp(), None),
    "log": (lambda x: x.log(), "positive"),
    "sqrt": (lambda x: x.sqrt(), "positive"),
    "abs": (lambda x: x.abs(), 0.1),
    "relu": (lambda x: x.relu(), 0.1),
    "sigmoid": (lambda x: x.sigmoid(), None),
    "tanh": (lambda x: x.tanh(), None),
    "square": (lambda x: x**2, None),
    "cube": (lambda x: x**3, None),
    "inverse": (lambda x: x**-1, 0.5),
    "power_half": (lambda x: x**0.5, "positive"),
    "rpow": (lambda x: 2.0**x, None),
    "rsub": (lambda x: 1.0 - x, None),
    "rdiv": (lambda x: 3.0 / x, 0.5),
    "clip": (lambda x: x.clip(-0.5, 0.5), "clip"),
    "clip_low_only": (lambda x: x.clip(min=0.0), 0.1),
    "numpy_clip": (lambda x: np.clip(x, -0.5, 0.5), "clip"),
    "astype_roundtrip": (lambda x: x.astype(np.float32).astype(np.float64) * 1.0, None),
    "numpy_function": (lambda x: np.exp(np.sum(np.tanh(x))), None),
}


def unary_input(rng, shape, domain):
    if domain == "positive":
        return positive(rng, shape)
    if domain == "clip":  # stay away from the clip edges
        x = rng.uniform(-1, 1, shape)
        x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x * 0.5, x)
        return Tensor(x, requires_grad=True)
    return leaf(rng, shape, low=domain)


@pytest.mark.parametrize("name", UNARY)
@checks
@given(shape=shapes, seed=seeds)
def test_unary_op_gradients(name, shape, seed):
    f, domain = UNARY[name]
    x = unary_input(np.random.default_rng(seed), shape, domain)
    if name == "astype_roundtrip":  # float32 rounding: check the rule, not precision
        assert gradcheck(f, (x,), eps=1e-3, atol=1e-3, rtol=1e-3)
        return
    check_both_orders(f, x)


@st.composite
def shape_and_axis(draw, min_dims=1):
    shape = draw(array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=3))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    return shape, axis, draw(st.booleans())


REDUCTIONS = {
    "sum": lambda x, axis, keep: x.sum(axis=axis, keepdims=keep),
    "mean": lambda x, axis, keep: x.mean(axis=axis, keepdims=keep),
    "var": lambda x, axis, keep: x.var(axis=axis, keepdims=keep),
    "max": lambda x, axis, keep: x.max(axis=axis, keepdims=keep),
    "min": lambda x, axis, keep: x.min(axis=axis, keepdims=keep),
}


@pytest.mark.parametrize("name", REDUCTIONS)
@checks
@given(spec=shape_and_axis(), seed=seeds)
def test_reduction_gradients(name, spec, seed):
    shape, axis, keepdims = spec
    x = leaf(np.random.default_rng(seed), shape)
    check_both_orders(lambda t: REDUCTIONS[name](t, axis, keepdims), x)


@checks
@given(spec=shape_and_axis(), seed=seeds, ddof=st.integers(0, 1))
def test_var_and_std_with_ddof_match_numpy_and_gradients(spec, seed, ddof):
    shape, axis, keepdims = spec
    x = leaf(np.random.default_rng(seed), shape)
    count = x.size if axis is None else shape[axis]
    if count - ddof <= 0:
        return
    for name in ("var", "std"):
        out = getattr(x, name)(axis=axis, ddof=ddof, keepdims=keepdims)
        np.testing.assert_allclose(out.data, getattr(np, name)(x.data, axis=axis, ddof=ddof, keepdims=keepdims))
        check_both_orders(lambda t, name=name: getattr(t, name)(axis=axis, ddof=ddof, keepdims=keepdims), x)


def test_std_of_a_constant_sample_has_a_zero_gradient_not_nan():
    """√var has an infinite slope at var = 0; PyTorch gives std's gradient 0 there
    (a subgradient, as |x| at 0), so one constant row cannot turn a layer's gradient into nan."""
    rows = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    x = Tensor(rows, requires_grad=True)
    ((x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-5) * rows).sum().backward()
    assert np.isfinite(x.grad.data).all()
    (g,) = tg.grad(x.std(axis=1).sum(), x, create_graph=True)
    centered = rows[1] - rows[1].mean()
    np.testing.assert_allclose(g.data, [[0.0, 0.0, 0.0], centered / (3 * np.sqrt(np.mean(centered**2)))])
    (gg,) = tg.grad((g * g).sum(), x)
    assert np.isfinite(gg.data).all() and not gg.data[0].any()


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@checks
@given(spec=shape_and_axis(), seed=seeds)
def test_softmax_gradients(name, spec, seed):
    shape, axis, _ = spec
    axis = -1 if axis is None else axis
    x = leaf(np.random.default_rng(seed), shape)
    check_both_orders(lambda t: getattr(t, name)(axis=axis), x)


@checks
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_shape_op_gradients(shape, seed, data):
    x = leaf(np.random.default_rng(seed), shape)
    axes = tuple(data.draw(st.permutations(range(len(shape)))))
    negative = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    mixed_axes = tuple(a - len(shape) if flip else a for a, flip in zip(axes, negative))  # -1 is the last axis
    new_axis = data.draw(st.integers(0, len(shape)))
    check_both_orders(lambda t: t.reshape(-1) * 1.0, x)
    check_both_orders(lambda t: t.transpose(*axes) * 1.0, x)
    check_both_orders(lambda t: t.transpose(*mixed_axes) * 1.0, x)
    check_both_orders(lambda t: np.transpose(t, mixed_axes) * 1.0, x)
    check_both_orders(lambda t: t.T * 1.0, x)
    check_both_orders(lambda t: t.flatten() * 1.0, x)
    check_both_orders(lambda t: t.unsqueeze(new_axis).squeeze(new_axis) * 1.0, x)
    check_both_orders(lambda t: t.unsqueeze(0).expand((2,) + shape), x)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)),
    ((4, 3), (5, 4, 3, 1)),
]


@pytest.mark.parametrize("a_shape,b_shape", MATMUL_SHAPES)
def test_matmul_gradients_1d_2d_and_batched(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a, b = leaf(rng, a_shape), leaf(rng, b_shape)
    np.testing.assert_allclose((a @ b).data, a.data @ b.data)
    check_both_orders(lambda x, y: x @ y, a, b)


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_linear_gradients(x_shape, bias):
    from tinygrad_edu.nn.functional import linear

    rng = np.random.default_rng(1)
    x, w, b = leaf(rng, x_shape), leaf(rng, (2, 3)), leaf(rng, (2,))
    if bias:
        np.testing.assert_allclose(linear(x, w, b).data, x.data @ w.data.T + b.data)
        check_both_orders(linear, x, w, b)
    else:
        check_both_orders(linear, x, w)


@pytest.mark.parametrize("shape", [(5,), (3, 4)])
def test_cross_entropy_slope_gradients(shape):
    """The fused tangent of the cross-entropy, scale·Σ (softmax(z) − y)·ż, in both of its inputs."""
    from tinygrad_edu.engine import apply
    from tinygrad_edu.nn.functional import CrossEntropySlope

    rng = np.random.default_rng(4)
    z, dz = leaf(rng, shape), leaf(rng, shape)
    target = rng.integers(0, shape[-1], shape[:-1])
    one_hot = np.eye(shape[-1])[target]
    scale = 1 / max(1, one_hot.size // shape[-1])

    def slope(a, b):
        return apply(CrossEntropySlope, a, b, one_hot, scale)

    p = np.exp(z.data) / np.exp(z.data).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(slope(z, dz).data, scale * ((p - one_hot) * dz.data).sum(), rtol=1e-12)
    check_both_orders(slope, z, dz)


def test_dot_is_numpy_dot():
    rng = np.random.default_rng(2)
    u, v, m = leaf(rng, (3,)), leaf(rng, (3,)), leaf(rng, (2, 3))
    np.testing.assert_allclose(u.dot(v).data, np.dot(u.data, v.data))
    np.testing.assert_allclose(m.dot(v).data, np.dot(m.data, v.data))
    check_both_orders(lambda a, b: a.dot(b), u, v)


INDEXES = {
    "int": 1,
    "slice": slice(0, 2),
    "negative_step": slice(None, None, -1),
    "tuple": (1, slice(None)),
    "ellipsis_newaxis": (Ellipsis, None),
    "int_array_repeats": np.array([0, 2, 0, 0]),
    "int_list": [1, 1, 2],
    "pair_of_arrays": (np.array([0, 1, 0]), np.array([2, 2, 2])),
    "bool_mask": np.array([True, False, True]),
}


@pytest.mark.parametrize("name", INDEXES)
def test_indexing_gradient_scatters_with_accumulation(name):
    x = leaf(np.random.default_rng(3), (3, 3))
    index = INDEXES[name]
    np.testing.assert_allclose(x[index].data, x.data[index])
    check_both_orders(lambda t: t[index] * t[index], x)


def test_repeated_index_accumulates_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])


@pytest.mark.parametrize("join", ["stack", "concat"])
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
@checks
def test_stack_and_concat_send_gradient_to_every_input(join, shape, seed, data):
    rng = np.random.default_rng(seed)
    tensors = [leaf(rng, shape) for _ in range(3)]
    limit = len(shape) if join == "stack" else len(shape) - 1
    axis = data.draw(st.integers(0, limit))
    joined = getattr(tg, join)(tensors, axis=axis)
    expected = getattr(np, "stack" if join == "stack" else "concatenate")([t.data for t in tensors], axis=axis)
    np.testing.assert_allclose(joined.data, expected)
    check_both_orders(lambda a, b, c: getattr(tg, join)([a, b, c], axis=axis) ** 2, *tensors)


@checks
@given(
    batch=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, min_side=1, max_side=3),
    sizes=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    vector_sides=st.sampled_from(["none", "left", "right", "both"]),
    seed=seeds,
)
def test_matmul_gradients_on_random_batched_and_vector_shapes(batch, sizes, vector_sides, seed):
    n, k, m = sizes
    a_batch, b_batch = batch.input_shapes
    a_shape = (k,) if vector_sides in ("left", "both") else a_batch + (n, k)
    b_shape = (k,) if vector_sides in ("right", "both") else b_batch + (k, m)
    rng = np.random.default_rng(seed)
    a, b = leaf(rng, a_shape), leaf(rng, b_shape)
    np.testing.assert_allclose((a @ b).data, a.data @ b.data)
    check_both_orders(lambda x, y: x @ y, a, b)


@checks
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_integer_array_indexing_with_random_repeats(shape, seed, data):
    x = leaf(np.random.default_rng(seed), shape)
    index = np.array(data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6)))
    np.testing.assert_allclose(x[index].data, x.data[index])
    check_both_orders(lambda t: t[index] * t[index], x)
