"""PostgreSQL as the store's second backend (``--store postgresql://...``).

The store's statements are written once, in portable SQL with C{?}
placeholders, against the part of C{sqlite3.Connection} the store uses
(C{execute}, C{executemany}, C{close}; the caller says C{BEGIN} and
C{COMMIT}).  L{PostgresConnection} presents that same part over a psycopg 3
connection, so that L{chatsvc.store.sqlite.MIGRATIONS}, the history's
statements, the accounts' (L{chatsvc.accounts.store}) and whatever another
module adds run unchanged on either database.  What differs is small and
lives here:

  - L{translate}: placeholders (C{?} to C{%s}), C{BEGIN IMMEDIATE} (PostgreSQL
    has no such mode: its row locks do that job), and in table definitions
    the three types SQLite and PostgreSQL read differently (see there);
  - the schema's version: SQLite's C{PRAGMA user_version}, here a one-row
    table, read and changed under an advisory lock so that two servers
    starting together on one database migrate it once;
  - errors: psycopg's are re-raised as the C{sqlite3} exception of the same
    DB-API name (C{IntegrityError}, C{OperationalError}...), one line, the
    password masked, so that code catching C{sqlite3.Error} stays right;
  - a NUL in a string is stored as U+FFFD (L{_storable});
  - a connection the server dropped (a restart, a failover) is opened again
    at the next statement that starts a transaction.

One connection, used only by the store's one worker thread, in autocommit
mode with explicit transactions: psycopg's blocking API there keeps one code
path for both backends, and the reactor never waits for it.

psycopg (the C{postgres} extra) is imported only when a PostgreSQL store is
opened: a server on SQLite needs none of it.
"""

from __future__ import annotations

import re
import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: The URL schemes C{--store} takes for PostgreSQL (libpq's own two).
SCHEMES = ("postgresql", "postgres")

#: Seconds a connection attempt waits for the server (unless the URL says).
CONNECT_TIMEOUT = 10

#: The advisory lock that serialises migrations between servers (a constant
#: derived from a name, so that it is the same for every chatsvc).
MIGRATION_LOCK = zlib.crc32(b"chatsvc schema migration")

_VERSION_TABLE = "chatsvc_schema"


class NotPortable(sqlite3.ProgrammingError):
    """A statement in SQLite's dialect only: write it in portable SQL."""


def is_postgres_url(value: str) -> bool:
    """Whether C{--store} names a PostgreSQL database."""
    return urlsplit(value.strip()).scheme.lower() in SCHEMES


def masked(url: str) -> str:
    """C{url} with its password (if any) replaced by C{***}: for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def check_url(value: str) -> str:
    """C{value} as a PostgreSQL URL, or C{ValueError} saying what is wrong
    (without the password)."""
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in SCHEMES:
        raise ValueError("expected sqlite or postgresql://user@host/database")
    try:
        parts.port  # noqa: B018 - a port that is no number raises here
    except ValueError:
        raise ValueError(f"{masked(value)}: the port is not a number") from None
    if not parts.path.strip("/") and "dbname=" not in parts.query:
        raise ValueError(f"{masked(value)}: no database name "
                         "(postgresql://user@host/database)")
    return value.strip()


# -- the dialect ---------------------------------------------------------------------

# String literals and quoted names pass through untouched; the rest is rewritten.
_QUOTED = re.compile(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")")

_REWRITES = (
    # An ordered id: SQLite's INTEGER PRIMARY KEY is the rowid, given by the
    # database; PostgreSQL's identity column is the same promise.
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.I),
     "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
    # SQLite's INTEGER holds 64 bits, PostgreSQL's 32: a count or a time in
    # milliseconds would overflow there.
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    # SQLite's REAL is 8 bytes, PostgreSQL's 4: epoch seconds would lose
    # their minutes.
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    # SQLite takes its write lock at BEGIN IMMEDIATE; PostgreSQL locks rows
    # as they are written.
    (re.compile(r"^\s*BEGIN\s+(IMMEDIATE|EXCLUSIVE|DEFERRED)\b", re.I), "BEGIN"),
)

_SQLITE_ONLY = (
    (re.compile(r"^\s*PRAGMA\b", re.I), "PRAGMA"),
    (re.compile(r"\bINSERT\s+OR\s+(REPLACE|IGNORE|ABORT|FAIL|ROLLBACK)\b", re.I),
     "INSERT OR ...: write INSERT ... ON CONFLICT (...) DO UPDATE/NOTHING"),
    (re.compile(r"\bAUTOINCREMENT\b", re.I), "AUTOINCREMENT"),
)


@lru_cache(maxsize=1024)
def translate(statement: str) -> str:
    """C{statement}, written for SQLite in portable SQL, as PostgreSQL reads it.

    Raises L{NotPortable} for SQLite's own words (C{PRAGMA}, C{INSERT OR
    REPLACE}...), rather than guessing what they meant.  Cached: the store
    runs the same few statements again and again.
    """
    pieces = _QUOTED.split(statement)
    for index, piece in enumerate(pieces):
        # psycopg reads every % as the start of a placeholder, quoted or not.
        piece = piece.replace("%", "%%")
        if index % 2 == 0:  # outside quotes
            for pattern, replacement in _REWRITES:
                if index == 0 or not pattern.pattern.startswith("^"):
                    piece = pattern.sub(replacement, piece)
            for pattern, what in _SQLITE_ONLY:
                if (index == 0 or not pattern.pattern.startswith("^")) and pattern.search(piece):
                    raise NotPortable(
                        f"SQLite-only SQL ({what}): {' '.join(statement.split())}")
            piece = piece.replace("?", "%s")
        pieces[index] = piece
    return "".join(pieces)


# -- errors ------------------------------------------------------------------------

_DBAPI_NAMES = ("IntegrityError", "DataError", "NotSupportedError", "ProgrammingError",
                "OperationalError", "InternalError", "DatabaseError", "InterfaceError",
                "Error")


def _as_sqlite(error: Exception, secret: str | None) -> sqlite3.Error:
    """psycopg's C{error} as the C{sqlite3} exception of the same DB-API kind:
    one line, without the password."""
    kind: type[sqlite3.Error] = sqlite3.Error
    for klass in type(error).__mro__:
        if klass.__name__ in _DBAPI_NAMES and klass.__module__.startswith("psycopg"):
            kind = getattr(sqlite3, klass.__name__)
            break
    # The server's own message, without the statement's text and a caret
    # under it (LINE 1: ...); a connection failure has only libpq's text.
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return kind(one_line(primary or str(error), secret))


def one_line(text: str, secret: str | None = None) -> str:
    """libpq's message (often several lines, a hint after a tab) as one line."""
    line = " ".join(text.split()) or "PostgreSQL error"
    if secret:
        line = line.replace(secret, "***")
    return line


