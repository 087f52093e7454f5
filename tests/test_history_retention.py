"""History retention (issue 18): --history-max-age and --history-max-rows,
enforced in the background by L{Pruner} in bounded batches, on a tmp SQLite
file with the store's thread run by hand and time on a task.Clock."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from test_history import NOW, Worker, message, parse, result_of
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock

from chatsvc.service import tap
from chatsvc.store.delivery import history_of
from chatsvc.store.retention import (
    PRUNE_INTERVAL,
    Pruner,
    Retention,
    describe_age,
    parse_age,
)
from chatsvc.store.sqlite import WRITE_DELAY, HistoryStore, open_database, prepare_directory

DAY = 86400.0


class StepWorker(Worker):
    """L{Worker} that can also run one queued call at a time."""

    def step(self) -> str:
        function, args, done = self.queue.pop(0)
        maybeDeferred(function, *args).chainDeferred(done)
        return getattr(function, "__name__", "?")


def file_store(tmp_path: Any, clock: Clock, run: Callable[..., Deferred[Any]] | None = None,
               backend: Any = None) -> HistoryStore:
    """A store in C{tmp_path}, or on C{backend}'s database (conftest's fixture)
    if it is PostgreSQL."""
    if backend is not None and backend.postgres:
        connection = backend.connect()
    else:
        connection = open_database(prepare_directory(str(tmp_path)))
    return HistoryStore(connection, clock, run=run or (lambda f, *a: maybeDeferred(f, *a)))


def fill(store: HistoryStore, clock: Clock, room: str, times: list[float],
         start: int = 1) -> None:
    for serial, at in enumerate(times, start):
        store.record(message(room, "alice", f"{room} {serial}", at=at, serial=serial))
    clock.advance(WRITE_DELAY)


def texts(store: HistoryStore, room: str, count: int = 1000) -> list[str]:
    return [m.text for m in result_of(store.latest(room, count))]


def rows(store: HistoryStore) -> int:
    return int(store.connection.execute("SELECT COUNT(*) FROM room_message").fetchone()[0])


# -- the option's values -----------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("30d", 30 * DAY), ("12h", 43200.0), ("90min", 5400.0), ("90m", 5400.0),
    ("3600s", 3600.0), ("2w", 14 * DAY), ("1.5h", 5400.0), (" 7D ", 7 * DAY),
    ("0", None), ("none", None), ("forever", None), ("0d", None),
])
def test_ages_take_a_unit(text: str, seconds: float | None) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["30", "-1d", "30 days", "d", "1y", "1e3s", "30d;DROP"])
def test_an_age_without_a_known_unit_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="a number and a unit"):
        parse_age(text)


def test_what_users_are_told() -> None:
    assert describe_age(30 * DAY) == "30 days"
    assert describe_age(DAY) == "1 day"
    assert describe_age(14 * DAY) == "14 days"
    assert describe_age(43200) == "12 hours"
    assert describe_age(5400) == "90 minutes"
    assert describe_age(61) == "61 seconds"
    assert Retention(30 * DAY).describe("#rust") == "#rust keeps history for 30 days"
    assert Retention(None, 500).describe("#rust") == "#rust keeps its last 500 messages"
    assert Retention(DAY, 10).describe("#a") == (
        "#a keeps history for 1 day, at most its last 10 messages")
    assert Retention().describe("#rust") == "#rust keeps history"


def test_the_options_reach_the_history(tmp_path) -> None:
    options = parse("--data-dir", str(tmp_path), "--history-max-age", "30d",
                    "--history-max-rows", "1000")
    root = tap.makeService(options)
    history = history_of(root.hub.delivery)  # type: ignore[attr-defined]
    assert history is not None
    assert history.retention == Retention(30 * DAY, 1000)
    history.store.connection.close()


def test_by_default_history_is_kept_forever() -> None:
    assert parse("--data-dir", "none")["retention"] == Retention()
    assert Retention().forever


@pytest.mark.parametrize(("option", "value"), [
    ("--history-max-age", "30"), ("--history-max-age", "soon"),
    ("--history-max-rows", "-5"), ("--history-max-rows", "many"),
])
def test_a_bad_retention_is_one_line(option: str, value: str) -> None:
    with pytest.raises(tap.StartupFailure) as caught:
        parse("--data-dir", "none", option, value)
    text = str(caught.value.code)
    assert option in text and "\n" not in text


# -- pruning -------------------------------------------------------------------------


def test_messages_older_than_the_age_go_at_start_and_then_every_interval(
        tmp_path, backend) -> None:
    clock = Clock()
    clock.advance(NOW)
    store = file_store(tmp_path, clock, backend=backend)
    fill(store, clock, "#rust", [NOW - 40 * DAY, NOW - 31 * DAY, NOW - 29 * DAY, NOW - DAY])
    pruner = Pruner(store, Retention(30 * DAY), clock)
    pruner.start()
    assert texts(store, "#rust") == ["#rust 3", "#rust 4"]
    assert pruner.deleted == 2
    clock.advance(DAY - PRUNE_INTERVAL)  # "#rust 3" is 30 days old minus a minute
    assert texts(store, "#rust") == ["#rust 3", "#rust 4"]
    clock.advance(2 * PRUNE_INTERVAL)
    assert texts(store, "#rust") == ["#rust 4"]
    pruner.stop()
    assert clock.getDelayedCalls() == []


def test_each_room_keeps_its_last_rows(tmp_path, backend) -> None:
    clock = Clock()
    clock.advance(NOW)
    store = file_store(tmp_path, clock, backend=backend)
    for room, count in (("#big", 23), ("#Small", 3), ("#exact", 5)):
        fill(store, clock, room, [NOW] * count)
    pruner = Pruner(store, Retention(None, 5), clock, batch=4)
    pruner.start()
    assert texts(store, "#big") == [f"#big {n}" for n in range(19, 24)]
    assert texts(store, "#small") == ["#Small 1", "#Small 2", "#Small 3"]
    assert texts(store, "#exact") == [f"#exact {n}" for n in range(1, 6)]
    assert pruner.deleted == 18 and rows(store) == 13
    pruner.stop()


def test_both_limits_together(tmp_path, backend) -> None:
    clock = Clock()
    clock.advance(NOW)
    store = file_store(tmp_path, clock, backend=backend)
    fill(store, clock, "#rust", [NOW - 2 * DAY] * 3 + [NOW] * 6)
    Pruner(store, Retention(DAY, 4), clock).start()
    assert texts(store, "#rust") == [f"#rust {n}" for n in range(6, 10)]


def test_a_huge_delete_lets_live_writes_through_between_batches(tmp_path, backend) -> None:
    """The store's thread runs one bounded delete at a time: a message said
    during a long prune is written after the current batch, not after all."""
    clock, worker = Clock(), StepWorker()
    clock.advance(NOW)
    store = file_store(tmp_path, clock, worker, backend=backend)
    fill(store, clock, "#rust", [NOW - 10 * DAY] * 25)
    worker.run()
    pruner = Pruner(store, Retention(DAY), clock, batch=10)
    pruner.start()
    assert [f.__name__ for f, _, _ in worker.queue] == ["_delete"]
    store.record(message("#rust", "bob", "live", at=NOW, serial=100))
    clock.advance(WRITE_DELAY)
    assert worker.step() == "_delete"  # the first 10 go...
    assert [f.__name__ for f, _, _ in worker.queue] == ["_write", "_delete"]
    assert worker.step() == "_write"  # ...then the live message, then the rest
    worker.run()
    reading = store.latest("#rust", 100)
    worker.run()
    assert [m.text for m in result_of(reading)] == ["live"]
    assert pruner.deleted == 25


def test_a_pass_still_running_is_not_started_again(tmp_path, backend) -> None:
    clock, worker = Clock(), StepWorker()
    clock.advance(NOW)
    store = file_store(tmp_path, clock, worker, backend=backend)
    pruner = Pruner(store, Retention(DAY), clock)
    pruner.start()
    clock.advance(PRUNE_INTERVAL)  # the thread has not answered the first pass yet
    assert len(worker.queue) == 1
    worker.run()
    clock.advance(PRUNE_INTERVAL)
    assert len(worker.queue) == 1  # the next pass, now that the first is done


def test_forever_prunes_nothing_and_schedules_nothing(tmp_path, backend) -> None:
    clock = Clock()
    store = file_store(tmp_path, clock, backend=backend)
    fill(store, clock, "#rust", [1.0, 2.0])
    Pruner(store, Retention(), clock).start()
    assert clock.getDelayedCalls() == []
    assert rows(store) == 2


def test_a_failed_pass_is_logged_and_the_next_one_runs(tmp_path, caplog) -> None:
    from twisted.logger import globalLogPublisher

    clock = Clock()
    clock.advance(NOW)
    store = file_store(tmp_path, clock)
    fill(store, clock, "#rust", [NOW - 10 * DAY])
    logged: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(logged.append)
    real = store.connection
    store.connection = sqlite3.connect(":memory:", isolation_level=None)  # no table
    try:
        pruner = Pruner(store, Retention(DAY), clock)
        pruner.start()
    finally:
        globalLogPublisher.removeObserver(logged.append)
    assert any("pruning failed" in str(e.get("log_format")) for e in logged)
    store.connection = real
    clock.advance(PRUNE_INTERVAL)
    assert rows(store) == 0


def test_the_room_list_is_read_by_seeks_not_a_scan(tmp_path) -> None:
    from chatsvc.store.sqlite import _ROOM_KEYS

    clock = Clock()
    store = file_store(tmp_path, clock)
    for room in ("#b", "#a", "#c", "#a"):
        fill(store, clock, room, [NOW])
    assert result_of(store.room_keys()) == ["#a", "#b", "#c"]
    plan = " ".join(str(row[-1]) for row in
                    store.connection.execute("EXPLAIN QUERY PLAN " + _ROOM_KEYS))
    assert "room_message_by_room" in plan and "SCAN room_message" not in plan.replace(
        "SCAN room_message USING COVERING INDEX", "")


def test_a_replay_never_shows_what_is_past_the_age_even_before_the_prune() -> None:
    from test_history import History

    history = History()
    history.delivery.retention = Retention(DAY)
    alice = history.user("alice")
    alice.send("old news")
    history.settle()
    history.net.hub.clock.advance(DAY - 60)
    alice.send("fresh")
    history.settle()
    alice.read()
    alice.send("/history")
    history.settle()
    assert alice.read() == ["* history of #chat (2)", "[2023-11-14 22:13] <alice> old news",
                            "[22:12] <alice> fresh", "* end of history"]
    history.net.hub.clock.advance(120)  # "old news" is a day and a minute old
    alice.send("/history")
    history.settle()
    assert alice.read() == ["* history of #chat (1)", "[22:12] <alice> fresh",
                            "* end of history"]
