"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.rst"


def _python_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text)
    return [re.sub(r"(?m)^   ", "", block) for block in blocks]


def test_readme_pytest_example_passes() -> None:
    blocks = [b for b in _python_blocks() if "ChatHarness" in b]
    assert blocks, "README.rst lost its chatsvc.testing example"
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, str(README), "exec"), namespace)
        tests = [f for name, f in namespace.items() if name.startswith("test_")]
        assert tests
        for test in tests:
            test()
