"""``chat``: the terminal client.

    chat localhost 12345 --name alice [--tls] [--cafile ca.pem]

The screen is an output pane that scrolls above a separate input line, so
messages that arrive while you type never touch what you are typing.  It is
built on urwid, whose C{TwistedEventLoop} lets the UI and the connection
share one reactor: no threads, no hand-written escape codes, and urwid does
the terminal work (resizing, wide characters, colour or its absence).

The screen is a chat client's: lines fill the pane from the bottom, wrapped
rows stay under their text, a row above the input says when new lines wait
below a scrolled-back view, and the status bar is one row at any width.
Your own lines show dim until the server has taken them, and are marked
C{[not sent]} when it refuses them (L{Outbox} says how a refusal is tied to
its line).  What the server says for telnet users (register with
C{#yourname}; C{#name} renames) is fitted to this client, which registers
for you and sends C{#text} as talk.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import urwid
from twisted.internet import defer, task
from twisted.internet.defer import Deferred

from chatsvc.client import (
    ClientError,
    ConnectFailed,
    ConnectionClosed,
    Session,
    TLSVerificationFailed,
    WrongPassword,
    connect,
)
from chatsvc.events import Error, Event, Notice, PrivateMessage, RoomMessage, Topic
from chatsvc.hub import errors
from chatsvc.hub.names import fold
from chatsvc.protocols.line.wire import render_text

PALETTE = [
    ("time", "dark gray", "default"),
    ("room", "default", "default"),
    ("sender", "bold", "default"),
    ("own", "light green", "default"),
    ("pending", "dark green", "default"),
    ("refused", "dark gray", "default"),
    ("unsent", "light red", "default"),
    ("action", "yellow", "default"),
    ("private", "light magenta", "default"),
    ("notice", "dark cyan", "default"),
    ("error", "light red", "default"),
    ("status", "black", "light gray"),
    ("prompt", "bold", "default"),
]

SCROLLBACK = 5000
"""Lines kept in the output pane; older ones are dropped."""

KEYS_HELP = (
    "keys: Enter sends, Tab completes names, Up/Down recall what you sent, "
    "PgUp/PgDn scroll, Ctrl-U clears, Ctrl-D on an empty line (or /quit) leaves"
)
"""The one-line reminder shown on arriving (C{/help} says more: L{CLIENT_HELP})."""

CLIENT_HELP = (
    "keys: Enter sends; Tab completes names; Up/Down recall what you sent; PgUp/PgDn "
    "scroll; Home/End (Ctrl-A/Ctrl-E) go to the start/end of the line; Ctrl-U and "
    "Ctrl-W delete before the cursor; Ctrl-D on an empty line leaves",
    "in chat:",
    "  #text              is talk, as any text is (about #rooms, say): /nick renames",
    "  your lines show dim until the server has taken them; [not sent] marks a refused one",
)
"""What C{/help} shows before the server's own list (see L{help_line})."""

CONFIRM_AFTER = 2.0
"""Seconds without a refusal after which an own line counts as accepted.

The line protocol acknowledges nothing it accepts (see L{Outbox})."""


# -- the parts that need no terminal -----------------------------------------


def complete(line: str, cursor: int, names: list[str]) -> tuple[str, int, list[str]]:
    """Complete the name before C{cursor}: C{(line, cursor, candidates)}.

    ``@al`` becomes ``@alice:`` (a private message) at the start of the line
    and ``@alice`` elsewhere; a bare ``al`` at the start becomes ``alice:``
    (addressing someone) and elsewhere ``alice``.  With several candidates
    the word grows to their common prefix and all are returned.
    """
    start = max(line.rfind(" ", 0, cursor), line.rfind("\t", 0, cursor)) + 1
    word = line[start:cursor]
    at = word.startswith("@")
    stem = word[1:] if at else word
    if not stem and not at:
        return line, cursor, []
    candidates = [name for name in names if fold(name).startswith(fold(stem))]
    if not candidates:
        return line, cursor, []
    if len(candidates) == 1:
        completed = candidates[0]
        suffix = ": " if start == 0 else " "
    else:
        completed = os.path.commonprefix([fold(name) for name in candidates])
        if len(completed) <= len(stem):
            completed = stem
        else:
            completed = candidates[0][: len(completed)]
        suffix = ""
    replacement = ("@" if at else "") + completed + suffix
    rest = line[cursor:]
    if suffix and rest[:1] in (" ", ":"):
        rest = rest.lstrip(" :") if suffix == ": " else rest.lstrip(" ")
    new_line = line[:start] + replacement + rest
    return new_line, start + len(replacement), candidates if len(candidates) > 1 else []


