"""IRC and line-protocol clients over real loopback sockets, on one hub.

The IRC side is Twisted's own C{IRCClient}; the line side is a raw socket
client, as nc would be.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pytest_twisted
from twisted.internet import defer, endpoints, protocol, reactor, task
from twisted.words.protocols import irc

from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.protocols.irc.protocol import IRCServer

pytestmark = pytest.mark.integration

TIMEOUT = 10.0


async def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait (a bounded time) until C{check()} is true."""
    for _ in range(int(TIMEOUT / 0.02)):
        if check():
            return
        await task.deferLater(reactor, 0.02, lambda: None)
    raise AssertionError(f"timed out waiting for {what}")


class Bot(irc.IRCClient):
    """IRCClient recording what it sees as simple strings."""

    def __init__(self, nick: str) -> None:
        self.nickname = nick
        self.seen: list[str] = []
        self.signed_on = False
        self.lost = defer.Deferred()

    def signedOn(self) -> None:
        self.signed_on = True
        self.join("#chat")

    def kickedFrom(self, channel: str, kicker: str, message: str) -> None:
        self.seen.append(f"kickedFrom {channel} {kicker} {message}")

    def userKicked(self, kickee: str, channel: str, kicker: str, message: str) -> None:
        self.seen.append(f"userKicked {kickee} {channel} {kicker} {message}")

    def userLeft(self, user: str, channel: str) -> None:
        self.seen.append(f"userLeft {user} {channel}")

    def topicUpdated(self, user: str, channel: str, newTopic: str) -> None:
        self.seen.append(f"topicUpdated {user} {channel} {newTopic}")

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self.seen.append(f"privmsg {user.split('!')[0]} {channel} {message}")

    def noticed(self, user: str, channel: str, message: str) -> None:
        self.seen.append(f"notice {user.split('!')[0]} {channel} {message}")

    def action(self, user: str, channel: str, data: str) -> None:
        self.seen.append(f"action {user.split('!')[0]} {channel} {data}")

    def joined(self, channel: str) -> None:
        self.seen.append(f"joined {channel}")

    def userJoined(self, user: str, channel: str) -> None:
        self.seen.append(f"userJoined {user} {channel}")

    def userQuit(self, user: str, message: str) -> None:
        self.seen.append(f"userQuit {user} {message}")

    def userRenamed(self, oldname: str, newname: str) -> None:
        self.seen.append(f"userRenamed {oldname} {newname}")

    def nickChanged(self, nick: str) -> None:
        super().nickChanged(nick)
        self.seen.append(f"nickChanged {nick}")

    def connectionLost(self, reason: object) -> None:
        super().connectionLost(reason)
        self.lost.callback(None)


class LineClient(protocol.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.lost = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data

    @property
    def lines(self) -> list[str]:
        return self.buffer.decode("utf-8").split("\r\n")

    def say(self, text: str) -> None:
        self.transport.write(text.encode("utf-8") + b"\n")

    def connectionLost(self, reason: object) -> None:
        self.lost.callback(None)


@pytest.fixture
def server():  # type: ignore[no-untyped-def]
    hub = ChatFactory(Settings())
    irc_port = pytest_twisted.blockon(endpoints.TCP4ServerEndpoint(
        reactor, 0, interface="127.0.0.1").listen(IRCServer(hub).factory()))
    line_port = pytest_twisted.blockon(endpoints.TCP4ServerEndpoint(
        reactor, 0, interface="127.0.0.1").listen(hub))
    yield hub, irc_port.getHost().port, line_port.getHost().port
    pytest_twisted.blockon(defer.gatherResults([
        defer.maybeDeferred(irc_port.stopListening),
        defer.maybeDeferred(line_port.stopListening)]))


async def connect(port: int, proto: protocol.Protocol) -> protocol.Protocol:
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5)
    return await endpoints.connectProtocol(endpoint, proto)


