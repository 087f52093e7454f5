"""Hub events as IRC lines, rendered once per event for every IRC recipient.

Only events whose bytes do not depend on who receives them are rendered
here: messages, joins, parts, quits, renames, kicks, topics, mode changes
and invitations (whose one recipient is named in the event).  A broadcast to
a thousand IRC users formats and encodes once.  Replies that depend on the
recipient (numerics, a user's own JOIN or PART, server notices) are built by
L{chatsvc.protocols.irc.protocol}.
"""

from __future__ import annotations

from collections.abc import Callable

from chatsvc.events import (
    AwayChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    ModesChanged,
    PrivateMessage,
    Renamed,
    RoomMessage,
    TagMessage,
    TopicChanged,
    Wallops,
    rendered,
    utc_time,
)
from chatsvc.hub.modes import ModeChange, mode_string
from chatsvc.hub.text import unbroken
from chatsvc.protocols.irc.wire import BODY_BYTES, build, encode, fit, tag_section

WIRE_FORMAT = "irc"

ACTION = ("\x01ACTION ", "\x01")
_NO_WRAP = ("", "")

MODES_PER_LINE = 4
"""Mode changes with an argument per MODE line (ISUPPORT MODES)."""


def source(name: str, mask: str) -> str:
    """The prefix for a user: their ``nick!user@host``, else just the nick."""
    return mask or name


def _message(event: RoomMessage | PrivateMessage, target: str) -> bytes:
    command = "NOTICE" if event.notice else "PRIVMSG"
    prefix = source(event.sender, event.mask)
    wrap = ACTION if event.action else _NO_WRAP
    # Most messages fit one line: format and encode it once.  fit() splits
    # the rest, measuring every piece (twice the cost for a short line).
    # This skips encode(), so it keeps encode()'s other promise itself: no
    # CR, LF or NUL inside the line, whatever the event holds.
    line = f":{prefix} {command} {target} :{wrap[0]}{event.text}{wrap[1]}"
    if "\r" in line or "\n" in line or "\x00" in line:  # has_breaks(), inline
        line = unbroken(line)
    data = line.encode()
    if len(data) <= BODY_BYTES:
        return data + b"\r\n"
    return b"".join(map(encode, fit(prefix, command, (target,), event.text, wrap)))


def _left(event: Left) -> bytes:
    prefix = source(event.name, event.mask)
    if event.room is None:
        return encode(build(prefix, "QUIT", event.reason, text=True))
    # A line user's move says where to, as the line protocol does (and irssi
    # shows a PART with no reason at all as "has left #chat []").
    reason = event.reason or (f"left for {event.to}" if event.to is not None else "")
    if not reason:
        return encode(build(prefix, "PART", event.room))
    return encode(build(prefix, "PART", event.room, reason, text=True))


def mode_lines(prefix: str, room: str, changes: tuple[ModeChange, ...]) -> bytes:
    """MODE lines for C{changes}: at most L{MODES_PER_LINE} arguments each,
    and as many lines as it takes for each to fit in 512 bytes (four long
    masks after a long prefix would not), so no change is ever cut off."""
    out: list[bytes] = []
    batch: list[ModeChange] = []
    for change in changes:
        longer = [*batch, change]
        if batch and (_arguments(longer) > MODES_PER_LINE
                      or len(_mode_line(prefix, room, longer).encode("utf-8")) > BODY_BYTES):
            out.append(encode(_mode_line(prefix, room, batch)))
            longer = [change]
        batch = longer
    if batch:
        out.append(encode(_mode_line(prefix, room, batch)))
    return b"".join(out)


def _arguments(changes: list[ModeChange]) -> int:
    return sum(change.argument is not None for change in changes)


def _mode_line(prefix: str, room: str, changes: list[ModeChange]) -> str:
    # Arguments are single words (masks, names, keys and limits have no
    # spaces), so mode_string's compact form splits back into parameters.
    return build(prefix, "MODE", room, *mode_string(changes).split(" "))


_RENDERERS: dict[type, Callable[..., bytes]] = {
    RoomMessage: lambda e: _message(e, e.status + e.room if e.status else e.room),
    PrivateMessage: lambda e: _message(e, e.target),
    Joined: lambda e: encode(build(source(e.name, e.mask), "JOIN", e.room)),
    Left: _left,
    Renamed: lambda e: encode(build(source(e.old, e.mask), "NICK", e.new)),
    Kicked: lambda e: encode(build(source(e.by, e.mask), "KICK", e.room, e.name,
                                   e.reason or e.by, text=True)),
    TopicChanged: lambda e: encode(build(source(e.by, e.mask), "TOPIC", e.room, e.topic,
                                         text=True)),
    ModesChanged: lambda e: mode_lines(source(e.by, e.mask), e.room, e.changes),
    Invited: lambda e: encode(build(source(e.by, e.mask), "INVITE", e.name, e.room)),
    Wallops: lambda e: b"".join(map(encode, fit(source(e.sender, e.mask), "WALLOPS", (),
                                                e.text))),
    # Only for away-notify clients, and message-tags clients (variant_bytes).
    AwayChanged: lambda e: b"",
    TagMessage: lambda e: b"",
}


def _render(event: Event) -> bytes:
    return _RENDERERS[type(event)](event)


def irc_bytes(event: Event) -> bytes | None:
    """The IRC lines for C{event}, or C{None} if they depend on the recipient."""
    if type(event) not in _RENDERERS:
        return None
    return rendered(event, WIRE_FORMAT, _render)


