"""The store's reads behind IRCv3 CHATHISTORY (chatsvc.store.chathistory):
windows of a room or a private conversation placed by msgid or timestamp,
TARGETS, and the migration that keeps each sender's mask and account.

On an in-memory database with the store's calls run synchronously (as in
test_history.py); the IRC command itself is tests/test_irc_chathistory.py.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from test_history import NOW, memory_store, result_of
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock

from chatsvc.events import PrivateMessage, RoomMessage, utc_time
from chatsvc.store import chathistory
from chatsvc.store.chathistory import (
    AFTER,
    AROUND,
    BEFORE,
    BETWEEN,
    LATEST,
    Reference,
    Window,
    id_millis,
)
from chatsvc.store.sqlite import (
    MIGRATIONS,
    SCHEMA_VERSION,
    WRITE_DELAY,
    HistoryStore,
    migrate,
    open_database,
)

#: Messages 10 ms apart, serials from 1.
STEP = 0.01


def said(room: str, index: int, text: str | None = None, **kw: Any) -> RoomMessage:
    return RoomMessage(room, "alice", text or f"m{index}", stamp=(NOW + index * STEP, index + 1),
                       mask="alice!~alice@192.0.2.1", account="Alice", **kw)


class Room:
    """A store holding #chat's messages m0..m9 (and #other's o0, o1 between them)."""

    def __init__(self, count: int = 10) -> None:
        self.clock = Clock()
        self.clock.advance(NOW + 100)
        self.store = memory_store(self.clock)
        self.events = [said("#chat", i) for i in range(count)]
        for event in self.events[:5]:
            self.store.record(event)
        self.store.record(said("#other", 100, "o0"))
        for event in self.events[5:]:
            self.store.record(event)
        self.store.record(said("#other", 101, "o1"))
        self.clock.advance(WRITE_DELAY)

    def read(self, kind: str, first: Reference | None, limit: int,
             second: Reference | None = None, room: str = "#chat",
             created: float | None = None, cutoff: float | None = None) -> list[str]:
        window = Window(kind, first, limit, second)
        return [m.text for m in result_of(self.store.room_window(room, created, window,
                                                                   cutoff))]

    def msgid(self, index: int) -> Reference:
        return Reference(msgid=self.events[index].id)

    def stamp(self, index: int) -> Reference:
        return shown(self.events[index].time)


def shown(time: float) -> Reference:
    """What a client sends back: the time its server-time tag showed (to the
    millisecond, rounded: L{utc_time}; tests/test_irc_chathistory.py sends
    the tag itself)."""
    return Reference(millis=round(time * 1000))


def texts(first: int, stop: int) -> list[str]:
    return [f"m{i}" for i in range(first, stop)]


@pytest.fixture
def room() -> Room:
    return Room()


def test_latest_is_the_newest_oldest_first(room: Room) -> None:
    assert room.read(LATEST, None, 20) == texts(0, 10)
    assert room.read(LATEST, None, 3) == texts(7, 10)
    assert room.read(LATEST, None, 1) == ["m9"]


@pytest.mark.parametrize("by", ["msgid", "stamp"])
def test_each_window_by_either_reference(room: Room, by: str) -> None:
    ref = getattr(room, by)
    assert room.read(LATEST, ref(4), 20) == texts(5, 10)
    assert room.read(LATEST, ref(4), 2) == texts(8, 10)
    assert room.read(BEFORE, ref(6), 20) == texts(0, 6)
    assert room.read(BEFORE, ref(6), 2) == texts(4, 6)
    assert room.read(AFTER, ref(3), 20) == texts(4, 10)
    assert room.read(AFTER, ref(3), 3) == texts(4, 7)
    assert room.read(BETWEEN, ref(0), 20, ref(9)) == texts(1, 9)
    assert room.read(BETWEEN, ref(9), 20, ref(0)) == texts(1, 9)
    assert room.read(BETWEEN, ref(0), 3, ref(9)) == texts(1, 4)  # counted from the first
    assert room.read(BETWEEN, ref(9), 3, ref(0)) == texts(6, 9)
    assert room.read(AROUND, ref(7), 1) == ["m7"]
    assert room.read(AROUND, ref(7), 3) == texts(6, 9)
    assert room.read(AROUND, ref(1), 5) == texts(0, 5)  # fewer before: more after


def test_references_can_be_mixed_in_between(room: Room) -> None:
    assert room.read(BETWEEN, room.msgid(2), 20, room.stamp(6)) == texts(3, 6)
    assert room.read(BETWEEN, room.stamp(6), 20, room.msgid(2)) == texts(3, 6)


def test_a_window_is_one_rooms(room: Room) -> None:
    assert room.read(LATEST, None, 20, room="#other") == ["o0", "o1"]
    # m4 is no message of #other: no position there, an empty window.
    assert room.read(AFTER, room.msgid(4), 20, room="#other") == []
    assert room.read(LATEST, None, 20, room="#OTHER") == ["o0", "o1"]  # folded


