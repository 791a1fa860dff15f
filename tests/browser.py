"""Open a page in headless Chromium and read back the DOM its scripts left."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)"
)
# As root and on a machine without network: no sandbox, no background connections.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def dump_dom(page: Path, fragment: str = "", then: str = "") -> str:
    """The DOM after the page's scripts ran, opened at ``page#fragment``;
    ``then``: JavaScript run after the page's own (to press keys, click buttons)."""
    if then:
        copy = page.with_name(f"{page.stem}-driven.html")
        copy.write_text(page.read_text().replace("</body>", f"<script>{then}</script></body>"))
        page = copy
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                                 page.resolve().as_uri() + (f"#{fragment}" if fragment else "")],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def page_errors(dom: str) -> str:
    """What the page's error handler collected (it writes each uncaught error into body's data-errors)."""
    match = re.search(r'<body[^>]*data-errors="([^"]*)"', dom)
    assert match, "the page has no error collector on <body>"
    return match.group(1)
