"""IRC conformance (issue 15): what the public suite irctest found, in memory.

Each test pins one behaviour irctest checks (WHO flags, parameters built
from a client's text, NOTICE, USER, NAMES, MODE, KICK, LUSERS, LINKS, CAP),
on the in-memory wire of L{support.Net}, so that it fails here, fast, and
not only under the suite.
"""

from __future__ import annotations

import pytest
from support import IRCUser, Net, numerics, params_of
from twisted.internet.address import IPv4Address

from chatsvc.events import utc_time
from chatsvc.protocols.irc.protocol import DEFAULT_SERVER_INFO
from chatsvc.service.tap import Options, StartupFailure, makeService


@pytest.fixture
def net() -> Net:
    return Net()


# -- WHO ----------------------------------------------------------------------

def test_who_flags_show_the_channel_status_after_away_and_oper(net: Net) -> None:
    alice = net.irc_user("alice", channels="#rust")  # creates #rust: its operator
    bob = net.irc_user("bob", channels="#rust")
    assert bob.ask("WHO #rust")[0].split(" ")[8] == "H@"
    assert bob.ask("WHO alice")[0].split(" ")[3:4] + bob.ask("WHO alice")[0].split(" ")[8:9] \
        == ["#rust", "H@"]
    alice.send("AWAY :lunch")
    net.hub.opers.add(alice.protocol)
    assert bob.ask("WHO alice")[0].split(" ")[8] == "G*@"
    assert bob.ask("WHO #rust")[0].split(" ")[8] == "G*@"
    alice.send("MODE #rust +v bob")
    assert alice.ask("WHO bob")[0].split(" ")[8] == "H+"
    assert alice.ask("WHO #rust")[1].split(" ")[8] == "H+"


def test_who_an_invisible_user_by_nick_or_in_a_shared_channel(net: Net) -> None:
    evan = net.irc_user("evan", channels="")
    evan.send("MODE evan +i")
    shivaram = net.irc_user("shivaram", channels="")
    # A mask does not find +i users one shares no channel with...
    assert numerics(shivaram.ask("WHO eva*")) == ["315"]
    # ...their exact nick does, and so does a shared channel.
    assert numerics(shivaram.ask("WHO evan")) == ["352", "315"]
    assert numerics(shivaram.ask("WHO EVAN")) == ["352", "315"]
    evan.send("JOIN #test")
    shivaram.send("JOIN #test")
    assert numerics(shivaram.ask("WHO eva*")) == ["352", "315"]


# -- no client text in a middle parameter --------------------------------------

def test_a_refused_mode_argument_is_a_star_not_a_shifting_middle_parameter(net: Net) -> None:
    bar = net.irc_user("bar", channels="#chan")
    for argument in (":passphrase with spaces", ":", ": ", "l" * 200):
        [line] = bar.ask(f"MODE #chan +k {argument}")
        assert params_of(line)[:4] == ["bar", "#chan", "k", "*"], line
        assert numerics([line]) == ["696"]
    [line] = bar.ask("MODE #chan +l :")
    assert params_of(line)[:4] == ["bar", "#chan", "l", "*"]
    assert len(params_of(line)) == 5


@pytest.mark.parametrize("command, numeric", [
    ("WHOIS :no body", "401"),
    ("WHOWAS :no body", "406"),
    ("MODE :no body", "401"),
    ("JOIN :#a b", "479"),
    ("NICK :a b", "432"),
    ("TOPIC :#no where", "403"),
    ("MODE :#a b +o x", "403"),
])
def test_client_text_with_spaces_is_never_a_middle_parameter(
        net: Net, command: str, numeric: str) -> None:
    alice = net.irc_user("alice")
    [line, *_] = alice.ask(command)
    assert numerics([line]) == [numeric], line
    assert params_of(line)[:2] == ["alice", "*"], line


def test_an_unregistered_clients_empty_nick_in_a_reply_is_a_star(net: Net) -> None:
    user = net.irc_user()
    [line] = user.ask("NICK :#bad nick")
    assert params_of(line)[:2] == ["*", "*"]


