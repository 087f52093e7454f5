"""A greeter bot for chatsvc's IRC side, built on Twisted's own IRC client.

    python examples/irc_greeter.py localhost:6667 [--nick greeter] [--channel '#chat']

It is a plain L{twisted.words.protocols.irc.IRCClient}, so it runs against
any IRC server; chatsvc's line users and IRC users hear it alike.  In the
channel: C{!echo text} repeats text, C{!who} lists who is there.
Privately: C{!quit} makes the bot leave (anyone may; it is an example).
Its tests (C{tests/test_examples.py}) run it in memory with
L{chatsvc.testing.ChatHarness.connect_irc}.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from twisted.internet import defer, endpoints, error, protocol, task
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.words.protocols import irc


class GreeterBot(irc.IRCClient):
    """The bot: Twisted calls one method per kind of thing that happens."""

    def __init__(self, nickname: str = "greeter", channel: str = "#chat") -> None:
        self.nickname = nickname
        self.channel = channel
        self.names: set[str] = set()
        #: Fires with why the connection ended: C{"closed"} if it closed cleanly.
        self.closed: Deferred[str] = Deferred()

    def signedOn(self) -> None:
        self.join(self.channel)

    def irc_RPL_NAMREPLY(self, prefix: str, params: list[str]) -> None:
        # The names in the channel when we join (prefixed @ or + for ops and voices).
        self.names.update(name.lstrip("@+") for name in params[-1].split())

    def userJoined(self, user: str, channel: str) -> None:
        self.names.add(user)
        self.msg(channel, f"welcome, {user}! say !echo something, or !who")

    def userLeft(self, user: str, channel: str) -> None:
        self.names.discard(user)

    def userQuit(self, user: str, quitMessage: str) -> None:
        self.names.discard(user)

    def userRenamed(self, oldname: str, newname: str) -> None:
        self.names.discard(oldname)
        self.names.add(newname)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        nick = user.partition("!")[0]
        if channel == self.nickname:  # a private message
            if message.strip() == "!quit":
                self.quit(f"asked to leave by {nick}")
            return
        command, _, argument = message.partition(" ")
        if command == "!echo" and argument.strip():
            self.msg(channel, argument)
        elif command == "!who":
            self.msg(channel, "here: " + ", ".join(sorted(self.names)))

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        super().connectionLost(reason)
        if not self.closed.called:
            clean = reason.check(error.ConnectionDone) is not None
            self.closed.callback("closed" if clean else reason.getErrorMessage())


class GreeterFactory(protocol.Factory):
    def __init__(self, nickname: str, channel: str) -> None:
        self.nickname = nickname
        self.channel = channel

    def buildProtocol(self, addr: Any) -> GreeterBot:
        bot = GreeterBot(self.nickname, self.channel)
        bot.factory = self
        return bot


async def main(reactor: Any, endpoint: Any, nickname: str = "greeter",
               channel: str = "#chat") -> str:
    """Run the bot until its connection closes; returns why it closed."""
    bot = await endpoint.connect(GreeterFactory(nickname, channel))
    return await bot.closed


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An IRC greeter bot for chatsvc.")
    parser.add_argument("server", help="host:port of an IRC listener")
    parser.add_argument("--nick", default="greeter")
    parser.add_argument("--channel", default="#chat")
    args = parser.parse_args(argv)
    host, _, port = args.server.rpartition(":")

    async def start(reactor: Any) -> None:
        endpoint = endpoints.HostnameEndpoint(reactor, host or "localhost", int(port))
        try:
            why = await main(reactor, endpoint, args.nick, args.channel)
        except error.ConnectError as failed:
            raise SystemExit(f"irc_greeter: cannot connect to {args.server}: {failed}") from None
        print(f"irc_greeter: {why}")

    task.react(lambda reactor: defer.ensureDeferred(start(reactor)))


if __name__ == "__main__":
    run(sys.argv[1:])