# -- the connection ----------------------------------------------------------------


class PostgresConnection:
    """A psycopg connection with the part of C{sqlite3.Connection}'s API the
    store's statements use (see the module's docstring).

    @ivar url: the database, for opening it again; never logged as is
        (L{masked}).
    """

    dialect = "postgresql"

    def __init__(self, url: str, connect_timeout: int = CONNECT_TIMEOUT) -> None:
        self.url = url
        self._secret = urlsplit(url).password
        self._timeout = connect_timeout
        self._in_transaction = False
        self._raw: Any = self._open()

    def __repr__(self) -> str:
        return f"<PostgresConnection {masked(self.url)}>"

    def _open(self) -> Any:
        import psycopg

        try:
            options: dict[str, Any] = {"autocommit": True}
            if "connect_timeout" not in self.url:
                options["connect_timeout"] = self._timeout
            return psycopg.connect(self.url, **options)
        except psycopg.Error as error:
            raise _as_sqlite(error, self._secret) from None

    @property
    def raw(self) -> Any:
        """The psycopg connection itself (C{psycopg.Connection}), for what only
        PostgreSQL has: streaming cursors, C{pg_dump}'s view of things."""
        return self._raw

    def _ensure_open(self, statement: str) -> None:
        # Reopen a connection the server dropped, but only between
        # transactions: in the middle of one, the failure must reach the
        # caller (who rolls back), and the next transaction reconnects.
        word = statement.lstrip()[:8].upper()
        if self._raw.closed:
            if self._in_transaction and not word.startswith("BEGIN"):
                raise sqlite3.OperationalError("the connection to PostgreSQL was lost "
                                               "in the middle of a transaction")
            self._raw = self._open()
        if word.startswith("BEGIN"):
            self._in_transaction = True
        elif word.startswith(("COMMIT", "ROLLBACK", "END")):
            self._in_transaction = False

    def execute(self, statement: str, parameters: Sequence[Any] = ()) -> Any:
        """Run one statement; its cursor (C{fetchone}, C{fetchall}, iteration,
        C{rowcount}, as sqlite3's)."""
        import psycopg

        if self._raw.closed and statement.strip().upper() == "ROLLBACK":
            self._in_transaction = False
            return _NO_ROWS  # the transaction went with the connection
        between = not self._in_transaction
        self._ensure_open(statement)
        query, values = translate(statement), _storable(parameters)
        try:
            try:
                return self._raw.execute(query, values)
            except psycopg.OperationalError:
                if not (between and self._raw.closed):
                    raise
            # Dropped while idle (the server restarted since the last
            # statement): nothing was lost yet, so once more, reconnected.
            self._raw = self._open()
            return self._raw.execute(query, values)
        except psycopg.Error as error:
            raise _as_sqlite(error, self._secret) from None

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> Any:
        """Run one statement once per row of parameters (in one round trip's
        worth of pipelining, where libpq can)."""
        import psycopg

        self._ensure_open(statement)
        cursor = self._raw.cursor()
        try:
            cursor.executemany(translate(statement), [_storable(row) for row in rows])
        except psycopg.Error as error:
            raise _as_sqlite(error, self._secret) from None
        return cursor

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()

    # -- the schema's version (what SQLite's PRAGMA user_version is there) -----------

    def _raw_execute(self, statement: str, parameters: Sequence[Any] = ()) -> Any:
        import psycopg

        try:
            return self._raw.execute(statement, tuple(parameters))
        except psycopg.Error as error:
            raise _as_sqlite(error, self._secret) from None

    def lock_schema(self) -> None:
        """Inside a transaction: wait for any other server's migration, and
        hold them off until this transaction ends."""
        self._raw_execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        self._raw_execute(f"CREATE TABLE IF NOT EXISTS {_VERSION_TABLE} "
                          "(version BIGINT NOT NULL)")

    def schema_version(self) -> int:
        """The schema version (0 for an empty database), read under the lock."""
        self.execute("BEGIN")
        try:
            self.lock_schema()
            version = self.locked_schema_version()
            self.execute("COMMIT")
        except BaseException:
            self.execute("ROLLBACK")
            raise
        return version

    def peek_schema_version(self) -> int:
        """The schema version, changing nothing (0 where chatsvc never ran):
        for C{chatsvc-admin}, which never migrates."""
        row = self._raw_execute("SELECT to_regclass(%s)", (_VERSION_TABLE,)).fetchone()
        return 0 if row[0] is None else self.locked_schema_version()

    def read_only(self) -> None:
        """Refuse every write on this connection from now on (at the server)."""
        self._raw_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")

    def locked_schema_version(self) -> int:
        row = self._raw_execute(f"SELECT version FROM {_VERSION_TABLE}").fetchone()
        return 0 if row is None else int(row[0])

    def set_schema_version(self, version: int) -> None:
        """Inside the migration's transaction (after L{lock_schema})."""
        if self._raw_execute(f"UPDATE {_VERSION_TABLE} SET version = %s",
                             (version,)).rowcount == 0:
            self._raw_execute(f"INSERT INTO {_VERSION_TABLE} (version) VALUES (%s)",
                              (version,))


def _storable(parameters: Sequence[Any]) -> tuple[Any, ...]:
    """The parameters, a NUL in a string as U+FFFD: PostgreSQL's text cannot
    hold one, and a single NUL would fail the whole batch it is written in.
    (The hub removes control characters from what clients send, so only
    text made on the server could carry one.)"""
    return tuple(value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value
                 else value for value in parameters)


class _NoRows:
    rowcount = 0

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []


_NO_ROWS = _NoRows()


def connect(url: str) -> PostgresConnection:
    """A connection to the database at C{url}; C{sqlite3.OperationalError}
    (one line, no password) if the server cannot be reached or refuses us,
    C{ImportError} without the C{postgres} extra."""
    return PostgresConnection(check_url(url))


__all__ = ["CONNECT_TIMEOUT", "SCHEMES", "NotPortable", "PostgresConnection", "check_url",
           "connect", "is_postgres_url", "masked", "one_line", "translate"]