# -- relayed lines fit the recipient's 512 bytes -------------------------------

def test_a_privmsg_too_long_once_the_prefix_is_added_is_refused_and_one_that_fits_is_whole(
        net: Net) -> None:
    """The sender's line is 512 bytes; the recipient's would carry the
    sender's prefix as well, so it is refused (417), never split or cut;
    the longest that fits, measured on the line as received, arrives whole."""
    sender = IRCUser(net)
    sender.send("NICK nick1", "USER longusername 0 * :Realname")
    nick2 = net.irc_user("nick2", channels="")
    sender.read()
    line = "PRIVMSG nick2 :"
    prefix = ":nick1!~longusern@192.0.2.1 PRIVMSG nick2 :"
    for payload in ("a" * (512 - len(line) - 2),
                    "a" * (512 - len(line) - 2 - 4) + "\N{SMILING FACE WITH OPEN MOUTH}"):
        assert len((line + payload).encode()) + 2 == 512
        sender.send(line + payload)
        assert sender.read() == [
            ":chatsvc 417 nick1 :Input line was too long (512 bytes once your prefix is added)"]
        assert nick2.read() == []
    room = 512 - 2 - len(prefix.encode())
    for payload in ("a" * room, "a" * (room - 4) + "\N{SMILING FACE WITH OPEN MOUTH}"):
        sender.send(line + payload)
        assert sender.read() == []
        assert nick2.read() == [prefix + payload]
        assert len((prefix + payload).encode()) + 2 == 512
    sender.send(line + "a" * (room + 1))
    assert [reply.split()[1] for reply in sender.read()] == ["417"]
    assert nick2.read() == []


# -- NOTICE ------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    "NOTICE #nonexistent :hello",
    "NOTICE nobody :hello",
    "NOTICE",
    "NOTICE alice",
    "NOTICE a,b,c,d,e :too many",
    "NOTICE #moderated :not voiced",
    "NOTICE nobody :\x01VERSION\x01",
    "NOTICE #moderated :\x01PING 1\x01",
])
def test_a_notice_is_never_answered_even_with_an_error(net: Net, command: str) -> None:
    owner = net.irc_user("owner", channels="#moderated")
    owner.send("MODE #moderated +m")
    alice = net.irc_user("alice", channels="#moderated")
    assert alice.ask(command) == []
    assert numerics(alice.ask(command.replace("NOTICE", "PRIVMSG", 1))) != []


# -- registration ------------------------------------------------------------

def test_user_with_an_empty_realname_or_username_is_461_not_registration(net: Net) -> None:
    user = net.irc_user()
    assert user.ask("NICK foo", "USER username * * :") == [
        ":chatsvc 461 * USER :Not enough parameters"]
    assert user.ask("USER : * * :Real") == [":chatsvc 461 * USER :Not enough parameters"]
    assert numerics(user.ask("USER username * * :Real"))[0] == "001"


# -- NAMES, MODE, KICK ----------------------------------------------------------

def test_names_of_several_channels_answers_each_then_one_end(net: Net) -> None:
    nick1 = net.irc_user("nick1", channels="#chan1,#chan2")
    assert nick1.ask("NAMES #chan1,#nowhere,#chan2") == [
        ":chatsvc 353 nick1 = #chan1 :@nick1",
        ":chatsvc 353 nick1 = #chan2 :@nick1",
        ":chatsvc 366 nick1 #chan1,#nowhere,#chan2 :End of /NAMES list",
    ]
    assert nick1.ask("NAMES #chan1") == [":chatsvc 353 nick1 = #chan1 :@nick1",
                                         ":chatsvc 366 nick1 #chan1 :End of /NAMES list"]


def test_mode_o_of_a_nick_nobody_has_is_401_and_of_a_non_member_441(net: Net) -> None:
    chanop = net.irc_user("chanop", channels="#chan")
    net.irc_user("bob", channels="")
    assert chanop.ask("MODE #chan +o nobody") == [
        ":chatsvc 401 chanop nobody :No such nick/channel"]
    assert chanop.ask("MODE #chan +v nobody") == [
        ":chatsvc 401 chanop nobody :No such nick/channel"]
    assert chanop.ask("MODE #chan +o bob") == [
        ":chatsvc 441 chanop bob #chan :They aren't on that channel"]


