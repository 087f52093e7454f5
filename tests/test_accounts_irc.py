"""Accounts over IRC: SASL PLAIN (CAP sasl, AUTHENTICATE, 900/903/904/906/907/908)
and the NickServ convention (REGISTER, IDENTIFY, LOGOUT), on the same rules
as the line protocol's commands."""

from __future__ import annotations

import base64

import pytest
from support import IRCUser, Net, WebUser, numerics
from test_accounts import Server

pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def server() -> Server:
    server = Server()
    server.account("jilles", "sesame-1").drop()
    return server


def plain(authcid: str, password: str, authzid: str = "") -> str:
    return base64.b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode()


def start(server: Server) -> IRCUser:
    user = IRCUser(server.net)
    user.send("CAP LS 302", "CAP REQ :sasl", "NICK jilles", "USER j 0 * :J")
    user.read()
    return user


def test_sasl_is_offered_only_with_accounts(server: Server) -> None:
    [ls] = IRCUser(server.net).ask("CAP LS 302")
    assert ls.endswith(" sasl=PLAIN,EXTERNAL")
    [ls] = IRCUser(server.net).ask("CAP LS")
    assert ls.endswith(" sasl")
    [ls] = IRCUser(Net()).ask("CAP LS 302")
    assert "sasl" not in ls
    assert IRCUser(Net()).ask("CAP REQ :sasl")[0].split()[3] == "NAK"


def test_sasl_plain_logs_in_before_registration(server: Server) -> None:
    user = start(server)
    assert user.ask("AUTHENTICATE PLAIN") == ["AUTHENTICATE +"]
    lines = user.ask("AUTHENTICATE " + plain("jilles", "sesame-1"))
    assert lines == [
        ":chatsvc 900 * *!~j@192.0.2.1 jilles :You are now logged in as jilles",
        ":chatsvc 903 * :SASL authentication successful"]
    assert numerics(user.ask("CAP END"))[0] == "001"
    assert user.protocol.record.account == "jilles"
    server.clock.advance(120)
    assert user.protocol.name == "jilles"  # logged in: not renamed


@pytest.mark.parametrize(("payload", "numeric"), [
    (plain("jilles", "wrong-one"), "904"),
    (plain("nobody", "wrong-one"), "904"),  # the same answer
    ("!!!", "904"),
    (plain("", "sesame-1"), "904"),
    (plain("jilles", ""), "904"),
    (plain("jilles", "sesame-1", authzid="other"), "904"),
    ("*", "906"),
])
def test_sasl_refusals(server: Server, payload: str, numeric: str) -> None:
    user = start(server)
    user.ask("AUTHENTICATE PLAIN")
    assert numerics(user.ask("AUTHENTICATE " + payload)) == [numeric]
    assert user.protocol.record.account is None


def test_another_mechanism_lists_ours_then_fails(server: Server) -> None:
    user = start(server)
    lines = user.ask("AUTHENTICATE SCRAM-SHA-256")
    assert lines[0] == ":chatsvc 908 * PLAIN,EXTERNAL :are available SASL mechanisms"
    assert numerics(lines) == ["908", "904"]


def test_a_payload_in_400_byte_chunks(server: Server) -> None:
    password = "p" * 390
    user = server.user("longpw")
    assert server.ask(user, f"/register {password}") == ["* registered longpw"]
    irc = IRCUser(server.net)
    irc.send("CAP REQ :sasl", "NICK longpw", "USER l 0 * :L", "AUTHENTICATE PLAIN")
    irc.read()
    data = plain("longpw", password)
    assert len(data) > 400
    assert irc.ask("AUTHENTICATE " + data[:400]) == []
    assert numerics(irc.ask("AUTHENTICATE " + data[400:])) == ["900", "903"]
    assert numerics(IRCUser(server.net).ask(
        "AUTHENTICATE PLAIN", *["AUTHENTICATE " + "A" * 400] * 11)) == ["AUTHENTICATE", "905"]


