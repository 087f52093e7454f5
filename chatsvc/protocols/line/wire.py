"""The line protocol's server-to-client format, in both directions.

Servers render events with L{line_bytes}; clients parse lines back into the
same events with L{LineParser}.  Keeping both here makes a new kind of line
one renderer plus one parsing rule, tested as a round trip.

The first characters of every line say what kind it is, so that a person in
telnet and a script can both read it::

    <alice> text      room message            *alice* text   private message
    * text            server notice           ! text         error reply

A private message kept while you were offline comes after
``* 3 messages while you were away``, with its time: ``[12:01] *alice* text``.

Room history (issue 18) comes as a block between two notices, each message
with its time in UTC (with the date when it is not today's)::

    * history of #rust (2)
    [12:01] <alice> text
    [2026-12-02 23:59] * bob waves
    * end of history
"""

from __future__ import annotations

import calendar
import math
import re
import time as _time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

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
    scrubbed,
    utc_time,
)
from chatsvc.hub import errors
from chatsvc.hub.errors import ChatError
from chatsvc.hub.modes import ModeChange, mode_string, parse_modes
from chatsvc.hub.names import NAME_PATTERN, fold
from chatsvc.hub.text import plain, unbroken

WIRE_FORMAT = "line"

NO_ROOM = errors.NoRoom.TEXT
"""The notice (and the error answering anything aimed at a room) for a line
user in no room: kicked from the default room, refused by it, or on a server
without one."""

# Text from IRC users (messages, reasons, topics) keeps IRC's formatting
# codes for other IRC users; plain() removes them, and any control
# character, for line users.


def _room_message(event: RoomMessage, home: str | None) -> str:
    # Hot spot, the send path (docs/performance.rst, step 18): plain()'s
    # test inline, as every message is rendered.
    text = event.text if event.text.isprintable() else plain(event.text)
    if event.status:
        # IRC's STATUSMSG (PRIVMSG @#room): say it was not to everyone.
        text = f"(to {event.status}{event.room}) {text}"
    if event.action:
        return f"* {event.sender} {text}"
    return f"<{event.sender}> {text}"


def _private_message(event: PrivateMessage, home: str | None) -> str:
    text = event.text if event.text.isprintable() else plain(event.text)
    # Kept while the recipient was offline: with its time, as history is
    # shown ("[12:01] *alice* text"; the date too when it is not today's).
    when = f"[{history_time(event.time, _time.time())}] " if event.delayed else ""
    if event.action:  # a private /me: "*erin hugs you*", as chat emotes are written
        return f"{when}*{event.sender} {text}*"
    return f"{when}*{event.sender}* {text}"


def _in(room: str | None, home: str | None) -> str:
    """`` #rust`` after a notice about a room other than the default one."""
    return "" if room is None or home is None or fold(room) == fold(home) else f" {room}"


def _because(reason: str) -> str:
    return f" ({plain(reason)})" if reason else ""


def _joined(event: Joined, home: str | None) -> str:
    where = _in(event.room, home)
    if event.came_from is not None:
        if not where:
            return f"* {event.name} is back from {event.came_from}"
        return f"* {event.name} joined{where} from {event.came_from}"
    return f"* {event.name} joined{where}"


def _left(event: Left, home: str | None) -> str:
    # A move says where to: "* dave left" alone is how a quit reads.
    to = f" for {event.to}" if event.to is not None else ""
    return f"* {event.name} left{_in(event.room, home)}{to}{_because(event.reason)}"


def _who(event: Who, home: str | None) -> str:
    ops, voiced = set(event.operators), set(event.voiced)
    shown = ", ".join(
        ("@" if name in ops else "+" if name in voiced else "") + name for name in event.names
    )
    # The members of one room, so it says which, the default room too (the
    # parser still reads the "* online (N): ..." of older servers).
    return f"* in {event.room} ({len(event.names)}): {shown}"


def _topic_line(room: str, topic: str) -> str:
    return f"* topic of {room}: {plain(topic)}" if topic else f"* no topic for {room}"


def _entered(event: Entered, home: str | None) -> str:
    line = f"* you joined {event.room} ({event.members} here)"
    if event.topic:
        line += "\r\n" + _topic_line(event.room, event.topic)
    return line


def _exited(event: Exited, home: str | None) -> str:
    if event.by is None:
        return f"* you left {event.room}{_because(event.reason)}"
    return f"* you were kicked from {event.room} by {event.by}{_because(event.reason)}"


def _kicked(event: Kicked, home: str | None) -> str:
    return f"* {event.by} kicked {event.name} from {event.room}{_because(event.reason)}"


def _topic_changed(event: TopicChanged, home: str | None) -> str:
    if event.topic:
        return f"* {event.by} sets the topic of {event.room}: {plain(event.topic)}"
    return f"* {event.by} clears the topic of {event.room}"


