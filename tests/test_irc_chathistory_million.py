"""CHATHISTORY over a million-row history (issues 15 and 18): every window
and TARGETS read only what they answer, whatever the size of the file.

As tests/test_history_million.py: one tmp SQLite file (1,000,000 room
messages over 100 rooms, 200,000 private ones over 1,000 conversations, 100
of them alice's), work measured in SQLite virtual-machine steps (which
count rows visited, not the machine's speed) and memory with tracemalloc.
Marked integration: the fill is too slow for the fast half of the suite.
"""

from __future__ import annotations

import sqlite3
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from test_history import NOW, result_of
from test_history_million import steps, store_on

from chatsvc.events import event_id
from chatsvc.store import sqlite as store_sqlite
from chatsvc.store.chathistory import AFTER, AROUND, BEFORE, BETWEEN, LATEST, Reference, Window
from chatsvc.store.sqlite import conversation, open_database, prepare_directory

pytestmark = pytest.mark.integration

ROWS = 1_000_000
ROOMS = 100  # "#r0" ... "#r99": 10,000 messages each
PRIVATE = 200_000
PAIRS = 1_000  # ("alice", "u0") ... ("alice", "u99"), then ("v0", "w0")...
START = NOW - ROWS


def room_id(index: int) -> str:
    return event_id((START + index, index + 1))


def pair(index: int) -> tuple[str, str]:
    number = index % PAIRS
    return conversation("alice", f"u{number}") if number < 100 else (f"v{number}", f"w{number}")


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path = prepare_directory(str(tmp_path_factory.mktemp("chathistory-million")))
    connection = open_database(path)
    rooms = ((room_id(i), f"#r{i % ROOMS}", f"#r{i % ROOMS}", START + i, f"user{i % 37}",
              f"message number {i}", 0, 0, None, "message", None, f"user{i % 37}!~u@h", None)
             for i in range(ROWS))
    private = ((event_id((START + i + 0.5, ROWS + i + 1)), *pair(i), pair(i)[i % 2],
                START + i + 0.5, pair(i)[i % 2], pair(i)[1 - i % 2], f"private {i}", 0, 0,
                None, None) for i in range(PRIVATE))
    connection.execute("BEGIN")
    connection.executemany(store_sqlite._INSERT_ROW, rooms)
    connection.executemany(store_sqlite._INSERT_PRIVATE, private)
    connection.execute("COMMIT")
    yield connection
    connection.close()


def in_r7(n: int) -> int:
    """The index of #r7's n-th message (of 10,000)."""
    return 7 + n * ROOMS


def window(big: sqlite3.Connection, kind: str, first: Reference | None, limit: int,
           second: Reference | None = None, cutoff: float | None = None) -> tuple[Any, int]:
    store = store_on(big)
    return steps(big, lambda: result_of(
        store.room_window("#r7", None, Window(kind, first, limit, second), cutoff)))


MIDDLE = Reference(msgid=room_id(in_r7(5_000)))
AT = Reference(millis=int((START + in_r7(5_000)) * 1000))


@pytest.mark.parametrize(("kind", "first", "second", "shown"), [
    (LATEST, None, None, range(9_900, 10_000)),
    (LATEST, MIDDLE, None, range(9_900, 10_000)),
    (BEFORE, MIDDLE, None, range(4_900, 5_000)),
    (BEFORE, AT, None, range(4_900, 5_000)),
    (AFTER, MIDDLE, None, range(5_001, 5_101)),
    (AFTER, AT, None, range(5_001, 5_101)),
    (AROUND, MIDDLE, None, range(4_951, 5_051)),
    (BETWEEN, Reference(msgid=room_id(in_r7(100))), AT, range(101, 201)),
    (BETWEEN, AT, Reference(msgid=room_id(in_r7(100))), range(4_900, 5_000)),
])
def test_each_window_reads_the_rows_it_answers(big: sqlite3.Connection, kind: str,
                                               first: Reference | None,
                                               second: Reference | None,
                                               shown: range) -> None:
    messages, work = window(big, kind, first, 100, second)
    assert [m.text for m in messages] == [f"message number {in_r7(n)}" for n in shown]
    # One answer of 100 rows: about 20 hundred-steps here (a replay of 100
    # costs the same); a walk of the room's 10,000 would be hundreds, of the
    # file's million tens of thousands.
    assert work < 100, work


def test_max_age_is_a_seek_too(big: sqlite3.Connection) -> None:
    cutoff = START + in_r7(9_000)
    messages, work = window(big, AFTER, Reference(msgid=room_id(in_r7(10))), 100,
                            cutoff=cutoff)
    assert messages[0].text == f"message number {in_r7(9_000)}" and len(messages) == 100
    assert work < 100, work


def test_the_largest_answer_holds_little_memory(big: sqlite3.Connection) -> None:
    window(big, BEFORE, MIDDLE, 100)  # warm the page cache first
    tracemalloc.start()
    try:
        messages, _ = window(big, BEFORE, MIDDLE, 100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(messages) == 100
    assert peak < 500_000, peak


def test_a_private_window_reads_the_rows_it_answers(big: sqlite3.Connection) -> None:
    store = store_on(big)
    low, high = pair(5)
    messages, work = steps(big, lambda: result_of(
        store.private_window(low, high, Window(LATEST, None, 100))))
    assert len(messages) == 100 and messages[-1].text == f"private {PRIVATE - PAIRS + 5}"
    assert work < 100, work


def test_targets_costs_the_conversations_not_their_messages(big: sqlite3.Connection) -> None:
    store = store_on(big)
    rooms = [(f"#r{n}", None) for n in range(50)]  # as many as --max-rooms lets one join
    found, work = steps(big, lambda: result_of(
        store.targets(rooms, "alice", 0.0, NOW + 1, 1000)))
    # alice's 100 conversations (200 messages each) and the 50 rooms
    assert len(found) == 150
    assert {name for name, _ in found} >= {"u0", "u99", "#r0", "#r49"}
    assert work < 300, work  # about 80 here: 150 conversations, a few seeks each
