"""Accounts (issue 18), the storage side: the password KDF and the account
store's statements on an in-memory SQLite database."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from chatsvc.accounts import kdf, store
from chatsvc.events import PrivateMessage
from chatsvc.store.sqlite import MIGRATIONS, migrate, schema_version

NOW = 1_700_000_000.0


pytestmark = pytest.mark.usefixtures("cheap_hashes")


def memory_connection(backend: Any = None) -> sqlite3.Connection:
    """A migrated connection to a fresh database of C{backend} (conftest's
    fixture; C{None}: SQLite in memory)."""
    if backend is not None:
        return backend.connect()  # type: ignore[no-any-return]
    connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    migrate(connection)
    return connection


# -- the KDF -----------------------------------------------------------------------


def test_a_hash_carries_its_parameters_and_a_fresh_salt() -> None:
    one, two = kdf.hash_password("sesame-1"), kdf.hash_password("sesame-1")
    assert one != two  # salted
    name, n, r, p, salt, key = one.split("$")
    assert (name, int(n), int(r), int(p)) == ("scrypt", kdf.N, kdf.R, kdf.P)
    assert kdf.verify_password("sesame-1", one) and kdf.verify_password("sesame-1", two)
    assert not kdf.verify_password("sesame-2", one)
    assert "sesame" not in one


def test_a_hash_made_with_other_parameters_still_verifies_and_asks_to_be_renewed() -> None:
    old = kdf.hash_password("sesame-1", n=2 ** 9, r=4)
    assert kdf.verify_password("sesame-1", old)
    assert kdf.needs_rehash(old)
    assert not kdf.needs_rehash(kdf.hash_password("sesame-1"))


@pytest.mark.parametrize("bad", ["", "md5$abc", "scrypt$x$8$1$AAAA$AAAA",
                                 "scrypt$1024$8$1$!!$AAAA", "scrypt$3$8$1$AAAA$AAAA"])
def test_a_malformed_hash_never_matches(bad: str) -> None:
    assert not kdf.verify_password("sesame-1", bad)


def test_the_default_cost_is_memory_hard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    assert kdf.N == 2 ** 14 and 128 * kdf.R * kdf.N == 16 * 1024 * 1024  # 16 MiB a hash
    assert kdf.verify_password("sesame-1", kdf.hash_password("sesame-1"))


@pytest.mark.parametrize(("password", "why"), [
    ("abc", "password too short: at least 6 characters"),
    ("x" * 1025, "password too long: at most 1024 bytes"),
    ("é" * 513, "password too long: at most 1024 bytes"),
    ("two words", "password must be one word of printable characters"),
    ("tab\there", "password must be one word of printable characters"),
])
def test_unusable_passwords_are_refused_before_hashing(password: str, why: str) -> None:
    assert kdf.check_password_form(password) == why


# -- the store ------------------------------------------------------------------------


def test_the_accounts_migration_is_appended_and_its_tables_exist(backend) -> None:
    connection = memory_connection(backend)
    assert schema_version(connection) == len(MIGRATIONS)
    for table in ("account", "offline_message", "room_message"):  # each there, and empty
        assert connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,)


def test_one_account_per_name_whatever_its_case(backend) -> None:
    connection = memory_connection(backend)
    assert store.create(connection, "Alice", "h1", NOW)
    assert not store.create(connection, "alice", "h2", NOW)
    account = store.get(connection, "ALICE")
    assert account is not None and (account.name, account.password) == ("Alice", "h1")
    assert store.get(connection, "bob") is None


def test_sql_metacharacters_are_data(backend) -> None:
    connection = memory_connection(backend)
    nasty = "x'); DROP TABLE account; --"
    assert store.create(connection, "bob", nasty, NOW)
    message = PrivateMessage("alice", "bob", nasty + " \" ; DELETE FROM offline_message",
                             stamp=(NOW, 7))
    store.hold(connection, "bob", message)
    assert store.get(connection, "bob").password == nasty  # type: ignore[union-attr]
    assert store.get(connection, "x' OR '1'='1") is None
    [held] = store.take(connection, "bob")
    assert held.text == message.text


def test_messages_are_taken_in_order_and_once(backend) -> None:
    connection = memory_connection(backend)
    store.create(connection, "bob", "h", NOW)
    for serial in range(1, 4):
        store.hold(connection, "Bob", PrivateMessage("alice", "bob", f"m{serial}",
                                                     stamp=(NOW + serial, serial)))
    assert store.load(connection)["bob"].waiting == 3
    taken = store.take(connection, "bob")
    assert [(m.text, m.time, m.serial) for m in taken] == [
        ("m1", NOW + 1, 1), ("m2", NOW + 2, 2), ("m3", NOW + 3, 3)]
    assert store.take(connection, "bob") == []
    assert store.load(connection)["bob"].waiting == 0


def test_deleting_an_account_deletes_its_waiting_messages(backend) -> None:
    connection = memory_connection(backend)
    store.create(connection, "bob", "h", NOW)
    store.hold(connection, "bob", PrivateMessage("alice", "bob", "hi", stamp=(NOW, 1)))
    assert store.delete(connection, "BOB")
    assert store.get(connection, "bob") is None
    assert connection.execute("SELECT COUNT(*) FROM offline_message").fetchone() == (0,)
    assert not store.delete(connection, "bob")


# -- the admin command ---------------------------------------------------------------


def admin(tmp_path: Any, *arguments: str) -> int:
    """Run C{chatsvc-admin --data-dir tmp_path ARGUMENTS}: its exit status."""
    from chatsvc.admin import main

    try:
        main(["--data-dir", str(tmp_path), *arguments])
    except SystemExit as exit:
        return int(exit.code or 0)
    return 0


def test_the_admin_command_flags_lists_and_deletes(tmp_path: Any,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from chatsvc.store.sqlite import open_database, prepare_directory

    connection = open_database(prepare_directory(str(tmp_path)))
    store.create(connection, "alice", "h", NOW)
    connection.close()
    assert admin(tmp_path, "account", "oper", "ALICE", "on") == 0
    assert admin(tmp_path, "account", "list") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "alice\toper\t2023-11-14 22:13 UTC"
    assert admin(tmp_path, "account", "delete", "bob") == 1
    assert capsys.readouterr().err == "chatsvc-admin: no such account: bob\n"
    assert admin(tmp_path, "account", "delete", "alice") == 0
    assert capsys.readouterr().out == "delete alice: done\n"
    admin(tmp_path, "account", "list")
    assert capsys.readouterr().out == ""
    assert admin(tmp_path, "account", "oper", "alice", "maybe") == 2


def test_the_admin_command_refuses_a_bad_data_dir_in_one_line(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("not a directory")
    assert admin(tmp_path / "file", "account", "list") == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_the_admin_command_never_writes_to_a_schema_it_would_have_to_migrate(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Only the server migrates: an account command on an older schema is
    refused in one line, and the file keeps its version."""
    import sqlite3

    from chatsvc.store.sqlite import DATABASE, SCHEMA_VERSION, open_database, prepare_directory

    open_database(prepare_directory(str(tmp_path))).close()
    path = str(tmp_path / DATABASE)
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION - 1}")
    assert admin(tmp_path, "account", "delete", "alice") == 1
    assert "start the server of this chatsvc once" in capsys.readouterr().err
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION - 1,)