def test_an_unknown_or_malformed_msgid_reads_nothing(room: Room) -> None:
    for msgid in ("f" * 24, "nonsense", "", "X" * 24, "1" * 23):
        assert room.read(AFTER, Reference(msgid=msgid), 20) == []
        assert room.read(BETWEEN, room.msgid(0), 20, Reference(msgid=msgid)) == []
    assert id_millis("nonsense") is None
    assert id_millis(room.events[3].id or "") == int(room.events[3].time * 1000)


def test_timestamps_mean_what_the_tag_showed_to_the_millisecond() -> None:
    # Times that round up in the tag (x.0127 shows .013) and down (x.0132 shows .013)
    clock = Clock()
    store = memory_store(clock)
    events = [RoomMessage("#r", "a", text, stamp=(NOW + offset, serial))
              for serial, (text, offset) in enumerate(
                  [("early", 0.0118), ("up", 0.0127), ("down", 0.0132), ("late", 0.0141)], 1)]
    for event in events:
        store.record(event)
    clock.advance(WRITE_DELAY)
    assert {utc_time(e.time)[-4:] for e in events[1:3]} == {"013Z"}
    tag = shown(events[1].time)

    def read(kind: str) -> list[str]:
        return [m.text for m in result_of(store.room_window("#r", None, Window(kind, tag, 9)))]

    assert read(AFTER) == ["late"]
    assert read(BEFORE) == ["early"]
    assert read(AROUND) == ["early", "up", "down", "late"]


def test_a_closed_rooms_messages_only_in_that_same_room() -> None:
    clock = Clock()
    store = memory_store(clock)
    store.record(said("#s", 1, "open"))
    store.record(said("#s", 2, "closed"), private_to=5.0)
    clock.advance(WRITE_DELAY)
    window = Window(LATEST, None, 10)
    assert [m.text for m in result_of(store.room_window("#s", 5.0, window))] == [
        "open", "closed"]
    assert [m.text for m in result_of(store.room_window("#s", 6.0, window))] == ["open"]
    assert [m.text for m in result_of(store.room_window("#s", None, window))] == ["open"]


def test_the_cutoff_hides_older_ones_and_the_limit_counts_the_rest(room: Room) -> None:
    cutoff = room.events[6].time
    assert room.read(LATEST, None, 20, cutoff=cutoff) == texts(6, 10)
    assert room.read(AFTER, room.msgid(0), 2, cutoff=cutoff) == texts(6, 8)
    assert room.read(BEFORE, room.msgid(8), 20, cutoff=cutoff) == texts(6, 8)
    assert room.read(AROUND, room.msgid(6), 3, cutoff=cutoff) == texts(6, 9)


def test_each_message_keeps_its_mask_and_account() -> None:
    store = Room(1).store
    (message,) = result_of(store.room_window("#chat", None, Window(LATEST, None, 5)))
    assert (message.mask, message.account) == ("alice!~alice@192.0.2.1", "Alice")
    (replayed,) = result_of(store.latest("#chat", 5))
    assert (replayed.mask, replayed.account) == ("alice!~alice@192.0.2.1", "Alice")


def test_an_older_database_gains_the_columns_and_its_rows_read_without_them(
        tmp_path: Any) -> None:
    path = str(tmp_path / "old.sqlite3")
    old = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:3]:  # the schema before the masks
        for statement in step:
            old.execute(statement)
    old.execute("PRAGMA user_version=3")
    old.execute("INSERT INTO room_message (id, room_key, room, time, sender, text, action, "
                "notice) VALUES (?, '#rust', '#rust', ?, 'alice', 'kept', 0, 0)",
                (f"{int(NOW * 1000):011x}{1:013x}", NOW))
    old.close()
    connection = open_database(path)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    store = HistoryStore(connection, Clock(), run=lambda f, *a: maybeDeferred(f, *a))
    (message,) = result_of(store.room_window("#rust", None, Window(LATEST, None, 5)))
    assert (message.text, message.mask, message.account) == ("kept", "", None)
    connection.close()


# -- private conversations ----------------------------------------------------------


def whisper(sender: str, target: str, index: int) -> PrivateMessage:
    return PrivateMessage(sender, target, f"p{index}", stamp=(NOW + index * STEP, index + 1),
                          mask=f"{sender}!~{sender.lower()}@h", account=sender)


def private_store(clock: Clock) -> HistoryStore:
    store = memory_store(clock)
    for index in range(6):
        sender, target = ("Alice", "Bob") if index % 2 == 0 else ("Bob", "Alice")
        store.record_private(whisper(sender, target, index), sender, target)
    store.record_private(whisper("Alice", "Carol", 10), "Alice", "Carol")
    clock.advance(WRITE_DELAY)
    return store


