"""In-memory IRC and line users on one hub, for the IRC adapter's tests."""

from __future__ import annotations

import itertools

from support import LineUser
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.protocols.irc.protocol import IRCChatProtocol, IRCServer

_ports = itertools.count(41000)


class Net:
    """A hub with an IRC server on a fake clock."""

    def __init__(self, **settings: object) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        # Many users from one address, sending as fast as a test can: no
        # per-address cap or connection rate and no flood control unless a
        # test asks for them.
        settings = {"max_per_ip": 0, "connect_rate": 0, "flood_rate": 0, "register_timeout": 0,
                    **settings}
        self.hub = ChatFactory(Settings(**settings), clock=self.clock)
        self.irc = IRCServer(self.hub)

    def irc_user(self, nick: str | None = None, host: str = "192.0.2.1",
                 channels: str = "#chat") -> IRCUser:
        """An IRC user; registered as C{nick} and in C{channels} when given."""
        user = IRCUser(self, host)
        if nick is not None:
            user.send(f"NICK {nick}", f"USER {nick} 0 * :{nick.title()} Example")
            replies = user.read()
            assert any(r.startswith(f":chatsvc 001 {nick} ") for r in replies), replies
            if channels:
                user.send(f"JOIN {channels}")
                user.read()
        return user

    def line_user(self, name: str | None = None, host: str = "198.51.100.7") -> LineUser:
        user = LineUser(self.hub, host)
        if name is not None:
            user.send(f"#{name}")
            user.read()
        return user


class IRCUser(LineUser):
    """An IRC connection to the hub over an in-memory transport (CRLF lines)."""

    def __init__(self, net: Net, host: str) -> None:  # not super(): that builds a line user
        self.hub = net.hub
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", host, next(_ports)))
        self.protocol: IRCChatProtocol = net.irc.factory().buildProtocol(
            self.transport.getPeer())
        self.protocol.makeConnection(self.transport)

    def send(self, *lines: str | bytes) -> None:
        for line in lines:
            data = line if isinstance(line, bytes) else line.encode("utf-8")
            self.protocol.dataReceived(data + b"\r\n")

    def ask(self, *lines: str | bytes) -> list[str]:
        """Send lines and return what came back."""
        self.read()
        self.send(*lines)
        return self.read()


def numerics(lines: list[str]) -> list[str]:
    """The numeric (or command) of each server line."""
    return [line.split(" ")[1] if line.startswith(":") else line.split(" ")[0] for line in lines]
