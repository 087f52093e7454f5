"""Room history (issue 18, first slice): the SQLite store, the recording
delivery, replay on joining and /history on the line protocol, and the
client-side parsing of history lines.

The store's worker thread is replaced by L{Worker}, which runs the queued
calls when a test says so, in order, as the one real thread would: so the
tests choose exactly when a read completes relative to live messages.  One
test runs the real thread (L{test_real_thread_writes_and_reads}).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from support import LineUser, Net
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock

from chatsvc.events import Notice, RoomMessage
from chatsvc.protocols.line.wire import (
    LineParser,
    history_block,
    history_line,
    parse_history_time,
)
from chatsvc.service import tap
from chatsvc.store.delivery import HistoryDelivery, history_of
from chatsvc.store.sqlite import (
    BATCH_LIMIT,
    SCHEMA_VERSION,
    WRITE_DELAY,
    HistoryStore,
    StoreError,
    migrate,
    open_database,
    prepare_directory,
)

# Net's clock: 2023-11-14 22:13:20 UTC.
NOW = 1_700_000_000.0


class Worker:
    """The store's one thread, run by hand: calls queue until L{run}."""

    def __init__(self) -> None:
        self.queue: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []

    def __call__(self, function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        self.queue.append((function, args, done))
        return done

    def run(self) -> None:
        """Run every queued call, in order (as the thread would, FIFO)."""
        while self.queue:
            function, args, done = self.queue.pop(0)
            maybeDeferred(function, *args).chainDeferred(done)


def memory_store(clock: Any, run: Callable[..., Deferred[Any]] | None = None,
                 backend: Any = None) -> HistoryStore:
    """A store on a fresh database of C{backend} (conftest's fixture; C{None}:
    SQLite in memory)."""
    if backend is None:
        connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        migrate(connection)
    else:
        connection = backend.connect()
    return HistoryStore(connection, clock, run=run or (lambda f, *a: maybeDeferred(f, *a)))


def message(room: str, sender: str, text: str, at: float = NOW, serial: int = 1,
            action: bool = False) -> RoomMessage:
    return RoomMessage(room, sender, text, action, stamp=(at, serial))


def result_of(deferred: Deferred[Any]) -> Any:
    got: list[Any] = []
    deferred.addBoth(got.append)
    assert got, "the Deferred has not fired"
    return got[0]


# -- the store ------------------------------------------------------------------


def test_messages_are_written_in_one_batch_after_the_write_delay(backend) -> None:
    clock, worker = Clock(), Worker()
    store = memory_store(clock, worker, backend=backend)
    for serial in range(1, 4):
        store.record(message("#rust", "alice", f"m{serial}", serial=serial))
    clock.advance(WRITE_DELAY * 0.9)
    assert worker.queue == []  # waiting for more to share the transaction
    clock.advance(WRITE_DELAY * 0.1)
    assert len(worker.queue) == 1  # one transaction for the three
    worker.run()
    assert (store.batches, store.written) == (1, 3)
    texts = [m.text for m in result_of(_read(store, worker, "#rust", 10))]
    assert texts == ["m1", "m2", "m3"]


def test_a_full_batch_is_written_without_waiting(backend) -> None:
    clock, worker = Clock(), Worker()
    store = memory_store(clock, worker, backend=backend)
    for serial in range(1, BATCH_LIMIT + 2):
        store.record(message("#rust", "alice", f"m{serial}", serial=serial))
    assert len(worker.queue) == 1  # the first BATCH_LIMIT, at once
    clock.advance(WRITE_DELAY)
    assert len(worker.queue) == 2  # and the one after, on the delay
    worker.run()
    assert (store.batches, store.written) == (2, BATCH_LIMIT + 1)
    assert clock.getDelayedCalls() == []


def _read(store: HistoryStore, worker: Worker, room: str, count: int) -> Deferred[Any]:
    reading = store.latest(room, count)
    worker.run()
    return reading


def test_a_read_sees_every_message_recorded_before_it(backend) -> None:
    """No reactor turn between the message and the read: the read sends the
    pending batch first, so it still sees it (what replay on join relies on)."""
    clock, worker = Clock(), Worker()
    store = memory_store(clock, worker, backend=backend)
    store.record(message("#rust", "alice", "just now"))
    reading = store.latest("#rust", 5)
    store.record(message("#rust", "alice", "after the read", serial=2))
    worker.run()
    assert [m.text for m in result_of(reading)] == ["just now"]


def test_latest_is_the_last_n_oldest_first_and_per_room_ignoring_case(backend) -> None:
    store = memory_store(Clock(), backend=backend)
    for serial in range(1, 8):
        store.record(message("#Rust" if serial % 2 else "#go", "bob", f"m{serial}",
                             at=NOW + serial, serial=serial))
    messages = result_of(store.latest("#rust", 3))
    assert [(m.room, m.text, m.time) for m in messages] == [
        ("#Rust", "m3", NOW + 3), ("#Rust", "m5", NOW + 5), ("#Rust", "m7", NOW + 7)]
    assert messages[0].id == message("#Rust", "bob", "", at=NOW + 3, serial=3).id


def test_hostile_text_is_stored_and_read_verbatim(backend) -> None:
    store = memory_store(Clock(), backend=backend)
    hostile = ["'); DROP TABLE room_message; --", "%_\\' OR 1=1 --", '"quoted" ;',
               "x" * (100 * 1024), "\x00nul\r\nbreak\x1b[31m", "‮ünïcødé 🎉"]
    for serial, text in enumerate(hostile, 1):
        store.record(message("#rust", "robert", text, serial=serial, action=serial == 2))
    stored = result_of(store.latest("#rust", 10))
    if backend.postgres:  # its text holds no NUL (chatsvc.store.postgres._storable)
        hostile = [text.replace("\x00", "\ufffd") for text in hostile]
    assert [m.text for m in stored] == hostile
    assert [m.action for m in stored] == [False, True, False, False, False, False]
    assert result_of(store.latest("'; DROP TABLE room_message; --", 5)) == []


def test_messages_of_a_closed_room_are_shown_only_in_that_room(backend) -> None:
    store = memory_store(Clock(), backend=backend)
    store.record(message("#rust", "alice", "open", serial=1))
    store.record(message("#rust", "alice", "closed", serial=2), private_to=100.0)
    assert [m.text for m in result_of(store.latest("#rust", 5, 100.0))] == ["open", "closed"]
    assert [m.text for m in result_of(store.latest("#rust", 5, 200.0))] == ["open"]
    assert [m.text for m in result_of(store.latest("#rust", 5))] == ["open"]


def test_a_fresh_database_is_migrated_to_the_current_version(tmp_path) -> None:
    connection = open_database(prepare_directory(str(tmp_path / "data")))
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()
    # Opening again migrates nothing and keeps what is there.
    again = open_database(str(tmp_path / "data" / "history.sqlite3"))
    assert migrate(again) == SCHEMA_VERSION
    again.close()


def test_a_database_from_a_newer_chatsvc_is_refused(tmp_path) -> None:
    path = prepare_directory(str(tmp_path))
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StoreError, match="newer than this chatsvc"):
        open_database(path)