@pytest.mark.parametrize("kick", ["KICK #chan bar,baz :bye", "KICK #chan,#chan bar,baz :bye"])
def test_kick_several_targets_one_kick_line_each(net: Net, kick: str) -> None:
    foo = net.irc_user("foo", channels="#chan")
    net.irc_user("bar", channels="#chan")
    net.irc_user("baz", channels="#chan")
    qux = net.irc_user("qux", channels="#chan")
    qux.read()
    foo.send(kick)
    assert qux.read() == [":foo!~foo@192.0.2.1 KICK #chan bar :bye",
                          ":foo!~foo@192.0.2.1 KICK #chan baz :bye"]


def test_kick_with_unequal_channels_and_nicks_is_461(net: Net) -> None:
    foo = net.irc_user("foo", channels="#a,#b")
    net.irc_user("bar", channels="#a,#b")
    assert foo.ask("KICK #a,#b bar") == [":chatsvc 461 foo KICK :Not enough parameters"]


# -- LUSERS, LINKS -----------------------------------------------------------------

def test_lusers_max_is_the_most_users_at_once(net: Net) -> None:
    bar = net.irc_user("bar", channels="")
    qux = net.irc_user("qux", channels="")
    lines = {numerics([line])[0]: line for line in qux.ask("LUSERS")}
    assert params_of(lines["265"])[1:3] == ["2", "2"]
    qux.send("QUIT")
    qux.drop()
    lines = {numerics([line])[0]: line for line in bar.ask("LUSERS")}
    assert params_of(lines["265"])[1:3] == ["1", "2"]
    assert params_of(lines["266"])[1:3] == ["1", "2"]
    assert lines["265"].endswith(":Current local users 1, max 2")


def test_lusers_max_counts_line_users_too(net: Net) -> None:
    """The peak is the hub's: a crowd of line users that came and went counts."""
    irc = net.irc_user("irc", channels="")
    crowd = [net.line_user(f"line{i}") for i in range(3)]
    for user in crowd:
        user.send("/quit")
        user.drop()
    lines = {numerics([line])[0]: line for line in irc.ask("LUSERS")}
    assert params_of(lines["265"])[1:3] == ["1", "4"]


def test_links_shows_the_server_description(net: Net) -> None:
    nick = net.irc_user("nick", channels="")
    assert nick.ask("LINKS")[0] == f":chatsvc 364 nick chatsvc chatsvc :0 {DEFAULT_SERVER_INFO}"
    net.irc.info = "test server"
    assert nick.ask("LINKS") == [":chatsvc 364 nick chatsvc chatsvc :0 test server",
                                 ":chatsvc 365 nick * :End of /LINKS list"]


def test_server_info_option_reaches_the_irc_listener() -> None:
    options = Options()
    options.parseOptions(["--port", "none", "--irc-port", "tcp:0:interface=127.0.0.1",
                          "--server-info", "test server"])
    [listener] = [child for child in makeService(options)
                  if getattr(child, "option", None) == "--irc-port"]
    connection = listener.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    assert connection.server.info == "test server"
    assert Options()["server-info"] == DEFAULT_SERVER_INFO
    with pytest.raises(StartupFailure, match="--server-info"):
        Options().parseOptions(["--server-info", "bad\x07info"])


# -- CAP -------------------------------------------------------------------------

