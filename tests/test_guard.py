"""Each limit as a line-protocol user meets it, in memory with a Clock.

The rules live in the hub and chatsvc.conn.guard, so these tests stand for every
adapter; the IRC and WebSocket adapters reach the same code.
"""

from __future__ import annotations

import pytest
import support
from support import LineUser, MessageTransport, line_user
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from chatsvc.conn.guard import CLOSE_LINGER, SLOW_GRACE, Guard
from chatsvc.conn.sinks import MessageSink
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.participant import RecordBacked

#: Where these users connect from unless a test says otherwise.
HOST = "192.0.2.1"


def make_hub(**settings) -> tuple[ChatFactory, Clock]:
    hub = support.make_hub(**settings)
    return hub, hub.clock


class TestFlood:
    def test_burst_then_fake_lag_then_delivered_in_order(self):
        hub, clock = make_hub()
        alice, bob = line_user(hub, "alice", HOST), line_user(hub, "bob", "192.0.2.2")
        bob.lines()
        clock.advance(60)                       # alice's registration token is back
        alice.send(*(f"m{i}" for i in range(15)))
        assert bob.lines() == [f"<alice> m{i}" for i in range(10)]
        clock.pump([0.5] * 5)
        assert bob.lines() == [f"<alice> m{i}" for i in range(10, 15)]
        assert not alice.transport.disconnecting

    def test_flooding_disconnects_with_a_reason_everyone_sees(self):
        hub, clock = make_hub()
        alice, bob = line_user(hub, "alice", HOST), line_user(hub, "bob", "192.0.2.2")
        bob.lines()
        alice.send(*(f"m{i}" for i in range(100)))
        assert alice.lines()[-1] == "! flooding"
        assert alice.transport.disconnecting
        alice.drop()
        got = bob.lines()
        assert got[-1] == "* alice left (flooding)"
        # Lines that were waiting when the gate shut are never delivered.
        clock.advance(60)
        assert bob.lines() == []
        assert "alice" not in hub.users

    def test_registration_and_commands_count_too(self):
        hub, clock = make_hub(flood_burst=3, flood_queue=2)
        client = LineUser(hub, HOST)
        client.lines()
        client.send("/help", "/who", "#alice", "/who", "/who", "/who")
        assert client.lines()[-1] == "! flooding"

    def test_blank_and_over_long_lines_count_too(self):
        hub, clock = make_hub(flood_burst=3, flood_queue=1, max_line=10)
        client = LineUser(hub, HOST)
        client.lines()
        client.protocol.dataReceived(b"\n\n" + b"x" * 50 + b"\n" + b"\n\n")
        assert client.lines() == [f"! line too long (limit {hub.settings.max_line} bytes)",
                                  "! flooding"]

    def test_flood_control_off(self):
        hub, clock = make_hub(flood_rate=0)
        alice, bob = line_user(hub, "alice", HOST), line_user(hub, "bob", "192.0.2.2")
        bob.lines()
        alice.send(*(f"m{i}" for i in range(1000)))
        assert len(bob.lines()) == 1000

    def test_quit_waiting_behind_the_gate_is_honoured_in_turn(self):
        hub, clock = make_hub(flood_burst=1)
        alice, bob = line_user(hub, "alice", HOST), line_user(hub, "bob", "192.0.2.2")
        clock.advance(10)
        bob.lines()
        alice.send("one", "/quit gone", "never")
        assert bob.lines() == ["<alice> one"]
        clock.advance(0.5)
        assert alice.transport.disconnecting
        alice.drop()
        clock.advance(10)
        assert bob.lines() == ["* alice left (gone)"]

    def test_free_lines_bypass_the_gate(self):
        # What an adapter uses for answers the protocol requires (IRC PONG).
        hub, clock = make_hub(flood_burst=1, flood_queue=0)
        seen = []

        class Peer(RecordBacked):
            protocol_name = "test"
            capabilities: frozenset[str] = frozenset()

            def deliver(self, event):
                seen.append(event)

            def disconnect(self, reason):
                guard.close(reason)

        transport = StringTransport()
        guard = Guard(hub, Peer(), transport, seen.append)
        assert guard.start()
        guard.received("counted")
        for _ in range(100):
            guard.received_free("PONG")
        assert seen == ["counted"] + ["PONG"] * 100
        assert not transport.disconnecting


