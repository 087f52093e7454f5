"""The line protocol's server-to-client format, in both directions.

Servers render events with L{line_bytes}; clients parse lines back into the
same events with L{LineParser}.  Keeping both here makes a new kind of line
one renderer plus one parsing rule, tested as a round trip.

The first characters of every line say what kind it is, so that a person in
telnet and a script can both read it::

    <alice> text      room message            *alice* text   private message
    * text            server notice           ! text         error reply
"""

from __future__ import annotations

import re
from collections.abc import Callable

from chatsvc.events import (
    Error,
    Event,
    Joined,
    Left,
    Notice,
    PrivateMessage,
    Registered,
    Renamed,
    RoomMessage,
    Who,
    rendered,
)
from chatsvc.names import NAME_PATTERN, fold

WIRE_FORMAT = "line"


def _room_message(event: RoomMessage) -> str:
    if event.action:
        return f"* {event.sender} {event.text}"
    return f"<{event.sender}> {event.text}"


def _private_message(event: PrivateMessage) -> str:
    if event.action:
        return f"*{event.sender}* * {event.sender} {event.text}"
    return f"*{event.sender}* {event.text}"


def _left(event: Left) -> str:
    return f"* {event.name} left ({event.reason})"


def _who(event: Who) -> str:
    return f"* online ({len(event.names)}): {', '.join(event.names)}"


_RENDERERS: dict[type, Callable[..., str]] = {
    RoomMessage: _room_message,
    PrivateMessage: _private_message,
    Joined: lambda e: f"* {e.name} joined",
    Left: _left,
    Renamed: lambda e: f"* {e.old} is now {e.new}",
    Registered: lambda e: f"* you are {e.name}",
    Who: _who,
    Notice: lambda e: f"* {e.text}",
    Error: lambda e: f"! {e.text}",
}


def render_text(event: Event) -> str:
    """The line (without terminator) that shows C{event} to a line user."""
    return _RENDERERS[type(event)](event)


def _render(event: Event) -> bytes:
    return (render_text(event) + "\r\n").encode("utf-8")


def line_bytes(event: Event) -> bytes:
    """The bytes to write for C{event}, rendered once however many receive it."""
    return rendered(event, WIRE_FORMAT, _render)


# -- the other direction: parsing server lines (for clients) -----------------
#
# A line's first characters give its kind, except that ``* `` starts both
# server notices and room actions (``* alice waves``), so one line alone can
# be ambiguous.  L{LineParser} therefore keeps the context the wire leaves out
# (your own name, who is present, the current room) and tries, in order: the
# notice rules in L{NOTICE_RULES} (specific phrasings such as ``* alice
# joined``), then an action by a user it knows to be present, then a plain
# L{Notice}.  Whatever it does not recognise becomes a L{Notice}: a newer
# server never breaks an older client.

NoticeRule = Callable[["re.Match[str]", "LineParser"], Event | None]
"""Build an event from a matched notice, or return C{None} to decline it."""



def _joined(match: re.Match[str], parser: LineParser) -> Event | None:
    return Joined(parser.room, match["name"])


def _left(match: re.Match[str], parser: LineParser) -> Event | None:
    return Left(None, match["name"], match["reason"])


def _renamed(match: re.Match[str], parser: LineParser) -> Event | None:
    return Renamed(match["old"], match["new"])


def _registered(match: re.Match[str], parser: LineParser) -> Event | None:
    # Only after we asked for a name: otherwise a user called "you" could
    # write "/me are bob" and make us believe we had been renamed.
    if not parser.awaiting_name:
        return None
    parser.awaiting_name -= 1
    return Registered(match["name"])


def _who(match: re.Match[str], parser: LineParser) -> Event | None:
    names = tuple(name for name in match["names"].split(", ") if name)
    if len(names) != int(match["count"]):
        return None
    return Who(parser.room, names)


NOTICE_RULES: list[tuple[re.Pattern[str], NoticeRule]] = [
    (re.compile(rf"you are (?P<name>{NAME_PATTERN})"), _registered),
    (re.compile(r"online \((?P<count>\d+)\): ?(?P<names>.*)"), _who),
    (re.compile(rf"(?P<name>{NAME_PATTERN}) joined"), _joined),
    (re.compile(rf"(?P<name>{NAME_PATTERN}) left \((?P<reason>.*)\)"), _left),
    (re.compile(rf"(?P<old>{NAME_PATTERN}) is now (?P<new>{NAME_PATTERN})"), _renamed),
]
"""Notice phrasings that mean a structured event, tried in order with
C{fullmatch} on the text after ``* ``.  Add a rule here when the server gains
a new kind of notice (and a renderer above)."""

_ROOM_MESSAGE = re.compile(rf"<(?P<sender>{NAME_PATTERN})> (?P<text>.*)", re.DOTALL)
_PRIVATE_MESSAGE = re.compile(rf"\*(?P<sender>{NAME_PATTERN})\* (?P<text>.*)", re.DOTALL)
_ACTION = re.compile(rf"(?P<sender>{NAME_PATTERN}) (?P<text>.*)", re.DOTALL)


class LineParser:
    """Turn lines from a chatsvc line-protocol server back into events.

    One parser per connection: it remembers what the format leaves implicit
    and updates that from the events it parses (L{Registered} sets L{me};
    L{Joined}, L{Left}, L{Renamed} and L{Who} keep L{present} up to date).

    @ivar me: our own name, once registered.
    @ivar room: the room that room events are attributed to.
    @ivar present: folded name -> name of the users known to be present.
    @ivar awaiting_name: how many ``#name``/``/nick`` requests are unanswered;
        a client sets it when it asks for a name (see L{expect_name}).
    """

    def __init__(self, room: str = "", me: str | None = None) -> None:
        self.me = me
        self.room = room
        self.present: dict[str, str] = {}
        self.awaiting_name = 0
        if me is not None:
            self.present[fold(me)] = me

    def expect_name(self) -> None:
        """Note that we asked for a name, so ``* you are X`` is believed."""
        self.awaiting_name += 1

    def name_refused(self) -> None:
        """Note that a name request was answered with an error."""
        self.awaiting_name = max(0, self.awaiting_name - 1)

    def parse(self, line: str) -> Event:
        """The event that C{line} (without its terminator) shows."""
        event = self._classify(line)
        self._learn(event)
        return event

    def _classify(self, line: str) -> Event:
        if line.startswith("! "):
            return Error(line[2:])
        if line.startswith("<"):
            match = _ROOM_MESSAGE.fullmatch(line)
            if match:
                return RoomMessage(self.room, match["sender"], match["text"])
        elif line.startswith("*") and not line.startswith("* "):
            return self._private(line)
        elif line.startswith("* "):
            return self._star(line[2:])
        return Notice(line)

    def _private(self, line: str) -> Event:
        match = _PRIVATE_MESSAGE.fullmatch(line)
        if match is None:
            return Notice(line)
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
        elif isinstance(event, Left) and event.room is None:
            present.pop(fold(event.name), None)
        elif isinstance(event, Renamed):
            present.pop(fold(event.old), None)
            present[fold(event.new)] = event.new
        elif isinstance(event, Who):
            self.present = {fold(name): name for name in event.names}
            if self.me is not None:
                self.present.setdefault(fold(self.me), self.me)
        elif isinstance(event, Error) and event.text.startswith(("name taken:", "bad name:")):
            self.name_refused()


def parse_line(line: str) -> Event:
    """Parse one line with no context (see L{LineParser} for the caveats)."""
    return LineParser().parse(line)
