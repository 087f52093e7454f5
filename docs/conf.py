"""Sphinx configuration for chatsvc's documentation (``.ci/run`` builds it with -W)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The checkout's chatsvc, so the option reference is generated from the
# Options this tree defines, and the local extensions in _ext/.
sys.path[:0] = [str(HERE.parent), str(HERE / "_ext")]

project = "chatsvc"
author = "the chatsvc developers"
copyright = "chatsvc developers"
# One version, pyproject.toml's.
release = tomllib.loads((HERE.parent / "pyproject.toml").read_text())["project"]["version"]

extensions = ["options"]
templates_path: list[str] = []
exclude_patterns = ["_build"]
# Code blocks are shell or Python, said each time; a bare ``::`` block is text.
highlight_language = "none"
# Options are written --port: no typographic dashes or quotes.
smartquotes = False
html_theme = "alabaster"
html_theme_options = {
    "description": "a multi-protocol chat server on Twisted",
    "fixed_sidebar": True,
    # The error-code and benchmark tables are wider than alabaster's default
    # 940 px page.
    "page_width": "1160px",
    "body_max_width": "none",
}
html_title = "chatsvc"
