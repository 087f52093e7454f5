"""The rules in chatsvc.conn.limits on their own, timed by a Clock (no sleeping)."""

from __future__ import annotations

import resource
import socket

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, LogLevel, capturedLogs, formatEvent

from chatsvc.conn.limits import (
    ConnectThrottle,
    FailureThrottle,
    FloodGate,
    HostCounter,
    LogBudget,
    address_key,
    check_networks,
    enable_keepalive,
    raise_fd_limit,
    socket_of,
)


def gate(rate: float = 2, burst: int = 10, queue: int = 50):
    clock = Clock()
    handled: list[int] = []
    floods: list[bool] = []
    flood_gate = FloodGate(clock, rate, burst, queue, handled.append,
                           lambda: floods.append(True))
    return clock, flood_gate, handled, floods


class TestFloodGate:
    def test_burst_passes_at_once(self):
        clock, g, handled, floods = gate()
        for i in range(10):
            g.submit(i)
        assert handled == list(range(10))
        assert g.delayed == 0 and not floods

    def test_lines_past_the_burst_are_delayed_not_dropped(self):
        clock, g, handled, floods = gate()
        for i in range(14):
            g.submit(i)
        assert handled == list(range(10))
        assert g.delayed == 4
        clock.advance(0.5)          # one token back at 2/s
        assert handled == list(range(11))
        clock.advance(1.5)
        assert handled == list(range(14))
        assert g.delayed == 0 and not floods
        assert clock.getDelayedCalls() == []

    def test_order_is_kept_when_a_token_is_free_but_lines_wait(self):
        clock, g, handled, _ = gate(burst=1)
        g.submit("a")
        g.submit("b")              # delayed
        clock.advance(0.3)         # not yet a whole token
        g.submit("c")              # must queue behind b, not jump it
        assert handled == ["a"]
        clock.advance(0.2)
        assert handled == ["a", "b"]
        clock.advance(0.5)
        assert handled == ["a", "b", "c"]

    def test_sustained_rate_is_the_configured_rate(self):
        clock, g, handled, floods = gate()
        # 60 seconds of a client sending 2 lines/s: never delayed more than
        # a line, never flooding.
        for _ in range(120):
            g.submit(0)
            clock.advance(0.5)
        assert len(handled) == 120 and not floods

    def test_tokens_refill_only_up_to_the_burst(self):
        clock, g, handled, _ = gate()
        clock.advance(3600)
        for i in range(11):
            g.submit(i)
        assert len(handled) == 10 and g.delayed == 1

    def test_a_full_queue_is_flooding(self):
        clock, g, handled, floods = gate()
        for i in range(10 + 50):
            g.submit(i)
        assert not floods and g.delayed == 50
        g.submit("one too many")
        assert floods == [True]
        # The gate has shut: nothing queued is handled, nothing more is accepted.
        assert g.delayed == 0
        clock.advance(100)
        g.submit("after")
        assert handled == list(range(10))
        assert clock.getDelayedCalls() == []

    def test_a_human_typing_fast_is_never_delayed(self):
        clock, g, handled, floods = gate()
        # 200 lines, one every 0.6 s (100 wpm in short lines).
        for i in range(200):
            g.submit(i)
            assert g.delayed == 0
            clock.advance(0.6)
        assert len(handled) == 200

    def test_a_pasted_paragraph_is_slowed_not_dropped(self):
        clock, g, handled, floods = gate()
        for i in range(40):
            g.submit(i)
        clock.pump([0.5] * 29)
        assert len(handled) == 39
        clock.advance(0.5)          # 30 delayed lines at 2/s: 15 s
        assert handled == list(range(40)) and not floods

    @pytest.mark.parametrize("rate, burst", [(0, 10), (2, 0), (0, 0)])
    def test_zero_turns_it_off(self, rate, burst):
        clock, g, handled, floods = gate(rate=rate, burst=burst)
        for i in range(10_000):
            g.submit(i)
        assert len(handled) == 10_000 and not floods
        assert clock.getDelayedCalls() == []

    def test_zero_queue_floods_on_the_first_line_over_the_burst(self):
        clock, g, handled, floods = gate(queue=0)
        for i in range(11):
            g.submit(i)
        assert len(handled) == 10 and floods == [True]

    def test_shut_cancels_the_timer(self):
        clock, g, handled, _ = gate(burst=1)
        g.submit(1)
        g.submit(2)
        assert clock.getDelayedCalls()
        g.shut()
        assert clock.getDelayedCalls() == []
        clock.advance(10)
        assert handled == [1]

    def test_handler_that_shuts_the_gate_stops_the_release(self):
        clock = Clock()
        handled = []

        def handle(item):
            handled.append(item)
            if item == "quit":
                flood_gate.shut()

        flood_gate = FloodGate(clock, 2, 1, 50, handle, lambda: None)
        for item in ("a", "quit", "b", "c"):
            flood_gate.submit(item)
        clock.advance(10)
        assert handled == ["a", "quit"]


