"""Test chat bots and scenarios against a real hub, in memory, in no time.

L{ChatHarness} runs a real L{ChatFactory} and connects any number of real
client L{Session}s to it over in-memory transports (L{twisted.test.iosim}),
on a L{Clock} instead of the real reactor: no sockets, no sleeping, and
every run the same.  Data moves only when the harness pumps, which its
methods do for you::

    from chatsvc.events import RoomMessage
    from chatsvc.testing import ChatHarness

    def test_hello():
        chat = ChatHarness()
        alice, bob = chat.join("alice"), chat.join("bob")
        alice.say("hello")
        event = chat.wait(bob.next_event(kind=RoomMessage))
        assert (event.sender, event.text) == ("alice", "hello")

Code that takes an endpoint (a bot's C{main(reactor, endpoint)}) can be
given L{ChatHarness.endpoint} and L{ChatHarness.clock} and run with
L{ChatHarness.run}.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.test import iosim
from zope.interface import implementer

from chatsvc.client import Session, connect
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.settings import Settings

__all__ = ["ChatHarness", "MemoryEndpoint", "StillWaiting"]

T = TypeVar("T")


class StillWaiting(AssertionError):
    """L{ChatHarness.wait} ran out of (fake) time with the Deferred unfired."""


@implementer(IStreamClientEndpoint)
class MemoryEndpoint:
    """A client endpoint whose connections reach the harness's hub in memory."""

    def __init__(self, harness: ChatHarness) -> None:
        self._harness = harness

    def connect(self, protocolFactory: Factory) -> Deferred[Any]:
        harness = self._harness
        server = harness.hub.buildProtocol(None)
        client = protocolFactory.buildProtocol(None)
        if client is None:
            return defer.fail(RuntimeError("the client factory built no protocol"))
        harness.pumps.append(iosim.connect(
            server, iosim.makeFakeServer(server),
            client, iosim.makeFakeClient(client),
            greet=False, clock=harness.clock,
        ))
        return defer.succeed(client)


class ChatHarness:
    """A hub and its in-memory clients, and the pump that moves their bytes.

    @ivar hub: the real L{ChatFactory} under test (inspect C{hub.users}...).
    @ivar clock: the fake time every client and the hub's timers use (flood
        control, deadlines); a C{hub} you pass in should be built with it:
        C{ChatFactory(settings, clock=clock)}.
    @ivar endpoint: a client endpoint connecting to C{hub} in memory.
    """

    def __init__(self, settings: Settings | None = None, clock: Clock | None = None,
                 hub: ChatFactory | None = None) -> None:
        self.clock = clock or Clock()
        self.hub = hub or ChatFactory(settings, clock=self.clock)
        self.pumps: list[iosim.IOPump] = []
        self.endpoint = MemoryEndpoint(self)

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

    def connect(self, name: str, **kwargs: Any) -> Deferred[Session]:
        """Start connecting a client as C{name}; see L{chatsvc.client.connect}."""
        return connect(self.clock, self.endpoint, name, **kwargs)

    def join(self, name: str) -> Session:
        """A client registered as C{name}, or the exception that refused it."""
        return self.wait(self.connect(name))
