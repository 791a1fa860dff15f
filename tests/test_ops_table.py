"""The operations users reach for: value against numpy, first and second derivatives
against finite differences, on shapes that include 0-d, empty and broadcast
cases, float32 kept float32, and against PyTorch when it is installed."""

import numpy as np
import pytest

from tinygrad_edu import Tensor
from tinygrad_edu.autograd import gradcheck, gradgradcheck
from tinygrad_edu.nn import functional as F

SHAPES = [(), (0,), (3,), (2, 3), (2, 1, 3)]


def sample(rng, shape, domain):
    """Values where the op is smooth: 'real', 'positive', 'small' (|x| < 1), 'off_integers'
    (at least 0.1 from an integer and from a half-integer: floor, round and friends)."""
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "small":
        return rng.uniform(-0.9, 0.9, shape)
    if domain == "off_integers":
        return rng.integers(-3, 3, shape) + rng.choice([0.15, 0.35, 0.65, 0.85], shape)
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.1, x + 0.3, x)  # away from 0, where sign-like ops kink


# name: (our function, numpy's, domain); np.<name>(t) on a Tensor is checked to be the same op
UNARY = {
    "square": (lambda t: t.square(), np.square, "real"),
    "sin": (lambda t: t.sin(), np.sin, "real"),
    "cos": (lambda t: t.cos(), np.cos, "real"),
    "tan": (lambda t: t.tan(), np.tan, "small"),
    "log1p": (lambda t: t.log1p(), np.log1p, "positive"),
    "expm1": (lambda t: t.expm1(), np.expm1, "real"),
    "log2": (lambda t: t.log2(), np.log2, "positive"),
    "log10": (lambda t: t.log10(), np.log10, "positive"),
    "exp2": (lambda t: t.exp2(), np.exp2, "real"),
    "sign": (lambda t: t.sign(), np.sign, "real"),
    "floor": (lambda t: t.floor(), np.floor, "off_integers"),
    "ceil": (lambda t: t.ceil(), np.ceil, "off_integers"),
    "trunc": (lambda t: t.trunc(), np.trunc, "off_integers"),
    "round": (lambda t: t.round(), np.round, "off_integers"),
}
NN = {
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    "elu": (lambda t: F.elu(t, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x))),
    "softplus": (lambda t: F.softplus(t, 2.0), lambda x: np.logaddexp(0, 2 * x) / 2),
    "silu": (F.silu, lambda x: x / (1 + np.exp(-x))),
    "gelu": (F.gelu, lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_ops_values_and_first_and_second_derivatives(name, shape):
    ours, reference, domain = UNARY[name]
    x = Tensor(sample(np.random.default_rng(0), shape, domain), requires_grad=True)
    np.testing.assert_allclose(ours(x).data, reference(x.data), rtol=1e-12)
    np.testing.assert_allclose(getattr(np, name)(x).data, reference(x.data), rtol=1e-12)  # numpy's protocol
    assert ours(x).shape == reference(x.data).shape
    assert gradcheck(ours, (x,)) and gradgradcheck(ours, (x,))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(NN))
def test_activations_values_and_first_and_second_derivatives(name, shape):
    ours, reference = NN[name]
    x = Tensor(sample(np.random.default_rng(1), shape, "real"), requires_grad=True)
    np.testing.assert_allclose(ours(x).data, reference(x.data), rtol=1e-12, atol=1e-15)
    assert gradcheck(ours, (x,)) and gradgradcheck(ours, (x,))


