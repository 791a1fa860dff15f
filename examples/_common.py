"""What every experiment script shares: its command line and where figures go.

Each script defines ``run(quick: bool, out: Path) -> dict`` that writes its
figures into ``out``, prints the numbers it measured and returns them (the
tests check the lecture's claims on the returned numbers).  Figures go to a
temporary folder unless ``--out`` names one; ``--write-docs`` regenerates the
book's figures in docs/figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"


def main(run: Callable[[bool, Path], dict[str, Any]], description: str) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a reduced size that runs in seconds (used by the tests)")
    parser.add_argument("--out", type=Path, help="folder for the figures (default: a new temporary folder)")
    parser.add_argument("--write-docs", action="store_true", help=f"write the book's figures, into {FIGURES}")
    args = parser.parse_args()
    if args.write_docs and (args.quick or args.out):
        parser.error("--write-docs writes the full-size figures into docs/figures: drop --quick and --out")
    # Only --write-docs rewrites the book's figures; any other run leaves the repository as it is.
    out = FIGURES if args.write_docs else args.out or Path(tempfile.mkdtemp(prefix="tinygrad-edu-figures-"))
    out.mkdir(parents=True, exist_ok=True)
    results = run(args.quick, out)
    print(json.dumps(results, indent=2, default=float))
    print(f"figures in {out}")
