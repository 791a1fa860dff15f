"""The step-through page: its story (the steps and their gradients) against the
engine, and the page itself in headless Chromium."""

from __future__ import annotations

import html
import re
import shutil

import numpy as np
import pytest
from browser import dump_dom, needs_chromium, page_errors

from tinygrad_edu import Tensor, nn, stepper, viz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def micrograd():
    a = Tensor(-4.0, requires_grad=True, name="a")
    b = Tensor(2.0, requires_grad=True, name="b")
    c = a * b
    c.name = "c"
    d = c + b**3
    d.name = "d"
    return a, b, c, d


def test_the_story_of_a_times_b_plus_b_cubed_reads_as_the_chain_rule():
    a, b, c, d = micrograd()
    told = stepper.story(d)
    texts = [step.text for step in told.steps]
    assert [step.phase for step in told.steps] == ["start"] + ["forward"] * 3 + ["seed"] + ["backward"] * 5
    assert texts[1] == "c = a · b = −8"
    assert texts[4].startswith("d\u0304 = 1")
    # the sweep takes the youngest node first: the sum, then b³, then a·b
    assert texts[7].startswith("b\u0304 += 3 · b² · ") and texts[7].endswith("= 3 · 2² · 1 = 12")
    assert texts[8] == "a\u0304 += b · c\u0304 = 2 · 1 = 2"
    assert texts[9] == "b\u0304 += a · c\u0304 = −4 · 1 = −4"
    b_box = next(key for key, t in told.drawing.tensors.items() if t is b)
    assert told.grads[b_box] == [(7, "12."), (9, "8.")]  # the running sum of b̄: 12, then 12 − 4
    inputs_first = {key for key, (step, _) in told.values.items() if step == 0}
    assert {told.drawing.tensors[k].name for k in inputs_first} == {"a", "b"}


def small_graphs():
    """Graphs with broadcasting, reductions, matrices, a fused layer, constants, a reused input."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(3, 4)), requires_grad=True, name="x")
    w = Tensor(rng.normal(size=(4,)), requires_grad=True, name="w")
    yield ((x * w).tanh() + x.exp() / 3).sum() ** 0.5 * 2, [x, w]
    s = Tensor(0.7, requires_grad=True, name="s")
    yield (s.sigmoid() * s - s.log() + (s * s).relu()) / (1 + s), [s]
    model = nn.MLP([4, 5, 3], generator=np.random.default_rng(1))
    loss = nn.functional.cross_entropy(model(x), np.array([0, 2, 1]))
    yield loss, [x, *model.parameters()]


@pytest.mark.parametrize("index", range(3))
def test_the_storys_gradients_are_the_engines(index):
    root, leaves = list(small_graphs())[index]
    told = stepper.story(root)
    intermediates = [t for t in told.drawing.tensors.values() if isinstance(t, Tensor) and t._node is not None]
    for t in intermediates:
        t.retain_grad()
    root.backward(retain_graph=True)
    for t in leaves + intermediates:
        np.testing.assert_allclose(told.gradients[t._node or t], t.grad.data, rtol=1e-12, atol=1e-15)
        assert told.grads[next(k for k, v in told.drawing.tensors.items() if v is t)][-1][1] == viz.summary(t.grad.data)


def test_every_use_of_every_input_is_one_step_and_the_last_step_shows_everything():
    root, _ = list(small_graphs())[0]
    told = stepper.story(root)
    ops = told.drawing.ops
    uses = sum(1 for tail, head in told.drawing.edges if head in ops and _needs_grad(told.drawing.tensors[tail]))
    assert len(told.steps) == 1 + len(ops) + 1 + uses
    last = len(told.steps) - 1
    assert all(step <= last for step, _ in told.values.values()) and len(told.values) == len(told.drawing.tensors)
    forward_steps = [s for s in told.steps if s.phase == "forward"]
    sequence = {op: max(n.sequence for n, o in told.drawing.op_of.items() if o == op) for op in ops}
    assert [sequence[s.op] for s in forward_steps] == sorted(sequence.values())  # evaluation order


def _needs_grad(t):
    return isinstance(t, Tensor) and t.requires_grad


def test_a_graph_freed_by_backward_is_told_from_its_inputs():
    *_, d = micrograd()
    before = [s.text for s in stepper.story(d).steps]
    d.backward()
    assert [s.text for s in stepper.story(d).steps] == before


def test_a_tensor_changed_in_place_since_it_was_used_is_refused():
    a, b, c, d = micrograd()
    with pytest.raises(RuntimeError, match="modified in place"):
        b.data += 0  # keeps the value; the version check is what refuses
        b.bump_version()
        stepper.story(d)


def test_bad_roots_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"try \.sum\(\)"):
        stepper.story(Tensor(np.ones(3), requires_grad=True) * 2)
    with pytest.raises(ValueError, match="nothing to step through"):
        stepper.story(Tensor(1.0) * 2)


def test_without_graphviz_the_page_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    *_, d = micrograd()
    with pytest.raises(viz.GraphvizMissing, match="apt-get install graphviz.*lay out the graph"):
        stepper.to_html(d, tmp_path / "g.html")
    assert not (tmp_path / "g.html").exists()


# ------------------------------------------------------------ the page in a browser
def shown_boxes(dom: str) -> dict[str, list[str]]:
    """Each graph node's title (its id) and the lines of text it shows."""
    boxes = {}
    for key, body in re.findall(r'<g id="node\d+" class="node">\s*<title>(\w+)</title>(.*?)</g>', dom, flags=re.S):
        boxes[key] = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", body, flags=re.S)]
    return boxes


