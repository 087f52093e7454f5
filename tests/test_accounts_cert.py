"""TLS client certificates on accounts (certfp), SASL EXTERNAL and re-authentication,
NickServ's CERT / GHOST / RECOVER, the line protocol's /certfp, /login NAME and
/ghost, and the fingerprint in WHOIS: in memory.

A connection's certificate is what the hub recorded for it after its TLS
handshake (C{hub.certified}); the real handshake is tests/test_accounts_cert_tls.py's.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from support import IRCUser, LineUser, numerics
from test_accounts import Server

from chatsvc.accounts import certfp, kdf
from chatsvc.conn.certificates import normalize
from chatsvc.store.sqlite import migrate

FP = "ab" * 32
OTHER = "cd" * 32
THIRD = "ef" * 32


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def server(backend: Any) -> Server:
    """The hub over a fresh database of each backend (conftest's fixture)."""
    return Server(backend.connect())


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def plain(authcid: str, password: str) -> str:
    return b64(f"\0{authcid}\0{password}")


def irc(server: Server, fingerprint: str | None = FP, nick: str = "jilles") -> IRCUser:
    """An IRC client that asked for SASL, with C{fingerprint}'s certificate."""
    user = IRCUser(server.net)
    if fingerprint is not None:
        server.hub.certified(user.protocol, fingerprint)
    user.send("CAP LS 302", "CAP REQ :sasl", f"NICK {nick}", "USER j 0 * :J")
    user.read()
    return user


def with_cert(server: Server, name: str, fingerprint: str = FP) -> LineUser:
    """A line user logged in to a new account C{name} holding C{fingerprint}."""
    user = server.account(name)
    assert server.ask(user, f"/certfp add {fingerprint}")[0].startswith(
        f"* certificate {fingerprint} added")
    return user


def notices(lines: list[str]) -> list[str]:
    return [line.split(" :", 1)[1] for line in lines if " NOTICE " in line]


# -- the fingerprint and the store ---------------------------------------------------


def test_a_fingerprint_is_64_hex_digits_in_any_case_with_or_without_colons() -> None:
    colons = ":".join(["AB"] * 32)
    assert normalize(colons) == normalize(FP.upper()) == FP
    for bad in ("", "ab" * 31, "ab" * 33, "zz" * 32, "ab" * 31 + "a g"):
        assert normalize(bad) is None


def test_the_store_keeps_a_certificate_for_one_account_and_bounds_them(backend: Any) -> None:
    connection = backend.connect(migrated=False)
    assert migrate(connection) == 0  # the version it had: a new database
    for name in ("alice", "bob"):
        connection.execute("INSERT INTO account (name_key, name, password, created) "
                           "VALUES (?, ?, 'x', 0)", (name, name))
    assert certfp.add(connection, "Alice", FP, 1.0) == certfp.ADDED
    assert certfp.add(connection, "alice", FP, 2.0) == certfp.ALREADY
    assert certfp.add(connection, "bob", FP, 3.0) == certfp.TAKEN
    assert certfp.owner(connection, FP).name == "alice"  # type: ignore[union-attr]
    assert certfp.owner(connection, OTHER) is None
    for n in range(certfp.LIMIT - 1):
        assert certfp.add(connection, "alice", f"{n:064x}", 4.0 + n) == certfp.ADDED
    assert certfp.add(connection, "alice", OTHER, 10.0) == certfp.FULL
    assert certfp.listed(connection, "ALICE")[0] == FP
    assert len(certfp.listed(connection, "alice")) == certfp.LIMIT
    assert certfp.remove(connection, "bob", FP) is False  # not bob's
    assert certfp.remove(connection, "alice", FP) is True
    assert certfp.owner(connection, FP) is None


def test_dropping_an_account_forgets_its_certificates(server: Server) -> None:
    alice = with_cert(server, "alice")
    assert server.ask(alice, "/drop sesame-1") == ["* dropped the account alice"]
    bob = server.account("bob")
    assert server.ask(bob, f"/certfp add {FP}")[0].startswith(f"* certificate {FP} added")


# -- the line protocol ------------------------------------------------------------------


def test_certfp_add_list_del_on_the_line_protocol(server: Server) -> None:
    alice = server.account("alice")
    assert server.ask(alice, "/certfp") == ["* you showed no TLS client certificate"]
    assert server.ask(alice, "/certfp add") == [
        "! you showed no TLS client certificate: connect over TLS with one"]
    server.hub.certified(alice.protocol, FP)
    assert server.ask(alice, "/certfp") == [f"* your certificate: {FP}"]
    assert server.ask(alice, "/certfp add") == [
        f"* certificate {FP} added: /login alice needs no password with it"]
    assert server.ask(alice, "/certfp add " + FP.upper()) == [
        f"* certificate {FP} is on your account already"]
    assert server.ask(alice, f"/certfp add {OTHER}")[0].startswith("* certificate")
    assert server.ask(alice, "/certfp list") == [f"* certificates: {FP}, {OTHER}"]
    assert server.ask(alice, f"/certfp del {OTHER}") == [f"* certificate {OTHER} removed"]
    assert server.ask(alice, f"/certfp del {OTHER}") == [
        "! your account has no such certificate"]
    assert server.ask(alice, "/certfp add xyz") == [
        "! not a certificate fingerprint: give the 64 hex digits of its SHA-256"]
    assert server.ask(alice, "/certfp frob")[0].startswith("! usage: /certfp add")


def test_certfp_needs_a_login_and_a_certificate_is_one_accounts(server: Server) -> None:
    guest = server.user("guest")
    assert server.ask(guest, f"/certfp add {FP}") == ["! you are not logged in"]
    assert server.ask(guest, "/certfp list") == ["! you are not logged in"]
    with_cert(server, "alice")
    bob = server.account("bob")
    assert server.ask(bob, f"/certfp add {FP}") == [
        "! that certificate belongs to another account"]


def test_an_account_holds_a_bounded_number_of_certificates(server: Server) -> None:
    alice = server.account("alice")
    for n in range(certfp.LIMIT):
        server.ask(alice, f"/certfp add {n:064x}")
    assert server.ask(alice, f"/certfp add {FP}") == [
        f"! your account has {certfp.LIMIT} certificates already: remove one first"]


def test_login_with_a_name_and_no_password_over_a_known_certificate(server: Server) -> None:
    alice = with_cert(server, "alice")
    server.ask(alice, "/quit")
    fresh = server.user()
    server.hub.certified(fresh.protocol, FP)
    assert server.ask(fresh, "/login alice")[-1] == "* logged in as alice"
    assert fresh.protocol.name == "alice" and fresh.protocol.record.account == "alice"


def test_login_by_certificate_refusals(server: Server) -> None:
    with_cert(server, "alice")
    server.account("bob")
    nobody = server.user()
    assert server.ask(nobody, "/login alice") == ["! usage: /login name password"]
    server.hub.certified(nobody.protocol, OTHER)
    assert server.ask(nobody, "/login alice") == [
        "! your certificate is not registered to alice"]
    thief = server.user()
    server.hub.certified(thief.protocol, FP)  # alice's, but asking for bob
    assert server.ask(thief, "/login bob") == ["! your certificate is not registered to bob"]
    assert thief.protocol.record.account is None


def test_whois_shows_the_fingerprint_to_yourself_and_operators_only(server: Server) -> None:
    alice = server.account("alice")
    server.hub.certified(alice.protocol, FP)
    bob = server.user("bob")
    [mine] = server.ask(alice, "/whois alice")
    assert f"certificate {FP}" in mine
    [theirs] = server.ask(bob, "/whois alice")
    assert FP not in theirs
    server.hub.opers.add(bob.protocol)
    [oper] = server.ask(bob, "/whois alice")
    assert f"certificate {FP}" in oper


def test_line_ghost_closes_a_stale_connection_of_your_account(server: Server) -> None:
    stale = server.account("alice")
    fresh = server.user("alice2")
    assert server.ask(fresh, "/ghost alice") == [
        "! alice is not yours: log in to its account first, or give its password"]
    assert server.ask(fresh, "/ghost alice wrong-pass") == ["! wrong password"]
    assert not stale.closed
    assert server.ask(fresh, "/ghost alice sesame-1")[-1] == "* alice has been ghosted"
    assert stale.closed and "* ghosted by alice2" in stale.read()
    assert fresh.protocol.record.account is None  # the password did not log them in
    assert server.ask(fresh, "/ghost nobody") == ["! no such user: nobody"]


# -- IRC: SASL EXTERNAL and re-authentication -----------------------------------------


def test_sasl_external_logs_in_with_a_registered_certificate(server: Server) -> None:
    with_cert(server, "jilles")
    user = irc(server, nick="someone")
    assert user.ask("AUTHENTICATE EXTERNAL") == ["AUTHENTICATE +"]
    assert user.ask("AUTHENTICATE +") == [
        ":chatsvc 900 * *!~j@192.0.2.1 jilles :You are now logged in as jilles",
        ":chatsvc 903 * :SASL authentication successful"]
    assert numerics(user.ask("CAP END"))[0] == "001"
    assert user.protocol.record.account == "jilles"


def test_sasl_external_with_the_accounts_name_as_authzid(server: Server) -> None:
    with_cert(server, "jilles")
    user = irc(server, nick="other")
    user.ask("AUTHENTICATE EXTERNAL")
    assert numerics(user.ask("AUTHENTICATE " + b64("JILLES"))) == ["900", "903"]


@pytest.mark.parametrize(("fingerprint", "payload"), [
    (None, "+"),  # no certificate
    (OTHER, "+"),  # nobody's certificate
    (FP, b64("bob")),  # jilles's certificate, asking for bob
    (FP, "!!!"),  # not base64
    (FP, b64("a\0b")),
])
def test_sasl_external_refusals(server: Server, fingerprint: str | None, payload: str) -> None:
    with_cert(server, "jilles")
    server.account("bob")
    user = irc(server, fingerprint, nick="someone")
    assert user.ask("AUTHENTICATE EXTERNAL") == ["AUTHENTICATE +"]
    assert numerics(user.ask("AUTHENTICATE " + payload)) == ["904"]
    assert user.protocol.record.account is None


def test_sasl_reauthentication_switches_accounts_and_a_failure_keeps_the_first(
        server: Server) -> None:
    server.account("jilles").drop()
    server.account("foo", "foo-pass").drop()
    user = irc(server, None, nick="user")
    user.ask("AUTHENTICATE PLAIN")
    assert numerics(user.ask("AUTHENTICATE " + plain("foo", "foo-pass"))) == ["900", "903"]
    user.ask("CAP END")
    watcher = IRCUser(server.net)
    watcher.send("CAP REQ :account-notify", "NICK w", "USER w 0 * :W", "CAP END",
                 "JOIN #room")
    user.ask("JOIN #room")
    watcher.read()
    assert user.ask("AUTHENTICATE PLAIN") == ["AUTHENTICATE +"]
    assert numerics(user.ask("AUTHENTICATE " + plain("jilles", "wrong-one"))) == ["904"]
    assert user.protocol.record.account == "foo"
    user.ask("AUTHENTICATE PLAIN")
    lines = user.ask("AUTHENTICATE " + plain("jilles", "sesame-1"))
    assert numerics(lines) == ["900", "903"]  # no 901 before it
    assert lines[0].endswith("jilles :You are now logged in as jilles")
    assert user.protocol.record.account == "jilles"
    assert [line for line in watcher.read() if " ACCOUNT " in line] == [
        ":user!~j@192.0.2.1 ACCOUNT jilles"]


def test_sasl_reauthentication_takes_back_what_an_oper_account_gave(server: Server) -> None:
    server.account("boss").drop()
    server.connection.execute("UPDATE account SET oper = 1 WHERE name_key = 'boss'")
    server.rules.known = server.rules.store.load_now()
    server.account("jilles").drop()
    user = irc(server, None, nick="user")
    user.ask("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("boss", "sesame-1"), "CAP END")
    assert server.hub.is_server_operator(user.protocol)
    user.ask("AUTHENTICATE PLAIN")
    assert numerics(user.ask("AUTHENTICATE " + plain("jilles", "sesame-1")))[-2:] == [
        "900", "903"]
    assert not server.hub.is_server_operator(user.protocol)


def test_a_password_of_1024_bytes_in_three_chunks(server: Server) -> None:
    password = "p" * (kdf.MAX_PASSWORD_BYTES - 2)
    user = server.user("longpw")
    assert server.ask(user, f"/register {password}") == ["* registered longpw"]
    client = irc(server, None, nick="longpw")
    client.ask("AUTHENTICATE PLAIN")
    data = plain("longpw", password)
    assert 1200 < len(data) < 1600
    for start in range(0, 1200, 400):
        assert client.ask("AUTHENTICATE " + data[start:start + 400]) == []
    assert numerics(client.ask("AUTHENTICATE " + data[1200:])) == ["900", "903"]


# -- IRC: NickServ CERT, IDENTIFY by certificate, GHOST, RECOVER ------------------------


def registered_irc(server: Server, nick: str, fingerprint: str | None = None) -> IRCUser:
    user = server.net.irc_user(nick)
    if fingerprint is not None:
        server.hub.certified(user.protocol, fingerprint)
    lines = user.ask("PRIVMSG NickServ :REGISTER sesame-1")
    assert "900" in numerics(lines)
    return user


def test_nickserv_cert_add_list_del(server: Server) -> None:
    user = registered_irc(server, "jilles", FP)
    assert notices(user.ask("PRIVMSG NickServ :CERT ADD")) == [
        f"Certificate {FP} added to your account"]
    assert notices(user.ask(f"PRIVMSG NickServ :cert add {OTHER}")) == [
        f"Certificate {OTHER} added to your account"]
    assert notices(user.ask("PRIVMSG NickServ :CERT LIST")) == [
        f"Certificate: {FP}", f"Certificate: {OTHER}"]
    assert notices(user.ask(f"PRIVMSG NickServ :CERT DEL {OTHER}")) == [
        f"Certificate {OTHER} removed"]
    assert notices(user.ask("PRIVMSG NickServ :CERT ADD nonsense")) == [
        "not a certificate fingerprint: give the 64 hex digits of its SHA-256"]
    assert notices(user.ask("PRIVMSG NickServ :CERT FROB"))[0].startswith("Syntax: CERT")
    guest = server.net.irc_user("guest")
    assert notices(guest.ask(f"PRIVMSG NickServ :CERT ADD {THIRD}")) == [
        "you are not logged in"]


def test_nickserv_identify_without_a_password_uses_the_certificate(server: Server) -> None:
    registered_irc(server, "jilles", FP).ask("PRIVMSG NickServ :CERT ADD", "QUIT")
    user = server.net.irc_user("other")
    assert notices(user.ask("PRIVMSG NickServ :IDENTIFY")) == [
        "you showed no TLS client certificate: connect over TLS with one"]
    server.hub.certified(user.protocol, FP)
    lines = user.ask("PRIVMSG NickServ :IDENTIFY")
    assert notices(lines) == ["You are now identified as jilles"]
    assert "900" in numerics(lines)


def test_nickserv_help_lists_cert_ghost_and_recover(server: Server) -> None:
    lines = notices(server.net.irc_user("x").ask("PRIVMSG NickServ :HELP"))
    for command in ("CERT ADD", "CERT DEL", "CERT LIST", "GHOST", "RECOVER"):
        assert any(line.startswith(command) for line in lines), command


def test_nickserv_ghost_disconnects_a_stale_connection_logged_in_to_your_account(
        server: Server) -> None:
    stale = registered_irc(server, "jilles")
    fresh = server.net.irc_user("jilles_")
    fresh.ask("PRIVMSG NickServ :IDENTIFY jilles sesame-1")
    assert notices(fresh.ask("PRIVMSG NickServ :GHOST jilles")) == ["jilles has been ghosted"]
    assert stale.closed
    assert any("ERROR :Closing link" in line and "ghosted by jilles_" in line
               for line in stale.read())
    assert server.hub.user_named("jilles") is None
    assert fresh.protocol.name == "jilles_"


def test_nickserv_recover_takes_the_nick_too(server: Server) -> None:
    stale = registered_irc(server, "jilles")
    fresh = server.net.irc_user("jilles_")
    lines = fresh.ask("PRIVMSG NickServ :RECOVER jilles sesame-1")  # by password
    assert [line for line in lines if " NICK " in line] == [
        ":jilles_!~jilles_@192.0.2.1 NICK jilles"]
    assert notices(lines) == ["jilles has been recovered"]  # no grace period: logged in
    assert "900" in numerics(lines)
    assert stale.closed and fresh.protocol.name == "jilles"
    assert fresh.protocol.record.account == "jilles"


def test_nickserv_recover_from_a_guest_renames_them(server: Server) -> None:
    squatter = registered_irc(server, "jilles")
    squatter.ask("PRIVMSG NickServ :LOGOUT")  # keeps the nick: within the grace period
    owner = server.net.irc_user("owner")
    owner.ask("PRIVMSG NickServ :IDENTIFY jilles sesame-1")
    assert notices(owner.ask("PRIVMSG NickServ :RECOVER jilles")) == [
        "jilles has been recovered"]
    assert not squatter.closed and squatter.protocol.name.startswith("Guest")
    assert owner.protocol.name == "jilles"


def test_nickserv_ghost_refusals(server: Server) -> None:
    registered_irc(server, "jilles")
    stranger = server.net.irc_user("stranger")
    bystander = server.net.irc_user("bystander")  # no account: nobody's nick
    assert notices(stranger.ask("PRIVMSG NickServ :GHOST jilles")) == [
        "jilles is not yours: log in to its account first, or give its password"]
    assert notices(stranger.ask("PRIVMSG NickServ :GHOST jilles wrong-one")) == [
        "Invalid password"]
    assert notices(stranger.ask("PRIVMSG NickServ :GHOST bystander sesame-1")) == [
        "bystander is not yours: log in to its account first, or give its password"]
    assert notices(stranger.ask("PRIVMSG NickServ :GHOST nobody")) == [
        "no such user: nobody"]
    assert notices(stranger.ask("PRIVMSG NickServ :GHOST stranger")) == [
        "stranger is you already"]
    assert not bystander.closed


# -- IRC: WHOIS 276 ---------------------------------------------------------------------


def test_whois_276_to_the_user_themselves_and_opers_only(server: Server) -> None:
    alice = server.net.irc_user("alice")
    server.hub.certified(alice.protocol, FP)
    bob = server.net.irc_user("bob")
    assert f":chatsvc 276 alice alice :has client certificate fingerprint {FP}" in alice.ask(
        "WHOIS alice")
    assert "276" not in numerics(bob.ask("WHOIS alice"))
    server.hub.opers.add(bob.protocol)
    assert "276" in numerics(bob.ask("WHOIS alice"))
