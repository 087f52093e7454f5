"""The line protocol, end to end over in-memory transports."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import LineUser, make_hub, registered
from twisted.internet.error import ConnectionLost
from twisted.protocols.basic import LineReceiver

from chatsvc.conn.guard import SLOW_GRACE
from chatsvc.protocols.line.protocol import HELP, LineChatProtocol


def test_welcome_says_how_to_register():
    user = LineUser(make_hub(server_name="testnet"))
    (welcome,) = user.read()
    assert welcome.startswith("* welcome to testnet!") and "#yourname" in welcome


def test_register_and_join_notice():
    hub = make_hub()
    (alice,) = registered(hub, "alice")
    bob = LineUser(hub)
    bob.read()
    bob.send("#bob")
    # Where they are, and with whom (issue 14).
    assert bob.read() == ["* you are bob", "* you are in #chat with 1 other: alice"]
    assert alice.read() == ["* bob joined"]


def test_the_welcome_names_who_is_there_and_how_many_more():
    hub = make_hub()
    names = [f"user{i}" for i in range(12)]
    registered(hub, *names)
    newcomer = LineUser(hub)
    newcomer.read()
    newcomer.send("#late")
    head, _, shown = newcomer.read()[-1].partition(": ")
    assert head == "* you are in #chat with 12 others"
    listed, _, more = shown.partition(" and ")
    assert more == "2 more (/who)"
    listed_names = listed.split(", ")
    assert len(set(listed_names)) == 10 and set(listed_names) <= set(names)
    assert listed_names == sorted(listed_names)
    alone = LineUser(make_hub())
    alone.send("#solo")
    assert alone.read()[-1] == "* you are in #chat alone for now"


def test_motd_follows_registration():
    hub = make_hub(motd=["Welcome to our chat", "Rules: be kind"])
    user = LineUser(hub)
    user.read()
    user.send("#alice")
    assert user.read() == ["* you are alice", "* Welcome to our chat", "* Rules: be kind",
                           "* you are in #chat alone for now"]


def test_must_register_before_talking():
    user = LineUser(make_hub())
    user.read()
    user.send("hello", "@bob:hi", "/me waves")
    assert user.read() == ["! register first: send #yourname"] * 3


def test_help_and_who_work_before_registering():
    hub = make_hub()
    registered(hub, "alice")
    user = LineUser(hub)
    user.read()
    user.send("/help")
    assert user.read()[0] == "* commands:"
    user.send("/who")
    assert user.read() == ["* in #chat (1): alice"]


def test_broadcast_without_echo():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    alice.send("hello all")
    assert alice.read() == []
    assert bob.read() == carol.read() == ["<alice> hello all"]


def test_crlf_and_lf_both_accepted_crlf_sent():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.protocol.dataReceived(b"one\r\ntwo\nthr")
    alice.protocol.dataReceived(b"ee\r\n")
    assert bob.transport.value() == b"<alice> one\r\n<alice> two\r\n<alice> three\r\n"


def test_private_message_forms():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    alice.send("@bob:psst", "@BOB and more", "@bob: spaced")
    assert bob.read() == ["*alice* psst", "*alice* and more", "*alice* spaced"]
    assert carol.read() == [] and alice.read() == []
    alice.send("@alice:memo")
    assert alice.read() == ["*alice* memo"]


@pytest.mark.parametrize(
    "line, error",
    [
        ("@nobody:hi", "! no such user: nobody"),
        ("@bob:", "! empty message"),
        ("@bob", "! empty message"),
        ("@bob:   ", "! empty message"),
        ("/me", "! empty message"),
        ("/foo bar", "! unknown command: /foo"),
        ("#bob", "! name taken: bob"),
        ("#BOB", "! name taken: BOB"),
        ("#9lives", "! bad name: must not start with a digit or '-'"),
        ("#", "! bad name: a name needs 1 to 32 characters"),
    ],
)
def test_errors_go_to_sender_only_and_connection_lives(line, error):
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send(line)
    assert alice.read() == [error]
    assert bob.read() == []
    alice.send("still here")
    assert bob.read() == ["<alice> still here"]
    assert not alice.closed


def test_action_and_slash_escape():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send("/me waves", "//etc/passwd is a path", "/ME shouts")
    assert bob.read() == ["* alice waves", "<alice> /etc/passwd is a path", "* alice shouts"]


def test_who_lists_sorted_names():
    hub = make_hub()
    alice, *_ = registered(hub, "carol", "Alice", "bob")
    alice.send("/who")
    assert alice.read() == ["* in #chat (3): Alice, bob, carol"]


def test_rename_with_hash_and_nick():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send("#alicia")
    assert alice.read() == ["* you are alicia"]
    assert bob.read() == ["* alice is now alicia"]
    alice.send("/nick ally")
    assert alice.read() == ["* you are ally"]
    assert bob.read() == ["* alicia is now ally"]
    bob.send("@ally:hi")
    assert alice.read() == ["*bob* hi"]
    bob.send("@alice:hi")
    assert bob.read() == ["! no such user: alice"]


def test_quit_with_reason():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send("/quit gone fishing", "this is never sent")
    assert alice.read() == ["* bye"]
    assert alice.closed
    alice.drop()
    assert bob.read() == ["* alice left (gone fishing)"]


def test_quit_without_reason():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send("/quit")
    alice.drop()
    assert bob.read() == ["* alice left (quit)"]


def test_disconnect_mid_line_frees_name():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.protocol.dataReceived(b"half a li")
    alice.drop(ConnectionLost())
    assert bob.read() == ["* alice left (connection lost)"]
    newcomer = LineUser(hub)
    newcomer.send("#alice")
    assert newcomer.read()[-2:] == ["* you are alice", "* you are in #chat with 1 other: bob"]


def test_blank_lines_are_ignored():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send("", "   ", "\t", b"\x1b\x07")
    assert alice.read() == [] and bob.read() == []


def test_control_characters_stripped_before_relay():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send("\x1b[2Jcleared?\x07 \u009b31m")  # ESC, BEL, C1 CSI
    assert bob.read() == ["<alice> [2Jcleared? 31m"]


def test_invalid_utf8_replaced_not_fatal():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send(b"caf\xc3( ok")
    assert bob.read() == ["<alice> caf\ufffd( ok"]


def test_telnet_negotiation_ignored():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.protocol.dataReceived(b"\xff\xfb\x18\xff\xfd\x03hello\r\n")
    assert bob.read() == ["<alice> hello"]


def test_telnet_requests_are_refused_so_ctrl_c_does_not_mute_the_chat():
    """telnet's Ctrl-C sends IAC IP IAC DO TIMING-MARK, then discards all
    output until the server answers the DO: unanswered, the chat goes silent
    for good.  Every option asked for or offered is refused (WONT / DONT)."""
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.protocol.dataReceived(b"\xff\xf4\xff\xfd\x06")
    assert alice.transport.value() == b"\xff\xfc\x06"  # IAC WONT TIMING-MARK, at once
    alice.transport.clear()
    # Offers and requests split across reads; IAC IAC is a data byte, not a command.
    alice.protocol.dataReceived(b"hi \xff\xff\xfd!\xff")
    alice.protocol.dataReceived(b"\xfb")
    alice.protocol.dataReceived(b"\x1f\xff\xfc\x01\xff\xfe\x03\n")
    assert alice.transport.value() == b"\xff\xfe\x1f"  # DONT NAWS; WONT/DONT need no answer
    assert bob.read() == ["<alice> hi \ufffd\ufffd!"]


def test_impersonation_is_impossible():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send("<bob> I owe alice money")
    assert bob.read() == ["<alice> <bob> I owe alice money"]


def test_over_long_line_refused_connection_kept():
    hub = make_hub(max_line=20)
    alice, bob = registered(hub, "alice", "bob")
    alice.protocol.dataReceived(b"x" * 50 + b"\nshort one\n")
    assert alice.read() == ["! line too long (limit 20 bytes)"]
    assert bob.read() == ["<alice> short one"]
    assert not alice.closed


def test_the_line_protocol_is_a_line_receiver():
    hub = make_hub(max_line=123)
    (alice,) = registered(hub, "alice")
    assert isinstance(alice.protocol, LineReceiver)
    assert alice.protocol.MAX_LENGTH == 123
    assert alice.protocol.delimiter == b"\n"


def test_each_over_long_line_in_one_read_is_refused_once_and_the_rest_survive():
    hub = make_hub(max_line=20, flood_rate=0)
    alice, bob = registered(hub, "alice", "bob")
    alice.protocol.dataReceived(
        b"first\r\n" + b"x" * 50 + b"\r\nsecond\n" + b"y" * 21 + b"\n\nthird\n" + b"z" * 5000
    )
    assert alice.read() == ["! line too long (limit 20 bytes)"] * 3
    assert bob.read() == ["<alice> first", "<alice> second", "<alice> third"]
    alice.protocol.dataReceived(b"z" * 5000 + b"\nfourth\n")
    assert alice.read() == []  # the same unfinished line: refused once already
    assert bob.read() == ["<alice> fourth"]
    assert not alice.closed


def test_send_line_writes_crlf_through_the_bounded_output():
    hub = make_hub(max_backlog=1000)
    alice, bob = registered(hub, "alice", "bob")
    alice.protocol.sendLine(b"hello")
    assert alice.transport.value() == b"hello\r\n"
    alice.transport.clear()
    alice.protocol._guard._sendq.pauseProducing()  # alice's socket buffer is full
    for _ in range(100):
        alice.protocol.sendLine(b"x" * 100)
    hub.clock.advance(SLOW_GRACE)
    assert alice.closed  # over the backlog limit, as with any output
    alice.drop()
    assert bob.read() == ["* alice left (too slow)"]


def test_a_subclass_can_change_the_refusal_of_an_over_long_line():
    class Terse(LineChatProtocol):
        def lineLengthExceeded(self, line: bytes) -> None:
            self.sendLine(b"! too long, " + self.name.encode())

    hub = make_hub(max_line=10, flood_burst=2, flood_queue=10)
    alice = LineUser(hub, port=4000, protocol=Terse(hub))  # a LineUser speaking to a Terse
    alice.send("#alice")
    alice.read()
    hub.clock.advance(60)
    # Through the flood gate in order: the refusal waits its turn behind /help.
    alice.protocol.dataReceived(b"/who\n/help\n" + b"x" * 11 + b"\n")
    got = alice.read()
    assert got[0] == "* in #chat (1): alice" and got[-1] == f"* {HELP[-1]}"
    hub.clock.advance(60)
    assert alice.read() == ["! too long, alice"]


def test_max_line_counts_bytes_not_characters():
    hub = make_hub(max_line=10)
    alice, bob = registered(hub, "alice", "bob")
    alice.send("é" * 6)  # 12 bytes
    assert alice.read() == ["! line too long (limit 10 bytes)"]
    alice.send("é" * 5)
    assert bob.read() == ["<alice> ééééé"]


def test_server_full():
    hub = make_hub(max_clients=1)
    LineUser(hub)
    late = LineUser(hub)
    assert late.read() == ["! server full"]
    assert late.closed
    late.drop()
    assert len(hub.connections) == 1


def test_slow_reader_is_dropped_and_others_told():
    hub = make_hub(max_backlog=1000, flood_rate=0)
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    bob.protocol._guard._sendq.pauseProducing()  # bob's socket buffer is full
    for i in range(100):
        alice.send(f"message {i}")
    assert not bob.closed  # over the limit, but within its grace period
    hub.clock.advance(SLOW_GRACE)
    assert bob.closed and bob.transport.disconnected  # aborted, not flushed
    bob.drop()
    received = carol.read()
    assert received[:100] == [f"<alice> message {i}" for i in range(100)]
    assert received[100:] == ["* bob left (too slow)"]


def test_hub_can_disconnect_a_user_with_reason():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.protocol.disconnect("killed by admin")
    assert alice.closed
    alice.drop()
    assert bob.read() == ["* alice left (killed by admin)"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_no_input_raises_out_of_the_protocol(chunks):
    hub = make_hub(max_line=40)
    watcher, = registered(hub, "watcher")
    user = LineUser(hub)
    user.send(b"#fuzz")
    for chunk in chunks:
        user.protocol.dataReceived(chunk)
    user.protocol.dataReceived(b"\n")
    user.drop()
    for line in watcher.read():
        assert line[:1] in ("<", "*")
        assert not any(ord(c) < 32 and c != "\t" for c in line)


def test_a_hash_line_with_spaces_is_talk_once_registered():
    """C{#hashtag here} is something to say; a name has no spaces (issue 14)."""
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send("#hashtag here")
    assert bob.read() == ["<alice> #hashtag here"]
    assert alice.read() == [] and alice.protocol.name == "alice"
    alice.send("#alicia")
    assert alice.read() == ["* you are alicia"]
    # Before registering it is still an attempt at a name, refused with why.
    newcomer = LineUser(hub)
    newcomer.read()
    newcomer.send("#a b")
    assert newcomer.read() == [
        "! bad name: ' ' not allowed (use ASCII letters, digits and _-[]{}\\^|)"]


def test_irc_habits_msg_w_query_names_list():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    for command in ("/msg", "/w", "/query", "/MSG"):
        alice.send(f"{command} bob psst: {command}")
        assert bob.read() == [f"*alice* psst: {command}"]
    alice.send("/query bob")
    assert alice.read() == ["! say what? /msg bob text (there are no query windows here)"]
    alice.send("/msg")
    assert alice.read() == ["! to whom? /msg name text"]
    alice.send("/msg nobody hi")
    assert alice.read() == ["! no such user: nobody"]
    alice.send("/names")
    assert alice.read() == ["* in #chat (2): alice, bob"]
    alice.send("/list")
    assert alice.read() == ["* rooms (1): #chat (2)"]


def test_away_and_back_show_to_line_and_irc_users():
    from support import Net

    net = Net()
    away = net.line_user("bob")
    line = net.line_user("carol")
    irc = net.irc_user("alice")
    away.read(), line.read()
    away.send("/away at lunch")
    assert away.read() == ["* you are away: at lunch; /back when you return"]
    line.send("@bob:hi")
    assert line.read() == ["* bob is away: at lunch"]
    assert ":chatsvc 301 alice bob :at lunch" in irc.ask("WHOIS bob")
    assert irc.ask("PRIVMSG bob :hi") == [":chatsvc 301 alice bob :at lunch"]
    away.read()
    away.send("/back")
    assert away.read() == ["* you are back"]
    line.send("@bob:hi again")
    assert line.read() == []
    assert away.read() == ["*carol* hi again"]
    away.send("/back")
    assert away.read() == ["* you were not away"]
    away.send("/away")
    assert away.read() == ["* you are away: away; /back when you return"]


def test_whois_tells_what_irc_whois_does():
    from support import Net

    net = Net(opers={"root": "pw"})
    carol = net.line_user("carol")
    alice = net.irc_user("alice", channels="#chat,#rust")
    alice.send("AWAY :brb", "OPER root pw")
    net.clock.advance(300)
    carol.read()
    carol.send("/whois ALICE")
    assert carol.read() == [
        "* alice: ~alice@192.0.2.1; IRC; real name Alice Example; in #chat, #rust; "
        "a server operator; away: brb; idle 5 min, connected 5 min"]
    carol.send("/whois carol")
    assert carol.read() == [
        "* carol: carol@198.51.100.7; line; in #chat; idle 5 min, connected 5 min"]
    carol.send("/whois nobody")
    assert carol.read() == ["! no such user: nobody"]
    carol.send("/whois")
    assert carol.read() == ["! about whom? /whois name"]
