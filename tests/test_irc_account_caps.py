"""IRCv3 account-notify and account-tag: who is logged in, as IRC clients
that asked see it, whichever protocol the user logged in on."""

from __future__ import annotations

import base64

import pytest
from support import IRCUser, LineUser
from test_accounts import Server

from chatsvc.protocols.irc import render, wire

pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def server() -> Server:
    return Server()


def _lina(server: Server) -> LineUser:
    """lina, a line user with an account, logged out, in #chan."""
    lina = server.account("lina")
    assert server.ask(lina, "/logout")[-1] == "* logged out of lina"
    server.ask(lina, "/join #chan")
    return lina


def _irc(server: Server, name: str, caps: str) -> IRCUser:
    user = server.net.irc_user(name, channels="#chan")
    if caps:
        user.ask("CAP REQ :" + caps)
    user.read()
    return user


def test_a_line_users_login_and_logout_reach_irc_room_mates_who_asked(server: Server) -> None:
    lina = _lina(server)
    notified = _irc(server, "notified", "account-notify")
    plain = _irc(server, "plain", "")
    apart = server.net.irc_user("apart", channels="#elsewhere")
    apart.ask("CAP REQ :account-notify")
    for user in (notified, plain, apart):
        user.read()
    server.ask(lina, "/login lina sesame-1")
    assert notified.read() == [":lina!lina@198.51.100.7 ACCOUNT lina"]
    assert plain.read() == [] and apart.read() == []
    server.ask(lina, "/logout")
    assert notified.read() == [":lina!lina@198.51.100.7 ACCOUNT *"]
    assert plain.read() == []


def test_an_irc_user_sees_their_own_account_change(server: Server) -> None:
    server.account("jilles").drop()
    jilles = _irc(server, "jilles", "account-notify")
    jilles.send("PRIVMSG NickServ :IDENTIFY jilles sesame-1")
    server.clock.advance(0)
    lines = jilles.read()
    assert ":jilles!~jilles@192.0.2.1 ACCOUNT jilles" in lines
    jilles.send("PRIVMSG NickServ :LOGOUT")
    assert ":jilles!~jilles@192.0.2.1 ACCOUNT *" in jilles.read()


def test_sasl_before_registering_sends_no_account_line(server: Server) -> None:
    server.account("jilles").drop()
    watcher = _irc(server, "watcher", "account-notify")
    user = IRCUser(server.net)
    user.send("CAP LS 302", "CAP REQ :sasl account-notify", "NICK jilles",
              "USER j 0 * :Jilles J", "AUTHENTICATE PLAIN",
              "AUTHENTICATE " + base64.b64encode(b"\0jilles\0sesame-1").decode(), "CAP END")
    assert user.protocol.record.account == "jilles"
    assert not any(" ACCOUNT " in line for line in user.read())
    user.send("JOIN #chan")
    assert watcher.read() == [":jilles!~j@192.0.2.1 JOIN #chan"]


def test_account_notify_is_rendered_once_per_variant(server: Server) -> None:
    lina = _lina(server)
    users = [_irc(server, f"u{i}", caps) for i, caps in enumerate(
        ["account-notify", "account-notify", "account-notify server-time",
         "account-notify server-time message-tags", "account-notify message-tags"])]
    writes: dict[str, list[bytes]] = {}
    for user in users:
        user.protocol._write = writes.setdefault(  # type: ignore[method-assign]
            user.protocol.record.name or "", []).append
    server.ask(lina, "/login lina sesame-1")
    (a,), (b,), (c,), (d,), (e,) = (writes[f"u{i}"] for i in range(5))
    assert a is b and a == b":lina!lina@198.51.100.7 ACCOUNT lina\r\n"
    assert c.startswith(b"@time=") and c.endswith(b" " + a)
    assert set(wire.parse_tags(d.decode())) == {"time", "msgid"}
    assert set(wire.parse_tags(e.decode())) == {"msgid"} and e.endswith(b" " + a)


