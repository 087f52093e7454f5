"""A million-row history (issue 18): replay, /history and pruning read only
what they show or delete, whatever the size of the file.

One tmp SQLite file of 1,000,000 messages (filled with executemany, a few
seconds) shared by the module.  Work is measured in SQLite virtual-machine
steps (a progress handler), which count rows visited and do not depend on
the machine's speed, and memory with tracemalloc.  Marked integration: the
fill is too slow for the fast half of the suite.
"""

from __future__ import annotations

import sqlite3
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from test_history import NOW, History, result_of
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock

from chatsvc.store import sqlite as store_sqlite
from chatsvc.store.delivery import MAX_REPLAY
from chatsvc.store.sqlite import HistoryStore, open_database, prepare_directory

pytestmark = pytest.mark.integration

ROWS = 1_000_000
ROOMS = 100  # "#r0" ... "#r99"; "#r7" has 10,000 messages


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path = prepare_directory(str(tmp_path_factory.mktemp("million")))
    connection = open_database(path)
    rows = ((f"{i:024x}", f"#r{i % ROOMS}", f"#r{i % ROOMS}", NOW - ROWS + i, f"user{i % 37}",
             f"message number {i}", 0, 0, None) for i in range(ROWS))
    connection.execute("BEGIN")
    connection.executemany(store_sqlite._INSERT, rows)
    connection.execute("COMMIT")
    yield connection
    connection.close()


def steps(connection: sqlite3.Connection, work: Any) -> tuple[Any, int]:
    """C{work()}'s result and the SQLite VM steps it took (in hundreds)."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    connection.set_progress_handler(tick, 100)
    try:
        result = work()
    finally:
        connection.set_progress_handler(None, 100)
    return result, count[0]


def store_on(connection: sqlite3.Connection) -> HistoryStore:
    return HistoryStore(connection, Clock(), run=lambda f, *a: maybeDeferred(f, *a))


def test_the_fill_is_a_million_rows(big: sqlite3.Connection) -> None:
    assert big.execute("SELECT COUNT(*) FROM room_message").fetchone() == (ROWS,)


def test_the_replay_query_walks_the_index_backwards_and_sorts_nothing(
        big: sqlite3.Connection) -> None:
    plan = [row[-1] for row in big.execute("EXPLAIN QUERY PLAN " + store_sqlite._LATEST,
                                           ("#r7", None, 50))]
    assert any("USING INDEX room_message_by_room (room_key=?)" in line for line in plan), plan
    assert not any("TEMP B-TREE" in line or line.startswith("SCAN") for line in plan), plan


def test_a_replay_reads_only_the_rows_it_shows(big: sqlite3.Connection) -> None:
    store = store_on(big)
    messages, fifty = steps(big, lambda: result_of(store.latest("#r7", 50)))
    assert messages[0].text == f"message number {ROWS - 93 - 49 * ROOMS}"
    assert len(messages) == 50 and messages[-1].text == f"message number {ROWS - 93}"
    _, most = steps(big, lambda: result_of(store.latest("#r7", MAX_REPLAY)))
    # Work grows with the rows shown (about 10x for 10x the rows), not with
    # the million in the file: a scan would be thousands of times more.
    assert fifty < 200 and most < 10 * fifty + 50, (fifty, most)


def test_a_replay_of_the_most_holds_little_memory(big: sqlite3.Connection) -> None:
    store = store_on(big)
    result_of(store.latest("#r3", MAX_REPLAY))  # warm the page cache first
    tracemalloc.start()
    try:
        messages = result_of(store.latest("#r3", MAX_REPLAY))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(messages) == MAX_REPLAY
    assert peak < 1_000_000, peak  # 500 rows: a few hundred KB, not the file


def test_history_on_the_line_protocol_over_a_million_rows(big: sqlite3.Connection) -> None:
    history = History()
    history.store.connection = big
    alice = history.user("alice")
    alice.send("/join #r7")
    history.settle()
    lines = alice.read()
    start = lines.index("* history of #r7 (50)")
    assert lines[start + 51] == "* end of history"
    (_, work) = steps(big, lambda: (alice.send(f"/history {MAX_REPLAY}"), history.settle()))
    shown = alice.read()
    assert shown[0] == f"* history of #r7 ({MAX_REPLAY})" and len(shown) == MAX_REPLAY + 2
    assert work < 2000, work


def test_pruning_reads_what_it_deletes_not_the_file(big: sqlite3.Connection) -> None:
    store = store_on(big)
    rooms, seek = steps(big, lambda: result_of(store.room_keys()))
    assert len(rooms) == ROOMS and seek < 200, seek  # index seeks, not a million rows
    nothing, idle = steps(big, lambda: result_of(store.delete_older(0.0, 1000)))
    assert nothing == 0 and idle < 200, idle
    # Finding where a room's limit falls walks that room's index entries up
    # to the limit (#r7 has 10,000, under 20,000): the room's size, never the file's.
    kept, under = steps(big, lambda: result_of(store.delete_beyond("#r7", 20_000, 1000)))
    assert kept == 0 and under < 1000, under