class TestHostCounter:
    def test_limit_per_address(self):
        counter = HostCounter(2)
        assert counter.add("192.0.2.1") and counter.add("192.0.2.1")
        assert not counter.add("192.0.2.1")
        assert counter.add("192.0.2.2")
        counter.remove("192.0.2.1")
        assert counter.add("192.0.2.1")

    def test_loopback_is_not_exempt_by_default(self):
        counter = HostCounter(1)
        assert counter.add("127.0.0.1")
        assert not counter.add("127.0.0.1")

    def test_exempt_networks(self):
        counter = HostCounter(1, ["127.0.0.0/8", "::1"])
        for _ in range(5):
            assert counter.add("127.0.0.1") and counter.add("::1")
        assert len(counter) == 0

    def test_ipv6_counts_per_64(self):
        counter = HostCounter(2)
        assert counter.add("2001:db8:1:2::1")
        assert counter.add("2001:db8:1:2:ffff::9")
        assert not counter.add("2001:db8:1:2:abcd::1")
        assert counter.add("2001:db8:1:3::1")

    def test_ipv4_mapped_counts_as_ipv4(self):
        counter = HostCounter(1)
        assert counter.add("::ffff:192.0.2.7")
        assert not counter.add("192.0.2.7")

    def test_scoped_ipv6_address(self):
        counter = HostCounter(1)
        assert counter.add("fe80::1%eth0")
        assert not counter.add("fe80::2%eth0")

    def test_non_ip_hosts_are_not_limited(self):
        counter = HostCounter(1)
        for _ in range(3):
            assert counter.add("?")
        counter.remove("?")
        assert len(counter) == 0

    def test_zero_means_no_limit(self):
        counter = HostCounter(0)
        for _ in range(100):
            assert counter.add("192.0.2.1")
        assert len(counter) == 0

    def test_remove_forgets_empty_addresses(self):
        counter = HostCounter(3)
        counter.add("192.0.2.1")
        counter.remove("192.0.2.1")
        counter.remove("192.0.2.1")  # extra removals do not go negative
        assert len(counter) == 0 and counter.count("192.0.2.1") == 0

    def test_check_networks(self):
        assert check_networks(["127.0.0.1", " 10.0.0.0/8 ", "", "::1"]) == [
            "127.0.0.1", "10.0.0.0/8", "::1"]
        with pytest.raises(ValueError):
            check_networks(["localhost"])


class TestAddressKey:
    @pytest.mark.parametrize("host, key", [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("0::ffff:127.0.0.1", "127.0.0.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::9%eth0", "2001:db8:1:2::/64"),
        ("/run/chat.sock", "/run/chat.sock"),
    ])
    def test_like_the_per_address_counter(self, host, key):
        assert address_key(host) == key
        assert HostCounter(1).key(host) in (key, None)

    def test_no_exemption(self):
        # Guessing from an address --per-ip-exempt lists is still guessing.
        assert HostCounter(1, ["127.0.0.0/8"]).key("127.0.0.1") is None
        assert address_key("127.0.0.1") == "127.0.0.1"