_STATUS_WORDS = {"o": "operator status", "v": "voice"}


def _modes_changed(event: ModesChanged, home: str | None) -> str:
    lines = []
    rules = [change for change in event.changes if change.mode not in _STATUS_WORDS]
    if rules:
        lines.append(f"* {event.by} sets {mode_string(rules)} on {event.room}")
    for change in event.changes:
        what = _STATUS_WORDS.get(change.mode)
        if what is not None:
            verb = "gives" if change.adding else "takes"
            to = "to" if change.adding else "from"
            lines.append(f"* {event.by} {verb} {what} {to} {change.argument} in {event.room}")
    return "\r\n".join(lines)


def _room_list(event: RoomList, home: str | None) -> str:
    shown = ", ".join(
        f"{name} ({count})" + (f" {plain(topic)}" if topic else "")
        for name, count, topic in event.rooms
    )
    listed = len(event.rooms)
    total = listed if event.total is None else event.total
    if event.first == 1 and total == listed and event.next_page is None:
        return f"* rooms ({listed}): {shown}"
    more = f" (/rooms {event.next_page} for more)" if event.next_page is not None else ""
    return f"* rooms {event.first}-{event.first + listed - 1} of {total}{more}: {shown}"


_RENDERERS: dict[type, Callable[..., str]] = {
    RoomMessage: _room_message,
    PrivateMessage: _private_message,
    Joined: _joined,
    Left: _left,
    Renamed: lambda e, home: f"* {e.old} is now {e.new}",
    Registered: lambda e, home: f"* you are {e.name}",
    Who: _who,
    Notice: lambda e, home: f"* {e.text}",
    # As the MOTD's lines were each a notice before it was an event: the
    # same bytes, so clients and people see nothing new.
    Motd: lambda e, home: "\r\n".join(f"* {line}" for line in e.lines),
    Error: lambda e, home: f"! {e.text}",
    Entered: _entered,
    Exited: _exited,
    Kicked: _kicked,
    TopicChanged: _topic_changed,
    ModesChanged: _modes_changed,
    Invited: lambda e, home: f"* {e.by} invites you to {e.room}",
    Wallops: lambda e, home: f"* wallops from {e.sender}: {e.text}",
    # Shown as a line user meets it, when they whisper (IRC's away-notify
    # would be a line in every room for every away and back).
    AwayChanged: lambda e, home: "",
    # IRCv3 TAGMSG: only tags, which the line protocol does not show (the
    # hub does not send it here; nothing, should it ever come).
    TagMessage: lambda e, home: "",
    # Only to watchers and NOTIFY protocols (IRC's MONITOR, setname,
    # invite-notify); a line user reads real names in /whois.
    Presence: lambda e, home: "",
    RealNameChanged: lambda e, home: "",
    InviteNotified: lambda e, home: "",
    HostChanged: lambda e, home: "",
    AccountChanged: lambda e, home: "",
    Watched: lambda e, home: "",
    Topic: lambda e, home: _topic_line(e.room, e.topic),
    RoomList: _room_list,
}


def render_text(event: Event, home: str | None = None) -> str:
    """The text (without final terminator) that shows C{event} to a line user.

    C{home} is the server's default room: the core notices about it
    (C{* alice joined}, C{* alice left (reason)}) do not name it, while
    those about any other room do.  C{None} treats every room as home.  A
    few events take more than one line, joined by CRLF.
    """
    return _RENDERERS[type(event)](event, home)


def line_bytes(event: Event, home: str | None = None) -> bytes:
    """The bytes to write for C{event}, rendered once however many receive it.

    C{home} must be the same for every caller within one hub (it is the
    hub's default room), which is what makes the per-event cache valid.
    """
    data = event.wire.get(WIRE_FORMAT)
    if data is None:
        render = _RENDERERS[type(event)]
        text = render(event, home)  # render_text, a call fewer
        # No field may end a line early, whatever it holds: the few events
        # that render as several lines (joined by CRLF) and an event with a
        # CR, LF or NUL in a field are rendered again from fields without them.
        if "\r" in text or "\n" in text or "\x00" in text:  # has_breaks(), inline
            text = render(scrubbed(event, unbroken), home)
        data = event.wire[WIRE_FORMAT] = (text + "\r\n").encode("utf-8") if text else b""
    return data


# -- history ------------------------------------------------------------------


#: The kinds of a history row, as the store names them
#: (L{chatsvc.store.sqlite.KINDS}) and as C{/history --ids} spells them,
#: with C{action} and C{notice} for the two sorts of message.
MESSAGE, TOPIC, JOIN, PART, QUIT = "message", "topic", "join", "part", "quit"
ACTION, NOTICE = "action", "notice"


