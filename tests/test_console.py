"""The terminal client's logic, in memory: completion, history, the screen."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatsvc.client import ConnectFailed, NameTaken, TLSVerificationFailed, WrongPassword
from chatsvc.console import (
    CONFIRM_AFTER,
    ChatUI,
    History,
    Line,
    complete,
    failure_message,
    help_line,
    parse_arguments,
    status_text,
)
from chatsvc.events import Notice, PrivateMessage, RoomMessage
from chatsvc.hub.settings import Settings
from chatsvc.testing import ChatHarness

NAMES = ["alice", "Albert", "bob"]


@pytest.mark.parametrize("line, cursor, expected", [
    ("@b", 2, ("@bob: ", 6, [])),
    ("hi @b", 5, ("hi @bob ", 8, [])),
    ("b", 1, ("bob: ", 5, [])),
    ("say hi to b", 11, ("say hi to bob ", 14, [])),
    ("@al", 3, ("@al", 3, ["alice", "Albert"])),
    ("@A", 2, ("@al", 3, ["alice", "Albert"])),
    ("@z", 2, ("@z", 2, [])),
    ("", 0, ("", 0, [])),
    ("@b tail", 2, ("@bob: tail", 6, [])),
])
def test_complete(line: str, cursor: int, expected: tuple[str, int, list[str]]) -> None:
    assert complete(line, cursor, NAMES) == expected


@given(st.text(max_size=20), st.data())
def test_complete_never_loses_text(line: str, data: st.DataObject) -> None:
    cursor = data.draw(st.integers(0, len(line)))
    new, new_cursor, _ = complete(line, cursor, NAMES)
    assert new.startswith(line[:cursor].rsplit(" ", 1)[0] if " " in line[:cursor] else "")
    assert 0 <= new_cursor <= len(new)


def test_history_recalls_and_keeps_the_draft() -> None:
    history = History()
    for line in ("one", "two", "two", "three"):
        history.add(line)
    assert history.entries == ["one", "two", "three"]
    assert history.older("draft") == "three"
    assert history.older("three") == "two"
    assert history.older("two") == "one"
    assert history.older("one") is None
    assert history.newer() == "two"
    assert history.newer() == "three"
    assert history.newer() == "draft"
    assert history.newer() is None


def _screen(ui: ChatUI, size: tuple[int, int] = (80, 12)) -> list[str]:
    canvas = ui.widget.render(size, focus=True)
    return [row.decode().rstrip() for row in canvas.text]


def _type(ui: ChatUI, keys: str | list[str], size: tuple[int, int] = (80, 12)) -> None:
    for key in (list(keys) if isinstance(keys, str) else keys):
        ui.widget.keypress(size, key)


@pytest.fixture
def chat() -> ChatHarness:
    return ChatHarness()


def test_arriving_message_leaves_the_input_alone(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    _type(ui, "half-typed")
    bob.say("hello")
    chat.pump()
    screen = _screen(ui)
    assert ui.input.edit_text == "half-typed"
    assert screen[-1] == "> half-typed"
    assert any(row.endswith("<bob> hello") for row in screen[:-1])
    _type(ui, " done")
    _type(ui, ["enter"])
    chat.pump()
    assert [e.text for e in bob.inbox if isinstance(e, RoomMessage)] == ["half-typed done"]
    assert any(row.endswith("<alice> half-typed done") for row in _screen(ui))
    assert ui.input.edit_text == ""


def test_commands_map_to_the_session(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    for line in ("@bob: psst", "/me waves", "//slash", "#rust", "/nick alfred", "/who", "   "):
        ui.submit(line)
        chat.pump()
    assert list(bob.inbox)[-5:-1] == [
        PrivateMessage("alice", "bob", "psst"),
        RoomMessage("", "alice", "waves", action=True),
        RoomMessage("", "alice", "/slash"),
        RoomMessage("", "alice", "#rust"),  # talk about a room, not a rename
    ]
    assert alice.name == "alfred"
    text = "\n".join(_screen(ui, (80, 30)))
    for shown in ("-> *bob* psst", "* alice waves", "<alice> /slash", "* you are alfred",
                  "* in #chat (2): alfred, bob"):
        assert shown in text
    assert "alfred @ test" in _screen(ui)[0]


def test_rooms_on_the_screen_and_in_the_status_line(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    ui.submit("/join #rust")
    chat.pump()
    bob.send_line("/join #rust")
    chat.pump()
    text = "\n".join(_screen(ui, (80, 30)))
    for shown in ("* you joined #rust (1 here)", "* in #rust (1): @alice", "* bob joined #rust"):
        assert shown in text
    assert "online" not in text  # who is in #rust, not who is online
    assert _screen(ui)[0].endswith("#rust 2 here")
    ui.submit("/op bob")
    chat.hub.default_room.invite_only = True
    chat.pump()
    bob.send_line("/kick alice")
    chat.pump()
    text = "\n".join(_screen(ui, (80, 30)))
    assert "* you were kicked from #rust by bob" in text
    assert "* you are in no room" in text
    assert _screen(ui)[0].endswith("in no room")
    ui.submit("/join #go")
    chat.pump()
    assert _screen(ui)[0].endswith("#go 1 here")


def test_tab_completes_from_who_is_here(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    chat.join("bob")
    chat.join("bobby")
    chat.pump()
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    _type(ui, ["@", "b", "tab"])
    assert ui.input.edit_text == "@bob"
    assert "* bob  bobby" in "\n".join(_screen(ui))
    _type(ui, ["b", "tab"])
    assert ui.input.edit_text == "@bobby: "


def test_server_going_away_then_enter_leaves(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    chat.hub.users["alice"].disconnect("shutdown")
    chat.pump()
    screen = "\n".join(_screen(ui))
    assert "! disconnected: the server closed the connection" in screen
    assert "disconnected" in _screen(ui)[0]
    assert not ui.done.called
    _type(ui, ["enter"])
    assert ui.done.called


def test_quit_and_ctrl_d(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    _type(ui, "x")
    _type(ui, ["ctrl d"])  # not on a non-empty line
    assert not alice.closed
    _type(ui, ["backspace", "ctrl d"])
    chat.pump()
    assert ui.done.called and alice.closed
    assert [e.name for e in bob.inbox if type(e).__name__ == "Left"] == ["alice"]


def test_arguments() -> None:
    assert parse_arguments(["localhost", "12345", "--name", "a"]).target == "localhost:12345"
    assert parse_arguments(["localhost", "--name", "a"]).target == "localhost:12345"
    assert parse_arguments(["::1", "7000", "--name", "a"]).target == "[::1]:7000"
    assert parse_arguments(["tls:h:7000", "--name", "a"]).target == "tls:h:7000"
    args = parse_arguments(["h", "1", "--name", "a", "--tls", "--cafile", "ca.pem"])
    assert (args.tls, args.cafile) == (True, "ca.pem")
    with pytest.raises(SystemExit):
        parse_arguments(["h", "99999", "--name", "a"])


def test_failure_message_hints_at_tls_when_a_plain_connection_is_dropped() -> None:
    plain = parse_arguments(["h", "1", "--name", "a"])
    dropped = ConnectFailed("the server closed the connection before we registered")
    assert failure_message(dropped, plain) == (
        "chat: the server closed the connection before we registered"
        " (if that port speaks TLS, add --tls)")
    silent = ConnectFailed("no answer to registration within 30 seconds")
    assert failure_message(silent, plain).endswith("(if that port speaks TLS, add --tls)")
    for args in (parse_arguments(["h", "1", "--name", "a", "--tls"]),
                 parse_arguments(["tls:h:1", "--name", "a"])):
        assert failure_message(dropped, args) == f"chat: {dropped}"
    for other in (NameTaken("name taken: a"), ConnectFailed("cannot connect to h: refused"),
                  TLSVerificationFailed("TLS: not trusted")):
        assert failure_message(other, plain) == f"chat: {other}"


# -- own lines: pending, then taken or refused ---------------------------------


def _line(ui: ChatUI, start: str) -> Line:
    found = [line for line in ui.lines if line.text.startswith(start)]
    assert len(found) == 1, [line.text for line in ui.lines]
    return found[0]


def _attrs(line: Line) -> set[str]:
    return {piece[0] for piece in (*line.prefix, *line.body) if isinstance(piece, tuple)}


def test_a_line_in_no_room_is_marked_not_sent() -> None:
    chat = ChatHarness()
    chat.hub.default_room.invite_only = True
    carol = chat.join("carol")
    ui = ChatUI(carol, "test", chat.clock, now=lambda: 0)
    chat.pump()
    ui.submit("anyone?")
    assert _attrs(_line(ui, "<carol> anyone?")) == {"pending"}  # before any answer
    chat.pump()
    assert _line(ui, "<carol> anyone?").text == "<carol> anyone?  [not sent]"
    assert _attrs(_line(ui, "<carol> anyone?")) == {"refused", "unsent"}
    assert "! you are in no room" in "\n".join(_screen(ui))


def test_a_refusal_marks_its_own_line_and_settles_those_before(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    chat.pump()
    ui.submit("one")  # taken
    ui.submit("@nobody: hello?")  # refused
    ui.submit("@bob: two")  # taken, and nothing says so
    chat.pump()
    assert _line(ui, "-> *nobody*").text == "-> *nobody* hello?  [not sent]"
    # The server answers in order: "one" came before the refused line, so it was taken.
    assert _attrs(_line(ui, "<alice> one")) == {"own"}
    assert _attrs(_line(ui, "-> *bob* two")) == {"pending"}
    chat.clock.advance(CONFIRM_AFTER)
    assert _attrs(_line(ui, "-> *bob* two")) == {"own"}
    assert _line(ui, "-> *bob* two").text == "-> *bob* two"
    assert [e.text for e in bob.inbox if isinstance(e, (RoomMessage, PrivateMessage))] == [
        "one", "two"]


def test_a_line_in_a_moderated_room_is_marked_not_sent(chat: ChatHarness) -> None:
    alice, carol = chat.join("alice"), chat.join("carol")
    chat.hub.default_room.moderated = True
    ui = ChatUI(carol, "test", chat.clock, now=lambda: 0)
    chat.pump()
    ui.submit("can I talk here")
    ui.submit("/me waves")
    chat.pump()
    assert _line(ui, "<carol> can I talk").text == "<carol> can I talk here  [not sent]"
    assert _line(ui, "* carol waves").text == "* carol waves  [not sent]"
    assert not [e for e in alice.inbox if isinstance(e, RoomMessage)]


def test_an_away_reply_confirms_a_private_message_at_once(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    chat.join("bob")
    chat.hub.set_away(chat.hub.users["bob"], "at lunch")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    chat.pump()
    ui.submit("@bob: still there?")
    chat.pump()
    assert _attrs(_line(ui, "-> *bob* still there?")) == {"own"}
    assert "* bob is away: at lunch" in "\n".join(_screen(ui))


def test_lines_pending_when_the_connection_ends_say_so(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    chat.pump()
    ui.submit("last words")
    chat.hub.users["alice"].disconnect("shutdown")
    chat.pump()
    assert _line(ui, "<alice> last words").text == "<alice> last words  [maybe not sent]"


# -- the screen ----------------------------------------------------------------


def test_lines_fill_the_pane_from_the_bottom(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    chat.pump()
    screen = _screen(ui, (80, 20))
    assert screen[-1] == ">"
    assert screen[-2].endswith("type anything else to talk")  # the newest, just above
    assert screen[1] == ""  # the gap is at the top


def test_wrapped_lines_stay_under_their_text(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    bob.say("a long message that certainly has to wrap around at forty columns")
    chat.pump()
    screen = _screen(ui, (40, 12))
    first = next(n for n, row in enumerate(screen) if "<bob> a long" in row)
    indent = " " * len("00:00 <bob> ")
    assert screen[first + 1].startswith(indent) and screen[first + 1][len(indent)] != " "
    # Too narrow for that: under the time, never wider than the screen.
    narrow = _screen(ui, (16, 30))
    first = next(n for n, row in enumerate(narrow) if "<bob>" in row)
    assert narrow[first + 1].startswith("      ") and narrow[first + 1][6] != " "
    assert all(len(row) <= 16 for row in narrow)


def test_home_goes_to_the_start_of_a_wrapped_input(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    size = (20, 12)
    _type(ui, "a line longer than twenty columns", size)
    assert len([row for row in _screen(ui, size) if row]) > 2  # it wraps
    _type(ui, ["home", "X"], size)
    assert ui.input.edit_text == "Xa line longer than twenty columns"
    _type(ui, ["end", "Y", "ctrl a", "Z"], size)
    assert ui.input.edit_text == "ZXa line longer than twenty columnsY"


def test_scrolled_back_the_screen_says_new_lines_wait_below(chat: ChatHarness) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    size = (80, 12)
    for n in range(20):
        ui.show([("notice", f"* filler {n}")])
    _screen(ui, size)
    _type(ui, ["page up"], size)
    assert _screen(ui, size)[-2] == "-- more below: PgDn --"
    bob.say("while you read")
    chat.pump()
    screen = _screen(ui, size)
    assert screen[-2] == "-- 1 new below: PgDn --"
    assert screen[-1] == ">"
    assert not any("while you read" in row for row in screen)
    _type(ui, ["page down", "page down"], size)
    screen = _screen(ui, size)
    assert screen[-2].endswith("<bob> while you read")
    assert not any("below" in row for row in screen)
    bob.say("and now")
    chat.pump()
    assert _screen(ui, size)[-2].endswith("<bob> and now")  # following again
    # Sending a line while scrolled back brings the view back to the bottom.
    _type(ui, ["page up"], size)
    assert _screen(ui, size)[-2] == "-- more below: PgDn --"
    _type(ui, "here I am", size)
    _type(ui, ["enter"], size)
    screen = _screen(ui, size)
    assert screen[-2].endswith("<alice> here I am") and screen[-1] == ">"


@pytest.mark.parametrize("width", [20, 30, 40, 80, 120])
def test_the_status_bar_is_one_row_and_names_the_room(chat: ChatHarness, width: int) -> None:
    alice = chat.join("alice")
    chat.join("bob")
    ui = ChatUI(alice, "127.0.0.1:12345", chat.clock, now=lambda: 0)
    chat.pump()
    screen = _screen(ui, (width, 12))
    assert len(screen[0]) <= width
    if width >= 30:
        assert screen[0].endswith("#chat 2 here")  # the default room by its name
        assert "no TLS" in screen[0]
    (header_rows, _), _ = ui.widget.frame_top_bottom((width, 12), True)
    assert header_rows == 1
    if width >= 80:
        assert screen[0] == " chat  alice @ 127.0.0.1:12345  ·  no TLS  ·  #chat 2 here"


def test_status_text_drops_the_least_needed_first() -> None:
    args = ("alice", "chat.example.org:6697", "TLS", "#rust 12 here")
    assert status_text(80, *args) == (
        " chat  alice @ chat.example.org:6697  ·  TLS  ·  #rust 12 here")
    assert status_text(40, *args) == " alice · TLS · #rust 12 here"
    assert status_text(22, *args) == " alice · #rust 12 here"
    assert status_text(10, *args) == " alice · …"
    assert status_text(0, *args) == ""


# -- what the server says, fitted to chat ----------------------------------------


def test_the_welcome_does_not_tell_chat_users_to_register(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    chat.pump()
    text = "\n".join(_screen(ui, (100, 30)))
    assert "* welcome to chatsvc!" in text
    assert "#yourname" not in text and "/pass" not in text
    assert "/help lists the commands" in text


def test_the_password_advice_is_not_shown_either() -> None:
    chat = ChatHarness(Settings(password="sesame"))
    alice = chat.wait(chat.connect("alice", password="sesame"))
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    chat.pump()
    text = "\n".join(_screen(ui, (100, 30)))
    assert "#yourname" not in text and "/pass" not in text
    assert "* you are alice" in text


def test_help_shows_the_clients_keys_then_the_servers_commands_fitted(
        chat: ChatHarness) -> None:
    alice = chat.join("alice")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    chat.pump()
    ui.submit("@nobody: hi")  # answered before the help, which is still fitted
    ui.submit("/help")
    chat.pump()
    text = "\n".join(line.text for line in ui.lines)
    assert "Home/End" in text and "#text              is talk" in text
    server = text[text.index("* server commands:"):]
    assert "*   /nick name         change your name" in server
    assert "#name" not in server and "/pass" not in server
    assert "*   /who [#room]" in server
    # The help is over at the first line that is not part of it: later
    # notices (an MOTD line, say) are shown as they are.
    chat.join("bob")
    chat.pump()
    assert _line(ui, "* bob joined").text == "* bob joined"
    ui.show_event(Notice("  #name  is a fine name"))
    assert _line(ui, "*   #name").text == "*   #name  is a fine name"


@pytest.mark.parametrize("line, shown", [
    ("commands:", "server commands:"),
    ("  #name              register, or change your name (also /nick name)",
     "  /nick name         change your name"),
    ("  #name  register", "  /nick name change your name"),
    ("  /pass password     give the server password, if it has one, before #name", None),
    ("  /who [#room]       who is in your room (or another)",
     "  /who [#room]       who is in your room (or another)"),
    ("room operators:", "room operators:"),
])
def test_help_line(line: str, shown: str | None) -> None:
    assert help_line(line) == shown


def test_failure_message_names_the_password_options() -> None:
    plain = parse_arguments(["h", "1", "--name", "a"])
    needed = WrongPassword("password required: send /pass PASSWORD first", "password-required")
    assert failure_message(needed, plain) == (
        "chat: this server needs a password: give it with --password, or in $CHAT_PASSWORD "
        "(which other local users cannot see)")
    wrong = WrongPassword("wrong password", "wrong-password")
    assert failure_message(wrong, plain) == (
        "chat: wrong password (the one given with --password or in $CHAT_PASSWORD)")


def test_the_default_room_is_known_from_the_registration_without_asking(
        chat: ChatHarness) -> None:
    """The server says where you are on registering: no /topic probe goes out."""
    alice = chat.join("alice")
    sent: list[str] = []
    send_line = alice.send_line

    def spy(line: str) -> None:
        sent.append(line)
        send_line(line)

    alice.send_line = spy  # type: ignore[method-assign]
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    chat.pump()
    assert ui.home == "#chat" and "/topic" not in sent
    assert _screen(ui)[0].endswith("#chat 1 here")


def test_a_private_action_shows_as_the_line_protocol_writes_it(chat: ChatHarness) -> None:
    alice = chat.join("alice")
    ui = ChatUI(alice, "test", chat.clock, now=lambda: 0)
    erin = chat.irc_client("erin")
    erin.send("PRIVMSG alice :\x01ACTION hugs you privately\x01")  # /me in a query
    chat.pump()
    assert "*erin hugs you privately*" in "\n".join(_screen(ui, (80, 30)))