class TestConnectThrottle:
    def throttle(self, rate=32, window=600.0, exempt=(), max_keys=10_000):
        clock = Clock()
        return clock, ConnectThrottle(clock, rate, window, exempt, max_keys)

    def test_a_burst_of_rate_then_one_per_window_over_rate(self):
        clock, throttle = self.throttle()
        assert [throttle.take("203.0.113.9") for _ in range(32)] == [0.0] * 32
        assert throttle.take("203.0.113.9") == pytest.approx(18.75)
        clock.advance(18.7)
        assert throttle.take("203.0.113.9") == pytest.approx(0.05)
        clock.advance(0.05)
        assert throttle.take("203.0.113.9") == 0.0
        assert throttle.take("203.0.113.9") == pytest.approx(18.75)

    def test_at_most_rate_per_window_in_the_long_run(self):
        clock, throttle = self.throttle()
        opened = 0
        for _ in range(6000 * 10):   # ten connects a second for 100 minutes
            opened += throttle.take("203.0.113.9") == 0
            clock.advance(0.1)
        assert opened == 32 + 10 * 32 - 1

    def test_a_refused_connection_is_not_counted(self):
        clock, throttle = self.throttle(rate=2, window=10)
        throttle.take("192.0.2.1"), throttle.take("192.0.2.1")
        for _ in range(100):
            assert throttle.take("192.0.2.1") == pytest.approx(5.0)
        clock.advance(5)
        assert throttle.take("192.0.2.1") == 0.0

    def test_addresses_are_counted_apart_ipv6_per_64(self):
        _, throttle = self.throttle(rate=1)
        assert throttle.take("192.0.2.1") == 0 and throttle.take("192.0.2.2") == 0
        assert throttle.take("::ffff:192.0.2.1") > 0
        assert throttle.take("2001:db8::1") == 0 and throttle.take("2001:db8::2") > 0
        assert throttle.take("2001:db8:0:1::1") == 0

    def test_exempt_and_non_ip_hosts(self):
        _, throttle = self.throttle(rate=1, exempt=["127.0.0.0/8"])
        assert all(throttle.take("127.0.0.1") == 0 for _ in range(100))
        assert all(throttle.take("/run/chat.sock") == 0 for _ in range(100))
        assert len(throttle) == 0

    @pytest.mark.parametrize("rate, window", [(0, 600), (32, 0)])
    def test_zero_turns_it_off(self, rate, window):
        _, throttle = self.throttle(rate=rate, window=window)
        assert all(throttle.take("192.0.2.1") == 0 for _ in range(1000))

    def test_memory_is_bounded(self):
        clock, throttle = self.throttle(max_keys=100)
        for i in range(1000):
            throttle.take(f"10.0.{i // 250}.{i % 250}")
        assert len(throttle) == 100
        clock.advance(600)   # every bucket full again: all forgotten
        throttle.take("192.0.2.1")
        assert len(throttle) == 1


