"""Issue 13, item 2: small requests with huge replies, in memory on a Clock.

Each attack is the one measured against a running server, replayed on an
in-memory hub, counting the bytes the attacker receives (the figures before
the fix are in the comments).  The normal cases are checked too: a list
asked for once is shown whole, and a small server lists everything.
"""

from __future__ import annotations

import re

import pytest
from support import Net, numerics

from chatsvc.events import RoomList
from chatsvc.protocols.line.wire import LineParser

KB = 1000
TOPIC = "t" * 360  # 550 rooms with such topics: LIST was 220 KB


def received(user) -> int:
    """Bytes the user got since the last read (and forget them)."""
    size = len(user.transport.value())
    user.transport.clear()
    return size


def banned_room(net: Net, bans: int = 100):
    """#room with C{bans} bans, run by an IRC operator ``op``."""
    op = net.irc_user("op", channels="#room")
    masks = [f"*!*@host{n}.spam.example" for n in range(bans)]
    for start in range(0, bans, 4):
        op.send("MODE #room +bbbb " + " ".join(masks[start:start + 4]))
    op.read()
    assert len(net.hub.rooms["#room"].bans) == bans
    return op


@pytest.fixture(scope="module")
def big() -> Net:
    """A server with 551 rooms (550 with a long topic) and 2,001 users."""
    net = Net()
    for n in range(550):
        owner = net.line_user(f"owner{n}")
        owner.send(f"/join #room{n:03d}", f"/topic {TOPIC}")
    for n in range(2000 - 550):
        net.line_user(f"user{n}")
    assert len(net.hub.rooms) == 551
    return net


# -- MODE list queries (27 MB for one 4 KB line) --------------------------------


class TestModeListQueries:
    def test_thousands_of_b_lists_the_bans_once(self):
        # Before: the ban list 4,076 times, 27,488,544 bytes, to a non-member.
        net = Net(max_line=8192)
        banned_room(net)
        attacker = net.irc_user("attacker", channels="")
        received(attacker)
        attacker.send("MODE #room +" + "b" * 4076)
        lines = attacker.read()
        assert numerics(lines).count("368") == 1
        assert numerics(lines).count("367") == 100
        assert sum(len(line) + 2 for line in lines) < 10 * KB

    def test_without_a_sign_too(self):
        net = Net(max_line=8192)
        banned_room(net)
        attacker = net.irc_user("attacker", channels="")
        assert numerics(attacker.ask("MODE #room " + "b" * 4000)).count("368") == 1

    def test_each_list_once_per_command(self):
        net = Net()
        op = banned_room(net, bans=3)
        lines = op.ask("MODE #room +bebIbeIbeI")
        assert numerics(lines) == ["367"] * 3 + ["368", "349", "347"]

    def test_a_list_asked_once_is_shown_whole(self):
        net = Net()
        banned_room(net)  # 100 bans: MAXLIST, the most a list holds
        viewer = net.irc_user("viewer", channels="")
        lines = viewer.ask("MODE #room +b")
        assert numerics(lines) == ["367"] * 100 + ["368"]
        # And again at once: a ban list is no reason to wait.
        assert numerics(viewer.ask("MODE #room b")) == ["367"] * 100 + ["368"]

    def test_line_protocol_mode_with_thousands_of_b(self):
        # Before: 10,242,988 bytes for "/mode +" and 4,076 b's.
        net = Net(max_line=8192)
        op = banned_room(net)
        member = net.line_user("member")
        member.send("/join #room")
        op.send("MODE #room +o member")
        member.read()
        member.send("/mode +" + "b" * 4076)
        lines = member.read()
        assert lines == ["! too many modes in one command: at most 4 with an argument or "
                         "a list to show, and 20 in all"]
        member.send("/mode +bbbb")
        (line,) = member.read()
        assert line.startswith("* bans on #room (100): *!*@host0.spam.example, ")
        member.send("/ban")
        assert member.read()[0].startswith("* bans on #room (100): ")


# -- MODES=4 and the letters of one command -------------------------------------


