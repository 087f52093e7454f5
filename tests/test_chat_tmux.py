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
