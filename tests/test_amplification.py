"""Issue 13, item 2: small requests with huge replies, in memory on a Clock.

Each attack is the one measured against a running server, replayed on an
in-memory hub, counting the bytes the attacker receives (the figures before
the fix are in the comments).  The normal cases are checked too: a list
asked for once is shown whole, and a small server lists everything.
"""

from __future__ import annotations

import pytest
from irc_support import Net, numerics

KB = 1000


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
        from chatsvc.errors import TooManyModes
        from chatsvc.modes import ModeChange

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
