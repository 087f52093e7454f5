"""Test chat bots and scenarios against a real hub, in memory, in no time.

L{ChatHarness} runs a real L{ChatFactory} and connects any number of
clients to it over in-memory transports (L{twisted.test.iosim}), on a
L{Clock} instead of the real reactor: no sockets, no sleeping, and every
run the same.  Data moves only when the harness pumps, which its methods
do for you.  Every protocol the server speaks has its own way in, and all
of them reach the same hub, so users of different protocols meet in one
room:

  - the line protocol: L{ChatHarness.join} (a scripted
    L{chatsvc.client.Session}) and L{ChatHarness.endpoint};
  - IRC: L{ChatHarness.irc_client} (a scripted L{IRCTestClient}),
    L{ChatHarness.connect_irc} (your bot's own protocol object, such as a
    L{twisted.words.protocols.irc.IRCClient}) and
    L{ChatHarness.irc_endpoint}.

::

    from chatsvc.events import RoomMessage
    from chatsvc.testing import ChatHarness

    def test_hello():
        chat = ChatHarness()
        alice, bob = chat.join("alice"), chat.irc_client("bob", channels=["#chat"])
        alice.say("hello")
        assert bob.expect("PRIVMSG").text == "hello"
        bob.privmsg("#chat", "hi")
        assert chat.wait(alice.next_event(kind=RoomMessage)).text == "hi"

C{ChatHarness(history=True)} keeps the room history in memory (SQLite, on
the harness's clock), so that replays on joining and
L{chatsvc.client.Session.history} answer as on a server with a data
directory.

Code that takes an endpoint (a bot's C{main(reactor, endpoint)}) can be
given L{ChatHarness.endpoint} (or C{irc_endpoint}) and L{ChatHarness.clock}
and run with L{ChatHarness.run}.

A new protocol is one more entry in L{ChatHarness.listeners} (the server
factory its connections are built by) and, if it needs one, one more
scripted client class; L{ChatHarness.attach} and L{MemoryEndpoint} serve
every protocol alike.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.internet.task import Clock
from twisted.protocols.basic import LineOnlyReceiver
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.words.protocols import irc
from zope.interface import implementer  # type: ignore[import-untyped]

from chatsvc.client import (
    INBOX_SIZE,
    BadName,
    ConnectionClosed,
    NameTaken,
    RegistrationRefused,
    Session,
    WrongPassword,
    connect,
)
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings
from chatsvc.protocols.irc.protocol import IRCServer
from chatsvc.store.delivery import HistoryDelivery
from chatsvc.store.sqlite import HistoryStore, migrate

__all__ = [
    "ChatHarness",
    "IRCLine",
    "IRCTestClient",
    "MemoryEndpoint",
    "NoLine",
    "StillWaiting",
]

T = TypeVar("T")
P = TypeVar("P", bound=Protocol)

def _memory_store(clock: Clock) -> HistoryStore:
    """A history store in memory whose "thread" runs each call at once, on the
    reactor: what a test wants (the real one's order, none of its timing)."""
    import sqlite3

    connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    migrate(connection)
    return HistoryStore(connection, cast(IReactorTime, clock),
                        run=lambda function, *args: defer.maybeDeferred(function, *args))


#: Client ports for connections given a C{host}: distinct, like real ones.
_ports = itertools.count(40000)


class StillWaiting(AssertionError):
    """L{ChatHarness.wait} ran out of (fake) time with the Deferred unfired."""


class NoLine(StillWaiting, TimeoutError):
    """L{IRCTestClient.next_line} saw no wanted line in time; says what did come."""


@implementer(IStreamClientEndpoint)
class MemoryEndpoint:
    """A client endpoint whose connections reach one of the harness's listeners in memory.

    @ivar listener: the key in L{ChatHarness.listeners} (C{"line"}, C{"irc"}).
    """

    def __init__(self, harness: ChatHarness, listener: str = "line") -> None:
        self._harness = harness
        self.listener = listener

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        # The address is the server's side, which an in-memory pair has none of.
        client = protocolFactory.buildProtocol(None)  # type: ignore[arg-type]
        if client is None:
            return defer.fail(RuntimeError("the client factory built no protocol"))
        self._harness.attach(cast(Protocol, client), self.listener)
        return defer.succeed(client)


class ChatHarness:
    """A hub and its in-memory clients, and the pump that moves their bytes.

    @ivar hub: the real L{ChatFactory} under test (inspect C{hub.users}...).
    @ivar clock: the fake time every client and the hub's timers use (flood
        control, deadlines); a C{hub} you pass in should be built with it:
        C{ChatFactory(settings, clock=clock)}.
    @ivar listeners: the server factory of each protocol, by name: what a
        connection made with L{attach} talks to.
    @ivar endpoint: a client endpoint connecting to C{hub} in memory over
        the line protocol.
    @ivar irc_endpoint: the same over IRC, for a bot that connects itself
        (C{endpoint.connect(factory)}).
    @ivar history: the hub's room history, with C{history=True} (else
        C{None}): a real L{chatsvc.store.delivery.HistoryDelivery} over an
        SQLite database in memory, read and written on the harness's clock
        (so L{wait} sees what was said, and a C{Session.history()} answer);
        C{history_joins=True} keeps joins and parts too (C{--history-joins}).
    """

    def __init__(self, settings: Settings | None = None, clock: Clock | None = None,
                 hub: ChatFactory | None = None, *, history: bool = False,
                 history_joins: bool = False) -> None:
        self.clock = clock or Clock()
        self.hub = hub or ChatFactory(settings, clock=cast(IReactorTime, self.clock))
        self.history: HistoryDelivery | None = None
        if history:
            self.history = HistoryDelivery(_memory_store(self.clock), local=self.hub.delivery,
                                           joins=history_joins)
            self.hub.delivery = self.history
        self.pumps: list[iosim.IOPump] = []
        self.irc = IRCServer(self.hub)
        self.listeners: dict[str, ServerFactory] = {
            "line": self.hub,
            "irc": self.irc.factory(),
        }
        self.endpoint = MemoryEndpoint(self, "line")
        self.irc_endpoint = MemoryEndpoint(self, "irc")

    # -- moving bytes and time -------------------------------------------------

    def pump(self) -> None:
        """Deliver everything in flight, both ways, until all is quiet."""
        for _ in range(1000):
            moved = False
            for pump in list(self.pumps):
                moved = pump.flush(advanceClock=False) or moved
            self.clock.advance(0)
            if not moved:
                break
        self.pumps = [
            p for p in self.pumps if not (p.clientIO.disconnected and p.serverIO.disconnected)
        ]

    def advance(self, seconds: float) -> None:
        """Let C{seconds} of fake time pass, pumping before and after."""
        self.pump()
        self.clock.advance(seconds)
        self.pump()

    def wait(self, d: Deferred[T] | Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Pump (and move the clock, up to C{timeout} fake seconds) until C{d} fires.

        Returns its result or raises its exception; raises L{StillWaiting}
        if it has not fired by then.  Coroutines are run with
        C{ensureDeferred}.
        """
        d = defer.ensureDeferred(d)
        outcome: list[Any] = []
        d.addBoth(outcome.append)
        self.pump()
        step = 0.1
        waited = 0.0
        while not outcome and waited < timeout:
            self.clock.advance(step)
            self.pump()
            waited += step
        if not outcome:
            d.cancel()
            outcome.clear()
            raise StillWaiting(f"nothing after {timeout:g} fake seconds")
        result = outcome[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run an C{async} function's coroutine to its end (see L{wait})."""
        return self.wait(coroutine, timeout)

    # -- any protocol ------------------------------------------------------------

    def attach(self, protocol: Protocol, listener: str = "line",
               host: str | None = None) -> iosim.IOPump:
        """Connect a client-side C{protocol} to a new connection of C{listener}.

        The one way in for every protocol: the server side is built by
        C{listeners[listener]}, the two are joined by an in-memory transport
        pair that L{pump} moves bytes through, both ways.  C{host} is the
        client's IP address as the server sees it; without one the server
        sees an address that no per-address limit counts.

        A L{twisted.words.protocols.irc.IRCClient}'s keepalive PINGs are
        put on the harness's clock (Twisted schedules them on the global
        reactor, which does not run here).
        """
        if isinstance(protocol, irc.IRCClient):
            _on_clock(protocol, self.clock)
        peer: IPv4Address | None = None
        if host is not None:
            peer = IPv4Address("TCP", host, next(_ports))
        server = self.listeners[listener].buildProtocol(cast(IAddress, peer))
        if server is None:
            raise RuntimeError(f"the {listener} listener built no protocol")
        pump = iosim.connect(
            server, iosim.FakeTransport(server, isServer=True, peerAddress=peer),
            protocol, iosim.FakeTransport(protocol, isServer=False, hostAddress=peer),
            greet=False, clock=self.clock,
        )
        self.pumps.append(pump)
        return pump

    # -- the line protocol -------------------------------------------------------

    def connect(self, name: str, **kwargs: Any) -> Deferred[Session]:
        """Start connecting a client as C{name}; see L{chatsvc.client.connect}."""
        endpoint = cast(IStreamClientEndpoint, self.endpoint)
        return connect(self.clock, endpoint, name, **kwargs)

    def join(self, name: str) -> Session:
        """A client registered as C{name}, or the exception that refused it."""
        return self.wait(self.connect(name))

    # -- IRC -----------------------------------------------------------------------

    def connect_irc(self, protocol: P, host: str | None = None) -> P:
        """Connect your own IRC client protocol (a bot) to the hub; returns it.

        Typically an L{irc.IRCClient} subclass, which registers itself when
        connected; L{pump} (or any L{wait}) lets it.  Its C{lineRate} must
        be C{None} (the default): Twisted paces lines on the global reactor.
        """
        self.attach(protocol, "irc", host)
        return protocol

    def irc_register(self, nick: str, *, user: str | None = None, realname: str | None = None,
                    password: str | None = None, channels: Iterable[str] = (),
                    host: str | None = None, timeout: float = 30.0) -> Deferred[IRCTestClient]:
        """Start registering a scripted IRC client as C{nick}; see L{irc_client}."""
        client = IRCTestClient(self, nick)
        self.attach(client, "irc", host)
        return defer.ensureDeferred(client.register(
            user=user, realname=realname, password=password, channels=list(channels),
            timeout=timeout))

    def irc_client(self, nick: str, *, user: str | None = None, realname: str | None = None,
                   password: str | None = None, channels: Iterable[str] = (),
                   host: str | None = None) -> IRCTestClient:
        """A scripted IRC client registered as C{nick} and in C{channels}.

        It has sent C{PASS} (with a C{password}), C{NICK} and C{USER}, seen
        the welcome through the end of the MOTD and, for each channel, its
        C{JOIN} through the end of C{NAMES}: none of that is left in its
        inbox.  A refusal raises what L{join} raises (L{NameTaken},
        L{BadName}, L{WrongPassword}, or another
        L{RegistrationRefused}), and the connection is closed.
        """
        return self.wait(self.irc_register(nick, user=user, realname=realname, password=password,
                                          channels=channels, host=host))


def _on_clock(bot: irc.IRCClient, clock: Clock) -> None:
    """Put an IRCClient's timers on C{clock}, or refuse what cannot be."""
    if bot.lineRate is not None:
        raise ValueError(
            f"{type(bot).__name__}.lineRate is {bot.lineRate!r}: Twisted paces those lines "
            "on the global reactor, which does not run in the harness; set lineRate = None")
    # IRCClient's one hook for its keepalive (Twisted's own tests use it the
    # same way); test_testing's keepalive test fails if a Twisted upgrade
    # renames or stops calling it.
    create = bot._createHeartbeat

    def heartbeat_on_clock() -> Any:
        heartbeat = create()
        heartbeat.clock = clock
        return heartbeat

    bot._createHeartbeat = heartbeat_on_clock  # type: ignore[method-assign]


# -- the scripted IRC client ------------------------------------------------------


@dataclass(frozen=True)
class IRCLine:
    """One line from the server, parsed (C{str()} gives it back as sent).

    @ivar prefix: its source, C{"chatsvc"} or C{"alice!alice@host"}; C{""}
        if none.
    @ivar command: C{"PRIVMSG"}, C{"JOIN"}, a numeric such as C{"001"}.
    @ivar params: the parameters, the trailing one included.
    """

    raw: str
    prefix: str
    command: str
    params: tuple[str, ...]

    @classmethod
    def parse(cls, raw: str) -> IRCLine:
        prefix, command, params = irc.parsemsg(raw)
        return cls(raw, prefix, command.upper(), tuple(params))

    @property
    def nick(self) -> str:
        """Who sent it: the prefix up to C{!}."""
        return self.prefix.partition("!")[0]

    @property
    def text(self) -> str:
        """The last parameter: a message's text, a numeric's human part."""
        return self.params[-1] if self.params else ""

    def __str__(self) -> str:
        return self.raw


Match = Callable[[IRCLine], bool]

#: Replies that end registration (end of MOTD, or no MOTD).
_END_OF_WELCOME = frozenset({"376", "422"})

_REFUSALS: dict[str, type[RegistrationRefused]] = {
    "432": BadName,
    "433": NameTaken,
    "436": NameTaken,
    "464": WrongPassword,
}


def _refusal(line: IRCLine) -> bool:
    return line.command == "ERROR" or (line.command.isdigit() and line.command[0] in "45")


@dataclass
class _Waiter:
    wanted: Match
    drop_earlier: bool
    deferred: Deferred[IRCLine]


class IRCTestClient(LineOnlyReceiver):
    """A scripted IRC user: send raw lines or commands, wait for replies.

    Lines the server sends go into C{inbox} (the newest L{INBOX_SIZE})
    until claimed by L{next_line}/L{expect}; all of them are also kept, in
    order, in C{received}.  The server's liveness C{PING}s are answered and
    not put in the inbox.

    @ivar nick: the nickname it registered with (a later C{NICK} is yours
        to follow).
    """

    delimiter = b"\r\n"
    MAX_LENGTH = 64 * 1024

    def __init__(self, harness: ChatHarness, nick: str) -> None:
        self.harness = harness
        self.nick = nick
        self.received: list[IRCLine] = []
        self.inbox: deque[IRCLine] = deque(maxlen=INBOX_SIZE)
        self.closed = False
        self.close_reason = ""
        self._waiters: list[_Waiter] = []
        self._closers: list[Deferred[str]] = []

    # -- sending ---------------------------------------------------------------

    def send(self, *lines: str) -> None:
        """Send raw IRC lines (no CRLF), as they are."""
        for line in lines:
            self.sendLine(line.encode("utf-8"))

    def join(self, channel: str, key: str | None = None) -> None:
        self.send(f"JOIN {channel} {key}" if key else f"JOIN {channel}")

    def part(self, channel: str, reason: str = "") -> None:
        self.send(f"PART {channel} :{reason}" if reason else f"PART {channel}")

    def privmsg(self, target: str, text: str) -> None:
        self.send(f"PRIVMSG {target} :{text}")

    def notice(self, target: str, text: str) -> None:
        self.send(f"NOTICE {target} :{text}")

    def quit(self, reason: str = "") -> Deferred[str]:
        """Send C{QUIT}; fires with why the connection closed, once it has."""
        self.send(f"QUIT :{reason}")
        return self.when_closed()

    def when_closed(self) -> Deferred[str]:
        """Fires with why the connection ended, once it has."""
        if self.closed:
            return defer.succeed(self.close_reason)
        d: Deferred[str] = Deferred()
        self._closers.append(d)
        return d

    # -- waiting ---------------------------------------------------------------

    def next_line(self, command: str | None = None, match: Match | None = None,
                  timeout: float | None = None, drop_earlier: bool = False) -> Deferred[IRCLine]:
        """The oldest unclaimed line with this C{command} for which C{match} is true.

        Looks in the inbox first, then waits.  Fails with L{NoLine} after
        C{timeout} seconds on the harness's clock, naming the lines that
        did come, or with L{ConnectionClosed}.  With C{drop_earlier}, the
        unclaimed lines before the one found are dropped too.
        """
        wanted = _wanted(command, match)
        for index, line in enumerate(self.inbox):
            if wanted(line):
                if drop_earlier:
                    for _ in range(index + 1):
                        self.inbox.popleft()
                else:
                    del self.inbox[index]
                return defer.succeed(line)
        if self.closed:
            return defer.fail(ConnectionClosed(f"{self.nick}: connection closed: "
                                               f"{self.close_reason}"))
        waiter = _Waiter(wanted, drop_earlier, Deferred(lambda d: self._waiters.remove(waiter)))
        self._waiters.append(waiter)
        if timeout is not None:
            timer = self.harness.clock.callLater(timeout, self._time_out, waiter,
                                                 _describe(command, match), timeout)
            waiter.deferred.addBoth(_cancelling(timer))
        return waiter.deferred

    def expect(self, command: str | None = None, match: Match | None = None,
               timeout: float = 10.0) -> IRCLine:
        """L{next_line}, pumping the harness until it comes (or L{NoLine})."""
        return self.harness.wait(self.next_line(command, match, timeout), timeout + 1)

    def _time_out(self, waiter: _Waiter, what: str, timeout: float) -> None:
        self._waiters.remove(waiter)
        came = [line.raw for line in self.inbox][-5:]
        waiter.deferred.errback(NoLine(
            f"{self.nick}: no {what} within {timeout:g} fake seconds; "
            f"unclaimed: {came or 'nothing'}"))

    # -- registration ----------------------------------------------------------

    async def register(self, user: str | None = None, realname: str | None = None,
                       password: str | None = None, channels: Iterable[str] = (),
                       timeout: float = 30.0) -> IRCTestClient:
        """Register as C{self.nick} and join C{channels}; see L{ChatHarness.irc_client}."""
        if password is not None:
            self.send(f"PASS :{password}")
        self.send(f"NICK {self.nick}",
                  f"USER {user or self.nick} 0 * :{realname or self.nick}")
        first = await self.next_line(match=lambda line: line.command == "001" or _refusal(line),
                                     timeout=timeout, drop_earlier=True)
        if first.command != "001":
            self._refused(first)
        await self.next_line(match=lambda line: line.command in _END_OF_WELCOME,
                             timeout=timeout, drop_earlier=True)
        for channel in channels:
            self.join(channel)
            reply = await self.next_line(
                match=lambda line: line.command == "366" or _refusal(line),
                timeout=timeout, drop_earlier=True)
            if reply.command != "366":
                self._refused(reply)
        return self

    def _refused(self, line: IRCLine) -> None:
        if self.transport is not None:
            self.transport.loseConnection()  # type: ignore[misc]
        raise _REFUSALS.get(line.command, RegistrationRefused)(line.text)

    # -- the protocol ----------------------------------------------------------

    def lineReceived(self, data: bytes) -> None:
        line = IRCLine.parse(data.decode("utf-8", "replace"))
        self.received.append(line)
        if line.command == "PING":
            self.send(f"PONG :{line.text}")
            return
        for waiter in self._waiters:
            if waiter.wanted(line):
                self._waiters.remove(waiter)
                if waiter.drop_earlier:
                    self.inbox.clear()
                waiter.deferred.callback(line)
                return
        self.inbox.append(line)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed = True
        self.close_reason = reason.getErrorMessage()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.deferred.errback(ConnectionClosed(
                f"{self.nick}: connection closed: {self.close_reason}"))
        closers, self._closers = self._closers, []
        for d in closers:
            d.callback(self.close_reason)


def _wanted(command: str | None, match: Match | None) -> Match:
    wanted_command = command.upper() if command is not None else None

    def wanted(line: IRCLine) -> bool:
        if wanted_command is not None and line.command != wanted_command:
            return False
        return match is None or bool(match(line))

    return wanted


def _describe(command: str | None, match: Match | None) -> str:
    what = command or "line"
    if match is not None:
        what += f" matching {getattr(match, '__name__', 'the predicate')}"
    return what


def _cancelling(timer: Any) -> Callable[[T], T]:
    def cancel(result: T) -> T:
        if timer.active():
            timer.cancel()
        return result

    return cancel
