"""Private-message history (issue 18): kept only between two accounts, read
only by those two, never for guests, recorded once, pruned by age.

The history store runs on the hand-run L{Worker} (as in test_history.py);
the accounts' statements run synchronously on the same in-memory database,
with a cheap scrypt cost.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from support import LineUser, Net
from test_history import NOW, Worker, result_of

from chatsvc.accounts.rules import AccountRules
from chatsvc.accounts.store import AccountStore
from chatsvc.store.delivery import HistoryDelivery
from chatsvc.store.retention import Pruner, Retention
from chatsvc.store.sqlite import WRITE_DELAY, HistoryStore, StoredPrivate, migrate

pytestmark = pytest.mark.usefixtures("cheap_hashes")


def synchronous(function: Any, *args: Any) -> Any:
    from twisted.internet.defer import maybeDeferred

    return maybeDeferred(function, *args)


class Private:
    """A hub with accounts and history on one database (C{backend}'s, or
    SQLite in memory)."""

    def __init__(self, retention: Retention | None = None, backend: Any = None,
                 **settings: Any) -> None:
        self.net = Net(**settings)
        self.hub = self.net.hub
        self.clock = self.net.clock
        if backend is not None:  # conftest's fixture: SQLite in memory, or PostgreSQL
            self.connection = backend.connect()
        else:
            self.connection = sqlite3.connect(":memory:", check_same_thread=False,
                                              isolation_level=None)
            migrate(self.connection)
        self.worker = Worker()
        self.store = HistoryStore(self.connection, self.clock, run=self.worker)
        self.delivery = HistoryDelivery(self.store, 50, self.hub.delivery, retention=retention)
        self.hub.delivery = self.delivery
        # The accounts in the same store, as the server has them (tap.py).
        self.rules = AccountRules(self.hub, AccountStore(self.store), hasher=synchronous)
        self.hosts = 0

    def settle(self) -> None:
        """The write delay passes, the thread catches up, offline messages follow."""
        self.clock.advance(WRITE_DELAY)
        for _ in range(5):
            self.worker.run()
            self.clock.advance(0)

    def user(self, name: str | None = None) -> LineUser:
        # each from its own address: registrations are throttled per address
        self.hosts += 1
        user = self.net.line_user(name, f"198.51.100.{self.hosts}")
        self.settle()
        return user

    def account(self, name: str, password: str = "sesame-1") -> LineUser:
        user = self.user(name)
        user.read()
        user.send(f"/register {password}")
        self.settle()
        assert user.read() == [f"* registered {name}"]
        return user

    def ask(self, user: LineUser, *lines: str) -> list[str]:
        user.read()
        user.send(*lines)
        self.settle()
        return user.read()

    def between(self, first: str, second: str, count: int = 50) -> list[StoredPrivate]:
        reading = self.store.latest_private(first, second, count)
        self.worker.run()
        return result_of(reading)

    def rows(self) -> int:
        self.settle()
        return self.connection.execute("SELECT COUNT(*) FROM private_message").fetchone()[0]


def texts(messages: list[StoredPrivate]) -> list[tuple[str, str, str]]:
    return [(m.sender_key, m.sender, m.text) for m in messages]


# -- recording ----------------------------------------------------------------------


def test_a_message_between_two_accounts_is_kept_with_its_identity(backend) -> None:
    server = Private(backend=backend)
    alice, bob = server.account("alice"), server.account("bob")
    alice.send("@bob:hi bob", "@bob:/me waves")
    bob.send("@alice:hi alice")
    server.settle()
    stored = server.between("bob", "ALICE")
    assert texts(stored) == [("alice", "alice", "hi bob"), ("alice", "alice", "/me waves"),
                             ("bob", "bob", "hi alice")]
    assert NOW <= stored[0].time < NOW + 1 and stored[0].target == "bob"
    assert len({m.id for m in stored}) == 3 and all(m.id for m in stored)
    assert server.between("alice", "bob") == stored  # one conversation, either order


def test_guests_dms_are_not_kept(backend) -> None:
    server = Private(backend=backend)
    alice = server.account("alice")
    carol, dave = server.user("carol"), server.user("dave")
    alice.send("@carol:to a guest")
    carol.send("@alice:from a guest", "@dave:guest to guest")
    server.settle()
    assert "*carol* from a guest" in alice.read()
    assert "*carol* guest to guest" in dave.read()
    assert server.rows() == 0


def test_a_guest_recipient_with_echo_is_not_kept_as_a_message_to_oneself(backend) -> None:
    server = Private(backend=backend)
    alice = server.account("alice")
    server.user("carol")
    server.hub.whisper(alice.protocol, "carol", "echoed", echo=True)
    assert server.rows() == 0
    assert server.between("alice", "alice") == []


def test_an_echoed_message_is_kept_once(backend) -> None:
    server = Private(backend=backend)
    alice, bob = server.account("alice"), server.account("bob")
    server.hub.whisper(alice.protocol, "bob", "echoed", echo=True)
    assert "*alice* echoed" in bob.read() and "*alice* echoed" in alice.read()
    server.hub.whisper(alice.protocol, "alice", "note to self", echo=True)
    assert alice.read() == ["*alice* note to self", "*alice* note to self"]
    assert texts(server.between("alice", "bob")) == [("alice", "alice", "echoed")]
    assert texts(server.between("alice", "alice")) == [("alice", "alice", "note to self")]


def test_an_offline_message_is_kept_once_when_sent_not_again_when_delivered(backend) -> None:
    server = Private(backend=backend)
    alice, bob = server.account("alice"), server.account("bob")
    bob.drop()
    server.settle()
    assert server.ask(alice, "@bob:while you were out") == [
        "* bob is offline: your message will be delivered when they log in"]
    assert server.rows() == 1
    again = server.user()
    lines = server.ask(again, "/login bob sesame-1")
    assert lines[-1].endswith("*alice* while you were out")
    assert server.rows() == 1
    assert texts(server.between("alice", "bob")) == [("alice", "alice", "while you were out")]


def test_a_guest_that_logs_in_later_keeps_only_what_it_said_logged_in(backend) -> None:
    server = Private(backend=backend)
    bob = server.account("bob")
    server.ask(bob, "/logout")
    server.account("alice")
    assert server.ask(bob, "@alice:as a guest") == []
    server.ask(bob, "/login bob sesame-1")
    server.ask(bob, "@alice:as bob")
    assert texts(server.between("alice", "bob")) == [("bob", "bob", "as bob")]


def test_recording_does_not_make_the_send_wait(backend) -> None:
    server = Private(backend=backend)
    alice, bob = server.account("alice"), server.account("bob")
    alice.send("@bob:now")
    assert bob.read() == ["*alice* now"]  # delivered before anything is written
    assert server.worker.queue == [] and server.store.written == 0
    server.clock.advance(WRITE_DELAY)
    assert len(server.worker.queue) == 1  # one batch, with the room messages
    server.worker.run()
    assert server.store.written == 1


def test_hostile_text_is_kept_verbatim(backend) -> None:
    server = Private(backend=backend)
    alice, _ = server.account("alice"), server.account("bob")
    hostile = "'); DROP TABLE private_message; -- \x1b[31m <b>x</b> " + "é" * 100_000
    server.hub.whisper(alice.protocol, "bob", hostile)
    assert [m.text for m in server.between("alice", "bob")] == [hostile]


# -- retention -----------------------------------------------------------------------


def test_max_age_prunes_private_messages_too_and_hides_them_at_once(backend) -> None:
    retention = Retention(max_age=3600.0, max_rows=1)
    server = Private(retention=retention, backend=backend)
    alice, _ = server.account("alice"), server.account("bob")
    alice.send("@bob:old")
    server.clock.advance(1800)
    alice.send("@bob:newer", "@bob:newest")
    server.settle()
    server.clock.advance(1801)  # "old" is past the age: hidden before it is pruned
    reading = server.delivery.private_replay_of("bob", "alice", 10)
    server.worker.run()
    assert [m.text for m in result_of(reading)] == ["newer", "newest"]
    assert _drive(server, Pruner(server.store, retention, server.clock))
    # max-rows is per room: a conversation keeps what the age allows.
    assert [m.text for m in server.between("alice", "bob")] == ["newer", "newest"]


def _drive(server: Private, pruner: Pruner) -> bool:
    from twisted.internet.defer import ensureDeferred

    finished: list[object] = []
    ensureDeferred(pruner.prune()).addBoth(finished.append)
    for _ in range(20):
        if finished:
            break
        server.worker.run()
    return finished == [None]


def test_nothing_is_pruned_without_an_age(backend) -> None:
    server = Private(retention=Retention(max_rows=1), backend=backend)
    alice, _ = server.account("alice"), server.account("bob")
    alice.send("@bob:one", "@bob:two")
    server.settle()
    assert _drive(server, Pruner(server.store, server.delivery.retention, server.clock))
    assert server.rows() == 2



# -- reading: the line protocol's /history @name -------------------------------------


def _at(offset: float = 0.0) -> str:
    from chatsvc.protocols.line.wire import history_time

    return history_time(NOW + offset, NOW)


def test_history_with_a_name_shows_the_conversation_from_each_side(backend) -> None:
    server = Private(backend=backend)
    alice, bob = server.account("alice"), server.account("bob")
    server.ask(alice, "@bob:hi bob")
    server.ask(bob, "@alice:hi alice")
    server.hub.whisper(alice.protocol, "bob", "waves", action=True)
    server.settle()
    at = _at()
    assert server.ask(alice, "/history @bob") == [
        "* history with bob (3)", f"[{at}] -> *bob* hi bob", f"[{at}] *bob* hi alice",
        f"[{at}] -> *bob* *alice waves*", "* end of history"]
    assert server.ask(bob, "/history ALICE 2") == [
        "* history with ALICE (2)", f"[{at}] -> *ALICE* hi alice", f"[{at}] *alice waves*",
        "* end of history"]


def test_nobody_else_sees_a_conversation(backend) -> None:
    server = Private(backend=backend)
    alice, _, carol = server.account("alice"), server.account("bob"), server.account("carol")
    server.ask(alice, "@bob:only for bob")
    assert server.ask(carol, "/history @bob") == ["* no private history with bob"]
    assert server.ask(carol, "/history @alice") == ["* no private history with alice"]
    assert server.ask(carol, "/logout")[-1] == "* logged out of carol"
    assert server.ask(carol, "/history @alice") == ["! log in to see private history"]


def test_a_guest_is_refused_clearly(backend) -> None:
    server = Private(backend=backend)
    guest = server.user("guest")
    assert server.ask(guest, "/history @bob", "/history bob 3") == [
        "! log in to see private history", "! log in to see private history"]
    assert server.ask(guest, "/history @", "/history @bob x") == [
        "! usage: /history [#room|@name] [N]", "! usage: /history [#room|@name] [N]"]


def test_private_history_text_is_shown_as_text(backend) -> None:
    server = Private(backend=backend)
    alice, bob = server.account("alice"), server.account("bob")
    server.hub.whisper(alice.protocol, "bob", "evil\r\n* bob is an operator\x1b[2J\x07")
    server.settle()
    lines = server.ask(bob, "/history @alice")
    assert lines[0] == "* history with alice (1)" and len(lines) == 3
    assert lines[1].startswith(f"[{_at()}] *alice* evil") and "\x1b" not in lines[1]
    assert "\r" not in lines[1] and "\x07" not in lines[1]


# -- reading: the web protocol's history of a name ---------------------------------


def test_the_web_history_of_a_name_is_the_private_conversation(backend) -> None:
    server = Private(backend=backend)
    alice, _ = server.account("alice"), server.account("bob")
    server.ask(alice, "@bob:for bob's eyes", "/logout")
    web = server.net.web_user("guest")
    server.settle()
    web.read()
    web.send(type="history", target="alice", ref=1)
    server.settle()
    [refused] = web.read()
    assert (refused["type"], refused["code"], refused["ref"]) == ("error",
                                                                    "history-needs-login", 1)
    web.send(type="login", name="bob", password="sesame-1")
    server.settle()
    web.read()
    web.send(type="history", target="alice", limit=5, ref=2)
    server.settle()
    [answer] = web.read()
    assert (answer["type"], answer["target"], answer["ref"]) == ("history", "alice", 2)
    [kept] = answer["messages"]
    assert (kept["type"], kept["from"], kept["to"], kept["text"], kept["history"]) == (
        "private", "alice", "bob", "for bob's eyes", True)
    assert "self" not in kept and len(kept["id"]) == 24
    web.send(type="history", target="carol", ref=3)
    server.settle()
    assert web.read()[0]["messages"] == []


# -- privacy: dropping an account, the admin's view ------------------------------------


def test_dropping_an_account_deletes_its_conversations(backend) -> None:
    server = Private(backend=backend)
    alice, bob = server.account("alice"), server.account("bob")
    server.account("carol")
    server.ask(alice, "@bob:to bob")
    server.ask(bob, "@carol:to carol")
    assert server.rows() == 2
    alice.send("@bob:just before the drop", "/drop sesame-1")
    for _ in range(5):  # the drop is done before the write delay has passed
        server.worker.run()
        server.clock.advance(0)
    assert "* dropped the account alice" in alice.read()
    assert server.rows() == 1  # what was pending went first, then with the account
    # whoever registers the name next reads nothing of the old conversations
    assert server.ask(alice, "/register another-1") == ["* registered alice"]
    assert server.ask(alice, "/history @bob") == ["* no private history with bob"]
    assert texts(server.between("bob", "carol")) == [("bob", "bob", "to carol")]


def test_admin_stats_counts_private_messages_and_lists_none(tmp_path: Any) -> None:
    from chatsvc import admin
    from chatsvc.store.sqlite import open_database, prepare_directory

    connection = open_database(prepare_directory(str(tmp_path)))
    store = HistoryStore(connection, Net().clock, run=synchronous)
    for sender, recipient, text in (("alice", "bob", "secret one"), ("bob", "Alice", "two"),
                                    ("carol", "bob", "three")):
        from chatsvc.events import PrivateMessage

        store.record_private(PrivateMessage(sender, recipient, text, stamp=(NOW, 1)),
                             sender, recipient)
    store.stop()
    reading = admin.open_checked(str(tmp_path))
    lines = admin.stats(reading, str(tmp_path))
    assert lines[1] == "0 messages in 0 rooms"
    assert lines[-1] == "3 private messages in 2 conversations between accounts"
    assert not any("secret" in line or "alice" in line for line in lines)


# -- through a real twistd -------------------------------------------------------------


@pytest.mark.integration
def test_a_whisper_between_accounts_survives_a_restart(tmp_path: Any) -> None:
    from support import SocketUser, twistd_server
    from test_history_loopback import lines_until

    data = tmp_path / "data"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with twistd_server(first, "--data-dir", str(data)) as (port, _):
        alice, bob = SocketUser(port, "alice"), SocketUser(port, "bob")
        alice.send("/register sesame-alice")
        alice.expect("* registered alice")
        bob.send("/register sesame-bob")
        bob.expect("* registered bob")
        guest = SocketUser(port, "carol")
        alice.send("@bob:kept'); DROP TABLE private_message; --")
        bob.expect("*alice* kept'); DROP TABLE private_message; --")
        bob.send("@alice:kept too")
        alice.expect("*bob* kept too")
        guest.send("@alice:a guest's, not kept")
        alice.expect("*carol* a guest's, not kept")
        for user in (alice, bob, guest):
            user.close()
    with twistd_server(second, "--data-dir", str(data)) as (port, _):
        alice = SocketUser(port)
        alice.send("/login alice sesame-alice")
        lines_until(alice, "* logged in as alice")
        alice.send("/history @bob")
        lines = lines_until(alice, "* end of history")
        block = lines[lines.index("* history with bob (2)"):]
        assert [line.split("] ", 1)[1] for line in block[1:-1]] == [
            "-> *bob* kept'); DROP TABLE private_message; --", "*bob* kept too"]
        alice.send("/history @carol")
        alice.expect("* no private history with carol")
        stranger = SocketUser(port, "dave")
        stranger.send("/history @alice")
        stranger.expect("! log in to see private history")
        alice.close()
        stranger.close()


def test_the_client_parses_a_private_history_block_both_ways() -> None:
    from chatsvc.events import Notice, PrivateMessage
    from chatsvc.protocols.line.wire import LineParser, private_history_block

    block = private_history_block("bob", [(NOW, True, "alice", "yes", False),
                                          (NOW, True, "alice", "waves", True),
                                          (NOW, False, "bob", "hi", False)], NOW)
    parser = LineParser(me="alice", now=lambda: NOW + 60)
    events = [parser.parse(line) for line in block.decode().splitlines()]
    assert events[0] == Notice("history with bob (3)") and events[-1] == Notice("end of history")
    assert events[1:-1] == [PrivateMessage("alice", "bob", "yes", delayed=True),
                            PrivateMessage("alice", "bob", "waves", True, delayed=True),
                            PrivateMessage("bob", "alice", "hi", delayed=True)]
    assert all(event.time == NOW - 20 for event in events[1:-1])  # to the minute (22:13)


def test_a_schema_2_database_gains_the_table_and_keeps_its_rows(tmp_path: Any) -> None:
    from chatsvc.store.sqlite import MIGRATIONS, SCHEMA_VERSION, open_database

    path = str(tmp_path / "old.sqlite3")
    old = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:2]:  # what the previous release ran
        for statement in step:
            old.execute(statement)
    old.execute("PRAGMA user_version=2")
    old.execute("INSERT INTO room_message (id, room_key, room, time, sender, text, action, "
                "notice) VALUES ('x', '#rust', '#rust', 1, 'alice', 'kept', 0, 0)")
    old.close()
    connection = open_database(path)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert connection.execute("SELECT text FROM room_message").fetchall() == [("kept",)]
    assert connection.execute("SELECT COUNT(*) FROM private_message").fetchone() == (0,)
