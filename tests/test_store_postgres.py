"""PostgreSQL as the store's backend: the dialect translation, ``--store``,
and what only a real server shows (errors, a dropped connection, two servers
migrating at once, a restart through twistd).

The store's own suites run on both backends through conftest's ``backend``
fixture; this module tests what is PostgreSQL's alone.  The PostgreSQL tests
are integration tests (a server process, a wire) and skip with the reason
where PostgreSQL or psycopg is missing (tests/pg_server.py).
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from test_history import NOW, message, result_of
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock

from chatsvc.service import tap
from chatsvc.store import postgres
from chatsvc.store import sqlite as store_sqlite
from chatsvc.store.delivery import history_of
from chatsvc.store.postgres import NotPortable, check_url, masked, translate
from chatsvc.store.sqlite import (
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryStore,
    StoreError,
    open_postgres,
    schema_version,
)

# -- the dialect: SQLite's portable SQL as PostgreSQL reads it -----------------------


def test_placeholders_become_psycopgs_and_quoted_text_is_left_alone() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c = ?") == \
        "SELECT a FROM t WHERE b = %s AND c = %s"
    # a ? inside quotes is text; every % is doubled (psycopg reads % anywhere)
    assert translate("SELECT '?', \"odd?name\" FROM t WHERE x LIKE '%a' AND y = ? % 2") == \
        "SELECT '?', \"odd?name\" FROM t WHERE x LIKE '%%a' AND y = %s %% 2"
    assert translate("SELECT 'it''s ?' WHERE z = ?") == "SELECT 'it''s ?' WHERE z = %s"


def test_the_types_the_two_read_differently_are_translated() -> None:
    assert translate("CREATE TABLE t (seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, "
                     "at REAL, name TEXT, real_name TEXT, "
                     "note TEXT DEFAULT 'INTEGER REAL')") == (
        "CREATE TABLE t (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "n BIGINT NOT NULL, at DOUBLE PRECISION, name TEXT, real_name TEXT, "
        "note TEXT DEFAULT 'INTEGER REAL')")
    assert translate("create table u (id integer primary key autoincrement)") == \
        "create table u (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY)"


def test_begin_immediate_is_a_plain_begin() -> None:
    assert translate("BEGIN IMMEDIATE") == "BEGIN"
    assert translate("begin exclusive") == "BEGIN"
    assert translate("BEGIN") == "BEGIN"
    assert translate("SELECT 'BEGIN IMMEDIATE'") == "SELECT 'BEGIN IMMEDIATE'"


@pytest.mark.parametrize("statement", [
    "PRAGMA user_version",
    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
    "insert or ignore into account (name_key) values (?)",
])
def test_sqlite_only_sql_is_refused_not_guessed(statement: str) -> None:
    with pytest.raises(NotPortable, match="SQLite-only SQL") as caught:
        translate(statement)
    assert isinstance(caught.value, sqlite3.Error)  # what the store's callers catch


def test_every_migration_and_store_statement_is_portable() -> None:
    statements = [statement for step in MIGRATIONS for statement in step]
    statements += [value for name, value in vars(store_sqlite).items()
                   if name.startswith("_") and isinstance(value, str) and
                   value.lstrip().startswith(("SELECT", "INSERT", "DELETE", "WITH", "UPDATE"))]
    assert len(statements) > 10
    for statement in statements:
        translate(statement)  # raises for SQLite-only SQL


# -- the URL ---------------------------------------------------------------------------


def test_a_password_is_masked_wherever_the_url_is_shown() -> None:
    assert masked("postgresql://chat:s3cret@db.example:5433/chat?sslmode=require") == \
        "postgresql://chat:***@db.example:5433/chat?sslmode=require"
    assert masked("postgresql://chat@db/chat") == "postgresql://chat@db/chat"
    with pytest.raises(ValueError) as caught:
        check_url("postgresql://chat:s3cret@db:port/chat")
    assert "s3cret" not in str(caught.value) and "chat:***@db" in str(caught.value)


def parse(*argv: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", *argv])
    return options


@pytest.mark.parametrize(("value", "why"), [
    ("mysql://chat@db/chat", "expected sqlite or postgresql://user@host/database"),
    ("/var/lib/chat", "expected sqlite or postgresql://user@host/database"),
    ("postgresql://chat@db", "no database name"),
    ("postgres://chat:pw@db:x/chat", "the port is not a number"),
])
def test_a_bad_store_is_one_line(value: str, why: str) -> None:
    with pytest.raises(tap.StartupFailure) as caught:
        parse("--store", value)
    text = str(caught.value.code)
    assert text.startswith("twistd chat: --store") and why in text
    assert "\n" not in text and ":pw@" not in text


def test_sqlite_is_the_default_store() -> None:
    assert parse()["store"] == "sqlite"
    assert parse("--store", "SQLite")["store"] == "sqlite"


# -- a real PostgreSQL server ---------------------------------------------------------

pg = pytest.mark.integration


def synchronous_store(connection: Any) -> HistoryStore:
    return HistoryStore(connection, Clock(), run=lambda f, *a: maybeDeferred(f, *a))


def fresh_schema(server: Any) -> str:
    """The URL of a new, empty schema on the test server."""
    schema = server.next_name("s")
    with server.admin() as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    return str(server.url(options=f"-csearch_path%3D{schema}"))


@pg
def test_times_keep_their_microseconds(postgres_server: Any) -> None:
    """REAL is 4 bytes on PostgreSQL: epoch seconds would lose minutes."""
    store = synchronous_store(open_postgres(fresh_schema(postgres_server)))
    store.record(message("#rust", "alice", "precise", at=NOW + 0.123456))
    [stored] = result_of(store.latest("#rust", 1))
    assert stored.time == NOW + 0.123456
    store.connection.close()


@pg
def test_a_schema_from_a_newer_chatsvc_is_refused(postgres_server: Any) -> None:
    url = fresh_schema(postgres_server)
    connection = open_postgres(url)
    assert schema_version(connection) == SCHEMA_VERSION
    connection.execute("UPDATE chatsvc_schema SET version = ?", (SCHEMA_VERSION + 1,))
    connection.close()
    with pytest.raises(StoreError, match="newer than this chatsvc") as caught:
        open_postgres(url)
    assert str(caught.value).startswith("postgresql://chat@127.0.0.1:")


@pg
def test_two_servers_starting_together_migrate_once(postgres_server: Any) -> None:
    url = fresh_schema(postgres_server)
    results: list[Any] = []

    def start() -> None:
        try:
            results.append(open_postgres(url))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 4 and not [r for r in results if isinstance(r, Exception)]
    assert [schema_version(connection) for connection in results] == [SCHEMA_VERSION] * 4
    for connection in results:
        connection.close()


@pg
def test_a_connection_the_server_dropped_is_opened_again(postgres_server: Any) -> None:
    store = synchronous_store(open_postgres(fresh_schema(postgres_server)))
    store.record(message("#rust", "alice", "before"))
    assert [m.text for m in result_of(store.latest("#rust", 5))] == ["before"]
    raw = store.connection.raw  # type: ignore[attr-defined]
    with postgres_server.admin() as admin:  # what a server restart does to it
        admin.execute("SELECT pg_terminate_backend(%s)", (raw.info.backend_pid,))
    store.record(message("#rust", "alice", "after", serial=2))  # not lost
    assert [m.text for m in result_of(store.latest("#rust", 5))] == ["before", "after"]
    store.connection.close()


@pg
def test_the_store_option_keeps_history_in_postgresql(postgres_server: Any) -> None:
    url = fresh_schema(postgres_server)
    root = tap.makeService(parse("--store", url, "--data-dir", "none"))
    history = history_of(root.hub.delivery)  # type: ignore[attr-defined]
    assert history is not None
    assert isinstance(history.store.connection, postgres.PostgresConnection)
    history.store.connection.close()


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pg
def test_an_unreachable_server_is_one_line() -> None:
    url = f"postgresql://chat:hunter2@127.0.0.1:{closed_port()}/chat"
    with pytest.raises(tap.StartupFailure) as caught:
        tap.makeService(parse("--store", url))
    text = str(caught.value.code)
    assert text.startswith(f"twistd chat: --store: {masked(url)}: ")
    assert "refused" in text and "hunter2" not in text and "\n" not in text


@pg
def test_a_wrong_password_a_missing_database_and_no_rights_are_one_line(
        postgres_server: Any) -> None:
    with postgres_server.admin() as admin:
        admin.execute("DO $$ BEGIN CREATE ROLE carol LOGIN PASSWORD 'right-password'; "
                      "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    url = f"postgresql://carol:wrong-password@127.0.0.1:{postgres_server.port}/chat"
    with pytest.raises(tap.StartupFailure) as caught:
        tap.makeService(parse("--store", url))
    text = str(caught.value.code)
    assert "password authentication failed" in text and "\n" not in text
    assert "wrong-password" not in text and "carol:***@" in text
    with pytest.raises(tap.StartupFailure) as caught:
        tap.makeService(parse("--store", postgres_server.url("nosuchdb")))
    assert 'database "nosuchdb" does not exist' in str(caught.value.code)
    # the right password, but no right to create the tables: the server's
    # message, without the statement and its caret
    url = f"postgresql://carol:right-password@127.0.0.1:{postgres_server.port}/chat"
    with pytest.raises(tap.StartupFailure) as caught:
        tap.makeService(parse("--store", url))
    text = str(caught.value.code)
    assert text == "twistd chat: --store: postgresql://carol:***@127.0.0.1:" \
        f"{postgres_server.port}/chat: permission denied for schema public"


# -- through a real twistd ---------------------------------------------------------------


@pg
def test_history_and_accounts_survive_a_restart_on_postgresql(tmp_path: Path,
                                                              postgres_server: Any) -> None:
    from support import SocketUser, twistd_server
    from test_history_loopback import HOSTILE, lines_until

    with postgres_server.admin() as admin:
        database = postgres_server.next_name("e2e")
        admin.execute(f"CREATE DATABASE {database}")
    url = postgres_server.url(database)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with twistd_server(first, "--store", url) as (port, _):
        alice, bob = SocketUser(port, "alice"), SocketUser(port, "bob")
        alice.send("/register sesame-alice")
        alice.expect("* registered alice")
        for line in ("hello on postgres", HOSTILE):
            alice.send(line)
        bob.expect(f"<alice> {HOSTILE}")
        bob.send("/history 1")  # answered after the writes before it: committed
        lines_until(bob, "* end of history")
        alice.close()
        bob.close()
    log = (first / "server.log").read_text()
    assert f"history and accounts in PostgreSQL at {url}" in log
    with twistd_server(second, "--store", url) as (port, _):
        carol = SocketUser(port)
        carol.send("#carol")
        lines = lines_until(carol, "* end of history")
        block = lines[lines.index("* history of #chat (2)"):]
        assert [re.sub(r"^\[\d\d:\d\d\] ", "", line) for line in block] == [
            "* history of #chat (2)", "<alice> hello on postgres", f"<alice> {HOSTILE}",
            "* end of history"]
        alice = SocketUser(port)
        alice.send("/login alice sesame-alice")
        lines_until(alice, "* logged in as alice")
        carol.close()
        alice.close()
    assert not (first / "chatsvc-data").exists()  # nothing in a data directory


@pg
def test_an_unreachable_store_stops_twistd_with_one_line(tmp_path: Path) -> None:
    url = f"postgresql://chat:hunter2@127.0.0.1:{closed_port()}/chat"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "twistd"), "-n", "--pidfile=", "chat",
         "--port", "tcp:0:interface=127.0.0.1", "--store", url],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"twistd chat: --store: {masked(url)}: ") and "hunter2" not in line


@pg
def test_the_documented_pg_dump_backup_restores(postgres_server: Any, tmp_path: Path) -> None:
    """docs/operator/history.rst's pg_dump and pg_restore, on a store's database."""
    with postgres_server.admin() as admin:
        source, restored = (postgres_server.next_name("dump"), postgres_server.next_name("back"))
        admin.execute(f"CREATE DATABASE {source}")
        admin.execute(f"CREATE DATABASE {restored}")
    store = synchronous_store(open_postgres(postgres_server.url(source)))
    store.record(message("#rust", "alice", "kept'); DROP TABLE room_message; --"))
    store.record(message("#rust", "bob", "and this", serial=2))
    result_of(store.latest("#rust", 1))  # written
    store.connection.close()
    dump = tmp_path / "chatsvc.dump"
    where = ["--host", str(postgres_server.socket_dir), "--port", str(postgres_server.port),
             "--username", "chat"]
    subprocess.run([str(postgres_server.bin / "pg_dump"), *where, "--format=custom",
                    f"--dbname={source}", f"--file={dump}"], check=True, timeout=60)
    subprocess.run([str(postgres_server.bin / "pg_restore"), *where, f"--dbname={restored}",
                    "--no-owner", str(dump)], check=True, timeout=60)
    again = synchronous_store(open_postgres(postgres_server.url(restored)))
    assert schema_version(again.connection) == SCHEMA_VERSION
    assert [m.text for m in result_of(again.latest("#rust", 5))] == [
        "kept'); DROP TABLE room_message; --", "and this"]
    again.record(message("#rust", "carol", "after the restore", serial=3))  # seq goes on
    assert [m.text for m in result_of(again.latest("#rust", 1))] == ["after the restore"]
    again.connection.close()


# -- chatsvc-admin --store ----------------------------------------------------------------


def test_an_export_reads_page_after_page_in_order(backend: Any, monkeypatch: Any) -> None:
    import io

    from chatsvc import admin

    monkeypatch.setattr(admin, "EXPORT_PAGE", 3)
    store = synchronous_store(backend.connect())
    for serial in range(1, 8):
        store.record(message("#Rust" if serial != 4 else "#go", "alice", f"m{serial}",
                             serial=serial))
    result_of(store.latest("#rust", 1))  # written
    out = io.StringIO()
    assert admin.export(store.connection, "#RUST", out) == 6
    assert [line.split('"text": "')[1].split('"')[0] for line in out.getvalue().splitlines()] \
        == ["m1", "m2", "m3", "m5", "m6", "m7"]


def run_admin(capsys: Any, *argv: str) -> tuple[int, str, str]:
    from chatsvc import admin

    try:
        admin.main(list(argv))
        code = 0
    except SystemExit as exit:
        code = int(exit.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pg
def test_the_admin_command_works_on_postgresql(postgres_server: Any, capsys: Any) -> None:
    from chatsvc.accounts import store as accounts

    url = fresh_schema(postgres_server)
    store = synchronous_store(open_postgres(url))
    store.record(message("#rust", "alice", "said'); --"))
    result_of(store.latest("#rust", 1))
    accounts.create(store.connection, "Bob", "hash", NOW)
    store.connection.close()

    code, out, _ = run_admin(capsys, "--store", url, "history", "export", "#rust")
    assert code == 0 and '"text": "said\'); --"' in out
    code, out, _ = run_admin(capsys, "--store", url, "history", "stats")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith(f"{url}: schema {SCHEMA_VERSION}, ")
    assert lines[1] == "1 messages in 1 rooms"
    assert run_admin(capsys, "--store", url, "account", "oper", "bob", "on")[1] == \
        "oper bob: done\n"
    assert run_admin(capsys, "--store", url, "account", "list")[1].startswith("Bob\toper\t")
    assert run_admin(capsys, "--store", url, "account", "delete", "BOB")[0] == 0
    assert run_admin(capsys, "--store", url, "account", "list")[1] == ""
    code, _, err = run_admin(capsys, "--store", url, "backup", "/tmp/never-written")
    assert code == 1 and "use pg_dump" in err


@pg
def test_the_admin_command_reads_without_writing_and_never_migrates(postgres_server: Any,
                                                                  capsys: Any) -> None:
    from chatsvc import admin

    empty = fresh_schema(postgres_server)
    code, _, err = run_admin(capsys, "--store", empty, "history", "stats")
    assert code == 1 and "not a chatsvc history (no schema)" in err and "\n" == err[-1:]
    with postgres_server.admin() as check:  # and it created nothing there
        assert check.execute("SELECT to_regclass(%s)", (
            empty.split("%3D")[1] + ".chatsvc_schema",)).fetchone() == (None,)
    url = fresh_schema(postgres_server)
    open_postgres(url).close()
    reading = admin.open_checked("unused", store=url)
    with pytest.raises(sqlite3.Error, match="read-only transaction"):
        reading.execute("DELETE FROM room_message")
    reading.close()
    code, _, err = run_admin(capsys, "--store", "postgresql://chat:pw@127.0.0.1:1/chat",
                             "account", "list")
    assert code == 1 and err.startswith("chatsvc-admin: postgresql://chat:***@127.0.0.1:1/chat: ")


@pg
def test_a_replay_walks_the_rooms_index_backwards_on_postgresql(postgres_server: Any) -> None:
    """As tests/test_history_million.py holds SQLite to: no scan, no sort."""
    connection = open_postgres(fresh_schema(postgres_server))
    raw = connection.raw  # type: ignore[attr-defined]
    with raw.cursor() as cursor, cursor.copy(
            "COPY room_message (id, room_key, room, time, sender, text, action, notice) "
            "FROM STDIN") as copy:
        for i in range(50_000):
            copy.write_row((f"{i:024x}", f"#r{i % 100}", f"#r{i % 100}", NOW + i, "alice",
                            f"message number {i}", 0, 0))
    raw.execute("ANALYZE room_message")
    plan = " | ".join(row[0] for row in connection.execute(
        "EXPLAIN " + store_sqlite._LATEST, ("#r7", None, 50)))
    assert "Index Scan Backward using room_message_by_room" in plan, plan
    assert "Sort" not in plan and "Seq Scan" not in plan, plan
    messages = result_of(synchronous_store(connection).latest("#r7", 50))
    assert messages[-1].text == "message number 49907" and len(messages) == 50
    connection.close()


def test_the_store_bench_runs_on_both(backend: Any, capsys: Any) -> None:
    """bench/store.py, on a small fill: it measures what it says, and leaves
    the PostgreSQL database it was given empty again."""
    from bench import store as bench_store

    bench_store.main(["--rows", "2000", *(["--store", backend.url] if backend.postgres
                                          else [])])
    out = capsys.readouterr().out
    names = ["SQLite", "PostgreSQL"] if backend.postgres else ["SQLite"]
    assert [line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")] \
        == names
    assert out.count("replay of  50: median") == len(names)
    assert out.count("batch of 500:") == len(names)
    if backend.postgres:
        with backend.server.admin() as admin:
            assert admin.execute("SELECT COUNT(*) FROM information_schema.tables "
                                 "WHERE table_schema = %s", (backend.schema,)).fetchone() == (0,)


def test_without_postgresql_the_tests_skip_saying_why(monkeypatch: Any) -> None:
    import pg_server

    monkeypatch.setattr(pg_server.glob, "glob", lambda pattern: [])
    why = pg_server.unavailable()
    assert why is not None and "apt-get install postgresql" in why
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    assert "psycopg is not installed" in str(pg_server.unavailable())


def test_an_integer_column_holds_64_bits_on_both(backend: Any) -> None:
    """SQLite's INTEGER is 64 bits; PostgreSQL's is 32 unless translated."""
    from chatsvc.accounts import store as accounts
    from chatsvc.events import PrivateMessage

    connection = backend.connect()
    accounts.create(connection, "bob", "hash", NOW)
    accounts.hold(connection, "bob", PrivateMessage("alice", "bob", "big", stamp=(NOW, 2 ** 40)))
    [held] = accounts.take(connection, "bob")
    assert held.serial == 2 ** 40
