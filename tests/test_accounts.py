"""Accounts (issue 18): the KDF, the account store, the hub's rules (reserved
names, grace period, ghosting, oper accounts, the guessing throttle) and the
line protocol's commands, with offline messages.

The store is an in-memory SQLite database run synchronously, and password
hashes are computed synchronously with a cheap scrypt cost (the real cost is
tested in L{test_the_default_cost_is_memory_hard}); time is the hub's
C{task.Clock}.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest
from support import LineUser, Net
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import globalLogPublisher

from chatsvc.accounts import kdf, store
from chatsvc.accounts.rules import GUEST_PREFIX, AccountRules
from chatsvc.accounts.store import AccountStore
from chatsvc.accounts.throttle import MAX_HASHING, REGISTRATIONS
from chatsvc.events import PrivateMessage
from chatsvc.hub.errors import UnusablePassword
from chatsvc.hub.registered import RoomRegistry
from chatsvc.protocols.line.wire import LineParser, history_time
from chatsvc.store.rooms import RoomStore
from chatsvc.store.sqlite import HistoryStore, migrate

NOW = 1_700_000_000.0  # Net's clock: 2023-11-14 22:13:20 UTC


def synchronous(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
    return maybeDeferred(function, *args)


pytestmark = pytest.mark.usefixtures("cheap_hashes")


def memory_connection() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    migrate(connection)
    return connection


class Server:
    """A hub with accounts over an in-memory database, and line users on it."""

    def __init__(self, connection: sqlite3.Connection | None = None,
                 hasher: Callable[..., Deferred[Any]] = synchronous, **kwargs: Any) -> None:
        self.net = Net()
        self.hub = self.net.hub
        self.clock = self.net.clock
        self.connection = connection or memory_connection()
        self.history = HistoryStore(self.connection, self.clock, run=synchronous)
        self.rules = AccountRules(self.hub, AccountStore(self.history), hasher=hasher,
                                  **kwargs)
        self.registry = RoomRegistry(self.hub, RoomStore(self.history))

    def user(self, name: str | None = None, host: str = "198.51.100.7") -> LineUser:
        return self.net.line_user(name, host)

    def ask(self, user: LineUser, *lines: str) -> list[str]:
        user.read()
        user.send(*lines)
        self.clock.advance(0)  # the offline messages follow a login by a turn
        return user.read()

    def account(self, name: str, password: str = "sesame-1") -> LineUser:
        """A user registered as C{name} with an account of that name, logged in."""
        user = self.user(name)
        assert self.ask(user, f"/register {password}") == [f"* registered {name}"]
        return user


@pytest.fixture
def server(backend: Any) -> Server:
    """The hub over a fresh database of each backend (conftest's fixture)."""
    return Server(backend.connect())


# -- registering and logging in ---------------------------------------------------------


def test_register_makes_your_name_an_account_and_logs_you_in(server: Server) -> None:
    alice = server.account("alice")
    assert server.hub.user_named("alice").record.account == "alice"  # type: ignore[union-attr]
    bob = server.user("bob")
    [line] = server.ask(bob, "/whois alice")
    assert "logged in as alice" in line
    assert server.ask(alice, "/account") == ["* you are logged in as alice"]
    assert server.ask(bob, "/account ALICE") == ["* alice is a registered account"]
    assert server.ask(bob, "/account carol") == ["! no such account: carol"]


def test_register_refusals(server: Server) -> None:
    nobody = server.user()
    assert server.ask(nobody, "/register sesame-1") == ["! register first: send #yourname"]
    alice = server.account("alice")
    assert server.ask(alice, "/register sesame-2") == [
        "! you are logged in as alice already: /logout first"]
    assert server.ask(alice, "/register") == ["! usage: /register password (one word)"]
    # A room, not a password (chatsvc.hub.registered; tests/test_registered_rooms.py).
    assert server.ask(alice, "/register #rust") == ["! no such room: #rust"]
    bob = server.user("bob")
    assert server.ask(bob, "/register abc") == [
        "! unusable password: password too short: at least 6 characters"]
    assert server.ask(bob, "/register " + "x" * 1025) == [
        "! unusable password: password too long: at most 1024 bytes"]


def test_an_account_name_cannot_be_registered_twice(server: Server) -> None:
    alice = server.account("alice")
    alice.drop()
    guest = server.user("ALICE")
    lines = server.ask(guest, "/register sesame-2")
    assert lines == ["! alice is registered already: /login alice PASSWORD"]


def test_login_before_a_name_registers_you_under_the_accounts_name(server: Server) -> None:
    server.account("alice").drop()
    again = server.user()
    lines = server.ask(again, "/login ALICE sesame-1")
    assert "* you are alice" in lines
    assert lines[-1] == "* logged in as alice"
    assert server.hub.user_named("alice") is again.protocol


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(server: Server) -> None:
    server.account("alice").drop()
    user = server.user("carol")
    assert server.ask(user, "/login alice wrong-one") == ["! wrong password"]
    assert server.ask(user, "/login nobody wrong-one") == ["! wrong password"]
    assert user.protocol.record.account is None


def test_an_unknown_account_costs_a_hash_too() -> None:
    checked: list[str] = []

    def counting(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        checked.append(function.__name__)
        return maybeDeferred(function, *args)

    server = Server(hasher=counting)
    user = server.user("carol")
    server.ask(user, "/login nobody wrong-one")
    assert checked == ["verify_password"]


def test_guessing_backs_off_per_account_and_address(server: Server) -> None:
    server.account("alice").drop()
    guesser = server.user("mallory", host="203.0.113.5")
    answers = [server.ask(guesser, f"/login alice guess-{n}")[0] for n in range(4)]
    assert answers[:3] == ["! wrong password"] * 3
    assert answers[3] == "! wrong password"  # the fourth shuts address and account for 1 s
    assert server.ask(server.user("eve", host="203.0.113.5"), "/login bob sesame-1") == [
        "! too many failed attempts: try again in 1 s"]  # the address, for any account
    # The account is shut for anyone, from anywhere, while it backs off...
    other = server.user("dave", host="192.0.2.44")
    assert server.ask(other, "/login alice sesame-1") == [
        "! too many failed attempts: try again in 1 s"]
    server.clock.advance(1)
    lines = server.ask(other, "/login alice sesame-1")
    assert lines[-1] == "* logged in as alice"


def test_five_failed_attempts_close_the_connection(server: Server) -> None:
    server.account("alice").drop()
    guesser = server.user("mallory")
    for n in range(5):
        server.clock.advance(700)
        guesser.send(f"/login alice guess-{n}")
    assert guesser.closed


def test_one_hash_at_a_time_per_connection() -> None:
    queued: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []

    def later(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        queued.append((function, args, done))
        return done

    server = Server(hasher=later)
    users = [server.user(f"u{n}", host=f"192.0.2.{n + 1}") for n in range(MAX_HASHING + 1)]
    assert server.ask(users[0], "/register sesame-1", "/login u0 sesame-1") == [
        "! busy checking a password: send it again in a moment"]
    for user in users[1:MAX_HASHING]:
        server.ask(user, "/register sesame-1")
    assert server.ask(users[-1], "/register sesame-1") == [
        "! busy checking a password: send it again in a moment"]  # the server's limit
    for function, args, done in queued:
        maybeDeferred(function, *args).chainDeferred(done)
    assert users[0].read() == ["* registered u0"]
    assert server.ask(users[-1], "/register sesame-1") == []  # a place again: queued


def test_a_flood_of_registrations_from_one_address_is_throttled(server: Server) -> None:
    users = [server.user(f"flood{n}", host="203.0.113.9") for n in range(REGISTRATIONS + 1)]
    answers = [server.ask(user, "/register sesame-1") for user in users]
    assert answers[:REGISTRATIONS] == [[f"* registered flood{n}"] for n in range(REGISTRATIONS)]
    [refused] = answers[REGISTRATIONS]
    assert refused.startswith("! too many new accounts from your address: try again in ")
    assert len(server.rules.known) == REGISTRATIONS


def test_a_100_kib_password_is_refused_clearly(server: Server) -> None:
    user = server.user("alice")
    assert server.ask(user, "/login alice " + "x" * 100 * 1024) == [
        "! line too long (limit 4096 bytes)"]
    with pytest.raises(UnusablePassword, match="password too long: at most 1024 bytes"):
        server.rules.log_in(user.protocol, "alice", "x" * 100 * 1024)
    with pytest.raises(UnusablePassword, match="password too long"):
        server.rules.register(user.protocol, "x" * 100 * 1024)


def test_passwords_are_never_logged(server: Server) -> None:
    logged: list[str] = []

    def keep(event: dict[str, Any]) -> None:
        from twisted.logger import formatEvent

        logged.append(formatEvent(event))

    globalLogPublisher.addObserver(keep)
    try:
        alice = server.account("alice", "secret-one")
        server.ask(alice, "/password secret-one secret-two", "/logout")
        server.ask(alice, "/login alice secret-wrong", "/login alice secret-two")
    finally:
        globalLogPublisher.removeObserver(keep)
    assert logged and not [line for line in logged if "secret" in line]


def test_password_change_and_drop(server: Server) -> None:
    alice = server.account("alice")
    assert server.ask(alice, "/password wrong-one sesame-2") == ["! wrong password"]
    assert server.ask(alice, "/password sesame-1 sesame-2") == ["* password changed"]
    server.ask(alice, "/logout")
    assert server.ask(alice, "/login alice sesame-1") == ["! wrong password"]
    assert server.ask(alice, "/login alice sesame-2")[-1] == "* logged in as alice"
    assert server.ask(alice, "/drop sesame-2") == ["* dropped the account alice"]
    assert alice.protocol.record.account is None
    assert server.ask(alice, "/account alice") == ["! no such account: alice"]
    assert server.ask(alice, "/logout") == ["! you are not logged in"]


def test_without_a_data_dir_there_are_no_accounts() -> None:
    net = Net()
    user = net.line_user("alice")
    user.send("/register sesame-1", "/login alice sesame-1", "/logout", "/account")
    assert user.read() == ["! this server keeps no accounts"] * 4


# -- reserved names ---------------------------------------------------------------------


def test_a_guest_on_a_registered_name_is_renamed_after_the_grace_period(
        server: Server) -> None:
    server.account("alice").drop()
    guest = server.user()
    lines = server.ask(guest, "#alice")
    assert ("! alice is registered: /login alice PASSWORD within 60 seconds "
            "or you will be renamed") in lines
    server.clock.advance(59)
    assert guest.protocol.name == "alice"
    server.clock.advance(1)
    assert guest.protocol.name.startswith(GUEST_PREFIX)
    assert f"* you did not log in as alice: you are now {guest.protocol.name}" in guest.read()


def test_logging_in_within_the_grace_period_keeps_the_name(server: Server) -> None:
    server.account("alice").drop()
    user = server.user("alice")
    server.clock.advance(30)
    assert server.ask(user, "/login alice sesame-1") == ["* logged in as alice"]
    server.clock.advance(60)
    assert user.protocol.name == "alice"


def test_renaming_away_ends_the_grace_period() -> None:
    server = Server(grace=10)
    server.account("alice").drop()
    user = server.user("alice")
    server.ask(user, "#alicia")
    server.clock.advance(20)
    assert user.protocol.name == "alicia"
    assert server.clock.getDelayedCalls() == []


def test_the_owner_logging_in_renames_a_guest_on_their_name(server: Server) -> None:
    server.account("alice").drop()
    squatter = server.user("alice")
    owner = server.user("owner")
    lines = server.ask(owner, "/login alice sesame-1")
    assert lines[-1] == "* logged in as alice"
    assert owner.protocol.name == "alice"
    assert squatter.protocol.name.startswith(GUEST_PREFIX)


def test_logging_in_ghosts_a_stale_connection_of_the_same_account(server: Server) -> None:
    stale = server.account("alice")
    fresh = server.user()
    lines = server.ask(fresh, "/login alice sesame-1")
    assert lines[-1] == "* logged in as alice"
    assert stale.closed
    assert "* ghosted: alice logged in from elsewhere" in stale.read()
    assert server.hub.user_named("alice") is fresh.protocol


def test_logging_out_starts_the_grace_period(server: Server) -> None:
    alice = server.account("alice")
    lines = server.ask(alice, "/logout")
    assert lines[0] == "! alice is registered: /login alice PASSWORD within 60 seconds " \
                       "or you will be renamed"
    assert lines[1] == "* logged out of alice"


def test_an_irc_user_on_a_registered_name_is_renamed_too(server: Server) -> None:
    server.account("alice").drop()
    irc = server.net.irc_user("alice")
    server.clock.advance(60)
    assert irc.protocol.name.startswith(GUEST_PREFIX)
    assert any(f"NICK {irc.protocol.name}" in line for line in irc.read())


def test_an_oper_account_is_a_server_operator_on_logging_in(server: Server) -> None:
    alice = server.account("alice")
    assert not server.hub.is_server_operator(alice.protocol)
    server.ask(alice, "/logout")
    store.set_oper(server.connection, "alice", True)
    server.ask(alice, "/login alice sesame-1")
    assert server.hub.is_server_operator(alice.protocol)
    server.ask(alice, "/logout")
    assert not server.hub.is_server_operator(alice.protocol)


def test_accounts_survive_a_new_hub_on_the_same_database(server: Server) -> None:
    server.account("alice")
    again = Server(server.connection)
    assert again.rules.account_named("ALICE") == "alice"
    user = again.user()
    assert again.ask(user, "/login alice sesame-1")[-1] == "* logged in as alice"


# -- offline messages ---------------------------------------------------------------------


def offline_bob(server: Server) -> None:
    bob = server.account("bob")
    bob.drop()


def test_a_message_to_an_offline_account_is_kept_and_delivered_once(server: Server) -> None:
    offline_bob(server)
    alice = server.user("alice")
    assert server.ask(alice, "@bob:first") == [
        "* bob is offline: your message will be delivered when they log in"]
    server.clock.advance(61)
    server.ask(alice, "@bob second")
    carol = server.net.irc_user("carol")
    carol.send("PRIVMSG bob :\x01ACTION waves\x01")
    bob = server.user()
    lines = server.ask(bob, "/login bob sesame-1")
    at, later = history_time(NOW, time.time()), history_time(NOW + 61, time.time())
    assert lines[-5:] == [
        "* logged in as bob",
        "* 3 messages while you were away",
        f"[{at}] *alice* first",
        f"[{later}] *alice* second",
        f"[{later}] *carol waves*",
    ]
    server.ask(bob, "/logout")
    assert server.ask(bob, "/login bob sesame-1") == ["* logged in as bob"]


def test_a_message_to_no_account_is_still_no_such_user(server: Server) -> None:
    alice = server.user("alice")
    assert server.ask(alice, "@carol:hi") == ["! no such user: carol"]


def test_offline_messages_are_bounded_per_recipient() -> None:
    server = Server(inbox_limit=2)
    offline_bob(server)
    alice = server.user("alice")
    server.ask(alice, "@bob:1", "@bob:2")
    assert server.ask(alice, "@bob:3") == [
        "! bob has 2 messages waiting already: try again once they log in"]


def test_offline_messages_survive_a_new_hub(server: Server) -> None:
    offline_bob(server)
    server.ask(server.user("alice"), "@bob:kept")
    again = Server(server.connection)
    bob = again.user()
    lines = again.ask(bob, "/login bob sesame-1")
    assert lines[-2:] == ["* 1 message while you were away",
                          f"[{history_time(NOW, time.time())}] *alice* kept"]


def test_the_client_parses_a_kept_message_with_its_time() -> None:
    parser = LineParser(me="bob", now=lambda: NOW + 3600)
    event = parser.parse("[22:13] *alice* hello")
    assert isinstance(event, PrivateMessage) and event.delayed
    assert (event.sender, event.text, event.time) == ("alice", "hello", NOW - 20)
    acted = parser.parse("[2023-11-13 09:00] *alice waves*")
    assert isinstance(acted, PrivateMessage) and acted.action and acted.delayed




def test_help_accounts_lists_the_account_commands(server: Server) -> None:
    user = server.user("alice")
    lines = server.ask(user, "/help")
    assert "* accounts:" not in lines
    assert any(line.startswith("*   /help accounts ") for line in lines)
    lines = server.ask(user, "/help accounts")
    assert lines[0] == "* accounts:"
    assert any(line.startswith("*   /login name password ") for line in lines)


def test_a_hash_with_older_parameters_is_renewed_at_login(server: Server) -> None:
    old = kdf.hash_password("sesame-1", n=2 ** 9)
    store.create(server.connection, "legacy", old, NOW)
    again = Server(server.connection)
    user = again.user()
    assert again.ask(user, "/login legacy sesame-1")[-1] == "* logged in as legacy"
    renewed = store.get(server.connection, "legacy")
    assert renewed is not None and renewed.password != old
    assert not kdf.needs_rehash(renewed.password)
    assert kdf.verify_password("sesame-1", renewed.password)