# -- IRCv3 capabilities that change what events look like -----------------------
#
# A client that negotiated server-time gets ``@time=...`` before each line
# the hub's events make; one that negotiated away-notify gets ``AWAY`` lines
# (when someone goes away or comes back, and after the JOIN of someone
# away); one that negotiated message-tags gets each event's id as
# ``msgid`` (on its first line: a message split over two lines is still
# one message), the client-only tags its sender attached (``+typing``,
# ``+draft/reply``...) and ``bot`` on every line, and TAGMSG; one that
# negotiated extended-join gets JOINs with the account and real name; one
# that negotiated account-tag gets ``account=`` on the lines of a user
# logged in (messages, JOIN, PART, QUIT, NICK, KICK, TOPIC, AWAY).  Each
# combination is a wire format of its own, so a broadcast still renders
# its bytes once for all the clients that asked for the same.

SERVER_TIME = "server-time"
AWAY_NOTIFY = "away-notify"
MESSAGE_TAGS = "message-tags"
#: JOIN with the account (C{*}: none) and the real name.
EXTENDED_JOIN = "extended-join"
#: The sender's account as an C{account} tag on their messages.
ACCOUNT_TAG = "account-tag"

#: (server-time, away-notify, message-tags, extended-join, account-tag) ->
#: the wire format's name.
_FORMATS = {
    (timed, away, tagged, extended, account): WIRE_FORMAT + ("@time" if timed else "") + (
        "+away" if away else "") + ("+tags" if tagged else "") + (
        "+xjoin" if extended else "") + ("+acct" if account else "")
    for timed in (False, True) for away in (False, True) for tagged in (False, True)
    for extended in (False, True) for account in (False, True)
}
#: Each format's (server-time, away-notify, message-tags, extended-join, account-tag).
_FLAGS = {fmt: flags for flags, fmt in _FORMATS.items()}
#: Each account-tag format -> the same format without account-tag, whose
#: bytes it shares for every event that carries no account.
_WITHOUT_ACCOUNT = {fmt: _FORMATS[(*flags[:4], False)]
                    for fmt, flags in _FLAGS.items() if flags[4]}
#: The events account-tag marks with their sender's account (C{account}):
#: what a user says or does that others see as a line from them.
_ACCOUNT_TAGGED = (RoomMessage, PrivateMessage, TagMessage, Joined, Left, Renamed, Kicked,
                   TopicChanged, AwayChanged, Invited)


def wire_format(caps: frozenset[str]) -> str:
    """The wire format a client with these capabilities reads."""
    return _FORMATS[SERVER_TIME in caps, AWAY_NOTIFY in caps, MESSAGE_TAGS in caps,
                    EXTENDED_JOIN in caps, ACCOUNT_TAG in caps]


def _away(name: str, mask: str, away: str | None) -> bytes:
    """away-notify's C{AWAY}: with the message when away, bare when back."""
    if away is None:
        return encode(build(source(name, mask), "AWAY"))
    return encode(build(source(name, mask), "AWAY", away, text=True))


def variant_bytes(event: Event, wire_format: str) -> bytes | None:
    """The IRC lines for C{event} in one of the capability formats (L{wire_format}).

    C{None} where they depend on the recipient, as for L{irc_bytes}.  Only
    the hub's events carry a time and an id (an event an adapter built for
    its own reply has none, and goes untagged).
    """
    data = event.wire.get(wire_format)
    if data is not None:
        return data
    data = irc_bytes(event)
    if data is None:
        return None
    timed, away, tagged, extended, account_tag = _FLAGS[wire_format]
    account = None
    if account_tag:
        if isinstance(event, _ACCOUNT_TAGGED):
            account = event.account
        if account is None:
            # Most events (and every message from a user not logged in) look
            # the same with account-tag as without: the bytes are rendered
            # once and the cache holds them under both formats.
            data = variant_bytes(event, _WITHOUT_ACCOUNT[wire_format])
            if data is not None:
                event.wire[wire_format] = data
            return data
    if extended and isinstance(event, Joined):
        data = encode(build(source(event.name, event.mask), "JOIN", event.room,
                            event.account or "*", event.realname or event.name, text=True))
    if away:
        if isinstance(event, AwayChanged):
            data = _away(event.name, event.mask, event.away)
        elif isinstance(event, Joined) and event.away is not None:
            data += _away(event.name, event.mask, event.away)
    if tagged and isinstance(event, TagMessage):
        data = encode(build(source(event.sender, event.mask), "TAGMSG", event.target))
    stamped = event.id is not None
    if data and ((stamped and (timed or tagged)) or account is not None):
        data = _tagged(event, data, timed and stamped, tagged and stamped, account)
    event.wire[wire_format] = data
    return data


def _tagged(event: Event, data: bytes, timed: bool, tagged: bool,
            account: str | None = None) -> bytes:
    """C{data}'s lines with the tags of C{event} this format shows: C{account}
    (account-tag) on every line, as the time is: each line is the sender's."""
    every: list[tuple[str, str]] = [("time", utc_time(event.time))] if timed else []
    if account is not None:
        every.append(("account", account))
    first = list(every)
    if tagged:
        first.append(("msgid", event.id or ""))
        carried = getattr(event, "tags", ())
        every.extend(carried)
        first.extend(carried)
    lines = data.split(b"\r\n")[:-1]
    head, rest = tag_section(first), tag_section(every)
    return b"".join((head if index == 0 else rest) + line + b"\r\n"
                    for index, line in enumerate(lines))
