"""The book: every link and figure it names exists, and (with mkdocs) it builds strictly."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_figure_exists(page):
    for target in LINK.findall(page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_every_committed_figure_is_used_by_a_chapter():
    text = "".join(p.read_text() for p in PAGES)
    figures = (ROOT / "docs" / "figures").glob("*")
    for figure in (f for f in figures if f.suffix in (".png", ".html")):
        assert f"figures/{figure.name}" in text, f"{figure.name} is in no chapter"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed (pip install mkdocs)")
def test_the_site_builds_offline_with_strict_checks(tmp_path):
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")]
    subprocess.run(build, cwd=ROOT, check=True)
    assert (tmp_path / "site" / "index.html").exists()


def test_the_readme_python_example_runs_and_says_what_it_claims(capsys):
    source = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", source, flags=re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "Tensor(2.) Tensor(8.)" in printed and "saddle [-2.  2.]" in printed


def test_the_engine_walkthrough_quotes_the_code_as_it_is():
    """docs/autodiff.md quotes engine.py and ops.py: every quoted block must still be in the source."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "autodiff.md").read_text(), flags=re.S)
    sources = "".join(p.read_text() for p in (ROOT / "tinygrad_edu").rglob("*.py"))
    quoted = [b for b in blocks if "viz.record_modules" not in b and "make_trace" not in b]  # the usage examples
    assert len(quoted) >= 4
    for block in quoted:
        assert block in sources, f"docs/autodiff.md quotes code that is no longer in the package:\n{block}"


def test_the_step_the_autodiff_chapter_quotes_is_what_the_page_shows():
    from tinygrad_edu import Tensor, stepper

    a, b = Tensor(-4.0, requires_grad=True, name="a"), Tensor(2.0, requires_grad=True, name="b")
    ab, b_cubed = a * b, b**3
    ab.name, b_cubed.name = "a·b", "b³"  # as examples/autodiff_graphs.py names them
    told = stepper.story(ab + b_cubed)
    chapter = (ROOT / "docs" / "autodiff.md").read_text()
    quoted = re.search(r"\[step (\d+)\]\(figures/autodiff_steps.html#step=\1\), `([^`]*)`", chapter)
    assert quoted and told.steps[int(quoted.group(1))].text == quoted.group(2)


def test_the_program_the_jit_section_prints_is_what_make_trace_prints(capsys):
    text = (ROOT / "docs" / "autodiff.md").read_text()
    section = text[text.index("## What a jit does") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    shown = re.search(r"```\n(def replay.*?)```", section, flags=re.S).group(1)
    exec(compile(code, "docs/autodiff.md", "exec"), {})
    assert capsys.readouterr().out == shown