class TestModesLimit:
    def test_irc_ignores_arguments_past_four(self):
        net = Net()
        op = net.irc_user("op", channels="#room")
        watcher = net.irc_user("watcher", channels="#room")
        watcher.read()
        op.send("MODE #room +bbbbbb a b c d e f")
        assert watcher.read() == [
            ":op!~op@192.0.2.1 MODE #room +bbbb a!*@* b!*@* c!*@* d!*@*"]
        assert len(net.hub.rooms["#room"].bans) == 4

    def test_irc_applies_the_flags_after_the_excess(self):
        net = Net()
        op = net.irc_user("op", channels="#room")
        for nick in "abcde":
            net.irc_user(nick, channels="#room")
        op.read()
        op.send("MODE #room +ooooom a b c d e")
        assert op.read() == [":op!~op@192.0.2.1 MODE #room +oooom a b c d"]

    def test_irc_flag_letters_are_bounded(self):
        # Before: 2,000 changes, announced to every member in one line that
        # IRC cut at 512 bytes and line users got whole (4,019 bytes).
        net = Net()
        op = net.irc_user("op", channels="#room")
        member = net.line_user("member")
        member.send("/join #room")
        member.read()
        op.read()
        op.send("MODE #room " + "+i-i" * 1000)
        (announced,) = op.read()
        assert announced == ":op!~op@192.0.2.1 MODE #room +i-i+i-i+i-i+i-i+i-i+i-i+i-i+i-i+i-i+i-i"
        assert len(member.read()) == 1

    def test_line_protocol_refuses_more_than_four(self):
        net = Net()
        op = net.line_user("op")
        op.send("/join #room")
        op.read()
        op.send("/ban a b c d e")
        assert op.read() == ["! too many modes in one command: at most 4 with an argument "
                             "or a list to show, and 20 in all"]
        assert len(net.hub.rooms["#room"].bans) == 0
        op.send("/ban a b c d")
        assert op.read() == ["* op sets +bbbb a!*@* b!*@* c!*@* d!*@* on #room"]
        op.send("/mode " + "+i-i" * 10 + "+m")  # 21 letters
        assert op.read()[0].startswith("! too many modes in one command")
        op.send("/mode " + "+i-i" * 10)  # 20: as many as one command may hold
        assert op.read() == ["* op sets " + "+i-i" * 10 + " on #room"]

    def test_the_hub_refuses_more_than_one_command_holds(self):
        from chatsvc.hub.errors import TooManyModes
        from chatsvc.hub.modes import ModeChange

        net = Net()
        op = net.line_user("op")
        op.send("/join #room")
        changes = [ModeChange(True, "b", f"mask{n}") for n in range(5)]
        with pytest.raises(TooManyModes):
            net.hub.set_modes(op.protocol, "#room", changes)
        assert len(net.hub.rooms["#room"].bans) == 0

    def test_isupport_says_so(self):
        net = Net()
        user = net.irc_user(None)
        user.send("NICK alice", "USER alice 0 * :Alice")
        tokens = " ".join(line for line in user.read() if " 005 " in line).split()
        assert "MODES=4" in tokens
        assert "ELIST=MNU" in tokens


# -- LIST, /rooms, WHO, NAMES on a big server ---------------------------------


