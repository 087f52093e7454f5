"""Hostile input against both adapters, in memory on a Clock.

Each test checks that the offender gets a clear answer (or nothing it could
abuse), that the server holds no more than a bounded amount for it, and
that everyone else carries on.
"""

from __future__ import annotations

import gc

import pytest
from support import Net, who

from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.text import clean_line

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
        assert sender.read() == ["! line too long (limit 100 bytes)"]
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
        assert who(net.hub)[1] == ["r1000", "watcher"]

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
        attacker.send(b"NOTICE victim :\x01VERSION x\x00y\r\x1b[2J\xc2\x9b1m\xe2\x80\xaeZ\x01")
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
        attacker.send(b"PRIVMSG #chat :\x01ACTION waves\r\x00\x1b[2J\xe2\x80\xae\x01")
        assert victim.read() == [
            ":attacker!~attacker@192.0.2.1 PRIVMSG #chat :\x01ACTION waves[2J\x01"]
        assert watcher.read() == ["* attacker waves[2J"]


# Room names that pass for "#chat" (or are invisible, reordering or have no
# agreed look), and what the refusal says (issue 13, item 10).
LOOK_ALIKE_ROOMS = [
    ("#chat\u200b", "U+200B ZERO WIDTH SPACE not allowed in a room name: an invisible"),
    ("#\u0441hat", "mixes Cyrillic and Latin letters, which look alike"),
    ("#\u202etahc", "U+202E RIGHT-TO-LEFT OVERRIDE not allowed in a room name: a bidirectional"),
    ("#\u2066chat\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE not allowed"),
    ("#\uff43\uff48\uff41\uff54", "not in Unicode normal form NFKC, so another name looks the "
                                  "same: use #chat"),
    ("#cafe\u0301", "not in Unicode normal form NFKC, so another name looks the same: "
                    "use #caf\u00e9"),
    ("#c\u00adhat", "U+00AD SOFT HYPHEN not allowed in a room name: an invisible"),
    ("#ch\u2060at", "U+2060 WORD JOINER"),
    ("#chat\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("#ch\u200dat", "U+200D ZERO WIDTH JOINER"),
    ("#chat\u200e", "U+200E LEFT-TO-RIGHT MARK"),
    ("#chat\u3164", "U+3164 HANGUL FILLER not allowed in a room name: an invisible character"),
    ("#chat\ufe0f", "U+FE0F VARIATION SELECTOR-16"),
    ("#ch\u00a0at", "U+00A0 NO-BREAK SPACE not allowed in a room name: a space"),
    ("#ch\u3000at", "U+3000 IDEOGRAPHIC SPACE not allowed in a room name: a space"),
    ("#ch\u2028at", "U+2028 LINE SEPARATOR not allowed in a room name: a line or paragraph"),
    ("#ch\ue000at", "U+E000 not allowed in a room name: a private-use character"),
    ("#ch\u0378at", "U+0378 not allowed in a room name: not a character in Unicode"),
    ("#\u0441\u043d\u0430t", "mixes Cyrillic and Latin letters"),
    ("#p\u0430ypal", "mixes Latin and Cyrillic letters"),
    ("#\u03bfk", "mixes Greek and Latin letters"),
    ("#\u0570ello", "mixes Armenian and Latin letters"),
    ("#\u13a0ave", "mixes Cherokee and Latin letters"),
]
# Real names in one script (or scripts that do not look alike) still work.
GOOD_ROOMS = ["#чат", "#日本語", "#café", "#αθήνα", "#مرحبا", "#שלום", "#हिन्दी",
              "#python日本", "#한국어", "#straße-2", "#☕"]


class TestLookAlikeRoomNames:
    @pytest.mark.parametrize("room, why", LOOK_ALIKE_ROOMS)
    def test_line_protocol(self, room, why):
        net = Net()
        mallory = net.line_user("mallory")
        mallory.send(f"/join {room}")
        reply = mallory.read()
        if clean_line(room.encode()).split()[0] == room:
            assert reply[0].startswith(f"! bad room name: {why}"), reply
            assert sorted(net.hub.rooms) == ["#chat"]
        else:  # the line input removes the character, or ends the word there
            assert all(name.isascii() for name in net.hub.rooms), reply

    @pytest.mark.parametrize("room, why", LOOK_ALIKE_ROOMS)
    def test_irc(self, room, why):
        net = Net()
        mallory = net.irc_user("mallory")
        reply = mallory.ask(f"JOIN :{room}")
        assert reply[0].startswith(f":chatsvc 479 mallory {room} :Illegal channel name: {why}"), \
            reply
        assert sorted(net.hub.rooms) == ["#chat"]

    @pytest.mark.parametrize("room", GOOD_ROOMS)
    def test_names_in_one_script_work(self, room):
        net = Net()
        alice, bob = net.irc_user("alice"), net.line_user("bob")
        assert alice.ask(f"JOIN {room}")[0] == f":alice!~alice@192.0.2.1 JOIN {room}"
        bob.send(f"/join {room}")
        assert bob.read()[0] == f"* you joined {room} (2 here)"


class TestReorderingText:
    """Bidi overrides and line separators are removed from text (item 10)."""

    HOSTILE = "a\u202eb\u202dc\u2066d\u2069e\u2028f\u2029g\u200fh\u200di\u200cj\u200bk"
    KEPT = "abcdefg\u200fh\u200di\u200cj\u200bk"

    def test_irc_to_irc_and_line(self):
        net = Net()
        victim, watcher, sender = (net.irc_user("victim"), net.line_user("watcher"),
                                   net.irc_user("sender"))
        victim.read()
        watcher.read()
        sender.send(f"PRIVMSG #chat :{self.HOSTILE}", f"TOPIC #chat :{self.HOSTILE}",
                    f"AWAY :{self.HOSTILE}", f"PART #chat :{self.HOSTILE}")
        seen = victim.read()
        assert seen[0] == f":sender!~sender@192.0.2.1 PRIVMSG #chat :{self.KEPT}"
        assert seen[-1] == f":sender!~sender@192.0.2.1 PART #chat :{self.KEPT}"
        assert watcher.read()[0] == f"<sender> {self.KEPT}"

    def test_line_to_irc(self):
        net = Net()
        victim, sender = net.irc_user("victim"), net.line_user("sender")
        victim.read()
        sender.send(self.HOSTILE, f"@victim:{self.HOSTILE}")
        assert victim.read() == [
            f":sender!sender@198.51.100.7 PRIVMSG #chat :{self.KEPT}",
            f":sender!sender@198.51.100.7 PRIVMSG victim :{self.KEPT}",
        ]


class TestServiceNames:
    """Nobody may be NickServ: IRC clients send it their password (item 11)."""

    @pytest.mark.parametrize("name", ["NickServ", "nickserv", "CHANSERV", "OperServ",
                                      "MemoServ", "HostServ", "BotServ", "SaslServ", "Global"])
    def test_line_protocol_register_and_rename(self, name):
        net = Net()
        mallory = net.line_user()
        mallory.read()
        mallory.send(f"#{name}")
        assert mallory.read() == [f"! bad name: {name} is reserved for network services"]
        mallory.send("#mallory", f"/nick {name}", f"#{name}")
        assert mallory.read()[2:] == [f"! bad name: {name} is reserved for network services"] * 2
        assert list(net.hub.users) == ["mallory"]

    @pytest.mark.parametrize("name", ["NickServ", "nickserv", "ChanServ", "HistServ", "ALIS"])
    def test_irc_before_and_after_registering(self, name):
        net = Net()
        mallory = net.irc_user()
        assert mallory.ask(f"NICK {name}", "USER m 0 * :m") == [
            f":chatsvc 432 * {name} :Erroneous nickname: {name} is reserved for network services"]
        registered = net.irc_user("mallory")
        assert registered.ask(f"NICK {name}") == [
            f":chatsvc 432 mallory {name} :Erroneous nickname: {name} is reserved for network "
            "services"]
        assert list(net.hub.users) == ["mallory"]

    def test_identify_reaches_nobody(self):
        net = Net()
        # Before: the first to ask got the name, and every password after.
        impostor, line_impostor = net.irc_user(), net.line_user()
        impostor.send("NICK NickServ", "USER n 0 * :n")
        line_impostor.send("#NickServ")
        user, watcher = net.irc_user("user"), net.line_user("watcher")
        others = [net.irc_user(name) for name in ("NickServ_", "Nick", "Serv")]
        others += [watcher, impostor, line_impostor]
        for other in others:
            other.read()
        assert user.ask("PRIVMSG NickServ :IDENTIFY user hunter2") == [
            ":chatsvc 401 user NickServ :No such nick/channel",
            ":chatsvc NOTICE user :NickServ: this server has no services yet (no accounts): "
            "nothing was sent",
        ]
        # A NOTICE is never answered, not even with 401 (RFC 1459 4.4.2).
        assert user.ask("NOTICE nickserv :IDENTIFY hunter2") == []
        watcher.send("@NickServ:IDENTIFY hunter2")
        assert watcher.read() == [
            "! no such user: NickServ (this server has no services yet (no accounts): "
            "nothing was sent)"]
        for other in others:
            assert b"hunter2" not in other.transport.value()
