"""The statements for the TLS client certificates that log in to an account.

An account may hold up to L{LIMIT} certificates, each known by its SHA-256
fingerprint (L{chatsvc.conn.certificates}); a certificate belongs to one
account at most.  Like the other account statements (L{chatsvc.accounts.store})
each is a function of a connection, run on the store's one thread through
L{chatsvc.store.sqlite.HistoryStore.call}, so a check and the insert after it
are not interleaved with another call; values go in as placeholders, in
portable SQL.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from chatsvc.hub.names import fold

if TYPE_CHECKING:
    from chatsvc.accounts.store import Account

#: Certificates one account may hold (a laptop, a phone, a bouncer...).
LIMIT = 5

#: What L{add} did.
ADDED = "added"
ALREADY = "already"  # the account had it
TAKEN = "taken"  # another account has it
FULL = "full"  # the account holds LIMIT already


def owner(connection: sqlite3.Connection, fingerprint: str) -> Account | None:
    """The account holding the certificate C{fingerprint}, if any."""
    from chatsvc.accounts.store import Account

    row = connection.execute(
        "SELECT a.name, a.password, a.oper, a.created FROM account_certificate c "
        "JOIN account a ON a.name_key = c.account_key WHERE c.fingerprint = ?",
        (fingerprint,)).fetchone()
    return None if row is None else Account(row[0], row[1], bool(row[2]), row[3])


def listed(connection: sqlite3.Connection, name: str) -> list[str]:
    """The fingerprints account C{name} holds, oldest first."""
    return [fingerprint for (fingerprint,) in connection.execute(
        "SELECT fingerprint FROM account_certificate WHERE account_key = ? "
        "ORDER BY added, fingerprint", (fold(name),))]


def add(connection: sqlite3.Connection, name: str, fingerprint: str, added: float,
        limit: int = LIMIT) -> str:
    """Give account C{name} the certificate C{fingerprint}: L{ADDED}, or why not."""
    key = fold(name)
    row = connection.execute("SELECT account_key FROM account_certificate "
                             "WHERE fingerprint = ?", (fingerprint,)).fetchone()
    if row is not None:
        return ALREADY if row[0] == key else TAKEN
    (count,) = connection.execute("SELECT COUNT(*) FROM account_certificate "
                                  "WHERE account_key = ?", (key,)).fetchone()
    if count >= limit:
        return FULL
    cursor = connection.execute(
        "INSERT INTO account_certificate (fingerprint, account_key, added) VALUES (?, ?, ?) "
        "ON CONFLICT (fingerprint) DO NOTHING", (fingerprint, key, added))
    return ADDED if cursor.rowcount == 1 else TAKEN


def remove(connection: sqlite3.Connection, name: str, fingerprint: str) -> bool:
    """Take the certificate C{fingerprint} from account C{name}; C{False} if it had not it."""
    cursor = connection.execute(
        "DELETE FROM account_certificate WHERE fingerprint = ? AND account_key = ?",
        (fingerprint, fold(name)))
    return cursor.rowcount == 1


__all__ = ["ADDED", "ALREADY", "FULL", "LIMIT", "TAKEN", "add", "listed", "owner", "remove"]
