"""``chatsvc-admin account create`` (issues 15 and 18): an account made
beside the server, by the server's rules, with its password never on the
command line."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from chatsvc import admin
from chatsvc.accounts import kdf, store
from chatsvc.store.sqlite import DATABASE, SCHEMA_VERSION, open_database, prepare_directory

PASSWORD = "x');DROP/**/TABLE/**/account;--"  # one word: a usable password, and SQL-shaped


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory as the server leaves it, with one account, alice."""
    connection = open_database(prepare_directory(str(tmp_path)))
    store.create(connection, "alice", kdf.hash_password("alice-password"), 1_700_000_000.0)
    connection.close()
    return tmp_path


def run(data: Path, *arguments: str) -> int:
    """C{chatsvc-admin --data-dir data ARGUMENTS}: its exit status."""
    try:
        admin.main(["--data-dir", str(data), *arguments])
    except SystemExit as exit:
        return int(exit.code or 0)
    return 0


def stored(data: Path, name: str) -> store.Account | None:
    connection = sqlite3.connect(data / DATABASE)
    try:
        return store.get(connection, name)
    finally:
        connection.close()


class Terminal(io.StringIO):
    """Standard input that is a terminal (nothing is read from it: getpass is)."""

    def isatty(self) -> bool:
        return True


def test_create_from_a_password_file_hashes_it_as_the_server_does(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "secret").write_text(PASSWORD + "\n")
    assert run(data, "account", "create", "--password-file", str(data / "secret"), "Bob") == 0
    assert capsys.readouterr().out == "create Bob: done\n"
    account = stored(data, "bob")
    assert account is not None and account.name == "Bob" and not account.oper
    assert PASSWORD not in account.password  # a hash, checked as a login checks it
    assert kdf.verify_password(PASSWORD, account.password)
    assert not kdf.verify_password(PASSWORD + "\n", account.password)
    assert run(data, "account", "list") == 0
    assert [line.split("\t")[:2] for line in capsys.readouterr().out.splitlines()] == [
        ["alice", "-"], ["Bob", "-"]]


