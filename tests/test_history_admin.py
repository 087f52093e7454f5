"""chatsvc-admin (issue 18): history export, history stats and backup, run
as the installed command in a subprocess, against data directories made by
the store itself, with the server's writer holding a transaction open."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from chatsvc import admin
from chatsvc.service import tap
from chatsvc.store.sqlite import _INSERT, SCHEMA_VERSION, open_database, prepare_directory

pytestmark = pytest.mark.integration

COMMAND = Path(sys.executable).parent / "chatsvc-admin"
HOSTILE = ["'); DROP TABLE room_message; --", 'quote " and \\ backslash', "line\nbreak\r\x00",
           "ünïcødé 🎉", "x" * (100 * 1024)]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert COMMAND.exists(), f"{COMMAND} is missing: pip install the checkout again"
    return subprocess.run([str(COMMAND), *args], capture_output=True, text=True,
                          encoding="utf-8", timeout=60, cwd=cwd)


def fill(directory: Path) -> sqlite3.Connection:
    """A data directory as the server leaves it: #Rust (hostile text, an
    action), #go, and a message said while #Rust was closed."""
    connection = open_database(prepare_directory(str(directory)))
    rows = [(f"{i:024x}", "#rust", "#Rust", 1_700_000_000 + i, "alice", text, i == 1, 0, None)
            for i, text in enumerate(HOSTILE)]
    rows.append((f"{99:024x}", "#go", "#go", 1_700_000_100.5, "bob", "gophers", 0, 1, None))
    rows.append((f"{100:024x}", "#rust", "#Rust", 1_700_000_200, "carol", "shh", 0, 0, 5.0))
    connection.execute("BEGIN")
    connection.executemany(_INSERT, rows)
    connection.execute("COMMIT")
    return connection


def test_export_is_a_rooms_messages_as_json_lines(tmp_path: Path) -> None:
    fill(tmp_path / "data").close()
    done = run("--data-dir", str(tmp_path / "data"), "history", "export", "#RUST")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["text"] for line in lines] == [*HOSTILE, "shh"]
    assert lines[0] == {"id": f"{0:024x}", "time": "2023-11-14T22:13:20.000Z", "room": "#Rust",
                        "sender": "alice", "text": HOSTILE[0], "action": False,
                        "notice": False}
    assert lines[1]["action"] is True
    assert len(done.stdout.splitlines()) == len(lines)  # text's line breaks stay escaped


def test_export_of_a_room_with_nothing_is_empty(tmp_path: Path) -> None:
    fill(tmp_path).close()
    done = run("-d", str(tmp_path), "history", "export", "#nowhere")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_stats_counts_rooms_and_messages(tmp_path: Path) -> None:
    fill(tmp_path).close()
    done = run("--data-dir", str(tmp_path), "history", "stats")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'history.sqlite3'}: schema {SCHEMA_VERSION}, ")
    assert lines[1] == "7 messages in 2 rooms"
    assert lines[2] == "oldest 2023-11-14T22:13:20.000Z, newest 2023-11-14T22:16:40.000Z"
    assert lines[3].split()[:2] == ["#Rust", "6"] and lines[4].split()[:2] == ["#go", "1"]


def test_the_default_data_dir_is_the_servers(tmp_path: Path) -> None:
    assert admin.DEFAULT_DATA_DIR == tap.DEFAULT_DATA_DIR
    fill(tmp_path / "chatsvc-data").close()
    done = run("history", "stats", cwd=tmp_path)
    assert done.returncode == 0 and "7 messages in 2 rooms" in done.stdout, done.stderr


def test_backup_is_a_consistent_self_contained_copy(tmp_path: Path) -> None:
    writer = fill(tmp_path / "data")
    # The server is mid-transaction: the backup and the reads neither wait
    # for it nor see its uncommitted message (WAL).
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(_INSERT, ("f" * 24, "#rust", "#Rust", 1e9, "dave", "uncommitted", 0, 0, None))
    try:
        copy = tmp_path / "backup.sqlite3"
        done = run("--data-dir", str(tmp_path / "data"), "backup", str(copy))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"backed up 7 messages to {copy} (")
        exported = run("-d", str(tmp_path / "data"), "history", "export", "#rust")
        assert exported.returncode == 0 and "uncommitted" not in exported.stdout
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert not (tmp_path / "backup.sqlite3-wal").exists()
    restored = sqlite3.connect(copy)
    assert restored.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert restored.execute("SELECT COUNT(*) FROM room_message").fetchone() == (7,)
    assert restored.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    restored.close()
    # The copy is a data directory's file again: the server opens it.
    (tmp_path / "restored").mkdir()
    copy.rename(tmp_path / "restored" / "history.sqlite3")
    open_database(str(tmp_path / "restored" / "history.sqlite3")).close()


def test_backup_never_overwrites(tmp_path: Path) -> None:
    fill(tmp_path / "data").close()
    (tmp_path / "taken").write_text("precious")
    done = run("-d", str(tmp_path / "data"), "backup", str(tmp_path / "taken"))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"chatsvc-admin: {tmp_path / 'taken'}: "
                           "exists already (not overwriting it)\n")
    assert (tmp_path / "taken").read_text() == "precious"


@pytest.mark.parametrize(("setup", "says"), [
    ("missing", "no such directory"),
    ("file", "not a directory"),
    ("empty", "no history.sqlite3 in it"),
    ("corrupt", "file is not a database"),
    ("newer", "is newer than this chatsvc-admin's"),
    ("blank", "not a chatsvc history (no schema)"),
])
def test_a_bad_data_dir_is_one_line_and_exit_1(tmp_path: Path, setup: str, says: str) -> None:
    data = tmp_path / "data"
    if setup == "file":
        data.write_text("x")
    elif setup != "missing":
        data.mkdir()
    if setup == "corrupt":
        (data / "history.sqlite3").write_bytes(b"garbage" * 1000)
    elif setup in ("newer", "blank"):
        connection = sqlite3.connect(data / "history.sqlite3")
        connection.execute("CREATE TABLE t (x)")
        if setup == "newer":
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
        connection.commit()
        connection.close()
    for args in (["history", "stats"], ["history", "export", "#rust"],
                 ["backup", str(tmp_path / "copy")]):
        done = run("--data-dir", str(data), *args)
        assert done.returncode == 1, (args, done)
        assert done.stderr.startswith("chatsvc-admin: ") and says in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "copy").exists()


@pytest.mark.parametrize("args", [[], ["history"], ["history", "export"], ["bogus"],
                                  ["backup"]])
def test_a_bad_command_line_is_one_line_and_exit_2(args: list[str]) -> None:
    done = run(*args)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done
    assert done.stderr.startswith("chatsvc-admin: ")


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("chatsvc ")