def expected_at(told: stepper.Story, step: int) -> dict[str, list[str]]:
    """What each box must show at ``step``: its value once computed, its gradient's running sum once sent."""
    lines = {}
    for key in told.drawing.tensors:
        value_step, value = told.values[key]
        lines[key] = [f"data {value if value_step <= step else '?'}"]
        if key in told.grads:
            sums = [text for s, text in told.grads[key] if s <= step]
            lines[key].append(f"grad {sums[-1] if sums else '?'}")
    return lines


@needs_dot
@needs_chromium
def test_the_page_shows_the_engines_values_and_grads_at_each_step(tmp_path):
    a, b, c, d = micrograd()
    page = stepper.to_html(d, tmp_path / "graph.html")
    told = stepper.story(d)
    last = len(told.steps) - 1
    for step in (0, 1, 3, 4, 7, 9, last, last + 5):
        dom = dump_dom(page, f"step={step}")
        assert page_errors(dom) == ""
        assert f'data-shown-step="{min(step, last)}"' in dom  # the script ran; past the last shows the last
        boxes = shown_boxes(dom)
        for key, lines in expected_at(told, min(step, last)).items():
            assert boxes[key][1:] == lines, (step, key)
        assert html.unescape(re.search(r'<p id="caption">(.*?)</p>', dom).group(1)) == told.steps[min(step, last)].text
    final = shown_boxes(dump_dom(page, f"step={last}"))
    by_name = {lines[0]: lines for lines in final.values()}
    assert by_name["a"][2] == f"grad {viz.summary(np.asarray(b.data))}"  # ∂d/∂a = b = 2
    assert by_name["b"][2] == "grad 8."  # ∂d/∂b = a + 3b² = 8
    start = shown_boxes(dump_dom(page))
    assert all(lines[-1] == "grad ?" for lines in start.values() if len(lines) > 2)


@needs_chromium
@pytest.mark.parametrize("template", ["stepper.html", "optimizers.html"])
def test_a_broken_script_is_reported_so_the_no_error_checks_can_fail(tmp_path, template):
    from tinygrad_edu import pages

    page = tmp_path / "broken.html"
    page.write_text(pages.fill(template, DATA="{}", SCRIPT="this is not javascript; missing();"))
    assert "SyntaxError" in page_errors(dump_dom(page))
    page.write_text(pages.fill(template, DATA="{}", SCRIPT="missing();"))
    assert "missing is not defined" in page_errors(dump_dom(page))


@needs_dot
@needs_chromium
def test_buttons_and_arrow_keys_move_the_step_and_the_address_follows(tmp_path):
    *_, d = micrograd()
    page = stepper.to_html(d, tmp_path / "graph.html")
    keys = "".join(f"document.dispatchEvent(new KeyboardEvent('keydown', {{key: '{k}'}}));"
                   for k in ("ArrowRight", "ArrowRight", "ArrowRight", "ArrowLeft"))  # fmt: skip
    clicks = "document.getElementById('next').click();"
    report = "document.body.dataset.address = location.hash;"
    dom = dump_dom(page, "step=2", then=keys + clicks + report)
    assert 'data-shown-step="5"' in dom and 'data-address="#step=5"' in dom
    dom = dump_dom(page, "step=3", then="document.getElementById('last').click();" + report)
    assert 'data-shown-step="9"' in dom and page_errors(dom) == ""


@needs_dot
def test_the_page_is_self_contained_and_small(tmp_path):
    x = Tensor(np.linspace(-1, 1, 5), requires_grad=True, name="x")
    y = x
    for k in range(24):  # 24 ops and 25 tensors: a 50-node graph
        y = (y * 0.9).tanh() if k % 2 else y + x
    page = stepper.to_html(y.sum(), tmp_path / "graph.html")
    text = page.read_text()
    assert len(text.encode()) <= 200_000
    assert not re.search(r"(https?:)?//[\w.-]+\.\w+/", text), "the page refers to an outside address"
    assert "<script src" not in text and "<link" not in text


@needs_dot
def test_viz_to_html_is_the_stepper_page(tmp_path):
    *_, d = micrograd()
    assert viz.to_html(d, tmp_path / "a.html").read_text() == stepper.to_html(d, tmp_path / "b.html").read_text()


def test_the_cli_writes_the_page_or_names_what_is_missing(tmp_path):
    from tinygrad_edu import cli

    if shutil.which("dot"):
        assert cli.main(["graph", "a*b + b**3", "a=-4", "b=2", "--html", "--out", str(tmp_path / "g")]) == 0
        assert "b\u0304 += a · " in (tmp_path / "g.html").read_text()
    assert cli.main(["graph", "a*b", "a=1", "b=2", "--html", "--format", "png", "--out", str(tmp_path)]) == 2
