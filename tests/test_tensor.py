"""The Tensor and its backward pass: semantics, dtypes, errors, deep graphs."""

import sys

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, enable_grad, nn, no_grad
from tinygrad_edu.autograd import gradcheck


def test_micrograd_readme_example_gives_published_numbers():
    a = Tensor(-4.0, requires_grad=True)
    b = Tensor(2.0, requires_grad=True)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert round(g.item(), 4) == 24.7041
    assert round(a.grad.item(), 4) == 138.8338
    assert round(b.grad.item(), 4) == 645.5773


def test_gradients_accumulate_on_leaves_across_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 3)


def test_a_leaf_used_twice_gets_the_sum_of_both_paths():
    x = Tensor(3.0, requires_grad=True)
    (x * x + x).backward()
    assert x.grad.item() == 7.0


def test_leaf_gradients_never_alias_each_other():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad.data *= 10  # a user's in-place gradient clipping must not touch y.grad
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def test_non_leaf_gradients_need_retain_grad_and_are_fresh_each_backward():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    y.backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)  # not doubled
    np.testing.assert_allclose(x.grad.data, 2 * 4 * h.data)  # leaves do accumulate
    z = x * 3
    z.sum().backward()
    assert z.grad is None


def test_backward_with_explicit_gradient_for_non_scalar_outputs():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(gradient=np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 12.0])


def test_no_grad_records_nothing_and_works_as_decorator():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2
        with enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad
    assert tg.is_grad_enabled()


def test_detach_shares_data_but_leaves_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.data, [2.0, 4.0])


def test_chain_of_100000_ops_runs_backward_without_recursion_error():
    assert sys.getrecursionlimit() <= 10_000
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_tensor_properties_and_repr():
    t = Tensor([[1.0, 2.0, 3.0]], requires_grad=True, name="w")
    assert t.shape == (1, 3) and t.ndim == 2 and t.size == 3 and len(t) == 1
    assert t.dtype == np.float64
    assert t.T.shape == (3, 1)
    assert "shape=(1, 3)" in repr(t) and "requires_grad=True" in repr(t) and "'w'" in repr(t)
    assert "grad_fn=<Mul>" in repr(t * 2)
    assert Tensor(2.5).item() == 2.5
    assert isinstance(t.numpy(), np.ndarray)
    assert [row.shape for row in t] == [(3,)]


def test_constructor_copies_data_and_defaults_floats_to_float64():
    source = np.array([1.0, 2.0])
    t = Tensor(source)
    source[0] = 100.0
    assert t.data[0] == 1.0
    assert Tensor([1, 2]).dtype == np.int64
    assert Tensor(1.5).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("factory,args", [("zeros", (2, 3)), ("ones", (2, 3)), ("randn", (2, 3)), ("rand", (2, 3))])
def test_factories_accept_both_shape_spellings(factory, args):
    make = getattr(Tensor, factory)
    assert make(*args).shape == make(args).shape == (2, 3)
    assert make(*args, dtype=np.float32).dtype == np.float32


def test_other_factories():
    np.testing.assert_array_equal(Tensor.arange(4).data, np.arange(4))
    np.testing.assert_array_equal(Tensor.eye(3).data, np.eye(3))
    base = Tensor.ones(2, 2)
    assert Tensor.zeros_like(base).data.sum() == 0 and Tensor.ones_like(base).data.sum() == 4
    tg.manual_seed(5)
    first = Tensor.randn(3).data
    tg.manual_seed(5)
    np.testing.assert_array_equal(first, Tensor.randn(3).data)