def test_messages_kept_for_a_sasl_user_come_after_the_welcome(server: Server) -> None:
    alice = server.user("alice")
    server.ask(alice, "@jilles:while you were out")
    user = start(server)
    user.ask("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("jilles", "sesame-1"))
    user.send("CAP END")
    server.clock.advance(0)
    lines = user.read()
    welcome = numerics(lines).index("001")
    kept = [line for line in lines if "while you were out" in line]
    assert len(kept) == 1 and lines.index(kept[0]) > welcome
    assert kept[0].endswith("PRIVMSG jilles :while you were out")


# -- NickServ ------------------------------------------------------------------------


def test_nickserv_register_identify_logout(server: Server) -> None:
    irc = server.net.irc_user("foo")
    lines = irc.ask("PRIVMSG NickServ :REGISTER sesame-2 foo@example.org")
    assert lines == [
        ":NickServ!NickServ@services.chatsvc NOTICE foo :Account foo registered; "
        "you are logged in",
        ":chatsvc 900 foo foo!~foo@192.0.2.1 foo :You are now logged in as foo"]
    # Logged out on a registered nick: the grace period's warning, then 901.
    assert "901" in numerics(irc.ask("PRIVMSG NickServ :LOGOUT"))
    assert irc.ask("PRIVMSG NickServ :IDENTIFY foo wrong-one") == [
        ":NickServ!NickServ@services.chatsvc NOTICE foo :Invalid password"]
    assert numerics(irc.ask("PRIVMSG NickServ :IDENTIFY sesame-2"))[-1] == "900"
    assert irc.protocol.record.account == "foo"


def test_nickserv_is_still_no_such_nick_without_accounts() -> None:
    irc = Net().irc_user("foo")
    assert numerics(irc.ask("PRIVMSG NickServ :IDENTIFY sesame-2"))[0] == "401"


def test_a_notice_to_nickserv_is_not_answered(server: Server) -> None:
    irc = server.net.irc_user("foo")
    assert irc.ask("NOTICE NickServ :REGISTER sesame-2") == []


# -- the web protocol ------------------------------------------------------------------


def test_web_login(server: Server) -> None:
    web = server.net.web_user("webby")
    *renamed, answer = web.ask(type="login", name="jilles", password="sesame-1", ref=7)
    assert [m["type"] for m in renamed] == ["registered"]  # it takes the account's name
    assert answer == {"type": "logged-in", "account": "jilles", "name": "jilles", "ref": 7}
    assert web.protocol.record.account == "jilles"
    other = server.net.web_user("other")
    [refused] = other.ask(type="login", name="jilles", password="wrong-one", ref=8)
    assert (refused["type"], refused["code"], refused["ref"]) == ("error", "wrong-password", 8)
    [none] = Net().web_user("x").ask(type="login", name="a", password="b")
    assert none["code"] == "no-accounts"


def test_the_web_welcome_says_whether_the_server_keeps_accounts(server: Server) -> None:
    [welcome] = WebUser(server.hub).read()
    assert welcome["type"] == "welcome" and welcome["accounts"] is True
    [welcome] = WebUser(Net().hub).read()
    assert welcome["accounts"] is False


def test_web_logout_starts_the_grace_period(server: Server) -> None:
    web = server.net.web_user("webby")
    web.ask(type="login", name="jilles", password="sesame-1")
    answers = web.ask(type="logout", ref=3)
    *warned, answer = answers
    assert answer == {"type": "logged-out", "account": "jilles", "name": "jilles", "ref": 3}
    assert [m.get("code") for m in warned] == ["name-registered"]
    assert web.protocol.record.account is None
    [again] = web.ask(type="logout", ref=4)
    assert (again["code"], again["ref"]) == ("not-logged-in", 4)
    server.clock.advance(server.rules.grace + 1)
    assert web.protocol.name != "jilles"  # renamed: it did not log in again
    [none] = Net().web_user("x").ask(type="logout")
    assert none["code"] == "no-accounts"


def test_a_kept_message_reaches_the_web_page_marked_delayed(server: Server) -> None:
    alice = server.user("alice")
    server.ask(alice, "@jilles:while you were out")
    web = server.net.web_user("webby")
    web.send(type="login", name="jilles", password="sesame-1")
    server.clock.advance(0)
    [kept] = [m for m in web.read() if m["type"] == "private"]
    assert (kept["from"], kept["text"], kept["delayed"]) == ("alice", "while you were out", True)
    assert kept["time"] and kept["id"]
    server.ask(alice, "@jilles:live")
    [live] = [m for m in web.read() if m["type"] == "private"]
    assert "delayed" not in live


def test_a_web_login_before_registering_says_which_rooms_it_entered(server: Server) -> None:
    web = WebUser(server.hub)
    web.read()  # the welcome
    answers = web.ask(type="login", name="jilles", password="sesame-1", ref=9)
    assert [m["type"] for m in answers] == ["registered", "joined", "logged-in"]
    joined = answers[1]
    assert (joined["room"], joined["self"], joined["ref"]) == (server.hub.default_room.name,
                                                              True, 9)