BINARY_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2,)), ((0,), (1,))]
BINARY = {
    "maximum": lambda x, y: np.maximum(x, y),
    "minimum": lambda x, y: x.minimum(y),
    "logaddexp": lambda x, y: np.logaddexp(x, y),
    "remainder": lambda x, y: x % y,
    "floor_divide": lambda x, y: x // y,
}


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_ops_broadcast_and_match_numpy_to_second_order(name, shapes):
    rng = np.random.default_rng(2)
    y = Tensor(rng.uniform(1.0, 2.0, shapes[1]), requires_grad=True)
    ratio = rng.integers(-2, 3, np.broadcast_shapes(*shapes)) + rng.uniform(0.1, 0.9, np.broadcast_shapes(*shapes))
    x_full = ratio * y.data  # x/y stays off the integers, so % and // are smooth here
    x = Tensor(
        x_full if x_full.shape == shapes[0] else x_full.reshape(-1)[: int(np.prod(shapes[0]))].reshape(shapes[0])
    )
    x.requires_grad = True
    f = BINARY[name]
    np.testing.assert_allclose(f(x, y).data, getattr(np, name)(x.data, y.data), rtol=1e-12)
    assert gradcheck(f, (x, y)) and gradgradcheck(f, (x, y))


def test_maximum_and_minimum_split_a_tie_equally_as_pytorch():
    x, y = Tensor([1.0, 2.0, 3.0], requires_grad=True), Tensor([1.0, 5.0, 0.0], requires_grad=True)
    np.maximum(x, y).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(y.grad.data, [0.5, 1.0, 0.0])
    x.grad = y.grad = None
    x.minimum(y).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.5, 1.0, 0.0])
    assert np.maximum(x, 0).requires_grad  # a number on one side


REDUCE_SHAPES = [((), None), ((4,), 0), ((2, 3), None), ((2, 3), 1), ((2, 3), -2), ((2, 3, 2), (0, 2)), ((0, 3), 1)]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", REDUCE_SHAPES, ids=str)
@pytest.mark.parametrize("name", ["prod", "logsumexp", "std", "var"])
def test_reductions_match_numpy_to_second_order(name, shape, axis, keepdims):
    x = Tensor(np.random.default_rng(3).uniform(0.5, 2.0, shape), requires_grad=True)
    reference = {
        "prod": lambda a: np.prod(a, axis=axis, keepdims=keepdims),
        "logsumexp": lambda a: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)),
        "std": lambda a: np.std(a, axis=axis, keepdims=keepdims),
        "var": lambda a: np.var(a, axis=axis, keepdims=keepdims),
    }[name]
    f = lambda t: getattr(t, name)(axis=axis, keepdims=keepdims)  # noqa: E731
    with np.errstate(invalid="ignore", divide="ignore"):  # std/var of an empty axis: nan, as numpy
        np.testing.assert_allclose(f(x).data, reference(x.data), rtol=1e-12)
    if x.size and (name not in ("std", "var") or np.size(x.data) > 1):
        assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


@pytest.mark.parametrize("values", [[0.0, 2.0, 3.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.5, 0.0, -2.0, 0.5]])
def test_prod_is_exact_with_zeros_to_second_order(values):
    x = Tensor(values, requires_grad=True)
    (x.prod()).backward()
    expected = [np.prod(np.delete(values, i)) for i in range(len(values))]
    np.testing.assert_allclose(x.grad.data, expected)
    assert gradgradcheck(lambda t: t.prod(), (x,))
    m = Tensor(np.array([[0.0, 2.0], [3.0, 4.0], [0.0, 0.0]]), requires_grad=True)
    assert gradcheck(lambda t: t.prod(axis=1), (m,)) and gradgradcheck(lambda t: t.prod(axis=1), (m,))


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_cumsum_matches_numpy_to_second_order(axis):
    x = Tensor(np.random.default_rng(4).standard_normal((3, 4)), requires_grad=True)
    np.testing.assert_allclose(np.cumsum(x, axis=axis).data, np.cumsum(x.data, axis=axis))
    assert gradcheck(lambda t: t.cumsum(axis) ** 2, (x,)) and gradgradcheck(lambda t: t.cumsum(axis) ** 2, (x,))


