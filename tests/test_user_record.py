"""The hub's user record: one account of each user, whatever protocol they speak.

The hub creates it when it admits a connection and alone changes it; the
adapters read everyone, their own user included, through it (issue 17,
item 4).  These tests drive real adapters in memory and look at what the
*other* protocol shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import Net, Recorder, numerics
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import StringTransport
from zope.interface import directlyProvides

from chatsvc.events import Wallops
from chatsvc.hub import errors
from chatsvc.hub.users import CTCP, MAX_AWAY_LENGTH, MESSAGE_TAGS, NOTIFY, WALLOPS, HubStats


@pytest.fixture
def net() -> Net:
    return Net(opers={"root": "hunter2"})


def test_each_protocol_gets_a_record_from_the_hub(net: Net) -> None:
    line = net.line_user("bob", host="198.51.100.7")
    irc = net.irc_user("alice", host="192.0.2.1")
    bob, alice = line.protocol.record, irc.protocol.record
    assert (bob.name, bob.host, bob.protocol, bob.capabilities) == (
        "bob", "198.51.100.7", "line", frozenset())
    assert (alice.name, alice.host, alice.protocol) == ("alice", "192.0.2.1", "IRC")
    assert alice.capabilities == {CTCP, MESSAGE_TAGS, NOTIFY, WALLOPS}
    # IRC's USER went to the hub: its username and real name are the record's.
    assert (alice.user, alice.realname) == ("~alice", "Alice Example")
    assert (bob.ident, bob.real_name) == ("bob", "bob")
    assert bob.signon == alice.signon == net.clock.seconds()
    assert net.hub.user_named("ALICE") is irc.protocol
    assert net.hub.user_named("nobody") is None


def test_a_rename_is_seen_through_the_record(net: Net) -> None:
    line = net.line_user("bob")
    line.send("#robert")
    assert line.protocol.record.name == line.protocol.name == "robert"
    assert net.hub.user_named("robert") is line.protocol


def test_a_tls_connection_is_secure_in_the_record_and_in_whois(net: Net) -> None:
    irc = net.irc_user("alice")
    transport = StringTransport(peerAddress=IPv4Address("TCP", "203.0.113.5", 4000))
    directlyProvides(transport, ISSLTransport)  # what a TLS listener's transport provides
    carol = net.hub.buildProtocol(transport.getPeer())
    carol.makeConnection(transport)
    carol.dataReceived(b"#carol\n")
    assert carol.record.secure
    assert not irc.protocol.record.secure
    assert ":chatsvc 671 alice carol :is using a secure connection" in irc.ask("WHOIS carol")
    assert not any(" 671 " in line for line in irc.ask("WHOIS alice"))


def test_away_set_through_the_hub_shows_to_both_protocols(net: Net) -> None:
    away = net.line_user("bob")
    irc = net.irc_user("alice")
    line = net.line_user("carol")
    assert net.hub.set_away(away.protocol, "  at lunch  ") == "at lunch"
    assert ":chatsvc 301 alice bob :at lunch" in irc.ask("WHOIS bob")
    assert irc.ask("PRIVMSG bob :hi") == [":chatsvc 301 alice bob :at lunch"]
    line.send("@bob:hi")
    assert line.read() == ["* bob is away: at lunch"]
    assert net.hub.set_away(away.protocol, "   ") is None
    assert not any(" 301 " in reply for reply in irc.ask("WHOIS bob"))
    assert net.hub.set_away(away.protocol, "x" * 500) == "x" * MAX_AWAY_LENGTH


def test_irc_away_is_the_record_that_line_users_see(net: Net) -> None:
    irc = net.irc_user("alice")
    line = net.line_user("bob")
    assert irc.ask("AWAY :gone fishing") == [
        ":chatsvc 306 alice :You have been marked as being away"]
    assert irc.protocol.record.away == "gone fishing"
    line.send("@alice:hello")
    assert line.read() == ["* alice is away: gone fishing"]


def test_user_modes_live_in_the_record(net: Net) -> None:
    irc = net.irc_user("alice")
    assert irc.ask("MODE alice +iw") == [":alice MODE alice +iw"]
    assert irc.protocol.record.modes == {"i", "w"}
    assert irc.protocol.record.invisible
    assert irc.ask("MODE alice +i") == []  # nothing changed, nothing said
    assert irc.ask("MODE alice -w+x") == [":chatsvc 501 alice :Unknown MODE flag",
                                          ":alice MODE alice -w"]
    with pytest.raises(errors.UnknownUserMode):
        net.hub.set_user_mode(irc.protocol, "o", True)
    assert net.hub.stats().invisible == 1


def test_wallops_goes_through_the_seam_to_those_who_can_show_it(net: Net) -> None:
    oper, watcher, quiet = net.irc_user("root"), net.irc_user("watcher"), net.irc_user("quiet")
    line = net.line_user("bob")
    oper.ask("OPER root hunter2")
    watcher.ask("MODE watcher +w")
    # Even with +w in its record, a line user's protocol cannot show WALLOPS.
    net.hub.set_user_mode(line.protocol, "w", True)
    for user in (watcher, quiet, line):
        user.read()
    sent: list[object] = []
    inner = net.hub.delivery
    net.hub.delivery = type("Noting", (), {
        "to_room": inner.to_room, "to_user": inner.to_user,
        "to_many": lambda self, people, event: (sent.append(event),
                                                inner.to_many(people, event))})()
    oper.send("WALLOPS :maintenance")
    assert watcher.read() == [":root!~root@192.0.2.1 WALLOPS :maintenance"]
    assert quiet.read() == [] and line.read() == []
    assert len(sent) == 1 and isinstance(sent[0], Wallops) and sent[0].id is not None


def test_only_server_operators_kill_and_send_wallops(net: Net) -> None:
    alice, bob = Recorder(), Recorder()
    for person, name in ((alice, "alice"), (bob, "bob")):
        net.hub.attach(person, person.address)
        net.hub.register(person, name)
    with pytest.raises(errors.NotServerOperator):
        net.hub.kill(alice, "bob", "out")
    with pytest.raises(errors.NotServerOperator):
        net.hub.wallops(alice, "hello")
    net.hub.oper(alice, "root", "hunter2")
    with pytest.raises(errors.NoSuchUser):
        net.hub.kill(alice, "nobody", "out")
    assert net.hub.kill(alice, "BOB", "out") == "bob"
    assert bob.closed_for == "Killed (alice (out))"
    assert net.hub.deoper(alice) and not net.hub.deoper(alice)
    assert not net.hub.is_server_operator(alice)


def test_ctcp_follows_the_capability_not_the_class(net: Net) -> None:
    irc = net.irc_user("alice")
    bot = Recorder()
    net.hub.attach(bot, bot.address)
    net.hub.register(bot, "bot")
    assert irc.ask("PRIVMSG bot :\x01VERSION\x01") == [
        ":chatsvc NOTICE alice :bot cannot answer CTCP: not an IRC client"]
    bot.record.capabilities = frozenset({CTCP})  # a protocol that declares it
    assert irc.ask("PRIVMSG bot :\x01VERSION\x01") == []
    assert bot.events[-1].text == "\x01VERSION\x01"


def test_stats_count_what_lusers_shows(net: Net) -> None:
    net.irc_user("alice").send("MODE alice +i")
    net.line_user("bob")
    net.line_user()  # connected, not registered
    oper = net.irc_user("root", channels="#ops")
    oper.ask("OPER root hunter2")
    assert net.hub.stats() == HubStats(users=3, invisible=1, operators=1, unregistered=1,
                                       rooms=2, peak=3)
    lusers = oper.ask("LUSERS")
    assert numerics(lusers)[:4] == ["251", "252", "253", "254"]
    assert lusers[0].endswith(":There are 2 users and 1 invisible on 1 servers")


def test_idle_time_counts_from_the_last_message_of_either_protocol(net: Net) -> None:
    irc = net.irc_user("alice")
    line = net.line_user("bob")
    net.clock.advance(100)
    line.send("hello")
    net.clock.advance(7)
    whois = irc.ask("WHOIS bob")
    assert any(re.search(r" 317 alice bob 7 \d+ :seconds idle", reply) for reply in whois)


def test_adapters_never_reach_into_the_hub_or_other_connections() -> None:
    """The adapters use hub operations and records: no hub maps, no getattr on people."""
    protocols = Path(__file__).resolve().parent.parent / "chatsvc" / "protocols"
    forbidden = re.compile(r"(self|server)\.hub\.(users|opers|rooms|connections|_\w+)\b"
                           r"|getattr\((person|recipient|member|target|p)\b"
                           r"|isinstance\(\w+, IRCChatProtocol\)")
    found = [f"{path.name}:{number}: {line.strip()}"
             for path in sorted(protocols.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if forbidden.search(line)]
    assert found == []