class HistoryEntry(NamedTuple):
    """One row of a history block: what L{history_block} shows.

    C{kind}: L{MESSAGE}, L{TOPIC} (C{sender} set the topic to C{text}),
    L{JOIN}, L{PART} or L{QUIT} (C{text}: the reason); C{id}: the event's id, shown
    only in an exact block (C{/history --ids}).
    """

    time: float
    sender: str
    text: str
    action: bool = False
    kind: str = MESSAGE
    id: str = ""
    notice: bool = False


#: The end of an exact block's header: C{* history of #rust (3) with ids}.
WITH_IDS = " with ids"

#: An event's id (L{chatsvc.events.event_id}): what an exact line carries.
_EVENT_ID = re.compile(r"[0-9a-f]{24}")


def history_header(room: str, count: int, exact: bool = False) -> str:
    """C{* history of #rust (3)}: the line before a room's replayed messages
    (C{... (3) with ids} before an exact block's)."""
    return f"* history of {room} ({count})" + (WITH_IDS if exact else "")


#: The line after a room's replayed messages.
HISTORY_END = "* end of history"


def history_time(when: float, now: float) -> str:
    """C{12:01} (UTC), or C{2026-12-02 12:01} when C{when} is not on C{now}'s UTC day."""
    moment, today = _time.gmtime(when), _time.gmtime(now)
    if moment[:3] == today[:3]:
        return _time.strftime("%H:%M", moment)
    return _time.strftime("%Y-%m-%d %H:%M", moment)


def _said(kind: str, room: str, sender: str, text: str, action: bool) -> str:
    """What a history line shows after its time, in the live lines' words:
    C{<alice> text}, C{* alice waves}, C{* alice sets the topic of #rust:
    text}, C{* bob joined}, C{* bob left (reason)}."""
    who, said = plain(sender), plain(text)
    if kind == TOPIC:
        if said:
            return f"* {who} sets the topic of {plain(room)}: {said}"
        return f"* {who} clears the topic of {plain(room)}"
    if kind == JOIN:
        return f"* {who} joined"
    if kind in (PART, QUIT):  # as live: "* bob left (reason)" is how both read
        return f"* {who} left" + (f" ({said})" if said else "")
    return f"* {who} {said}" if action else f"<{who}> {said}"


def history_line(when: float, sender: str, text: str, action: bool, now: float,
                 kind: str = MESSAGE, room: str = "") -> str:
    """One replayed row: C{[12:01] <alice> text}, C{[12:01] * alice waves},
    C{[12:01] * alice sets the topic of #rust: text}, C{[12:01] * bob joined}.

    Rendered as text like every other line: stored text is shown through
    L{plain} (no control characters, no line breaks), whatever it holds.
    """
    return f"[{history_time(when, now)}] {_said(kind, room, sender, text, action)}"


def exact_time(event_id: str) -> str:
    """The bracket of an exact history line: the time of C{event_id} (to its
    millisecond, RFC 3339 in UTC), then the id itself."""
    return f"{utc_time(int(event_id[:11], 16) / 1000)} {event_id}"


def _exact_kind(entry: HistoryEntry) -> str:
    if entry.kind != MESSAGE:
        return entry.kind
    return ACTION if entry.action else NOTICE if entry.notice else MESSAGE


def history_block(room: str, messages: Sequence[tuple[Any, ...]], now: float,
                  exact: bool = False) -> bytes:
    """The bytes of a whole replay: header, one line per row (a
    L{HistoryEntry}, or its first fields: time, sender, text, action), and
    the end line.

    C{exact} (C{/history --ids}, for programs): each line starts with
    C{[2026-12-03T12:01:07.250Z <id> <kind>]} instead of C{[12:01]}, so that
    a client reads the event's id, exact time and kind (L{MESSAGE},
    L{ACTION}, L{NOTICE}, L{TOPIC}, L{JOIN}, L{PART}, L{QUIT}) from what the server
    wrote, never from what a user wrote after it.  A row whose id is not an
    event's (an edited database) is left out of an exact block.
    """
    entries = [HistoryEntry(*row) for row in messages]
    if exact:
        entries = [entry for entry in entries if _EVENT_ID.fullmatch(entry.id)]
    lines = [history_header(room, len(entries), exact)]
    for entry in entries:
        said = _said(entry.kind, room, entry.sender, entry.text, entry.action)
        if exact:
            lines.append(f"[{exact_time(entry.id)} {_exact_kind(entry)}] {said}")
        else:
            lines.append(f"[{history_time(entry.time, now)}] {said}")
    lines.append(HISTORY_END)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def private_history_block(other: str,
                          messages: Sequence[tuple[Any, ...]],
                          now: float, exact: bool = False) -> bytes:
    """The bytes of a private conversation's history with C{other}, for its
    reader: C{* history with bob (N)}, then per (time, sent by the reader,
    sender, text, action) C{[12:01] *bob* text} as a private message is shown
    live, or C{[12:01] -> *bob* text} for one the reader sent, then C{* end
    of history}.

    C{exact}: rows carry two more fields (id, notice); the header ends in
    C{with ids} and each line's bracket is as in L{history_block}.
    Stored text is shown through L{plain}, as in L{history_line}.
    """
    to = plain(other)
    if exact:  # as in history_block: only rows with an event's id
        messages = [row for row in messages if _EVENT_ID.fullmatch(row[5])]
    lines = [f"* history with {to} ({len(messages)})" + (WITH_IDS if exact else "")]
    for when, mine, sender, text, action, *more in messages:
        who, said = plain(sender), plain(text)
        if exact:
            event_id, notice = more
            kind = ACTION if action else NOTICE if notice else MESSAGE
            stamp = f"[{exact_time(event_id)} {kind}]"
        else:
            stamp = f"[{history_time(when, now)}]"
        if mine:  # "-> *bob* text", as a sent message reads; "-> *bob* *alice waves*"
            lines.append(f"{stamp} -> *{to}* " + (f"*{who} {said}*" if action else said))
        else:
            lines.append(f"{stamp} *{who} {said}*" if action else f"{stamp} *{who}* {said}")
    lines.append(HISTORY_END)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