def test_cap_req_is_acked_or_naked_whole(net: Net) -> None:
    user = net.irc_user()
    assert user.ask("CAP LS") == [
        ":chatsvc CAP * LS :account-notify account-tag away-notify batch cap-notify chghost "
        "draft/chathistory echo-message extended-join extended-monitor invite-notify "
        "labeled-response message-tags multi-prefix server-time setname userhost-in-names"]
    user.send("USER foo foo foo :foo", "NICK foo")
    assert user.ask("CAP REQ :multi-prefix") == [":chatsvc CAP * ACK :multi-prefix"]
    assert user.ask("CAP REQ :foo multi-prefix bar") == [
        ":chatsvc CAP * NAK :foo multi-prefix bar"]
    assert user.ask("CAP REQ :userhost-in-names") == [":chatsvc CAP * ACK :userhost-in-names"]
    assert user.ask("CAP LIST") == [":chatsvc CAP * LIST :multi-prefix userhost-in-names"]
    assert user.ask("CAP REQ :-multi-prefix") == [":chatsvc CAP * ACK :-multi-prefix"]
    assert user.ask("CAP LIST") == [":chatsvc CAP * LIST :userhost-in-names"]
    assert numerics(user.ask("CAP END"))[0] == "001"
    # After registration: no hold, the nick as target.
    assert user.ask("CAP REQ :multi-prefix cap-notify") == [
        ":chatsvc CAP foo ACK :multi-prefix cap-notify"]
    assert user.ask("CAP LIST") == [
        ":chatsvc CAP foo LIST :cap-notify multi-prefix userhost-in-names"]
    assert user.ask("CAP END") == []


def test_cap_ls_302_enables_cap_notify(net: Net) -> None:
    user = net.irc_user()
    user.send("CAP LS 302")
    assert user.ask("CAP LIST") == [":chatsvc CAP * LIST :cap-notify"]
    other = net.irc_user()
    other.send("CAP LS")
    assert other.ask("CAP LIST") == [":chatsvc CAP * LIST :"]


def _with_caps(net: Net, nick: str, caps: str) -> IRCUser:
    user = net.irc_user()
    user.send("CAP LS 302", f"CAP REQ :{caps}", f"NICK {nick}", f"USER {nick} 0 * :{nick}",
              "CAP END")
    user.read()
    return user


def test_multi_prefix_shows_every_status_in_names_who_and_whois(net: Net) -> None:
    op = net.irc_user("op", channels="#chan")
    op.send("MODE #chan +v op")
    plain = net.irc_user("plain", channels="#chan")
    multi = _with_caps(net, "multi", "multi-prefix")
    multi.send("JOIN #chan")
    multi.read()
    assert multi.ask("NAMES #chan")[0] == ":chatsvc 353 multi = #chan :multi @+op plain"
    assert plain.ask("NAMES #chan")[0] == ":chatsvc 353 plain = #chan :multi @op plain"
    assert multi.ask("WHO op")[0].split(" ")[8] == "H@+"
    assert plain.ask("WHO op")[0].split(" ")[8] == "H@"
    assert ":chatsvc 319 multi op :@+#chan" in multi.ask("WHOIS op")
    assert ":chatsvc 319 plain op :@#chan" in plain.ask("WHOIS op")


def test_userhost_in_names_shows_each_members_mask(net: Net) -> None:
    net.irc_user("op", channels="#chan")
    net.line_user("bob").send("/join #chan")
    user = _with_caps(net, "uh", "userhost-in-names multi-prefix")
    user.send("JOIN #chan")
    assert user.read()[1:] == [
        ":chatsvc 353 uh = #chan :bob!bob@198.51.100.7 @op!~op@192.0.2.1 uh!~uh@192.0.2.1",
        ":chatsvc 366 uh #chan :End of /NAMES list",
    ]


# -- server-time, echo-message --------------------------------------------------

def test_server_time_tags_what_the_hub_sends_and_only_for_who_asked(net: Net) -> None:
    timed = net.irc_user("timed")
    assert timed.ask("CAP REQ server-time") == [":chatsvc CAP timed ACK :server-time"]
    plain_irc = net.irc_user("plain")
    line = net.line_user("liner")
    timed.read(), plain_irc.read()
    net.clock.advance(0.25)
    line.send("hello with a time")
    expected_time = utc_time(net.clock.seconds())
    assert expected_time.endswith("Z") and "T" in expected_time
    assert timed.read() == [
        f"@time={expected_time} :liner!liner@198.51.100.7 PRIVMSG #chat :hello with a time"]
    assert plain_irc.read() == [":liner!liner@198.51.100.7 PRIVMSG #chat :hello with a time"]
    # A reply the adapter makes itself has no hub time, and no tag.
    assert timed.ask("PING x") == [":chatsvc PONG chatsvc :x"]


