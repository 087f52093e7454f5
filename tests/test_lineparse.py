"""The client direction of the line format: parse(render(event)) == event."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from chatsvc.events import (
    Entered,
    Error,
    Exited,
    Invited,
    Joined,
    Kicked,
    Left,
    ModesChanged,
    Notice,
    PrivateMessage,
    Registered,
    Renamed,
    RoomList,
    RoomMessage,
    Topic,
    TopicChanged,
    Who,
)
from chatsvc.hub.modes import ModeChange
from chatsvc.hub.names import check_name
from chatsvc.hub.text import sanitize
from chatsvc.protocols.line.wire import NO_ROOM, NOTICE_RULES, LineParser, parse_line, render_text

names = st.from_regex(r"[A-Za-z_\[\]{}\\^|][A-Za-z0-9\-_\[\]{}\\^|]{0,31}", fullmatch=True)
# What the server relays: no control characters, none of the reordering
# characters the text rules remove (chatsvc.hub.text), not blank.
texts = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=80
).filter(lambda t: t.strip() and sanitize(t) == t)


def _is_notice_phrase(text: str) -> bool:
    return any(pattern.fullmatch(text) for pattern, _ in NOTICE_RULES)


@given(names)
def test_name_strategy_matches_server_rules(name: str) -> None:
    assert check_name(name) == name


@given(names, texts, st.booleans())
def test_room_message_round_trip(sender: str, text: str, action: bool) -> None:
    if action:
        # "* alice joined" is both a notice and "/me joined": notices win.
        assume(not _is_notice_phrase(f"{sender} {text}"))
    parser = LineParser(room="#chat", me="zed")
    parser.present["x"] = "x"
    parser.parse(render_text(Joined("#chat", sender)))
    event = RoomMessage("#chat", sender, text, action)
    assert parser.parse(render_text(event)) == event


@given(names, names, texts, st.booleans())
def test_private_message_round_trip(sender: str, me: str, text: str, action: bool) -> None:
    event = PrivateMessage(sender, me, text, action)
    assert LineParser(me=me).parse(render_text(event)) == event


@given(texts)
def test_error_round_trip(text: str) -> None:
    assert parse_line(render_text(Error(text))) == Error(text)


@given(texts)
def test_unknown_star_lines_are_notices(text: str) -> None:
    assume(not _is_notice_phrase(text))
    assert parse_line(render_text(Notice(text))) == Notice(text)


@given(st.text(st.characters(blacklist_categories=["Cc", "Cs"]), max_size=80))
def test_any_line_parses_to_some_event(line: str) -> None:
    assert parse_line(line) is not None


@given(names, names, texts)
def test_membership_round_trip(a: str, b: str, reason: str) -> None:
    for event in (Joined("#r", a), Left(None, a, reason), Renamed(a, b)):
        assert LineParser(room="#r").parse(render_text(event)) == event


@given(st.lists(names, max_size=8, unique=True))
def test_who_round_trip(members: list[str]) -> None:
    event = Who("#r", tuple(members))
    assert LineParser(room="#r").parse(render_text(event)) == event


def test_registered_only_when_a_name_was_asked_for() -> None:
    parser = LineParser()
    parser.parse("* you joined")  # a user called "you" joins
    # ... and writes "/me are bob": not a rename of ours.
    assert parser.parse("* you are bob") == RoomMessage("", "you", "are bob", action=True)
    assert parser.me is None
    parser.expect_name()
    assert parser.parse("* you are alice") == Registered("alice")
    assert parser.me == "alice"
    assert parser.parse("* you are carol") != Registered("carol")


def test_name_refusal_cancels_the_expectation() -> None:
    parser = LineParser()
    parser.expect_name()
    parser.parse("! name taken: alice")
    assert parser.awaiting_name == 0


def test_parser_tracks_who_is_present() -> None:
    parser = LineParser()
    parser.expect_name()
    for line in ("* you are me", "* online (2): me, Alice", "* bob joined",
                 "* alice is now al", "* bob left (quit)"):
        parser.parse(line)
    assert sorted(parser.present.values()) == ["al", "me"]
    # Actions are recognised only for people present.
    assert parser.parse("* al waves") == RoomMessage("", "al", "waves", action=True)
    assert parser.parse("* bob waves") == Notice("bob waves")
    # ... but the server's "is away" answer is a notice even about someone present.
    assert parser.parse("* al is away: lunch") == Notice("al is away: lunch")


@pytest.mark.parametrize("line, event", [
    ("* welcome to chatsvc! register with #yourname", Notice(
        "welcome to chatsvc! register with #yourname")),
    ("*   #name    register", Notice("  #name    register")),
    ("plain text from a future server", Notice("plain text from a future server")),
    ("<not a name!> hi", Notice("<not a name!> hi")),
    ("*alice*", Notice("*alice*")),
    ("* online (3): a, b", Notice("online (3): a, b")),
    ("! ", Error("")),
    ("* you joined rust (3 here)", Notice("you joined rust (3 here)")),
    ("* rooms (2): #a (1)", Notice("rooms (2): #a (1)")),
    ("* bob sets +z on #rust", Notice("bob sets +z on #rust")),
])
def test_unknown_or_malformed_lines(line: str, event: object) -> None:
    assert parse_line(line) == event


# -- rooms -------------------------------------------------------------------

rooms = st.from_regex(r"#[A-Za-z0-9_\-.#!]{1,20}", fullmatch=True)
reasons = st.one_of(st.just(""), texts.filter(lambda t: ")" not in t and "\n" not in t))
mode_changes = st.lists(
    st.one_of(
        st.builds(ModeChange, st.booleans(), st.sampled_from("imnst")),
        st.builds(ModeChange, st.just(True), st.just("l"), st.integers(1, 999).map(str)),
        st.builds(ModeChange, st.booleans(), st.sampled_from("beI"),
                  st.from_regex(r"[a-z*?]{1,5}![a-z*]{1,5}@[a-z.*]{1,9}", fullmatch=True)),
    ),
    min_size=1, max_size=4,
)


@given(rooms, names, names, reasons, st.integers(0, 10_000))
def test_room_notices_round_trip(room: str, a: str, b: str, reason: str, count: int) -> None:
    for event in (
        Joined(room, a), Left(room, a, reason), Kicked(room, b, a, reason),
        Entered(room, count, ""), Exited(room, reason), Exited(room, reason, a),
        TopicChanged(room, a, ""), Topic(room, ""),
        ModesChanged(room, a, (ModeChange(True, "o", b),)),
        ModesChanged(room, a, (ModeChange(False, "v", b),)),
    ):
        assert LineParser(room="#home").parse(render_text(event, "#home")) == event


@given(rooms, names, texts)
def test_topic_round_trip(room: str, a: str, topic: str) -> None:
    for event in (TopicChanged(room, a, topic), Topic(room, topic)):
        assert parse_line(render_text(event)) == event


@given(rooms, names, mode_changes)
def test_rule_changes_round_trip(room: str, a: str, changes: list[ModeChange]) -> None:
    event = ModesChanged(room, a, tuple(changes))
    assert parse_line(render_text(event)) == event


@given(rooms, names, names)
def test_invitation_round_trip(room: str, a: str, me: str) -> None:
    event = Invited(room, a, me)
    assert LineParser(me=me).parse(render_text(event)) == event


@given(st.lists(st.tuples(rooms, st.integers(0, 99), st.one_of(st.just(""), texts)),
                max_size=5, unique_by=lambda r: r[0]))
def test_room_list_round_trip(listed: list[tuple[str, int, str]]) -> None:
    event = RoomList(tuple(listed))
    parsed = parse_line(render_text(event))
    assume(not isinstance(parsed, Notice))  # a topic that looks like ", #x (1)" is ambiguous
    assert parsed == event


@given(rooms, st.lists(names, max_size=6, unique_by=lambda n: n.lower()), st.data())
def test_who_with_status_round_trip(room: str, members: list[str], data) -> None:
    operators = tuple(data.draw(st.sets(st.sampled_from(members))) if members else ())
    voiced = tuple(n for n in members if n not in operators)[:1]
    ordered = lambda chosen: tuple(n for n in members if n in chosen)  # noqa: E731
    event = Who(room, tuple(members), ordered(operators), ordered(voiced))
    assert LineParser(room=room).parse(render_text(event, "#home")) == event


def test_default_room_notices_do_not_name_it() -> None:
    assert render_text(Joined("#chat", "a"), "#chat") == "* a joined"
    assert render_text(Joined("#Chat", "a"), "#chat") == "* a joined"
    assert render_text(Left("#chat", "a", ""), "#chat") == "* a left"
    assert render_text(Left(None, "a", "quit"), "#chat") == "* a left (quit)"
    assert render_text(Joined("#rust", "a"), "#chat") == "* a joined #rust"


def test_who_names_its_room_even_the_default_one() -> None:
    """C{/who} lists one room's members, so it says which (issue 14)."""
    assert render_text(Who("#chat", ("a",), ("a",)), "#chat") == "* in #chat (1): @a"
    # What older servers sent still parses.
    assert LineParser(room="#chat").parse("* online (1): @a") == Who("#chat", ("a",), ("a",))