_HISTORY_HEADER = re.compile(r"\* history of (?P<room>\S+) \((?P<count>\d+)\)(?P<exact> with ids)?")
_EXACT_LINE = re.compile(
    r"\[\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (?P<id>[0-9a-f]{24}) (?P<kind>[a-z]+)\] "
    r"(?P<rest>.*)", re.DOTALL)
_HISTORY_TOPIC = re.compile(rf"(?P<by>{NAME_PATTERN}) (?:sets|clears) the topic of "
                            r"(?P<room>#[^\s,:]+)(?:: (?P<topic>.*))?", re.DOTALL)
_HISTORY_JOINED = re.compile(rf"(?P<name>{NAME_PATTERN}) joined")
_HISTORY_LEFT = re.compile(rf"(?P<name>{NAME_PATTERN}) left(?: \((?P<reason>.*)\))?", re.DOTALL)
_HISTORY_LINE = re.compile(
    r"\[(?:(?P<date>\d{4}-\d{2}-\d{2}) )?(?P<hm>\d{2}:\d{2})\] (?P<rest>.*)", re.DOTALL)
_HISTORY_ACTION = re.compile(rf"\* (?P<sender>{NAME_PATTERN}) (?P<text>.*)", re.DOTALL)


def parse_history_time(date: str | None, hours_minutes: str, now: float) -> float:
    """The epoch seconds of a history line's C{[date HH:MM]} (UTC), to the minute.

    Without a date it is today's (by C{now}), or yesterday's if that would
    be in the future: the server sends the date for any other day.
    """
    hour, minute = (int(part) for part in hours_minutes.split(":"))
    if date is not None:
        year, month, day = (int(part) for part in date.split("-"))
    else:
        year, month, day = _time.gmtime(now)[:3]
    when = float(calendar.timegm((year, month, day, hour, minute, 0, 0, 0, 0)))
    if date is None and when > now + 60:
        when -= 86400
    return when


# -- the other direction: parsing server lines (for clients) -----------------
#
# A line's first characters give its kind, except that ``* `` starts both
# server notices and room actions (``* alice waves``), so one line alone can
# be ambiguous.  L{LineParser} therefore keeps the context the wire leaves out
# (your own name, who is present, the current room) and tries, in order: the
# notice rules in L{NOTICE_RULES} (specific phrasings such as ``* alice
# joined``), then an action by a user it knows to be present, then a plain
# L{Notice}.  Whatever it does not recognise becomes a L{Notice}: a newer
# server never breaks an older client.  Some events come back as less than
# the server sent: a L{Motd} is one L{Notice} per line (nothing on the wire
# marks its lines), and an L{Error}'s C{code} is recovered from its text by
# L{refusal_code} ("error" for a text no refusal declares).

NoticeRule = Callable[["re.Match[str]", "LineParser"], Event | None]
"""Build an event from a matched notice, or return C{None} to decline it."""



def _rule_joined(match: re.Match[str], parser: LineParser) -> Event | None:
    return Joined(match["room"] or parser.room, match["name"])


def _rule_left(match: re.Match[str], parser: LineParser) -> Event | None:
    return Left(match["room"], match["name"], match["reason"] or "")


def _rule_moved_out(match: re.Match[str], parser: LineParser) -> Event | None:
    return Left(match["room"] or parser.room or None, match["name"], match["reason"] or "",
                to=match["to"])


def _rule_moved_in(match: re.Match[str], parser: LineParser) -> Event | None:
    return Joined(match["room"] or parser.room, match["name"], came_from=match["came_from"])


def _rule_renamed(match: re.Match[str], parser: LineParser) -> Event | None:
    return Renamed(match["old"], match["new"])


