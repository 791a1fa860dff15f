"""What every experiment script shares: its command line and where figures go.

Each script defines ``run(quick: bool, out: Path) -> dict`` that writes its
figures into ``out``, prints the numbers it measured and returns them (the
tests check the lecture's claims on the returned numbers).
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
    parser.add_argument(
        "--out", type=Path, help=f"folder for the figures (default {FIGURES}; with --quick, a temporary folder)"
    )
    args = parser.parse_args()
    # Quick figures are not the book's: they never overwrite docs/figures unless asked to.
    out = args.out or (Path(tempfile.mkdtemp(prefix="tinygrad-edu-quick-")) if args.quick else FIGURES)
    out.mkdir(parents=True, exist_ok=True)
    results = run(args.quick, out)
    print(json.dumps(results, indent=2, default=float))
    print(f"figures in {out}")