class History:
    """What you sent, recalled with Up and Down, keeping the line you were on."""

    def __init__(self, limit: int = 500) -> None:
        self.entries: list[str] = []
        self.limit = limit
        self._position = 0
        self._draft = ""

    def add(self, line: str) -> None:
        if line and (not self.entries or self.entries[-1] != line):
            self.entries.append(line)
            del self.entries[: -self.limit]
        self._position = len(self.entries)

    def older(self, current: str) -> str | None:
        if self._position == 0:
            return None
        if self._position == len(self.entries):
            self._draft = current
        self._position -= 1
        return self.entries[self._position]

    def newer(self) -> str | None:
        if self._position >= len(self.entries):
            return None
        self._position += 1
        if self._position == len(self.entries):
            return self._draft
        return self.entries[self._position]


# -- own lines until the server has answered ----------------------------------

ROOM_REFUSALS = frozenset({
    errors.NoRoom.code, errors.CannotSpeak.code, errors.EmptyMessage.code,
    errors.LineTooLong.code, errors.NotRegistered.code,
})
"""The refusal codes a room line (or /me) can get."""

PRIVATE_REFUSALS = frozenset({
    errors.NoSuchUser.code, errors.NoSuchService.code, errors.EmptyMessage.code,
    errors.LineTooLong.code, errors.NotRegistered.code, errors.Usage.code,
})
"""The refusal codes a private message can get."""

_NO_SUCH_USER = re.compile(r"no such user: (?P<name>\S+)")
#: What the server says of the default room on registering.
_WHERE_YOU_ARE = re.compile(r"you are in (?P<room>#[^\s,:]+) (?:with |alone )")
_AWAY = re.compile(r"(?P<name>\S+) is away: .*", re.DOTALL)


@dataclass
class Sent:
    """One own line on the screen whose fate is not known yet."""

    kind: str  # "room" or "private"
    target: str  # the folded recipient of a private message; "" for the room
    settle: Callable[[str], None]  # called once with "sent", "refused" or "unknown"
    timer: Any = None


class Outbox:
    """Own lines shown as pending until the server takes or refuses them.

    The line protocol answers a refused line with C{! reason} and an
    accepted one with nothing, but it answers every line in the order it
    was sent.  So a refusal belongs to the oldest pending line that can get
    a refusal of that code (and, for C{no such user: bob}, was sent to
    bob), and every line sent before that one was taken: it would have been
    answered first.  Taking the oldest is right whenever a refusal's cause
    lasts (no room, a moderated room, nobody of that name), which is how
    they come; it errs only when the cause starts between two pending
    lines, such as a C{+m} set between them.  A line that no refusal
    claims within L{CONFIRM_AFTER} seconds counts as taken; a refusal that
    comes later still shows as its C{!} line.  C{bob is away: ...}, the
    answer to a private message, confirms that one at once.

    Sending a marker after each line (a command with a known answer) would
    make this exact, but every line counts against the server's flood gate:
    it would halve how fast a person may type, and paste.
    """

    def __init__(self, clock: Any, delay: float = CONFIRM_AFTER) -> None:
        self.clock = clock
        self.delay = delay
        self.pending: deque[Sent] = deque()

    def add(self, kind: str, target: str, settle: Callable[[str], None]) -> Sent:
        sent = Sent(kind, fold(target) if target else "", settle)
        sent.timer = self.clock.callLater(self.delay, self._quiet, sent)
        self.pending.append(sent)
        return sent

    def answer(self, event: Event) -> bool:
        """Settle what C{event} says about pending lines; whether it said anything."""
        if isinstance(event, Error):
            return self._refused(event)
        if isinstance(event, Notice):
            away = _AWAY.fullmatch(event.text)
            if away:
                return self._settle_first(
                    lambda sent: sent.kind == "private" and sent.target == fold(away["name"]),
                    "sent")
        return False

    def close(self) -> None:
        """The connection ended: pending lines may or may not have been taken."""
        while self.pending:
            self._finish(self.pending.popleft(), "unknown")

    def _refused(self, error: Error) -> bool:
        name = _NO_SUCH_USER.match(error.text)
        target = fold(name["name"]) if name else None

        def claims(sent: Sent) -> bool:
            if sent.kind == "room":
                return error.code in ROOM_REFUSALS
            return error.code in PRIVATE_REFUSALS and (target is None or sent.target == target)

        return self._settle_first(claims, "refused")

    def _settle_first(self, wanted: Callable[[Sent], bool], outcome: str) -> bool:
        for index, sent in enumerate(self.pending):
            if wanted(sent):
                for _ in range(index):  # sent before it, and not refused: taken
                    self._finish(self.pending.popleft(), "sent")
                self._finish(self.pending.popleft(), outcome)
                return True
        return False

    def _quiet(self, sent: Sent) -> None:
        if sent in self.pending:
            self.pending.remove(sent)
            sent.timer = None
            sent.settle("sent")

    def _finish(self, sent: Sent, outcome: str) -> None:
        if sent.timer is not None and sent.timer.active():
            sent.timer.cancel()
        sent.timer = None
        sent.settle(outcome)


