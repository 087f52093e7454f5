"""The reads behind IRCv3 CHATHISTORY: a window of one room's or one private
conversation's messages, placed by references, and the latest message of
each of a user's conversations (TARGETS).

Every function here is a function of a connection, run on the store's one
thread (L{chatsvc.store.sqlite.HistoryStore.room_window} and its siblings,
through L{HistoryStore.call}); every value is a placeholder.

A reference is a message id (C{msgid=}) or a time to the millisecond
(C{timestamp=}, as the C{server-time} tag shows it).  Each is turned into a
position in the store's order of the conversation (C{seq}, the order the hub
emitted the messages in) by a bisection of the conversation's C{seq} index
(a few dozen seeks at most), and the window is then one range of that
index, read from the end that the window starts at, C{LIMIT} rows: so a
read costs the rows it returns, whatever the size of the table
(tests/test_irc_chathistory_million.py measures it).

 - A time: the message whose C{time=} tag shows that millisecond is the one
   the client means (the tag is the time rounded to the millisecond,
   L{chatsvc.events.utc_time}); "after" it means from the first message shown
   a later millisecond on, "before" it up to the first shown that
   millisecond or later.
 - A message id: its first 11 hex digits are its time in milliseconds
   (L{chatsvc.events.event_id}), so it is found by the same bisection,
   among the messages of that millisecond; an id that is not one of this
   conversation's is no position at all, and its window is empty.

Positions rely on the hub's clock never going backwards (the events'
docstring): then a conversation's times grow with C{seq}.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from chatsvc.store.sqlite import (
    MESSAGE,
    StoredMessage,
    StoredPrivate,
    stored_message,
    stored_private,
)

_Row = TypeVar("_Row", StoredMessage, StoredPrivate)

#: A position after every message (C{seq} never gets this far).
END = 1 << 62

#: The five kinds of window (CHATHISTORY's subcommands but TARGETS).
LATEST, BEFORE, AFTER, AROUND, BETWEEN = "LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN"
KINDS = (LATEST, BEFORE, AFTER, AROUND, BETWEEN)


@dataclass(frozen=True, slots=True)
class Reference:
    """A point of a conversation: a message's id, or a time in whole milliseconds."""

    msgid: str | None = None
    millis: int | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """Which messages to read: C{kind} (one of L{KINDS}) around C{first}
    (C{None} only for C{LATEST *}) and, for C{BETWEEN}, C{second}; at most
    C{limit}."""

    kind: str
    first: Reference | None
    limit: int
    second: Reference | None = None


