"""Password guessing backs off (issue 13, item 5), on both protocols, on a Clock.

Before: one address tried 19,925 /oper passwords a second and found the
right one after 139,000 wrong ones; the server password took 7,291 a
second.  Now three failures are free, then the address and the account
are shut for 1 s, 2 s, 4 s ... (up to 10 minutes for an address, a minute
for an account), counted across connections; while shut, an attempt is
refused without the password being looked at, and a connection's fifth
failed or refused attempt closes it.
"""

from __future__ import annotations

import pytest
from support import Net
from twisted.logger import capturedLogs, formatEvent

from chatsvc.conn.limits import FREE_FAILURES, LOG_INTERVAL, LOG_LINES, MAX_TRACKED

OPERS = {"admin": "right-password"}
BAD_OPER = "! bad operator name or password"
BACKING_OFF = "! too many failed attempts: try again in {} s"


def oper_net(**settings: object) -> Net:
    return Net(opers=OPERS, **settings)


class TestOper:

    def test_a_guessing_loop_gets_three_guesses_and_is_disconnected(self):
        net = oper_net()
        watcher = net.line_user("watcher", host="198.51.100.1")
        attacker = net.line_user("attacker", host="203.0.113.9")
        watcher.read()
        attacker.send(*(f"/oper admin guess{i}" for i in range(10_000)))
        replies = attacker.read()
        # Four guesses looked at (three free, the fourth shuts the address
        # and the account for 1 s); the fifth attempt is refused unchecked,
        # and closes the connection.
        assert replies == [BAD_OPER] * (FREE_FAILURES + 1) + [
            BACKING_OFF.format(1), "* too many failed attempts"]
        assert attacker.closed
        assert len(replies) < 10     # nothing more was even looked at
        attacker.drop()
        assert watcher.read() == ["* attacker left (too many failed attempts)"]

    def test_while_shut_even_the_right_password_is_refused_unchecked(self):
        net = oper_net()
        attacker = net.line_user("attacker")
        attacker.send(*(f"/oper admin guess{i}" for i in range(FREE_FAILURES + 1)))
        attacker.drop()
        owner = net.line_user("owner")
        owner.send("/oper admin right-password")
        assert owner.read() == [BACKING_OFF.format(1)]
        assert owner.protocol not in net.hub.opers
        net.clock.advance(1)
        owner.send("/oper admin right-password")
        assert owner.read() == ["* you are now a server operator"]

    def test_reconnecting_does_not_reset_the_count(self):
        net = oper_net()
        for i in range(FREE_FAILURES + 1):
            user = net.line_user(f"try{i}", host="203.0.113.9")
            user.send(f"/oper admin guess{i}")
            assert user.read() == [BAD_OPER]
            user.drop()
        user = net.line_user("again", host="203.0.113.9")
        user.send("/oper admin guess")
        assert user.read() == [BACKING_OFF.format(1)]
        # The back-off doubles with each failure, across connections.
        net.clock.advance(1)
        user.send("/oper admin guess")
        user.drop()
        user = net.line_user("and-again", host="203.0.113.9")
        user.send("/oper admin guess")
        assert user.read() == [BACKING_OFF.format(2)]

    def test_the_account_backs_off_whatever_the_address(self):
        net = oper_net()
        for i in range(FREE_FAILURES + 1):
            user = net.line_user(f"bot{i}", host=f"203.0.113.{i + 1}")
            user.send("/oper admin guess")
            assert user.read() == [BAD_OPER]
        fresh = net.line_user("fresh", host="198.51.100.50")
        fresh.send("/oper admin right-password")
        assert fresh.read() == [BACKING_OFF.format(1)]
        # Another account from that fresh address is not held back.
        fresh.send("/oper other guess")
        assert fresh.read() == [BAD_OPER]

    def test_ipv6_addresses_count_per_64(self):
        net = oper_net()
        for i in range(FREE_FAILURES + 1):
            user = net.line_user(f"v{i}", host=f"2001:db8:1:2::{i + 1}")
            user.send(f"/oper nobody{i} guess")
            user.read()
        user = net.line_user("v6", host="2001:db8:1:2:ffff::1")
        user.send("/oper someone guess")
        assert user.read() == [BACKING_OFF.format(1)]

    def test_irc_oper(self):
        net = oper_net()
        attacker = net.irc_user("attacker", host="203.0.113.9")
        replies = attacker.ask(*(f"OPER admin guess{i}" for i in range(1000)))
        assert replies[:FREE_FAILURES + 1] == [
            ":chatsvc 464 attacker :Password incorrect"] * (FREE_FAILURES + 1)
        # The fifth attempt: refused unchecked, said as the connection closes.
        assert replies[FREE_FAILURES + 1:] == [
            ":chatsvc NOTICE attacker :too many failed attempts: try again in 1 s",
            "ERROR :Closing link: 203.0.113.9 (too many failed attempts)"]
        assert attacker.closed
        # The same address on the line protocol is shut too.
        line = net.line_user("liner", host="203.0.113.9")
        line.send("/oper admin right-password")
        assert line.read() == [BACKING_OFF.format(1)]

    def test_a_person_who_mistypes_is_not_bothered(self):
        net = oper_net()
        user = net.irc_user("alice")
        assert user.ask("OPER admin rigth-password") == [
            ":chatsvc 464 alice :Password incorrect"]
        assert user.ask("OPER admin right-password")[0] == (
            ":chatsvc 381 alice :You are now an IRC operator")