def test_a_private_window_is_the_pairs_from_either_side() -> None:
    clock = Clock()
    store = private_store(clock)
    for first, second in (("alice", "bob"), ("BOB", "Alice")):
        messages = result_of(store.private_window(first, second, Window(LATEST, None, 20)))
        assert [m.text for m in messages] == [f"p{i}" for i in range(6)]
    messages = result_of(store.private_window("alice", "bob", Window(LATEST, None, 20)))
    pivot = Reference(msgid=messages[2].id)
    after = result_of(store.private_window("bob", "alice", Window(AFTER, pivot, 2)))
    assert [(m.text, m.sender, m.mask, m.account) for m in after] == [
        ("p3", "Bob", "Bob!~bob@h", "Bob"), ("p4", "Alice", "Alice!~alice@h", "Alice")]
    # p2 is no message of alice and carol's
    assert result_of(store.private_window("alice", "carol", Window(AFTER, pivot, 9))) == []


# -- TARGETS ----------------------------------------------------------------------


def test_targets_are_rooms_and_conversations_by_their_last_message() -> None:
    clock = Clock()
    store = private_store(clock)  # alice-bob until p5, alice-carol p10
    store.record(said("#chat", 3))
    store.record(said("#chat", 7))
    store.record(said("#quiet", 20))
    clock.advance(WRITE_DELAY)
    everything = (0.0, NOW + 1000)

    def targets(account: str | None, *bounds: float, limit: int = 10,
                rooms: tuple[str, ...] = ("#chat", "#empty")) -> list[tuple[str, float]]:
        return result_of(store.targets([(name, None) for name in rooms], account,
                                       *(bounds or everything), limit))

    assert targets("alice") == [("Bob", NOW + 5 * STEP), ("#chat", NOW + 7 * STEP),
                                ("Carol", NOW + 10 * STEP)]
    assert targets("Bob") == [("Alice", NOW + 5 * STEP), ("#chat", NOW + 7 * STEP)]
    assert targets(None) == [("#chat", NOW + 7 * STEP)]  # a guest: rooms only
    assert targets("alice", limit=2) == [("Bob", NOW + 5 * STEP), ("#chat", NOW + 7 * STEP)]
    # By the last message: #chat's is at 7, so a window up to 6 has no #chat.
    assert targets("alice", 0.0, NOW + 6 * STEP) == [("Bob", NOW + 5 * STEP)]
    assert targets("alice", NOW + 6 * STEP, NOW + 1000) == [
        ("#chat", NOW + 7 * STEP), ("Carol", NOW + 10 * STEP)]
    assert targets("dave") == [("#chat", NOW + 7 * STEP)]  # nobody else's conversations


def test_a_conversation_with_oneself_is_one_target() -> None:
    clock = Clock()
    store = memory_store(clock)
    store.record_private(whisper("Alice", "Alice", 1), "Alice", "Alice")
    clock.advance(WRITE_DELAY)
    assert result_of(store.targets([], "alice", 0.0, NOW + 9, 10)) == [("Alice", NOW + STEP)]


# -- every read is an index range --------------------------------------------------


def plan(connection: sqlite3.Connection, statement: str, parameters: tuple[Any, ...]) -> list[str]:
    return [row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + statement,
                                                  parameters)]


def test_every_statement_is_an_index_search_without_a_sort() -> None:
    connection = sqlite3.connect(":memory:")
    migrate(connection)
    recorded: list[tuple[str, tuple[Any, ...]]] = []

    class Spy:
        def execute(self, statement: str, parameters: tuple[Any, ...] = ()) -> Any:
            recorded.append((statement, parameters))
            return connection.execute(statement, parameters)

    spy: Any = Spy()
    for table, keys, seen in ((chathistory.ROOMS, ("#r",), (None,)),
                              (chathistory.PRIVATE, ("a", "b"), ())):
        chathistory.read_window(spy, table, keys, seen,
                                Window(BETWEEN, Reference(msgid="0" * 24), 5,
                                       Reference(millis=5)), 1.0)
        chathistory.read_window(spy, table, keys, seen, Window(LATEST, None, 5), None)
    chathistory.targets(spy, [("#r", "#r", None)], "a", 0.0, 1.0, 5)
    connection.execute("INSERT INTO private_message (id, low_key, high_key, sender_key, time, "
                       "sender, target, text, action, notice) "
                       "VALUES ('x', 'a', 'b', 'a', 1, 'a', 'b', 't', 0, 0)")
    chathistory.targets(spy, [], "a", 0.0, 9.0, 5)
    statements = {statement for statement, _ in recorded}
    assert len(statements) >= 8
    for statement, parameters in recorded:
        lines = plan(connection, statement, parameters)
        # (a SCAN of the recursive CTE's own rows is its steps, not a table's)
        assert not any(line.startswith(("SCAN room_message", "SCAN private_message"))
                       or "TEMP B-TREE" in line
                       for line in lines), (statement, lines)
        assert any("INDEX" in line or "INTEGER PRIMARY KEY" in line for line in lines), (
            statement, lines)
