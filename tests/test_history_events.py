"""Topic changes, joins and parts in the room history (issue 18): the
migration that gives a stored row its kind, the store's round trip of each
kind, what L{HistoryDelivery} records (topics always, joins and parts with
C{--history-joins}), and that C{+x}, closed rooms and retention treat them
as they treat messages.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from test_history import NOW, History, Worker, memory_store, message, parse, result_of
from twisted.internet.task import Clock

from chatsvc.events import Joined, Left, RoomMessage, TopicChanged
from chatsvc.service import tap
from chatsvc.store.sqlite import (
    JOIN,
    KINDS,
    MESSAGE,
    MIGRATIONS,
    PART,
    SCHEMA_VERSION,
    TOPIC,
    WRITE_DELAY,
    open_database,
)


def rows(history: History, room: str = "#chat", kinds: Any = KINDS) -> list[tuple[Any, ...]]:
    """(kind, sender, text) of what C{room} keeps, oldest first."""
    history.settle()
    reading = history.store.latest(room, 100, kinds=kinds)
    history.worker.run()
    return [(m.kind, m.sender, m.text) for m in result_of(reading)]


# -- the schema and the store -------------------------------------------------------


def test_a_database_from_before_kinds_keeps_its_rows_as_messages(tmp_path: Any) -> None:
    path = str(tmp_path / "old.sqlite3")
    old = sqlite3.connect(path, isolation_level=None)
    before = MIGRATIONS.index(next(step for step in MIGRATIONS if "kind" in step[0]))
    for step in MIGRATIONS[:before]:
        for statement in step:
            old.execute(statement)
    old.execute(f"PRAGMA user_version={before}")
    old.execute("INSERT INTO room_message (id, room_key, room, time, sender, text, action, "
                "notice) VALUES ('x', '#rust', '#rust', 1, 'alice', 'waves', 1, 0)")
    old.close()
    connection = open_database(path)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert connection.execute("SELECT kind, action, text FROM room_message").fetchall() == [
        (MESSAGE, 1, "waves")]


def test_each_kind_round_trips_through_the_store() -> None:
    store = memory_store(Clock())
    events = [
        message("#rust", "alice", "hello", serial=1),
        message("#rust", "alice", "waves", serial=2, action=True),
        RoomMessage("#rust", "bot", "beep", notice=True, stamp=(NOW, 3)),
        TopicChanged("#rust", "alice", "release day \u2014 v2", stamp=(NOW + 1, 4)),
        TopicChanged("#rust", "alice", "", stamp=(NOW + 2, 5)),
        Joined("#rust", "bob", stamp=(NOW + 3, 6)),
        Left("#rust", "bob", "off (home)", stamp=(NOW + 4, 7)),
        Left("#rust", "carol", "", to="#go", stamp=(NOW + 5, 8)),
    ]
    for event in events:
        store.record(event)
    stored = result_of(store.latest("#rust", 10, kinds=KINDS))
    assert [(m.kind, m.sender, m.text, m.action, m.notice) for m in stored] == [
        (MESSAGE, "alice", "hello", False, False),
        (MESSAGE, "alice", "waves", True, False),
        (MESSAGE, "bot", "beep", False, True),
        (TOPIC, "alice", "release day \u2014 v2", False, False),
        (TOPIC, "alice", "", False, False),
        (JOIN, "bob", "", False, False),
        (PART, "bob", "off (home)", False, False),
        (PART, "carol", "", False, False),
    ]
    assert [(m.id, m.time) for m in stored] == [(e.id, e.time) for e in events]
    # What was said only, by default: what CHATHISTORY and IRC's replay read.
    assert [m.text for m in result_of(store.latest("#rust", 10))] == ["hello", "waves", "beep"]
    # The count is of the kinds asked for: the last 2 of them.
    assert [m.kind for m in result_of(store.latest("#rust", 2, kinds=(TOPIC,)))] == [
        TOPIC, TOPIC]


def test_a_quit_is_not_a_room_row() -> None:
    store = memory_store(Clock(), Worker())
    with pytest.raises(TypeError):
        store._write([(Left(None, "bob", "bye", stamp=(NOW, 1)), None)])


# -- what the delivery records ------------------------------------------------------


def joins_history() -> History:
    history = History()
    history.delivery = type(history.delivery)(history.store, 50, history.delivery.local,
                                              joins=True)
    history.net.hub.delivery = history.delivery
    return history


def test_topic_changes_are_kept_and_joins_are_not_by_default() -> None:
    history = History()
    alice = history.user("alice")
    alice.send("/join #rust", "/topic release day")
    bob = history.user("bob")
    bob.send("/join #rust", "/join #go", "/join #rust", "hi")
    alice.send("/topic -")
    assert rows(history, "#rust") == [(TOPIC, "alice", "release day"), (MESSAGE, "bob", "hi"),
                                      (TOPIC, "alice", "")]
    assert rows(history, "#go") == []
    assert history.delivery.joins is False


def test_with_history_joins_joins_and_parts_are_kept() -> None:
    history = joins_history()
    alice = history.user("alice")
    assert rows(history) == [(JOIN, "alice", "")]  # registering into the default room
    alice.send("/join #rust")
    bob = history.user("bob")
    bob.send("/join #rust", "/join #go", "/join #rust")
    history.net.hub.part(bob.protocol, "#rust", "dinner")
    assert rows(history, "#rust") == [(JOIN, "alice", ""), (JOIN, "bob", ""),
                                      (PART, "bob", ""), (JOIN, "bob", ""),
                                      (PART, "bob", "dinner")]
    assert rows(history, "#go") == [(JOIN, "bob", ""), (PART, "bob", "")]
    assert rows(history, "#rust", kinds=(MESSAGE,)) == []  # what is said is read apart


def test_a_no_history_room_keeps_no_topic_and_no_joins() -> None:
    history = joins_history()
    alice = history.user("alice")
    alice.send("/join #rust", "/mode +x", "/topic secret plans")
    bob = history.user("bob")
    bob.send("/join #rust", "/join #chat")
    alice.send("/mode -x", "/topic open again")
    assert rows(history, "#rust") == [(JOIN, "alice", ""), (TOPIC, "alice", "open again")]


def test_a_closed_rooms_events_are_shown_only_in_that_room() -> None:
    history = joins_history()
    alice = history.user("alice")
    alice.send("/join #den", "/mode +s", "/topic our den")
    bob = history.user("bob")
    alice.send("/invite bob")
    bob.send("/join #den")
    reading = history.delivery.replay_of(history.net.hub.find_room("#den"), 10, KINDS)
    history.settle()
    history.worker.run()
    # alice's join came before +s: kept as an open room's; the rest only for this #den.
    assert [(m.kind, m.sender) for m in result_of(reading)] == [
        (JOIN, "alice"), (TOPIC, "alice"), (JOIN, "bob")]
    bob.send("/part")
    alice.send("/part")  # #den is gone; a new #den is another room
    history.net.hub.clock.advance(60)
    carol = history.user("carol")
    carol.send("/join #den")
    reading = history.delivery.replay_of(history.net.hub.find_room("#den"), 10, KINDS)
    history.settle()
    history.worker.run()
    assert [(m.kind, m.sender) for m in result_of(reading)] == [(JOIN, "alice"), (JOIN, "carol")]


def test_retention_deletes_every_kind() -> None:
    clock = Clock()
    store = memory_store(clock)
    store.record(TopicChanged("#rust", "alice", "old topic", stamp=(NOW, 1)))
    store.record(Joined("#rust", "bob", stamp=(NOW, 2)))
    store.record(message("#rust", "bob", "new", at=NOW + 100, serial=3))
    assert result_of(store.delete_older(NOW + 50, 100)) == 2
    assert [m.kind for m in result_of(store.latest("#rust", 10, kinds=KINDS))] == [MESSAGE]
    for serial in range(4, 8):
        store.record(Joined("#rust", "bob", stamp=(NOW + 200, serial)))
    assert result_of(store.delete_beyond("#rust", 2, 100)) == 3  # rows of any kind count
    assert [m.kind for m in result_of(store.latest("#rust", 10, kinds=KINDS))] == [JOIN, JOIN]


# -- the option -------------------------------------------------------------------


def test_history_joins_is_off_unless_asked_for(tmp_path: Any) -> None:
    assert parse("--data-dir", str(tmp_path))["joins"] is False
    assert parse("--data-dir", str(tmp_path), "--history-joins", "on")["joins"] is True
    assert parse("--data-dir", str(tmp_path), "--history-joins", "OFF")["joins"] is False
    with pytest.raises(tap.StartupFailure, match="--history-joins 'maybe': on or off"):
        parse("--history-joins", "maybe")


def test_the_service_passes_history_joins_on(tmp_path: Any) -> None:
    options = parse("--data-dir", str(tmp_path), "--history-joins", "on")
    delivery = tap._history(options)
    assert delivery is not None
    try:
        assert delivery.joins is True
    finally:
        delivery.store.connection.close()


def test_write_delay_still_batches_events_with_messages() -> None:
    clock, worker = Clock(), Worker()
    store = memory_store(clock, worker)
    store.record(message("#rust", "alice", "hi"))
    store.record(Joined("#rust", "bob", stamp=(NOW, 2)))
    clock.advance(WRITE_DELAY)
    assert len(worker.queue) == 1
    worker.run()
    assert (store.batches, store.written) == (1, 2)


def test_the_admin_export_is_still_only_what_was_said(tmp_path: Any) -> None:
    import io

    from chatsvc.admin import export

    connection = open_database(str(tmp_path / "h.sqlite3"))
    store = memory_store(Clock())
    store.connection = connection
    store.record(message("#rust", "alice", "hello"))
    store.record(TopicChanged("#rust", "alice", "a topic", stamp=(NOW, 2)))
    result_of(store.latest("#rust", 1))  # written first
    out = io.StringIO()
    assert export(connection, "#rust", out) == 1
    assert '"text": "hello"' in out.getvalue()
