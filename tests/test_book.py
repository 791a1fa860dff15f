"""Every number a chapter quotes is what its script prints: each chapter's output
blocks are checked, line by line, against a full run of its experiment.

A chapter must read the same on any CPU. To see what another CPU's rounding does
to it, run these tests with another BLAS kernel and numpy's vector loops off:
  OPENBLAS_CORETYPE=Sandybridge NPY_DISABLE_CPU_FEATURES="AVX512_ICL X86_V4 X86_V3" \
  python -m pytest tests/test_book.py
"""

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
# Lines of experiments that amplify rounding: a CPU whose BLAS sums a matrix product in another
# order gets other last bits, and these runs turn them into other results. Such a line must
# have the same words, its integers (counts) within 1 and its decimals within the chapter's
# tolerance. Measured across OpenBLAS's Haswell, SkylakeX and Sandybridge kernels: one Newton
# start changing basin (a count by 1, a loss by 1e-4), accuracies moving by up to 0.041 —
# within two standard errors of those 5-seed means, so another machine acts as other seeds.
CHAOTIC = {
    "01-critical-points.md": (re.compile(r"reached a critical point|(saddle|local_min) +\d+:|from step"), 2e-4),
    "05-scheduling.md": (re.compile(r"test accuracy"), 0.06),
}
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def close_enough(quoted: str, printed: set[str], tolerance: float) -> bool:
    """Whether a printed line has the quoted line's words, and numbers within 1 (integers) or tolerance."""
    words, numbers = NUMBER.sub("#", quoted), NUMBER.findall(quoted)
    for line in printed:
        if NUMBER.sub("#", line) == words:
            pairs = zip(numbers, NUMBER.findall(line))
            if all(abs(float(a) - float(b)) <= (1 if a.lstrip("+-").isdigit() else tolerance) for a, b in pairs):
                return True
    return False


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
    chaotic, tolerance = CHAOTIC.get(chapter, (None, 0.0))
    missing = [
        line
        for line in lines
        if line not in printed
        and not TIMINGS.search(line)
        and not (chaotic and chaotic.search(line) and close_enough(line, printed, tolerance))
    ]
    assert not missing, f"{chapter} quotes lines that {script}.py does not print:\n" + "\n".join(missing)


def test_a_chaotic_line_matches_only_the_same_words_with_numbers_within_the_tolerance():
    printed = {"  no warmup: test accuracy 0.325 ± 0.199, 24 saddles"}
    assert close_enough("  no warmup: test accuracy 0.319 ± 0.191, 25 saddles", printed, 0.06)
    assert not close_enough("  no warmup: test accuracy 0.419 ± 0.191, 25 saddles", printed, 0.06)
    assert not close_enough("  no warmup: test accuracy 0.319 ± 0.191, 26 saddles", printed, 0.06)
    assert not close_enough("  warmup: test accuracy 0.325 ± 0.199, 24 saddles", printed, 0.06)