class TestListOutput:
    def test_list_is_capped(self, big: Net):
        # Before: 220,116 bytes for "LIST" (550 rooms with long topics).
        lister = big.irc_user("lister1", channels="")
        received(lister)
        lister.send("LIST")
        lines = lister.read()
        kinds = numerics(lines)
        assert kinds.count("322") == 100
        assert kinds[0] == "321" and kinds[-1] == "323"
        assert kinds[-2] == "NOTICE"
        assert "LIST shows 100 of 551 channels: narrow it with LIST *word*" in lines[-2]
        assert sum(len(line) + 2 for line in lines) < 50 * KB

    def test_list_masks_and_counts_narrow_it(self, big: Net):
        lister = big.irc_user("lister2", channels="")
        names = lambda reply: [line.split()[3] for line in reply if " 322 " in line]  # noqa: E731
        assert names(lister.ask("LIST #room12*")) == [f"#room12{n}" for n in range(10)]
        assert names(lister.ask("LIST #room12*,!*5")) == [
            f"#room12{n}" for n in range(10) if n != 5]
        assert names(lister.ask("LIST >1")) == ["#chat"]
        assert names(lister.ask("LIST #room001,#ROOM002,#nope")) == ["#room001", "#room002"]

    def test_repeated_list_gets_263(self, big: Net):
        # Before: ten LISTs in one burst were 2,201,160 bytes.
        lister = big.irc_user("lister3", channels="")
        received(lister)
        replies = []
        for _ in range(10):
            replies.append(lister.ask("LIST"))
        assert sum(len(line) + 2 for reply in replies for line in reply) < 400 * KB
        refused = replies[-1]
        assert refused == [":chatsvc 263 lister3 LIST :Please wait a while and try again.",
                           ":chatsvc 323 lister3 :End of /LIST"]
        big.clock.advance(60)
        assert numerics(lister.ask("LIST")).count("322") == 100

    def test_repeated_list_with_masks_gets_263_even_when_nothing_matches(self, big: Net):
        # Each mask is tried on every room: that work is charged, not just bytes.
        lister = big.irc_user("lister4", channels="")
        answered = [lister.ask("LIST *a*a*a*a*a*a*a*a*a*a*a*b,!*c") for _ in range(10)]
        kinds = [numerics(lines) for lines in answered]
        assert kinds[0] == ["321", "323"]  # nothing matches, and yet:
        assert kinds[-1] == ["263", "323"]
        assert kinds.index(["263", "323"]) == 4  # 256 KiB / (551 rooms x 2 masks x 64)

    def test_line_rooms_is_paginated(self, big: Net):
        # Before: one 206,279-byte line.
        reader = big.line_user("reader1")
        reader.send("/rooms")
        (line,) = reader.read()
        assert re.match(r"\* rooms 1-50 of 551 \(/rooms 2 for more\): "
                        r"#chat \(\d+\), #room000 \(1\) t", line)
        assert len(line) < 25 * KB
        reader.send("/rooms 12")
        (last,) = reader.read()
        assert last.startswith("* rooms 551-551 of 551: #room549 (1) ")
        reader.send("/rooms 13")
        assert reader.read() == ["! no page 13: 551 rooms make 12 pages of 50"]
        reader.send("/rooms all")
        assert reader.read() == ["! usage: /rooms [page]"]

    def test_a_page_parses_back(self, big: Net):
        reader = big.line_user("reader2")
        reader.send("/rooms 2")
        (line,) = reader.read()
        event = LineParser().parse(line)
        assert isinstance(event, RoomList)
        assert (event.first, event.total, event.next_page) == (51, 551, 3)
        assert len(event.rooms) == 50
        assert event.rooms[0] == ("#room049", 1, TOPIC)

    def test_repeated_rooms_get_an_error(self, big: Net):
        # Before: ten /rooms in one burst were 2,062,790 bytes.
        reader = big.line_user("reader3")
        total = 0
        for _ in range(20):
            reader.send("/rooms")
            total += received(reader)
        assert total < 400 * KB
        reader.send("/rooms")
        (refused,) = reader.read()
        assert refused.startswith("! too many long replies at once: try /rooms again in ")
        big.clock.advance(60)
        reader.send("/rooms")
        assert reader.read()[0].startswith("* rooms 1-50 of 551")

    def test_who_star_is_capped_for_users(self, big: Net):
        # Before: "WHO *" listed all 2,001 users, 158,107 bytes.
        asker = big.irc_user("asker1", channels="")
        received(asker)
        asker.send("WHO *")
        lines = asker.read()
        assert numerics(lines) == ["352"] * 100 + ["416", "315"]
        assert lines[-2] == ":chatsvc 416 asker1 WHO :Output too large, truncated"
        assert sum(len(line) + 2 for line in lines) < 10 * KB

    def test_who_star_is_whole_for_server_operators(self):
        net = Net(opers={"root": "pw"})
        for n in range(150):
            net.line_user(f"user{n}")
        oper = net.irc_user("oper", channels="")
        oper.send("OPER root pw")
        oper.read()
        assert numerics(oper.ask("WHO *")) == ["352"] * 151 + ["315"]

    def test_repeated_who_gets_263(self, big: Net):
        asker = big.irc_user("asker2", channels="")
        for _ in range(100):
            lines = asker.ask("WHO #chat")
            if numerics(lines)[0] == "263":
                break
        assert lines == [":chatsvc 263 asker2 WHO :Please wait a while and try again.",
                         ":chatsvc 315 asker2 #chat :End of /WHO list"]

    def test_names_of_one_channel_many_times_is_answered_once(self, big: Net):
        # Before: "NAMES #chat,#chat,..." (400 times) was 5,094,800 bytes.
        asker = big.irc_user("asker3", channels="")
        received(asker)
        asker.send("NAMES " + ",".join(["#chat"] * 400))
        lines = asker.read()
        assert numerics(lines).count("366") == 1
        assert sum(len(line) + 2 for line in lines) < 20 * KB


class TestSmallServer:
    def test_list_shows_everything(self):
        net = Net()
        alice = net.irc_user("alice", channels="#a,#b,#c")
        lines = alice.ask("LIST")
        assert numerics(lines) == ["321"] + ["322"] * 4 + ["323"]  # and the default room
        assert alice.ask("LIST #nonexistent") == [
            ":chatsvc 321 alice Channel :Users  Name", ":chatsvc 323 alice :End of /LIST"]

    def test_elist_as_irctest_checks_it(self):
        net = Net(room="#lobby")  # "#ch*" would match the usual default room, #chat
        foo = net.irc_user("foo", channels="#chan1,#chan2")
        bar = net.irc_user("bar", channels="#chan2")
        baz = net.irc_user("baz", channels="")
        foo.read(), bar.read()
        cases = {"*an1": {"#chan1"}, "*an2": {"#chan2"}, "#c*n2": {"#chan2"}, "*an3": set(),
                 "#ch*": {"#chan1", "#chan2"}, "!*an1": {"#chan2"}, "!#ch*": set(),
                 ">0": {"#chan1", "#chan2"}, "<1": set(), ">1": {"#chan2"},
                 "<2": {"#chan1"}, "<100": {"#chan1", "#chan2"}}
        for spec, expected in cases.items():
            listed = {line.split()[3] for line in baz.ask(f"LIST {spec}") if " 322 " in line}
            assert listed - {"#lobby"} == expected, spec

    def test_line_rooms_reads_as_before(self):
        net = Net()
        alice = net.line_user("alice")
        alice.send("/rooms")
        assert alice.read() == ["* rooms (1): #chat (1)"]
