"""IRCv3 draft/account-registration (issue 15): REGISTER and VERIFY, before and
after connecting, on the account rules NickServ and the line protocol use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support import IRCUser, Net, numerics
from test_accounts import Server, memory_connection, synchronous
from test_accounts_irc import plain
from twisted.internet.defer import Deferred, maybeDeferred

from chatsvc.accounts import kdf
from chatsvc.accounts.rules import AccountRules
from chatsvc.accounts.store import AccountStore
from chatsvc.accounts.throttle import REGISTRATIONS
from chatsvc.hub.errors import BadNameError
from chatsvc.store.sqlite import HistoryStore

CAP = "draft/account-registration"


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def server() -> Server:
    return Server()


def fails(lines: list[str]) -> list[list[str]]:
    """The FAIL replies among C{lines}, as their words after C{FAIL}."""
    return [line.split(" :", 1)[0].split()[2:] for line in lines if " FAIL " in line]


def test_the_cap_is_offered_only_with_accounts(server: Server) -> None:
    [ls] = IRCUser(server.net).ask("CAP LS 302")
    assert f" {CAP}=before-connect" in ls and "email-required" not in ls
    [ls] = IRCUser(server.net).ask("CAP LS")
    assert ls.split(" :", 1)[1].split().count(CAP) == 1
    user = IRCUser(server.net)
    assert user.ask(f"CAP REQ :{CAP}") == [f":chatsvc CAP * ACK :{CAP}"]
    assert user.ask("CAP LIST") == [f":chatsvc CAP * LIST :{CAP}"]
    [ls] = IRCUser(Net()).ask("CAP LS 302")
    assert CAP not in ls
    assert IRCUser(Net()).ask(f"CAP REQ :{CAP}")[0].split()[3] == "NAK"


def test_without_accounts_register_is_an_unknown_command() -> None:
    irc = Net().irc_user("foo")
    assert irc.ask("REGISTER * * sesame-1") == [
        ":chatsvc 421 foo REGISTER :Unknown command"]
    assert numerics(irc.ask("VERIFY foo 1234")) == ["421"]


@pytest.mark.parametrize("account", ["*", "foo", "FOO"])
def test_register_the_current_nick_logs_in(server: Server, account: str) -> None:
    watcher = server.net.irc_user("watcher")
    watcher.ask("CAP REQ :account-notify")
    irc = server.net.irc_user("foo")
    watcher.read()  # foo's JOIN
    lines = irc.ask(f"REGISTER {account} foo@example.org sesame-2")
    assert lines == [
        ":chatsvc 900 foo foo!~foo@192.0.2.1 foo :You are now logged in as foo",
        ":chatsvc REGISTER SUCCESS foo :Account registered; you are logged in"]
    assert irc.protocol.record.account == "foo"
    assert watcher.read() == [":foo!~foo@192.0.2.1 ACCOUNT foo"]  # account-notify
    # The account is real: the line protocol logs in to it with that password.
    line = server.user("other")
    assert server.ask(line, "/login foo sesame-2")[-1] == "* logged in as foo"
    server.clock.advance(server.rules.grace + 1)
    assert server.rules.account_named("foo") == "foo"


def test_another_account_name_than_the_nick_is_refused(server: Server) -> None:
    irc = server.net.irc_user("foo")
    assert fails(irc.ask("REGISTER bar * sesame-2")) == [
        ["REGISTER", "ACCOUNT_NAME_MUST_BE_NICK", "bar"]]
    assert server.rules.account_named("bar") is None
    assert irc.protocol.record.account is None


def test_refusals_are_standard_replies(server: Server) -> None:
    server.account("taken").drop()
    irc = server.net.irc_user("taken")
    assert fails(irc.ask("REGISTER * * sesame-2")) == [["REGISTER", "ACCOUNT_EXISTS", "taken"]]
    irc.ask("NICK free")
    [(line)] = irc.ask("REGISTER * * abc")
    assert line == (":chatsvc FAIL REGISTER WEAK_PASSWORD free :unusable password: "
                    "password too short: at least 6 characters")
    assert fails(irc.ask("REGISTER * * " + "x" * 1025)) == [
        ["REGISTER", "UNACCEPTABLE_PASSWORD", "free"]]
    assert fails(irc.ask("REGISTER * * :two words")) == [
        ["REGISTER", "UNACCEPTABLE_PASSWORD", "free"]]
    assert numerics(irc.ask("REGISTER * sesame-2")) == ["461"]
    assert numerics(irc.ask("REGISTER free sesame-2")) == ["461"]
    assert numerics(irc.ask("REGISTER * * sesame-2")) == ["900", "REGISTER"]
    assert fails(irc.ask("REGISTER * * sesame-2")) == [
        ["REGISTER", "ALREADY_AUTHENTICATED", "free"]]
    assert fails(irc.ask("VERIFY free 123456")) == [["VERIFY", "ALREADY_AUTHENTICATED", "free"]]


def test_the_operators_minimum_applies() -> None:
    server = Server(password_min=1)
    irc = server.net.irc_user("bar")
    assert numerics(irc.ask("REGISTER * * bar")) == ["900", "REGISTER"]
    strict = Server(password_min=12)
    irc = strict.net.irc_user("bar")
    [line] = irc.ask("REGISTER * * sesame-2")
    assert " WEAK_PASSWORD bar :" in line and "at least 12 characters" in line


def test_registrations_are_throttled_per_address_like_nickserv(server: Server) -> None:
    users = [server.net.irc_user(f"flood{n}", host="203.0.113.9")
             for n in range(REGISTRATIONS + 1)]
    # The same throttle whatever the way in: one by NickServ, the rest by REGISTER.
    users[0].ask("PRIVMSG NickServ :REGISTER sesame-2")
    answers = [user.ask("REGISTER * * sesame-2") for user in users[1:]]
    assert all(numerics(answer) == ["900", "REGISTER"] for answer in answers[:-1])
    [refused] = fails(answers[-1])
    assert refused == ["REGISTER", "TEMPORARILY_UNAVAILABLE", f"flood{REGISTRATIONS}"]
    assert "too many new accounts from your address" in answers[-1][0]
    assert len(server.rules.known) == REGISTRATIONS


def test_the_rules_check_a_name_given_before_connecting(server: Server) -> None:
    irc = IRCUser(server.net)
    with pytest.raises(BadNameError):
        server.rules.register(irc.protocol, "sesame-2", name="9lives")
    assert server.rules.account_named("9lives") is None


def test_verify_has_no_code_to_check(server: Server) -> None:
    irc = server.net.irc_user("foo")
    [line] = irc.ask("VERIFY foo 123456")
    assert line.startswith(":chatsvc FAIL VERIFY INVALID_CODE foo :")
    assert numerics(irc.ask("VERIFY foo")) == ["461"]


# -- before connecting (before-connect) ------------------------------------------------


def test_register_before_connecting_then_welcome(server: Server) -> None:
    irc = IRCUser(server.net)
    irc.send("CAP LS 302", f"CAP REQ :{CAP}", "NICK bar")
    irc.read()
    assert irc.ask("REGISTER * * sesame-2") == [
        ":chatsvc 900 * *!*@192.0.2.1 bar :You are now logged in as bar",
        ":chatsvc REGISTER SUCCESS bar :Account registered; you are logged in"]
    assert irc.protocol.name is None and irc.protocol.record.account == "bar"
    lines = irc.ask("USER b 0 * :B", "CAP END")
    assert numerics(lines)[0] == "001"
    assert irc.protocol.name == "bar"
    server.clock.advance(server.rules.grace + 1)
    assert irc.protocol.name == "bar"  # logged in to it: never renamed


def test_register_before_any_nick_needs_one(server: Server) -> None:
    irc = IRCUser(server.net)
    [line] = irc.ask("REGISTER * * sesame-2")
    assert line.startswith(":chatsvc FAIL REGISTER NEED_NICK * :")
    assert numerics(irc.ask("VERIFY bar 1")) == ["FAIL"]  # not 451
    assert fails(irc.ask("VERIFY bar 1")) == [["VERIFY", "INVALID_CODE", "bar"]]


def test_no_registering_a_nick_from_under_its_holder(server: Server) -> None:
    server.net.irc_user("root")
    irc = IRCUser(server.net)
    assert numerics(irc.ask("NICK root")) == ["433"]
    assert fails(irc.ask("REGISTER * * sesame-2")) == [["REGISTER", "ACCOUNT_EXISTS", "root"]]
    assert server.rules.account_named("root") is None


def test_a_nick_that_is_an_account_already_before_connecting(server: Server) -> None:
    server.account("taken").drop()
    irc = IRCUser(server.net)
    irc.ask("NICK taken")
    assert fails(irc.ask("REGISTER taken * sesame-2")) == [
        ["REGISTER", "ACCOUNT_EXISTS", "taken"]]


def test_with_a_server_password_register_waits_for_the_connection() -> None:
    net = Net(password="letmein")
    history = HistoryStore(memory_connection(), net.clock, run=synchronous)
    AccountRules(net.hub, AccountStore(history), hasher=synchronous)
    [ls] = IRCUser(net).ask("CAP LS 302")
    assert f" {CAP} " in f"{ls} " and "before-connect" not in ls
    irc = IRCUser(net)
    irc.ask("NICK bar")
    assert fails(irc.ask("REGISTER * * sesame-2")) == [
        ["REGISTER", "COMPLETE_CONNECTION_REQUIRED", "*"]]
    assert fails(irc.ask("VERIFY bar 1")) == [["VERIFY", "COMPLETE_CONNECTION_REQUIRED", "bar"]]
    assert irc.protocol.record.account is None
    assert numerics(irc.ask("PASS letmein", "USER b 0 * :B"))[0] == "001"
    assert numerics(irc.ask("REGISTER * * sesame-2")) == ["900", "REGISTER"]


# -- answered in order --------------------------------------------------------------


class LaterHasher:
    """Hashes when told to, as the thread pool would some time later."""

    def __init__(self) -> None:
        self.queued: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []

    def __call__(self, function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        done: Deferred[Any] = Deferred()
        self.queued.append((function, args, done))
        return done

    def run(self) -> None:
        queued, self.queued = self.queued, []
        for function, args, done in queued:
            maybeDeferred(function, *args).chainDeferred(done)


def test_the_commands_after_register_wait_for_its_answer() -> None:
    hasher = LaterHasher()
    server = Server(hasher=hasher)
    irc = server.net.irc_user("foo")
    assert irc.ask("REGISTER * * sesame-2", "PING one", "PING two") == []
    assert irc.transport.producerState == "paused"  # reading waits too
    hasher.run()
    assert irc.read() == [
        ":chatsvc 900 foo foo!~foo@192.0.2.1 foo :You are now logged in as foo",
        ":chatsvc REGISTER SUCCESS foo :Account registered; you are logged in",
        ":chatsvc PONG chatsvc :one",
        ":chatsvc PONG chatsvc :two"]
    assert irc.transport.producerState == "producing"
    assert irc.ask("PING three") == [":chatsvc PONG chatsvc :three"]


def test_before_connecting_the_welcome_follows_the_registration() -> None:
    hasher = LaterHasher()
    server = Server(hasher=hasher)
    irc = IRCUser(server.net)
    assert irc.ask("NICK bar", "REGISTER * * sesame-2", "USER b 0 * :B") == []
    hasher.run()
    lines = irc.read()
    assert numerics(lines)[:3] == ["900", "REGISTER", "001"]
    assert irc.protocol.name == "bar" and irc.protocol.record.account == "bar"


def test_a_refused_register_lets_the_next_commands_through() -> None:
    hasher = LaterHasher()
    server = Server(hasher=hasher)
    irc = server.net.irc_user("foo")
    assert irc.ask("REGISTER * * sesame-2", "PING one") == []
    # Meanwhile the account is made elsewhere (another node, the admin command).
    server.rules.store.create("foo", kdf.hash_password("other-1"), server.clock.seconds())
    hasher.run()
    lines = irc.read()
    assert [fail[:2] for fail in fails(lines)] == [["REGISTER", "ACCOUNT_EXISTS"]]
    assert lines[-1] == ":chatsvc PONG chatsvc :one"
    assert irc.protocol.record.account is None


def test_a_connection_closed_while_waiting_handles_nothing_more() -> None:
    hasher = LaterHasher()
    server = Server(hasher=hasher)
    irc = server.net.irc_user("foo", channels="")
    irc.ask("REGISTER * * sesame-2", "JOIN #later")
    irc.protocol.disconnect("bye")
    hasher.run()
    assert server.hub.room_named("#later") is None


# -- 900 before your own ACCOUNT line --------------------------------------------------


def test_with_account_notify_900_comes_before_your_own_account_line(server: Server) -> None:
    irc = server.net.irc_user("foo")
    irc.ask("CAP REQ :account-notify")
    assert irc.ask("REGISTER * * sesame-2") == [
        ":chatsvc 900 foo foo!~foo@192.0.2.1 foo :You are now logged in as foo",
        ":foo!~foo@192.0.2.1 ACCOUNT foo",
        ":chatsvc REGISTER SUCCESS foo :Account registered; you are logged in"]
    irc.ask("PRIVMSG NickServ :LOGOUT")
    lines = irc.ask("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("foo", "sesame-2"))
    assert [line.split()[1] for line in lines] == ["+", "900", "ACCOUNT", "903"]
    lines = irc.ask("PRIVMSG NickServ :LOGOUT", "PRIVMSG NickServ :IDENTIFY sesame-2")
    assert [line.split()[1] for line in lines if "NOTICE" not in line] == [
        "ACCOUNT", "901", "900", "ACCOUNT"]
    # Without the cap, one 900 each time, as before.
    other = server.net.irc_user("bar")
    assert numerics(other.ask("REGISTER * * sesame-2")) == ["900", "REGISTER"]


# -- account-tag on INVITE -------------------------------------------------------------


def test_an_invite_carries_the_inviters_account(server: Server) -> None:
    inviter = server.net.irc_user("bar", channels="#chan")
    inviter.ask("REGISTER * * sesame-2")
    invitee = server.net.irc_user("foo", channels="")
    invitee.ask("CAP REQ :account-tag")
    assert inviter.ask("INVITE foo #chan") == [":chatsvc 341 bar foo #chan"]
    assert invitee.read() == ["@account=bar :bar!~bar@192.0.2.1 INVITE foo #chan"]
    inviter.ask("PRIVMSG NickServ :LOGOUT")
    inviter.ask("INVITE foo #chan")
    assert invitee.read() == [":bar!~bar@192.0.2.1 INVITE foo #chan"]
