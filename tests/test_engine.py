"""The engine's own contract: the two paths of a rule, what backward frees, the
in-place checks, and the size a reader can take in one sitting."""

import ast
import inspect
import io
import re
import tokenize
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import Tensor, critical, grad, hessian, nn, numpy_xp, tensor_xp
from tinygrad_edu.autograd import gradgradcheck

PACKAGE = Path(__file__).resolve().parents[1] / "tinygrad_edu"
RULE_FILES = [PACKAGE / "ops.py", PACKAGE / "nn" / "functional.py", PACKAGE / "engine.py"]


def code_lines(path: Path) -> int:
    """Lines holding code: no blank lines, comments or docstrings."""
    source = path.read_text()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        first = (getattr(node, "body", None) or [None])[0] if isinstance(getattr(node, "body", None), list) else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            docstrings.update(range(first.lineno, first.end_lineno + 1))
    lines = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(n for n in range(token.start[0], token.end[0] + 1) if n not in docstrings)
    return len(lines)


def test_the_engine_is_at_most_300_lines_of_code():
    assert code_lines(PACKAGE / "engine.py") <= 300


def test_every_function_a_rule_calls_exists_on_both_paths():
    """A rule calls xp.NAME; numpy_xp (ndarrays) and tensor_xp (Tensors) must both have it,
    or the rule would fail only when create_graph=True."""
    used = set()
    for path in RULE_FILES:
        used |= set(re.findall(r"\bxp\.(\w+)", path.read_text()))
    assert used, "no rule uses xp?"
    for name in sorted(used):
        assert callable(getattr(numpy_xp, name, None)), f"numpy_xp lacks {name}"
        assert name in tensor_xp.__all__, f"tensor_xp lacks {name}"


def test_rules_never_ask_which_path_they_are_on():
    from tinygrad_edu import ops
    from tinygrad_edu.engine import Op
    from tinygrad_edu.nn import functional

    rules = []
    for module in (ops, functional):
        for op in vars(module).values():
            if isinstance(op, Op):
                rules += [op.vjp.rule] if hasattr(op.vjp, "rule") else [r for r in op.vjp if r is not None]
    assert len(rules) > 30
    for rule in rules:
        assert "isinstance" not in inspect.getsource(rule), inspect.getsource(rule)


def test_the_plain_path_creates_no_tensor_and_no_node():
    x = Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    y = ((x * x).exp().sum(axis=0) / 3).max()
    made = []
    original = Tensor._make

    def spy(data, node):
        made.append(node)
        return original(data, node)

    Tensor._make = staticmethod(spy)
    try:
        y.backward()
    finally:
        Tensor._make = staticmethod(original)
    assert made == [None]  # only x.grad itself is wrapped
    assert x.grad.shape == x.shape


def test_the_graph_survives_backward_but_its_saved_values_do_not():
    a = Tensor([1.0, 2.0], requires_grad=True)
    out = (a * 3).sum()
    out.backward()
    node = out.grad_fn
    assert node.freed and node.arrays is None
    assert node.inputs[0].grad_fn.inputs[0] is a  # the structure is intact
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        out.backward()


def test_retain_graph_keeps_the_saved_values_for_a_second_backward():
    a = Tensor([1.0, 2.0], requires_grad=True)
    out = (a * a).sum()
    out.backward(retain_graph=True)
    out.backward()
    np.testing.assert_allclose(a.grad.data, 2 * (2 * a.data))


def test_a_tensor_changed_in_place_before_it_was_used_is_fine():  # (after: test_tensor.py)
    w = Tensor([1.0, 2.0], requires_grad=True)
    w.bump_version()
    out = (w * w).sum()
    out.backward()
    np.testing.assert_allclose(w.grad.data, 2 * w.data)


def test_gradients_are_summed_back_over_broadcast_axes_on_both_paths():
    x = Tensor(np.arange(3.0).reshape(3, 1), requires_grad=True)
    y = Tensor(np.arange(4.0), requires_grad=True)
    (gx, gy) = grad(((x + y) ** 2).sum(), (x, y), create_graph=True)
    assert gx.shape == (3, 1) and gy.shape == (4,)
    np.testing.assert_allclose(gx.data[:, 0], [2 * (4 * x.data[i, 0] + y.data.sum()) for i in range(3)])
    assert gradgradcheck(lambda a, b: (a + b) * b, (x, y))


def test_float32_inputs_get_float32_gradients_when_mixed_with_float64():
    x = Tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64


def test_numpy_functions_on_tensors_are_the_recorded_ops():
    x = Tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    y = np.sum(np.exp(np.transpose(x)) * np.sign(x).T, axis=0)
    assert isinstance(y, Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data) * np.sign(x.data))
    with pytest.raises(TypeError):
        np.cumprod(x)  # no rule: refused, never silently an ndarray without gradient


def test_a_list_of_inputs_is_unpacked_like_a_tuple():
    f = lambda w1, w2: (1 - w1 * w2) ** 2  # noqa: E731  the lecture's saddle
    as_tuple = critical.classify(f, (np.array(0.0), np.array(0.0)))
    as_list = critical.classify(f, [np.array(0.0), np.array(0.0)])
    assert as_tuple.kind == as_list.kind == "saddle"
    np.testing.assert_allclose(as_tuple.eigenvalues, as_list.eigenvalues)
    assert isinstance(as_list.escape_direction, list) and isinstance(as_tuple.escape_direction, tuple)
    np.testing.assert_allclose(hessian(f, [np.array(0.5), np.array(2.0)]).data, hessian(f, (0.5, 2.0)).data)


def test_a_module_sees_layers_added_or_replaced_after_its_parameters_were_listed():
    model = nn.MLP([2, 4, 1])
    before = model.parameters()
    model.extra = nn.Linear(1, 3)
    assert len(model.parameters()) == len(before) + 2
    replacement = nn.Linear(1, 3)
    model.extra = replacement
    last_two = model.parameters()[-2:]
    assert last_two[0] is replacement.weight and last_two[1] is replacement.bias
