"""Registered rooms (issue 18): the hub's rules, the store's statements and the
line protocol's commands, in memory.

A registered room stays when it empties, keeps its topic, rules, key, limit
and lists across a restart (a new hub over the same database), and gives
operator status by account: to its founder and the accounts on its list,
only when logged in to them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from support import LineUser
from test_accounts import Server, memory_connection
from twisted.internet.defer import Deferred, fail

from chatsvc.hub.registered import RoomRegistry, RoomState
from chatsvc.store import rooms as statements
from chatsvc.store.rooms import RoomStore
from chatsvc.store.sqlite import SCHEMA_VERSION, migrate

HOSTILE_TOPIC = "x'); DROP TABLE registered_room; -- \" ? %s"


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def server(backend: Any) -> Server:
    """The hub over a fresh database of each backend (conftest's fixture)."""
    return Server(backend.connect())


def founder_in(server: Server, room: str = "#rust", name: str = "alice") -> LineUser:
    """C{name}, with an account, logged in, the operator of a new C{room}."""
    user = server.account(name)
    lines = server.ask(user, f"/join {room}")
    assert any(line.startswith(f"* you joined {room}") for line in lines), lines
    return user


def registered(server: Server, room: str = "#rust", name: str = "alice") -> LineUser:
    user = founder_in(server, room, name)
    assert server.ask(user, f"/register {room}") == [f"* registered {room}"]
    return user


def restarted(server: Server) -> Server:
    """A new hub over the same database: the server after a restart."""
    return Server(server.connection)


def leave_all(server: Server, *users: LineUser) -> None:
    for user in users:
        user.drop()
    server.clock.advance(0)


# -- registering --------------------------------------------------------------------


def test_register_keeps_the_room_when_it_empties(server: Server) -> None:
    alice = registered(server)
    server.ask(alice, "/topic Rust, the language")
    leave_all(server, alice)
    room = server.hub.room_named("#rust")
    assert room is not None and len(room) == 0 and room.registered
    bob = server.user("bob")
    assert server.ask(bob, "/rooms") == ["* rooms (2): #chat (1), #rust (0) Rust, the language"]
    assert server.ask(bob, "/join #rust") == ["* you joined #rust (1 here)",
                                              "* topic of #rust: Rust, the language"]
    # The first to join a registered room is not its operator for that.
    assert bob.protocol not in room.operators


def test_an_unregistered_room_still_goes_when_it_empties(server: Server) -> None:
    alice = founder_in(server)
    leave_all(server, alice)
    assert server.hub.room_named("#rust") is None


def test_register_refusals(server: Server) -> None:
    guest = server.user("guest")
    server.ask(guest, "/join #rust")
    assert server.ask(guest, "/register #rust") == [
        "! you must be logged in to register a room"]
    bob = server.account("bob")
    assert server.ask(bob, "/register #rust") == ["! you are not an operator of #rust"]
    server.ask(bob, "/join #rust")
    assert server.ask(bob, "/register #rust") == ["! you are not an operator of #rust"]
    assert server.ask(bob, "/register #nowhere") == ["! no such room: #nowhere"]
    assert server.ask(bob, "/register #a #b") == ["! usage: /register #room"]
    carol = registered(server, "#go", "carol")
    assert server.ask(carol, "/register #GO") == ["! #go is registered already"]


def test_a_secret_room_cannot_be_registered_from_outside(server: Server) -> None:
    alice = founder_in(server, "#hidden")
    server.ask(alice, "/mode +s")
    bob = server.account("bob")
    assert server.ask(bob, "/register #hidden") == ["! no such room: #hidden"]


def test_a_server_operator_logged_in_may_register_any_room(server: Server) -> None:
    founder_in(server)
    root = server.account("root")
    server.hub.opers.add(root.protocol)
    assert server.ask(root, "/register #rust") == ["* registered #rust"]
    assert server.registry.registrations["#rust"].founder == "root"


def test_without_accounts_there_are_no_registered_rooms() -> None:
    from support import Net

    net = Net()
    alice = net.line_user("alice")
    alice.read()
    alice.send("/join #rust", "/register #rust")
    assert alice.read()[-1] == "! this server keeps no accounts"


# -- operators by account -------------------------------------------------------------


def test_the_founder_gets_operator_status_on_joining(server: Server) -> None:
    alice = registered(server)
    server.ask(alice, "/part")
    bob = server.user("bob")
    server.ask(bob, "/join #rust")
    lines = server.ask(alice, "/join #rust")
    assert "* ChanServ gives operator status to alice in #rust" in lines
    assert bob.read() == ["* alice joined #rust from #chat",
                          "* ChanServ gives operator status to alice in #rust"]
    room = server.hub.room_named("#rust")
    assert room is not None and alice.protocol in room.operators


def test_the_same_name_without_the_account_gets_nothing(server: Server) -> None:
    alice = registered(server)
    server.ask(alice, "/mode +k sesame")
    alice.drop()
    impostor = server.user("alice")  # the name, not the account: told to log in
    assert server.ask(impostor, "/join #rust") == ["! bad key for #rust"]
    lines = server.ask(impostor, "/join #rust sesame")
    assert not any("operator" in line for line in lines)
    room = server.hub.room_named("#rust")
    assert room is not None and impostor.protocol not in room.operators


def test_account_operators_pass_the_key_the_ban_the_limit_and_invite_only(
        server: Server) -> None:
    alice = registered(server)
    server.ask(alice, "/mode +iklb sesame 1 *!*@198.51.100.*")
    leave_all(server, alice)
    bob = server.user("bob")
    assert server.ask(bob, "/join #rust sesame") == ["! you are banned from #rust"]
    again = server.user()
    lines = server.ask(again, "/login alice sesame-1", "/join #rust")
    assert "* ChanServ gives operator status to alice in #rust" in lines


def test_amode_puts_an_account_on_the_operator_list(server: Server) -> None:
    alice = registered(server)
    bob = server.account("bob")
    server.ask(bob, "/join #rust")
    assert server.ask(bob, "/amode #rust +o bob") == [
        "! only the founder of #rust or a server operator may do that"]
    lines = server.ask(alice, "/amode #rust +o BOB")
    assert lines == ["* ChanServ gives operator status to bob in #rust",
                     "* bob is an operator of #rust by account"]
    assert server.ask(alice, "/amode #rust +o bob") == [
        "* nothing changed on #rust: it was already so"]
    assert server.ask(alice, "/roominfo") == [
        "* #rust is registered to alice (for 0 s); operator accounts: bob"]
    assert server.ask(alice, "/amode #rust +o nobody") == ["! no such account: nobody"]
    assert server.ask(alice, "/amode #rust +x bob") == [
        "! usage: /amode #room +o account (or -o)"]
    server.ask(bob, "/part")
    lines = server.ask(bob, "/join #rust")
    assert "* ChanServ gives operator status to bob in #rust" in lines
    lines = server.ask(alice, "/amode #rust -o bob")
    assert lines == ["* ChanServ takes operator status from bob in #rust",
                     "* bob is no longer an operator of #rust by account"]
    assert server.ask(alice, "/amode #rust") == [
        "* #rust is registered to alice (for 0 s); operator accounts: none"]


def test_roominfo_of_an_unregistered_room(server: Server) -> None:
    alice = founder_in(server)
    assert server.ask(alice, "/roominfo") == ["! #rust is not registered"]
    assert server.ask(alice, "/roominfo #nowhere") == ["! no such room: #nowhere"]


# -- dropping ---------------------------------------------------------------------------


def test_only_the_founder_or_a_server_operator_may_drop(server: Server) -> None:
    alice = registered(server)
    bob = server.account("bob")
    server.ask(bob, "/join #rust")
    server.ask(alice, "/op bob")
    assert server.ask(bob, "/unregister #rust") == [
        "! only the founder of #rust or a server operator may do that"]
    assert server.ask(alice, "/drop #rust") == ["* #rust is no longer registered"]
    assert server.ask(alice, "/unregister #rust") == ["! #rust is not registered"]
    leave_all(server, alice, bob)
    assert server.hub.room_named("#rust") is None


def test_dropping_an_empty_room_removes_it(server: Server) -> None:
    alice = registered(server)
    server.ask(alice, "/part")
    assert server.hub.room_named("#rust") is not None
    assert server.ask(alice, "/unregister #rust") == ["* #rust is no longer registered"]
    assert server.hub.room_named("#rust") is None
    assert statements.names(server.connection) == []


def test_a_server_operator_may_drop_any_registration(server: Server) -> None:
    registered(server)
    root = server.user("root")
    server.hub.opers.add(root.protocol)
    assert server.ask(root, "/unregister #rust") == ["* #rust is no longer registered"]


def test_an_accounts_rooms_go_with_the_account(server: Server) -> None:
    alice = registered(server)
    registered(server, "#go", "carol")
    carol_room = server.registry.registrations["#go"]
    server.ask(alice, "/amode #rust +o carol")
    server.ask(alice, "/part")
    assert server.ask(alice, "/drop sesame-1") == ["* dropped the account alice"]
    assert server.hub.room_named("#rust") is None
    assert [name for name, _, _ in statements.names(server.connection)] == ["#go"]
    assert carol_room.founder == "carol"
    # Whoever registers the name next gets no room with it.
    assert server.ask(alice, "/register sesame-2") == ["* registered alice"]
    assert server.ask(alice, "/roominfo #rust") == ["! no such room: #rust"]


def test_an_accounts_place_on_operator_lists_goes_with_it(server: Server) -> None:
    alice = registered(server)
    bob = server.account("bob")
    server.ask(alice, "/amode #rust +o bob")
    assert server.ask(bob, "/drop sesame-1") == ["* dropped the account bob"]
    assert server.registry.registrations["#rust"].operators == {}
    [state] = statements.load(server.connection, 10)
    assert state.operators == ()


# -- restarts -----------------------------------------------------------------------------


def test_a_restart_keeps_topic_rules_key_limit_lists_and_operators(server: Server) -> None:
    alice = registered(server, "#Rust")
    server.account("bob").drop()
    server.ask(alice, f"/topic {HOSTILE_TOPIC}",
               "/mode +mik-t sesame", "/mode +l 5",
               "/mode +b *!*@spam.example", "/mode +e friend!*@*", "/mode +I *!*@friends.example",
               "/amode #rust +o bob")
    room = server.hub.room_named("#rust")
    assert room is not None
    created, topic_at = room.created, room.topic_at
    server.clock.advance(3600)
    after = restarted(server)
    room = after.hub.room_named("#RUST")
    assert room is not None and room.registered and len(room) == 0
    assert room.name == "#Rust" and room.created == created
    assert (room.topic, room.topic_by, room.topic_at) == (HOSTILE_TOPIC, "alice", topic_at)
    assert room.mode_string() == "+imnkl sesame 5"
    assert [entry.mask for entry in room.bans] == ["*!*@spam.example"]
    assert [entry.mask for entry in room.exceptions] == ["friend!*@*"]
    assert [entry.mask for entry in room.invite_exceptions] == ["*!*@friends.example"]
    assert after.hub.list_entries == 3
    registration = after.registry.registrations["#rust"]
    assert registration.founder == "alice" and list(registration.operators) == ["bob"]
    # The key is enforced, and the founder passes it and gets operator status.
    guest = after.user("guest", host="203.0.113.50")
    assert after.ask(guest, "/join #rust") == ["! #Rust is invite-only"]
    founder = after.user()
    lines = after.ask(founder, "/login alice sesame-1", "/join #rust")
    assert "* ChanServ gives operator status to alice in #Rust" in lines
    spammer = after.user("spammer", host="spam.example")
    after.ask(founder, "/invite spammer")
    assert after.ask(spammer, "/join #rust") == ["! you are banned from #Rust"]


def test_a_restart_keeps_what_changed_after_registering(server: Server) -> None:
    alice = registered(server)
    server.ask(alice, "/mode +b *!*@one.example", "/mode +b *!*@two.example",
               "/mode -b *!*@one.example", "/topic first", "/topic second", "/mode -n")
    after = restarted(server)
    room = after.hub.room_named("#rust")
    assert room is not None
    assert room.topic == "second" and not room.no_outside
    assert [entry.mask for entry in room.bans] == ["*!*@two.example"]


def test_status_changes_are_not_written(server: Server) -> None:
    alice = registered(server)
    bob = server.user("bob")
    server.ask(bob, "/join #rust")
    written: list[Any] = []
    server.registry.store = Recording(server.registry.store, written)  # type: ignore[assignment]
    server.ask(alice, "/op bob", "/voice bob", "/deop bob")
    assert written == []
    server.ask(alice, "/topic hello", "/mode +b *!*@x.example")
    assert [(state.topic, lists) for state, lists in written] == [
        ("hello", False), ("hello", True)]


def test_the_default_room_can_be_registered_and_keeps_its_topic(server: Server) -> None:
    root = server.account("root")
    server.hub.opers.add(root.protocol)
    assert server.ask(root, "/register #chat") == ["* registered #chat"]
    server.ask(root, "/topic welcome")
    after = restarted(server)
    assert after.hub.default_room is not None and after.hub.default_room.topic == "welcome"
    assert after.hub.room_named("#chat") is after.hub.default_room


def test_a_database_from_before_registered_rooms_is_migrated() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    migrate(connection)
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    assert version == SCHEMA_VERSION
    assert statements.load(connection, 10) == []


# -- limits and failures ------------------------------------------------------------------


def test_at_most_so_many_rooms_per_account_and_per_server() -> None:
    server = Server()
    server.registry.per_account = 2
    alice = server.account("alice")
    for room in ("#a", "#b"):
        server.ask(alice, f"/join {room}", f"/register {room}")
    server.ask(alice, "/join #c")
    assert server.ask(alice, "/register #c") == [
        "! cannot register #c: you have registered 2 rooms already"]
    server.registry.limit = 2
    bob = founder_in(server, "#d", "bob")
    assert server.ask(bob, "/register #d") == [
        "! cannot register #d: the server has 2 registered rooms already"]


def test_at_most_so_many_operator_accounts(server: Server) -> None:
    server.registry.max_operators = 1
    alice = registered(server)
    for name in ("bob", "carol"):
        server.account(name).drop()
    server.ask(alice, "/amode #rust +o bob")
    assert server.ask(alice, "/amode #rust +o carol") == [
        "! #rust has 1 operator accounts already"]


def test_loading_is_bounded() -> None:
    from support import Net
    from test_accounts import synchronous

    from chatsvc.accounts import store as account_statements
    from chatsvc.accounts.rules import AccountRules
    from chatsvc.accounts.store import AccountStore

    connection = memory_connection()
    account_statements.create(connection, "alice", "hash", 0.0)
    for index in range(5):
        statements.add(connection, RoomState(f"#r{index}", "alice", float(index), 0.0))
    server = Server(connection)
    assert len(server.registry.registrations) == 5
    net = Net()
    AccountRules(net.hub, AccountStore(server.history), hasher=synchronous)
    limited = RoomRegistry(net.hub, RoomStore(server.history), limit=3)
    assert sorted(limited.registrations) == ["#r0", "#r1", "#r2"]  # the oldest


def test_a_store_failure_leaves_the_room_unregistered(server: Server) -> None:
    alice = founder_in(server)
    server.registry.store = Failing(server.registry.store)  # type: ignore[assignment]
    assert server.ask(alice, "/register #rust") == [
        "! registered rooms are unavailable: try again later"]
    room = server.hub.room_named("#rust")
    assert room is not None and not room.registered
    leave_all(server, alice)
    assert server.hub.room_named("#rust") is None


def test_hostile_room_names_and_text_are_data(server: Server) -> None:
    name = "#'--;DROP"
    alice = registered(server, name)
    server.ask(alice, "/mode +k ');--")
    after = restarted(server)
    room = after.hub.room_named(name)
    assert room is not None and room.password == "');--"
    assert [n for n, _, _ in statements.names(after.connection)] == [name]


class Recording:
    """A store that records what is saved, then saves it."""

    def __init__(self, store: RoomStore, written: list[Any]) -> None:
        self.store, self.written = store, written

    def save(self, state: RoomState, lists: bool) -> Deferred[None]:
        self.written.append((state, lists))
        return self.store.save(state, lists)


class Failing:
    """A store whose writes fail, as with a full disk."""

    def __init__(self, store: RoomStore) -> None:
        self.store = store

    def add(self, state: RoomState) -> Deferred[bool]:
        return fail(sqlite3.OperationalError("database or disk is full"))


def test_accounts_deleted_while_the_server_was_down_take_their_rooms(server: Server) -> None:
    alice = registered(server)
    registered(server, "#go", "carol")
    server.account("bob").drop()
    server.ask(alice, "/amode #rust +o bob")
    dave = server.user("dave", host="203.0.113.8")  # past the registration throttle
    server.ask(dave, "/register sesame-1", "/join #go")
    from chatsvc.accounts import store as account_statements

    account_statements.delete(server.connection, "alice")  # chatsvc-admin account delete
    account_statements.delete(server.connection, "bob")
    after = restarted(server)
    assert after.hub.room_named("#rust") is None
    assert [name for name, _, _ in statements.names(after.connection)] == ["#go"]
    # A new alice does not inherit #rust, nor a new bob a place on a list.
    assert sorted(after.registry.registrations) == ["#go"]


# -- the web protocol -------------------------------------------------------------------


def test_the_web_page_registers_and_drops_rooms(server: Server) -> None:
    server.account("alice").drop()
    web = server.net.web_user()
    web.ask(type="login", name="alice", password="sesame-1")
    web.ask(type="join", room="#rust")
    assert web.ask(type="register-room", room="#rust", ref=7) == [
        {"type": "room-registered", "room": "#rust", "ref": 7}]
    [refused] = web.ask(type="register-room", room="#rust")
    assert (refused["type"], refused["code"]) == ("error", "room-registered")
    bob = server.net.web_user("bob")
    [refused] = bob.ask(type="unregister-room", room="#rust", ref="x")
    assert (refused["code"], refused["ref"]) == ("not-founder", "x")
    assert web.ask(type="unregister-room", room="#rust") == [
        {"type": "room-unregistered", "room": "#rust"}]
    [refused] = server.net.web_user("carol").ask(type="register-room", room="#rust")
    assert refused["code"] == "room-needs-login"


def test_logging_in_inside_a_registered_room_makes_you_its_operator(server: Server) -> None:
    alice = registered(server)
    server.ask(alice, "/logout")
    bob = server.user("bob")
    server.ask(bob, "/join #rust")
    server.ask(alice, "/op bob", "/deop alice")
    room = server.hub.room_named("#rust")
    assert room is not None and alice.protocol not in room.operators
    lines = server.ask(alice, "/login alice sesame-1")
    assert lines == ["* ChanServ gives operator status to alice in #rust",
                     "* logged in as alice"]
    assert alice.protocol in room.operators


def test_an_operator_account_of_the_default_room_gets_the_status_on_arriving() -> None:
    server = Server()
    root = server.account("root")
    server.hub.opers.add(root.protocol)
    server.ask(root, "/register #chat")
    server.account("carol").drop()
    server.ask(root, "/amode #chat +o carol")
    carol = server.user()
    lines = server.ask(carol, "/login carol sesame-1")  # registers her into #chat
    assert "* ChanServ gives operator status to carol in #chat" in lines
    default = server.hub.default_room
    assert default is not None and carol.protocol in default.operators


def test_loading_keeps_the_servers_list_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatsvc.accounts import store as account_statements
    from chatsvc.hub import registered as registered_module
    from chatsvc.hub.registered import ListEntry

    connection = memory_connection()
    account_statements.create(connection, "alice", "hash", 0.0)
    for index in range(3):
        entries = tuple(ListEntry("b", f"spam{n}!*@*", "alice", 0.0) for n in range(4))
        statements.add(connection, RoomState(f"#r{index}", "alice", float(index), 0.0,
                                             entries=entries))
    monkeypatch.setattr(registered_module, "MAX_SERVER_LIST_ENTRIES", 10)
    server = Server(connection)
    assert server.hub.list_entries == 10
    assert [len(server.hub.rooms[f"#r{index}"].bans) for index in range(3)] == [4, 4, 2]