@pytest_twisted.ensureDeferred
async def test_irc_and_line_users_talk(server) -> None:  # type: ignore[no-untyped-def]
    hub, irc_port, line_port = server
    bob = await connect(line_port, LineClient())
    bob.say("#bob")
    alice = await connect(irc_port, Bot("alice"))
    try:
        await eventually(lambda: alice.signed_on and "* alice joined" in bob.lines,
                         "alice registered and joined #chat")
        await eventually(lambda: "joined #chat" in alice.seen, "alice in #chat")

        bob.say("hello from the line side")
        await eventually(lambda: "privmsg bob #chat hello from the line side" in alice.seen,
                         "room message to IRC")
        alice.msg("#chat", "hello from irssi land")
        await eventually(lambda: "<alice> hello from irssi land" in bob.lines,
                         "channel message to line")

        bob.say("@alice:just for you")
        await eventually(lambda: "privmsg bob alice just for you" in alice.seen, "private to IRC")
        alice.msg("bob", "and back")
        await eventually(lambda: "*alice* and back" in bob.lines, "private to line")

        bob.say("/me dances")
        await eventually(lambda: "action bob #chat dances" in alice.seen, "action to IRC")
        alice.describe("#chat", "claps")
        await eventually(lambda: "* alice claps" in bob.lines, "action to line")

        alice.notice("bob", "a notice")
        await eventually(lambda: "*alice* a notice" in bob.lines, "notice to line")

        alice.setNick("alicia")
        await eventually(lambda: "nickChanged alicia" in alice.seen, "own nick change")
        await eventually(lambda: "* alice is now alicia" in bob.lines, "rename seen by line")
        bob.say("/nick robert")
        await eventually(lambda: "userRenamed bob robert" in alice.seen, "rename seen by IRC")

        carol = await connect(line_port, LineClient())
        carol.say("#carol")
        await eventually(lambda: "userJoined carol #chat" in alice.seen, "join seen by IRC")
        carol.say("/quit off to lunch")
        await carol.lost
        await eventually(lambda: "userQuit carol off to lunch" in alice.seen, "quit seen by IRC")

        long_text = " ".join(f"word{i}" for i in range(300))
        bob.say(long_text)
        await eventually(
            lambda: " ".join(s.split(" ", 3)[3] for s in alice.seen
                             if s.startswith("privmsg robert #chat word")) == long_text,
            "long message split over several IRC lines")

        dave = await connect(irc_port, Bot("dave"))
        await eventually(lambda: "joined #chat" in dave.seen, "dave in #chat")
        alice.join("#rust")
        await eventually(lambda: "joined #rust" in alice.seen, "alice created #rust")
        dave.join("#rust")
        await eventually(lambda: "userJoined dave #rust" in alice.seen, "dave in #rust")
        alice.topic("#rust", "all about rust")
        await eventually(lambda: "topicUpdated alicia #rust all about rust" in dave.seen,
                         "topic seen")
        bob.say("/join #rust")
        await eventually(lambda: "* you joined #rust (3 here)" in bob.lines, "line user in #rust")
        await eventually(lambda: "userJoined robert #rust" in dave.seen, "line join seen by IRC")
        alice.kick("#rust", "dave", "off topic")
        await eventually(lambda: "kickedFrom #rust alicia off topic" in dave.seen,
                         "kick seen by the kicked user")
        await eventually(lambda: "* alicia kicked dave from #rust (off topic)" in bob.lines,
                         "IRC kick seen by a line user")
        alice.kick("#rust", "robert", "line users too")
        await eventually(lambda: "* you were kicked from #rust by alicia (line users too)"
                         in bob.lines, "line user kicked by an IRC operator")
        await eventually(lambda: "userKicked robert #rust alicia line users too" in alice.seen,
                         "line user's kick seen by IRC")
        await eventually(lambda: "* you joined #chat (3 here)" in bob.lines,
                         "kicked line user back in the default room")
        dave.quit("gone")
        await dave.lost
        await eventually(lambda: "userQuit dave Quit: gone" in alice.seen, "dave's quit")
    finally:
        alice.quit("bye now")
        await alice.lost
    await eventually(lambda: "* alicia left (Quit: bye now)" in bob.lines, "quit seen by line")
    bob.transport.loseConnection()
    await bob.lost
    await eventually(lambda: not hub.connections, "hub empty")
