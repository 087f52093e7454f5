"""The IRC adapter on in-memory transports: each command, numeric and error."""

from __future__ import annotations

import pytest
from support import Net, numerics
from twisted.protocols.basic import LineReceiver

from chatsvc.events import RoomMessage
from chatsvc.protocols.irc.render import WIRE_FORMAT


@pytest.fixture
def net() -> Net:
    return Net()


# -- registration ------------------------------------------------------------

def test_registration_burst(net: Net) -> None:
    user = net.irc_user()
    user.send("NICK alice", "USER al 0 * :Alice Liddell")
    lines = user.read()
    assert numerics(lines)[:4] == ["001", "002", "003", "004"]
    assert lines[0] == ":chatsvc 001 alice :Welcome to the chatsvc IRC network alice!~al@192.0.2.1"
    isupport = " ".join(line for line in lines if " 005 " in line)
    for token in ("CASEMAPPING=ascii", "CHANTYPES=#", "NICKLEN=32", "CHANNELLEN=51",
                  "TOPICLEN=390", "NETWORK=chatsvc"):
        assert token in isupport
    for numeric in ("251", "252", "253", "254", "255", "265", "266", "422"):
        assert numeric in numerics(lines)
    assert numerics(lines).index("422") > numerics(lines).index("255")


def test_motd(net: Net) -> None:
    net.hub.settings.motd = ["Be nice.", "Have fun."]
    user = net.irc_user()
    lines = user.ask("NICK alice", "USER al 0 * :Alice")
    motd = [line for line in lines if numerics([line])[0] in ("375", "372", "376")]
    assert motd == [
        ":chatsvc 375 alice :- chatsvc Message of the day - ",
        ":chatsvc 372 alice :- Be nice.",
        ":chatsvc 372 alice :- Have fun.",
        ":chatsvc 376 alice :End of /MOTD command.",
    ]
    assert numerics(user.ask("MOTD")) == ["375", "372", "372", "376"]


def test_cap_negotiation_holds_registration_until_end(net: Net) -> None:
    user = net.irc_user()
    offered = ("account-notify account-tag away-notify batch cap-notify chghost "
               "draft/chathistory echo-message extended-join extended-monitor invite-notify "
               "labeled-response message-tags multi-prefix server-time setname "
               "userhost-in-names")
    assert user.ask("CAP LS 302") == [f":chatsvc CAP * LS :{offered}"]
    assert user.ask("JOIN :") == [":chatsvc 451 * :You have not registered"]
    assert user.ask("NICK alice", "USER al 0 * :Alice") == []
    assert user.ask("CAP REQ :multi-prefix sasl") == [":chatsvc CAP * NAK :multi-prefix sasl"]
    # CAP LS 302 enables cap-notify by itself; the NAK'd request changed nothing.
    assert user.ask("CAP LIST") == [":chatsvc CAP * LIST :cap-notify"]
    assert numerics(user.ask("CAP FOO")) == ["410"]
    assert numerics(user.ask("CAP END"))[0] == "001"
    assert user.ask("CAP LS") == [f":chatsvc CAP alice LS :{offered}"]


def test_registration_errors(net: Net) -> None:
    net.irc_user("taken")
    user = net.irc_user()
    assert user.ask("NICK") == [":chatsvc 431 * :No nickname given"]
    assert numerics(user.ask("NICK 9lives")) == ["432"]
    assert user.ask("NICK Taken") == [":chatsvc 433 * Taken :Nickname is already in use"]
    assert user.ask("USER only") == [":chatsvc 461 * USER :Not enough parameters"]
    assert user.ask("PRIVMSG #chat :hi") == [":chatsvc 451 * :You have not registered"]
    assert user.ask("BOGUS") == [":chatsvc 451 * :You have not registered"]
    assert numerics(user.ask("NICK alice", "USER a 0 * :A"))[0] == "001"
    assert user.ask("USER a 0 * :A") == [":chatsvc 462 alice :You may not reregister"]
    assert user.ask("PASS x") == [":chatsvc 462 alice :You may not reregister"]


def test_quit_before_registration(net: Net) -> None:
    user = net.irc_user()
    assert user.ask("QUIT") == ["ERROR :Closing link: 192.0.2.1 (Quit)"]
    assert user.closed