def test_logsumexp_does_not_overflow_and_handles_minus_infinity():
    x = Tensor([1000.0, 1000.0], requires_grad=True)
    assert x.logsumexp().item() == pytest.approx(1000.0 + np.log(2))
    x.logsumexp().backward()
    np.testing.assert_allclose(x.grad.data, [0.5, 0.5])
    assert Tensor([-np.inf, -np.inf]).logsumexp().item() == -np.inf


def test_index_valued_and_boolean_reductions_have_no_gradient():
    x = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], requires_grad=True)
    for name in ("argmax", "argmin"):
        for axis in (None, 0, 1):
            ours = getattr(x, name)(axis=axis)
            np.testing.assert_array_equal(ours.data, getattr(np, name)(x.data, axis=axis))
            assert not ours.requires_grad and ours.dtype.kind == "i"
    np.testing.assert_array_equal(np.any(x > 6, axis=1).data, [False, True])
    np.testing.assert_array_equal(x.all(axis=0, keepdims=True).data, np.all(x.data, axis=0, keepdims=True))


SHAPE_OPS = {
    "flip": (lambda t: t.flip(), lambda a: np.flip(a)),
    "flip_axis": (lambda t: np.flip(t, -1), lambda a: np.flip(a, -1)),
    "pad": (lambda t: np.pad(t, 1, constant_values=2.0), lambda a: np.pad(a, 1, constant_values=2.0)),
    "pad_pairs": (lambda t: np.pad(t, ((0, 2), (1, 0))), lambda a: np.pad(a, ((0, 2), (1, 0)))),
    "repeat": (lambda t: t.repeat(2, axis=1), lambda a: np.repeat(a, 2, axis=1)),
    "repeat_counts": (lambda t: np.repeat(t, [1, 0, 3], axis=-1), lambda a: np.repeat(a, [1, 0, 3], axis=-1)),
    "repeat_flat": (lambda t: t.repeat(2), lambda a: np.repeat(a, 2)),
    "tile": (lambda t: np.tile(t, (2, 1, 2)), lambda a: np.tile(a, (2, 1, 2))),
    "roll": (lambda t: np.roll(t, 2), lambda a: np.roll(a, 2)),
    "roll_axes": (lambda t: t.roll((1, -1), axis=(0, 1)), lambda a: np.roll(a, (1, -1), axis=(0, 1))),
    "ravel": (lambda t: np.ravel(t), np.ravel),
    "flatten_tail": (lambda t: t.flatten(1), lambda a: a.reshape(2, -1)),
    "tril": (lambda t: np.tril(t, -1), lambda a: np.tril(a, -1)),
    "triu": (lambda t: t.triu(1), lambda a: np.triu(a, 1)),
    "take_along_axis": (
        lambda t: np.take_along_axis(t, np.array([[2, 0, 2], [1, 1, 0]]), axis=1),
        lambda a: np.take_along_axis(a, np.array([[2, 0, 2], [1, 1, 0]]), axis=1),
    ),
    "gather": (lambda t: t.gather(0, np.array([[1, 0, 1]])), lambda a: np.take_along_axis(a, np.array([[1, 0, 1]]), 0)),
    "masked_fill": (
        lambda t: t.masked_fill(np.array([True, False, True]), -1.0),
        lambda a: np.where([1, 0, 1], -1.0, a),
    ),
    "outer": (lambda t: np.outer(t, t[0]), lambda a: np.outer(a, a[0])),
    "tensordot": (lambda t: np.tensordot(t, t, axes=([1], [1])), lambda a: np.tensordot(a, a, axes=([1], [1]))),
    "tensordot_int": (lambda t: np.tensordot(t, t.T, axes=1), lambda a: np.tensordot(a, a.T, axes=1)),
    "where": (lambda t: np.where(t.data > 0, t, 0.0), lambda a: np.where(a > 0, a, 0.0)),
}


@pytest.mark.parametrize("name", list(SHAPE_OPS))
def test_shape_and_indexing_ops_match_numpy_to_second_order(name):
    ours, reference = SHAPE_OPS[name]
    x = Tensor(sample(np.random.default_rng(5), (2, 3), "real"), requires_grad=True)
    np.testing.assert_allclose(ours(x).data, reference(x.data))
    f = lambda t: ours(t) ** 2  # noqa: E731  a second derivative that is not zero
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