# -- what the server says, fitted to this client ------------------------------

_WELCOME = re.compile(r"welcome to (?P<server>.+?)! .*", re.DOTALL)
_HELP_HEADING = re.compile(r"[a-z][a-z ]*:")
_HELP_ENTRY = re.compile(r"  (?P<command>\S+)(?P<arguments>(?: \S+)*?)(?P<gap> {2,})(?P<text>.*)")


def greeting_notice(text: str) -> str | None:
    """The greeting notice C{text} as a C{chat} user should read it, or C{None}.

    The server tells a telnet user to register with C{#yourname} (after
    C{/pass}); C{chat} has done both, so that advice goes.
    """
    welcome = _WELCOME.fullmatch(text)
    if welcome:
        return f"welcome to {welcome['server']}!"
    if text.startswith("password accepted"):
        return None
    return text


def help_line(text: str) -> str | None:
    """A line of the server's C{/help} as it applies in C{chat}, or C{None} to drop it.

    C{#name} means a rename to the server but talk in C{chat} (L{ChatUI}
    sends C{#text} with C{/say}): the entry becomes C{/nick name}.  C{/pass}
    is given from C{--password} before registering, so it goes.
    """
    if text == "commands:":
        return "server commands:"
    entry = _HELP_ENTRY.fullmatch(text)
    if entry is None:
        return text
    command = entry["command"]
    if command == "/pass":
        return None
    if command.startswith("#"):
        column = entry.end("gap") - entry.start("command")
        return "  " + "/nick name".ljust(column - 1) + " change your name"
    return text


def is_help_line(event: Event) -> bool:
    """Whether C{event} can be a line of the server's C{/help} (notices, one burst)."""
    return isinstance(event, Notice) and (
        event.text.startswith("  ") or _HELP_HEADING.fullmatch(event.text) is not None)


# -- the screen's text ------------------------------------------------------


def status_text(width: int, name: str, server: str, security: str, state: str) -> str:
    """The status bar for C{width} columns: never more than one row.

    The least needed parts go first as it narrows: the program's name,
    the server, then the wide separators; the rest is cut with an ellipsis.
    """
    candidates = (
        f" chat  {name} @ {server}  ·  {security}  ·  {state}",
        f" {name} @ {server}  ·  {security}  ·  {state}",
        f" {name} · {security} · {state}",
        f" {name} · {state}",
    )
    for text in candidates:
        if urwid.calc_width(text, 0, len(text)) <= width:
            return text
    text = candidates[-1]
    while text and urwid.calc_width(text, 0, len(text)) > max(width - 1, 0):
        text = text[:-1]
    return text + "…" if width else ""


_PREFIX = re.compile(r"(?:<[^>\s]+> |-> \*[^*\s]+\* |\*[^*\s]+\* |[*!] )")


def split_prefix(markup: list[Any]) -> tuple[list[Any], list[Any]]:
    """C{markup} as (prefix, body): the sender or C{* }/C{! } mark, then the text.

    Wrapped rows of a line start under its body (see L{Line}).
    """
    if not markup:
        return [], []
    first = markup[0]
    attr, text = first if isinstance(first, tuple) else (None, first)
    if attr == "sender":
        return [first], list(markup[1:])
    found = _PREFIX.match(text)
    if found is None:
        return [], list(markup)
    cut = found.end()

    def piece(part: str) -> Any:
        return (attr, part) if attr is not None else part

    rest = [piece(text[cut:])] if text[cut:] else []
    return [piece(text[:cut])], rest + list(markup[1:])