def test_server_password() -> None:
    net = Net(password="s3cret")
    bad = net.irc_user()
    lines = bad.ask("PASS wrong", "NICK alice", "USER a 0 * :A")
    assert lines == [":chatsvc 464 * :Password incorrect",
                     "ERROR :Closing link: 192.0.2.1 (Bad password)"]
    assert bad.closed and "alice" not in net.hub.users
    missing = net.irc_user()
    # No PASS at all is told that one is needed, not that it is wrong (issue 14),
    # and is not counted as a guess.
    assert missing.ask("NICK alice", "USER a 0 * :A") == [
        ":chatsvc 464 * :Password required: this server needs PASS before NICK and USER",
        "ERROR :Closing link: 192.0.2.1 (Password required)"]
    for _ in range(10):  # were they guesses, the address would be backing off by now
        assert net.irc_user().ask("NICK alice", "USER a 0 * :A")[0].startswith(
            ":chatsvc 464 * :Password required")
    good = net.irc_user()
    assert numerics(good.ask("PASS s3cret", "NICK alice", "USER a 0 * :A"))[0] == "001"


def test_server_full() -> None:
    net = Net(max_clients=1)
    net.irc_user("alice")
    user = net.irc_user()
    assert user.read() == ["ERROR :Closing link: 192.0.2.1 (server full)"]
    assert user.closed


# -- liveness ----------------------------------------------------------------

def test_ping_pong(net: Net) -> None:
    user = net.irc_user("alice")
    assert user.ask("PING :abc 123") == [":chatsvc PONG chatsvc :abc 123"]
    assert user.ask("PING") == [":chatsvc 461 alice PING :Not enough parameters"]
    assert user.ask("PONG :whatever") == []


def test_idle_client_is_pinged_then_dropped() -> None:
    net = Net(irc_ping_interval=60, irc_ping_timeout=30)
    bob = net.line_user("bob")
    user = net.irc_user("alice")
    net.clock.advance(59)
    assert user.read() == []
    net.clock.advance(1)
    assert user.read() == ["PING chatsvc"]
    net.clock.advance(29)
    assert not user.closed
    net.clock.advance(1)
    assert user.read() == ["ERROR :Closing link: 192.0.2.1 (Ping timeout: 90 seconds)"]
    assert user.closed
    user.drop()
    assert bob.read() == ["* alice joined", "* alice left (Ping timeout: 90 seconds)"]
    assert "alice" not in net.hub.users


def test_answering_client_stays(net: Net) -> None:
    net.hub.settings.irc_ping_interval = 60
    user = net.irc_user("alice")
    pings = 0
    for _ in range(100):
        net.clock.advance(10)
        if user.read() == ["PING chatsvc"]:
            pings += 1
            user.send("PONG chatsvc")
    assert pings >= 5 and not user.closed
    user.send("PRIVMSG alice :talking counts as alive")
    user.read()
    for _ in range(5):
        net.clock.advance(50)
        user.send("PRIVMSG alice :still here")
    assert "PING chatsvc" not in user.read()
    assert not user.closed


def test_unregistered_silent_connection_is_dropped() -> None:
    net = Net(irc_ping_interval=10, irc_ping_timeout=10)
    user = net.irc_user()
    net.clock.advance(10)
    assert user.read() == ["PING chatsvc"]
    net.clock.advance(10)
    assert user.closed


def test_timer_cancelled_on_disconnect(net: Net) -> None:
    user = net.irc_user("alice")
    assert net.clock.getDelayedCalls()
    user.drop()
    assert not net.clock.getDelayedCalls()


# -- input -------------------------------------------------------------------

def test_overlong_line_is_refused_and_connection_lives() -> None:
    net = Net(max_line=600)
    user = net.irc_user("alice")
    assert user.ask("PRIVMSG alice :" + "x" * 700) == [
        ":chatsvc 417 alice :Input line was too long"]
    assert user.ask("PING x") == [":chatsvc PONG chatsvc :x"]


def test_the_irc_protocol_is_a_line_receiver() -> None:
    net = Net(max_line=600)
    user = net.irc_user("alice")
    assert isinstance(user.protocol, LineReceiver)
    assert user.protocol.MAX_LENGTH == 600


