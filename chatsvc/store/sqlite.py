"""The history store: room messages (and private messages between accounts)
in an SQLite file, off the reactor thread.

Or in a PostgreSQL database (C{--store postgresql://...}): the same
migrations and statements, written once in portable SQL, run there through
L{chatsvc.store.postgres.PostgresConnection}, which presents the part of
C{sqlite3.Connection} they use.  Only the connection layer here knows which
it is (L{open_store}, L{schema_version}, L{migrate}).  A statement written
here (or in another module, run through L{HistoryStore.call}) uses C{?}
placeholders, the types INTEGER, TEXT and REAL, C{seq INTEGER PRIMARY KEY}
for an ordered id, C{INSERT ... ON CONFLICT} rather than C{INSERT OR ...},
and no PRAGMA or SQLite-only function: tests/conftest.py's C{backend}
fixture runs a suite on both.

One database file, C{history.sqlite3} in the data directory, in WAL mode (a
reader never waits for the writer, and a committed transaction survives the
process being killed).  Its schema is versioned with SQLite's
C{user_version}; L{MIGRATIONS} run forward, in one transaction each, when
the store opens, and a file from a newer chatsvc is refused rather than
guessed at.

The reactor never waits for the database:

  - L{HistoryStore.record} appends the event to a list, and L{WRITE_DELAY}
    later (or at once past L{BATCH_LIMIT} messages) hands the whole list to
    the store's one worker thread as one transaction (writes batched, a
    single writer).  A commit costs as much as a few dozen rows, so a busy
    server writes a batch per few dozen messages rather than one per message
    (docs/operator/history.rst has the figures);
  - reads (L{HistoryStore.latest}) return a L{Deferred} and run on the same
    thread, after every write recorded before them: so a read started when a
    user joins sees every message the hub emitted before the join, and none
    after it.

Opening (L{HistoryStore.open}) is the one blocking step: it runs at start-up,
before the reactor runs, so that a corrupt or unwritable data directory ends
start-up with one clear line (L{StoreError}) instead of failing later.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from chatsvc.events import Joined, Left, PrivateMessage, RoomMessage, TopicChanged
from chatsvc.hub.names import fold
from chatsvc.store.postgres import PostgresConnection

if TYPE_CHECKING:
    from chatsvc.store.chathistory import Window
    from chatsvc.store.postgres import PostgresConnection

_T = TypeVar("_T")

#: The database's file name inside the data directory.
DATABASE = "history.sqlite3"

#: Forward migrations: the statements that take the schema from version
#: C{i} to C{i + 1} are C{MIGRATIONS[i]}.  Append, never edit: a released
#: step has already run on someone's data.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # seq orders messages as the hub emitted them (ids sort by time then
        # serial, but serials restart with the process).  private_to: NULL
        # for a message said in an open room; for one said in a secret,
        # invite-only or keyed room, that room's creation time: it is shown
        # only while that same room lasts, never to whoever makes a new room
        # of the name once it emptied.
        """CREATE TABLE room_message (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            room_key TEXT NOT NULL,
            room TEXT NOT NULL,
            time REAL NOT NULL,
            sender TEXT NOT NULL,
            text TEXT NOT NULL,
            action INTEGER NOT NULL,
            notice INTEGER NOT NULL,
            private_to REAL
        )""",
        "CREATE INDEX room_message_by_room ON room_message (room_key, seq)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        # Accounts (chatsvc.accounts.store): name_key is the folded name (one
        # account per name, whatever its case); password is the whole scrypt
        # string, parameters included (chatsvc.accounts.kdf).
        """CREATE TABLE account (
            name_key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            password TEXT NOT NULL,
            oper INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL,
            email TEXT
        )""",
        # Private messages kept for an offline account until it logs in; seq
        # is their order, time and serial the stamp the hub gave them.
        """CREATE TABLE offline_message (
            seq INTEGER PRIMARY KEY,
            recipient_key TEXT NOT NULL,
            time REAL NOT NULL,
            serial INTEGER NOT NULL,
            sender TEXT NOT NULL,
            mask TEXT NOT NULL,
            text TEXT NOT NULL,
            action INTEGER NOT NULL,
            notice INTEGER NOT NULL
        )""",
        "CREATE INDEX offline_message_by_recipient ON offline_message (recipient_key, seq)",
    ),
    (
        # Private messages between two accounts (both logged in, or the
        # recipient an account kept offline messages for): the conversation
        # is the unordered pair of folded account names, low_key <= high_key,
        # and only those two accounts read it.  sender_key says which of the
        # two wrote it (the sender's name may differ from their account's).
        """CREATE TABLE private_message (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            low_key TEXT NOT NULL,
            high_key TEXT NOT NULL,
            sender_key TEXT NOT NULL,
            time REAL NOT NULL,
            sender TEXT NOT NULL,
            target TEXT NOT NULL,
            text TEXT NOT NULL,
            action INTEGER NOT NULL,
            notice INTEGER NOT NULL
        )""",
        "CREATE INDEX private_message_by_pair ON private_message (low_key, high_key, seq)",
    ),
    (
        # TLS client certificates that log in to an account (chatsvc.accounts.certfp):
        # fingerprint is the SHA-256 of the DER certificate in lowercase hex,
        # and belongs to one account at most; account_key is the folded name.
        """CREATE TABLE account_certificate (
            fingerprint TEXT PRIMARY KEY,
            account_key TEXT NOT NULL,
            added REAL NOT NULL
        )""",
        "CREATE INDEX account_certificate_by_account ON account_certificate (account_key)",
    ),
    (
        # What a room_message row records (issue 18): "message" (a message,
        # an action or a notice, as the action and notice columns say: every
        # row before this step), "topic" (sender set the topic to text; ""
        # cleared it), "join" and "part" (sender joined, or left with the
        # reason in text; kept with --history-joins), "quit" (sender left the
        # server from this room, text the reason; --history-joins too).  The
        # other columns keep their meaning; action and notice are 0 for the
        # new kinds.
        "ALTER TABLE room_message ADD COLUMN kind TEXT NOT NULL DEFAULT 'message'",
    ),
    (
        # Whose account a room row is (its folded name; NULL: a guest, or a
        # row from before this step): what /forget deletes (issue 18).
        "ALTER TABLE room_message ADD COLUMN account_key TEXT",
    ),
    (
        # Registered rooms (chatsvc.store.rooms, chatsvc.hub.registered): one
        # row per room by its folded name, with its founder account, the
        # room's creation time (its secret history's key, above), its topic,
        # its flag modes (letters), key and member limit (NULL when unset).
        """CREATE TABLE registered_room (
            name_key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            founder TEXT NOT NULL,
            founder_key TEXT NOT NULL,
            registered REAL NOT NULL,
            created REAL NOT NULL,
            topic TEXT NOT NULL,
            topic_by TEXT NOT NULL,
            topic_at REAL NOT NULL,
            modes TEXT NOT NULL,
            join_key TEXT,
            member_limit INTEGER
        )""",
        # Its ban (b), ban exception (e) and invitation (I) lists, in order.
        """CREATE TABLE registered_room_mask (
            seq INTEGER PRIMARY KEY,
            room_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            mask TEXT NOT NULL,
            set_by TEXT NOT NULL,
            set_at REAL NOT NULL
        )""",
        "CREATE INDEX registered_room_mask_by_room ON registered_room_mask (room_key, seq)",
        # Its operator accounts (the founder is one without a row here).
        """CREATE TABLE registered_room_operator (
            seq INTEGER PRIMARY KEY,
            room_key TEXT NOT NULL,
            account_key TEXT NOT NULL,
            account TEXT NOT NULL,
            added_by TEXT NOT NULL,
            added_at REAL NOT NULL
        )""",
        "CREATE INDEX registered_room_operator_by_room ON registered_room_operator "
        "(room_key, seq)",
    ),
    (
        # IRCv3 CHATHISTORY (chatsvc.store.chathistory): the sender's
        # nick!user@host and account (as registered) when it was said (NULL
        # in older rows: shown as nick!nick@server), and the index that lists
        # an account's conversations from the high side of the pair too
        # (TARGETS; the low side has private_message_by_pair).  Its windows
        # read the existing (key, seq) indexes.
        "ALTER TABLE room_message ADD COLUMN mask TEXT",
        "ALTER TABLE room_message ADD COLUMN account TEXT",
        "ALTER TABLE private_message ADD COLUMN mask TEXT",
        "ALTER TABLE private_message ADD COLUMN account TEXT",
        "CREATE INDEX private_message_by_high ON private_message (high_key, low_key, seq)",
    ),
)

#: The kinds of a stored room row (C{room_message.kind}, L{StoredMessage.kind}).
MESSAGE, TOPIC, JOIN, PART, QUIT = "message", "topic", "join", "part", "quit"

#: Every kind, and the kinds that are said (messages, actions, notices).
KINDS = (MESSAGE, TOPIC, JOIN, PART, QUIT)
MESSAGE_KINDS = (MESSAGE,)

#: What L{HistoryStore.record} keeps: a room message, or a change in the room.
RoomEvent = RoomMessage | TopicChanged | Joined | Left

_log = Logger()

#: Seconds a recorded message waits for others to share its transaction: the
#: most a message stays off the disk after it was delivered (plus the
#: commit), under load.
WRITE_DELAY = 0.01

#: Pending messages that are written at once, without waiting for the delay.
BATCH_LIMIT = 500

#: The schema version this code reads and writes.
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The data directory cannot be used; C{str()} is one line for the operator."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One room message as the store keeps it (what a replay shows).

    C{kind}: L{MESSAGE} (C{action} and C{notice} say which sort), L{TOPIC}
    (C{sender} set the topic to C{text}, C{""}: cleared), L{JOIN} (C{sender}
    joined), L{PART} (C{sender} left, C{text} the reason) or L{QUIT}
    (C{sender} left the server while in the room, C{text} the reason).
    """

    id: str
    room: str
    time: float
    sender: str
    text: str
    action: bool = False
    notice: bool = False
    kind: str = MESSAGE
    #: The sender's nick!user@host and account when it was said (C{""} and
    #: C{None} in rows kept before they were stored, or for a guest).
    mask: str = ""
    account: str | None = None