def test_a_watcher_with_extended_monitor_sees_the_login(server: Server) -> None:
    lina = _lina(server)
    watcher = server.net.irc_user("watcher", channels="")
    watcher.ask("CAP REQ :account-notify extended-monitor")
    watcher.ask("MONITOR + lina")
    server.ask(lina, "/login lina sesame-1")
    assert watcher.read() == [":lina!lina@198.51.100.7 ACCOUNT lina"]


def test_messages_from_a_logged_in_sender_carry_the_account_tag(server: Server) -> None:
    lina = _lina(server)
    tagged = _irc(server, "tagged", "account-tag")
    both = _irc(server, "both", "account-tag message-tags")
    plain = _irc(server, "plain", "")
    server.ask(lina, "/login lina sesame-1")
    for user in (tagged, both, plain):
        user.read()
    server.ask(lina, "hello")
    said = ":lina!lina@198.51.100.7 PRIVMSG #chan :hello"
    assert tagged.read() == ["@account=lina " + said]
    [line] = both.read()
    assert wire.parse_tags(line).keys() == {"account", "msgid"} and line.endswith(" " + said)
    assert plain.read() == [said]
    server.ask(lina, "@tagged:psst")
    assert tagged.read() == ["@account=lina :lina!lina@198.51.100.7 PRIVMSG tagged :psst"]


def test_an_irc_senders_privmsg_notice_tagmsg_and_join_carry_the_account(
        server: Server) -> None:
    server.account("jilles").drop()
    watcher = _irc(server, "watcher", "account-tag message-tags")
    jilles = server.net.irc_user("jilles", channels="")
    jilles.ask("CAP REQ :message-tags")
    jilles.send("PRIVMSG NickServ :IDENTIFY jilles sesame-1")
    server.clock.advance(0)
    jilles.send("JOIN #chan", "NOTICE #chan :hi", "@+typing=active TAGMSG watcher")
    lines = watcher.read()
    assert [line.split(" ", 3)[2] for line in lines] == ["JOIN", "NOTICE", "TAGMSG"]
    assert all(wire.parse_tags(line)["account"] == "jilles" for line in lines)
    jilles.send("PRIVMSG NickServ :LOGOUT", "PRIVMSG #chan :bye")
    [line] = watcher.read()
    assert "account" not in wire.parse_tags(line)


def test_no_account_no_second_rendering(server: Server) -> None:
    # A sender not logged in: account-tag clients share the bytes of the
    # format without it (the fan-out still renders once per look).
    lina = _lina(server)
    tagged = _irc(server, "tagged", "account-tag server-time")
    timed = _irc(server, "timed", "server-time")
    writes: list[bytes] = []
    for user in (tagged, timed):
        user.protocol._write = writes.append  # type: ignore[method-assign]
        user.protocol._guard.write = writes.append  # type: ignore[union-attr,method-assign]
    server.ask(lina, "hello")
    assert len(writes) == 2 and writes[0] is writes[1]
    formats = {render.wire_format(frozenset(caps.split())) for caps in (
        "account-tag server-time", "server-time")}
    assert len(formats) == 2


def test_the_other_lines_of_a_logged_in_user_carry_the_account(server: Server) -> None:
    lina = _lina(server)
    tagged = _irc(server, "tagged", "account-tag away-notify")
    _irc(server, "other", "")  # whom lina kicks
    server.ask(lina, "/login lina sesame-1")
    tagged.read()
    server.ask(lina, "/topic news", "/away lunch", "/kick other", "#lena", "/part #chan")
    lines = tagged.read()
    commands = [line.split(" ")[2] for line in lines]
    assert commands == ["TOPIC", "AWAY", "KICK", "NICK", "PART"], lines
    assert all(line.startswith("@account=lina :l") for line in lines), lines
    server.ask(lina, "/join #chan")
    tagged.read()
    lina.drop()
    [quit_line] = tagged.read()
    assert quit_line.startswith("@account=lina :lena!lena@198.51.100.7 QUIT "), quit_line
