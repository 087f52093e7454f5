"""Accounts and offline messages in the history database, on the store's one thread.

The tables come from a migration of L{chatsvc.store.sqlite.MIGRATIONS}; every
statement is a function of a connection (so the admin command runs the same
ones on a file of its own) and the L{AccountStore} runs them through
L{HistoryStore.call}: one at a time with the history's writes, in order, off
the reactor.  Every value goes in as a placeholder, never into the SQL text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from twisted.internet.defer import Deferred

from chatsvc.accounts import certfp
from chatsvc.events import PrivateMessage
from chatsvc.hub.names import fold
from chatsvc.store.sqlite import HistoryStore

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Account:
    """One account as stored: C{password} is its hash (L{chatsvc.accounts.kdf})."""

    name: str
    password: str
    oper: bool = False
    created: float = 0.0


@dataclass(frozen=True, slots=True)
class Summary:
    """What the hub keeps in memory of an account (L{load}): its name as
    registered, its C{oper} flag and how many messages wait for it."""

    name: str
    oper: bool
    waiting: int


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """A private message kept for an offline account, with the hub's stamp."""

    time: float
    serial: int
    sender: str
    mask: str
    text: str
    action: bool
    notice: bool


# -- the statements (each takes the connection) ----------------------------------


def load(connection: sqlite3.Connection) -> dict[str, Summary]:
    """Every account by folded name, with its waiting messages counted."""
    waiting = dict(connection.execute(
        "SELECT recipient_key, COUNT(*) FROM offline_message GROUP BY recipient_key"))
    return {key: Summary(name, bool(oper), waiting.get(key, 0))
            for key, name, oper in connection.execute(
                "SELECT name_key, name, oper FROM account")}


def get(connection: sqlite3.Connection, name: str) -> Account | None:
    row = connection.execute("SELECT name, password, oper, created FROM account "
                             "WHERE name_key = ?", (fold(name),)).fetchone()
    return None if row is None else Account(row[0], row[1], bool(row[2]), row[3])


def create(connection: sqlite3.Connection, name: str, password_hash: str,
           created: float, oper: bool = False) -> bool:
    """Add an account; C{False} if the name (in any case) is taken already."""
    cursor = connection.execute(
        "INSERT INTO account (name_key, name, password, oper, created) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name_key) DO NOTHING",
        (fold(name), name, password_hash, int(oper), created))
    return cursor.rowcount == 1


def set_password(connection: sqlite3.Connection, name: str, password_hash: str) -> bool:
    cursor = connection.execute("UPDATE account SET password = ? WHERE name_key = ?",
                                (password_hash, fold(name)))
    return cursor.rowcount == 1


def set_oper(connection: sqlite3.Connection, name: str, oper: bool) -> bool:
    cursor = connection.execute("UPDATE account SET oper = ? WHERE name_key = ?",
                                (int(oper), fold(name)))
    return cursor.rowcount == 1


def delete(connection: sqlite3.Connection, name: str) -> bool:
    """Remove an account, the messages waiting for it and its private
    history (chatsvc.store: whoever registers the name next must not read
    its conversations), in one transaction."""
    key = fold(name)
    connection.execute("BEGIN IMMEDIATE")
    try:
        cursor = connection.execute("DELETE FROM account WHERE name_key = ?", (key,))
        connection.execute("DELETE FROM offline_message WHERE recipient_key = ?", (key,))
        connection.execute("DELETE FROM account_certificate WHERE account_key = ?", (key,))
        connection.execute("DELETE FROM private_message WHERE low_key = ? OR high_key = ?",
                           (key, key))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return cursor.rowcount == 1


def names(connection: sqlite3.Connection) -> list[tuple[str, bool, float]]:
    """(name, oper, created) of every account, by name."""
    return [(name, bool(oper), created) for name, oper, created in connection.execute(
        "SELECT name, oper, created FROM account ORDER BY name_key")]


def hold(connection: sqlite3.Connection, recipient: str, message: PrivateMessage) -> None:
    connection.execute(
        "INSERT INTO offline_message (recipient_key, time, serial, sender, mask, text, "
        "action, notice) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (fold(recipient), message.time, message.serial, message.sender, message.mask,
         message.text, int(message.action), int(message.notice)))


def take(connection: sqlite3.Connection, recipient: str) -> list[HeldMessage]:
    """The messages waiting for C{recipient}, oldest first, removed in the same
    transaction: each is handed out once."""
    key = fold(recipient)
    connection.execute("BEGIN IMMEDIATE")
    try:
        rows = connection.execute(
            "SELECT seq, time, serial, sender, mask, text, action, notice "
            "FROM offline_message WHERE recipient_key = ? ORDER BY seq", (key,)).fetchall()
        if rows:
            connection.execute("DELETE FROM offline_message WHERE recipient_key = ? "
                               "AND seq <= ?", (key, rows[-1][0]))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return [HeldMessage(time, serial, sender, mask, text, bool(action), bool(notice))
            for _, time, serial, sender, mask, text, action, notice in rows]


# -- the store ---------------------------------------------------------------------


class AccountStore:
    """The account statements, each run on the history store's thread (a L{Deferred})."""

    def __init__(self, history: HistoryStore) -> None:
        self.history = history

    def _call(self, statement: Callable[..., _T], *args: Any) -> Deferred[_T]:
        return self.history.call(statement, *args)

    def load_now(self) -> dict[str, Summary]:
        """L{load}, blocking: at start-up, before the store's thread runs."""
        return load(self.history.connection)

    def get(self, name: str) -> Deferred[Account | None]:
        return self._call(get, name)

    def create(self, name: str, password_hash: str, created: float) -> Deferred[bool]:
        return self._call(create, name, password_hash, created)

    def set_password(self, name: str, password_hash: str) -> Deferred[bool]:
        return self._call(set_password, name, password_hash)

    def delete(self, name: str) -> Deferred[bool]:
        return self._call(delete, name)

    def certificate_owner(self, fingerprint: str) -> Deferred[Account | None]:
        return self._call(certfp.owner, fingerprint)

    def certificates(self, name: str) -> Deferred[list[str]]:
        return self._call(certfp.listed, name)

    def add_certificate(self, name: str, fingerprint: str, added: float,
                        limit: int) -> Deferred[str]:
        return self._call(certfp.add, name, fingerprint, added, limit)

    def remove_certificate(self, name: str, fingerprint: str) -> Deferred[bool]:
        return self._call(certfp.remove, name, fingerprint)

    def hold(self, recipient: str, message: PrivateMessage) -> Deferred[None]:
        return self._call(hold, recipient, message)

    def take(self, recipient: str) -> Deferred[list[HeldMessage]]:
        return self._call(take, recipient)


__all__ = ["Account", "AccountStore", "HeldMessage", "Summary", "create", "delete", "get",
           "hold", "load", "names", "set_oper", "set_password", "take"]
