"""Sphinx configuration for chatsvc's documentation (``.ci/run`` builds it with -W)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The checkout's chatsvc, so the option reference is generated from the
# Options this tree defines, and the local extensions in _ext/.
sys.path[:0] = [str(HERE.parent), str(HERE / "_ext")]

project = "chatsvc"
author = "the chatsvc developers"
copyright = "chatsvc developers"
release = "0.1.0"

extensions = ["options"]
templates_path: list[str] = []
exclude_patterns = ["_build"]
# Code blocks are shell or Python, said each time; a bare ``::`` block is text.
highlight_language = "none"
html_theme = "alabaster"
html_theme_options = {
    "description": "a multi-protocol chat server on Twisted",
    "fixed_sidebar": True,
}
html_title = "chatsvc"