def test_over_long_lines_in_one_read_are_refused_one_by_one() -> None:
    net = Net(max_line=600)
    user = net.irc_user("alice")
    user.read()
    user.protocol.dataReceived(b"PING a\r\n" + b"x" * 700 + b"\r\nPING b\r\n"
                               + b"y" * 601 + b"\r\nPING c\r\n")
    refusal = ":chatsvc 417 alice :Input line was too long"
    assert user.read() == [":chatsvc PONG chatsvc :a", refusal, ":chatsvc PONG chatsvc :b",
                           refusal, ":chatsvc PONG chatsvc :c"]
    assert not user.closed


def test_send_line_stays_one_line_of_at_most_512_bytes(net: Net) -> None:
    user = net.irc_user("alice")
    user.read()
    user.protocol.sendLine(b"NOTICE alice :hi\r\nQUIT :forged")
    assert user.read() == ["NOTICE alice :hiQUIT :forged"]
    user.protocol.sendLine(b"NOTICE alice :" + b"x" * 600)
    (line,) = user.read()
    assert len(line.encode()) + 2 == 512


def test_latin1_fallback_and_split_utf8(net: Net) -> None:
    bob = net.line_user("bob")
    user = net.irc_user("alice")
    bob.read()
    user.send("PRIVMSG bob :caf\xe9".encode("latin-1"))
    assert bob.read() == ["*alice* café"]
    data = "PRIVMSG bob :naïve\r\n".encode()
    cut = data.index("ï".encode()) + 1
    user.protocol.dataReceived(data[:cut])
    user.protocol.dataReceived(data[cut:])
    assert bob.read() == ["*alice* naïve"]


def test_tags_and_prefix_from_client_are_ignored(net: Net) -> None:
    bob = net.line_user("bob")
    user = net.irc_user("alice")
    bob.read()
    user.send("@label=1 :mallory!x@y PRIVMSG bob :hi")
    assert bob.read() == ["*alice* hi"]


def test_unknown_command(net: Net) -> None:
    user = net.irc_user("alice")
    assert user.ask("FROB a b") == [":chatsvc 421 alice FROB :Unknown command"]
    assert user.ask("") == []


# -- messages ----------------------------------------------------------------

