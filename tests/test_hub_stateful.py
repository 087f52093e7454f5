"""A hypothesis state machine over the hub, through real line connections.

Many users connect, register, rename, talk to the room, whisper, quit and
drop abruptly in random order.  After every step the hub's user map must
agree with the connections, names must stay unique ignoring case, every
broadcast must reach exactly the registered others, every private message
exactly its target, and nobody may receive a byte after leaving.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.names import fold
from chatsvc.hub.settings import Settings

NAMES = st.sampled_from(["alice", "Alice", "ALICE", "bob", "BoB", "carol", "dave", "x", "x_"])
_ROOM = re.compile(r"<([^>]+)> (m\d+)\Z")
_PRIVATE = re.compile(r"\*([^*]+)\* (p\d+)\Z")


class Conn:
    """One line connection and what the model knows about it."""

    _ports = itertools.count(20000)

    def __init__(self, hub: ChatFactory, number: int) -> None:
        address = IPv4Address("TCP", f"10.0.{number // 250}.{number % 250 + 1}",
                              next(self._ports))
        self.transport = StringTransport(peerAddress=address)
        self.protocol = hub.buildProtocol(address)
        self.protocol.makeConnection(self.transport)
        self.name: str | None = None      # the model's idea of its name
        self.gone = False
        self.number = number

    def read(self) -> list[str]:
        data = self.transport.value()
        self.transport.clear()
        return [line for line in data.decode("utf-8").split("\r\n") if line]

    def send(self, line: str) -> None:
        self.protocol.dataReceived(line.encode("utf-8") + b"\n")

    def __repr__(self) -> str:
        return f"Conn#{self.number}({self.name})"


class HubMachine(RuleBasedStateMachine):
    connections = Bundle("connections")

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.hub = ChatFactory(Settings(flood_rate=0, connect_rate=0), clock=self.clock)
        self.all: list[Conn] = []
        self.counter = itertools.count()

    # -- helpers -------------------------------------------------------------

    def live(self) -> list[Conn]:
        return [c for c in self.all if not c.gone]

    def registered(self) -> list[Conn]:
        return [c for c in self.live() if c.name is not None]

    def holder(self, name: str) -> Conn | None:
        for conn in self.registered():
            if fold(conn.name) == fold(name):
                return conn
        return None

    def drain(self) -> dict[Conn, list[str]]:
        """Everyone's new lines (and nothing for those who left)."""
        out = {}
        for conn in self.all:
            lines = conn.read()
            if conn.gone:
                assert lines == [], f"{conn} received {lines} after leaving"
            out[conn] = lines
        return out

    def leave(self, conn: Conn, reason: str, graceful: bool) -> None:
        self.drain()
        others = [c for c in self.registered() if c is not conn]
        if graceful:
            conn.send(f"/quit {reason}")
            assert conn.transport.disconnecting
            conn.protocol.connectionLost(Failure(ConnectionDone()))
        else:
            conn.protocol.connectionLost(Failure(ConnectionLost()))
        name, conn.gone = conn.name, True
        conn.read()
        got = self.drain()
        for other in self.live():
            expected = [f"* {name} left ({reason})"] if name and other in others else []
            assert got[other] == expected, (other, got[other])

    # -- rules ---------------------------------------------------------------

    @rule(target=connections)
    def connect(self) -> Conn:
        conn = Conn(self.hub, next(self.counter))
        self.all.append(conn)
        assert conn.read()[0].startswith("* welcome")
        return conn

    @rule(conn=connections, name=NAMES)
    def register_or_rename(self, conn: Conn, name: str) -> None:
        if conn.gone:
            return
        self.drain()
        holder = self.holder(name)
        others = [c for c in self.registered() if c is not conn]
        old = conn.name
        conn.send(f"#{name}")
        got = self.drain()
        if holder is not None and holder is not conn:
            assert got[conn] == [f"! name taken: {name}"]
            assert all(got[c] == [] for c in self.live() if c is not conn)
            return
        conn.name = name
        assert got[conn][0] == f"* you are {name}"
        for other in others:
            if old is None:
                assert got[other] == [f"* {name} joined"]
            elif old != name:
                assert got[other] == [f"* {old} is now {name}"]
            else:
                assert got[other] == []

    @rule(conn=connections)
    def broadcast(self, conn: Conn) -> None:
        if conn.gone:
            return
        self.drain()
        text = f"m{next(self.counter)}"
        conn.send(text)
        got = self.drain()
        if conn.name is None:
            assert got[conn] == ["! register first: send #yourname"]
            return
        for other in self.live():
            expected = [f"<{conn.name}> {text}"] if (
                other is not conn and other.name is not None) else []
            assert got[other] == expected, (other, got[other])

    @rule(conn=connections, to=NAMES)
    def private_message(self, conn: Conn, to: str) -> None:
        if conn.gone:
            return
        self.drain()
        text = f"p{next(self.counter)}"
        conn.send(f"@{to}:{text}")
        got = self.drain()
        recipient = self.holder(to)
        if conn.name is None:
            assert got[conn] == ["! register first: send #yourname"]
            recipient = None
        elif recipient is None:
            assert got[conn] == [f"! no such user: {to}"]
        for other in self.live():
            if other is recipient:
                assert got[other] == [f"*{conn.name}* {text}"]
            elif other is not conn:
                assert got[other] == [], (other, got[other])

    @rule(conn=consumes(connections), reason=st.sampled_from(["bye", "gone fishing"]))
    def quit(self, conn: Conn, reason: str) -> None:
        if not conn.gone:
            self.leave(conn, reason, graceful=True)

    @rule(conn=consumes(connections))
    def drop(self, conn: Conn) -> None:
        if not conn.gone:
            self.leave(conn, "connection lost", graceful=False)

    @rule()
    def time_passes(self) -> None:
        # Registration deadlines fire for whoever has not registered.
        self.drain()
        pending = [c for c in self.live() if c.name is None]
        self.clock.advance(self.hub.settings.register_timeout)
        got = self.drain()
        for conn in pending:
            assert got[conn] == ["* registration timeout (60 s)"]
            conn.protocol.connectionLost(Failure(ConnectionDone()))
            conn.gone = True
        for conn in self.live():
            assert got[conn] == []

    # -- invariants ----------------------------------------------------------

    @invariant()
    def user_map_agrees_with_connections(self) -> None:
        live = {c.protocol for c in self.live()}
        assert self.hub.connections == live
        expected = {fold(c.name): c.protocol for c in self.registered()}
        assert self.hub.users == expected
        for key, participant in self.hub.users.items():
            assert fold(participant.name) == key
            assert participant in self.hub.connections

    @invariant()
    def names_are_unique(self) -> None:
        names = [fold(c.name) for c in self.registered()]
        assert len(names) == len(set(names))

    @invariant()
    def the_room_holds_exactly_the_registered(self) -> None:
        members = [member.name for member in self.hub.members(self.hub.default_room.name)]
        assert sorted(members, key=fold) == sorted(
            (c.name for c in self.registered()), key=fold)

    @invariant()
    def nobody_hears_anything_after_leaving(self) -> None:
        for conn in self.all:
            if conn.gone:
                assert conn.transport.value() == b""

    def teardown(self) -> None:
        for conn in self.live():
            conn.protocol.connectionLost(Failure(ConnectionDone()))
        assert self.hub.connections == set() and self.hub.users == {}
        assert self.clock.getDelayedCalls() == []


HubMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestHub = HubMachine.TestCase