@dataclass(frozen=True, slots=True)
class _Table(Generic[_Row]):
    """One kind of conversation: its table, how its rows are chosen and read."""

    columns: str
    table: str
    #: Picks the conversation (C{?} for each of its keys).
    key: str
    #: What of the conversation the reader may see, on top of C{key} (its
    #: own placeholders come after the keys').
    visible: str
    build: Callable[[Sequence[Any]], _Row]

    def _first_from(self, connection: sqlite3.Connection, keys: tuple[Any, ...],
                    seq: int, newest: bool = False) -> tuple[int, float] | None:
        """(seq, time) of the conversation's first row at C{seq} or later (its
        last at C{seq} or before, C{newest}): one seek of its C{seq} index."""
        compare, order = ("<=", "DESC") if newest else (">=", "ASC")
        row = connection.execute(
            f"SELECT seq, time FROM {self.table} WHERE {self.key} AND seq {compare} ? "
            f"ORDER BY seq {order} LIMIT 1", (*keys, seq)).fetchone()
        return None if row is None else (int(row[0]), float(row[1]))

    def at_or_after(self, connection: sqlite3.Connection, keys: tuple[Any, ...],
                    moment: float) -> int:
        """The position of the first message at C{moment} or later (L{END}: none).

        A bisection of the C{seq} values between the conversation's first
        and last rows, one seek of its C{seq} index a step (about 30 for a
        billion rows): times grow with C{seq}, so no index of times is
        needed (nor kept up on every write).
        """
        first = self._first_from(connection, keys, 0)
        last = self._first_from(connection, keys, END, newest=True)
        if first is None or last is None or last[1] < moment:
            return END
        if first[1] >= moment:
            return first[0]
        # The first row from `low` on is before the moment; from `high` on, not.
        low, high = first[0], last[0]
        while high - low > 1:
            middle = (low + high) // 2
            found = self._first_from(connection, keys, middle)
            if found is not None and found[1] >= moment:
                high = middle
            else:
                low = middle
        found = self._first_from(connection, keys, high)
        return END if found is None else found[0]

    def of_id(self, connection: sqlite3.Connection, keys: tuple[Any, ...],
              msgid: str) -> int | None:
        """The position of the message C{msgid} of this conversation, if it is one."""
        millis = id_millis(msgid)
        if millis is None:
            return None
        # The id's milliseconds are its time's, truncated: it is among the
        # rows from a millisecond before (no rounding of the float can miss
        # it) to two after; a few rows, read a handful at a time.
        seq = self.at_or_after(connection, keys, (millis - 1) / 1000)
        until = (millis + 2) / 1000
        while seq < END:
            rows = connection.execute(
                f"SELECT seq, time, id FROM {self.table} WHERE {self.key} AND seq >= ? "
                "ORDER BY seq LIMIT 8", (*keys, seq)).fetchall()
            for found, time, id in rows:
                if time >= until:
                    return None
                if id == msgid:
                    return int(found)
            if len(rows) < 8:
                return None
            seq = int(rows[-1][0]) + 1
        return None

    def read(self, connection: sqlite3.Connection, keys: tuple[Any, ...],
             seen: tuple[Any, ...], lower: int, upper: int, limit: int,
             newest: bool) -> list[_Row]:
        """Messages at positions C{lower <= seq < upper}, oldest first: the
        C{limit} newest of them, or the C{limit} oldest."""
        if limit <= 0 or lower >= upper:
            return []
        order = "DESC" if newest else "ASC"
        rows = connection.execute(
            f"SELECT {self.columns} FROM {self.table} WHERE {self.key} AND {self.visible} "
            f"AND seq >= ? AND seq < ? ORDER BY seq {order} LIMIT ?",
            (*keys, *seen, lower, upper, limit)).fetchall()
        if newest:
            rows.reverse()
        return [self.build(row) for row in rows]


# Only what was said (kind 'message': messages, actions, notices): without
# draft/event-playback a CHATHISTORY answer holds PRIVMSGs and NOTICEs alone.
ROOMS: _Table[StoredMessage] = _Table(
    "id, room, time, sender, text, action, notice, kind, mask, account", "room_message",
    "room_key = ?", f"(private_to IS NULL OR private_to = ?) AND kind = '{MESSAGE}'",
    stored_message)

PRIVATE: _Table[StoredPrivate] = _Table(
    "id, time, sender_key, sender, target, text, action, notice, mask, account",
    "private_message", "low_key = ? AND high_key = ?", "1 = 1", stored_private)


def id_millis(msgid: str) -> int | None:
    """The time in milliseconds an event id starts with; C{None} if it is no
    event id of ours (24 lowercase hex digits)."""
    if len(msgid) != 24 or msgid.strip("0123456789abcdef"):
        return None
    return int(msgid[:11], 16)


