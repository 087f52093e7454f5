"""Accounts and history across protocols through real ``twistd chat``
processes (issue 18), with our own raw-socket clients: a line user, an IRC
user logged in with SASL and a WebSocket user logged in see the same room
history; private messages to an offline account reach its IRC user on SASL
login, in order and once; a restart keeps the accounts (made by
``chatsvc-admin account create`` or by ``/register``) and the history.

What tests/test_accounts_loopback.py (an offline message over a restart,
on the line protocol) and tests/test_history_loopback.py (kill -9, IRC
replay) check already is not repeated here.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import WAIT, SocketUser, twistd_server
from test_history_loopback import irc_until, lines_until
from test_web_loopback import RawSocket
from wsproto.events import TextMessage

from chatsvc.store.sqlite import open_database, prepare_directory

pytestmark = pytest.mark.integration

SAID = ["hello from the line", "'); DELETE FROM room_message; -- %_", "waves"]


def make_account(data: Path, name: str, password: str) -> None:
    """C{chatsvc-admin account create}, the installed command, password on stdin."""
    made = subprocess.run(
        [str(Path(sys.executable).with_name("chatsvc-admin")), "--data-dir", str(data),
         "account", "create", "--password-file", "-", name],
        input=password + "\n", capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and made.stdout == f"create {name}: done\n", made


def port_of(directory: Path, listener: str) -> int:
    found = re.search(rf"\] {listener} on \S+:(\d+)$", (directory / "server.log").read_text(),
                      re.MULTILINE)
    assert found, listener
    return int(found.group(1))


class IRC(SocketUser):
    """An IRC client on a blocking socket: SASL PLAIN and server-time while registering."""

    def __init__(self, port: int, nick: str, account: str, password: str) -> None:
        super().__init__(port)
        payload = base64.b64encode(f"\0{account}\0{password}".encode()).decode()
        for line in ("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick}",
                     "CAP REQ :sasl server-time", "AUTHENTICATE PLAIN"):
            self.send(line)
        irc_until(self, lambda line: line == "AUTHENTICATE +")
        self.send(f"AUTHENTICATE {payload}")
        login = irc_until(self, lambda line: " 903 " in line or " 904 " in line)
        assert re.search(rf" 900 \S+ \S+@127\.0\.0\.1 {account} :You are now logged in as "
                         rf"{account}$", login[-2]), login
        self.send("CAP END")
        self.burst = irc_until(self, lambda line: " NOTICE " in line
                               and "this server keeps" in line)

    def until_pong(self, token: str) -> list[str]:
        """Every line up to our C{PING}'s answer: what the server had to say before it."""
        self.send(f"PING :{token}")
        return irc_until(self, lambda line: " PONG " in line and line.endswith(f":{token}"))[:-1]


class Web(RawSocket):
    """A WebSocket user on a blocking socket (wsproto), reading JSON objects."""

    def messages(self, done, timeout: float = WAIT) -> list[dict]:
        """Every object received up to the first for which C{done} holds (the
        rest stays for the next call)."""
        seen: list[dict] = []
        deadline = time.monotonic() + timeout
        while True:
            while self.events:
                event = self.events.pop(0)
                if isinstance(event, TextMessage):
                    seen.append(json.loads(event.data))
                    if done(seen[-1]):
                        return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"never received the object wanted; got {seen!r}")
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            self.ws.receive_data(self.sock.recv(65536))
            self.events += self.ws.events()