def test_a_move_between_rooms_says_where_and_does_not_read_as_a_quit() -> None:
    cases = [
        (Left("#chat", "dave", "", to="#rust"), "* dave left for #rust"),
        (Left("#go", "dave", "bye", to="#chat"), "* dave left #go for #chat (bye)"),
        (Joined("#chat", "alicia", came_from="#rust"), "* alicia is back from #rust"),
        (Joined("#go", "alicia", came_from="#rust"), "* alicia joined #go from #rust"),
    ]
    for event, line in cases:
        assert render_text(event, "#chat") == line
        parsed = LineParser(room=event.room).parse(line)
        assert parsed == event, line
    assert LineParser(room="#chat").parse("* dave left") == Left(None, "dave", "")


def test_parser_follows_its_user_between_rooms() -> None:
    parser = LineParser(room="#chat")
    parser.expect_name()
    for line in ("* you are me", "* online (2): me, bob", "* you joined #rust (2 here)",
                 "* in #rust (2): @me, carol", "* in #other (1): dave"):
        parser.parse(line)
    assert parser.room == "#rust"
    assert sorted(parser.present) == ["carol", "me"]
    assert parser.parse("<carol> hi") == RoomMessage("#rust", "carol", "hi")
    parser.parse("* me kicked carol from #rust")
    assert sorted(parser.present) == ["me"]


def test_parser_knows_when_it_is_in_no_room() -> None:
    parser = LineParser()
    parser.expect_name()
    for line in ("* you are me", "* you joined #rust (2 here)", "* in #rust (2): @me, carol",
                 "* you were kicked from #rust by carol", "! #chat is invite-only",
                 f"* {NO_ROOM}"):
        parser.parse(line)
    assert (parser.nowhere, parser.room, list(parser.present)) == (True, "", ["me"])
    parser.parse("* in #rust (1): carol")  # /who #rust from outside: not where we are
    assert list(parser.present) == ["me"]
    parser.parse("* you joined #go (1 here)")
    assert (parser.nowhere, parser.room) == (False, "#go")


def test_a_private_action_reads_as_an_emote_and_parses_back() -> None:
    event = PrivateMessage("erin", "bob", "hugs you privately", True)
    assert render_text(event) == "*erin hugs you privately*"
    parser = LineParser()
    parser.me = "bob"
    assert parser.parse("*erin hugs you privately*") == event
    assert parser.parse("*erin* * erin hugs you privately") == event  # older servers
    assert parser.parse("*erin* ends with a star*") == PrivateMessage(
        "erin", "bob", "ends with a star*")