def read_window(connection: sqlite3.Connection, table: _Table[_Row], keys: tuple[Any, ...],
                seen: tuple[Any, ...], window: Window, cutoff: float | None) -> list[_Row]:
    """The messages of C{window} in the conversation C{keys} of C{table},
    oldest first; none said before C{cutoff} (C{--history-max-age})."""
    floor = 0 if cutoff is None else table.at_or_after(connection, keys, cutoff)

    def points(reference: Reference) -> tuple[int, int] | None:
        # (first position at the reference, first position after it)
        if reference.msgid is not None:
            seq = table.of_id(connection, keys, reference.msgid)
            return None if seq is None else (seq, seq + 1)
        assert reference.millis is not None
        return (table.at_or_after(connection, keys, (reference.millis - 0.5) / 1000),
                table.at_or_after(connection, keys, (reference.millis + 0.5) / 1000))

    def read(lower: int, upper: int, limit: int, newest: bool) -> list[_Row]:
        return table.read(connection, keys, seen, max(lower, floor), upper, limit, newest)

    limit = window.limit
    if window.first is None:  # LATEST *
        return read(0, END, limit, True)
    first = points(window.first)
    if first is None:
        return []
    at, after = first
    if window.kind == LATEST:
        return read(after, END, limit, True)
    if window.kind == BEFORE:
        return read(0, at, limit, True)
    if window.kind == AFTER:
        return read(after, END, limit, False)
    if window.kind == AROUND:
        # As many before the reference as after it (the one at it among
        # those after), the rest after when there are fewer before.
        before = read(0, at, (limit - 1) // 2, True)
        return before + read(at, END, limit - len(before), False)
    assert window.kind == BETWEEN and window.second is not None
    second = points(window.second)
    if second is None:
        return []
    if at <= second[0]:  # forwards in time: counted from the first
        return read(after, second[0], limit, False)
    return read(second[1], at, limit, True)


def room_window(connection: sqlite3.Connection, room_key: str, created: float | None,
                window: Window, cutoff: float | None) -> list[StoredMessage]:
    """L{read_window} of a room (folded name C{room_key}); messages said
    while it was closed only if C{created} is that room's creation time."""
    return read_window(connection, ROOMS, (room_key,), (created,), window, cutoff)


def private_window(connection: sqlite3.Connection, low: str, high: str, window: Window,
                   cutoff: float | None) -> list[StoredPrivate]:
    """L{read_window} of the private conversation C{(low, high)}
    (L{chatsvc.store.sqlite.conversation})."""
    return read_window(connection, PRIVATE, (low, high), (), window, cutoff)


_LAST_IN_ROOM = ("SELECT time FROM room_message WHERE room_key = ? "
                 f"AND (private_to IS NULL OR private_to = ?) AND kind = '{MESSAGE}' "
                 "ORDER BY seq DESC LIMIT 1")

# An account's conversations, each with its last message, for each side of
# the pair the account may be: the other sides one index seek each (a
# skip-scan by hand, as the pruner's _ROOM_KEYS), and each conversation's
# last message one more; so the cost is the account's conversations, not
# their messages, nor the table.
_SIDE = ("WITH RECURSIVE other(k) AS ("
         "SELECT MIN({theirs}) FROM private_message WHERE {mine} = ? "
         "UNION ALL SELECT (SELECT MIN({theirs}) FROM private_message "
         "WHERE {mine} = ? AND {theirs} > k) FROM other WHERE k IS NOT NULL) "
         "SELECT k, (SELECT MAX(seq) FROM private_message WHERE {mine} = ? AND {theirs} = k) "
         "FROM other WHERE k IS NOT NULL")
_LOW_SIDE = _SIDE.format(mine="low_key", theirs="high_key")
_HIGH_SIDE = _SIDE.format(mine="high_key", theirs="low_key")
_ONE_PRIVATE = "SELECT time, sender_key, sender, target FROM private_message WHERE seq = ?"


def targets(connection: sqlite3.Connection, rooms: Sequence[tuple[str, str, float | None]],
            account: str | None, after: float, before: float,
            limit: int) -> list[tuple[str, float]]:
    """CHATHISTORY TARGETS: the conversations whose last message was said at
    C{after <= time < before}, as (name, time of that message), the least
    recent first, at most C{limit}.

    C{rooms}: the rooms to look at, as (name, folded name, creation time if
    it is closed: L{room_window}'s C{created}); C{account}: the reader's
    folded account, whose private conversations are looked at too (C{None}
    for a guest: none).  A conversation is named by the other side's name in
    its last message.
    """
    found: list[tuple[float, str]] = []
    for name, room_key, created in rooms:
        row = connection.execute(_LAST_IN_ROOM, (room_key, created)).fetchone()
        if row is not None:
            found.append((row[0], name))
    if account is not None:
        last: dict[str, int] = {}
        for statement in (_LOW_SIDE, _HIGH_SIDE):
            for other, seq in connection.execute(statement, (account,) * 3):
                last[other] = max(seq, last.get(other, 0))
        for seq in last.values():
            time, sender_key, sender, target = connection.execute(
                _ONE_PRIVATE, (seq,)).fetchone()
            found.append((time, target if sender_key == account else sender))
    found.sort()
    return [(name, time) for time, name in found if after <= time < before][:max(limit, 0)]


__all__ = ["AFTER", "AROUND", "BEFORE", "BETWEEN", "END", "KINDS", "LATEST", "PRIVATE",
           "ROOMS", "Reference", "Window", "id_millis", "private_window", "read_window",
           "room_window", "targets"]