class TestServerPassword:
    def test_line_reconnect_loop(self):
        net = Net(password="right-password")
        answers = []
        for i in range(100):
            user = net.line_user(host="203.0.113.9")
            user.read()
            user.send(f"/pass guess{i}")
            answers.append(user.read())
            assert user.closed   # a wrong server password always closes
            user.drop()
        assert answers[:FREE_FAILURES + 1] == [["! wrong password"]] * (FREE_FAILURES + 1)
        assert answers[FREE_FAILURES + 1:] == [[BACKING_OFF.format(1)]] * (
            100 - FREE_FAILURES - 1)
        # The right one is refused too until the wait is over; then it works.
        user = net.line_user(host="203.0.113.9")
        user.read()
        user.send("/pass right-password")
        assert user.read() == [BACKING_OFF.format(1)]
        net.clock.advance(1)
        user = net.line_user(host="203.0.113.9")
        user.read()
        user.send("/pass right-password", "#alice")
        assert user.read() == ["* password accepted: now register with #yourname",
                               "* you are alice", "* you are in #chat alone for now"]

    def test_irc_reconnect_loop(self):
        net = Net(password="right-password")
        for i in range(FREE_FAILURES + 1):
            user = net.irc_user(host="203.0.113.9")
            assert user.ask(f"PASS guess{i}", "NICK x", "USER x 0 * :x")[0] == (
                ":chatsvc 464 * :Password incorrect")
            assert user.closed
        user = net.irc_user(host="203.0.113.9")
        assert user.ask("PASS right-password", "NICK x", "USER x 0 * :x") == [
            ":chatsvc 464 * :too many failed attempts: try again in 1 s",
            "ERROR :Closing link: 203.0.113.9 (too many failed attempts: try again in 1 s)"]
        assert "x" not in net.hub.users
        net.clock.advance(1)
        user = net.irc_user(host="203.0.113.9")
        assert " 001 x " in user.ask("PASS right-password", "NICK x", "USER x 0 * :x")[0]

    def test_others_are_not_held_back(self):
        net = Net(password="right-password")
        for _ in range(10):
            net.line_user(host="203.0.113.9").send("/pass guess")
        user = net.line_user(host="198.51.100.7")
        user.read()
        user.send("/pass right-password", "#bob")
        assert user.read()[-2] == "* you are bob"


class TestBounded:
    def test_the_failure_log_is_rate_limited(self):
        net = oper_net()
        with capturedLogs() as events:
            for i in range(1000):   # one guess from each of 1,000 addresses
                user = net.line_user(f"u{i}", host=f"10.0.{i // 250}.{i % 250 + 1}")
                user.send(f"/oper nobody{i} guess")
                user.drop()
        failures = [formatEvent(e) for e in events if "failed /oper" in formatEvent(e)]
        assert len(failures) == LOG_LINES
        net.clock.advance(LOG_INTERVAL)
        with capturedLogs() as events:
            user = net.line_user("late", host="192.0.2.200")
            user.send("/oper nobody guess")
        text = [formatEvent(e) for e in events]
        assert f"{1000 - LOG_LINES} similar failed-password lines suppressed in 10 s" in text
        assert any("failed /oper as nobody by late" in line for line in text)

    def test_memory_is_bounded(self):
        net = oper_net()
        user = net.line_user("u")
        for i in range(MAX_TRACKED + 500):
            user.protocol.record.host = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
            user.send(f"/oper account{i} guess")
            net.hub._attempts.clear()   # one connection pretending to be many
        assert len(net.hub.address_failures) == MAX_TRACKED
        assert len(net.hub.account_failures) == MAX_TRACKED

    def test_a_long_account_name_costs_little(self):
        net = oper_net()
        user = net.line_user("u")
        user.send("/oper " + "a" * 3000 + " guess")
        assert user.read() == [BAD_OPER]
        assert all(len(key) <= 64 for key in net.hub.account_failures._entries)

    @pytest.mark.parametrize("protocol", ["line", "irc"])
    def test_nothing_is_left_after_the_connection(self, protocol):
        net = oper_net()
        user = net.line_user("u") if protocol == "line" else net.irc_user("u")
        user.send(*(["/oper admin x"] if protocol == "line" else ["OPER admin x"]) * 2)
        assert net.hub._attempts == {user.protocol: 2}
        user.drop()
        assert net.hub._attempts == {}

