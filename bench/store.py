"""The store on SQLite and on PostgreSQL: batch writes and replays, side by side.

What the store's one worker thread spends (wall time: PostgreSQL's work is in
its own process), on a history of ``--rows`` messages (default 1,000,000, in
100 rooms) in a temporary SQLite file and, with ``--store URL``, in that
PostgreSQL database (which must be empty: its tables are made and filled
here, then dropped)::

    python -m bench.store
    python -m bench.store --store postgresql://chat@127.0.0.1/bench

For each: the median and worst of 30 replays of 50 and of 500 messages of
one room, and the median time to write a batch of 1, 30 and 500 messages
(one transaction each, as L{HistoryStore} writes them).  The fan-out does
not depend on the backend: recording is an append to the pending batch.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock

from chatsvc.events import RoomMessage
from chatsvc.store import sqlite as store_sqlite
from chatsvc.store.sqlite import (
    WRITE_DELAY,
    HistoryStore,
    open_database,
    open_postgres,
    prepare_directory,
)

NOW = 1_700_000_000.0
ROOMS = 100


def _result(deferred: Any) -> Any:
    got: list[Any] = []
    deferred.addBoth(got.append)
    return got[0]


def _fill(connection: Any, rows: int) -> float:
    started = time.perf_counter()
    values = ((f"{i:024x}", f"#r{i % ROOMS}", f"#r{i % ROOMS}", NOW - rows + i, f"user{i % 37}",
               f"message number {i}", 0, 0) for i in range(rows))
    raw = getattr(connection, "raw", None)
    if raw is not None:  # PostgreSQL: COPY, then the statistics the planner needs
        with raw.cursor() as cursor, cursor.copy(
                "COPY room_message (id, room_key, room, time, sender, text, action, notice) "
                "FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        raw.execute("ANALYZE room_message")
    else:
        connection.execute("BEGIN")
        connection.executemany(store_sqlite._INSERT, (row + (None,) for row in values))
        connection.execute("COMMIT")
    return time.perf_counter() - started


def measure(name: str, connection: Any, rows: int) -> None:
    print(f"{name}: {rows} rows filled in {_fill(connection, rows):.1f} s")
    clock = Clock()
    store = HistoryStore(connection, clock, run=lambda f, *a: maybeDeferred(f, *a))
    for count in (50, 500):
        _result(store.latest("#r7", count))  # the cache warm, as on a live server
        times = []
        for _ in range(30):
            started = time.perf_counter()
            _result(store.latest("#r7", count))
            times.append(time.perf_counter() - started)
        print(f"  replay of {count:3}: median {statistics.median(times) * 1e3:6.2f} ms, "
              f"worst {max(times) * 1e3:6.2f} ms")
    for per_batch in (1, 30, 500):
        times = []
        for round in range(30):
            batch = [RoomMessage("#r7", "bench", f"live {round} {k}", stamp=(NOW + round, k + 1))
                     for k in range(per_batch)]
            started = time.perf_counter()
            for event in batch:  # as the hub records them; the batch is written
                store.record(event)  # at BATCH_LIMIT, or when the write delay is up
            clock.advance(WRITE_DELAY)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        print(f"  batch of {per_batch:3}:   median {median * 1e3:6.2f} ms "
              f"({median / per_batch * 1e6:.0f} us a message)")


def _drop(connection: Any) -> None:
    """Leave the database as empty as it was given: every table made here."""
    tables = [name for (name,) in connection.raw.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema()")]
    for table in tables:
        connection.raw.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--store", help="an empty PostgreSQL database's URL")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        connection = open_database(prepare_directory(directory))
        measure("SQLite", connection, options.rows)
        connection.close()
    if options.store:
        connection = open_postgres(options.store)
        try:
            measure("PostgreSQL", connection, options.rows)
        finally:
            _drop(connection)
            connection.close()


if __name__ == "__main__":
    main()
