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

from chatsvc.events import Joined, Left, Notice, RoomMessage, TopicChanged, utc_time
from chatsvc.protocols.line.wire import HISTORY_END, LineParser, history_block
from chatsvc.service import tap
from chatsvc.store.delivery import HistoryDelivery
from chatsvc.store.sqlite import (
    JOIN,
    KINDS,
    MESSAGE,
    MIGRATIONS,
    PART,
    QUIT,
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


def test_each_kind_round_trips_through_the_store(backend) -> None:
    store = memory_store(Clock(), backend=backend)
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


def test_a_quit_is_a_row_of_the_room_it_is_recorded_in(backend) -> None:
    store = memory_store(Clock(), backend=backend)
    quit = Left(None, "bob", "bye (for now)", stamp=(NOW, 1))
    store.record_quit(quit, "#Rust")
    stored = result_of(store.latest("#rust", 10, kinds=KINDS))
    assert [(m.kind, m.room, m.sender, m.text, m.id) for m in stored] == [
        (QUIT, "#Rust", "bob", "bye (for now)", quit.id)]
    with pytest.raises(TypeError):  # a quit is no room's row unless told which
        store._write([(quit, None, None)])


# -- what the delivery records ------------------------------------------------------


def joins_history() -> History:
    history = History()
    history.delivery = type(history.delivery)(history.store, 50, history.delivery.local,
                                              joins=True)
    history.net.hub.delivery = history.delivery
    return history


def test_topic_changes_are_kept_and_joins_are_not_by_default(backend) -> None:
    history = History(backend=backend)
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


def test_a_quit_is_kept_in_each_room_its_user_was_in_with_history_joins() -> None:
    history = joins_history()
    alice = history.user("alice")
    alice.send("/join #rust")
    erin = history.net.irc_user("erin", channels="#rust,#go,#quiet")
    erin.send("MODE #quiet +x")
    erin.send("QUIT :off to bed")
    erin.drop()
    history.settle()
    assert rows(history, "#rust")[-1] == (QUIT, "erin", "Quit: off to bed")
    assert rows(history, "#go") == [(JOIN, "erin", ""), (QUIT, "erin", "Quit: off to bed")]
    assert rows(history, "#quiet") == [(JOIN, "erin", "")]  # +x: nothing after it
    assert [sender for _, sender, _ in rows(history, "#chat")] == ["alice", "alice"]  # not erin


def test_without_history_joins_a_quit_is_not_kept(backend) -> None:
    history = History(backend=backend)
    alice = history.user("alice")
    alice.send("/join #rust", "hi")
    history.user("bob").send("/join #rust")
    alice.send("/quit bye")
    alice.drop()
    assert rows(history, "#rust") == [(MESSAGE, "alice", "hi")]


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


def test_retention_deletes_every_kind(backend) -> None:
    clock = Clock()
    store = memory_store(clock, backend=backend)
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


def test_write_delay_still_batches_events_with_messages(backend) -> None:
    clock, worker = Clock(), Worker()
    store = memory_store(clock, worker, backend=backend)
    store.record(message("#rust", "alice", "hi"))
    store.record(Joined("#rust", "bob", stamp=(NOW, 2)))
    clock.advance(WRITE_DELAY)
    assert len(worker.queue) == 1
    worker.run()
    assert (store.batches, store.written) == (1, 2)


def test_the_admin_export_is_still_only_what_was_said(tmp_path: Any, backend) -> None:
    import io

    from chatsvc.admin import export

    connection = open_database(str(tmp_path / "h.sqlite3"))
    store = memory_store(Clock(), backend=backend)
    store.connection = connection
    store.record(message("#rust", "alice", "hello"))
    store.record(TopicChanged("#rust", "alice", "a topic", stamp=(NOW, 2)))
    result_of(store.latest("#rust", 1))  # written first
    out = io.StringIO()
    assert export(connection, "#rust", out) == 1
    assert '"text": "hello"' in out.getvalue()


# -- replays: the line protocol ---------------------------------------------------


def busy_rust(history: History) -> Any:
    """#rust as alice (its operator) and bob leave it: a topic, talk, joins
    and parts (kept with --history-joins); returns alice."""
    alice = history.user("alice")
    alice.send("/join #rust", "/topic release day", "ship it")
    bob = history.user("bob")
    bob.send("/join #rust", "/me waves")
    history.net.hub.part(bob.protocol, "#rust", "dinner (back at 8)")
    alice.send("/topic -")
    history.settle()
    return alice


def test_joining_replays_topics_joins_and_parts_in_the_live_words() -> None:
    history = joins_history()
    busy_rust(history)
    carol = history.user("carol")
    carol.send("/join #rust")
    history.settle()
    lines = carol.read()
    start = lines.index("* history of #rust (8)")
    assert lines[start:] == [
        "* history of #rust (8)",
        "[22:13] * alice joined",
        "[22:13] * alice sets the topic of #rust: release day",
        "[22:13] <alice> ship it",
        "[22:13] * bob joined",
        "[22:13] * bob waves",
        "[22:13] * bob left (dinner (back at 8))",
        "[22:13] * alice clears the topic of #rust",
        "[22:13] * carol joined",  # her own join: the last thing before she came
        "* end of history",
    ]


def test_history_counts_every_row_it_shows() -> None:
    history = joins_history()
    alice = busy_rust(history)
    alice.read()
    alice.send("/history 2")
    history.settle()
    assert alice.read() == ["* history of #rust (2)", "[22:13] * bob left (dinner (back at 8))",
                            "[22:13] * alice clears the topic of #rust", "* end of history"]


def test_the_client_parser_reads_events_back_and_learns_no_presence_from_them() -> None:
    block = history_block("#rust", [(NOW, "alice", "release day", False, TOPIC),
                                    (NOW, "alice", "", False, TOPIC),
                                    (NOW, "bob", "", False, JOIN),
                                    (NOW, "bob", "dinner", False, PART),
                                    (NOW, "bob", "waves", True)], NOW)
    parser = LineParser(now=lambda: NOW + 30)
    parser.parse("* you joined #rust (1 here)")
    events = [parser.parse(line) for line in block.decode().split("\r\n")[:-1]]
    assert events[1:-1] == [TopicChanged("#rust", "alice", "release day"),
                            TopicChanged("#rust", "alice", ""), Joined("#rust", "bob"),
                            Left("#rust", "bob", "dinner"),
                            RoomMessage("#rust", "bob", "waves", True)]
    assert {event.time for event in events[1:-1]} == {NOW - NOW % 60}
    assert events[-1] == Notice(HISTORY_END[2:])
    assert "bob" not in parser.present  # he joined and left long ago


# -- /history --ids: exact lines, for programs ------------------------------------


def stored(history: History, room: str) -> list[Any]:
    reading = history.store.latest(room, 100, kinds=KINDS)
    history.worker.run()
    return result_of(reading)  # type: ignore[no-any-return]


def test_an_exact_block_carries_each_rows_id_time_and_kind() -> None:
    history = joins_history()
    alice = busy_rust(history)
    alice.send("/say ] <mallory> forged", "/me joined", "/say [x] * bob joined")
    history.settle()
    alice.read()
    alice.send("/history --ids #rust 100")
    history.settle()
    lines = alice.read()
    rows_ = stored(history, "#rust")
    assert lines[0] == f"* history of #rust ({len(rows_)}) with ids"
    kinds = ["join", "topic", "message", "join", "action", "part", "topic", "message",
             "action", "message"]
    assert lines[1:-1] == [
        f"[{utc_time(int(row.id[:11], 16) / 1000)} {row.id} {kind}] {said}"
        for row, kind, said in zip(rows_, kinds, [
            "* alice joined", "* alice sets the topic of #rust: release day",
            "<alice> ship it", "* bob joined", "* bob waves",
            "* bob left (dinner (back at 8))", "* alice clears the topic of #rust",
            "<alice> ] <mallory> forged", "* alice joined", "<alice> [x] * bob joined"],
            strict=True)]
    assert lines[-1] == HISTORY_END
    parser = LineParser()
    events = [parser.parse(line) for line in lines]
    assert [event.id for event in events[1:-1]] == [row.id for row in rows_]
    assert events[8] == RoomMessage("#rust", "alice", "] <mallory> forged")
    assert events[9] == RoomMessage("#rust", "alice", "joined", True)  # its kind says so
    assert events[10] == RoomMessage("#rust", "alice", "[x] * bob joined")
    assert events[4] == Joined("#rust", "bob")


def test_an_exact_answer_is_a_block_even_when_empty_or_plus_x(backend) -> None:
    history = History(backend=backend)
    alice = history.user("alice")
    alice.send("/join #rust")
    history.settle()
    alice.read()
    alice.send("/history --ids")
    history.settle()
    assert alice.read() == ["* history of #rust (0) with ids", HISTORY_END]
    alice.send("hello", "/mode +x")
    history.settle()
    alice.read()
    alice.send("/history --ids #rust 5")
    history.settle()
    assert alice.read() == ["* history of #rust (0) with ids", HISTORY_END]
    alice.send("/history")
    assert alice.read() == ["* #rust keeps no history (mode +x)"]  # people's answer as before


def test_an_id_round_trips_exactly_whatever_the_millisecond() -> None:
    from chatsvc.events import event_id
    from chatsvc.protocols.line.wire import exact_stamp

    for millis in (1_700_000_000_123, 1_700_000_000_001, 1_764_770_467_999, 1_000):
        for serial in (1, 2**40 + 7):
            made = event_id((millis / 1000, serial))
            assert event_id(exact_stamp(made)) == made
        # an id whose time a float of millis / 1000 falls short of
        when = millis / 1000
        assert int(exact_stamp(event_id((when, 1)))[0] * 1000) == int(when * 1000)


# -- replays: the web and IRC -----------------------------------------------------


def test_the_web_replay_and_history_request_carry_each_kind() -> None:
    history = joins_history()
    busy_rust(history)
    web = history.net.web_user("dora")
    history.worker.run()
    web.read()
    web.send(type="join", room="#rust", ref="j")
    history.settle()
    got = [m for m in web.read() if m.get("history")]
    assert [(m["type"], m.get("name") or m.get("from") or m.get("by")) for m in got] == [
        ("joined", "alice"), ("topic", "alice"), ("message", "alice"), ("joined", "bob"),
        ("message", "bob"), ("left", "bob"), ("topic", "alice"), ("joined", "dora")]
    assert got[1]["topic"] == "release day" and got[6]["topic"] == ""
    assert got[5]["reason"] == "dinner (back at 8)"
    rows_ = stored(history, "#rust")
    assert [m["id"] for m in got] == [row.id for row in rows_]
    assert all(m["time"] == utc_time(row.time) for m, row in zip(got, rows_, strict=True))
    web.send(type="history", target="#rust", limit=3, ref="h")
    history.settle()
    (answer,) = [m for m in web.read() if m["type"] == "history"]
    assert [m["type"] for m in answer["messages"]] == ["left", "topic", "joined"]


def test_irc_replays_topic_changes_as_server_notices_and_no_joins() -> None:
    from test_history_irc import after_names, irc

    history = joins_history()
    busy_rust(history)
    bob = irc(history, "erin")
    bob.send("JOIN #rust")
    history.settle()
    assert after_names(bob.read()) == [
        ":chatsvc NOTICE erin :#rust keeps history",
        ":chatsvc NOTICE #rust :[22:13] alice set the topic to: release day",
        ":alice PRIVMSG #rust :[22:13] ship it",
        ":bob PRIVMSG #rust :\x01ACTION [22:13] waves\x01",
        ":chatsvc NOTICE #rust :[22:13] alice cleared the topic",
    ]


def test_irc_replay_counts_only_what_it_shows() -> None:
    from test_history_irc import after_names, irc

    history = joins_history()
    history.delivery.replay = 2
    alice = history.user("alice")
    alice.send("/join #rust", "one", "two")
    for name in ("bob", "carol", "dave"):
        history.user(name).send("/join #rust")
    history.settle()
    erin = irc(history, "erin", "server-time")
    erin.send("JOIN #rust")
    history.settle()
    lines = after_names(erin.read())
    assert [line.rsplit(" :", 1)[-1] for line in lines[1:]] == ["one", "two"]


def test_a_quit_replays_as_live_on_the_line_and_as_a_quit_for_programs_and_the_web() -> None:
    from chatsvc.protocols.web.history import message_body

    history = joins_history()
    alice = history.user("alice")
    erin = history.net.irc_user("erin", channels="#chat")
    erin.send("QUIT :night")
    erin.drop()
    history.settle()
    alice.read()
    alice.send("/history 1")
    history.settle()
    assert alice.read()[1] == "[22:13] * erin left (Quit: night)"
    alice.send("/history --ids 1")
    history.settle()
    lines = alice.read()
    assert lines[1].endswith(" quit] * erin left (Quit: night)")
    parser = LineParser()
    events = [parser.parse(line) for line in lines]
    assert events[1] == Left(None, "erin", "Quit: night")  # left the server, as live
    (row,) = [m for m in stored(history, "#chat") if m.kind == QUIT]
    body = message_body(row)
    assert (body["type"], body["room"], body["name"], body["quit"]) == (
        "left", "#chat", "erin", True)


# -- /forget -------------------------------------------------------------------


def forgetting() -> Any:
    """A hub with accounts and history (synchronous store), as test_history_private's."""
    from test_history_private import Private

    return Private()


def test_forget_deletes_every_room_row_of_the_callers_account_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chatsvc.accounts import kdf
    from chatsvc.store import forget as forget_module

    monkeypatch.setattr(kdf, "N", 2 ** 10)
    monkeypatch.setattr(forget_module, "SPAN", 2)  # several spans, even here
    private = forgetting()
    private.delivery = HistoryDelivery(private.store, 50, private.delivery.local, joins=True)
    private.hub.delivery = private.delivery
    alice = private.account("alice")
    bob = private.account("bob")
    guest = private.user("carol")
    alice.send("/join #rust", "/topic mine", "one", "/me waves")
    bob.send("/join #rust", "bob's")
    guest.send("/join #rust", "a guest's")
    alice.send("/join #chat", "two")
    private.settle()
    # logged in: the move out of #chat and back, #rust's join, topic, two
    # messages and part, and "two"
    assert private.ask(alice, "/forget messages") == [
        "* forgot 8 of your room messages and events"]
    left = {room: [(m.kind, m.sender, m.text) for m in _all(private, room)]
            for room in ("#rust", "#chat")}
    # what alice did before she was logged in is a guest's, and stays
    assert [row for rows_ in left.values() for row in rows_ if row[1] == "alice"] == [
        (JOIN, "alice", "")]
    assert (MESSAGE, "bob", "bob's") in left["#rust"]
    assert (MESSAGE, "carol", "a guest's") in left["#rust"]
    assert private.ask(alice, "/forget messages") == [
        "* forgot 0 of your room messages and events"]
    alice.send("three")
    private.settle()
    assert [(m.kind, m.text) for m in _all(private, "#chat") if m.sender == "alice"] == [
        (JOIN, ""), (MESSAGE, "three")]  # her guest join, and what she said after


def _all(private: Any, room: str) -> list[Any]:
    reading = private.store.latest(room, 100, kinds=KINDS)
    private.settle()
    return result_of(reading)  # type: ignore[no-any-return]


def test_forget_needs_an_account_and_the_word(monkeypatch: pytest.MonkeyPatch, backend) -> None:
    from chatsvc.accounts import kdf

    monkeypatch.setattr(kdf, "N", 2 ** 10)
    private = forgetting()
    guest = private.user("carol")
    assert private.ask(guest, "/forget messages") == ["! you are not logged in"]
    assert private.ask(guest, "/forget") == [
        "! usage: /forget messages (deletes what the room history keeps of your account, "
        "in every room)"]
    history = History(backend=backend)
    alice = history.user("alice")
    alice.read()
    history.net.hub.delivery = history.delivery.local  # a server without history
    alice.send("/forget messages")
    assert alice.read() == ["! this server keeps no history"]


def test_an_exact_block_leaves_out_a_row_without_an_events_id() -> None:
    from chatsvc.protocols.line.wire import private_history_block

    block = history_block("#rust", [(NOW, "alice", "edited", False, MESSAGE, "not-an-id"),
                                    (NOW, "bob", "fine", False, MESSAGE, "0" * 23 + "1")],
                          NOW, exact=True).decode().split("\r\n")
    assert block[0] == "* history of #rust (1) with ids"
    assert block[1].endswith("message] <bob> fine") and len(block) == 4
    private = private_history_block("bob", [(NOW, True, "alice", "x", False, "zz", False)],
                                    NOW, exact=True).decode().split("\r\n")
    assert private[:2] == ["* history with bob (0) with ids", HISTORY_END]


def test_a_block_that_cannot_be_rendered_is_unavailable_and_holds_nothing(
        monkeypatch: pytest.MonkeyPatch, backend) -> None:
    from chatsvc.protocols.line import protocol as line_protocol

    def broken(*args: Any, **kwargs: Any) -> bytes:
        raise ValueError("cannot render")

    history = History(backend=backend)
    alice = history.user("alice")
    alice.send("hello")
    history.settle()
    alice.read()
    monkeypatch.setattr(line_protocol, "history_block", broken)
    alice.send("/history")
    history.settle()
    bob = history.user("bob")
    bob.send("still live")
    lines = alice.read()
    assert lines[-3:] == ["! the history of #chat is unavailable", "* bob joined",
                          "<bob> still live"]


def test_the_web_forget_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatsvc.accounts import kdf

    monkeypatch.setattr(kdf, "N", 2 ** 10)
    private = forgetting()
    private.account("alice")  # registered, then gone
    web = private.net.web_user()
    web.read()
    web.send(type="forget", ref="f0")
    assert [(m["type"], m.get("code"), m.get("ref")) for m in web.read()] == [
        ("error", "not-logged-in", "f0")]
    web.send(type="login", name="alice", password="sesame-1", ref="l")
    private.settle()
    web.read()
    web.send(type="say", room="#chat", text="from the web")
    private.settle()
    web.read()
    web.send(type="forget", ref="f1")
    private.settle()
    assert [m for m in web.read() if m["type"] == "forgot"] == [
        {"type": "forgot", "count": 1, "ref": "f1"}]
    assert [m.text for m in _all(private, "#chat") if m.sender == "alice"] == []