def test_every_protocol_sees_the_same_history_and_accounts_survive_a_restart(
        tmp_path: Path) -> None:
    data, first, second = tmp_path / "data", tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    open_database(prepare_directory(str(data))).close()
    make_account(data, "dave", "dave-pass-1")  # before the server ever ran on it
    options = ("--data-dir", str(data), "--name", "testnet",
               "--irc-port", "tcp:0:interface=127.0.0.1", "--web-port", "tcp:0:interface=127.0.0.1")
    with twistd_server(first, *options) as (port, _):
        alice = SocketUser(port, "alice")
        alice.send("/register alice-pass-1")
        alice.expect("* registered alice")
        alice.send(SAID[0])
        alice.send(SAID[1])
        alice.send(f"/me {SAID[2]}")
        carol = SocketUser(port, "carol")
        for text in ("first, while you were out", "second, still out"):
            carol.send(f"@dave:{text}")
            carol.expect("* dave is offline: your message will be delivered when they log in")
        carol.send("/account dave")  # on the store's thread after the messages were kept
        carol.expect("* dave is a registered account")
        alice.send("/history 1")  # after the room's writes: they are committed
        lines_until(alice, "* end of history")
        alice.close()
        carol.close()

    with twistd_server(second, *options) as (port, _):
        irc_port, web_port = port_of(second, "IRC"), port_of(second, "web")
        # The account chatsvc-admin made: the kept messages on SASL login, in order, once.
        dave = IRC(irc_port, "dave", "dave", "dave-pass-1")
        after = dave.burst + irc_until(dave, lambda line: "while you were away" in line)
        after += dave.until_pong("kept")  # they come at once after the notice, then nothing
        kept = [line for line in after if "PRIVMSG dave " in line]
        assert [re.sub(r"^@time=\S+ ", "", line) for line in kept] == [
            ":carol!carol@127.0.0.1 PRIVMSG dave :first, while you were out",
            ":carol!carol@127.0.0.1 PRIVMSG dave :second, still out"], kept
        assert all(re.match(r"@time=\d{4}-\d\d-\d\dT[\d:.]+Z ", line) for line in kept), kept
        assert any(line.endswith(" :2 messages while you were away") for line in after), after

        # The room's history, the same on IRC, the line protocol and the web.
        dave.send("JOIN #chat")
        joined = irc_until(dave, lambda line: f"ACTION {SAID[2]}" in line)
        replay = [line for line in joined if " PRIVMSG #chat :" in line]
        irc = [(re.search(r":(\S+) PRIVMSG", line).group(1), line.split(" PRIVMSG #chat :")[1],
                line.split(" ", 1)[0].removeprefix("@time=")) for line in replay]
        assert [(who, text) for who, text, _ in irc] == [
            ("alice", SAID[0]), ("alice", SAID[1]), ("alice", f"\x01ACTION {SAID[2]}\x01")]

        erin = SocketUser(port)
        erin.send("#erin")
        block = lines_until(erin, "* end of history")
        block = block[block.index("* history of #chat (3)") + 1:-1]
        assert [re.sub(r"^\[\d\d:\d\d\] ", "", line) for line in block] == [
            f"<alice> {SAID[0]}", f"<alice> {SAID[1]}", f"* alice {SAID[2]}"]
        # The same minute as IRC's @time (UTC, today).
        assert [line[1:6] for line in block] == [when[11:16] for _, _, when in irc]

        web = Web(web_port)
        web.send(type="login", name="alice", password="alice-pass-1", ref="in")
        seen = web.messages(lambda body: body.get("type") == "logged-in")
        assert any(body.get("type") == "logged-in" and body.get("account") == "alice"
                   for body in seen), seen
        history = [body for body in seen if body.get("type") == "message"]
        assert [(body["from"], body["text"], body["action"]) for body in history] == [
            ("alice", SAID[0], False), ("alice", SAID[1], False), ("alice", SAID[2], True)]
        assert [body["time"] for body in history] == [when for _, _, when in irc]

        # The account /register made before the restart: logged in on the web,
        # which IRC's WHOIS says (330), as the line protocol's /whois does.
        dave.send("WHOIS alice")
        whois = irc_until(dave, lambda line: " 318 " in line)
        assert any(line.endswith(" 330 dave alice alice :is logged in as") for line in whois)
        erin.send("/whois alice")
        answer = irc_until(erin, lambda line: line.startswith("* alice: "))[-1]
        assert "; logged in as alice;" in answer, answer

        # Once: a second login finds nothing kept.
        dave.send("QUIT :bye")
        irc_until(dave, lambda line: line.startswith("ERROR "))
        again = IRC(irc_port, "dave", "dave", "dave-pass-1")
        again.send("JOIN #chat")  # its replay is read after anything kept would be
        rest = again.burst + irc_until(again, lambda line: f"ACTION {SAID[2]}" in line)
        assert not [line for line in rest
                    if "while you were away" in line or " PRIVMSG dave " in line], rest
        for user in (dave, again, erin):
            user.close()
        web.sock.close()

