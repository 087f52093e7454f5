"""``chatsvc-admin``: look after a server's data directory, running or not.

::

    chatsvc-admin [--data-dir DIR] history export '#room'   JSON lines on stdout
    chatsvc-admin [--data-dir DIR] history stats            messages, rooms, size
                                                            (private ones counted only)
    chatsvc-admin [--data-dir DIR] account create [--oper] [--password-file FILE|-] NAME
                                                            a new account (password asked)
    chatsvc-admin [--data-dir DIR] account list             every account
    chatsvc-admin [--data-dir DIR] account oper NAME on|off a server operator, or not
    chatsvc-admin [--data-dir DIR] account delete NAME      an account and its messages
    chatsvc-admin [--data-dir DIR] backup PATH              a consistent copy

or C{--store URL} instead of C{--data-dir}, for a server whose C{--store}
is a PostgreSQL database: the same commands but C{backup} (C{pg_dump} is
PostgreSQL's).

It reads the same C{--data-dir} as C{twistd chat} (default
C{./chatsvc-data}) and is safe while the server runs: the database is in
WAL mode, so readers and SQLite's online backup never block the server's
writer and see only committed messages; a busy timeout covers the moment a
checkpoint holds a lock.  Only the account commands write (one statement
or transaction each); nothing here migrates a schema.

A missing or bad data directory, a database from a newer chatsvc, a backup
target that exists: one line on stderr and exit status 1, no traceback.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from twisted.python import usage

from chatsvc.events import utc_time
from chatsvc.hub.names import BadName, check_name, fold
from chatsvc.store import postgres
from chatsvc.store.sqlite import DATABASE, SCHEMA_VERSION, StoreError, connect_postgres

#: The data directory when C{--data-dir} is not given (as C{twistd chat}'s).
DEFAULT_DATA_DIR = "./chatsvc-data"

#: Milliseconds a read or a backup step waits for a lock the server holds.
BUSY_TIMEOUT = 5000

#: Pages the backup copies per step (4 KiB each): small steps let the
#: server's checkpoints through between them.
BACKUP_PAGES = 1024


class AdminError(Exception):
    """What went wrong, in one line for the operator."""


# -- the database, read-only ------------------------------------------------------


def database_path(directory: str) -> Path:
    """The history file in C{directory}; L{AdminError} if there is none."""
    folder = Path(directory)
    if not folder.exists():
        raise AdminError(f"{directory}: no such directory (give the server's --data-dir)")
    if not folder.is_dir():
        raise AdminError(f"{directory}: not a directory")
    path = folder / DATABASE
    if not path.is_file():
        raise AdminError(f"{directory}: no {DATABASE} in it (is it the server's --data-dir?)")
    return path


def open_checked(directory: str, *, writable: bool = False,
                 store: str = "sqlite") -> sqlite3.Connection:
    """A connection to C{directory}'s database (or, for a C{store} URL, that
    PostgreSQL database), its schema checked: read-only unless C{writable}
    (the account commands).

    A writable connection needs the schema this chatsvc-admin knows exactly:
    it never migrates (the server does, at its start), so it never changes a
    schema under a running server of another version.
    """
    if postgres.is_postgres_url(store):
        return _open_postgres(store, writable)
    path = database_path(directory)
    mode = "rw" if writable else "ro"
    try:
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode={mode}", uri=True,
                                     isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT}")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error as error:
        raise AdminError(f"{path}: {error}") from None
    message = _schema_problem(version, writable, "--data-dir")
    if message is not None:
        connection.close()
        raise AdminError(f"{path}: {message}")
    return connection


def _open_postgres(url: str, writable: bool) -> sqlite3.Connection:
    """L{open_checked} for PostgreSQL: the same checks, the same messages."""
    shown = postgres.masked(url)
    try:
        postgres.check_url(url)
    except ValueError as error:
        raise AdminError(f"--store: {error}") from None
    try:
        connection = connect_postgres(url)
    except StoreError as error:
        raise AdminError(str(error)) from None
    try:
        version = connection.peek_schema_version()
        if not writable:
            connection.read_only()
    except sqlite3.Error as error:
        connection.close()
        raise AdminError(f"{shown}: {error}") from None
    message = _schema_problem(version, writable, "--store")
    if message is not None:
        connection.close()
        raise AdminError(f"{shown}: {message}")
    return cast(sqlite3.Connection, connection)


def _schema_problem(version: int, writable: bool, option: str) -> str | None:
    if version > SCHEMA_VERSION:
        return (f"schema version {version} is newer than this chatsvc-admin's "
                f"({SCHEMA_VERSION}): use a newer chatsvc")
    if version == 0:
        return (f"not a chatsvc history (no schema): has the server ever started with "
                f"this {option}?")
    if writable and version < SCHEMA_VERSION:
        return (f"schema version {version} is older than this chatsvc-admin's "
                f"({SCHEMA_VERSION}): start the server of this chatsvc once, which "
                "upgrades it")
    return None


def _version(connection: sqlite3.Connection) -> int:
    if isinstance(connection, postgres.PostgresConnection):
        return connection.peek_schema_version()
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def _rows(connection: sqlite3.Connection, sql: str,
          parameters: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
    try:
        yield from connection.execute(sql, parameters)
    except sqlite3.Error as error:
        raise AdminError(f"reading the history: {error}") from None


# -- history export ------------------------------------------------------------------


#: Messages an export reads per query.
EXPORT_PAGE = 1000


def export(connection: sqlite3.Connection, room: str, out: TextIO) -> int:
    """Write C{room}'s messages (any case), oldest first, one JSON object a
    line: id, time (RFC 3339, UTC), room, sender, text, action, notice.

    Reads the room's index a page (L{EXPORT_PAGE}) at a time, from the seq
    the last page ended at: memory stays flat whatever the history, on
    either database (PostgreSQL's cursors hold a whole result).
    Returns the number written.
    """
    count, after = 0, 0
    while True:
        page = list(_rows(
            connection,
            "SELECT seq, id, room, time, sender, text, action, notice FROM room_message "
            "WHERE room_key = ? AND kind = 'message' AND seq > ? ORDER BY seq LIMIT ?",
            (fold(room), after, EXPORT_PAGE)))
        for _, id, name, when, sender, text, action, notice in page:
            out.write(json.dumps({"id": id, "time": utc_time(when), "room": name,
                                  "sender": sender, "text": text, "action": bool(action),
                                  "notice": bool(notice)}, ensure_ascii=False) + "\n")
        count += len(page)
        if len(page) < EXPORT_PAGE:
            return count
        after = page[-1][0]


# -- history stats -------------------------------------------------------------------


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def stats(connection: sqlite3.Connection, directory: str,
          store: str = "sqlite") -> list[str]:
    """What the history holds: totals, then one line per room, busiest first."""
    version = _version(connection)
    rooms = list(_rows(connection,
                       "SELECT room_key, COUNT(*), MIN(time), MAX(time), "
                       "(SELECT room FROM room_message AS last WHERE last.room_key = "
                       "room_message.room_key ORDER BY seq DESC LIMIT 1) "
                       "FROM room_message GROUP BY room_key ORDER BY COUNT(*) DESC, room_key"))
    total = sum(row[1] for row in rooms)
    if postgres.is_postgres_url(store):
        [(size,)] = _rows(connection, "SELECT pg_database_size(current_database())")
        lines = [f"{postgres.masked(store)}: schema {version}, {_mib(int(size))}"]
    else:
        path = database_path(directory)
        wal = _size(path.with_name(path.name + "-wal"))
        lines = [f"{path}: schema {version}, {_mib(_size(path))}"
                 + (f" (+ {_mib(wal)} write-ahead log)" if wal else "")]
    lines.append(f"{total} messages in {len(rooms)} rooms")
    if rooms:
        lines.append(f"oldest {utc_time(min(r[2] for r in rooms))}, "
                     f"newest {utc_time(max(r[3] for r in rooms))}")
        width = max(len(r[4]) for r in rooms)
        lines.extend(f"  {name:<{width}}  {count:>9}  {utc_time(first)} .. {utc_time(last)}"
                     for _, count, first, last, name in rooms)
    if version >= 3:  # private messages between accounts: counted, never listed or exported
        [(messages, conversations)] = _rows(
            connection, "SELECT COUNT(*), (SELECT COUNT(*) FROM (SELECT 1 FROM private_message "
            "GROUP BY low_key, high_key) AS pairs) FROM private_message")
        lines.append(f"{messages} private messages in {conversations} conversations "
                     "between accounts")
    return lines


# -- backup --------------------------------------------------------------------------


def backup(directory: str, target: str) -> tuple[int, int]:
    """Copy the history to C{target} with SQLite's online backup: a
    consistent snapshot of what was committed, while the server writes on.

    The copy is one self-contained file (its journal mode is set back to
    DELETE, so no C{-wal} goes with it), checked with C{quick_check}.
    Returns (messages, bytes).  Refuses to overwrite C{target}.
    """
    destination = Path(target)
    if destination.exists():
        raise AdminError(f"{target}: exists already (not overwriting it)")
    if not destination.parent.is_dir():
        raise AdminError(f"{target}: no such directory {destination.parent}")
    source = open_checked(directory)
    try:
        try:
            copy = sqlite3.connect(str(destination), isolation_level=None)
        except sqlite3.Error as error:
            raise AdminError(f"{target}: {error}") from None
        try:
            source.backup(copy, pages=BACKUP_PAGES)
            copy.execute("PRAGMA journal_mode=DELETE")
            (check,) = copy.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise AdminError(f"{target}: the copy fails its check: {check}")
            (count,) = copy.execute("SELECT COUNT(*) FROM room_message").fetchone()
        except sqlite3.Error as error:
            copy.close()
            destination.unlink(missing_ok=True)
            raise AdminError(f"backing up to {target}: {error}") from None
        copy.close()
    finally:
        source.close()
    return int(count), _size(destination)


# -- the command line ----------------------------------------------------------------


class ExportOptions(usage.Options):
    synopsis = "'#room'"
    longdesc = ("A room's messages (any case), oldest first, as JSON lines on stdout: "
                "id, time (RFC 3339, UTC), room, sender, text, action, notice.")

    def parseArgs(self, room: str) -> None:  # type: ignore[override]
        self["room"] = room


class StatsOptions(usage.Options):
    synopsis = ""
    longdesc = "Messages, rooms and the file's size; one line per room, busiest first."


class HistoryOptions(usage.Options):
    synopsis = "export '#room' | stats"
    subCommands = [
        ["export", None, ExportOptions, "A room's messages as JSON lines."],
        ["stats", None, StatsOptions, "What the history holds."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("history what? export '#room' or stats")


class BackupOptions(usage.Options):
    synopsis = "PATH"
    longdesc = ("A consistent copy of the history in PATH (SQLite's online backup), "
                "safe while the server runs. PATH must not exist.")

    def parseArgs(self, path: str) -> None:  # type: ignore[override]
        self["path"] = path


class AccountCreateOptions(usage.Options):
    synopsis = "[--oper] [--password-file FILE|-] NAME"
    longdesc = ("Create an account, as /register would: the name by the server's rules, the "
                "password hashed as the server hashes it. The password is asked for twice on "
                "the terminal, or read from the first line of --password-file FILE (- for "
                "standard input); never given as an argument, where ps and the shell's "
                "history would show it.")
    optFlags = [["oper", None, "Make the account a server operator too."]]
    optParameters = [
        ["password-file", None, None,
         "Read the password from the first line of FILE (- for standard input)."],
    ]

    def opt_password(self, value: str) -> None:
        """Refused: see --password-file."""
        # An exact match, so that getopt does not take "--password SECRET" for
        # an abbreviation of --password-file (and SECRET for a file name to
        # show in an error): the password is not repeated in the refusal.
        raise usage.UsageError("no --password: a command line is visible to every user "
                               "(ps); use the prompt or --password-file")

    def parseArgs(self, name: str) -> None:  # type: ignore[override]
        self["name"] = name


class AccountListOptions(usage.Options):
    synopsis = ""
    longdesc = "Every account, by name: name, oper flag, when it was registered (UTC)."


class AccountOperOptions(usage.Options):
    synopsis = "NAME on|off"
    longdesc = ("Make an account a server operator (from its next login), or not: the "
                "alternative to --oper NAME:PASSWORD in the configuration.")

    def parseArgs(self, name: str, state: str) -> None:  # type: ignore[override]
        if state not in ("on", "off"):
            raise usage.UsageError(f"oper {name} {state!r}: on or off")
        self["name"], self["on"] = name, state == "on"


class AccountDeleteOptions(usage.Options):
    synopsis = "NAME"
    longdesc = "Delete an account and the messages waiting for it."

    def parseArgs(self, name: str) -> None:  # type: ignore[override]
        self["name"] = name


class AccountOptions(usage.Options):
    synopsis = "create NAME | list | oper NAME on|off | delete NAME"
    subCommands = [
        ["create", None, AccountCreateOptions, "Create an account."],
        ["list", None, AccountListOptions, "Every account."],
        ["oper", None, AccountOperOptions, "Flag an account a server operator, or not."],
        ["delete", None, AccountDeleteOptions, "Delete an account."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("account what? create NAME, list, oper NAME on|off "
                                   "or delete NAME")


class Options(usage.Options):
    synopsis = ("chatsvc-admin [--data-dir DIR | --store URL] (history export '#room' | "
                "history stats | account create NAME | account list | account oper NAME on|off | "
                "account delete NAME | backup PATH)")
    longdesc = ("Look after a chatsvc server's data directory; safe while the server runs. "
                "See docs/operator/admin.rst.")
    optParameters = [
        ["data-dir", "d", DEFAULT_DATA_DIR, "The server's --data-dir."],
        ["store", None, "sqlite", "The server's --store: sqlite (the file in --data-dir) "
         "or its PostgreSQL URL."],
    ]
    subCommands = [
        ["history", None, HistoryOptions, "Export or count the room history."],
        ["account", None, AccountOptions, "Create, list, flag operators, delete."],
        ["backup", None, BackupOptions, "Copy the data directory's database, consistently."],
    ]

    def opt_version(self) -> None:
        """Show chatsvc's version and Twisted's, and exit."""
        from chatsvc.service.tap import version_line

        print(version_line())
        raise SystemExit(0)

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("what to do? history export '#room', history stats, "
                                   "account list, or backup PATH")


# -- account create ------------------------------------------------------------------


def read_password(source: str | None, *, stdin: TextIO | None = None,
                  ask: Callable[[str], str] | None = None) -> str:
    """The new account's password: the first line of file C{source} (C{"-"}:
    standard input), or, with no C{source}, asked twice on the terminal
    (C{getpass}: not echoed) and the two must match.

    Never an argument: the command line of a running process is readable by
    every user of the machine (C{ps}, C{/proc/PID/cmdline}), and shells keep
    it in their history file.
    """
    stdin = sys.stdin if stdin is None else stdin
    ask = getpass.getpass if ask is None else ask
    if source == "-":
        return stdin.readline().rstrip("\r\n")
    if source is not None:
        try:
            with open(source, encoding="utf-8") as file:
                return file.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            raise AdminError(f"--password-file: {source}: "
                             f"{getattr(error, 'strerror', None) or error}") from None
    if not stdin.isatty():
        raise AdminError("no terminal to ask for the password on: give --password-file FILE, "
                         "or --password-file - to read it from standard input")
    try:
        password = ask("Password: ")
        again = ask("Again: ")
    except (EOFError, KeyboardInterrupt):
        raise AdminError("no password given") from None
    if password != again:
        raise AdminError("the two passwords differ")
    return password


def check_new_account(connection: sqlite3.Connection, name: str) -> None:
    """L{AdminError} unless C{name} can be a new account: a name a user may
    take (the hub's L{check_name}: grammar, length, service names) that no
    account has, in any case."""
    from chatsvc.accounts import store

    try:
        check_name(name)
    except BadName as error:
        raise AdminError(f"{name!r} cannot be an account: {error}") from None
    existing = store.get(connection, name)
    if existing is not None:
        raise AdminError(f"account {existing.name} exists already")


def create_account(connection: sqlite3.Connection, name: str, password: str, *,
                   oper: bool = False, now: float | None = None) -> None:
    """Add account C{name} with C{password} by the rules the server's
    C{/register} follows: L{check_new_account}, a usable password
    (L{kdf.check_password_form}), hashed with the server's KDF.
    L{AdminError} says why not."""
    from chatsvc.accounts import kdf, store

    check_new_account(connection, name)
    why = kdf.check_password_form(password)
    if why is not None:
        raise AdminError(why)
    hashed = kdf.hash_password(password)
    # The server may have registered the name during the hashing: refused here.
    if not store.create(connection, name, hashed, time.time() if now is None else now, oper):
        raise AdminError(f"account {name} exists already")


def run(options: Options, out: TextIO) -> None:
    """Carry out parsed C{options}; L{AdminError} for what went wrong."""
    directory, store = options["data-dir"], options["store"]
    if options.subCommand == "backup" and postgres.is_postgres_url(store):
        raise AdminError("backup: the history is in PostgreSQL: use pg_dump "
                         "(docs/operator/history.rst)")
    if not postgres.is_postgres_url(store) and store.strip().lower() not in ("", "sqlite"):
        raise AdminError(f"--store {store!r}: expected sqlite or "
                         "postgresql://user@host/database")
    if options.subCommand == "backup":
        path = options.subOptions["path"]
        started = time.monotonic()
        count, size = backup(directory, path)
        out.write(f"backed up {count} messages to {path} ({_mib(size)}, "
                  f"{time.monotonic() - started:.1f} s)\n")
        return
    if options.subCommand == "account":
        _account(options.subOptions, directory, out, store)
        return
    history = options.subOptions
    connection = open_checked(directory, store=store)
    try:
        if history.subCommand == "export":
            export(connection, history.subOptions["room"], out)
        else:
            out.write("\n".join(stats(connection, directory, store)) + "\n")
    finally:
        connection.close()


def _account(options: AccountOptions, directory: str, out: TextIO,
             where: str = "sqlite") -> None:
    """C{account create|list|oper|delete}: the statements of L{chatsvc.accounts.store}.

    The server keeps registered names in memory: an C{oper} flag counts from
    the account's next login, a deleted name stays reserved on a running
    server until it restarts, and a created one can log in at once but is
    reserved (and keeps offline messages) from the next restart
    (docs/operator/accounts.rst).
    """
    from chatsvc.accounts import store

    command, arguments = options.subCommand, options.subOptions
    connection = open_checked(directory, writable=command != "list", store=where)
    try:
        if command == "create":
            name = arguments["name"]
            check_new_account(connection, name)  # before the operator types a password
            password = read_password(arguments["password-file"])
            create_account(connection, name, password, oper=arguments["oper"])
            out.write(f"create {name}: done\n")
            return
        if command == "list":
            for name, oper, created in store.names(connection):
                when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(created))
                out.write(f"{name}\t{'oper' if oper else '-'}\t{when} UTC\n")
            return
        name = arguments["name"]
        if command == "oper":
            done = store.set_oper(connection, name, arguments["on"])
        else:
            done = store.delete(connection, name)
        if not done:
            raise AdminError(f"no such account: {name}")
        out.write(f"{command} {name}: done\n")
    except sqlite3.Error as error:
        raise AdminError(f"the accounts: {error}") from None
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> None:
    """The C{chatsvc-admin} console script."""
    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as error:
        sys.stderr.write(f"chatsvc-admin: {error} (chatsvc-admin --help)\n")
        raise SystemExit(2) from None
    try:
        run(options, sys.stdout)
        sys.stdout.flush()
    except AdminError as error:
        sys.stderr.write(f"chatsvc-admin: {error}\n")
        raise SystemExit(1) from None
    except BrokenPipeError:  # | head: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None


if __name__ == "__main__":
    main()


__all__ = ["AdminError", "Options", "backup", "check_new_account", "create_account", "export",
           "main", "open_checked", "read_password", "stats"]