def test_split_and_chunk_cover_the_tensor_and_send_gradients_back():
    x = Tensor(np.arange(10.0).reshape(5, 2), requires_grad=True)
    pieces = np.split(x, [1, 3])  # numpy's meaning: split before rows 1 and 3
    assert [p.shape for p in pieces] == [(1, 2), (2, 2), (2, 2)]
    assert [p.shape for p in x.split(2)] == [(2, 2), (2, 2), (1, 2)]  # PyTorch's: pieces of 2
    assert [p.shape for p in x.split([1, 4])] == [(1, 2), (4, 2)]
    assert [p.shape for p in x.chunk(3, axis=0)] == [(2, 2), (2, 2), (1, 2)]
    total = sum((p * (i + 1)).sum() for i, p in enumerate(x.chunk(3)))
    total.backward()
    np.testing.assert_allclose(x.grad.data[:, 0], [1, 1, 2, 2, 3])
    with pytest.raises(ValueError, match="add up to"):
        x.split([1, 1])


def test_nll_loss_and_one_hot_match_their_definitions():
    rng = np.random.default_rng(6)
    z = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    target = np.array([0, 2, 1, 2])
    logp = z.log_softmax(axis=-1)
    np.testing.assert_allclose(F.nll_loss(logp, target).data, F.cross_entropy(z, target).data)
    np.testing.assert_allclose(F.nll_loss(logp, target, "none").data, -logp.data[np.arange(4), target])
    assert gradgradcheck(lambda t: F.nll_loss(t.log_softmax(axis=-1), target, "sum"), (z,))
    encoded = F.one_hot(Tensor(target))
    assert encoded.dtype == np.int64 and encoded.shape == (4, 3)
    np.testing.assert_array_equal(encoded.data.argmax(axis=1), target)
    with pytest.raises(ValueError, match="class indices"):
        F.nll_loss(logp, np.array([0, 3, 1, 1]))