def _rule_registered(match: re.Match[str], parser: LineParser) -> Event | None:
    # Only after we asked for a name: otherwise a user called "you" could
    # write "/me are bob" and make us believe we had been renamed.
    if not parser.awaiting_name:
        return None
    parser.awaiting_name -= 1
    return Registered(match["name"])


def _rule_who(match: re.Match[str], parser: LineParser) -> Event | None:
    shown = tuple(name for name in match["names"].split(", ") if name)
    if len(shown) != int(match["count"]):
        return None
    names = tuple(name.lstrip("@+") for name in shown)
    return Who(
        match["room"] or parser.room, names,
        tuple(name[1:] for name in shown if name.startswith("@")),
        tuple(name[1:] for name in shown if name.startswith("+")),
    )


def _rule_entered(match: re.Match[str], parser: LineParser) -> Event | None:
    return Entered(match["room"], int(match["count"]), "")


def _rule_exited(match: re.Match[str], parser: LineParser) -> Event | None:
    return Exited(match["room"], match["reason"] or "", match["by"] or None)


def _rule_kicked(match: re.Match[str], parser: LineParser) -> Event | None:
    return Kicked(match["room"], match["name"], match["by"], match["reason"] or "")


def _rule_topic_changed(match: re.Match[str], parser: LineParser) -> Event | None:
    return TopicChanged(match["room"], match["by"], match["topic"] or "")


def _rule_topic(match: re.Match[str], parser: LineParser) -> Event | None:
    return Topic(match["room"], match["topic"] or "")


def _rule_modes(match: re.Match[str], parser: LineParser) -> Event | None:
    spec, *arguments = match["modes"].split(" ")
    try:
        changes = parse_modes(spec, arguments, excess="keep")  # the server applied them
    except ChatError:
        return None
    return ModesChanged(match["room"], match["by"], tuple(changes))


_STATUS_LETTERS = {words: letter for letter, words in _STATUS_WORDS.items()}


def _rule_status(match: re.Match[str], parser: LineParser) -> Event | None:
    change = ModeChange(match["verb"] == "gives", _STATUS_LETTERS[match["what"]], match["name"])
    return ModesChanged(match["room"], match["by"], (change,))


def _rule_invited(match: re.Match[str], parser: LineParser) -> Event | None:
    return Invited(match["room"], match["by"], parser.me or "")


_ROOM_ENTRY = re.compile(r"(?P<room>#[^\s,:]+) \((?P<count>\d+)\)(?: (?P<topic>.*?))?"
                         r"(?:, (?=#[^\s,:]+ \(\d+\))|\Z)", re.DOTALL)


def _rule_rooms(match: re.Match[str], parser: LineParser) -> Event | None:
    rooms = tuple((m["room"], int(m["count"]), m["topic"] or "")
                  for m in _ROOM_ENTRY.finditer(match["rooms"]))
    if match["count"] is not None:  # all of them: "rooms (3): ..."
        return RoomList(rooms) if len(rooms) == int(match["count"]) else None
    first, last = int(match["first"]), int(match["last"])
    if len(rooms) != last - first + 1:
        return None
    following = match["next"]
    return RoomList(rooms, first, int(match["total"]),
                    int(following) if following is not None else None)


_NAME = NAME_PATTERN
_ROOM = r"#[^\s,:]+"
_REASON = r"(?: \((?P<reason>.*)\))?"

