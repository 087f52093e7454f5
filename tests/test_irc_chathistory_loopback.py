"""CHATHISTORY through a real ``twistd chat`` (issues 15 and 18): the store's
real thread, a labeled answer that comes after the read, and the same
msgids, times and masks after a restart on the same data directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import SocketUser, twistd_server
from test_history_loopback import irc_until

CAPS = "batch draft/chathistory echo-message labeled-response message-tags server-time"


def connect(port: int, nick: str, nickserv: str) -> SocketUser:
    """An IRC client with the chathistory caps, logged in through NickServ."""
    user = SocketUser(port)
    for line in (f"CAP REQ :{CAPS}", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END",
                 f"PRIVMSG NickServ :{nickserv} sesame-1"):
        user.send(line)
    irc_until(user, lambda line: f" 900 {nick} " in line)
    return user


def answer(user: SocketUser, request: str) -> list[str]:
    """The batch that answers C{request}, from its BATCH + to its BATCH -."""
    user.send(request)
    lines = irc_until(user, lambda line: bool(re.search(r" BATCH -\S+$", line)))
    start = next(i for i, line in enumerate(lines) if " BATCH +" in line)
    return lines[start:]


def inner(batch: list[str]) -> list[str]:
    """The batch's messages without their batch tag."""
    return [re.sub(r"^@batch=\S+?;", "@", line) for line in batch[1:-1]]


@pytest.mark.integration
def test_chathistory_on_a_real_server_and_after_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    options = ("--data-dir", str(data), "--irc-port", "tcp:0:interface=127.0.0.1")
    with twistd_server(first, *options, listener="IRC") as (port, _):
        alice = connect(port, "alice", "REGISTER")
        bob = connect(port, "bob", "REGISTER")
        alice.send("JOIN #chat")
        irc_until(alice, lambda line: "#chat keeps history" in line)
        echoes = []
        for index in range(5):
            alice.send(f"PRIVMSG #chat :m{index}")
            said = f" :m{index}"
            echoes.append(irc_until(alice, lambda line, said=said: line.endswith(said))[-1])
        bob.send("PRIVMSG alice :hi alice")
        dm = irc_until(alice, lambda line: line.endswith("PRIVMSG alice :hi alice"))[-1]

        batch = answer(alice, "@label=q1 CHATHISTORY LATEST #chat * 10")
        assert re.fullmatch(r"@label=q1 :chatsvc BATCH \+(\S+) chathistory #chat", batch[0])
        assert inner(batch) == echoes  # as relayed: time, msgid, alice's mask
        assert all(re.match(r"@time=\S+;msgid=[0-9a-f]{24} :alice!~alice@127\.0\.0\.1 ", line)
                   for line in echoes), echoes
        alice.sock.close()
        bob.sock.close()

    with twistd_server(second, *options, listener="IRC") as (port, _):
        alice = connect(port, "alice", "IDENTIFY")
        alice.send("JOIN #chat")
        # draft/chathistory: no replay on JOIN, only what the room keeps
        joined = irc_until(alice, lambda line: "#chat keeps history" in line)
        assert not any("PRIVMSG" in line for line in joined)
        msgid = re.search(r"msgid=(\w+)", echoes[3]).group(1)  # type: ignore[union-attr]
        assert inner(answer(alice, f"CHATHISTORY BEFORE #chat msgid={msgid} 10")) == echoes[:3]
        assert inner(answer(alice, "CHATHISTORY LATEST bob * 10")) == [dm]
        targets = answer(alice, "CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z "
                                "timestamp=2262-01-01T00:00:00.000Z 10")
        assert [line.split(" ")[-2] for line in targets[1:-1]] == ["#chat", "bob"]
        alice.send("CHATHISTORY LATEST #nowhere * 10")
        assert irc_until(alice, lambda line: " FAIL " in line)[-1] == (
            ":chatsvc FAIL CHATHISTORY INVALID_TARGET LATEST #nowhere :Messages could not be "
            "retrieved")
        alice.sock.close()