class TestConnectionLimits:
    def test_max_per_ip_refuses_with_a_reason(self):
        hub, clock = make_hub(max_per_ip=2)
        a, b = LineUser(hub, HOST), LineUser(hub, HOST)
        c = LineUser(hub, HOST)
        assert c.lines() == ["! too many connections from your address (limit 2)"]
        assert c.transport.disconnecting
        assert not a.transport.disconnecting and not b.transport.disconnecting
        assert LineUser(hub, "192.0.2.77").transport.disconnecting is False
        # A refused connection does not use up a slot when it closes.
        c.drop()
        a.drop()
        d = LineUser(hub, HOST)
        assert not d.transport.disconnecting
        assert hub.hosts.count("192.0.2.1") == 2

    def test_loopback_is_limited_unless_exempt(self):
        hub, _ = make_hub(max_per_ip=1)
        LineUser(hub, "127.0.0.1")
        assert LineUser(hub, "127.0.0.1").transport.disconnecting
        hub, _ = make_hub(max_per_ip=1, per_ip_exempt=["127.0.0.0/8"])
        LineUser(hub, "127.0.0.1")
        assert not LineUser(hub, "127.0.0.1").transport.disconnecting

    def test_ipv6_neighbours_share_a_64(self):
        hub, _ = make_hub(max_per_ip=1)
        LineUser(hub, "2001:db8::1")
        assert LineUser(hub, "2001:db8::2").transport.disconnecting
        assert not LineUser(hub, "2001:db8:0:1::2").transport.disconnecting

    def test_max_clients(self):
        hub, _ = make_hub(max_clients=2, max_per_ip=0)
        LineUser(hub, HOST), LineUser(hub, HOST)
        full = LineUser(hub, HOST)
        assert full.lines() == ["! server full"]
        assert full.transport.disconnecting
        assert len(hub.connections) == 2

    def test_registration_timeout(self):
        hub, clock = make_hub(register_timeout=60)
        idle, quick = LineUser(hub, HOST), LineUser(hub, HOST)
        idle.lines()
        clock.advance(30)
        quick.send("#quick")
        clock.advance(30)
        assert idle.lines() == ["* registration timeout (60 s)"]
        assert idle.transport.disconnecting
        assert not quick.transport.disconnecting
        idle.drop()
        assert clock.getDelayedCalls() == []  # no timers left behind
        assert len(hub.connections) == 1

    def test_registration_timeout_off(self):
        hub, clock = make_hub(register_timeout=0)
        idle = LineUser(hub, HOST)
        clock.advance(86400)
        assert not idle.transport.disconnecting

    def test_leaving_before_the_deadline_cancels_it(self):
        hub, clock = make_hub()
        client = LineUser(hub, HOST)
        client.drop()
        assert clock.getDelayedCalls() == []

    def test_keepalive_is_asked_for(self):
        # StringTransport has no socket; the loopback tests check the real one.
        hub, _ = make_hub()
        client = LineUser(hub, HOST)
        assert client.protocol._guard.attached


def talking_pair(max_backlog: int):
    """A hub with alice and bob registered (inboxes empty), flood control off."""
    hub, clock = make_hub(max_backlog=max_backlog, flood_rate=0)
    alice = line_user(hub, "alice", HOST)
    bob = line_user(hub, "bob", "192.0.2.2")
    alice.lines()
    return hub, clock, alice, bob


