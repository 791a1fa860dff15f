"""The offline web pages' templates (HTML and JavaScript beside this file), and
how data goes into them."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def template(name: str) -> str:
    """The text of a template in this folder."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def json_for_script(data: Any) -> str:
    """JSON that can sit inside <script>: no "</" closes the element early."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def fill(name: str, **parts: str) -> str:
    """The template, with the shared ending (tail.html) and each /*NAME*/ marker replaced by its part."""
    page = template(name).replace("/*TAIL*/", template("tail.html"))
    for marker, content in parts.items():
        page = page.replace(f"/*{marker}*/", content)
    return page