def test_channel_messages_both_ways(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    assert bob.read() == ["* alice joined"]
    bob.send("hello irc")
    assert alice.read() == [":bob!bob@198.51.100.7 PRIVMSG #chat :hello irc"]
    alice.send("PRIVMSG #chat :hello line")
    assert bob.read() == ["<alice> hello line"]
    assert alice.read() == []  # no echo


def test_private_messages_both_ways(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    bob.read()
    bob.send("@alice:psst")
    assert alice.read() == [":bob!bob@198.51.100.7 PRIVMSG alice :psst"]
    alice.send("PRIVMSG bob :hush")
    assert bob.read() == ["*alice* hush"]
    carol = net.irc_user("carol")
    bob.read()
    alice.send("PRIVMSG carol,bob :both")
    assert carol.read() == [":alice!~alice@192.0.2.1 PRIVMSG carol :both"]
    assert bob.read() == ["*alice* both"]


def test_line_user_is_told_an_irc_user_is_away(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    alice.ask("AWAY :gone \x02fishing\x02")
    bob.read()
    bob.send("@alice:are you there?")
    assert alice.read() == [":bob!bob@198.51.100.7 PRIVMSG alice :are you there?"]
    assert bob.read() == ["* alice is away: gone fishing"]
    alice.send("AWAY")
    bob.send("@alice:back?")
    assert bob.read() == []


def test_actions_both_ways(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    bob.read()
    bob.send("/me waves")
    assert alice.read() == [":bob!bob@198.51.100.7 PRIVMSG #chat :\x01ACTION waves\x01"]
    alice.send("PRIVMSG #chat :\x01ACTION bows\x01")
    assert bob.read() == ["* alice bows"]
    alice.send("PRIVMSG bob :\x01ACTION winks at you\x01")
    # Written as chat emotes are, not "*alice* * alice winks at you" (issue 14).
    assert bob.read() == ["*alice winks at you*"]


def test_notice_stays_a_notice_for_irc_users(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    carol = net.irc_user("carol")
    bob.read()
    alice.read()
    carol.send("NOTICE #chat :bot says hi", "NOTICE alice :just you")
    assert alice.read() == [":carol!~carol@192.0.2.1 NOTICE #chat :bot says hi",
                            ":carol!~carol@192.0.2.1 NOTICE alice :just you"]
    assert bob.read() == ["<carol> bot says hi"]


def test_formatting_passes_between_irc_users_only(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    carol = net.irc_user("carol")
    bob.read()
    alice.read()
    carol.send("PRIVMSG #chat :\x02bold\x02 \x0304,01red\x03 \x1b[31mansi\x07")
    assert alice.read() == [
        ":carol!~carol@192.0.2.1 PRIVMSG #chat :\x02bold\x02 \x0304,01red\x03 [31mansi"]
    assert bob.read() == ["<carol> bold red [31mansi"]


def test_message_errors(net: Net) -> None:
    alice = net.irc_user("alice")
    assert alice.ask("PRIVMSG") == [":chatsvc 411 alice :No recipient given (PRIVMSG)"]
    assert alice.ask("PRIVMSG bob") == [":chatsvc 412 alice :No text to send"]
    assert alice.ask("PRIVMSG bob :") == [":chatsvc 412 alice :No text to send"]
    assert alice.ask("PRIVMSG nobody :hi") == [
        ":chatsvc 401 alice nobody :No such nick/channel"]
    assert alice.ask("PRIVMSG #nowhere :hi") == [
        ":chatsvc 403 alice #nowhere :No such channel"]
    assert numerics(alice.ask("PRIVMSG a,b,c,d,e :hi")) == ["407"]
    # A NOTICE is never answered, errors included (test_irc_conformance.py).
    assert alice.ask("NOTICE nobody :hi") == []
    assert alice.ask("PRIVMSG alice :\x07\x1b") == [":chatsvc 412 alice :No text to send"]


def test_long_message_is_split_never_cut(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    alice.read()
    text = " ".join(f"wörd{i}" for i in range(400))
    bob.send(text)
    lines = alice.read()
    assert len(lines) > 1
    prefix = ":bob!bob@198.51.100.7 PRIVMSG #chat :"
    assert all(line.startswith(prefix) for line in lines)
    assert all(len(line.encode()) + 2 <= 512 for line in lines)
    assert " ".join(line[len(prefix):] for line in lines) == text
    unbroken = "é" * 1500
    bob.send("/me " + unbroken)
    lines = alice.read()
    assert all(len(line.encode()) + 2 <= 512 for line in lines)
    assert all(line.endswith("\x01") and ":\x01ACTION " in line for line in lines)
    assert "".join(line.split("\x01ACTION ")[1][:-1] for line in lines) == unbroken


def test_ctcp_other_than_action(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    carol = net.irc_user("carol")
    alice.send("PRIVMSG carol :\x01VERSION\x01")
    assert carol.read() == [":alice!~alice@192.0.2.1 PRIVMSG carol :\x01VERSION\x01"]
    carol.send("NOTICE alice :\x01VERSION irssi\x01")
    assert alice.read()[-1] == ":carol!~carol@192.0.2.1 NOTICE alice :\x01VERSION irssi\x01"
    bob.read()
    assert alice.ask("PRIVMSG bob :\x01VERSION\x01") == [
        ":chatsvc NOTICE alice :bob cannot answer CTCP: not an IRC client"]
    assert bob.read() == []


def test_render_once_for_all_irc_recipients(net: Net) -> None:
    seen: list[RoomMessage] = []
    alice = net.irc_user("alice")
    carol = net.irc_user("carol")
    original = carol.protocol.deliver

    def spy(event):  # type: ignore[no-untyped-def]
        seen.append(event)
        original(event)

    carol.protocol.deliver = spy  # type: ignore[method-assign]
    dave = net.irc_user("dave")
    alice.read()
    carol.read()
    dave.send("PRIVMSG #chat :once")
    event = next(e for e in seen if isinstance(e, RoomMessage))
    assert event.wire[WIRE_FORMAT] == b":dave!~dave@192.0.2.1 PRIVMSG #chat :once\r\n"
    assert alice.read() == carol.read() == [":dave!~dave@192.0.2.1 PRIVMSG #chat :once"]


# -- nicks, joins, quits -----------------------------------------------------

def test_nick_change_seen_by_everyone(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    carol = net.irc_user("carol")
    bob.read()
    alice.read()
    assert alice.ask("NICK alicia") == [":alice!~alice@192.0.2.1 NICK alicia"]
    assert bob.read() == ["* alice is now alicia"]
    assert carol.read() == [":alice!~alice@192.0.2.1 NICK alicia"]
    bob.send("/nick robert")
    assert alice.read() == [":bob!bob@198.51.100.7 NICK robert"]
    assert alice.ask("NICK carol") == [":chatsvc 433 alicia carol :Nickname is already in use"]
    assert numerics(alice.ask("NICK -bad")) == ["432"]
    assert alice.ask("NICK ALICIA") == [":alicia!~alice@192.0.2.1 NICK ALICIA"]


def test_joins_and_quits_both_ways(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    assert bob.read() == ["* alice joined"]
    carol = net.line_user("carol")
    assert alice.read() == [":carol!carol@198.51.100.7 JOIN #chat"]
    carol.send("/quit gone fishing")
    carol.drop()
    bob.read()
    assert alice.read() == [":carol!carol@198.51.100.7 QUIT :gone fishing"]
    alice.send("QUIT :see you")
    assert alice.read() == ["ERROR :Closing link: 192.0.2.1 (Quit: see you)"]
    assert alice.closed
    alice.drop()
    assert bob.read() == ["* alice left (Quit: see you)"]


def test_default_room_as_a_channel(net: Net) -> None:
    net.line_user("bob")
    alice = net.irc_user()
    lines = alice.ask("NICK alice", "USER a 0 * :A")
    assert not any(" JOIN " in line for line in lines)  # IRC users choose their channels
    assert alice.ask("JOIN #chat") == [":alice!~a@192.0.2.1 JOIN #chat",
                    ":chatsvc 353 alice = #chat :alice bob",
                    ":chatsvc 366 alice #chat :End of /NAMES list"]
    assert alice.ask("JOIN #chat") == []
    assert alice.ask("NAMES #chat") == [":chatsvc 353 alice = #chat :alice bob",
                                        ":chatsvc 366 alice #chat :End of /NAMES list"]
    assert alice.ask("NAMES") == [":chatsvc 366 alice * :End of /NAMES list"]
    assert alice.ask("WHO #chat") == [
        ":chatsvc 352 alice #chat bob 198.51.100.7 chatsvc bob H :0 bob",
        ":chatsvc 352 alice #chat ~a 192.0.2.1 chatsvc alice H :0 A",
        ":chatsvc 315 alice #chat :End of /WHO list",
    ]


def test_names_split_over_several_lines(net: Net) -> None:
    users = [net.line_user(f"user{i:03d}_with_a_long_name") for i in range(40)]
    alice = net.irc_user("alice")
    lines = alice.ask("NAMES #chat")
    names = [line for line in lines if " 353 " in line]
    assert len(names) > 1
    assert all(len(line.encode()) + 2 <= 512 for line in names)
    listed = " ".join(line.split(" :", 1)[1] for line in names).split()
    assert sorted(listed) == sorted([u.protocol.name for u in users] + ["alice"])


# -- user queries --------------------------------------------------------------

def test_whois(net: Net) -> None:
    signon = str(int(net.clock.seconds()))
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    net.clock.advance(42)
    assert alice.ask("WHOIS bob") == [
        ":chatsvc 311 alice bob bob 198.51.100.7 * :bob",
        ":chatsvc 319 alice bob :#chat",
        ":chatsvc 312 alice bob chatsvc :chatsvc-0.1.0",
        f":chatsvc 317 alice bob 42 {signon} :seconds idle, signon time",
        ":chatsvc 318 alice bob :End of /WHOIS list",
    ]
    net.clock.advance(5)
    bob.send("hello")  # a line user's idle time restarts when they talk
    assert ":chatsvc 317 alice bob 0 " + signon + " :seconds idle, signon time" in (
        alice.ask("WHOIS bob"))
    carol = net.irc_user("carol")
    carol.send("AWAY :lunch")
    lines = alice.ask("WHOIS Carol")
    assert lines[0] == ":chatsvc 311 alice carol ~carol 192.0.2.1 * :Carol Example"
    assert ":chatsvc 301 alice carol :lunch" in lines
    assert any(line.startswith(":chatsvc 317 alice carol 0 ") for line in lines)
    assert lines[-1] == ":chatsvc 318 alice Carol :End of /WHOIS list"
    assert alice.ask("WHOIS nobody") == [
        ":chatsvc 401 alice nobody :No such nick/channel",
        ":chatsvc 318 alice nobody :End of /WHOIS list"]
    assert numerics(alice.ask("WHOIS chatsvc bob"))[0] == "311"


def test_whois_lists_many_channels_over_several_lines(net: Net) -> None:
    rooms = [f"#{index:02d}" + "c" * 40 for index in range(net.hub.settings.max_rooms)]
    alice = net.irc_user("alice", channels=",".join(rooms))
    bob = net.irc_user("bob", channels="")
    lines = bob.ask("WHOIS alice")
    channels = [line for line in lines if line.split(" ")[1] == "319"]
    assert len(channels) > 1
    assert all(len(line.encode()) + 2 <= 512 for line in lines)
    assert all(line.startswith(":chatsvc 319 bob alice :") for line in channels)
    listed = [name for line in channels for name in line.split(" :", 1)[1].split(" ")]
    assert listed == ["@" + room for room in rooms]
    assert alice.protocol.name == "alice"


def test_whowas(net: Net) -> None:
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    bob.send("/nick robert")
    lines = alice.ask("WHOWAS bob")
    assert lines[0] == ":chatsvc 314 alice bob bob 198.51.100.7 * :bob"
    assert numerics(lines) == ["314", "312", "369"]
    carol = net.irc_user("carol")
    carol.drop()
    assert alice.ask("WHOWAS carol")[0] == (
        ":chatsvc 314 alice carol ~carol 192.0.2.1 * :Carol Example")
    assert alice.ask("WHOWAS nobody") == [
        ":chatsvc 406 alice nobody :There was no such nickname",
        ":chatsvc 369 alice nobody :End of WHOWAS"]


def test_who_by_mask_and_invisible(net: Net) -> None:
    alice = net.irc_user("alice")
    net.line_user("bob")
    carol = net.irc_user("carol")
    assert numerics(alice.ask("WHO b*")) == ["352", "315"]
    assert numerics(alice.ask("WHO *!*@198.51.100.*")) == ["352", "315"]
    carol.send("MODE carol +i")
    # carol shares #chat with alice, so she is still visible to alice
    assert numerics(alice.ask("WHO carol")) == ["352", "315"]
    net.hub.opers.add(carol.protocol)
    assert alice.ask("WHO * o")[0].split()[8] == "H*"


def test_ison_userhost_away(net: Net) -> None:
    net.line_user("bob")
    alice = net.irc_user("alice")
    assert alice.ask("ISON bob Alice nobody") == [":chatsvc 303 alice :bob alice"]
    assert alice.ask("ISON :bob nobody") == [":chatsvc 303 alice :bob"]
    assert alice.ask("AWAY :brb") == [":chatsvc 306 alice :You have been marked as being away"]
    assert alice.ask("USERHOST bob alice") == [
        ":chatsvc 302 alice :bob=+bob@198.51.100.7 alice=-~alice@192.0.2.1"]
    carol = net.irc_user("carol")
    assert carol.ask("PRIVMSG alice :hello?") == [":chatsvc 301 carol alice :brb"]
    assert carol.ask("NOTICE alice :hello?") == []
    assert alice.ask("AWAY") == [":chatsvc 305 alice :You are no longer marked as being away"]


def test_user_modes(net: Net) -> None:
    alice = net.irc_user("alice")
    net.line_user("bob")
    assert alice.ask("MODE alice") == [":chatsvc 221 alice +"]
    assert alice.ask("MODE alice +iw") == [":alice MODE alice +iw"]
    assert alice.ask("MODE alice +o") == []
    assert alice.ask("MODE alice -i+x") == [":chatsvc 501 alice :Unknown MODE flag",
                                            ":alice MODE alice -i"]
    assert alice.ask("MODE alice") == [":chatsvc 221 alice +w"]
    assert numerics(alice.ask("MODE bob +i")) == ["502"]
    assert numerics(alice.ask("MODE nobody")) == ["401"]
    assert numerics(alice.ask("MODE")) == ["461"]


def test_server_queries(net: Net) -> None:
    alice = net.irc_user("alice")
    assert numerics(alice.ask("TIME")) == ["391"]
    assert numerics(alice.ask("VERSION"))[0] == "351"
    assert "005" in numerics(alice.ask("VERSION"))
    assert set(numerics(alice.ask("INFO"))) == {"371", "374"}
    assert numerics(alice.ask("ADMIN")) == ["256", "257", "258", "259"]
    assert numerics(alice.ask("LINKS")) == ["364", "365"]
    assert numerics(alice.ask("LUSERS")) == ["251", "252", "253", "254", "255", "265", "266"]
    assert numerics(alice.ask("MOTD")) == ["422"]
    help_index = alice.ask("HELP")
    assert numerics(help_index)[0] == "704" and numerics(help_index)[-1] == "706"
    assert alice.ask("HELP privmsg")[1].startswith(":chatsvc 705 alice PRIVMSG :PRIVMSG <nick")
    assert alice.ask("HELP nope") == [
        ":chatsvc 524 alice NOPE :No help available on this topic"]
    assert numerics(alice.ask("USERS")) == ["446"]
    assert numerics(alice.ask("LIST")) == ["321", "322", "323"]


def test_internal_error_is_a_numeric_not_a_disconnect(
        net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = net.irc_user("alice")

    def broken(self, params):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setitem(type(alice.protocol)._COMMANDS, "TIME", (0, broken))
    assert alice.ask("TIME") == [":chatsvc 400 alice TIME :Internal error"]
    assert not alice.closed


# -- shared limits (chatsvc.conn.guard) ---------------------------------------------

def test_flooding_client_is_dropped_with_error() -> None:
    net = Net(flood_rate=2, flood_burst=5, flood_queue=10)
    bob = net.line_user("bob")
    alice = net.irc_user("alice")
    bob.read()
    alice.send(*[f"PRIVMSG bob :{i}" for i in range(20)])
    lines = alice.read()
    assert lines[-1] == "ERROR :Closing link: 192.0.2.1 (flooding)"
    assert alice.closed
    alice.drop()
    assert bob.read()[-1] == "* alice left (flooding)"


@pytest.mark.parametrize("pong", [
    # Any spelling IRC allows: prefix, tags, lower case.
    "PONG :chatsvc", ":alice PONG chatsvc", "pong chatsvc", "@t=1 :alice PoNg :x",
])
def test_the_pong_answering_our_ping_passes_a_full_flood_gate(pong: str) -> None:
    net = Net(flood_rate=1, flood_burst=3, flood_queue=5)
    alice = net.irc_user("alice")
    net.clock.advance(90)  # silent for the ping interval: the server PINGs
    assert alice.read() == ["PING chatsvc"]
    alice.send(*["PRIVMSG alice :x"] * 8)  # three pass, five wait: the queue is full
    alice.send(pong)
    assert not alice.closed
    alice.send(pong)  # one PONG per PING is free; this one is a line like any
    assert alice.closed


def test_a_pong_flood_is_flooding() -> None:
    # Issue 13: PONG skipped the gate, and 1.04 M lines/s were accepted.
    net = Net(flood_rate=2, flood_burst=10, flood_queue=50)
    watcher = net.line_user("watcher")
    alice = net.irc_user("alice")
    watcher.read()
    alice.read()
    handled = []
    handle = alice.protocol._handle
    alice.protocol._guard.handle_with(lambda message: (handled.append(message), handle(message)))
    alice.protocol.dataReceived(b"PONG :chatsvc\r\n" * 10_000)
    assert alice.closed
    assert alice.read()[-1] == "ERROR :Closing link: 192.0.2.1 (flooding)"
    # What NICK, USER and JOIN left of the burst; 50 waited, and the next one
    # was one too many.
    assert len(handled) == 7
    alice.drop()
    assert watcher.read() == ["* alice left (flooding)"]


def test_a_pong_without_a_ping_counts_like_any_line() -> None:
    net = Net(flood_rate=1, flood_burst=3, flood_queue=5)
    alice = net.irc_user("alice")
    alice.send(*["PRIVMSG alice :x"] * 5)  # the burst is used up: five wait
    alice.send("PONG :chatsvc")
    assert alice.closed


def test_registration_deadline_and_per_address_cap() -> None:
    net = Net(register_timeout=30, max_per_ip=2)
    slow = net.irc_user()
    net.clock.advance(30)
    assert slow.read() == ["ERROR :Closing link: 192.0.2.1 (registration timeout (30 s))"]
    assert slow.closed
    slow.drop()
    net.irc_user("one")
    net.irc_user("two")
    third = net.irc_user(host="192.0.2.1")
    assert third.read()[0].startswith("ERROR :Closing link: 192.0.2.1 (too many connections")
    assert third.closed
