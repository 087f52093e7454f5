"""Registered rooms in the history database, on the store's one thread.

The tables come from a migration of L{chatsvc.store.sqlite.MIGRATIONS}; the
rules are L{chatsvc.hub.registered}'s.  As for accounts
(L{chatsvc.accounts.store}), every statement is a function of a connection
and L{RoomStore} runs them through L{HistoryStore.call}: one at a time with
the history's writes, in order, never on the reactor.  Every value is a
placeholder, never SQL text (a topic may be C{'); DROP TABLE ...}), and the
SQL is portable (no C{INSERT OR ...}, no PRAGMA): the same statements run on
PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from twisted.internet.defer import Deferred

from chatsvc.hub.names import fold
from chatsvc.hub.registered import ListEntry, OperatorAccount, RoomState
from chatsvc.store.sqlite import HistoryStore

_T = TypeVar("_T")

_ROOM_COLUMNS = ("name, founder, registered, created, topic, topic_by, topic_at, modes, "
                 "join_key, member_limit")


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One transaction: committed if the block ends, rolled back if it raises."""
    connection.execute("BEGIN")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


# -- the statements (each takes the connection) ----------------------------------


def load(connection: sqlite3.Connection, limit: int) -> list[RoomState]:
    """Up to C{limit} registered rooms with their lists, oldest registration first."""
    rows = connection.execute(
        f"SELECT name_key, {_ROOM_COLUMNS} FROM registered_room "
        "ORDER BY registered, name_key LIMIT ?", (limit,)).fetchall()
    keys = {row[0] for row in rows}
    entries: defaultdict[str, list[ListEntry]] = defaultdict(list)
    for key, kind, mask, by, at in connection.execute(
            "SELECT room_key, kind, mask, set_by, set_at FROM registered_room_mask "
            "ORDER BY room_key, seq"):
        if key in keys:
            entries[key].append(ListEntry(kind, mask, by, at))
    operators: defaultdict[str, list[OperatorAccount]] = defaultdict(list)
    for key, account, by, at in connection.execute(
            "SELECT room_key, account, added_by, added_at FROM registered_room_operator "
            "ORDER BY room_key, seq"):
        if key in keys:
            operators[key].append(OperatorAccount(account, by, at))
    return [RoomState(name, founder, registered, created, topic, topic_by, topic_at, modes,
                      join_key, member_limit, tuple(entries[key]), tuple(operators[key]))
            for (key, name, founder, registered, created, topic, topic_by, topic_at, modes,
                 join_key, member_limit) in rows]


def _room_values(state: RoomState) -> tuple[Any, ...]:
    return (state.name, state.founder, fold(state.founder), state.registered, state.created,
            state.topic, state.topic_by, state.topic_at, state.modes, state.key, state.limit)


def _write_lists(connection: sqlite3.Connection, key: str, state: RoomState) -> None:
    connection.execute("DELETE FROM registered_room_mask WHERE room_key = ?", (key,))
    connection.execute("DELETE FROM registered_room_operator WHERE room_key = ?", (key,))
    connection.executemany(
        "INSERT INTO registered_room_mask (room_key, kind, mask, set_by, set_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [(key, entry.kind, entry.mask, entry.by, entry.at) for entry in state.entries])
    connection.executemany(
        "INSERT INTO registered_room_operator (room_key, account_key, account, added_by, "
        "added_at) VALUES (?, ?, ?, ?, ?)",
        [(key, fold(op.account), op.account, op.by, op.at) for op in state.operators])


def add(connection: sqlite3.Connection, state: RoomState) -> bool:
    """Register a room with its state; C{False} if it is registered already."""
    key = fold(state.name)
    with _transaction(connection):
        cursor = connection.execute(
            "INSERT INTO registered_room (name_key, name, founder, founder_key, registered, "
            "created, topic, topic_by, topic_at, modes, join_key, member_limit) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name_key) DO NOTHING",
            (key, *_room_values(state)))
        if cursor.rowcount != 1:
            return False
        _write_lists(connection, key, state)
    return True


def save(connection: sqlite3.Connection, state: RoomState, lists: bool) -> None:
    """Write a registered room's settings, and with C{lists} its lists too
    (replaced whole: at most a hundred entries and fifty accounts)."""
    key = fold(state.name)
    with _transaction(connection):
        connection.execute(
            "UPDATE registered_room SET name = ?, founder = ?, founder_key = ?, "
            "registered = ?, created = ?, topic = ?, topic_by = ?, topic_at = ?, modes = ?, "
            "join_key = ?, member_limit = ? WHERE name_key = ?", (*_room_values(state), key))
        if lists:
            _write_lists(connection, key, state)


def remove(connection: sqlite3.Connection, name: str) -> bool:
    """Forget a registered room and its lists; whether it was registered."""
    key = fold(name)
    with _transaction(connection):
        cursor = connection.execute("DELETE FROM registered_room WHERE name_key = ?", (key,))
        connection.execute("DELETE FROM registered_room_mask WHERE room_key = ?", (key,))
        connection.execute("DELETE FROM registered_room_operator WHERE room_key = ?", (key,))
    return cursor.rowcount == 1


def names(connection: sqlite3.Connection) -> list[tuple[str, str, float]]:
    """(room, founder, registered) of every registered room, by name."""
    return [(name, founder, registered) for name, founder, registered in connection.execute(
        "SELECT name, founder, registered FROM registered_room ORDER BY name_key")]


# -- the store ---------------------------------------------------------------------


class RoomStore:
    """The statements, each run on the history store's thread (a L{Deferred});
    what L{chatsvc.hub.registered.RoomRegistry} is given."""

    def __init__(self, history: HistoryStore) -> None:
        self.history = history

    def _call(self, statement: Callable[..., _T], *args: Any) -> Deferred[_T]:
        return self.history.call(statement, *args)

    def load_now(self, limit: int) -> list[RoomState]:
        """L{load}, blocking: at start-up, before the store's thread runs."""
        return load(self.history.connection, limit)

    def add(self, state: RoomState) -> Deferred[bool]:
        return self._call(add, state)

    def save(self, state: RoomState, lists: bool) -> Deferred[None]:
        return self._call(save, state, lists)

    def remove(self, name: str) -> Deferred[bool]:
        return self._call(remove, name)


__all__ = ["RoomStore", "add", "load", "names", "remove", "save"]