def test_python_scalars_never_promote_float32():
    x = Tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    y = (x * 2.0 + 1 - 0.5) / 3.0
    y = y**2 + 2.0**x
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "call",
    [lambda x, c: x * c, lambda x, c: c / x, lambda x, c: x**c, lambda x, c: c**x, lambda x, c: x.clip(c, None),
     lambda x, c: np.clip(x, None, c), lambda x, c: x.maximum(c), lambda x, c: x.where(x.data > 1, c),
     lambda x, c: np.pad(x, 1, constant_values=c)],
    ids=["mul", "rdiv", "pow", "rpow", "clip", "np.clip", "maximum", "where", "np.pad"],
)  # fmt: skip
def test_numpy_scalars_act_as_python_numbers_and_never_promote_float32(call):
    """DESIGN: float32 * np.float64(2) stays float32 (numpy itself would make it float64)."""
    x = Tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    y = call(x, np.float64(1.5))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, call(x, 1.5).data)
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_float32_float64_mix_gives_float64_and_each_gradient_keeps_its_dtype():
    x = Tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_method_keeps_float32(dtype):
    x = Tensor(np.random.default_rng(0).random((3, 4)) + 0.5, dtype=dtype, requires_grad=True)
    outputs = [
        x.exp(), x.log(), x.sqrt(), x.abs(), x.relu(), x.sigmoid(), x.tanh(), x.softmax(),
        x.log_softmax(), x.sum(0), x.mean(), x.var(), x.max(1), x.min(), x.clip(0.6, 0.9),
        x @ x.T, x.reshape(4, 3), x.transpose(), x[0], x ** 2, -x, x / 2,
    ]  # fmt: skip
    for out in outputs:
        assert out.dtype == dtype
        out.sum().backward()
        assert x.grad.dtype == dtype


def test_comparisons_are_elementwise_boolean_and_carry_no_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x == 2.0, [False, True, False]),
        (x != 2.0, [True, False, True]),
        (x < 2.0, [True, False, False]),
        (x <= 2.0, [True, True, False]),
        (x > 2.0, [False, False, True]),
        (x >= 2.0, [False, True, True]),
    ]:
        assert result.dtype == np.bool_ and not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)
    assert len({x, x, Tensor(1.0)}) == 2  # hashes by identity


def test_max_ties_share_the_gradient_equally():
    x = Tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 0.5])


def test_numpy_functions_on_tensors_return_tensors_with_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.sum(np.exp(x) * np.array([1.0, 2.0]))
    assert isinstance(y, Tensor)
    y.backward()
    np.testing.assert_allclose(x.grad.data, np.exp([1.0, 2.0]) * [1.0, 2.0])
    assert isinstance(np.array([1.0, 1.0]) + x, Tensor)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda x: np.arctan(x), r"np\.arctan has no gradient rule for Tensors.*t\.data"),
        (lambda x: np.einsum("i,i->", x, x), r"np\.einsum has no gradient rule"),
        (lambda x: np.linalg.norm(x), r"np\.linalg\.norm has no gradient rule"),
        (lambda x: np.exp(x, out=np.zeros(2)), r"no keyword arguments \(out\)"),
        (lambda x: np.add.reduce(x), r"np\.add\.reduce does not take Tensors.*t\.sum\(\)"),
    ],
)
def test_numpy_functions_without_a_rule_say_so_and_what_to_do(call, message):
    with pytest.raises(TypeError, match=message):
        call(Tensor([1.0, 2.0], requires_grad=True))


def test_softmax_is_stable_for_huge_logits():
    x = Tensor([[1e4, 0.0, -1e4]], requires_grad=True)
    assert np.all(np.isfinite(x.softmax().data)) and np.all(np.isfinite(x.log_softmax().data))
    x.log_softmax()[0, 1].backward()
    assert np.all(np.isfinite(x.grad.data))


def test_sigmoid_is_stable_for_huge_inputs():
    with np.errstate(over="raise", invalid="raise"):
        out = Tensor([-1e4, 0.0, 1e4]).sigmoid().data
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


# ---------------------------------------------------------------- grad()
def test_grad_returns_gradients_without_touching_dot_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([3.0], requires_grad=True)
    gx, gy = tg.grad((x * y).sum(), [x, y])
    np.testing.assert_allclose(gx.data, [3.0, 3.0])
    np.testing.assert_allclose(gy.data, [3.0])
    assert x.grad is None and y.grad is None