def test_a_corrupt_database_is_one_clear_line(tmp_path) -> None:
    (tmp_path / "history.sqlite3").write_bytes(b"not a database at all" * 300)
    with pytest.raises(StoreError) as caught:
        open_database(prepare_directory(str(tmp_path)))
    assert "file is not a database" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_data_dir_that_is_a_file_is_refused(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        prepare_directory(str(tmp_path / "file"))


def test_an_unwritable_data_dir_is_refused(tmp_path, monkeypatch) -> None:
    """What the server says for a directory it may not write to.

    The permission is the kernel's answer (os.access), faked here: CI runs as
    root, which may write anywhere, so a chmod would prove nothing there.
    """
    import os

    from chatsvc.store import sqlite

    directory = tmp_path / "data"
    directory.mkdir()
    real_access = os.access
    monkeypatch.setattr(sqlite.os, "access", lambda path, mode: (
        False if str(path) == str(directory) else real_access(path, mode)))
    with pytest.raises(StoreError, match="not writable"):
        prepare_directory(str(directory))


@pytest_twisted.ensureDeferred
async def test_real_thread_writes_and_reads(tmp_path, backend) -> None:
    from twisted.internet import reactor

    store = HistoryStore.open(str(tmp_path), reactor,
                              backend.url if backend.postgres else "sqlite")
    store.start()
    try:
        store.record(message("#rust", "alice", "on the thread"))
        messages = await store.latest("#rust", 5)
        assert [m.text for m in messages] == ["on the thread"]
    finally:
        await store.stop()
    assert store._pool is not None and not store._pool.started


# -- the service's options -------------------------------------------------------


def parse(*argv: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", *argv])
    return options


def test_data_dir_none_keeps_no_history() -> None:
    options = parse("--data-dir", "none")
    root = tap.makeService(options)
    assert history_of(root.hub.delivery) is None  # type: ignore[attr-defined]


def test_a_data_dir_turns_history_on(tmp_path) -> None:
    options = parse("--data-dir", str(tmp_path / "d"), "--history-replay", "7")
    root = tap.makeService(options)
    history = history_of(root.hub.delivery)  # type: ignore[attr-defined]
    assert history is not None and history.replay == 7
    assert (tmp_path / "d" / "history.sqlite3").exists()
    history.store.connection.close()


def test_the_default_data_dir_is_beside_the_server() -> None:
    assert tap.DEFAULT_DATA_DIR == "./chatsvc-data"


@pytest.mark.parametrize("value", ["-1", "501", "lots"])
def test_bad_history_replay_is_one_line(value) -> None:
    with pytest.raises(tap.StartupFailure) as caught:
        parse("--data-dir", "none", "--history-replay", value)
    assert "--history-replay" in str(caught.value.code)


def test_a_corrupt_data_dir_stops_start_up_with_one_line(tmp_path) -> None:
    (tmp_path / "history.sqlite3").write_bytes(b"garbage" * 1000)
    with pytest.raises(tap.StartupFailure) as caught:
        tap.makeService(parse("--data-dir", str(tmp_path)))
    text = str(caught.value.code)
    assert text.startswith("twistd chat: --data-dir: ") and "file is not a database" in text
    assert "\n" not in text


# -- recording and replay on the line protocol --------------------------------------


class History:
    """A Net whose hub keeps history in memory, on a hand-run worker."""

    def __init__(self, replay: int = 50, backend: Any = None, **settings: Any) -> None:
        self.net = Net(**settings)
        self.worker = Worker()
        self.store = memory_store(self.net.hub.clock, self.worker, backend=backend)
        self.delivery = HistoryDelivery(self.store, replay, self.net.hub.delivery)
        self.net.hub.delivery = self.delivery

    def settle(self) -> None:
        """The write delay passes and the thread catches up."""
        self.net.hub.clock.advance(WRITE_DELAY)
        self.worker.run()

    def user(self, name: str) -> LineUser:
        user = self.net.line_user()
        user.send(f"#{name}")
        self.settle()
        return user


def test_room_messages_are_recorded_and_private_ones_are_not(backend) -> None:
    history = History(backend=backend)
    alice, bob = history.user("alice"), history.user("bob")
    alice.send("hello all", "/me waves", "@bob:psst")
    history.settle()
    reading = history.store.latest("#chat", 10)
    history.worker.run()
    stored = result_of(reading)
    assert [(m.sender, m.text, m.action) for m in stored] == [
        ("alice", "hello all", False), ("alice", "waves", True)]
    assert "*alice* psst" in bob.read()


def test_joining_shows_the_last_messages_between_markers(backend) -> None:
    history = History(replay=2, backend=backend)
    alice = history.user("alice")
    alice.send("one", "two", "/me waves")
    history.settle()
    bob = history.user("bob")
    lines = bob.read()
    start = lines.index("* history of #chat (2)")
    assert lines[start:] == ["* history of #chat (2)", "[22:13] <alice> two",
                             "[22:13] * alice waves", "* end of history"]
    assert lines[start - 1] == "* #chat keeps history"
    assert lines[start - 2].startswith("* you are in #chat with 1 other")


def test_an_empty_room_shows_no_history_block(backend) -> None:
    history = History(backend=backend)
    alice = history.user("alice")
    lines = alice.read()
    assert not any(line.startswith(("* history of", "* end of history")) for line in lines)
    assert lines[-1] == "* #chat keeps history"


def test_replay_zero_shows_none_on_join_but_history_still_answers(backend) -> None:
    history = History(replay=0, backend=backend)
    alice = history.user("alice")
    alice.send("kept")
    history.settle()
    bob = history.user("bob")
    lines = bob.read()
    assert not any(line.startswith(("* history of", "* end of history")) for line in lines)
    assert lines[-1] == "* #chat keeps history"
    bob.send("/history 5")
    history.settle()
    assert bob.read() == ["* history of #chat (1)", "[22:13] <alice> kept",
                          "* end of history"]


def test_live_messages_during_the_read_come_after_the_history(backend) -> None:
    """The read is still on the thread when alice speaks: bob sees the
    history, then her new line, each once, in that order."""
    history = History(backend=backend)
    alice = history.user("alice")
    alice.send("before")
    history.settle()
    bob = history.net.line_user()
    bob.send("#bob")  # the replay's read is queued, not run
    alice.send("during", "/me nods")
    history.settle()
    lines = bob.read()
    tail = lines[lines.index("* history of #chat (1)"):]
    assert tail == ["* history of #chat (1)", "[22:13] <alice> before", "* end of history",
                    "<alice> during", "* alice nods"]


def test_nothing_reaches_the_joiner_before_its_history(backend) -> None:
    history = History(backend=backend)
    alice = history.user("alice")
    alice.send("before")
    history.settle()
    bob = history.net.line_user()
    bob.send("#bob")
    before = bob.read()
    alice.send("during")
    assert bob.read() == []  # held while the history is read
    assert any(line.startswith("* you are in #chat") for line in before)
    history.settle()
    assert bob.read() == ["* history of #chat (1)", "[22:13] <alice> before",
                          "* end of history", "<alice> during"]


def test_two_joins_in_a_row_keep_each_history_in_its_place(backend) -> None:
    history = History(backend=backend)
    alice = history.user("alice")
    alice.send("in chat")
    alice.send("/join #rust", "in rust")
    alice.send("/join #chat")
    history.settle()
    bob = history.user("bob")
    bob.read()
    bob.send("/join #rust")
    alice.send("live in chat")  # bob has left #chat: not for him
    bob.send("/join #chat")
    alice.send("live again")
    history.settle()
    lines = [line for line in bob.read() if "history" in line or line.startswith(("<", "["))]
    assert lines == [
        "* #rust keeps history",
        "* history of #rust (1)", "[22:13] <alice> in rust", "* end of history",
        "* #chat keeps history", "* history of #chat (2)", "[22:13] <alice> in chat",
        "[22:13] <alice> live in chat",
        "* end of history", "<alice> live again",
    ]


def test_hostile_text_is_replayed_as_text(backend) -> None:
    history = History(backend=backend)
    alice = history.user("alice")
    long = "y" * 3000
    alice.send("'; DROP TABLE room_message; --", long, "a\x1b[31mred\x07bell")
    history.settle()
    bob = history.user("bob")
    lines = bob.read()
    start = lines.index("* history of #chat (3)")
    assert lines[start + 1:start + 4] == [
        "[22:13] <alice> '; DROP TABLE room_message; --", f"[22:13] <alice> {long}",
        "[22:13] <alice> a[31mredbell"]


def test_history_command_counts_and_other_rooms(backend) -> None:
    history = History(backend=backend)
    alice = history.user("alice")
    for n in range(5):
        alice.send(f"m{n}")
    # An IRC user holds the rooms alice visits, so that they last.
    keeper = history.net.irc_user("keeper", channels="#open,#closed,#hidden")
    for room in ("open", "closed", "hidden"):
        alice.send(f"/join #{room}", f"in {room}", "stuff" if room != "open" else "fine")
    keeper.send("MODE #closed +i", "MODE #hidden +s")
    alice.send("/join #chat")
    history.settle()
    bob = history.user("bob")
    bob.read()
    bob.send("/history 2")
    history.settle()
    assert bob.read() == ["* history of #chat (2)", "[22:13] <alice> m3",
                          "[22:13] <alice> m4", "* end of history"]
    assert not any("stuff" in line for line in bob.read())
    bob.send("/history #open")
    history.settle()
    assert bob.read() == ["* history of #open (2)", "[22:13] <alice> in open",
                          "[22:13] <alice> fine", "* end of history"]
    bob.send("/history #closed", "/history #hidden", "/history #nowhere", "/history x y")
    history.settle()
    assert bob.read() == ["! you are not in #closed", "! no such room: #hidden",
                          "! no such room: #nowhere", "! usage: /history [#room|@name] [N]"]


def test_a_new_room_of_the_same_name_never_shows_a_closed_rooms_talk(backend) -> None:
    """Said in #club while it was invite-only: shown to whoever joins that
    room while it lasts (they were invited), never to whoever makes a new
    #club once it emptied (room modes do not outlive the room)."""
    history = History(backend=backend)
    alice, bob = history.user("alice"), history.user("bob")
    alice.send("/join #club", "before the rules", "/mode +i", "members only", "/invite bob")
    history.settle()
    bob.read()
    bob.send("/join #club")
    history.settle()
    assert "[22:13] <alice> members only" in bob.read()
    alice.send("/part", "/me leaves")
    bob.send("/part")  # #club empties: it is gone
    history.net.hub.clock.advance(60)
    carol = history.user("carol")
    carol.send("/join #club")
    history.settle()
    lines = carol.read()
    assert "[22:13] <alice> before the rules" in lines
    assert not any("members only" in line for line in lines)


def test_history_on_a_server_without_a_store() -> None:
    net = Net()
    alice = net.line_user("alice")
    alice.send("/history")
    assert alice.read() == ["! this server keeps no history"]


def test_the_rooms_own_spelling_is_shown_and_times_carry_a_date_when_old(backend) -> None:
    history = History(backend=backend)
    history.store.record(message("#chat", "old", "last year", at=NOW - 400 * 86400))
    history.settle()
    bob = history.user("bob")
    assert "[2022-10-10 22:13] <old> last year" in bob.read()


# -- rendering and parsing history lines ---------------------------------------------


def test_history_lines_render_as_text() -> None:
    assert history_line(NOW, "alice", "hi\r\nthere\x00", False, NOW) == "[22:13] <alice> hithere"
    assert history_line(NOW - 86400, "bob", "waves", True, NOW) == "[2023-11-13 22:13] * bob waves"


def test_the_client_parser_reads_history_back_with_times() -> None:
    block = history_block("#rust", [(NOW - 60, "alice", "hi <b>", False),
                                    (NOW - 2 * 86400, "bob", "waves", True)], NOW)
    parser = LineParser(now=lambda: NOW)
    events = [parser.parse(line) for line in block.decode().split("\r\n")[:-1]]
    assert events == [Notice("history of #rust (2)"), RoomMessage("#rust", "alice", "hi <b>"),
                      RoomMessage("#rust", "bob", "waves", True), Notice("end of history")]
    assert [event.time for event in events] == [0.0, NOW - 60 - 20, NOW - 2 * 86400 - 20, 0.0]
    # Outside a block, the same line is no history.
    assert parser.parse("[22:12] <alice> hi") == Notice("[22:12] <alice> hi")


def test_a_time_without_a_date_is_never_in_the_future() -> None:
    # 23:59 seen at 00:10 UTC: yesterday's.
    midnight = float(time.mktime((2023, 11, 15, 0, 10, 0, 0, 0, 0)) - time.timezone)
    assert parse_history_time(None, "23:59", midnight) == midnight - 11 * 60


def test_a_busy_room_stops_holding_and_the_history_follows(monkeypatch, backend) -> None:
    """Past HOLD_LIMIT held events the live lines go out; the history comes
    when it is read, still between its markers."""
    from chatsvc.conn import holding

    monkeypatch.setattr(holding, "HOLD_LIMIT", 4)  # the replay and three events
    history = History(backend=backend)
    alice = history.user("alice")
    alice.send("old")
    history.settle()
    bob = history.net.line_user()
    bob.send("#bob")
    bob.read()
    alice.send("a", "b", "c")
    assert bob.read() == []
    alice.send("d")  # the fourth held event: stop waiting
    assert bob.read() == ["<alice> a", "<alice> b", "<alice> c", "<alice> d"]
    alice.send("e")
    assert bob.read() == ["<alice> e"]
    history.settle()
    assert bob.read() == ["* history of #chat (1)", "[22:13] <alice> old", "* end of history"]
