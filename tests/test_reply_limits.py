"""The pieces behind the bounds on replies (issue 13, item 2): the limits of
one MODE command."""

from __future__ import annotations

import pytest

from chatsvc.errors import ModeNeedsArgument, TooManyModes
from chatsvc.modes import MAX_MODE_ARGUMENTS, MAX_MODE_LETTERS, ModeChange, parse_modes


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
