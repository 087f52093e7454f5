"""No line we send holds a CR, LF or NUL before its final CRLF, whatever a
client sent and whatever an event holds (issue 13, item 3).

A bare CR ends a line for HexChat and mIRC, and an LF for every client: one
inside a line would let a client's bytes forge a whole line from any sender.
Received text is sanitised on the way in (chatsvc.hub.text); these tests check
the encoders' own guard (ircwire.encode, ircformat's fast path,
lineformat.line_bytes) for every event type, every IRC command and any text.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import Net

from chatsvc import events
from chatsvc.events import (
    AccountChanged,
    AwayChanged,
    Entered,
    Error,
    Event,
    Exited,
    HostChanged,
    Invited,
    InviteNotified,
    Joined,
    Kicked,
    Left,
    ModesChanged,
    Motd,
    Notice,
    Presence,
    PrivateMessage,
    RealNameChanged,
    Registered,
    Renamed,
    RoomList,
    RoomMessage,
    TagMessage,
    Topic,
    TopicChanged,
    Wallops,
    Watched,
    Who,
)
from chatsvc.hub.modes import ModeChange
from chatsvc.protocols.irc import wire as ircwire
from chatsvc.protocols.irc.protocol import IRCChatProtocol
from chatsvc.protocols.irc.render import irc_bytes
from chatsvc.protocols.line.wire import line_bytes

# What a hostile client would put in any field: line ends, NUL, an escape
# sequence, C1 controls (NEL, CSI), bidi overrides and a line separator.
HOSTILE = "a\rb\nc\x00d\x1b[2J\x85\x9b1m\u202eE\u2028F\r\n:evil!e@x PRIVMSG v :forged"

_TEXT = st.text(st.characters(codec="utf-8"))  # any text a UTF-8 line can carry


def assert_lines_whole(data: bytes) -> None:
    """Every line in C{data} ends with CRLF and holds no CR, LF or NUL before it."""
    assert data.endswith(b"\r\n"), data
    for line in data.split(b"\r\n")[:-1]:
        assert b"\r" not in line and b"\n" not in line and b"\x00" not in line, line


# -- the encoder, for any text --------------------------------------------


@given(st.one_of(st.none(), _TEXT), _TEXT, st.lists(_TEXT, max_size=4), st.booleans())
def test_encode_never_breaks_a_line(source, command, params, text):
    data = ircwire.encode(ircwire.build(source, command, *params, text=text))
    assert_lines_whole(data)
    assert data.count(b"\r\n") == 1
    assert len(data) <= ircwire.MAX_LINE_BYTES


@given(_TEXT, _TEXT)
def test_fit_never_breaks_a_line(target, text):
    lines = ircwire.fit("nick!user@host", "PRIVMSG", (target,), text)
    data = b"".join(map(ircwire.encode, lines))
    assert_lines_whole(data)
    assert data.count(b"\r\n") == len(lines)


@given(_TEXT, _TEXT, _TEXT, st.booleans(), st.booleans())
def test_message_fast_path_never_breaks_a_line(sender, target, text, action, notice):
    for event in (PrivateMessage(sender, target, text or "x", action, mask=sender,
                                 notice=notice),
                  RoomMessage(target, sender, text or "x", action, notice=notice)):
        assert_lines_whole(irc_bytes(event))


def test_removed_not_replaced():
    # A space in place of a CR would move the parameters after it.
    assert ircwire.encode(ircwire.build("s", "421", "me", "FOO\rBAR", "Unknown")) == (
        b":s 421 me FOOBAR Unknown\r\n")
    assert ircwire.encode("PONG s :tok\r\n:evil PRIVMSG v :x\x00") == (
        b"PONG s :tok:evil PRIVMSG v :x\r\n")


def test_long_text_is_measured_after_removal():
    # 600 CRs and 100 letters fit one line once the CRs are gone.
    lines = ircwire.fit("s", "NOTICE", ("me",), "\r" * 600 + "x" * 100)
    assert lines == [":s NOTICE me :" + "x" * 100]


# -- every event type, to both protocols -----------------------------------

_H = HOSTILE
EVERY_EVENT: dict[type, Event] = {
    RoomMessage: RoomMessage(_H, _H, _H, mask=_H),
    PrivateMessage: PrivateMessage(_H, _H, _H, True, mask=_H, notice=True),
    Joined: Joined(_H, _H, mask=_H),
    Left: Left(_H, _H, _H, mask=_H),
    Renamed: Renamed(_H, _H, mask=_H),
    Registered: Registered(_H),
    Who: Who(_H, (_H, "bob"), (_H,), ("bob",)),
    Notice: Notice(_H),
    Motd: Motd((_H, "be nice", _H)),
    Error: Error(_H),
    Entered: Entered(_H, 2, _H, _H),
    Exited: Exited(_H, _H, _H, mask=_H),
    Kicked: Kicked(_H, _H, _H, _H, mask=_H),
    TopicChanged: TopicChanged(_H, _H, _H, mask=_H),
    ModesChanged: ModesChanged(_H, _H, (ModeChange(True, "b", _H), ModeChange(False, "o", _H),
                                        ModeChange(True, "k", _H), ModeChange(True, "m")),
                               mask=_H),
    Invited: Invited(_H, _H, _H, mask=_H),
    Wallops: Wallops(_H, _H, mask=_H),
    AwayChanged: AwayChanged(_H, _H, mask=_H),
    Presence: Presence(_H, True, mask=_H),
    RealNameChanged: RealNameChanged(_H, _H, mask=_H),
    InviteNotified: InviteNotified(_H, _H, _H, mask=_H),
    HostChanged: HostChanged(_H, _H, _H, mask=_H),
    AccountChanged: AccountChanged(_H, _H, mask=_H),
    Watched: Watched(AwayChanged(_H, _H, mask=_H)),
    Topic: Topic(_H, _H),
    RoomList: RoomList(((_H, 3, _H), ("#chat", 1, ""))),
    TagMessage: TagMessage(_H, _H, (("+react", _H),), mask=_H),
}
# Events whose fields the line renderers pass through unchanged.
EVERY_EVENT_VARIANTS = [*EVERY_EVENT.values(), Left(None, _H, _H), Exited(_H, ""),
                        RoomMessage(_H, _H, _H, True), Entered(_H, 1, ""),
                        PrivateMessage(_H, _H, _H * 20, mask=_H), Presence(_H, False)]


def test_every_event_type_is_covered():
    everything = {cls for cls in vars(events).values()
                  if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event}
    assert set(EVERY_EVENT) == everything


@pytest.mark.parametrize("event", EVERY_EVENT_VARIANTS, ids=lambda e: type(e).__name__)
def test_every_event_reaches_irc_users_in_whole_lines(event):
    net = Net()
    alice = net.irc_user("alice", channels="#room")
    # What shows only when asked, too.
    alice.ask("CAP REQ :away-notify message-tags server-time setname invite-notify chghost "
              "extended-monitor account-notify account-tag")
    alice.transport.clear()
    alice.protocol.deliver(event)
    data = alice.transport.value()
    # IRC shows no line-protocol Who or RoomList, and no topic of a room it
    # does not know; everything else shows.
    if type(event) not in (Who, RoomList, Topic):
        assert data
    if data:
        assert_lines_whole(data)


@pytest.mark.parametrize("event", [Topic("#room", ""), Entered("#room", 1, "x")],
                         ids=lambda e: type(e).__name__)
def test_room_state_reaches_irc_users_in_whole_lines(event):
    # Topic and Entered show the room's own topic and names, from the hub.
    net = Net()
    alice = net.irc_user("alice", channels="#room")
    net.hub.set_topic(alice.protocol, "#room", HOSTILE)  # the hub's own call: unsanitised
    alice.transport.clear()
    alice.protocol.deliver(event)
    data = alice.transport.value()
    assert b" 332 " in data
    assert_lines_whole(data)


@pytest.mark.parametrize("event", EVERY_EVENT_VARIANTS, ids=lambda e: type(e).__name__)
def test_every_event_reaches_line_users_in_whole_lines(event):
    data = line_bytes(event, "#chat")
    if type(event) in (AwayChanged, TagMessage, Presence, RealNameChanged, InviteNotified,
                       HostChanged, AccountChanged, Watched):
        assert data == b""  # the line protocol does not show it
    else:
        assert_lines_whole(data)


def test_a_hostile_field_cannot_add_a_line_for_line_users():
    assert line_bytes(Notice("hi\r\n<bob> forged")) == b"* hi<bob> forged\r\n"
    changes = (ModeChange(True, "b", "x\r\n<bob> forged"), ModeChange(True, "o", "carol"))
    assert line_bytes(ModesChanged("#r", "alice", changes)) == (
        b"* alice sets +b x<bob> forged on #r\r\n"
        b"* alice gives operator status to carol in #r\r\n")


# -- every IRC command, with hostile parameters ----------------------------


def _hostile_lines(command: str) -> list[bytes]:
    # The trailing parameter keeps CRs and NULs through parsing (the framing
    # splits on LF only, and a middle parameter ends at any whitespace).
    h = b"x\rPRIVMSG victim :forged\x00\x1b[2J\x85\xe2\x80\xae"
    c = command.encode()
    return [c, c + b" :" + h, c + b" " + h, c + b" #chat :" + h, c + b" victim :" + h,
            c + b" #chat victim :" + h, c + b" #chat +b :" + h, c + b" #chat +k :" + h,
            c + b" #chat " + h + b" :" + h, c + b" LS :" + h, c + b" REQ :" + h,
            c + b" alice 0 * :" + h, c + b" op :" + h,
            c + b" victim :\x01PING " + h + b"\x01", c + b" #chat :\x01VERSION " + h]


@pytest.mark.parametrize("command", sorted(IRCChatProtocol._COMMANDS) + ["FOO\rBAR", "F\x00O"])
def test_every_command_answers_in_whole_lines(command):
    net = Net(opers={"op": "x\rPRIVMSG victim :forged\x00\x1b[2J\x85\u202e"})
    early = net.irc_user()                       # before registering
    attacker = net.irc_user("attacker")          # the channel's operator
    victim, watcher = net.irc_user("victim"), net.line_user("watcher")
    attacker.send("OPER op :x\rPRIVMSG victim :forged\x00\x1b[2J\x85\u202e")
    users = [early, attacker, victim, watcher]
    for user in users:
        user.transport.clear()
    for line in _hostile_lines(command):
        early.protocol.dataReceived(line + b"\r\n")
        if not attacker.closed:
            attacker.protocol.dataReceived(line + b"\r\n")
        for user in users:
            data = user.transport.value()
            user.transport.clear()
            if data:
                assert_lines_whole(data)
    # Whatever reached the others was sanitised text, not just whole lines.
    for user in (victim, watcher):
        assert b"\x1b" not in user.transport.value()


def test_pong_echoes_no_line_end():
    net = Net()
    attacker = net.irc_user("attacker")
    attacker.read()
    attacker.send(b"PING :tok\r:evil!e@x PRIVMSG attacker :forged")
    assert attacker.transport.value() == (
        b":chatsvc PONG chatsvc :tok:evil!e@x PRIVMSG attacker :forged\r\n")


def test_a_nick_echoed_in_a_numeric_is_one_line():
    net = Net()
    early = net.irc_user()
    early.send(b"NICK :a\rb\x00c")
    assert early.transport.value() == (
        b":chatsvc 432 * abc :Erroneous nickname: '\\r' not allowed "
        b"(use ASCII letters, digits and _-[]{}\\^|)\r\n")