@dataclass(frozen=True, slots=True)
class StoredPrivate:
    """One private message between two accounts, as the store keeps it.

    C{sender_key}: the folded account of whoever wrote it (one of the two),
    so that a reader can tell the messages it sent from those it received.
    """

    id: str
    time: float
    sender_key: str
    sender: str
    target: str
    text: str
    action: bool = False
    notice: bool = False
    mask: str = ""
    account: str | None = None


def stored_message(row: Sequence[Any]) -> StoredMessage:
    """A room row from its columns: C{id, room, time, sender, text, action,
    notice, kind, mask, account}, as the reads select them."""
    id, room, time, sender, text, action, notice, kind, mask, account = row
    return StoredMessage(id, room, time, sender, text, bool(action), bool(notice), kind,
                         mask or "", account)


def stored_private(row: Sequence[Any]) -> StoredPrivate:
    """A private message from its row: C{id, time, sender_key, sender, target,
    text, action, notice, mask, account}, as the reads select them."""
    id, time, sender_key, sender, target, text, action, notice, mask, account = row
    return StoredPrivate(id, time, sender_key, sender, target, text, bool(action),
                         bool(notice), mask or "", account)


def conversation(first: str, second: str) -> tuple[str, str]:
    """The key of the conversation between two accounts: their folded names,
    in order, so that it is the same whoever of the two asks."""
    a, b = fold(first), fold(second)
    return (a, b) if a <= b else (b, a)