@pytest.mark.parametrize("f", [
    lambda t: t.square().sin() + t.cos(), lambda t: np.maximum(t, 0.25), lambda t: t.prod(axis=0),
    lambda t: t.logsumexp(axis=1), lambda t: t.std(), lambda t: np.cumsum(t, 1), lambda t: np.pad(t, 1),
    lambda t: np.tile(t, 2), lambda t: t.flip(0), lambda t: F.gelu(t), lambda t: t.floor(), lambda t: t % 0.7,
])  # fmt: skip
def test_float32_stays_float32_in_values_and_gradients(f):
    x = Tensor(np.random.default_rng(7).uniform(0.2, 1.5, (2, 3)), dtype=np.float32, requires_grad=True)
    out = f(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


# ------------------------------------------------------------------ edge cases
def test_power_at_base_zero_follows_pytorch():
    x, y = Tensor(0.0, requires_grad=True), Tensor(0.0, requires_grad=True)
    (x**y).backward()
    assert x.grad.item() == 0.0 and y.grad.item() == 0.0
    y = Tensor([0.5, 1.0, 2.0], requires_grad=True)
    (Tensor(0.0) ** y).sum().backward()  # ∂(0^y)/∂y = 0 for y ≥ 0
    np.testing.assert_array_equal(y.grad.data, [0.0, 0.0, 0.0])
    exponent = Tensor([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        (0.0**exponent).sum().backward()
    np.testing.assert_array_equal(exponent.grad.data, [-np.inf, -np.inf, 0.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("ddof", [3, 4, 10])
def test_var_with_ddof_at_least_the_count_is_numpys_nan_or_inf(ddof):
    data = np.array([1.0, 2.0, 4.0])
    with np.errstate(divide="ignore", invalid="ignore"), pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        ours, expected = Tensor(data).var(ddof=ddof).item(), np.var(data, ddof=ddof)
    assert np.isinf(ours) and ours == expected
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isnan(Tensor([2.0, 2.0]).var(ddof=5).item())  # 0/0, never −0.0


@pytest.mark.parametrize("call", [
    lambda t: t.sum(axis=3), lambda t: t.max(axis=-4), lambda t: np.flip(t, 5), lambda t: t.cumsum(axis=2),
    lambda t: t.transpose(0, 2), lambda t: t.logsumexp(axis=(0, 9)),
])  # fmt: skip
def test_an_out_of_range_axis_keeps_numpys_axis_error(call):
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(np.exceptions.AxisError):
        call(t)
    with pytest.raises(IndexError):  # AxisError is an IndexError too, so this still catches it
        call(t)


def test_negative_and_out_of_order_axes_give_right_gradients():
    x = Tensor(np.random.default_rng(8).standard_normal((3, 4, 5, 6)), requires_grad=True)
    y = x.transpose(-2, -1, 1, 0)
    assert y.shape == (5, 6, 4, 3)
    y.sum().backward()
    assert x.grad.shape == x.shape
    w = Tensor(np.random.default_rng(9).standard_normal((2, 2, 2)))
    z = Tensor(np.random.default_rng(10).standard_normal((2, 2, 2)), requires_grad=True)
    (z.transpose(-1, 0, 1) * w).sum().backward()
    np.testing.assert_allclose(z.grad.data, np.transpose(w.data, np.argsort([2, 0, 1])))


ANY_SHAPE = {  # shape ops that take any shape, 0-d and empty included
    "flip": (lambda t: t.flip(), np.flip),
    "pad": (lambda t: np.pad(t, 1, constant_values=0.5), lambda a: np.pad(a, 1, constant_values=0.5)),
    "repeat": (lambda t: t.repeat(2), lambda a: np.repeat(a, 2)),
    "tile": (lambda t: np.tile(t, 2), lambda a: np.tile(a, 2)),
    "roll": (lambda t: np.roll(t, 1), lambda a: np.roll(a, 1)),
    "ravel": (lambda t: t.ravel(), np.ravel),
    "cumsum": (lambda t: np.cumsum(t), np.cumsum),
    "outer": (lambda t: np.outer(t, t), lambda a: np.outer(a, a)),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(ANY_SHAPE))
def test_shape_ops_on_0d_empty_and_nd_tensors(name, shape):
    ours, reference = ANY_SHAPE[name]
    x = Tensor(sample(np.random.default_rng(13), shape, "real"), requires_grad=True)
    np.testing.assert_allclose(ours(x).data, reference(x.data))
    assert gradcheck(lambda t: ours(t) ** 2, (x,)) and gradgradcheck(lambda t: ours(t) ** 2, (x,))


EVERY_OP = (
    [(f"unary:{k}", f) for k, (f, _, _) in UNARY.items()]
    + [(f"nn:{k}", f) for k, (f, _) in NN.items()]
    + [(f"binary:{k}", lambda t, f=f: f(t, t[::-1] * 0.5 + 1.5)) for k, f in BINARY.items()]
    + [(f"reduce:{k}", lambda t, k=k: getattr(t, k)(axis=0)) for k in ("prod", "logsumexp", "std", "var", "cumsum")]
    + [(f"shape:{k}", f) for k, (f, _) in SHAPE_OPS.items()]
    + [(f"any_shape:{k}", f) for k, (f, _) in ANY_SHAPE.items()]
)


@pytest.mark.parametrize("name,f", EVERY_OP, ids=[name for name, _ in EVERY_OP])
def test_every_new_op_keeps_float32(name, f):
    x = Tensor(np.random.default_rng(14).uniform(0.6, 1.4, (2, 3)), dtype=np.float32, requires_grad=True)
    out = f(x)
    assert out.dtype == np.float32, out.dtype
    out.sum().backward()
    assert x.grad.dtype == np.float32
