"""Stable error codes: every refusal has one, the wires carry it, clients go by it.

The line protocol carries only a refusal's text, so a client recovers the
code from the forms each refusal class declares (C{line_forms}).  Rendering
every refusal and parsing it back is what makes a reworded message fail
here, before it breaks a client that knows the old wording.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import LineUser, Net, make_hub, numerics

from chatsvc import client
from chatsvc.events import Error, Event, Motd, Notice
from chatsvc.hub import errors
from chatsvc.hub.errors import ChatError
from chatsvc.protocols.irc import channels
from chatsvc.protocols.line.wire import LineParser, line_bytes, refusal_code
from chatsvc.testing import ChatHarness

ERRORS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "user" / "errors.rst"


def every_refusal_class() -> list[type[ChatError]]:
    found: list[type[ChatError]] = []
    pending = [ChatError]
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    # Only the module's own: a test elsewhere may subclass ChatError.
    return [kind for kind in found if kind.__module__ == errors.__name__]


REFUSAL_CLASSES = [kind for kind in every_refusal_class() if kind is not ChatError]

# Abstract bases: never raised themselves, so they have no text to parse.
BASES = {errors.RoomError, errors.Refused}

ROOM = "#rust-lang"

# Every refusal with sample arguments; several for the ones whose text varies.
SAMPLES: list[ChatError] = [
    errors.NotRegistered(),
    errors.NameTaken("alice"),
    errors.BadNameError("must not start with a digit"),
    errors.BadNameError("NickServ is reserved for network services"),
    errors.NoSuchUser("bob"),
    errors.NoSuchService("NickServ"),
    errors.EmptyMessage(),
    errors.BadRoomName("#ру", "mixes Cyrillic and Latin letters"),
    errors.NoSuchRoom(ROOM),
    errors.InviteOnly(ROOM),
    errors.BadKey(ROOM),
    errors.RoomFull(ROOM),
    errors.Banned(ROOM),
    errors.NotOperator(ROOM),
    errors.NotInRoom(ROOM),
    errors.AlreadyInRoom(ROOM),
    errors.UserNotInRoom(ROOM, "bob"),
    errors.UserAlreadyInRoom(ROOM, "bob"),
    *(errors.CannotSpeak(ROOM, why) for why in errors.CannotSpeak._TEXT),
    errors.TopicTooLong(ROOM, 300),
    errors.UnknownMode("q"),
    *(errors.ModeNeedsArgument(mode, adding) for mode in "klovbeI" for adding in (True, False)),
    errors.TooManyModes(4, 12),
    errors.TryAgain("/rooms", 2.5),
    errors.BadModeArgument(ROOM, "l", "0", "not a positive number"),
    *(errors.ListFull(ROOM, mode, 100) for mode in "beI"),
    *(errors.TooManyListEntries(ROOM, mode, 50, "your address") for mode in "beI"),
    errors.PasswordRequired(),
    errors.BadPassword(),
    errors.BadOperLogin(),
    errors.TooManyFailures(30),
    errors.NotServerOperator(),
    errors.NoHistory(),
    errors.HistoryUnavailable("#rust"),
    errors.UnknownUserMode("q"),
    errors.TooManyRooms(ROOM, 20),
    errors.ServerFull(),
    errors.TooManyConnections(16),
    errors.ConnectingTooFast(3),
    errors.ShuttingDown(),
    errors.Flooding(),
    errors.TooSlow(),
    errors.LineTooLong(512),
    errors.UnknownCommand("foo"),
    errors.Usage("usage: /rooms [page]"),
    errors.Usage("usage: /oper name password"),
    errors.Usage("say who: @name:text"),
    errors.Usage("kick whom? /kick name [reason]"),
    errors.Usage("invite whom? /invite name"),
    errors.Usage("whom? /op name"),
    errors.Usage("unban what? /unban mask"),
    errors.Usage("join where? /join #room [key]"),
    errors.NoRoom(),
    errors.AlreadyRegistered(),
    errors.NoSuchPage(3, 120, 2, 100),
    errors.InDefaultRoom("#chat"),
    errors.NotYourRoom("#chat", ROOM),
    errors.NoAccounts(),
    errors.NoSuchAccount("bob"),
    errors.NameRegistered("alice", 60),
    errors.AccountExists("alice"),
    errors.NotLoggedIn(),
    errors.PrivateHistoryNeedsAccount(),
    errors.AlreadyLoggedIn("alice"),
    errors.UnusablePassword("password too long: at most 256 bytes"),
    errors.HashingBusy(),
    errors.TooManyRegistrations(1200),
    errors.InboxFull("bob", 100),
    errors.AccountsUnavailable(),
    errors.NoCertificate(),
    errors.BadFingerprint(),
    errors.CertificateTaken(),
    errors.TooManyCertificates(5),
    errors.NoSuchCertificate(),
    errors.UnknownCertificate("alice"),
    errors.UnknownCertificate(),
    errors.NotYourName("alice"),
    errors.RoomNeedsLogin(),
    errors.RoomRegistered(ROOM),
    errors.RoomNotRegistered(ROOM),
    errors.NotFounder(ROOM),
    errors.TooManyRegisteredRooms(ROOM, 10, "account"),
    errors.TooManyRegisteredRooms(ROOM, 1000, "server"),
    errors.TooManyRoomOperators(ROOM, 50),
    errors.RoomsUnavailable(),
]


def test_every_refusal_class_has_its_own_kebab_case_code():
    codes = [kind.code for kind in every_refusal_class()]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
    for code in codes:
        assert re.fullmatch(r"[a-z]+(?:-[a-z]+)*", code), code
    for kind in REFUSAL_CLASSES:
        assert "code" in vars(kind), f"{kind.__name__} inherits its code"


def test_every_raised_refusal_says_how_it_reads_on_the_line_protocol():
    for kind in REFUSAL_CLASSES:
        assert bool(kind.line_forms) != (kind in BASES), kind.__name__
    assert {type(sample) for sample in SAMPLES} == set(REFUSAL_CLASSES) - BASES


@pytest.mark.parametrize("refusal", SAMPLES, ids=lambda r: f"{type(r).__name__}:{r}")
def test_the_line_parser_recovers_every_refusals_code(refusal: ChatError):
    event = refusal.as_event()
    assert (event.text, event.code) == (str(refusal), type(refusal).code)
    data = line_bytes(event)
    assert data == f"! {refusal}\r\n".encode()  # the wire shows the text, as ever
    parsed = LineParser().parse(data.decode().removesuffix("\r\n"))
    assert isinstance(parsed, Error)
    assert (parsed.text, parsed.code) == (str(refusal), refusal.code)


def test_a_text_no_refusal_declares_is_a_plain_error():
    assert refusal_code("something new went wrong") == "error"
    assert LineParser().parse("! something new went wrong").code == "error"
    # Reworded, a known refusal is no longer recognised: what the test above guards.
    assert refusal_code("that name is taken: alice") == "error"


def test_a_one_off_refusal_takes_a_code():
    assert ChatError("nope").code == "error"
    refusal = ChatError("nope", code="custom-thing")
    assert refusal.as_event().code == "custom-thing"
    assert ChatError.code == "error"  # the class keeps its own


def test_the_code_is_not_part_of_an_errors_equality():
    assert Error("name taken: bob") == Error("name taken: bob", code="name-taken")
    assert Error("name taken: bob").code == "error"
    assert Error("x", code="a") != Error("y", code="a")


# -- the adapters build Error events with the code ----------------------------


def recorded(user: LineUser) -> list[Event]:
    seen: list[Event] = []
    deliver = user.protocol.deliver

    def record(event: Event) -> None:
        seen.append(event)
        deliver(event)

    user.protocol.deliver = record  # type: ignore[method-assign]
    return seen


def test_the_line_protocol_sends_each_refusal_with_its_code():
    hub = make_hub(max_line=64)
    LineUser(hub).send("#bob")
    user = LineUser(hub)
    seen = recorded(user)
    user.send("hello", "#1bad", "#BOB", "#alice", "/frobnicate", "/rooms x", "/part",
              "@nobody:hi", "x" * 100, "/pass secret", "/mode #elsewhere +m")
    hub.clock.advance(10)  # past the flood gate's burst
    codes = [event.code for event in seen if isinstance(event, Error)]
    assert codes == ["not-registered", "bad-name", "name-taken", "unknown-command", "usage",
                     "in-default-room", "no-such-user", "line-too-long", "already-registered",
                     "not-your-room"]
    lines = [line for line in user.read() if line.startswith("!")]
    assert [refusal_code(line[2:]) for line in lines] == codes


def test_the_guard_sends_flooding_with_its_code():
    hub = make_hub(flood_rate=1.0, flood_burst=2, flood_queue=2)
    user = LineUser(hub)
    seen = recorded(user)
    user.send("#alice", *["hi"] * 20)
    assert [e.code for e in seen if isinstance(e, Error)] == ["flooding"]
    assert user.read()[-1] == "! flooding"


def test_the_hub_sends_the_default_rooms_refusal_with_its_code():
    hub = make_hub()
    hub.default_room.invite_only = True
    user = LineUser(hub)
    seen = recorded(user)
    user.send("#alice")
    assert [(e.text, e.code) for e in seen if isinstance(e, Error)] == [
        ("#chat is invite-only", "invite-only")]


# -- the client goes by codes --------------------------------------------------


@pytest.mark.parametrize(("refusal", "exception"), [
    (errors.NameTaken("alice"), client.NameTaken),
    (errors.BadNameError("too long"), client.BadName),
    (errors.ServerFull(), client.ServerFull),
    (errors.BadPassword(), client.WrongPassword),
    (errors.PasswordRequired(), client.WrongPassword),
    (errors.TooManyFailures(10), client.RegistrationRefused),
    (errors.ShuttingDown(), client.RegistrationRefused),
])
def test_the_client_classifies_a_refusal_by_its_code(refusal, exception):
    parsed = LineParser().parse(line_bytes(refusal.as_event()).decode().rstrip())
    raised = client._refusal(parsed)
    assert type(raised) is exception
    assert (raised.text, raised.code) == (str(refusal), refusal.code)


def test_a_refused_connect_carries_the_code():
    chat = ChatHarness()
    chat.join("alice")
    with pytest.raises(client.NameTaken) as caught:
        chat.join("ALICE")
    assert caught.value.code == "name-taken"


# -- IRC numerics by code ------------------------------------------------------


def test_irc_answers_a_refusal_by_its_code():
    net = Net()
    alice = net.irc_user("alice")
    alice.transport.clear()
    alice.protocol._refused(errors.Banned("#x"))
    alice.protocol._refused(ChatError("an adapter's own refusal", code="something-else"))
    # A one-off refusal with a class's code but not its fields: still answered.
    alice.protocol._refused(ChatError("banned, somehow", code="banned"))
    lines = alice.read()
    assert numerics(lines) == ["474", "NOTICE", "NOTICE"]
    assert lines[1].endswith(":an adapter's own refusal")


def test_the_irc_backstop_answers_with_the_codes_numeric(monkeypatch):
    net = Net()
    alice = net.irc_user("alice")

    def refuse(self, params):
        raise errors.NoSuchRoom("#gone")

    monkeypatch.setitem(type(alice.protocol)._COMMANDS, "AWAY", (0, refuse))
    assert numerics(alice.ask("AWAY :lunch")) == ["403"]


def test_irc_closes_a_flooder_by_the_code_not_the_text():
    net = Net()
    alice = net.irc_user("alice")
    alice.transport.clear()
    alice.protocol.deliver(Error("flooding", code="flooding"))
    alice.protocol.deliver(Error("flooding"))  # the same words, not the refusal
    lines = alice.read()
    assert lines[0].startswith("ERROR :Closing link:")
    assert numerics(lines[1:]) == ["NOTICE"]


# -- the MOTD, one event --------------------------------------------------------


def test_the_motd_is_one_event_parsed_back_as_one_notice_a_line():
    event = Motd(("Welcome", "", "be kind"))
    data = line_bytes(event)
    assert data == b"* Welcome\r\n* \r\n* be kind\r\n"
    parser = LineParser()
    assert [parser.parse(line) for line in data.decode().split("\r\n")[:-1]] == [
        Notice("Welcome"), Notice(""), Notice("be kind")]


def test_irc_shows_a_motd_event_as_its_numerics():
    # The burst's MOTD (375/372/376, or 422 without one) is test_irc.test_motd's.
    net = Net()
    alice = net.irc_user("alice")
    alice.protocol.deliver(Motd(("Later.", "Much later.")))
    assert alice.read() == [
        ":chatsvc 375 alice :- chatsvc Message of the day - ",
        ":chatsvc 372 alice :- Later.",
        ":chatsvc 372 alice :- Much later.",
        ":chatsvc 376 alice :End of /MOTD command.",
    ]


# -- the documentation ---------------------------------------------------------


def documented_codes() -> dict[str, str]:
    """code -> IRC column of the "Error codes" table (docs/user/errors.rst)."""
    text = ERRORS_PAGE.read_text(encoding="utf-8")
    section = text.split("\nError codes\n", 1)[1].split("\n\n\n", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        match = re.match(r"``([a-z-]+)``\s{2,}.*?\s{2,}(\S+)\s*$", line)
        if match:
            rows[match[1]] = match[2]
    return rows


def test_the_docs_list_every_code_with_its_irc_numeric():
    rows = documented_codes()
    assert set(rows) == {kind.code for kind in every_refusal_class() if kind not in BASES}
    for code, numeric in channels._REFUSALS.items():
        assert numeric(next(s for s in SAMPLES if s.code == code))[0] in rows[code], code