def describe(event: Event) -> list[Any]:
    """The urwid text markup that shows C{event} in the output pane."""
    if isinstance(event, RoomMessage):
        if event.action:
            return [("action", f"* {event.sender} {event.text}")]
        return [("sender", f"<{event.sender}> "), ("room", event.text)]
    if isinstance(event, PrivateMessage):
        if event.action:  # as the line protocol writes a private /me
            return [("private", f"*{event.sender} {event.text}*")]
        return [("private", f"*{event.sender}* {event.text}")]
    # The client does not know the default room's name (the wire never gives
    # it), so home="" names every room it does know: "* alice joined #rust"
    # stays that, as the server wrote it, rather than "* alice joined".
    if isinstance(event, Error):
        return [("error", render_text(event, home=""))]
    return [("notice", render_text(event, home=""))]


# -- the widgets -------------------------------------------------------------


def _width(markup: list[Any]) -> int:
    text = "".join(piece[1] if isinstance(piece, tuple) else piece for piece in markup)
    return int(urwid.calc_width(text, 0, len(text)))


class Line(urwid.Widget):
    """One line of the output pane: time, prefix, and a body whose wrapped rows
    stay under the body's first column (as in irssi), not at column 0.

    When the prefix would take more than half the width (a long name in a
    narrow terminal) the rows wrap under the time instead, or at column 0.
    """

    _sizing = frozenset([urwid.FLOW])
    _selectable = False

    def __init__(self, stamp: str, markup: list[Any]) -> None:
        super().__init__()
        self.stamp = stamp
        self.set_markup(markup)

    def set_markup(self, markup: list[Any]) -> None:
        self.prefix, self.body = split_prefix(markup)
        self._layout: tuple[int, Any] | None = None
        self._invalidate()

    @property
    def text(self) -> str:
        """What the line says, without its time (for tests and searching)."""
        return "".join(piece[1] if isinstance(piece, tuple) else piece
                       for piece in (*self.prefix, *self.body))

    def _widget(self, maxcol: int) -> Any:
        if self._layout is not None and self._layout[0] == maxcol:
            return self._layout[1]
        stamp = [("time", self.stamp)]
        widget: Any
        for head, tail in ((stamp + self.prefix, self.body),
                           (stamp, self.prefix + self.body)):
            indent = _width(head)
            if tail and indent <= maxcol // 2:
                widget = urwid.Columns([(indent, urwid.Text(head)), urwid.Text(tail)])
                break
        else:
            widget = urwid.Text(stamp + self.prefix + self.body)
        self._layout = (maxcol, widget)
        return widget

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return int(self._widget(size[0]).rows(size, focus))

    def render(self, size: tuple[int],  # type: ignore[override]
               focus: bool = False) -> urwid.Canvas:
        return self._widget(size[0]).render(size, focus)  # type: ignore[no-any-return]


class ChatList(urwid.ListBox):
    """The output pane: a ListBox that fills from the bottom, as chat clients do.

    A plain ListBox puts its first lines at the top and leaves the gap
    above the input line; this one puts the gap at the top while the lines
    do not fill the pane.  It remembers the size it was last drawn at, so
    that L{at_bottom} can tell whether the newest line is in view.
    """

    def __init__(self, lines: urwid.SimpleFocusListWalker[Any]) -> None:
        super().__init__(lines)
        self.walker = lines
        self.size: tuple[int, int] | None = None

    def render(self, size: tuple[int, int],  # type: ignore[override]
               focus: bool = False) -> urwid.Canvas:
        self.size = size
        maxcol, maxrow = size
        used = 0
        for widget in reversed(self.walker):
            used += widget.rows((maxcol,))
            if used >= maxrow:
                return super().render(size, focus)
        gap = urwid.SolidCanvas(" ", maxcol, maxrow - used)
        if not used:
            return gap
        return urwid.CanvasCombine([(gap, None, False),
                                    (super().render((maxcol, used), focus), None, True)])

    def at_bottom(self) -> bool:
        """Whether the last line is in view (or we have not been drawn yet)."""
        if self.size is None or not self.walker:
            return True
        return "bottom" in self.ends_visible(self.size)