def test_server_time_is_utc_to_the_millisecond() -> None:
    assert utc_time(0) == "1970-01-01T00:00:00.000Z"
    assert utc_time(1_764_770_462.3456) == "2025-12-03T14:01:02.346Z"


def test_a_split_message_tags_every_line(net: Net) -> None:
    timed = net.irc_user("timed")
    timed.ask("CAP REQ server-time")
    sender = net.line_user("sender")  # an IRC user's would be refused (417)
    timed.read()
    sender.send("x" * 480)
    got = timed.read()
    assert len(got) == 2 and all(line.startswith("@time=") for line in got)


def test_echo_message_returns_your_own_message_once_relayed(net: Net) -> None:
    alice = net.irc_user("alice")
    assert alice.ask("CAP REQ echo-message") == [":chatsvc CAP alice ACK :echo-message"]
    bob = net.irc_user("bob")
    line = net.line_user("carol")
    alice.read(), bob.read(), line.read()
    assert alice.ask("PRIVMSG #chat :to the room") == [
        ":alice!~alice@192.0.2.1 PRIVMSG #chat :to the room"]
    assert bob.read() == [":alice!~alice@192.0.2.1 PRIVMSG #chat :to the room"]
    assert line.read() == ["<alice> to the room"]
    assert alice.ask("PRIVMSG bob :just you") == [":alice!~alice@192.0.2.1 PRIVMSG bob :just you"]
    assert alice.ask("NOTICE carol :a notice") == [":alice!~alice@192.0.2.1 NOTICE carol :a notice"]
    assert alice.ask("PRIVMSG #nowhere :lost") == [
        ":chatsvc 403 alice #nowhere :No such channel"]  # refused: nothing to echo
    # Without the capability, nothing comes back.
    assert bob.ask("PRIVMSG #chat :quiet") == []


def test_away_notify_tells_who_shares_a_room_whatever_their_protocol(net: Net) -> None:
    watcher = net.irc_user("watcher")
    assert watcher.ask("CAP REQ :away-notify server-time") == [
        ":chatsvc CAP watcher ACK :away-notify server-time"]
    unasked = net.irc_user("unasked")
    away = net.line_user("liner")
    other = net.line_user("other")
    for user in (watcher, unasked, other):
        user.read()
    away.send("/away at lunch")
    stamp = utc_time(net.clock.seconds())
    assert watcher.read() == [f"@time={stamp} :liner!liner@198.51.100.7 AWAY :at lunch"]
    assert unasked.read() == [] and other.read() == []  # only who asked
    away.send("/away at lunch")  # no change, no line
    assert watcher.read() == []
    away.send("/back")
    assert watcher.read() == [f"@time={stamp} :liner!liner@198.51.100.7 AWAY"]
    unasked.send("AWAY :brb")
    assert watcher.read() == [f"@time={stamp} :unasked!~unasked@192.0.2.1 AWAY :brb"]
    # Someone who shares no room hears nothing.
    loner = net.irc_user("loner", channels="#elsewhere")
    loner.ask("CAP REQ away-notify")
    unasked.send("AWAY")
    assert loner.read() == []


def test_away_notify_follows_the_join_of_someone_away(net: Net) -> None:
    watcher = net.irc_user("watcher", channels="#den")
    watcher.ask("CAP REQ away-notify")
    plain_irc = net.irc_user("plain", channels="#den")
    comer = net.irc_user("comer", channels="")
    comer.ask("AWAY :already away")
    watcher.read(), plain_irc.read()
    comer.send("JOIN #den")
    assert watcher.read() == [":comer!~comer@192.0.2.1 JOIN #den",
                              ":comer!~comer@192.0.2.1 AWAY :already away"]
    assert plain_irc.read() == [":comer!~comer@192.0.2.1 JOIN #den"]
    assert not any(" AWAY " in line for line in comer.read())  # not to the joiner
