"""Registered rooms over IRC: ChanServ (REGISTER, DROP, INFO, AMODE, OP, HELP) on
the hub's rules, its MODE +o on joining, WHOIS ChanServ, and what line users
see of the same rooms."""

from __future__ import annotations

import pytest
from support import IRCUser, numerics, params_of
from test_accounts import Server

CHANSERV = ":ChanServ!ChanServ@services.chatsvc NOTICE"


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def server() -> Server:
    return Server()


def irc_account(server: Server, nick: str, *, identify: bool = True) -> IRCUser:
    """An IRC user C{nick} whose account exists, logged in to it (NickServ) if asked."""
    if nick not in server.rules.known:
        server.account(nick).drop()
    user = server.net.irc_user(nick, channels="")
    if identify:
        lines = user.ask("PRIVMSG NickServ :IDENTIFY sesame-1")
        assert any("You are now identified" in line for line in lines), lines
    return user


def notices(lines: list[str]) -> list[str]:
    """The text of ChanServ's NOTICEs among C{lines}."""
    return [params_of(line)[-1] for line in lines if line.startswith(CHANSERV)]


def chanserv(user: IRCUser, text: str) -> list[str]:
    return notices(user.ask(f"PRIVMSG ChanServ :{text}"))


def test_register_info_and_drop(server: Server) -> None:
    alice = irc_account(server, "alice")
    alice.ask("JOIN #rust")
    assert chanserv(alice, "REGISTER #rust") == ["#rust is registered to you"]
    info = chanserv(alice, "INFO #RUST")
    assert info == ["#rust is registered to alice since Tue Nov 14 2023 22:13:20 UTC",
                    "Operator accounts of #rust: none"]
    assert chanserv(alice, "REGISTER #rust") == ["#rust is registered already"]
    alice.ask("PART #rust")
    room = server.hub.room_named("#rust")
    assert room is not None and len(room) == 0
    [listed] = [line for line in alice.ask("LIST") if " 322 alice #rust " in line]
    assert params_of(listed)[1:3] == ["#rust", "0"]
    assert chanserv(alice, "DROP #rust") == ["#rust is no longer registered"]
    assert server.hub.room_named("#rust") is None


def test_register_refusals(server: Server) -> None:
    guest = irc_account(server, "guest", identify=False)
    guest.ask("JOIN #rust")
    assert chanserv(guest, "REGISTER #rust") == ["you must be logged in to register a room"]
    bob = irc_account(server, "bob")
    bob.ask("JOIN #rust")
    assert chanserv(bob, "REGISTER #rust") == ["you are not an operator of #rust"]
    assert chanserv(bob, "UNREGISTER #rust") == ["#rust is not registered"]
    assert chanserv(bob, "INFO #nowhere") == ["no such room: #nowhere"]


def test_help_and_unknown_commands(server: Server) -> None:
    alice = irc_account(server, "alice")
    lines = chanserv(alice, "HELP")
    assert lines[0].startswith("ChanServ keeps registered rooms")
    assert any(line.startswith("AMODE <#room>") for line in lines)
    assert chanserv(alice, "FROB #rust") == lines
    assert chanserv(alice, "REGISTER") == lines
    assert alice.ask("NOTICE ChanServ :HELP") == []  # a NOTICE is never answered


def test_the_founder_gets_op_from_chanserv_on_joining(server: Server) -> None:
    alice = irc_account(server, "alice")
    alice.ask("JOIN #rust")
    chanserv(alice, "REGISTER #rust")
    alice.ask("PART #rust")
    bob = irc_account(server, "bob", identify=False)
    bob.ask("JOIN #rust")
    lines = alice.ask("JOIN #rust")
    assert lines[-1] == ":ChanServ!ChanServ@services.chatsvc MODE #rust +o alice"
    assert bob.read()[-1] == ":ChanServ!ChanServ@services.chatsvc MODE #rust +o alice"
    names = [line for line in bob.ask("NAMES #rust") if " 353 " in line]
    assert "@alice" in params_of(names[0])[-1].split()


def test_an_impostor_with_the_founders_nick_gets_nothing(server: Server) -> None:
    alice = irc_account(server, "alice")
    alice.ask("JOIN #rust", "MODE #rust +k sesame")
    chanserv(alice, "REGISTER #rust")
    alice.drop()
    impostor = irc_account(server, "alice", identify=False)
    assert numerics(impostor.ask("JOIN #rust")) == ["475"]
    lines = impostor.ask("JOIN #rust sesame")
    assert not any(" MODE #rust +o" in line for line in lines)
    # Logging in to the account makes her the operator she is by account.
    lines = impostor.ask("PRIVMSG NickServ :IDENTIFY sesame-1")
    assert ":ChanServ!ChanServ@services.chatsvc MODE #rust +o alice" in lines
    assert chanserv(impostor, "OP #rust") == ["You are an operator of #rust already"]
    impostor.ask("MODE #rust -o alice")
    assert impostor.ask("PRIVMSG ChanServ :OP #rust") == [
        ":ChanServ!ChanServ@services.chatsvc MODE #rust +o alice"]