NOTICE_RULES: list[tuple[re.Pattern[str], NoticeRule]] = [
    (re.compile(rf"you are (?P<name>{_NAME})"), _rule_registered),
    (re.compile(rf"(?:online|in (?P<room>{_ROOM})) \((?P<count>\d+)\): ?(?P<names>.*)"),
     _rule_who),
    (re.compile(rf"you joined (?P<room>{_ROOM}) \((?P<count>\d+) here\)"), _rule_entered),
    (re.compile(rf"you left (?P<room>{_ROOM}){_REASON}(?P<by>)"), _rule_exited),
    (re.compile(rf"you were kicked from (?P<room>{_ROOM}) by (?P<by>{_NAME}){_REASON}"),
     _rule_exited),
    (re.compile(rf"(?P<name>{_NAME}) left(?: (?P<room>{_ROOM}))? for (?P<to>{_ROOM}){_REASON}"),
     _rule_moved_out),
    (re.compile(rf"(?P<name>{_NAME}) is back from (?P<came_from>{_ROOM})(?P<room>)"),
     _rule_moved_in),
    (re.compile(rf"(?P<name>{_NAME}) joined (?P<room>{_ROOM}) from (?P<came_from>{_ROOM})"),
     _rule_moved_in),
    (re.compile(rf"(?P<name>{_NAME}) joined(?: (?P<room>{_ROOM}))?"), _rule_joined),
    (re.compile(rf"(?P<name>{_NAME}) left(?: (?P<room>{_ROOM}))?{_REASON}"), _rule_left),
    (re.compile(rf"(?P<old>{_NAME}) is now (?P<new>{_NAME})"), _rule_renamed),
    (re.compile(rf"(?P<by>{_NAME}) kicked (?P<name>{_NAME}) from (?P<room>{_ROOM}){_REASON}"),
     _rule_kicked),
    (re.compile(rf"(?P<by>{_NAME}) (?:sets|clears) the topic of (?P<room>{_ROOM})"
                r"(?:: (?P<topic>.*))?", re.DOTALL), _rule_topic_changed),
    (re.compile(rf"topic of (?P<room>{_ROOM}): (?P<topic>.*)", re.DOTALL), _rule_topic),
    (re.compile(rf"no topic for (?P<room>{_ROOM})(?P<topic>)"), _rule_topic),
    (re.compile(rf"(?P<by>{_NAME}) sets (?P<modes>[-+][^ ]*(?: [^ ]+)*) on (?P<room>{_ROOM})"),
     _rule_modes),
    (re.compile(rf"(?P<by>{_NAME}) (?P<verb>gives|takes) (?P<what>operator status|voice) "
                rf"(?:to|from) (?P<name>{_NAME}) in (?P<room>{_ROOM})"), _rule_status),
    (re.compile(rf"(?P<by>{_NAME}) invites you to (?P<room>{_ROOM})"), _rule_invited),
    (re.compile(r"rooms (?:\((?P<count>\d+)\)|(?P<first>\d+)-(?P<last>\d+) of (?P<total>\d+)"
                r"(?: \(/rooms (?P<next>\d+) for more\))?): ?(?P<rooms>.*)", re.DOTALL),
     _rule_rooms),
    # Never an action by a present user who wrote "/me is away: ...".
    (re.compile(rf"{_NAME} is away: .*", re.DOTALL), lambda match, parser: Notice(match.string)),
]
"""Notice phrasings that mean a structured event, tried in order with
C{fullmatch} on the text after ``* ``.  Add a rule here when the server gains
a new kind of notice (and a renderer above)."""


# -- refusals: the code behind an error line ---------------------------------

_FORM_PIECES = {"name": r"\S+", "room": r"\S+", "word": r"\S+", "n": r"\d+", "text": r".*"}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _form_pattern(form: str) -> re.Pattern[str]:
    """The regular expression for one of a refusal's C{line_forms}."""
    pieces = _PLACEHOLDER.split(form)  # literal, name, literal, name, ..., literal
    pattern = "".join(re.escape(piece) if index % 2 == 0 else f"(?:{_FORM_PIECES[piece]})"
                      for index, piece in enumerate(pieces))
    return re.compile(pattern, re.DOTALL)


def _refusal_classes(base: type[ChatError]) -> list[type[ChatError]]:
    """C{base} and every class below it, each after its own subclasses
    (so a more specific form is tried before a broader one)."""
    found: list[type[ChatError]] = []
    for sub in base.__subclasses__():
        found.extend(_refusal_classes(sub))
    found.append(base)
    return found


REFUSAL_FORMS: list[tuple[re.Pattern[str], str]] = [
    (_form_pattern(form), kind.code)
    for kind in _refusal_classes(ChatError) for form in kind.line_forms
]
"""(pattern, code) for every refusal's line-protocol text, from the
C{line_forms} of the classes in L{chatsvc.hub.errors}: what L{refusal_code}
tries, in order."""


def refusal_code(text: str) -> str:
    """The code of the refusal whose text (after C{! }) is C{text}, or C{"error"}.

    The line protocol carries only the text; this recovers the code from
    the forms every refusal declares, so clients classify by code.
    """
    for pattern, code in REFUSAL_FORMS:
        if pattern.fullmatch(text):
            return code
    return ChatError.code


_ROOM_MESSAGE = re.compile(rf"<(?P<sender>{NAME_PATTERN})> (?P<text>.*)", re.DOTALL)
_PRIVATE_MESSAGE = re.compile(rf"\*(?P<sender>{NAME_PATTERN})\* (?P<text>.*)", re.DOTALL)
_PRIVATE_ACTION = re.compile(rf"\*(?P<sender>{NAME_PATTERN}) (?P<text>.+)\*", re.DOTALL)
_ACTION = re.compile(rf"(?P<sender>{NAME_PATTERN}) (?P<text>.*)", re.DOTALL)
# One we sent, in a private history block: "-> *bob* text", "-> *bob* *alice waves*".
_SENT = re.compile(rf"-> \*(?P<target>{NAME_PATTERN})\* (?P<text>.*)", re.DOTALL)


_NAME_REFUSALS = (errors.NameTaken.code, errors.BadNameError.code)


