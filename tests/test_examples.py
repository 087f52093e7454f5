"""examples/greeter.py, run in memory with chatsvc.testing and as a program."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from twisted.internet import defer

from chatsvc.events import Left, RoomMessage
from chatsvc.testing import ChatHarness

GREETER = Path(__file__).resolve().parent.parent / "examples" / "greeter.py"


def _load_greeter():
    spec = importlib.util.spec_from_file_location("greeter_example", GREETER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_greeter_in_memory() -> None:
    greeter = _load_greeter()
    chat = ChatHarness()
    bot = greeter.main(chat.clock, chat.endpoint)


    finished = defer.ensureDeferred(bot)
    chat.pump()
    assert "greeter" in chat.hub.users

    alice = chat.join("alice")
    hello = chat.wait(alice.next_event(kind=RoomMessage))
    assert (hello.sender, hello.text) == ("greeter", "welcome, alice! say !echo something, or !who")

    alice.say("!echo hi there")
    assert chat.wait(alice.next_event(kind=RoomMessage)).text == "hi there"
    alice.say("!who")
    assert chat.wait(alice.next_event(kind=RoomMessage)).text == "here: alice, greeter"
    chat.wait(alice.rename("al"))
    assert chat.wait(alice.next_event(kind=RoomMessage)).text == "nice new name, al"

    alice.whisper("greeter", "!quit")
    assert chat.wait(finished) == "closed"
    assert chat.wait(alice.next_event(kind=Left)).reason == "asked to leave by al"


@pytest.mark.integration
def test_greeter_program_reports_a_refused_connection() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run(
        [sys.executable, str(GREETER), f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("greeter: cannot connect to 127.0.0.1")
    assert "Traceback" not in result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("argv", [["--help"]])
def test_greeter_program_help(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, str(GREETER), *argv],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--cafile" in result.stdout


# -- examples/irc_greeter.py: a twisted.words IRCClient bot -----------------------

IRC_GREETER = GREETER.parent / "irc_greeter.py"


def _load_irc_greeter():
    spec = importlib.util.spec_from_file_location("irc_greeter_example", IRC_GREETER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_irc_greeter_in_memory_with_line_and_irc_users() -> None:
    irc_greeter = _load_irc_greeter()
    chat = ChatHarness()
    bot = chat.connect_irc(irc_greeter.GreeterBot("greeter", "#chat"))
    chat.pump()
    assert "greeter" in chat.hub.users

    alice = chat.join("alice")  # a line user
    hello = chat.wait(alice.next_event(kind=RoomMessage))
    assert (hello.sender, hello.text) == ("greeter", "welcome, alice! say !echo something, or !who")
    bob = chat.irc_client("bob", channels=["#chat"])  # an IRC user
    assert bob.expect("PRIVMSG").text == "welcome, bob! say !echo something, or !who"
    assert chat.wait(alice.next_event(kind=RoomMessage)).text.startswith("welcome, bob!")

    alice.say("!echo hi there")
    assert chat.wait(alice.next_event(kind=RoomMessage, match=lambda e: e.sender == "greeter")
                     ).text == "hi there"
    assert bob.expect("PRIVMSG", match=lambda line: line.nick == "greeter").text == "hi there"
    chat.wait(alice.rename("al"))
    bob.privmsg("#chat", "!who")
    assert bob.expect("PRIVMSG", match=lambda line: line.nick == "greeter").text == (
        "here: al, bob, greeter")

    bob.privmsg("greeter", "!quit")
    assert chat.wait(bot.closed)
    assert chat.wait(alice.next_event(kind=Left, match=lambda e: e.name == "greeter")
                     ).reason == "Quit: asked to leave by bob"


def test_irc_greeter_main_connects_through_an_endpoint() -> None:
    irc_greeter = _load_irc_greeter()
    chat = ChatHarness()
    finished = defer.ensureDeferred(irc_greeter.main(chat.clock, chat.irc_endpoint, "hi"))
    chat.pump()
    alice = chat.join("alice")
    assert chat.wait(alice.next_event(kind=RoomMessage)).sender == "hi"
    alice.whisper("hi", "!quit")
    assert chat.wait(finished) == "closed"


@pytest.mark.integration
def test_irc_greeter_program_reports_a_refused_connection() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run(
        [sys.executable, str(IRC_GREETER), f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"irc_greeter: cannot connect to 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_irc_greeter_program_help() -> None:
    result = subprocess.run([sys.executable, str(IRC_GREETER), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--channel" in result.stdout
