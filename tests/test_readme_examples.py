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


def test_readme_bot_example_runs_against_a_hub() -> None:
    from twisted.internet import defer

    from chatsvc.events import Left, RoomMessage
    from chatsvc.testing import ChatHarness

    blocks = [b for b in _python_blocks() if "echobot" in b]
    assert blocks, "README.rst lost its chatsvc.client example"
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    chat = ChatHarness()
    bot = defer.ensureDeferred(namespace["main"](chat.clock, chat.endpoint))
    alice = chat.join("alice")
    alice.say("hello")
    assert chat.wait(alice.next_event(kind=RoomMessage)).text == "alice said: hello"
    alice.say("!quit")
    chat.wait(bot)
    assert chat.wait(alice.next_event(kind=Left)).name == "echobot"