def test_create_reads_standard_input_for_scripts(data: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\nignored\n"))
    assert run(data, "account", "create", "--oper", "--password-file", "-", "carol") == 0
    account = stored(data, "carol")
    assert account is not None and account.oper
    assert kdf.verify_password(PASSWORD, account.password)


def test_create_asks_twice_on_the_terminal(data: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    answers = iter([PASSWORD, PASSWORD, "first-one", "second-one"])
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(admin.getpass, "getpass", ask)
    monkeypatch.setattr("sys.stdin", Terminal())
    assert run(data, "account", "create", "dave") == 0
    assert prompts == ["Password: ", "Again: "]
    assert kdf.verify_password(PASSWORD, stored(data, "dave").password)  # type: ignore[union-attr]
    capsys.readouterr()
    assert run(data, "account", "create", "erin") == 1
    assert capsys.readouterr().err == "chatsvc-admin: the two passwords differ\n"
    assert stored(data, "erin") is None


def test_without_a_terminal_or_a_file_it_says_how_and_asks_nothing(
        data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(admin.getpass, "getpass", pytest.fail)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert run(data, "account", "create", "frank") == 1
    assert capsys.readouterr().err == (
        "chatsvc-admin: no terminal to ask for the password on: give --password-file FILE, "
        "or --password-file - to read it from standard input\n")
    assert stored(data, "frank") is None


def test_the_password_is_never_an_argument(data: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """ps shows every process's argv to every user: there is no option for it."""
    assert run(data, "account", "create", "frank", PASSWORD) == 2
    assert run(data, "account", "create", "--password", PASSWORD, "frank") == 2
    assert PASSWORD not in capsys.readouterr().err
    assert stored(data, "frank") is None


def test_an_existing_name_in_any_case_is_refused_before_the_password_is_asked(
        data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(admin.getpass, "getpass", pytest.fail)
    monkeypatch.setattr("sys.stdin", Terminal())
    before = stored(data, "alice")
    assert run(data, "account", "create", "ALICE") == 1
    assert capsys.readouterr().err == "chatsvc-admin: account alice exists already\n"
    assert stored(data, "alice") == before


@pytest.mark.parametrize(("name", "why"), [
    ("9lives", "must not start with a digit"),
    ("NickServ", "reserved for network services"),
    ("bad name", "not allowed"),
    ("x" * 33, "longer than 32 characters"),
    ("#room", "not allowed"),
])
def test_a_name_the_hub_refuses_is_refused(data: Path, name: str, why: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (data / "secret").write_text(PASSWORD)
    assert run(data, "account", "create", "--password-file", str(data / "secret"), name) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"chatsvc-admin: {name!r} cannot be an account: ") and why in error
    assert error.count("\n") == 1
    assert stored(data, name) is None


@pytest.mark.parametrize(("password", "why"), [
    ("short", "password too short"),
    ("two words", "one word"),
    ("é" * 513, "password too long"),  # 1026 bytes: over MAX_PASSWORD_BYTES
    ("", "password too short"),
])
def test_an_unusable_password_is_refused(data: Path, password: str, why: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (data / "secret").write_text(password + "\n", encoding="utf-8")
    assert run(data, "account", "create", "--password-file", str(data / "secret"), "gina") == 1
    assert why in capsys.readouterr().err
    assert stored(data, "gina") is None


def test_a_missing_password_file_is_one_line(data: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run(data, "account", "create", "--password-file", str(data / "nope"), "gina") == 1
    assert capsys.readouterr().err == (
        f"chatsvc-admin: --password-file: {data / 'nope'}: No such file or directory\n")


def test_an_older_schema_is_refused_and_left_as_it_is(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only the server migrates: create, like the other writing commands, refuses."""
    path = data / DATABASE
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION - 1}")
    (data / "secret").write_text(PASSWORD)
    assert run(data, "account", "create", "--password-file", str(data / "secret"), "gina") == 1
    assert "start the server of this chatsvc once" in capsys.readouterr().err
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION - 1,)
        assert connection.execute("SELECT COUNT(*) FROM account").fetchone() == (1,)


def test_a_newer_schema_or_no_data_dir_is_refused(
        tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "secret").write_text(PASSWORD)
    assert run(tmp_path / "missing", "account", "create",
               "--password-file", str(tmp_path / "secret"), "gina") == 1
    assert "no such directory" in capsys.readouterr().err
    with sqlite3.connect(data / DATABASE) as connection:
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    assert run(data, "account", "create", "--password-file", str(tmp_path / "secret"),
               "gina") == 1
    assert "is newer than this chatsvc-admin's" in capsys.readouterr().err


def test_an_account_created_beside_a_running_server_logs_in_at_once() -> None:
    """The server reads accounts from the database at each login: the new
    one logs in without a restart (its name is reserved from the next one,
    the server keeping the registered names in memory: docs/operator/accounts.rst)."""
    from test_accounts import Server

    server = Server()
    admin.create_account(server.connection, "nina", PASSWORD)
    user = server.user()
    assert server.ask(user, "/account nina") == ["! no such account: nina"]  # not yet
    assert "* logged in as nina" in server.ask(user, f"/login nina {PASSWORD}")
    assert user.protocol.record.account == "nina"


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("tmux") is None,
                    reason="tmux is not installed (.ci/run installs it)")
def test_on_a_real_terminal_the_password_is_asked_twice_and_never_shown(data: Path) -> None:
    """The installed command in tmux, typed into as an operator would: both
    prompts, nothing of the password on the screen, the account made."""
    from test_irc_clients import Tmux, wait_for

    command = Path(sys.executable).with_name("chatsvc-admin")
    terminal = Tmux(["sh", "-c", f"{command} --data-dir {data} account create oscar; "
                     "echo exit status $?; sleep 60"], {**os.environ, "TERM": "screen"})
    try:
        wait_for(lambda: terminal.shows("Password:"), "the first prompt")
        terminal.keys(PASSWORD)
        wait_for(lambda: terminal.shows("Again:"), "the second prompt")
        terminal.keys(PASSWORD)
        wait_for(lambda: terminal.shows("exit status"), "chatsvc-admin to finish", timeout=60)
        screen = terminal.screen()
        assert "create oscar: done" in screen and "exit status 0" in screen, screen
        assert PASSWORD not in screen, screen
    finally:
        terminal.kill()
    account = stored(data, "oscar")
    assert account is not None and kdf.verify_password(PASSWORD, account.password)