class LineParser:
    """Turn lines from a chatsvc line-protocol server back into events.

    One parser per connection: it remembers what the format leaves implicit
    and updates that from the events it parses (L{Registered} sets L{me};
    L{Joined}, L{Left}, L{Kicked}, L{Renamed} and L{Who} keep L{present} up to
    date; L{Entered} moves it to another room, L{Exited} out of one).

    @ivar me: our own name, once registered.
    @ivar room: the room that room events are attributed to.
    @ivar nowhere: whether the server said we are in no room (L{NO_ROOM}),
        until we enter one.
    @ivar present: folded name -> name of the users known to be present.
    @ivar awaiting_name: how many ``#name``/``/nick`` requests are unanswered;
        a client sets it when it asks for a name (see L{expect_name}).
    """

    def __init__(self, room: str = "", me: str | None = None,
                 now: Callable[[], float] = _time.time) -> None:
        self.me = me
        self.room = room
        #: The room whose history block we are in, between its header and its end.
        self.history: str | None = None
        #: Whether that block is exact (C{/history --ids}): each line has its id.
        self.exact = False
        self._replayed = False
        self._now = now
        self.present: dict[str, str] = {}
        self.awaiting_name = 0
        self.nowhere = False
        if me is not None:
            self.present[fold(me)] = me

    def expect_name(self) -> None:
        """Note that we asked for a name, so ``* you are X`` is believed."""
        self.awaiting_name += 1

    def name_refused(self) -> None:
        """Note that a name request was answered with an error."""
        self.awaiting_name = max(0, self.awaiting_name - 1)

    def parse(self, line: str) -> Event:
        """The event that C{line} (without its terminator) shows.

        A history line's event (it has a C{time}) tells of the past: who is
        present now is not learnt from it.
        """
        self._replayed = False
        event = self._classify(line)
        if not self._replayed:
            self._learn(event)
        return event

    def _classify(self, line: str) -> Event:
        if self.history is not None:
            event = self._in_history(line)
            if event is not None:
                return event
        elif line.startswith("* history of "):
            match = _HISTORY_HEADER.fullmatch(line)
            if match:
                self.history = match["room"]
                self.exact = match["exact"] is not None
                return Notice(line[2:])
        if line.startswith("! "):
            text = line[2:]
            return Error(text, code=refusal_code(text))
        if line.startswith("<"):
            match = _ROOM_MESSAGE.fullmatch(line)
            if match:
                return RoomMessage(self.room, match["sender"], match["text"])
        elif line.startswith("*") and not line.startswith("* "):
            return self._private(line)
        elif line.startswith("["):
            event = self._private_history(line)
            if event is not None:
                return event
        elif line.startswith("* "):
            return self._star(line[2:])
        return Notice(line)

    def _history_stamp(self, line: str) -> tuple[tuple[float, int], str | None, str] | None:
        """The stamp, kind and rest of a history line: an exact one's
        (C{[time id kind] rest}: the id's own stamp, so the event's C{id} is
        the stored one) or a person's (C{[12:01] rest}: the minute, no id, no
        kind); C{None} for any other line."""
        exact = _EXACT_LINE.fullmatch(line)
        if exact is not None:
            return exact_stamp(exact["id"]), exact["kind"], exact["rest"]
        match = _HISTORY_LINE.fullmatch(line)
        if match is None:
            return None
        return (parse_history_time(match["date"], match["hm"], self._now()), 0), None, \
            match["rest"]

    def _in_history(self, line: str) -> Event | None:
        """A line inside a history block: a L{RoomMessage} (L{TopicChanged},
        L{Joined}, L{Left}) with its time, and its id in an exact block; or
        the block's end.

        In a person's block C{* bob joined} is read as a join, as live (it
        could be C{/me joined}); an exact line's kind says which it is.
        """
        if line == HISTORY_END:
            self.history = None
            self.exact = False
            return Notice(line[2:])
        found = self._history_stamp(line)
        if found is None:
            return None
        stamp, kind, rest = found
        room = self.history or ""
        event = _room_history_event(room, rest, stamp, kind)
        if event is not None:
            self._replayed = True
        return event

    def _private_history(self, line: str) -> Event | None:
        """A private history line (C{[12:01] *bob* text}, C{[12:01] -> *bob*
        text}, or their exact forms): a L{PrivateMessage} with its time."""
        found = self._history_stamp(line)
        if found is None:
            return None
        stamp, kind, rest = found
        if kind not in (None, MESSAGE, ACTION, NOTICE):
            return None
        notice = kind == NOTICE
        sent = _SENT.fullmatch(rest)
        if sent:  # one we sent
            text, me = sent["text"], self.me or ""
            acted = _PRIVATE_ACTION.fullmatch(text)
            action = acted is not None and fold(acted["sender"]) == fold(me)
            if kind is not None and action != (kind == ACTION):
                return None
            self._replayed = True
            return PrivateMessage(me, sent["target"], acted["text"] if acted and action
                                  else text, action, notice=notice, delayed=True, stamp=stamp)
        if rest.startswith("*") and not rest.startswith("* "):
            event = self._private(rest)
            if isinstance(event, PrivateMessage):  # kept while we were offline, or history
                if kind is not None and event.action != (kind == ACTION):
                    return None
                self._replayed = True
                return PrivateMessage(event.sender, event.target, event.text, event.action,
                                      notice=notice, delayed=True, stamp=stamp)
        return None

    def _private(self, line: str) -> Event:
        match = _PRIVATE_MESSAGE.fullmatch(line)
        if match is None:
            emote = _PRIVATE_ACTION.fullmatch(line)
            if emote is None:
                return Notice(line)
            return PrivateMessage(emote["sender"], self.me or "", emote["text"], True)
        # "*erin* * erin hugs you" is how servers before issue 14 sent a private /me.
        sender, text = match["sender"], match["text"]
        prefix = f"* {sender} "
        action = text.startswith(prefix)
        if action:
            text = text[len(prefix):]
        return PrivateMessage(sender, self.me or "", text, action)

    def _star(self, text: str) -> Event:
        for pattern, rule in NOTICE_RULES:
            match = pattern.fullmatch(text)
            if match:
                event = rule(match, self)
                if event is not None:
                    return event
        match = _ACTION.fullmatch(text)
        if match and fold(match["sender"]) in self.present:
            return RoomMessage(self.room, match["sender"], match["text"], action=True)
        return Notice(text)

    def _learn(self, event: Event) -> None:
        present = self.present
        if isinstance(event, Registered):
            if self.me is not None:
                present.pop(fold(self.me), None)
            self.me = event.name
            present[fold(event.name)] = event.name
        elif isinstance(event, Joined):
            present[fold(event.name)] = event.name
        elif isinstance(event, (Left, Kicked)):
            present.pop(fold(event.name), None)
        elif isinstance(event, (Entered, Exited)):
            # A new room (or none): who is there is unknown until /who.
            if isinstance(event, Entered):
                self.room = event.room
                self.nowhere = False
            self.present = {} if self.me is None else {fold(self.me): self.me}
        elif isinstance(event, Renamed):
            present.pop(fold(event.old), None)
            present[fold(event.new)] = event.new
        elif (isinstance(event, Notice) and event.text == NO_ROOM) or (
                isinstance(event, Error) and event.code == errors.NoRoom.code):
            self.nowhere = True
            self.room = ""
            self.present = {} if self.me is None else {fold(self.me): self.me}
        elif isinstance(event, Who) and not self.nowhere and (
                not self.room or fold(event.room) == fold(self.room)):
            self.present = {fold(name): name for name in event.names}
            if self.me is not None:
                self.present.setdefault(fold(self.me), self.me)
        elif isinstance(event, Error) and event.code in _NAME_REFUSALS:
            self.name_refused()


