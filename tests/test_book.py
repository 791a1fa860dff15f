"""Every number a chapter quotes is what its script prints: each chapter's output
blocks are checked, line by line, against a full run of its experiment."""

import re
from pathlib import Path

import pytest
from test_examples import load

pytest.importorskip("matplotlib", reason="the experiments draw figures with matplotlib")
DOCS = Path(__file__).resolve().parents[1] / "docs"
CHAPTERS = {
    "01-critical-points.md": "critical_points",
    "02-batch-size.md": "batch_size",
    "03-momentum.md": "momentum",
    "04-adaptive-learning-rates.md": "adaptive_lr",
    "05-scheduling.md": "schedules",
    "06-summary.md": "summary",
    "07-lecture-details.md": "lecture_details",
}
TIMINGS = re.compile(r"ms per update|s per epoch")  # measured times change from run to run


def quoted_output(chapter: str) -> list[str]:
    """The lines of the chapter's plain ``` blocks (not ```python), which quote the script."""
    lines, fence = [], None  # fence: None outside a block, else the block's language ("" for plain)
    for line in (DOCS / chapter).read_text().splitlines():
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
        elif fence == "" and line.strip():
            lines.append(line.rstrip())
    return lines


@pytest.mark.parametrize("chapter,script", CHAPTERS.items())
def test_every_line_a_chapter_quotes_is_printed_by_its_script(chapter, script, tmp_path, capsys):
    lines = quoted_output(chapter)
    assert lines, f"{chapter} quotes no output"
    load(script).run(False, tmp_path)  # the full size: the numbers in the book
    printed = {line.rstrip() for line in capsys.readouterr().out.splitlines()}
    missing = [line for line in lines if line not in printed and not TIMINGS.search(line)]
    assert not missing, f"{chapter} quotes lines that {script}.py does not print:\n" + "\n".join(missing)