def test_amode_over_irc_and_the_line_protocol_sees_it(server: Server) -> None:
    alice = irc_account(server, "alice")
    alice.ask("JOIN #rust")
    chanserv(alice, "REGISTER #rust")
    server.account("bob").drop()
    line_bob = server.user()
    server.ask(line_bob, "/login bob sesame-1", "/join #rust")
    lines = alice.ask("PRIVMSG ChanServ :AMODE #rust +o bob")
    assert lines[0] == ":ChanServ!ChanServ@services.chatsvc MODE #rust +o bob"
    assert notices(lines) == ["bob is now an operator of #rust by account"]
    assert line_bob.read() == ["* ChanServ gives operator status to bob in #rust"]
    assert chanserv(alice, "AMODE #rust") == [
        "#rust is registered to alice since Tue Nov 14 2023 22:13:20 UTC",
        "Operator accounts of #rust: bob"]
    assert chanserv(alice, "AMODE #rust +o bob") == [
        "Nothing changed: bob was an operator of #rust already"]
    assert chanserv(alice, "AMODE #rust -o nobody") == ["no such account: nobody"]
    assert server.ask(line_bob, "/roominfo") == [
        "* #rust is registered to alice (for 0 s); operator accounts: bob"]
    assert chanserv(irc_account(server, "carol"), "AMODE #rust +o carol") == [
        "only the founder of #rust or a server operator may do that"]


def test_whois_chanserv_shows_a_service(server: Server) -> None:
    alice = irc_account(server, "alice")
    lines = alice.ask("WHOIS ChanServ")
    assert numerics(lines) == ["311", "312", "313", "318"]
    assert params_of(lines[0])[1:4] == ["ChanServ", "ChanServ", "services.chatsvc"]
    assert params_of(lines[2])[-1] == "is a network service"


def test_without_accounts_chanserv_is_no_service() -> None:
    from support import Net

    user = Net().irc_user("alice", channels="")
    assert numerics(user.ask("PRIVMSG ChanServ :REGISTER #rust")) == ["401", "NOTICE"]
    assert numerics(user.ask("WHOIS ChanServ")) == ["401", "318"]


def test_a_long_operator_list_is_split_into_lines(server: Server) -> None:
    alice = irc_account(server, "alice")
    alice.ask("JOIN #rust")
    chanserv(alice, "REGISTER #rust")
    names = [f"operator{index:02}-long-name" for index in range(30)]
    for index, name in enumerate(names):  # one address each: past the registration throttle
        user = server.user(name, host=f"198.51.100.{100 + index}")
        assert server.ask(user, "/register sesame-1") == [f"* registered {name}"]
        chanserv(alice, f"AMODE #rust +o {name}")
    lines = alice.ask("PRIVMSG ChanServ :INFO #rust")
    assert all(len(line.encode()) <= 512 for line in lines)
    shown = " ".join(notices(lines))
    assert all(name in shown for name in names)


def test_after_a_restart_irc_sees_the_channel_as_it_was(server: Server) -> None:
    alice = irc_account(server, "alice")
    alice.ask("JOIN #rust", "TOPIC #rust :Rust talk", "MODE #rust +sk sesame")
    chanserv(alice, "REGISTER #rust")
    created = server.hub.room_named("#rust").created  # type: ignore[union-attr]
    server.clock.advance(600)
    after = Server(server.connection)
    after.clock.advance(1200)
    guest = after.net.irc_user("guest", channels="")
    assert not [line for line in guest.ask("LIST") if " 322 guest #rust " in line]  # +s
    assert numerics(guest.ask("JOIN #rust")) == ["475"]
    founder = irc_account(after, "alice")
    lines = founder.ask("JOIN #rust")
    assert numerics(lines)[:3] == ["JOIN", "332", "333"]
    assert params_of(lines[1])[-1] == "Rust talk"
    assert params_of(lines[2])[2] == "alice"
    assert lines[-1] == ":ChanServ!ChanServ@services.chatsvc MODE #rust +o alice"
    [creation] = [line for line in founder.ask("MODE #rust") if " 329 " in line]
    assert params_of(creation)[-1] == str(int(created))
    assert params_of(founder.ask("MODE #rust")[0])[2:] == ["+nstk", "sesame"]