class StatusBar(urwid.Widget):
    """One row, whatever the width: L{status_text} fits it."""

    _sizing = frozenset([urwid.FLOW])
    _selectable = False

    def __init__(self) -> None:
        super().__init__()
        self.parts = ("", "", "", "")

    def set_parts(self, name: str, server: str, security: str, state: str) -> None:
        self.parts = (name, server, security, state)
        self._invalidate()

    def text(self, width: int) -> str:
        return status_text(width, *self.parts)

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return 1

    def render(self, size: tuple[int],  # type: ignore[override]
               focus: bool = False) -> urwid.Canvas:
        return urwid.Text(self.text(size[0]), wrap="clip").render(size)


class InputLine(urwid.Edit):
    """The line you type in: Enter, Tab, history and Ctrl-D are handled here."""

    def __init__(self, ui: ChatUI) -> None:
        super().__init__(("prompt", "> "))
        self.ui = ui
        self.history = History()

    def keypress(self, size: tuple[int], key: str) -> str | None:  # type: ignore[override]
        if key == "enter":
            line = self.edit_text
            self.set_edit_text("")
            self.history.add(line)
            self.ui.submit(line)
            return None
        if key == "tab":
            line, cursor, candidates = complete(
                self.edit_text, self.edit_pos,
                [n for n in self.ui.session.names if fold(n) != fold(self.ui.session.name)],
            )
            self.set_edit_text(line)
            self.set_edit_pos(cursor)
            if candidates:
                self.ui.show([("notice", "* " + "  ".join(candidates))])
            return None
        if key in ("up", "down"):
            recalled = (self.history.older(self.edit_text) if key == "up"
                        else self.history.newer())
            if recalled is not None:
                self.set_edit_text(recalled)
                self.set_edit_pos(len(recalled))
            return None
        if key in ("home", "ctrl a"):  # the start of the input, not of its wrapped row
            self.set_edit_pos(0)
            return None
        if key in ("end", "ctrl e"):
            self.set_edit_pos(len(self.edit_text))
            return None
        if key == "ctrl u":  # as in a shell: drop what is before the cursor
            self.set_edit_text(self.edit_text[self.edit_pos:])
            self.set_edit_pos(0)
            return None
        if key == "ctrl w":  # and the word before the cursor
            before = self.edit_text[: self.edit_pos].rstrip()
            cut = before.rfind(" ") + 1
            self.set_edit_text(before[:cut] + self.edit_text[self.edit_pos:])
            self.set_edit_pos(cut)
            return None
        if key in ("ctrl d", "ctrl c") and (key == "ctrl c" or not self.edit_text):
            self.ui.submit("/quit")
            return None
        return super().keypress(size, key)