def test_grad_with_respect_to_an_intermediate_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (gh,) = tg.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.data, 2 * h.data)


def test_grad_with_grad_outputs_and_several_outputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.grad([x * 2, x * x], x, grad_outputs=[np.array([1.0, 1.0]), np.array([1.0, 0.0])])
    np.testing.assert_allclose(g.data, [4.0, 2.0])


def test_grad_unused_input_raises_unless_allowed():
    x = Tensor(1.0, requires_grad=True)
    unused = Tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        tg.grad(x * 2, [x, unused], retain_graph=True)
    gx, gu = tg.grad(x * 2, [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_create_graph_gives_differentiable_gradients():
    x = Tensor([0.5, -1.0], requires_grad=True)
    (g,) = tg.grad((x**3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    (h,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)


def test_backward_create_graph_puts_a_graph_in_dot_grad():
    x = Tensor(2.0, requires_grad=True)
    (x**3).backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = tg.grad(x.grad, x)
    assert g2.item() == 12.0


def test_plain_backward_builds_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None


# ------------------------------------------------------------------ errors
def test_backward_on_non_scalar_without_gradient_says_what_to_do():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\) needs `gradient`"):
        (x * 2).backward()


def test_broadcast_mismatch_names_both_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
        a + b


def test_matmul_mismatch_names_both_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"MatMul of shapes \(2, 3\) and \(4, 5\)"):
        a @ b


def test_requires_grad_on_integer_tensor_is_refused():
    with pytest.raises(TypeError, match="Only floating-point tensors"):
        Tensor([1, 2, 3], requires_grad=True)


def test_non_numeric_data_is_refused():
    with pytest.raises(TypeError, match="must be numeric"):
        Tensor(["a", "b"])


def test_second_backward_through_freed_graph_says_retain_graph():
    x = Tensor(2.0, requires_grad=True)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = Tensor(2.0, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 8.0


def test_in_place_change_of_a_saved_input_is_detected():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_in_place_change_of_a_saved_output_is_detected():
    x = Tensor([1.0, 2.0], requires_grad=True)
    e = x.exp()  # exp's gradient uses its output
    y = e.sum()
    with no_grad():
        e.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_in_place_on_a_tensor_requiring_grad_is_refused_outside_no_grad():
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x.add_(1.0)


def test_augmented_assignment_under_no_grad_updates_the_parameter_itself():
    """The manual SGD step of every PyTorch tutorial: ``p -= lr * p.grad`` under no_grad() changes the
    parameter in place (it rebound the loop variable p to a new tensor: the model never trained)."""
    model = nn.Linear(2, 1, generator=np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((8, 2))
    y = X @ np.array([[1.0], [-2.0]])
    before = [(p, p.data, p.data.copy()) for p in model.parameters()]
    losses = []
    for _ in range(3):
        model.zero_grad()
        loss = nn.functional.mse_loss(model(X), y)
        loss.backward()
        expected = [p.data - 0.1 * p.grad.data for p in model.parameters()]
        with no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        for p, new in zip(model.parameters(), expected):
            np.testing.assert_array_equal(p.data, new)
        losses.append(loss.item())
    assert losses[2] < losses[1] < losses[0]
    for (p, array, start), q in zip(before, model.parameters()):
        assert q is p and p.data is array and p.is_leaf and p.requires_grad and not np.array_equal(array, start)


def test_augmented_assignment_follows_pytorch_where_a_graph_is_recorded():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x += 1.0
    a = x * 2
    a += 1.0  # a non-leaf: recorded, a = a + 1
    a *= a
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2 * (2 * x.data + 1) * 2)
    total = Tensor(0.0)
    total += (x * x).sum()  # a constant accumulating a tracked value becomes tracked
    assert total.requires_grad and total.grad_fn is not None
    y = (x * x).sum()
    with no_grad():
        x /= 2.0  # allowed under no_grad, and seen by the backward that saved x
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_augmented_assignment_in_place_keeps_shape_and_dtype():
    t = Tensor(np.ones(3, np.float32))
    data = t.data
    t *= np.float64(2.0)
    t += Tensor(np.ones(3))  # float64 into float32: numpy's same-kind cast, as PyTorch
    assert t.data is data and t.dtype == np.float32
    np.testing.assert_array_equal(t.data, [3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2, 3\).*x = x \+ y"):
        t += np.ones((2, 3))
    counts = Tensor([1, 2])
    with pytest.raises(ValueError, match=r"dtype int64.*float64.*x = x / y"):
        counts /= 2
    np.testing.assert_array_equal(counts.data, [1, 2])


def test_in_place_methods_update_values():
    t = Tensor([1.0, 2.0])
    t.add_(Tensor([1.0, 1.0]), alpha=2.0).sub_(1.0).mul_(3.0)
    np.testing.assert_array_equal(t.data, [6.0, 9.0])
    t.copy_([5.0, 6.0])
    np.testing.assert_array_equal(t.data, [5.0, 6.0])
    t.fill_(7.0)
    np.testing.assert_array_equal(t.data, [7.0, 7.0])
    t.zero_()
    np.testing.assert_array_equal(t.data, [0.0, 0.0])


def test_backward_on_a_tensor_without_grad_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(1.0).backward()


def test_gradient_of_wrong_shape_is_refused():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\)"):
        (x * 2).backward(gradient=np.ones(3))


@pytest.mark.parametrize("a_shape,b_shape", [((), (2, 3, 4)), ((2, 3, 4), ()), ((2, 3, 4), (4, 5)), ((2, 3), (4, 3, 5)),
                                              ((2, 3, 4), (4,)), ((3,), (2, 3, 4))])  # fmt: skip
def test_dot_is_numpys_for_scalars_and_n_dimensional_operands(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal(a_shape), requires_grad=True)
    b = Tensor(rng.standard_normal(b_shape), requires_grad=True)
    np.testing.assert_allclose(a.dot(b).data, np.dot(a.data, b.data))
    np.testing.assert_allclose(np.dot(a, b).data, np.dot(a.data, b.data))
    assert gradcheck(lambda x, y: x.dot(y), (a, b))


def test_item_assignment_is_refused_with_the_alternatives():
    t = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="item assignment"):
        t[0] = 5.0


def test_mixed_precision_linear_and_zero_power_edge_cases():
    from tinygrad_edu.nn import functional as F

    x = Tensor(np.ones((2, 3)), dtype=np.float32)
    w = Tensor(np.ones((4, 3)), dtype=np.float32, requires_grad=True)
    b = Tensor(np.ones(4), requires_grad=True)  # float64 bias: numpy promotes the output
    out = F.linear(x, w, b)
    assert out.dtype == np.float64
    out.sum().backward()
    assert w.grad.dtype == np.float32 and b.grad.dtype == np.float64
    z = Tensor([0.0, 2.0], requires_grad=True)
    (z**0).sum().backward()
    np.testing.assert_array_equal(z.grad.data, [0.0, 0.0])


def test_grad_can_be_assigned_a_tensor_or_an_array_of_the_right_shape():
    t = Tensor([1.0, 2.0], requires_grad=True)
    t.grad = np.array([0.5, 0.5])
    assert isinstance(t.grad, Tensor) and t.grad.dtype == np.float64
    t.grad = None
    assert t.grad is None
    with pytest.raises(ValueError, match=r"shape \(3,\) cannot be assigned to a tensor of shape \(2,\)"):
        t.grad = Tensor(np.ones(3))


def test_numpy_conversion_shares_or_copies_as_asked():
    t = Tensor([1.0, 2.0])
    assert np.asarray(t) is t.data
    copied = np.array(t, copy=True)
    copied[0] = 9.0
    assert t.data[0] == 1.0
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
