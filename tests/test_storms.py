"""Connect, register and disconnect storms (issue 13, item 7), in memory on a Clock.

Before: one address registered 2,900 times a second, each room member got
116,400 join and leave lines in 20 s, and every connection wrote about
615 bytes of log.  Now an address may open 32 connections at once and then
one every 18.75 s (ergo's 32 per 10 minutes), a session writes two log
lines, and every kind of log line has a budget.
"""

from __future__ import annotations

import pytest
from support import Net
from twisted.logger import capturedLogs, formatEvent

from chatsvc.conn.limits import CONNECTION_LOG_LINES, LOG_INTERVAL, LOG_LINES

ATTACKER = "203.0.113.9"
REFUSED = "too many connections from your address: try again in {} s"


def storm_net(**settings: object) -> Net:
    """The defaults for the per-address limits (Net turns them off)."""
    return Net(**{"max_per_ip": 16, "connect_rate": 32, "connect_window": 600,
                  "flood_rate": 2, "register_timeout": 60, **settings})


def churn(net: Net, i: int, host: str = ATTACKER, protocol: str = "line"):
    """One connection that registers and quits at once; returns it."""
    if protocol == "line":
        user = net.line_user(host=host)
        user.send(f"#s{i}", "/quit")
    else:
        user = net.irc_user(host=host)
        user.send(f"NICK s{i}", f"USER s{i} 0 * :s", "JOIN #chat", "QUIT")
    user.drop()
    return user


class TestConnectRate:
    @pytest.mark.parametrize("protocol", ["line", "irc"])
    def test_the_33rd_connection_is_told_when_to_come_back(self, protocol):
        net = storm_net()
        for i in range(32):
            churn(net, i, protocol=protocol)
        assert len(net.hub.users) == 0
        late = net.line_user(host=ATTACKER) if protocol == "line" else net.irc_user(host=ATTACKER)
        expected = (f"! {REFUSED.format(19)}" if protocol == "line" else
                    f"ERROR :Closing link: {ATTACKER} ({REFUSED.format(19)})")
        assert late.read() == [expected]
        assert late.closed
        assert late.protocol not in net.hub.connections
        assert net.hub.hosts.count(ATTACKER) == 0

    def test_one_more_every_window_over_rate_seconds(self):
        net = storm_net()
        for i in range(32):
            churn(net, i)
        net.clock.advance(18.7)
        assert net.line_user(host=ATTACKER).closed
        net.clock.advance(0.05)
        user = net.line_user(host=ATTACKER)
        assert not user.closed
        assert net.line_user(host=ATTACKER).read() == [f"! {REFUSED.format(19)}"]

    def test_lines_and_irc_share_the_budget_and_others_are_not_held_back(self):
        net = storm_net()
        for i in range(32):
            churn(net, i, protocol="line" if i % 2 else "irc")
        assert net.line_user(host=ATTACKER).closed
        assert net.irc_user(host=f"::ffff:{ATTACKER}").closed
        neighbour = net.line_user("neighbour", host="203.0.113.10")
        assert not neighbour.closed and "neighbour" in net.hub.users

    def test_exempt_addresses(self):
        net = storm_net(per_ip_exempt=["203.0.113.0/24"])
        for i in range(200):
            churn(net, i)
        assert not net.line_user(host=ATTACKER).closed

    def test_zero_turns_it_off(self):
        net = storm_net(connect_rate=0)
        for i in range(200):
            churn(net, i)
        assert not net.line_user(host=ATTACKER).closed

    def test_a_room_member_sees_a_bounded_number_of_join_and_leave_lines(self):
        # The storm of issue 13, 20 minutes long at ten connects a second:
        # 24,000 lines to every member before; now 2 per connection let in,
        # 32 at once and then one per 18.75 s.
        net = storm_net()
        watcher = net.line_user("watcher", host="198.51.100.1")
        watcher.read()
        for i in range(20 * 60 * 10):
            churn(net, i)
            net.clock.advance(0.1)
        seen = watcher.read()
        # 32 at once, then one per 18.75 s: 63 more in the 1,200 s.
        assert len(seen) == 2 * (32 + 63)
        assert seen[:2] == ["* s0 joined", "* s0 left (quit)"]

    def test_refusals_leave_nothing_behind(self):
        net = storm_net()
        for _ in range(10_000):
            net.line_user(host=ATTACKER).drop()
        assert net.hub.connections == set() and len(net.hub.hosts) == 0
        assert len(net.hub.connect_throttle) == 1
        net.clock.advance(600)
        net.line_user(host="192.0.2.1").drop()
        assert len(net.hub.connect_throttle) == 1   # the attacker's is forgotten


class TestLogVolume:
    def logged(self, events) -> list[str]:
        return [formatEvent(event) for event in events]

    @pytest.mark.parametrize("protocol", ["line", "irc"])
    def test_a_session_is_two_lines(self, protocol):
        net = storm_net()
        with capturedLogs() as events:
            user = net.line_user(host=ATTACKER) if protocol == "line" else net.irc_user(
                host=ATTACKER)
            user.send(*(["#alice"] if protocol == "line" else ["NICK alice", "USER a 0 * :a"]))
            net.clock.advance(12.34)
            user.send("/quit" if protocol == "line" else "QUIT :my secret words")
            user.drop()
        name = "line" if protocol == "line" else "IRC"
        assert self.logged(events) == [
            f"{name} connection from {ATTACKER}",
            f"alice left (quit) after 12.3 s ({name} from {ATTACKER})"]

    def test_the_end_line_says_why_for_an_unregistered_connection(self):
        net = storm_net()
        with capturedLogs() as events:
            user = net.line_user(host=ATTACKER)
            net.clock.advance(60)
            user.drop()
        assert self.logged(events) == [
            f"line connection from {ATTACKER}",
            f"(unregistered) left (registration timeout (60 s)) after 60.0 s "
            f"(line from {ATTACKER})"]

    def test_a_storm_writes_a_bounded_number_of_lines(self):
        net = storm_net(connect_rate=0)   # all let in: the most lines there can be
        with capturedLogs() as events:
            for i in range(5000):
                churn(net, i, host=f"10.0.{i // 250}.{i % 250 + 1}",
                       protocol="line" if i % 2 else "irc")
            net.clock.advance(LOG_INTERVAL)
            churn(net, 5000)
        lines = self.logged(events)
        suppressed = 2 * 5000 - CONNECTION_LOG_LINES
        assert lines == lines[:CONNECTION_LOG_LINES] + [
            f"{suppressed} similar connection lines suppressed in 10 s",
            f"line connection from {ATTACKER}",
            f"s5000 left (quit) after 0.0 s (line from {ATTACKER})"]

    def test_refusals_have_their_own_budget(self):
        net = storm_net()
        for i in range(32):
            churn(net, i)
        net.clock.advance(LOG_INTERVAL)
        with capturedLogs() as events:
            for _ in range(10_000):
                net.line_user(host=ATTACKER).drop()
            net.line_user("neighbour", host="203.0.113.10")
        lines = self.logged(events)
        refusals = [line for line in lines if line.startswith("refused")]
        assert len(refusals) == LOG_LINES
        assert refusals[0] == f"refused {ATTACKER}: over 32 new connections in 600 s"
        assert lines[-1] == "line connection from 203.0.113.10"   # still logged