class ChatFrame(urwid.Frame):
    """Keeps the focus on the input line; PgUp/PgDn scroll the output."""

    def __init__(self, *args: Any, scrolled: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scrolled = scrolled

    def keypress(self, size: tuple[int, int],  # type: ignore[override]
                 key: str) -> str | None:
        if key in ("page up", "page down"):
            (top, bottom), _ = self.frame_top_bottom(size, True)
            maxcol, maxrow = size
            result = self.body.keypress((maxcol, maxrow - top - bottom), key)
            self.scrolled()
            return result
        return super().keypress(size, key)


class ChatUI:
    """The terminal client's screen for one L{Session}."""

    def __init__(self, session: Session, server: str, clock: Any,
                 now: Callable[[], float] = time.time) -> None:
        self.session = session
        self.server = server
        self.clock = clock
        self.now = now
        self.done: Deferred[None] = Deferred()
        self.loop: urwid.MainLoop | None = None
        self.closed = False
        self._leaving = False
        self._redraw = None
        self.outbox = Outbox(clock)
        #: The default room's name, which the line protocol leaves out of
        #: what it says about that room (see L{_ask_home}).
        self.home = ""
        self._asking_home = False
        #: Whether the server's /help is awaited ("asked") or arriving ("reading").
        self._help: str | None = None
        self.unseen = 0
        #: Whether PgUp has left the newest line out of view (new lines then
        #: do not move the view; a row above the input counts them).
        self.scrolled_back = False
        self.lines: urwid.SimpleFocusListWalker[Any] = urwid.SimpleFocusListWalker([])
        self.output = ChatList(self.lines)
        self.status = StatusBar()
        self.input = InputLine(self)
        self.more = urwid.Text("", wrap="clip")
        self.footer = urwid.Pile([self.input])
        self.widget = ChatFrame(
            self.output,
            header=urwid.AttrMap(self.status, "status"),
            footer=self.footer,
            focus_part="footer",
            scrolled=self._scrolled,
        )
        for event in session.greeting:
            if isinstance(event, Topic):
                self.home = event.room
            if isinstance(event, Notice) and (where := _WHERE_YOU_ARE.match(event.text)):
                self.home = where["room"]
            if isinstance(event, Notice):
                text = greeting_notice(event.text)
                if text is not None:
                    self.show([("notice", f"* {text}")])
            else:
                self.show_event(event)
        self.show([("notice", "* " + KEYS_HELP)])
        self.show([("notice", "* /help lists the commands; type anything else to talk")])
        self._ask_home()
        self._update_status()
        session.on_event(self.show_event)
        session.when_closed().addCallback(self._closed)

    def _ask_home(self) -> None:
        """Learn the default room's name from C{/topic}, quietly, for the status bar.

        Only for a server that does not name it on registering (C{* you are
        in #chat with ...}, since issue 14) in a greeting without a topic: C{/topic}
        answers C{* no topic for #chat} otherwise (one line, cheaper than
        C{/who}, and never refused in a room we are in).
        """
        parser = self.session.parser
        if self.home or parser.room or parser.nowhere or self.session.closed:
            return
        self._asking_home = True
        self.session.send_line("/topic")

    # -- output --------------------------------------------------------------

    def show(self, markup: list[Any]) -> Line:
        """Add a line to the output pane, following it unless scrolled back (PgUp)."""
        following = not self.scrolled_back
        stamp = time.strftime("%H:%M ", time.localtime(self.now()))
        line = Line(stamp, markup)
        self.lines.append(line)
        if len(self.lines) > SCROLLBACK:
            del self.lines[: len(self.lines) - SCROLLBACK]
        if following:
            self.lines.set_focus(len(self.lines) - 1)
        else:
            self.unseen += 1
            self._show_more()
        self._changed()
        return line

    def show_event(self, event: Event) -> None:
        if self._asking_home and (isinstance(event, Topic) or (
                isinstance(event, Error) and event.code == errors.NoRoom.code)):
            # The answer to our own /topic: bookkeeping, not for the screen.
            self._asking_home = False
            if isinstance(event, Topic):
                self.home = event.room
            self._update_status()
            return
        if self._help is not None:
            if isinstance(event, Notice) and is_help_line(event):
                self._help = "reading"
                text = help_line(event.text)
                if text is not None:
                    self.show([("notice", f"* {text}")])
                return
            if self._help == "reading":
                # The server sends its help in one burst, after its answers to
                # the lines before /help (which go on as usual): it is over.
                self._help = None
        self.outbox.answer(event)
        self.show(describe(event))
        if not isinstance(event, (RoomMessage, PrivateMessage)):
            self._update_status()  # joins, leaves, renames, who, no room

    def _own(self, kind: str, target: str, markup: list[Any]) -> None:
        """Show a line we sent, pending until the server has taken it (L{Outbox})."""
        line = self.show([("pending", text) for _, text in markup])

        def settle(outcome: str) -> None:
            if outcome == "sent":
                line.set_markup(markup)
            elif outcome == "refused":
                line.set_markup([("refused", text) for _, text in markup]
                                + [("unsent", "  [not sent]")])
            else:
                line.set_markup([("refused", text) for _, text in markup]
                                + [("unsent", "  [maybe not sent]")])
            self._changed()

        self.outbox.add(kind, target, settle)

    def _show_more(self) -> None:
        """The row above the input that says there is more below, after PgUp."""
        if not self.scrolled_back:
            self.unseen = 0
            if len(self.footer.contents) > 1:
                del self.footer.contents[0]
            return
        news = f"{self.unseen} new below" if self.unseen else "more below"
        self.more.set_text(f"-- {news}: PgDn --")
        if len(self.footer.contents) == 1:
            self.footer.contents.insert(0, (urwid.AttrMap(self.more, "status"),
                                            self.footer.options()))
        self.footer.focus_position = len(self.footer.contents) - 1

    def _scrolled(self) -> None:
        # Only scrolling decides whether we follow new lines: asking the
        # ListBox after each new line would be wrong until it is drawn again
        # (a new two-row line at the bottom is not in view until then).
        self.scrolled_back = not self.output.at_bottom()
        if not self.scrolled_back:
            self.lines.set_focus(len(self.lines) - 1)
        self._show_more()

    def _update_status(self) -> None:
        parser = self.session.parser
        if self.closed:
            state = "disconnected"
        elif parser.nowhere:
            state = "in no room"
        else:
            state = f"{parser.room or self.home} {len(self.session.names)} here".strip()
        self.status.set_parts(self.session.name, self.server,
                              "TLS" if self.session.tls else "no TLS", state)
        self._changed()

    def _changed(self) -> None:
        # Network events arrive outside urwid's own callbacks, which are the
        # only times it redraws by itself: ask for one redraw per batch.
        if self.loop is None or self._redraw is not None:
            return

        def redraw() -> None:
            self._redraw = None
            if self.loop is not None:
                self.loop.draw_screen()

        self._redraw = self.clock.callLater(0, redraw)

    # -- input ---------------------------------------------------------------

    def submit(self, line: str) -> None:
        """Act on one line typed by the user."""
        if self.closed:
            self._finish()
            return
        if not line.strip():
            return
        if self.scrolled_back:  # sending is being back in the conversation: follow it
            self.scrolled_back = False
            self.lines.set_focus(len(self.lines) - 1)
            self._show_more()
        try:
            self._submit(line)
        except ConnectionClosed as error:
            self.show([("error", f"! {error}")])
        except ValueError as error:
            self.show([("error", f"! {error}")])

    def _submit(self, line: str) -> None:
        session = self.session
        me = session.name
        command, _, argument = line.partition(" ")
        command = command.lower()
        if line.startswith("//"):
            session.say(line[1:])
            self._own("room", "", [("own", f"<{me}> {line[1:]}")])
        elif command == "/quit":
            self._leaving = True
            session.quit(argument.strip() or "leaving")
            # A server that does not answer must not keep us here.
            self.clock.callLater(5, session.close)
        elif command == "/me":
            session.me(argument)
            self._own("room", "", [("own", f"* {me} {argument}")])
        elif command in ("/nick", "/name"):
            # Only /nick renames: "#rust is great" is talk about a room, not
            # the line protocol's "#name" (Session.say sends it with /say).
            session.rename(argument.strip()).addErrback(lambda f: None)  # the ! line says why
        elif command == "/help":
            for text in CLIENT_HELP:
                self.show([("notice", f"* {text}")])
            session.send_line("/help")
            self._help = "asked"
        elif line.startswith("@"):
            self._whisper(line[1:])
        elif line.startswith("/"):
            session.send_line(line)  # /who, and whatever else the server knows
        else:
            session.say(line)
            self._own("room", "", [("own", f"<{me}> {line}")])

    def _whisper(self, rest: str) -> None:
        cut = min(i for i in (rest.find(":"), rest.find(" "), len(rest)) if i >= 0)
        target, text = rest[:cut], rest[cut + 1:].strip()
        if not target or not text:
            self.show([("error", "! say who and what: @name: text")])
            return
        self.session.whisper(target, text)
        self._own("private", target, [("own", f"-> *{target}* {text}")])

    # -- the end -------------------------------------------------------------

    def _closed(self, reason: str) -> None:
        self.closed = True
        self.outbox.close()
        if self._leaving:
            self._finish()
            return
        self.show([("error", f"! disconnected: {reason}. Press Enter or Ctrl-D to exit.")])
        self._update_status()

    def _finish(self) -> None:
        if not self.done.called:
            self.done.callback(None)


# -- the program -------------------------------------------------------------


def _default_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="chat",
        description="Terminal client for a chatsvc server.",
        epilog="In the client: type to talk, @name: text to whisper, /who, /me, /nick, "
               "/help; Tab completes names; /quit or Ctrl-D leaves.",
    )
    parser.add_argument("host", help="server host name or address (or host:port)")
    parser.add_argument("port", nargs="?", type=int, help="server port (default 12345)")
    parser.add_argument("--name", "-n", default=_default_name(),
                        help="the name to register (default: your login name)")
    parser.add_argument("--tls", action="store_true",
                        help="connect with TLS, verifying the server's certificate and name")
    parser.add_argument("--cafile", help="trust this CA or self-signed certificate (PEM); "
                        "implies --tls")
    parser.add_argument("--servername", help="the name the server's certificate must carry "
                        "(default: host)")
    parser.add_argument("--password", default=os.environ.get("CHAT_PASSWORD"),
                        help="the server's password, if it has one (default: $CHAT_PASSWORD, "
                        "which other local users cannot see in the process list)")
    parser.add_argument("--account", metavar="NAME",
                        help="log in to this account while connecting (your name becomes "
                        "it); the password is read from the file --account-password-file, "
                        "else $CHAT_ACCOUNT_PASSWORD, else asked for without echo; never "
                        "given on the command line")
    parser.add_argument("--account-password-file", metavar="PATH",
                        help="a file whose first line is the account's password (keep it "
                        "mode 600)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to connect and register (default 30)")
    args = parser.parse_args(argv)
    if args.account is not None:
        args.name = args.account
    args.account_password = None  # main() reads it (account_password): never an option
    if not args.name:
        parser.error("give a name with --name")
    host = args.host
    if args.port is None and ":" in host.lstrip("[").split("]")[-1]:
        args.target = host  # host:port, tls:host:port
    else:
        port = 12345 if args.port is None else args.port
        if not 0 < port < 65536:
            parser.error(f"port {port}: not a port number")
        args.target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return args