class TestSlowReader:
    def test_overflow_drops_only_the_slow_reader(self):
        hub, clock = make_hub(max_backlog=1000, flood_rate=0)
        alice = line_user(hub, "alice", HOST)
        slow = line_user(hub, "slow", "192.0.2.2")
        carol = line_user(hub, "carol", "192.0.2.3")
        slow.protocol._guard._sendq.pauseProducing()   # its socket is full
        alice.lines(), carol.lines()
        for i in range(40):
            alice.send(f"message number {i:03d} " + "x" * 20)
        assert not slow.transport.disconnected          # within its grace period
        clock.advance(SLOW_GRACE)
        assert slow.transport.disconnected
        assert len(carol.lines()) == 40
        slow.drop()
        assert carol.lines() == ["* slow left (too slow)"]
        assert alice.lines() == ["* slow left (too slow)"]
        assert "slow" not in hub.users
        assert clock.getDelayedCalls() == []

    def test_a_burst_over_the_limit_that_drains_in_time_is_kept(self):
        # One reactor turn can fan out more than the limit before a byte is
        # written; a reader that then drains it is not too slow.
        hub, clock, alice, bob = talking_pair(max_backlog=1000)
        queue = bob.protocol._guard._sendq
        queue.pauseProducing()
        alice.send(*(f"message {i:03d} " + "x" * 20 for i in range(80)))   # ~3.4 KB
        clock.advance(SLOW_GRACE - 1)
        queue.resumeProducing()
        clock.advance(10)
        assert not bob.transport.disconnecting
        assert bob.lines() == [f"<alice> message {i:03d} " + "x" * 20 for i in range(80)]

    def test_a_backlog_that_stays_over_the_limit_is_too_slow(self):
        hub, clock, alice, bob = talking_pair(max_backlog=1000)
        socket_buffer = 0

        def write(data, write=bob.transport.write):
            # A socket that takes C{socket_buffer} more bytes, then is full.
            write(data)
            if len(bob.transport.value()) > socket_buffer:
                bob.transport.producer.pauseProducing()

        bob.transport.clear()
        bob.transport.write = write
        queue = bob.protocol._guard._sendq
        queue.pauseProducing()
        alice.send(*(f"message {i:03d} " + "x" * 20 for i in range(80)))   # ~3.4 KB
        held = queue.held_bytes
        clock.advance(SLOW_GRACE / 2)
        socket_buffer = 500              # it reads a little, but stays over
        queue.resumeProducing()
        assert 1000 < queue.held_bytes < held
        clock.advance(SLOW_GRACE / 2)
        assert bob.transport.disconnected

    def test_four_times_the_limit_is_too_slow_at_once(self):
        hub, clock, alice, bob = talking_pair(max_backlog=1000)
        bob.protocol._guard._sendq.pauseProducing()
        alice.send(*(f"message {i:03d} " + "x" * 20 for i in range(4000 // 30)))
        assert bob.transport.disconnected
        assert clock.getDelayedCalls() == []

    def test_a_paused_reader_that_catches_up_loses_nothing(self):
        hub, clock, alice, bob = talking_pair(max_backlog=100_000)
        queue = bob.protocol._guard._sendq
        queue.pauseProducing()
        alice.send(*(f"m{i}" for i in range(100)))
        assert bob.lines() == [] and queue.held_bytes > 0
        queue.resumeProducing()
        assert bob.lines() == [f"<alice> m{i}" for i in range(100)]

    def test_graceful_close_of_a_non_reader_is_cut_off(self):
        hub, clock = make_hub()
        client = line_user(hub, "alice", HOST)
        client.send("/quit")
        assert client.transport.disconnecting and not client.transport.disconnected
        clock.advance(CLOSE_LINGER)
        assert client.transport.disconnected

    def test_closed_connections_receive_nothing(self):
        hub, clock = make_hub()
        alice = line_user(hub, "alice", HOST)
        bob = line_user(hub, "bob", "192.0.2.2")
        bob.send("/quit")
        bob.lines()
        alice.send("after bob quit")
        assert bob.lines() == []


class TestEverySink:
    """The guard's output rules over a byte stream and over whole messages.

    A WebSocket adapter will hand the guard a L{MessageSink}; the backlog
    limit, the grace period and closing must not depend on which.
    """

    @staticmethod
    def guard(hub, kind):
        transport = StringTransport()
        if kind == "stream":
            sink = None
        else:
            sink = MessageSink(MessageTransport(transport), abort=transport.abortConnection)
        delivered = []

        class Peer(RecordBacked):
            protocol_name = "test"
            capabilities: frozenset[str] = frozenset()

            def deliver(self, event):
                delivered.append(event)

            def disconnect(self, reason):
                guard.close(reason)

        guard = Guard(hub, Peer(), transport, lambda line: None, sink=sink)
        assert guard.start()
        return guard, transport

    @pytest.mark.parametrize("kind", ["stream", "message"])
    def test_a_backlog_over_the_limit_past_the_grace_is_too_slow(self, kind):
        hub, clock = make_hub(max_backlog=1000)
        guard, transport = self.guard(hub, kind)
        guard.write(b"first\r\n")
        assert transport.value() == b"first\r\n"
        transport.producer.pauseProducing()
        for _ in range(40):
            guard.write(b"x" * 30)
        assert not transport.disconnected
        clock.advance(SLOW_GRACE)
        assert transport.disconnected and guard.reason == "too slow"
        assert transport.value() == b"first\r\n"

    @pytest.mark.parametrize("kind", ["stream", "message"])
    def test_four_times_the_limit_is_too_slow_at_once(self, kind):
        hub, clock = make_hub(max_backlog=1000)
        guard, transport = self.guard(hub, kind)
        transport.producer.pauseProducing()
        for _ in range(4001 // 30 + 1):
            guard.write(b"x" * 30)
        assert transport.disconnected and guard.reason == "too slow"
        guard.lost()
        assert clock.getDelayedCalls() == []  # no grace timer left behind

    @pytest.mark.parametrize("kind", ["stream", "message"])
    def test_close_sends_what_is_held_and_a_non_reader_is_cut_off(self, kind):
        hub, clock = make_hub()
        guard, transport = self.guard(hub, kind)
        transport.producer.pauseProducing()
        guard.write(b"bye\r\n")
        guard.close("server shutting down")
        assert transport.value() == b"bye\r\n" and transport.producer is None
        assert transport.disconnecting and not transport.disconnected
        clock.advance(CLOSE_LINGER)
        assert transport.disconnected