def _connect(path: str) -> sqlite3.Connection:
    # check_same_thread=False: opened on the reactor thread at start-up, then
    # used only by the store's one worker thread.  isolation_level=None: we
    # say BEGIN and COMMIT ourselves.
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a commit survives the process being killed (the
    # WAL is in the OS's hands); only a power cut may lose the last commits.
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA busy_timeout=5000")
    return connection


def schema_version(connection: sqlite3.Connection) -> int:
    """The version of the schema in C{connection}'s database (0: empty).

    SQLite keeps it in the file's header (C{PRAGMA user_version});
    PostgreSQL in a table of its own (L{chatsvc.store.postgres}).
    """
    postgres = _postgres(connection)
    if postgres is not None:
        return postgres.schema_version()
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def _postgres(connection: object) -> PostgresConnection | None:
    return connection if isinstance(connection, PostgresConnection) else None


def migrate(connection: sqlite3.Connection) -> int:
    """Run the forward migrations this database lacks; return the version it had.

    Each step is one transaction, on either backend (both roll back a
    failed table definition).  On PostgreSQL each also holds an advisory
    lock and reads the version again inside it: two servers starting
    together on one database run each step once.

    Raises L{StoreError} for a database newer than this code.
    """
    version = schema_version(connection)
    if version > SCHEMA_VERSION:
        raise StoreError(f"schema version {version} is newer than this chatsvc's "
                         f"({SCHEMA_VERSION}): run a newer chatsvc, or restore a backup")
    postgres = _postgres(connection)
    current = version
    while current < SCHEMA_VERSION:
        connection.execute("BEGIN IMMEDIATE")
        try:
            if postgres is not None:
                postgres.lock_schema()
                current = postgres.locked_schema_version()
            if current < SCHEMA_VERSION:
                for statement in MIGRATIONS[current]:
                    connection.execute(statement)
                current += 1
                if postgres is not None:
                    postgres.set_schema_version(current)
                else:
                    connection.execute(f"PRAGMA user_version={current}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return version


# Every start proves the database writable (a read-only file, a role without
# INSERT): found now, not at the first message.
_OPENED = ("INSERT INTO meta (key, value) VALUES ('opened-by', 'chatsvc') "
           "ON CONFLICT (key) DO UPDATE SET value = excluded.value")


def _prove_writable(connection: sqlite3.Connection) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(_OPENED)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def open_database(path: str) -> sqlite3.Connection:
    """Open (creating if need be) and migrate the database at C{path}.

    Proves it can be written (a write at every start), so that a read-only
    file or directory is found now, not at the first message.  Every
    failure is a L{StoreError} naming the file.
    """
    try:
        connection = _connect(path)
        try:
            migrate(connection)
            _prove_writable(connection)
        except BaseException:
            connection.close()
            raise
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path}: {error} (is it a chatsvc history file? "
                         "restore it from a backup or move it away)") from None
    except sqlite3.Error as error:
        raise StoreError(f"{path}: {error}") from None
    return connection


def connect_postgres(url: str) -> PostgresConnection:
    """A connection to the PostgreSQL database at C{url}, nothing checked on
    it yet; every failure a L{StoreError} of one line, the password masked
    (for L{open_postgres} and the admin command's own checks)."""
    from chatsvc.store import postgres

    shown = postgres.masked(url)
    try:
        return postgres.connect(url)
    except ValueError as error:
        raise StoreError(str(error)) from None
    except ImportError:
        raise StoreError(f"{shown}: PostgreSQL needs psycopg: "
                         "pip install 'chatsvc[postgres]'") from None
    except sqlite3.Error as error:
        raise StoreError(f"{shown}: {error}") from None


def open_postgres(url: str) -> sqlite3.Connection:
    """Connect to the PostgreSQL database at C{url}, migrate it, prove it
    writable; as L{open_database}, every failure is a L{StoreError} of one
    line, naming the database with its password masked.

    The connection is typed as sqlite3's: L{PostgresConnection} has the part
    of its API that every statement of the store is written against.
    """
    from chatsvc.store import postgres

    shown = postgres.masked(url)
    connection = connect_postgres(url)
    try:
        was = migrate(cast(sqlite3.Connection, connection))
        _prove_writable(cast(sqlite3.Connection, connection))
    except (StoreError, sqlite3.Error) as error:
        connection.close()
        raise StoreError(f"{shown}: {error}") from None
    _log.info("history and accounts in PostgreSQL at {url} (schema {version}{migrated})",
              url=shown, version=SCHEMA_VERSION,
              migrated=f", migrated from {was}" if was != SCHEMA_VERSION else "")
    return cast(sqlite3.Connection, connection)


def open_store(store: str, directory: str) -> sqlite3.Connection:
    """The store's connection: C{store} is C{--store} (C{sqlite}, the file in
    data directory C{directory}, or a C{postgresql://} URL)."""
    from chatsvc.store.postgres import is_postgres_url

    if is_postgres_url(store):
        return open_postgres(store)
    if store.strip().lower() not in ("", "sqlite"):
        raise StoreError(f"{store!r}: expected sqlite or postgresql://user@host/database")
    return open_database(prepare_directory(directory))


def prepare_directory(directory: str) -> str:
    """Create the data directory if need be; return the database's path.

    Raises L{StoreError} if it cannot be created or is no directory.
    """
    try:
        os.makedirs(directory, exist_ok=True)
    except FileExistsError:
        raise StoreError(f"{directory}: not a directory") from None
    except OSError as error:
        raise StoreError(f"{directory}: {error.strerror or error}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StoreError(f"{directory}: not writable by this user")
    return str(Path(directory) / DATABASE)


# A message's row (the kind's default: 'message'), and a row of any kind.
_INSERT = ("INSERT INTO room_message "
           "(id, room_key, room, time, sender, text, action, notice, private_to) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")

_INSERT_ROW = ("INSERT INTO room_message "
               "(id, room_key, room, time, sender, text, action, notice, private_to, kind, "
               "account_key, mask, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

_INSERT_PRIVATE = ("INSERT INTO private_message "
                   "(id, low_key, high_key, sender_key, time, sender, target, text, action, "
                   "notice, mask, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

_LATEST_PRIVATE = ("SELECT id, time, sender_key, sender, target, text, action, notice, mask, "
                   "account FROM private_message WHERE low_key = ? AND high_key = ? "
                   "ORDER BY seq DESC LIMIT ?")

_LATEST = ("SELECT id, room, time, sender, text, action, notice, kind, mask, account "
           "FROM room_message "
           "WHERE room_key = ? AND (private_to IS NULL OR private_to = ?) "
           "ORDER BY seq DESC LIMIT ?")

# The same, of some kinds only (a placeholder per kind: see _latest_of).
_LATEST_OF = ("SELECT id, room, time, sender, text, action, notice, kind, mask, account "
              "FROM room_message "
              "WHERE room_key = ? AND (private_to IS NULL OR private_to = ?) "
              "AND kind IN ({kinds}) ORDER BY seq DESC LIMIT ?")


# Retention (chatsvc.store.retention): each delete reads at most `limit` rows
# from the start of the table (seq order, oldest first) or of one room's index
# range, so a pass costs the rows it deletes, not the size of the file.
_DELETE_OLDER = ("DELETE FROM room_message WHERE seq IN (SELECT seq FROM "
                 "(SELECT seq, time FROM room_message ORDER BY seq LIMIT ?) AS oldest "
                 "WHERE time < ?)")

_DELETE_OLDER_PRIVATE = ("DELETE FROM private_message WHERE seq IN (SELECT seq FROM "
                         "(SELECT seq, time FROM private_message ORDER BY seq LIMIT ?) "
                         "AS oldest WHERE time < ?)")

# The rooms, one index seek each (a skip-scan by hand: SELECT DISTINCT would
# read the whole index).
_ROOM_KEYS = ("WITH RECURSIVE keys(k) AS (SELECT MIN(room_key) FROM room_message "
              "UNION ALL SELECT (SELECT MIN(room_key) FROM room_message WHERE room_key > k) "
              "FROM keys WHERE k IS NOT NULL) SELECT k FROM keys WHERE k IS NOT NULL")

# The seq of a room's newest message beyond the last `keep`: it and older go.
_BEYOND = ("SELECT seq FROM room_message WHERE room_key = ? "
           "ORDER BY seq DESC LIMIT 1 OFFSET ?")

_DELETE_BEYOND = ("DELETE FROM room_message WHERE seq IN (SELECT seq FROM room_message "
                  "WHERE room_key = ? AND seq <= ? ORDER BY seq LIMIT ?)")


def _row(event: RoomEvent, private_to: float | None, quit_from: str | None) -> tuple[Any, ...]:
    """The room_message row of C{event} (its columns in L{_INSERT_ROW}'s
    order); C{quit_from}: the room of a quit (a L{Left} with no room)."""
    account = None if event.account is None else fold(event.account)
    mask = event.mask or None
    if type(event) is RoomMessage:
        return (event.id, fold(event.room), event.room, event.time, event.sender, event.text,
                int(event.action), int(event.notice), private_to, MESSAGE, account, mask,
                event.account)
    if isinstance(event, TopicChanged):
        room, kind, who, text = event.room, TOPIC, event.by, event.topic
    elif isinstance(event, Joined):
        room, kind, who, text = event.room, JOIN, event.name, ""
    elif isinstance(event, Left) and event.room is not None:
        room, kind, who, text = event.room, PART, event.name, event.reason
    elif isinstance(event, Left) and quit_from is not None:
        room, kind, who, text = quit_from, QUIT, event.name, event.reason
    else:  # a quit says which of its rooms it is recorded in
        raise TypeError(f"not a room event to keep: {event!r}")
    return (event.id, fold(room), room, event.time, who, text, 0, 0, private_to, kind, account,
            mask, event.account)


class HistoryStore:
    """Room messages in SQLite, written in batches by one thread.

    @param connection: an open, migrated connection (L{open_database}, or
        C{sqlite3.connect(":memory:")} and L{migrate} in tests).
    @param reactor: schedules the batches (C{callLater}) and receives the
        thread's results (C{callFromThread}); a C{task.Clock} in tests.
    @param run: runs a function off the reactor thread and returns a
        L{Deferred} of its result.  By default the store's own pool of one
        thread (L{start} starts it); tests pass a synchronous one.
    """

    log = Logger()

    def __init__(self, connection: sqlite3.Connection, reactor: IReactorTime,
                 run: Callable[..., Deferred[Any]] | None = None) -> None:
        self.connection = connection
        self.reactor = reactor
        self._pool: ThreadPool | None = None
        if run is None:
            self._pool = ThreadPool(minthreads=1, maxthreads=1, name="chatsvc-history")
            run = self._in_pool
        self._run = run
        # (event, private_to, the room of a quit): see _row.
        self._pending: list[tuple[RoomEvent, float | None, str | None]] = []
        self._pending_private: list[tuple[PrivateMessage, str, str]] = []
        self._scheduled: IDelayedCall | None = None
        self._closed = False
        #: Batches written, and messages in them (for tests and the log).
        self.batches = 0
        self.written = 0

    @classmethod
    def open(cls, directory: str, reactor: IReactorTime, store: str = "sqlite") -> HistoryStore:
        """The store in data directory C{directory} (or, for a C{store} URL,
        that PostgreSQL database: L{open_store}): created, migrated, proved
        writable.  Blocking: for start-up, before the reactor runs."""
        return cls(open_store(store, directory), reactor)

    # -- the worker thread ----------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (a no-op with an injected C{run})."""
        if self._pool is not None and not self._pool.started:
            self._pool.start()

    def _in_pool(self, function: Callable[..., _T], *args: Any) -> Deferred[_T]:
        from twisted.internet.threads import deferToThreadPool

        assert self._pool is not None
        reactor: Any = self.reactor  # IReactorFromThreads too, when it is a real reactor
        return deferToThreadPool(reactor, self._pool, function, *args)

    def stop(self) -> Deferred[None]:
        """Write what is pending, close the database, stop the thread."""
        self._submit()
        self._closed = True
        closing: Deferred[None] = self._run(self.connection.close)

        def stopped(result: object) -> None:
            if self._pool is not None and self._pool.started:
                self._pool.stop()  # idle now: its queue ended with the close

        return closing.addBoth(stopped)

    def call(self, function: Callable[..., _T], *args: Any) -> Deferred[_T]:
        """Run C{function(connection, *args)} on the store's one thread.

        For other tables in the same database (accounts: L{chatsvc.accounts.store}):
        their statements run one at a time with the history's, in the order
        they were asked for, never on the reactor thread.  Fails with
        L{StoreError} once the store is closed.
        """
        if self._closed:
            return fail(StoreError("the store is closed"))
        self._submit()  # the messages recorded before it go first (an account's drop)
        return self._run(function, self.connection, *args)

    # -- writes -----------------------------------------------------------------

    def record(self, event: RoomEvent, private_to: float | None = None) -> None:
        """Keep C{event} (a room message the hub emitted, or a topic change,
        join or part: L{RoomEvent}): in the next batch.

        C{private_to}: the creation time of the room it was said in, if that
        room is secret, invite-only or keyed (see L{latest}).

        On the fan-out path: an append, and one C{callLater} per batch,
        whatever the number of messages in it.
        """
        if self._closed:
            return
        pending = self._pending
        pending.append((event, private_to, None))
        if len(pending) >= BATCH_LIMIT:
            self._submit()
        elif self._scheduled is None:
            self._scheduled = self.reactor.callLater(WRITE_DELAY, self._submit)

    def record_quit(self, event: Left, room: str, private_to: float | None = None) -> None:
        """Keep C{event}, a quit (a L{Left} with no room), as a row of C{room},
        one of the rooms its user was in (as L{record}, in the next batch)."""
        if self._closed:
            return
        self._pending.append((event, private_to, room))
        if len(self._pending) >= BATCH_LIMIT:
            self._submit()
        elif self._scheduled is None:
            self._scheduled = self.reactor.callLater(WRITE_DELAY, self._submit)

    def record_private(self, event: PrivateMessage, sender: str, recipient: str) -> None:
        """Keep C{event}, a private message from account C{sender} to account
        C{recipient}: in the next batch, with the room messages (the same
        single transaction, the same delay)."""
        if self._closed:
            return
        self._pending_private.append((event, sender, recipient))
        if len(self._pending) + len(self._pending_private) >= BATCH_LIMIT:
            self._submit()
        elif self._scheduled is None:
            self._scheduled = self.reactor.callLater(WRITE_DELAY, self._submit)

    def _submit(self) -> None:
        """Hand the pending messages to the worker thread, as one transaction."""
        scheduled, self._scheduled = self._scheduled, None
        if scheduled is not None and scheduled.active():
            scheduled.cancel()
        batch, self._pending = self._pending, []
        private, self._pending_private = self._pending_private, []
        if batch or private:
            written = self._run(self._write, batch, private)
            written.addErrback(self._write_failed, len(batch) + len(private))

    def _write(self, batch: Sequence[tuple[RoomEvent, float | None, str | None]],
               private: Sequence[tuple[PrivateMessage, str, str]] = ()) -> int:
        # On the worker thread.  Events are immutable, so reading them here
        # is safe; their ids are made here, off the reactor.
        rows = [_row(event, private_to, quit_from) for event, private_to, quit_from in batch]
        private_rows = [(event.id, *conversation(sender, recipient), fold(sender), event.time,
                         event.sender, event.target, event.text, int(event.action),
                         int(event.notice), event.mask or None, event.account)
                        for event, sender, recipient in private]
        connection = self.connection
        connection.execute("BEGIN")
        try:
            if rows:
                connection.executemany(_INSERT_ROW, rows)
            if private_rows:
                connection.executemany(_INSERT_PRIVATE, private_rows)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self.batches += 1
        self.written += len(rows) + len(private_rows)
        return len(rows) + len(private_rows)

    def _write_failed(self, failure: Any, count: int) -> None:
        # A full disk, say: the chat carries on without those messages' history.
        self.log.error("history: {count} message(s) not stored: {why}",
                       count=count, why=failure.getErrorMessage())

    # -- retention (chatsvc.store.retention.Pruner) -------------------------------

    @property
    def closed(self) -> bool:
        """Whether L{stop} has begun: nothing more is written or deleted."""
        return self._closed

    def delete_older(self, cutoff: float, limit: int) -> Deferred[int]:
        """Delete up to C{limit} of the oldest messages, those before C{cutoff}
        (epoch seconds); the number deleted.  One transaction on the worker
        thread, after the writes recorded before it."""
        if self._closed:
            return succeed(0)
        self._submit()
        return self._run(self._delete, _DELETE_OLDER, (limit, cutoff))

    def delete_older_private(self, cutoff: float, limit: int) -> Deferred[int]:
        """As L{delete_older}, for the private messages between accounts."""
        if self._closed:
            return succeed(0)
        self._submit()
        return self._run(self._delete, _DELETE_OLDER_PRIVATE, (limit, cutoff))

    def room_keys(self) -> Deferred[list[str]]:
        """The folded names of the rooms that have messages."""
        if self._closed:
            return succeed([])
        return self._run(lambda: [k for (k,) in self.connection.execute(_ROOM_KEYS)])

    def delete_beyond(self, room_key: str, keep: int, limit: int) -> Deferred[int]:
        """Delete up to C{limit} of room C{room_key}'s oldest messages beyond its
        last C{keep}; the number deleted."""
        if self._closed:
            return succeed(0)
        self._submit()
        return self._run(self._delete_beyond, room_key, keep, limit)

    def _delete_beyond(self, room_key: str, keep: int, limit: int) -> int:
        row = self.connection.execute(_BEYOND, (room_key, keep)).fetchone()
        if row is None:
            return 0
        return self._delete(_DELETE_BEYOND, (room_key, row[0], limit))

    def _delete(self, statement: str, parameters: tuple[Any, ...]) -> int:
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            count = connection.execute(statement, parameters).rowcount
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return int(count)

    # -- reads --------------------------------------------------------------------

    def latest(self, room: str, count: int, created: float | None = None,
               kinds: Sequence[str] = MESSAGE_KINDS) -> Deferred[list[StoredMessage]]:
        """The last C{count} rows of C{room} of C{kinds} (by default what was
        said, L{MESSAGE_KINDS}; L{KINDS}: every row), oldest first.

        Messages said while the room was secret, invite-only or keyed are
        among them only if C{created} is the creation time of the room they
        were said in: the room as it exists now, not an earlier one of the
        same name.

        Runs after every message recorded before this call (the pending batch
        goes first), so it sees all of them.
        """
        if self._closed:
            return succeed([])
        self._submit()
        return self._run(self._latest, fold(room), count, created, tuple(kinds))

    def _latest(self, room_key: str, count: int, created: float | None,
                kinds: tuple[str, ...] = MESSAGE_KINDS) -> list[StoredMessage]:
        if set(kinds) >= set(KINDS):  # every row: no test per row
            rows = self.connection.execute(_LATEST, (room_key, created, count)).fetchall()
        else:
            statement = _LATEST_OF.format(kinds=", ".join("?" * len(kinds)))
            rows = self.connection.execute(
                statement, (room_key, created, *kinds, count)).fetchall()
        return [stored_message(row) for row in reversed(rows)]


    def latest_private(self, first: str, second: str,
                       count: int) -> Deferred[list[StoredPrivate]]:
        """The last C{count} private messages between accounts C{first} and
        C{second} (either order), oldest first; after every message recorded
        before this call, as L{latest}.

        Whoever calls this decides who may read: the only caller,
        L{chatsvc.store.delivery.HistoryDelivery.private_replay_of}, passes
        the reader's own account as one of the two.
        """
        if self._closed:
            return succeed([])
        self._submit()
        return self._run(self._latest_private, *conversation(first, second), count)

    def _latest_private(self, low: str, high: str, count: int) -> list[StoredPrivate]:
        rows = self.connection.execute(_LATEST_PRIVATE, (low, high, count)).fetchall()
        return [stored_private(row) for row in reversed(rows)]

    # -- reads for IRCv3 CHATHISTORY (chatsvc.store.chathistory) -------------------

    def room_window(self, room: str, created: float | None, window: Window,
                    cutoff: float | None = None) -> Deferred[list[StoredMessage]]:
        """The messages of C{room} in C{window} (a CHATHISTORY request),
        oldest first, none said before C{cutoff}; messages said while it was
        closed only as for L{latest}.  After every message recorded before
        this call."""
        from chatsvc.store import chathistory

        if self._closed:
            return succeed([])
        return self.call(chathistory.room_window, fold(room), created, window, cutoff)

    def private_window(self, first: str, second: str, window: Window,
                       cutoff: float | None = None) -> Deferred[list[StoredPrivate]]:
        """As L{room_window}, for the private conversation between accounts
        C{first} and C{second}; whoever calls it decides who may read, as for
        L{latest_private}."""
        from chatsvc.store import chathistory

        if self._closed:
            return succeed([])
        return self.call(chathistory.private_window, *conversation(first, second), window,
                         cutoff)

    def targets(self, rooms: Sequence[tuple[str, float | None]], account: str | None,
                after: float, before: float, limit: int) -> Deferred[list[tuple[str, float]]]:
        """CHATHISTORY TARGETS (L{chatsvc.store.chathistory.targets}): of the
        rooms C{rooms} (name, creation time if closed) and the private
        conversations of account C{account} (C{None}: none), those whose last
        message was said at C{after <= time < before}, as (name, time)."""
        from chatsvc.store import chathistory

        if self._closed:
            return succeed([])
        keyed = [(name, fold(name), created) for name, created in rooms]
        return self.call(chathistory.targets, keyed,
                         None if account is None else fold(account), after, before, limit)


__all__ = ["BATCH_LIMIT", "DATABASE", "JOIN", "KINDS", "MESSAGE", "MESSAGE_KINDS", "MIGRATIONS",
           "PART", "QUIT", "SCHEMA_VERSION", "TOPIC", "WRITE_DELAY", "HistoryStore", "RoomEvent",
           "StoreError", "StoredMessage", "StoredPrivate", "conversation", "migrate",
           "connect_postgres", "open_database", "open_postgres", "open_store", "prepare_directory",
           "schema_version", "stored_message", "stored_private"]
