"""The ``chat`` terminal client, used as a person would: in tmux, on a real server.

A real ``twistd chat`` listens on 127.0.0.1; ``chat`` runs inside a private
tmux server; keys are typed with ``send-keys`` and the screen is read with
``capture-pane``.  Every wait is bounded; the tmux server and the chat
server are killed at the end whatever happens.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import WAIT, SocketUser, twistd_server, wait_for

BIN = Path(sys.executable).parent
TMUX = shutil.which("tmux")
pytestmark = [pytest.mark.integration, pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed (.ci/run installs it when it can)")]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    yield from _server(tmp_path, "line protocol")


@pytest.fixture
def tls_server(tmp_path: Path, certs) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    yield from _server(tmp_path, "line protocol over TLS", "--tls-port",
                       "tcp:0:interface=127.0.0.1", "--tls-cert", str(certs.combined))


def _server(tmp_path: Path, listener: str,
            *options: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    with twistd_server(tmp_path, *options, listener=listener) as started:
        yield started


class Tmux:
    """A private tmux server (its own socket), killed by L{close}."""

    def __init__(self) -> None:
        self.socket = f"chatsvc-test-{os.getpid()}-{time.monotonic_ns()}"

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            [TMUX, "-L", self.socket, "-f", os.devnull, *args],
            check=True, capture_output=True, text=True, timeout=WAIT,
        ).stdout

    def start(self, window: str, command: list[str]) -> None:
        """Run C{command} in a new window; its exit status is printed when it ends."""
        env = ["-e", "LANG=C.UTF-8", "-e", "TERM=screen-256color"]
        shell = f'{shlex.join(command)}; echo "exit status $?"; sleep 600'
        if window == "alice":
            self("new-session", "-d", "-s", "chat", "-n", window, "-x", "100", "-y", "24",
                 *env, shell)
        else:
            self("new-window", "-d", "-t", "chat", "-n", window, *env, shell)

    def screen(self, window: str, colours: bool = False) -> list[str]:
        args = ["capture-pane", "-p", "-t", f"chat:{window}"] + (["-e"] if colours else [])
        return self(*args).rstrip("\n").split("\n")

    def keys(self, window: str, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", f"chat:{window}", *(["-l"] if literal else []), *keys)

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"],
                       capture_output=True, timeout=WAIT)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    session = Tmux()
    try:
        yield session
    finally:
        session.close()


def _input_row(screen: list[str]) -> str:
    return screen[-1]


def _row(screen: list[str], text: str) -> int:
    for number, row in enumerate(screen):
        if text in row:
            return number
    return -1


def test_chat_in_tmux(server, tmux: Tmux) -> None:
    port, process = server
    chat = str(BIN / "chat")
    tmux.start("alice", [chat, "127.0.0.1", str(port), "--name", "alice"])
    wait_for("alice to register", lambda: _row(tmux.screen("alice"), "* you are alice") >= 0)

    bob = SocketUser(port, "bob")
    wait_for("bob in alice's status bar",
              lambda: "2 here" in tmux.screen("alice")[0] and
              _row(tmux.screen("alice"), "* bob joined") >= 0)

    # A half-typed line, then a message arrives: the line stays, the message goes above.
    tmux.keys("alice", "half-typed line", literal=True)
    wait_for("the typing to show", lambda: _input_row(tmux.screen("alice")) == "> half-typed line")
    bob.send("hello from bob")
    screen = wait_for("bob's message", lambda: (
        s if _row(s := tmux.screen("alice"), "<bob> hello from bob") >= 0 else None))
    assert _input_row(screen) == "> half-typed line"
    assert 0 < _row(screen, "<bob> hello from bob") < len(screen) - 1
    # ... and it is really intact: finishing and sending it sends the whole line.
    tmux.keys("alice", " and more", literal=True)
    tmux.keys("alice", "Enter")
    bob.expect("<alice> half-typed line and more")
    wait_for("alice's own line", lambda: _row(
        tmux.screen("alice"), "<alice> half-typed line and more") >= 0)
    assert _input_row(tmux.screen("alice")) == ">"

    # @name: completion, then a private message.
    tmux.keys("alice", "@b", literal=True)
    tmux.keys("alice", "Tab")
    wait_for("completion", lambda: _input_row(tmux.screen("alice")) == "> @bob:")
    tmux.keys("alice", "secret", literal=True)
    tmux.keys("alice", "Enter")
    bob.expect("*alice* secret")
    bob.send("@alice: got it")
    wait_for("bob's whisper", lambda: _row(tmux.screen("alice"), "*bob* got it") >= 0)

    # History: Up recalls the last line sent; Ctrl-U clears it.
    tmux.keys("alice", "Up")
    wait_for("history", lambda: _input_row(tmux.screen("alice")) == "> @bob: secret")
    tmux.keys("alice", "Up")
    wait_for("older history",
              lambda: _input_row(tmux.screen("alice")) == "> half-typed line and more")
    tmux.keys("alice", "C-u")
    wait_for("a cleared line", lambda: _input_row(tmux.screen("alice")) == ">")

    # Kinds are told apart by colour: errors, notices and messages differ.
    tmux.keys("alice", "/nosuch", literal=True)
    tmux.keys("alice", "Enter")
    wait_for("the error", lambda: _row(tmux.screen("alice"), "! unknown command: /nosuch") >= 0)
    coloured = tmux.screen("alice", colours=True)

    def colour_of(text: str) -> str:
        row = coloured[_row(coloured, text)]
        return "".join(re.findall(r"\x1b\[[0-9;]*m", row.split(text)[0][-40:]))

    kinds = {colour_of(t) for t in ("! unknown command", "* bob joined", "*bob* got it",
                                    "<alice> half-typed")}
    assert len(kinds) == 4, coloured

    # A second user who leaves with /quit.
    tmux.start("carol", [chat, f"127.0.0.1:{port}", "--name", "carol"])
    wait_for("carol to register", lambda: _row(tmux.screen("carol"), "* you are carol") >= 0)
    tmux.keys("carol", "/quit off to bed", literal=True)
    tmux.keys("carol", "Enter")
    wait_for("carol to leave",
              lambda: _row(tmux.screen("alice"), "* carol left (off to bed)") >= 0)
    wait_for("carol's chat to exit 0",
              lambda: _row(tmux.screen("carol"), "exit status 0") >= 0)

    # The server goes away: a clear message; then Ctrl-D leaves.
    process.terminate()
    process.wait(timeout=WAIT)
    wait_for("the disconnection message",
              lambda: _row(tmux.screen("alice"), "! disconnected:") >= 0)
    assert "disconnected" in tmux.screen("alice")[0]
    tmux.keys("alice", "C-d")
    wait_for("alice's chat to exit 0",
              lambda: _row(tmux.screen("alice"), "exit status 0") >= 0)
    screen = tmux.screen("alice")
    assert _row(screen, "chat: disconnected: the server closed the connection") >= 0, screen


def test_chat_refused_name_is_one_line(server) -> None:
    port, _ = server
    taken = SocketUser(port, "alice")
    result = subprocess.run([str(BIN / "chat"), "127.0.0.1", str(port), "--name", "Alice"],
                            capture_output=True, text=True, timeout=WAIT,
                            stdin=subprocess.DEVNULL)
    assert (result.returncode, result.stderr) == (1, "chat: name taken: Alice\n")
    taken.sock.close()


def test_chat_connection_refused_is_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([str(BIN / "chat"), "127.0.0.1", str(port), "--name", "alice"],
                            capture_output=True, text=True, timeout=WAIT,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.startswith("chat: cannot connect to 127.0.0.1")
    assert result.stderr.count("\n") == 1


def test_chat_over_tls_trusts_the_cafile_and_nothing_else(tls_server, certs, tmux: Tmux) -> None:
    port, _ = tls_server
    chat = str(BIN / "chat")
    untrusted = subprocess.run([chat, "localhost", str(port), "--name", "alice", "--tls"],
                               capture_output=True, text=True, timeout=WAIT,
                               stdin=subprocess.DEVNULL)
    assert untrusted.returncode == 1
    assert untrusted.stderr.startswith("chat: TLS: the server's certificate is not trusted")
    assert untrusted.stderr.count("\n") == 1
    tmux.start("alice", [chat, "localhost", str(port), "--name", "alice",
                         "--cafile", str(certs.ca)])
    wait_for("alice to register over TLS",
              lambda: _row(tmux.screen("alice"), "* you are alice") >= 0)
    assert "alice @ localhost:" in tmux.screen("alice")[0]
    assert "·  TLS  ·" in tmux.screen("alice")[0]  # the status bar says it is encrypted


def test_chat_screen_in_tmux(server, tmux: Tmux) -> None:
    """The screen as issue 14 found it wanting: each check failed before."""
    port, _ = server
    chat = str(BIN / "chat")
    tmux.start("alice", [chat, "127.0.0.1", str(port), "--name", "alice"])
    wait_for("alice to register", lambda: _row(tmux.screen("alice"), "* you are alice") >= 0)
    bob = SocketUser(port, "bob")
    screen = wait_for("bob in the status bar", lambda: (
        s if (s := tmux.screen("alice"))[0].endswith("#chat 2 here") else None))
    # The default room by its name, and whether the connection is encrypted.
    assert "·  no TLS  ·" in screen[0], screen
    # The welcome fits chat: nothing about registering with #yourname.
    assert not any("#yourname" in row for row in screen), screen
    assert _row(screen, "* welcome to chatsvc!") >= 0, screen
    # Lines fill from the bottom: the newest is just above the input line, the gap on top.
    assert _row(screen, "* bob joined") == len(screen) - 2, screen
    assert screen[1] == "", screen

    # A wrapped message continues under its text, not at column 0.
    long = "word " * 30
    bob.send(long.strip())
    screen = wait_for("bob's long message", lambda: (
        s if _row(s := tmux.screen("alice"), "<bob> word word") >= 0 else None))
    first = _row(screen, "<bob> word word")
    indent = screen[first].index("<bob>") + len("<bob> ")
    assert screen[first + 1].startswith(" " * indent + "word"), screen

    # A line the server refuses is marked so; its refusal follows.
    tmux.keys("alice", "@nobody: hello?", literal=True)
    tmux.keys("alice", "Enter")
    wait_for("the refusal", lambda: _row(tmux.screen("alice"), "! no such user: nobody") >= 0)
    wait_for("the line marked", lambda: _row(
        tmux.screen("alice"), "-> *nobody* hello?  [not sent]") >= 0)

    # Home goes to the start of the input, however it wraps.
    tmux.keys("alice", "x" * 150, literal=True)
    wait_for("the input to wrap", lambda: tmux.screen("alice")[-1] == "x" * 52)
    tmux.keys("alice", "Home")
    tmux.keys("alice", "START", literal=True)
    wait_for("START at the start", lambda: tmux.screen("alice")[-2].startswith("> STARTxxx"))
    tmux.keys("alice", "End")
    tmux.keys("alice", "C-u")
    wait_for("a cleared line", lambda: _input_row(tmux.screen("alice")) == ">")

    # /help: chat's own keys, then the server's commands as they work in chat.
    tmux.keys("alice", "/help", literal=True)
    tmux.keys("alice", "Enter")
    wait_for("the help", lambda: _row(tmux.screen("alice"), "become a server operator") >= 0)
    screen = tmux.screen("alice")
    assert _row(screen, "/nick name         change your name") >= 0, screen
    assert not any("#name" in row or "/pass" in row for row in screen), screen

    # Scrolled back, the screen says that new lines wait below.
    tmux.keys("alice", "PageUp")
    wait_for("the scroll mark", lambda: tmux.screen("alice")[-2] == "-- more below: PgDn --")
    bob.send("while you read")
    wait_for("the count of new lines",
             lambda: tmux.screen("alice")[-2] == "-- 1 new below: PgDn --")
    assert _row(tmux.screen("alice"), "<bob> while you read") < 0
    tmux.keys("alice", "PageDown")
    tmux.keys("alice", "PageDown")
    wait_for("the new line", lambda: tmux.screen("alice")[-2].endswith("<bob> while you read"))

    # At 30 columns the status bar still fits one row and keeps what matters.
    tmux("resize-window", "-t", "chat:alice", "-x", "30", "-y", "12")
    screen = wait_for("the narrow status bar", lambda: (
        s if len((s := tmux.screen("alice"))[0]) <= 30 and "#chat 2 here" in s[0] else None))
    assert screen[0].strip() == "alice · no TLS · #chat 2 here", screen
    assert "here" not in screen[1], screen  # not the rest of the status bar