def failure_message(error: Exception, args: argparse.Namespace) -> str:
    """The one line C{chat} ends with when it cannot connect.

    A plain connection to a TLS port fails in one of two unhelpful ways (the
    server drops it, or says nothing), so those get a hint.  A refused
    password names the options that give one (the server's own text says
    C{/pass}, which is for telnet users).
    """
    if isinstance(error, WrongPassword):
        if getattr(args, "account", None) is not None and error.code == errors.BadPassword.code \
                and args.password is None:
            return f"chat: {error} for the account {args.account}"
        if error.code == errors.PasswordRequired.code:
            return ("chat: this server needs a password: give it with --password, or in "
                    "$CHAT_PASSWORD (which other local users cannot see)")
        return f"chat: {error} (the one given with --password or in $CHAT_PASSWORD)"
    line = f"chat: {error}"
    plain = not (args.tls or args.cafile or args.target.lower().startswith(("tls:", "ssl:")))
    if plain and isinstance(error, ConnectFailed) and not isinstance(error, TLSVerificationFailed):
        if str(error).startswith(("the server closed", "no answer")):
            line += " (if that port speaks TLS, add --tls)"
    return line


def account_password(args: argparse.Namespace,
                     environ: Mapping[str, str] = os.environ,
                     ask: Callable[[str], str] = getpass.getpass) -> str | None:
    """The password for C{--account}, from where C{chat} takes it; C{None} without one.

    In order: the first line of C{--account-password-file}, then
    C{$CHAT_ACCOUNT_PASSWORD}, then a prompt that does not echo.  Never an
    option's value: the process list shows those to every local user.
    Raises C{SystemExit} with one line when the file cannot be read.
    """
    if args.account is None:
        return None
    path = args.account_password_file
    if path is not None:
        try:
            with open(path, encoding="utf-8") as secret:
                return secret.readline().rstrip("\r\n")
        except OSError as error:
            raise SystemExit(f"chat: --account-password-file {path}: "
                             f"{error.strerror or error}") from None
    from_environment = environ.get("CHAT_ACCOUNT_PASSWORD")
    if from_environment:
        return from_environment
    return ask(f"password for {args.account}: ")