def exact_stamp(event_id: str) -> tuple[float, int]:
    """The stamp whose id is C{event_id} (24 hex digits: milliseconds, then
    the serial): so that an event parsed from an exact history line has the
    stored id.  The time is the id's millisecond, as a float that gives it
    back."""
    millis, serial = int(event_id[:11], 16), int(event_id[11:], 16)
    when = millis / 1000
    for _ in range(4):  # a float of millis / 1000 can fall a hair short of it
        if int(when * 1000) >= millis:
            break
        when = math.nextafter(when, math.inf)
    return when, serial


def _room_history_event(room: str, rest: str, stamp: tuple[float, int],
                        kind: str | None) -> Event | None:
    """The event a room history line shows after its time (C{kind}: the
    exact line's, or C{None} to tell by the words, as live lines are)."""
    said = _ROOM_MESSAGE.fullmatch(rest)
    if said and kind in (None, MESSAGE, NOTICE):
        return RoomMessage(room, said["sender"], said["text"], notice=kind == NOTICE,
                           stamp=stamp)
    if not rest.startswith("* "):
        return None
    body = rest[2:]
    if kind in (None, TOPIC):
        topic = _HISTORY_TOPIC.fullmatch(body)
        if topic:
            return TopicChanged(topic["room"], topic["by"], topic["topic"] or "", stamp=stamp)
    if kind in (None, JOIN):
        joined = _HISTORY_JOINED.fullmatch(body)
        if joined:
            return Joined(room, joined["name"], stamp=stamp)
    if kind in (None, PART, QUIT):  # a quit left the server: no room, as live
        left = _HISTORY_LEFT.fullmatch(body)
        if left:
            return Left(None if kind == QUIT else room, left["name"], left["reason"] or "",
                        stamp=stamp)
    if kind in (None, ACTION):
        acted = _HISTORY_ACTION.fullmatch(rest)
        if acted:
            return RoomMessage(room, acted["sender"], acted["text"], True, stamp=stamp)
    return None


def parse_line(line: str) -> Event:
    """Parse one line with no context (see L{LineParser} for the caveats)."""
    return LineParser().parse(line)
