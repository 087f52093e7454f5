"""The documentation says what the code does: its examples run, its lists are complete.

The Python examples of the docs pages (docs/) run as written: the
chatsvc.testing pytest files pass, the example protocol adapter serves its
users beside line users, and the chatsvc.client bot talks to a hub in
memory and, as a program, to a real ``twistd chat``.  The option
reference is generated (docs/_ext/options.py) and must cover every option;
the client page must list every event; the README's links must lead to
pages that exist.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from twisted.python import usage

from chatsvc import events
from chatsvc.service.config import config_keys
from chatsvc.service.tap import Options
from tests.support import SocketUser, stop_process, twistd_server

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.rst"
CLIENT_PAGE = DOCS / "developer" / "client.rst"
TESTING_PAGE = DOCS / "developer" / "testing.rst"
PROTOCOL_PAGE = DOCS / "developer" / "adding-a-protocol.rst"


def python_blocks(page: Path) -> list[str]:
    """The ``.. code-block:: python`` blocks of C{page}, dedented."""
    text = page.read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text)
    return [re.sub(r"(?m)^   ", "", block) for block in blocks]


def echobot_source() -> str:
    blocks = [b for b in python_blocks(CLIENT_PAGE) if "echobot" in b]
    assert blocks, f"{CLIENT_PAGE} lost its chatsvc.client example"
    return blocks[0]


# -- the examples run ------------------------------------------------------------


def test_the_pytest_examples_pass() -> None:
    blocks = [b for b in python_blocks(TESTING_PAGE) if "ChatHarness" in b]
    assert len(blocks) >= 2, f"{TESTING_PAGE} lost its chatsvc.testing examples"
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, str(TESTING_PAGE), "exec"), namespace)
        tests = [f for name, f in namespace.items() if name.startswith("test_")]
        assert tests
        for test in tests:
            test()


def test_the_example_adapter_and_its_test_run() -> None:
    """adding-a-protocol.rst: the adapter, then the pytest file that tests it."""
    blocks = python_blocks(PROTOCOL_PAGE)
    assert len(blocks) == 2 and "class JSONLinesChat" in blocks[0], PROTOCOL_PAGE
    namespace: dict[str, object] = {"__name__": "docs_adapter"}
    for block in blocks:
        exec(compile(block, str(PROTOCOL_PAGE), "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert tests
    for test in tests:
        test()


def test_the_bot_example_runs_against_a_hub() -> None:
    from twisted.internet import defer

    from chatsvc.events import Left, RoomMessage
    from chatsvc.testing import ChatHarness

    namespace: dict[str, object] = {"__name__": "docs_example"}
    exec(compile(echobot_source(), str(CLIENT_PAGE), "exec"), namespace)
    chat = ChatHarness()
    bot = defer.ensureDeferred(namespace["main"](chat.clock, chat.endpoint))
    alice = chat.join("alice")
    alice.say("hello")
    assert chat.wait(alice.next_event(kind=RoomMessage)).text == "alice said: hello"
    alice.say("!quit")
    chat.wait(bot)
    assert chat.wait(alice.next_event(kind=Left)).name == "echobot"


@pytest.mark.integration
def test_the_bot_example_as_a_program_against_a_real_server(tmp_path: Path) -> None:
    """Saved as echobot.py and run with the host and port on its command line."""
    script = tmp_path / "echobot.py"
    script.write_text(echobot_source(), encoding="utf-8")
    with twistd_server(tmp_path) as (port, _server):
        alice = SocketUser(port, "alice")
        bot = subprocess.Popen([sys.executable, str(script), "127.0.0.1", str(port)],
                               cwd=tmp_path, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            alice.expect("* echobot joined")
            alice.send("hello")
            alice.expect("<echobot> alice said: hello")
            alice.send("!quit")
            alice.expect("* echobot left (bye)")
            _out, err = bot.communicate(timeout=20)
            assert bot.returncode == 0, err
        finally:
            stop_process(bot)
            alice.close()


# -- the option reference is generated from the options --------------------------


def load_options_extension():
    spec = importlib.util.spec_from_file_location("docs_options", DOCS / "_ext" / "options.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def described_options(rst: str) -> set[str]:
    """Long names of the options a generated reference describes."""
    return {name for line in rst.splitlines() if line.startswith(".. option::")
            for name in re.findall(r"--([a-z0-9-]+)", line)}


def test_the_option_reference_describes_every_option_with_its_config_key() -> None:
    extension = load_options_extension()
    options = Options()
    rst = extension.reference_rst(options)
    every = {spelling.rstrip("=") for spelling in options.longOpt} - {"help", "version"}
    assert described_options(rst) == every
    for key in config_keys(options):
        assert f"In a ``--config`` file: ``{key} = " in rst, key
    for entry in extension.option_entries(options):
        assert entry.help, f"--{entry.name} has no help string"
        assert "   " + extension._escape(entry.help) + "\n" in rst, entry.name
    assert ".. option:: -p PORT, --port PORT" in rst
    assert "Default: ``4096``." in rst  # --max-line


def test_the_option_reference_follows_the_options_class() -> None:
    """An option added to Options is in the next build: nothing is listed by hand."""
    extension = load_options_extension()

    class More(Options):
        optParameters = [*Options.optParameters,
                         ["history-size", None, "500", "Messages a room *keeps*."]]
        optFlags = [["quiet", "q", "Log less."]]

    rst = extension.reference_rst(More())
    assert {"history-size", "quiet"} <= described_options(rst)
    assert "Messages a room \\*keeps\\*." in rst  # help text is shown literally
    assert "``history-size = 500``" in rst and "``quiet = true``" in rst
    assert ".. option:: -q, --quiet" in rst


def test_config_is_the_one_option_without_a_config_key() -> None:
    extension = load_options_extension()

    class Odd(usage.Options):
        optParameters = [["config", None, None, "A file."], ["port", "p", "1", "A port."]]

    entries = extension.option_entries(Odd())
    assert [(e.name, e.config_key) for e in entries] == [("config", None), ("port", "port")]


# -- lists that must stay complete -----------------------------------------------


def test_the_client_page_lists_every_event() -> None:
    text = CLIENT_PAGE.read_text(encoding="utf-8")
    table = text.split("``chatsvc.protocols.line.wire.LineParser``:", 1)[1].split("\n\n\n")[0]
    listed = set(re.findall(r"^``(\w+)``(?:, ``(\w+)``)?", table, re.MULTILINE))
    listed_names = {name for pair in listed for name in pair if name}
    every = {name for name, value in vars(events).items()
             if isinstance(value, type) and issubclass(value, events.Event)
             and value is not events.Event}
    # The line protocol carries the MOTD as notice lines: no Motd reaches a
    # client; nor does Wallops, for protocols without the WALLOPS capability,
    # nor AwayChanged, which the line protocol does not show, nor TagMessage
    # (IRCv3 TAGMSG), which the hub sends only where tags can be shown; nor
    # Presence (MONITOR's), RealNameChanged, InviteNotified, HostChanged,
    # AccountChanged and Watched, which go only to watchers and to protocols with the NOTIFY
    # capability (IRC's).
    assert listed_names == every - {"Motd", "Wallops", "AwayChanged", "TagMessage", "Presence",
                                    "RealNameChanged", "InviteNotified", "HostChanged",
                                    "AccountChanged", "Watched"}


def test_the_readme_is_short_and_links_to_pages_that_exist() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 120
    links = re.findall(r"<(docs/[^>]+\.rst)>`_", text)
    assert len(links) >= 9
    for link in links:
        assert (ROOT / link).is_file(), link
    # .ci/run runs the README's test command: it must be there, once.
    commands = re.findall(r"(?m)^   python3 -m venv \.venv && .*pytest.*$", text)
    assert len(commands) == 1


def test_every_hot_spot_comment_points_at_a_step_that_exists() -> None:
    """The performance tricks are marked, and each mark names a section that explains it."""
    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "performance.rst").read_text(encoding="utf-8")
    steps = set(re.findall(r"^(\d+)\. \*\*", page, re.MULTILINE))
    marks = []
    for path in sorted((root / "chatsvc").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for mark in re.finditer(r"Hot spot, ([^(]+)\(docs/performance\.rst,\s+([^)]*)\)", text):
            words = [w for w in mark[1].split() if w not in ("#", "#:")]
            marks.append((path.name, " ".join(words), " ".join(mark[2].split())))
    assert len(marks) >= 8, marks
    mentions = sum(path.read_text(encoding="utf-8").count("Hot spot")
                   for path in (root / "chatsvc").rglob("*.py"))
    assert mentions == len(marks), "a Hot spot comment that names no step of the page"
    for name, what, where in marks:
        named = re.findall(r"step (\d+)", where)
        sections = re.findall(r'"([^"]+)"', where)
        assert named or sections, (name, what, where)
        assert set(named) <= steps, (name, where)
        for section in sections:
            assert f"\n{section}\n" in page, (name, section)
        assert what.split(":")[0].rstrip(",. ") in {
            "the send path", "the fan-out loop", "event construction", "the input parser",
            "the IRC input path"}, (name, what)