async def run(reactor: Any, args: argparse.Namespace) -> None:
    try:
        session = await connect(reactor, args.target, args.name, tls=args.tls,
                                cafile=args.cafile, hostname=args.servername,
                                password=args.password, timeout=args.timeout,
                                account_password=args.account_password)
    except ClientError as error:
        raise SystemExit(failure_message(error, args)) from None
    except ValueError as error:
        raise SystemExit(f"chat: {error}") from None
    ui = ChatUI(session, args.target, reactor)
    screen = urwid.display.raw.Screen()
    screen.tty_signal_keys(intr="undefined", quit="undefined", susp="undefined")
    loop = urwid.MainLoop(
        ui.widget, PALETTE, screen=screen, handle_mouse=False,
        event_loop=urwid.TwistedEventLoop(reactor=reactor, manage_reactor=False),
    )
    ui.loop = loop
    trigger = reactor.addSystemEventTrigger("before", "shutdown", loop.stop)
    loop.start()
    try:
        await ui.done
    finally:
        reactor.removeSystemEventTrigger(trigger)
        loop.stop()
        sys.stdout.flush()  # leave the alternate screen before saying goodbye
        if not session.closed:
            await session.close()
    print(f"chat: left {args.target}" if ui._leaving else
          f"chat: disconnected: {session.close_reason}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """The ``chat`` console script."""
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    args.account_password = account_password(args)

    def start(reactor: Any) -> Deferred[None]:
        return defer.ensureDeferred(run(reactor, args))

    task.react(start)


__all__ = ["ChatUI", "History", "complete", "describe", "main", "parse_arguments"]
