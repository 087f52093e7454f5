"""The pieces behind the bounds on replies (issue 13, item 2): the limits of
one MODE command, the reply budget, LIST's filters and paged room lists."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from chatsvc.conn.limits import BULK_REPLY_BURST, BULK_REPLY_RATE, ReplyBudget
from chatsvc.events import RoomList
from chatsvc.hub.errors import ModeNeedsArgument, TooManyModes, TryAgain
from chatsvc.hub.modes import MAX_MODE_ARGUMENTS, MAX_MODE_LETTERS, ModeChange, parse_modes
from chatsvc.hub.rooms import Room
from chatsvc.protocols.irc.channels import list_filter
from chatsvc.protocols.line.wire import LineParser, render_text


class TestParseModesLimits:
    def test_a_list_is_queried_once(self):
        for excess in ("refuse", "ignore", "keep"):
            assert parse_modes("+bbbb", excess=excess) == [ModeChange(True, "b")]
        assert parse_modes("+beIbeI") == [ModeChange(True, "b"), ModeChange(True, "e"),
                                          ModeChange(True, "I")]
        # A list mode with an argument is a change, however many queries there are.
        assert parse_modes("+bbb", ["x"]) == [ModeChange(True, "b", "x"),
                                              ModeChange(True, "b")]

    def test_letters(self):
        letters = "+" + "im" * 2000
        with pytest.raises(TooManyModes):
            parse_modes(letters)
        assert len(parse_modes(letters, excess="ignore")) == MAX_MODE_LETTERS == 20
        assert len(parse_modes(letters, excess="keep")) == 4000
        assert len(parse_modes("+" + "b" * 4076, excess="ignore")) == 1

    def test_arguments(self):
        names = ["a", "b", "c", "d", "e"]
        with pytest.raises(TooManyModes) as raised:
            parse_modes("+ooooo", names)
        assert str(raised.value) == ("too many modes in one command: at most 4 with an "
                                     "argument or a list to show, and 20 in all")
        assert parse_modes("+ooooo", names, excess="ignore") == [
            ModeChange(True, "o", name) for name in names[:MAX_MODE_ARGUMENTS]]
        assert len(parse_modes("+ooooo", names, excess="keep")) == 5
        # Past the limit, even a change missing its argument is merely ignored.
        assert len(parse_modes("+ooooo", names[:4], excess="ignore")) == 4
        with pytest.raises(ModeNeedsArgument):
            parse_modes("+oooo", names[:3], excess="ignore")

    def test_what_counts_as_taking_an_argument(self):
        # Queries and +k/+l/-k key count; flags, -l and -k alone do not.
        assert len(parse_modes("+kl-l-k+imnstb", ["key", "5"])) == 10
        with pytest.raises(TooManyModes):
            parse_modes("+k-k+beI", ["key", "old", "x"])
        assert parse_modes("+k-k+beI", ["key", "old", "x"], excess="ignore") == [
            ModeChange(True, "k", "key"), ModeChange(False, "k", "old"),
            ModeChange(True, "b", "x"), ModeChange(True, "e")]


class TestReplyBudget:
    def test_burst_then_rate(self):
        clock = Clock()
        budget = ReplyBudget(clock, rate=100, burst=1000)
        assert budget.allows() and budget.wait() == 0
        budget.spend(1500)  # one answer may overdraw it
        assert not budget.allows()
        assert budget.wait() == pytest.approx(5.01)
        clock.advance(5)
        assert not budget.allows()
        clock.advance(0.02)
        assert budget.allows()
        clock.advance(3600)
        budget.spend(1000)
        assert not budget.allows()  # the burst is a ceiling

    def test_defaults(self):
        budget = ReplyBudget(Clock())
        budget.spend(BULK_REPLY_BURST)
        assert budget.wait() == pytest.approx(1 / BULK_REPLY_RATE)

    def test_try_again_says_when(self):
        assert str(TryAgain("/rooms", 2.2)) == (
            "too many long replies at once: try /rooms again in 3 s")
        assert str(TryAgain("/who", 0.01)).endswith("again in 1 s")


class TestListFilter:
    @staticmethod
    def room(name: str, members: int) -> Room:
        room = Room(name)
        for n in range(members):
            room.add(type("Member", (), {"name": f"m{n}"})())
        return room

    def test_filters(self):
        rooms = [self.room("#rust", 5), self.room("#rustaceans", 1), self.room("#go", 2)]

        def names(spec: str) -> list[str]:
            keep = list_filter(spec)
            return [room.name for room in rooms if keep(room)]

        assert names("") == ["#rust", "#rustaceans", "#go"]
        assert names("#RUST") == ["#rust"]
        assert names("#rust*") == ["#rust", "#rustaceans"]
        assert names("#rust*,!*ans") == ["#rust"]
        assert names(">1") == ["#rust", "#go"]
        assert names("<2") == ["#rustaceans"]
        assert names(">1,<5") == ["#go"]
        assert names("#go,#rust?*") == ["#rustaceans", "#go"]
        assert names("<x") == []  # not a count: a channel name, which none is

    def test_masks_are_bounded(self):
        rooms = [self.room("#rust", 1)]
        # A third mask is ignored: it would have excluded #rust.
        assert list_filter("#r*,#x*,!#r*")(rooms[0])
        # More than a room name's worth of non-* characters cannot match.
        assert not list_filter("*" + "?" * 52)(rooms[0])
        assert list_filter("*" * 4000 + "t")(rooms[0])


class TestPagedRoomList:
    ROOMS = (("#a", 3, "first topic, with commas"), ("#b", 1, ""))

    @pytest.mark.parametrize("event, text", [
        (RoomList(ROOMS), "* rooms (2): #a (3) first topic, with commas, #b (1)"),
        (RoomList(ROOMS, 51, 120, 3),
         "* rooms 51-52 of 120 (/rooms 3 for more): #a (3) first topic, with commas, #b (1)"),
        (RoomList(ROOMS, 119, 120), "* rooms 119-120 of 120: #a (3) first topic, with "
                                    "commas, #b (1)"),
    ])
    def test_round_trip(self, event, text):
        assert render_text(event) == text
        assert LineParser().parse(text) == event

    def test_a_count_that_does_not_add_up_is_a_notice(self):
        assert not isinstance(LineParser().parse("* rooms 1-5 of 9: #a (1)"), RoomList)