class TestFailureThrottle:
    def test_free_failures_then_doubling_up_to_the_cap(self):
        clock = Clock()
        throttle = FailureThrottle(clock, free=3, base=1, cap=600)
        assert [throttle.failed("k") for _ in range(3)] == [0, 0, 0]
        waits = []
        for _ in range(12):
            waits.append(throttle.failed("k"))
            assert throttle.wait("k") == waits[-1]
            clock.advance(waits[-1])
            assert throttle.wait("k") == 0
        assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]

    def test_guesses_in_an_hour(self):
        # The README's figures: 18 in the first hour, then 6 an hour; for an
        # account (capped at a minute), 68 in the first hour and 60 after.
        for cap, first, later in ((600, 18, 6), (60, 68, 60)):
            clock = Clock()
            throttle = FailureThrottle(clock, cap=cap)
            hours = [0, 0, 0]
            while clock.seconds() < 3 * 3600:
                if throttle.wait("k") == 0:
                    throttle.failed("k")
                    hours[int(clock.seconds() // 3600)] += 1
                clock.advance(0.25)
            assert hours == [first, later, later]

    def test_keys_are_apart_and_forgotten(self):
        clock = Clock()
        throttle = FailureThrottle(clock, free=0, forget=100)
        throttle.failed("a")
        assert throttle.wait("a") == 1 and throttle.wait("b") == 0
        clock.advance(99)
        throttle.failed("b")
        assert throttle.failures("a") == 1 and len(throttle) == 2
        clock.advance(1)
        assert throttle.failures("a") == 0 and len(throttle) == 1
        assert throttle.failed("b") == 2   # b's failures are still counted

    def test_memory_is_bounded_least_recent_first(self):
        throttle = FailureThrottle(Clock(), free=0, max_keys=100)
        throttle.failed("old")
        for i in range(1000):
            throttle.failed(f"k{i}")
        assert len(throttle) == 100
        assert throttle.wait("old") == 0 and throttle.wait("k999") > 0

    def test_a_huge_count_does_not_overflow(self):
        throttle = FailureThrottle(Clock(), free=0, cap=600)
        for _ in range(5000):
            throttle.failed("k")
        assert throttle.wait("k") == 600


class TestLogBudget:
    log = Logger(namespace="test.budget")

    def test_lines_then_a_count_of_the_rest(self):
        clock = Clock()
        budget = LogBudget(clock, "test lines", lines=3, interval=10)
        with capturedLogs() as events:
            for i in range(100):
                budget.info(self.log, "line {i}", i=i)
            clock.advance(10)
            budget.warn(self.log, "after {i}", i=100)
        text = [formatEvent(event) for event in events]
        assert text == ["line 0", "line 1", "line 2",
                        "97 similar test lines suppressed in 10 s", "after 100"]

    def test_the_summary_has_the_highest_level_left_out(self):
        clock = Clock()
        budget = LogBudget(clock, "test lines", lines=1, interval=10)
        with capturedLogs() as events:
            budget.info(self.log, "kept")
            budget.info(self.log, "left out")
            budget.warn(self.log, "left out too")
            budget.flush()
            budget.flush()   # nothing more to say
        assert [(formatEvent(e), e["log_level"]) for e in events] == [
            ("kept", LogLevel.info),
            ("2 similar test lines suppressed in 10 s", LogLevel.warn)]
        assert clock.getDelayedCalls() == []   # no timer: an idle server has none

    def test_a_quiet_log_loses_nothing(self):
        clock = Clock()
        budget = LogBudget(clock, "test lines", lines=3, interval=10)
        with capturedLogs() as events:
            for i in range(100):
                budget.info(self.log, "line {i}", i=i)
                clock.advance(4)
        assert len(events) == 100


class TestListenBacklog:
    @pytest.mark.parametrize("given, used", [
        ("tcp:12345", "tcp:12345:backlog=1024"),
        ("tcp6:12345:interface=\\:\\:", "tcp6:12345:interface=\\:\\::backlog=1024"),
        ("ssl:6697:privateKey=k.pem", "ssl:6697:privateKey=k.pem:backlog=1024"),
        ("unix:/run/chat.sock", "unix:/run/chat.sock:backlog=1024"),
        ("tcp:12345:backlog=5", "tcp:12345:backlog=5"),
        ("systemd:domain=INET6:name=chat", "systemd:domain=INET6:name=chat"),
    ])
    def test_added_unless_named(self, given, used):
        from chatsvc.conn.limits import with_listen_backlog

        assert with_listen_backlog(given) == used

    @pytest.mark.integration
    def test_the_listener_gets_it(self):
        from twisted.internet import reactor
        from twisted.internet.endpoints import serverFromString

        from chatsvc.service.tap import endpoint_string

        endpoint = serverFromString(reactor, endpoint_string("tcp:0:interface=127.0.0.1"))
        assert endpoint._backlog == 1024


class TestSocketOptions:
    @pytest.mark.integration
    def test_keepalive_on_a_real_socket_behind_a_wrapper(self):
        listener = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        try:
            class TCPish:
                def getHandle(self):
                    return server

            class TLSish:            # what TLSMemoryBIOProtocol looks like
                transport = TCPish()

                def getHandle(self):
                    return object()  # an OpenSSL connection, not a socket

            assert enable_keepalive(TLSish())
            assert server.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            if hasattr(socket, "TCP_KEEPIDLE"):
                assert server.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 120
        finally:
            for s in (client, server, listener):
                s.close()

    def test_no_socket_no_keepalive(self):
        assert socket_of(StringTransport()) is None
        assert not enable_keepalive(StringTransport())

    def test_raise_fd_limit_never_lowers_and_never_passes_hard(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            assert raise_fd_limit(1) == soft
            got = raise_fd_limit(10**9)
            assert got >= soft
            if hard != resource.RLIM_INFINITY:
                assert got <= hard
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class TestOptions:
    def parse(self, *argv: str):
        from chatsvc.service.tap import Options

        options = Options()
        options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", *argv])
        return options["settings"]

    def test_defaults(self):
        settings = self.parse()
        assert (settings.flood_rate, settings.flood_burst, settings.flood_queue) == (2, 10, 50)
        assert (settings.max_per_ip, settings.register_timeout) == (16, 60)
        assert (settings.connect_rate, settings.connect_window) == (32, 600)
        assert settings.per_ip_exempt == []

    def test_values(self):
        settings = self.parse("--flood-rate", "0.5", "--flood-burst", "0", "--flood-queue", "5",
                              "--max-per-ip", "0", "--register-timeout", "2.5",
                              "--connect-rate", "0", "--connect-window", "60.5",
                              "--per-ip-exempt", "127.0.0.1,::1", "--per-ip-exempt", "10.0.0.0/8")
        assert settings.flood_rate == 0.5 and settings.flood_burst == 0
        assert settings.flood_queue == 5 and settings.max_per_ip == 0
        assert settings.register_timeout == 2.5
        assert (settings.connect_rate, settings.connect_window) == (0, 60.5)
        assert settings.per_ip_exempt == ["127.0.0.1", "::1", "10.0.0.0/8"]

    @pytest.mark.parametrize("argv, message", [
        (("--flood-rate", "fast"), "--flood-rate 'fast': not a number"),
        (("--flood-rate", "-1"), "must be a finite number"),
        (("--register-timeout", "nan"), "must be a finite number"),
        (("--flood-burst", "1.5"), "--flood-burst '1.5': not a whole number"),
        (("--max-per-ip", "-3"), "must be at least 0"),
        (("--connect-rate", "1.5"), "--connect-rate '1.5': not a whole number"),
        (("--connect-window", "-1"), "must be a finite number"),
        (("--per-ip-exempt", "localhost"), "--per-ip-exempt:"),
    ])
    def test_bad_values_are_one_line(self, argv, message):
        from chatsvc.service.tap import StartupFailure

        with pytest.raises(StartupFailure) as failure:
            self.parse(*argv)
        text = str(failure.value)
        assert message in text and "\n" not in text


@pytest.mark.parametrize("rate", [2.0, 0.0])  # a gate, and none (--flood-rate 0)
def test_a_held_gate_keeps_the_lines_in_order_until_released(rate: float) -> None:
    clock = Clock()
    handled: list[str] = []
    floods: list[None] = []
    gate: FloodGate[str] = FloodGate(clock, rate, 10, 5, handled.append,
                                     lambda: floods.append(None))
    gate.submit("before")
    gate.hold()
    for line in ("JOIN", "MODE", "PING"):
        gate.submit(line)
    clock.advance(60)
    assert handled == ["before"] and gate.holding
    gate.release()
    assert handled == ["before", "JOIN", "MODE", "PING"] and not floods


def test_a_held_gate_still_counts_a_flood() -> None:
    clock = Clock()
    floods: list[None] = []
    gate: FloodGate[int] = FloodGate(clock, 2, 3, 5, lambda line: None,
                                     lambda: floods.append(None))
    gate.hold()
    for line in range(8):  # the queue (5) plus the burst (3) it would have had
        gate.submit(line)
    assert not floods
    gate.submit(8)
    assert floods == [None]
