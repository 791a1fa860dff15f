"""Computation-graph drawing and plots."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn, viz


def micrograd_expression():
    a = Tensor(-4.0, requires_grad=True, name="a")
    b = Tensor(2.0, requires_grad=True, name="b")
    out = a * b + b**3
    out.backward(retain_graph=True)
    return out


def nodes_and_edges(dot_source):
    nodes = re.findall(r"^\s*(\w+) \[label=", dot_source, flags=re.M)
    edges = re.findall(r"^\s*(\w+) -> (\w+)", dot_source, flags=re.M)
    return nodes, edges


def test_dot_of_a_times_b_plus_b_cubed_has_exactly_the_expected_graph():
    source = viz.to_dot(micrograd_expression())
    nodes, edges = nodes_and_edges(source)
    labels = {
        node: quoted or bare
        for node, quoted, bare in re.findall(r'^\s*(\w+) \[label=(?:"((?:[^"\\]|\\.)*)"|(\S+))', source, flags=re.M)
    }
    ops = sorted(labels[n] for n in nodes if n.startswith("f"))
    assert ops == ["**3", "Add", "Mul"]
    assert len([n for n in nodes if n.startswith("t")]) == 5  # a, b, a*b, b**3, the sum
    assert len(edges) == 8 and len(set(edges)) == 8
    by_label = {label.split("\\n")[0]: node for node, label in labels.items()}
    a, b = by_label["a"], by_label["b"]
    mul = next(n for n in nodes if labels[n] == "Mul")
    power = next(n for n in nodes if labels[n] == "**3")
    assert (a, mul) in edges and (b, mul) in edges and (b, power) in edges
    assert "grad 2." in labels[a] and "grad 8." in labels[b]  # ∂/∂a = b, ∂/∂b = a + 3b²


@pytest.mark.parametrize("name", ['evil" ]; injected [label="x\\N', "<b>html</b>", "back\\slash\\"])
def test_labels_are_escaped_so_names_cannot_break_or_inject_dot(name):
    x = Tensor(1.0, requires_grad=True, name=name)
    source = viz.to_dot(x * 2, show_values=False)
    nodes, edges = nodes_and_edges(source)
    assert len(nodes) == 4 and len(edges) == 3  # x, the constant 2, Mul, the product: nothing injected
    if shutil.which("dot"):
        plain = subprocess.run(["dot", "-Tplain"], input=source, capture_output=True, text=True, check=True).stdout
        assert sum(line.startswith("node ") for line in plain.splitlines()) == 4
        assert re.sub(r"\W", "", name)[:4] in re.sub(r"\W", "", plain)  # shown as plain text


def test_big_tensors_are_summarised_small_ones_shown_in_full():
    big = Tensor(np.arange(100.0), requires_grad=True)
    source = viz.to_dot(big.sum())
    assert "mean 49.5" in source and "min 0" in source
    assert "data 4950." in source


def test_layout_option_and_bad_layout():
    out = micrograd_expression()
    assert "rankdir=TB" in viz.to_dot(out, rankdir="TB")
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(out, rankdir="sideways")


def test_the_graph_can_be_drawn_after_backward_with_every_value_and_grad():
    a = Tensor(-4.0, requires_grad=True, name="a")
    b = Tensor(2.0, requires_grad=True, name="b")
    out = a * b + b**3
    out.backward()  # no retain_graph: the saved values are freed, the structure stays
    nodes, edges = nodes_and_edges(viz.to_dot(out))
    assert len(nodes) == 8 and len(edges) == 8  # a, b, a*b, b**3, out and three ops
    assert viz.to_dot(out) == viz.to_dot(micrograd_expression()).replace("grad 1.", "grad 1.")
    source = viz.to_dot(out)
    assert "data -8." in source and "data 8." in source and "data 0." in source  # a*b, b**3, out
    assert "grad 2." in source and "grad 8." in source  # ∂out/∂a = b, ∂out/∂b = a + 3b²
    with pytest.raises(RuntimeError, match="retain_graph=True"):  # a second backward still refuses
        out.backward()


def test_collapsing_draws_each_module_as_one_box():
    model = nn.MLP([2, 4, 1])
    with viz.record_modules(model):
        out = model(np.ones((3, 2)))
    source = viz.to_dot((out * out).sum(), collapse=True)
    assert source.count("box3d") == 3  # Linear, ReLU, Linear
    assert "Linear" in source and "fillcolor=lightblue" in source  # the loss ops stay visible
    assert "param" not in source  # parameters are inside their module's box
    assert "forward" not in model[0].__dict__  # the recording is undone


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_render_writes_the_image_with_dot(tmp_path, fmt):
    written = viz.render(micrograd_expression(), tmp_path / "graph", fmt)
    assert written == tmp_path / f"graph.{fmt}" and written.stat().st_size > 200
    if fmt == "svg":
        assert "<svg" in written.read_text()
    assert (tmp_path / "graph.dot").exists()


def test_render_without_dot_writes_the_dot_file_and_explains(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(viz.GraphvizMissing, match="apt-get install graphviz"):
        viz.render(micrograd_expression(), tmp_path / "graph", "svg")
    assert "digraph" in (tmp_path / "graph.dot").read_text()
    assert not (tmp_path / "graph.svg").exists()


def test_plots_are_written(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (the plots extra)")
    written = [
        viz.plot_curves({"loss": [3, 2, 1]}, tmp_path / "loss.png", log=True),
        viz.plot_surface(lambda x, y: x**2 + 10 * y**2, tmp_path / "surface.png",
                         trajectories={"gd": np.array([[1.0, 1.0], [0.5, 0.2]])}, points={"min": (0, 0)}),
        viz.plot_spectrum(np.array([-1.0, 0.5, 2.0]), tmp_path / "spectrum.png"),
        viz.plot_density(np.linspace(-1, 1, 5), np.ones(5), tmp_path / "density.png"),
        viz.plot_scatter([1, 2], [3, 4], tmp_path / "scatter.png", "x", "y"),
    ]  # fmt: skip
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_params_name_the_tensors_in_the_drawing():
    model = nn.Linear(2, 1)
    loss = model(np.ones((1, 2))).sum()
    source = viz.to_dot(loss, params=dict(model.named_parameters()))
    assert "weight (1, 2)" in source and "bias (1,)" in source
