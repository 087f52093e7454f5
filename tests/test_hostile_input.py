"""Hostile input against both adapters, in memory on a Clock.

Each test checks that the offender gets a clear answer (or nothing it could
abuse), that the server holds no more than a bounded amount for it, and
that everyone else carries on.
"""

from __future__ import annotations

import gc

import pytest
from irc_support import Net

from chatsvc.factory import ChatFactory

MiB = 1024 * 1024


def assert_no_state_left(net: Net) -> None:
    hub: ChatFactory = net.hub
    assert hub.connections == set()
    assert hub.users == {}
    assert len(hub.hosts) == 0
    assert hub._deadlines == {}
    assert all(len(room) == 0 for room in hub.rooms.values())
    assert net.clock.getDelayedCalls() == []


class TestUnterminatedStream:
    @pytest.mark.parametrize("protocol", ["line", "irc"])
    def test_100_mib_without_a_newline(self, protocol):
        net = Net(max_line=4096)
        watcher = net.line_user("watcher")
        attacker = net.line_user("attacker") if protocol == "line" else net.irc_user("attacker")
        watcher.read()
        attacker.read()
        chunk = b"A" * 65536          # what one socket read delivers
        feed = attacker.protocol.dataReceived
        buffered = attacker.protocol._lines
        for _ in range(100 * MiB // len(chunk)):
            feed(chunk)
            assert buffered.pending <= 4096 + 1
        replies = attacker.read()
        assert len(replies) == 1     # refused once, not once per chunk
        assert "too long" in replies[0].lower()
        assert not attacker.closed
        # The line ends; the connection works as before.
        end = b"\n" if protocol == "line" else b"\r\n"
        feed(end + (b"hello" if protocol == "line" else b"PRIVMSG #chat :hello") + end)
        assert watcher.read() == ["<attacker> hello"]

    def test_a_long_line_then_normal_lines_in_one_read(self):
        net = Net(max_line=100)
        watcher, sender = net.line_user("watcher"), net.line_user("sender")
        watcher.read()
        sender.protocol.dataReceived(b"x" * 5000 + b"\nafter\n")
        assert sender.read() == ["! line too long"]
        assert watcher.read() == ["<sender> after"]


class TestControlBytes:
    def test_nul_bytes_are_removed(self):
        net = Net()
        watcher, sender = net.line_user("watcher"), net.line_user("sender")
        watcher.read()
        sender.send(b"he\x00llo\x00")
        assert watcher.read() == ["<sender> hello"]

    def test_nul_bytes_from_irc_are_removed(self):
        net = Net()
        watcher, sender = net.line_user("watcher"), net.irc_user("sender")
        watcher.read()
        sender.send(b"PRIVMSG #chat :he\x00llo")
        assert watcher.read() == ["<sender> hello"]

    def test_a_lone_carriage_return_cannot_overwrite_a_line(self):
        # "\r" would move a terminal's cursor back and let the sender write
        # "<bob> ..." over its own name.
        net = Net()
        watcher, sender = net.line_user("watcher"), net.line_user("mallory")
        watcher.read()
        sender.send(b"hello\r<bob> I am bob", b"\r\r", b"ok\rok")
        data = watcher.transport.value()
        assert data.count(b"\r") == data.count(b"\r\n")   # only as line ends
        assert watcher.read() == ["<mallory> hello<bob> I am bob", "<mallory> okok"]

    def test_escape_sequences_are_inert(self):
        net = Net()
        watcher, sender = net.line_user("watcher"), net.line_user("mallory")
        watcher.read()
        sender.send(b"\x1b[2J\x1b]0;owned\x07\xc2\x9b31mred")
        assert watcher.read() == ["<mallory> [2J]0;owned31mred"]

    def test_telnet_negotiation_is_not_text(self):
        net = Net()
        watcher, sender = net.line_user("watcher"), net.line_user("telnet")
        watcher.read()
        sender.send(b"\xff\xfb\x01\xff\xfd\x03hi\xff\xf4")
        assert watcher.read() == ["<telnet> hi"]


class TestLookAlikeNames:
    @pytest.mark.parametrize("name, reply", [
        ("ALICE", "! name taken: ALICE"),
        ("Alice", "! name taken: Alice"),
        ("\u0430lice", "! bad name:"),        # Cyrillic a
        ("al\u0456ce", "! bad name:"),        # Ukrainian i
        ("\uff41lice", "! bad name:"),        # fullwidth a
        ("alice\u200b", "! bad name:"),       # zero-width space
        ("ali\u0301ce", "! bad name:"),       # combining accent
        ("alic\u0435", "! bad name:"),        # Cyrillic e
    ])
    def test_line_protocol(self, name, reply):
        net = Net()
        net.line_user("alice")
        impostor = net.line_user()
        impostor.read()
        impostor.send(f"#{name}")
        assert impostor.read()[0].startswith(reply)
        assert list(net.hub.users) == ["alice"]

    @pytest.mark.parametrize("name", ["ALICE", "\u0430lice", "\uff41lice", "alice\u200b"])
    def test_irc(self, name):
        net = Net()
        net.line_user("alice")
        impostor = net.irc_user()
        replies = impostor.ask(f"NICK {name}", "USER x 0 * :x")
        assert any(" 433 " in r or " 432 " in r for r in replies), replies
        assert list(net.hub.users) == ["alice"]


class TestChurn:
    def test_rapid_renames(self):
        net = Net()
        watcher, renamer = net.line_user("watcher"), net.line_user("r0")
        watcher.read()
        for i in range(1, 1001):
            renamer.send(f"#r{i}")
        assert watcher.read() == [f"* r{i - 1} is now r{i}" for i in range(1, 1001)]
        assert sorted(net.hub.users) == ["r1000", "watcher"]
        assert net.hub.who()[1] == ["r1000", "watcher"]

    def test_rapid_register_rename_quit_cycles(self):
        net = Net(register_timeout=60)
        watcher = net.line_user("watcher")
        for i in range(500):
            user = net.line_user()
            user.send(f"#u{i}", f"#v{i}", "hi", "/quit")
            user.drop()
            if i % 2:   # and IRC users doing the same
                user = net.irc_user(f"w{i}")
                user.send(f"NICK x{i}", "PRIVMSG #chat :hi", "QUIT :bye")
                user.drop()
        seen = watcher.read()
        assert seen.count("<v0> hi") == 1 and seen[-1] == "* x499 left (Quit: bye)"
        assert sorted(net.hub.users) == ["watcher"]
        watcher.drop()
        assert_no_state_left(net)

    def test_10000_connects_and_disconnects(self):
        # With the default limits on: per-address counts, deadlines and
        # flood gates must all be released.
        net = Net(max_per_ip=16, flood_rate=2, register_timeout=60)
        watcher = net.line_user("watcher", host="198.51.100.1")
        gc.collect()
        for i in range(10_000):
            host = f"203.0.{i % 200}.{i % 250 + 1}"
            user = net.line_user(host=host) if i % 2 else net.irc_user(host=host)
            if i % 3 == 0:
                user.send(b"#" + f"n{i}".encode() if i % 2 else f"NICK n{i}".encode())
            if i % 7 == 0:
                user.send(b"half a li")
            user.drop()
        assert watcher.closed is False
        assert sorted(net.hub.users) == ["watcher"]
        assert net.hub.connections == {watcher.protocol}
        watcher.drop()
        assert_no_state_left(net)


class TestCTCPInjection:
    """CTCP passed between IRC users as sent (issue 13, item 3)."""

    FORGE = b"PRIVMSG victim :\x01PING 1\r:evil!evil@chat.test PRIVMSG victim :FORGED\x01"

    def test_a_bare_cr_cannot_forge_a_line(self):
        net = Net()
        victim, attacker = net.irc_user("victim"), net.irc_user("attacker")
        victim.read()
        attacker.send(self.FORGE)
        # Before: "...:\x01PING 1\r:evil!evil@chat.test PRIVMSG victim :FORGED\x01\r\n",
        # which HexChat and mIRC show as a second line from evil.
        assert victim.transport.value() == (
            b":attacker!~attacker@192.0.2.1 PRIVMSG victim "
            b":\x01PING 1:evil!evil@chat.test PRIVMSG victim :FORGED\x01\r\n")

    def test_nul_and_escape_sequences_are_removed_from_a_ctcp_reply(self):
        net = Net()
        victim, attacker = net.irc_user("victim"), net.irc_user("attacker")
        victim.read()
        attacker.send(b"NOTICE victim :\x01VERSION x\x00y\r\x1b[2J\xc2\x9b1mZ\x01")
        assert victim.transport.value() == (
            b":attacker!~attacker@192.0.2.1 NOTICE victim :\x01VERSION xy[2J1mZ\x01\r\n")

    def test_formatting_passes_and_delimiters_are_restored(self):
        net = Net()
        victim, attacker = net.irc_user("victim"), net.irc_user("attacker")
        victim.read()
        attacker.send(b"PRIVMSG victim :\x01PING \x02bold\x02 \x0304red\x01",
                      b"PRIVMSG victim :\x01VERSION",            # never closed
                      b"PRIVMSG victim :\x01TIME a\x01b\x01")      # a delimiter inside
        assert victim.read() == [
            ":attacker!~attacker@192.0.2.1 PRIVMSG victim :\x01PING \x02bold\x02 \x0304red\x01",
            ":attacker!~attacker@192.0.2.1 PRIVMSG victim :\x01VERSION\x01",
            ":attacker!~attacker@192.0.2.1 PRIVMSG victim :\x01TIME ab\x01",
        ]

    def test_every_target_gets_the_sanitised_request(self):
        net = Net()
        one, two = net.irc_user("one"), net.irc_user("two")
        watcher, attacker = net.line_user("watcher"), net.irc_user("attacker")
        for user in (one, two, watcher):
            user.read()
        attacker.send(b"PRIVMSG one,two,#chat,watcher :\x01PING 1\r\x00\x1b\x01")
        for user in (one, two):
            assert user.read()[-1].endswith(" :\x01PING 1\x01")
        assert watcher.read() == []   # a line client cannot answer CTCP
        assert attacker.read() == [
            ":chatsvc NOTICE attacker :#chat cannot answer CTCP: not an IRC client",
            ":chatsvc NOTICE attacker :watcher cannot answer CTCP: not an IRC client",
        ]

    def test_an_action_is_sanitised_too(self):
        net = Net()
        victim, watcher = net.irc_user("victim"), net.line_user("watcher")
        attacker = net.irc_user("attacker")
        victim.read()
        watcher.read()
        attacker.send(b"PRIVMSG #chat :\x01ACTION waves\r\x00\x1b[2J\x01")
        assert victim.read() == [
            ":attacker!~attacker@192.0.2.1 PRIVMSG #chat :\x01ACTION waves[2J\x01"]
        assert watcher.read() == ["* attacker waves[2J"]
