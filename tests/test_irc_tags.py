"""IRCv3 tags (issue 15): message-tags, msgid, TAGMSG, labeled-response with
batch, STATUSMSG, UTF8ONLY and bot mode, on the in-memory wire."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import IRCUser, Net

from chatsvc.events import RoomMessage
from chatsvc.protocols.irc import wire
from chatsvc.protocols.irc.render import variant_bytes, wire_format


@pytest.fixture
def net() -> Net:
    return Net()


def _with_caps(net: Net, nick: str, caps: str, channels: str = "#chat") -> IRCUser:
    user = net.irc_user(nick, channels=channels)
    assert user.ask(f"CAP REQ :{caps}") == [f":chatsvc CAP {nick} ACK :{caps}"]
    return user


def _tags(line: str) -> dict[str, str]:
    return wire.parse_tags(line)


def _untagged(line: str) -> str:
    return line.partition(" ")[2] if line.startswith("@") else line


# -- the grammar ------------------------------------------------------------------

def test_tags_are_parsed_and_unescaped() -> None:
    assert wire.parse_tags(r"@+buzz=fizz\:buzz;cat=dog;+e=a\sb\\c\r\n;bare;+x=\q\ TAGMSG #a") \
        == {"+buzz": "fizz;buzz", "cat": "dog", "+e": "a b\\c\r\n", "bare": "", "+x": "q"}
    assert wire.parse_tags("@a=1;a=2 X") == {"a": "2"}  # the last one wins
    assert wire.parse_tags("PRIVMSG #a :@x") == {}


def test_only_well_formed_client_tags_are_relayed() -> None:
    assert wire.client_tags({"+typing": "active", "msgid": "forged", "time": "x",
                             "+draft/reply": "id", "+example.com/x-y": "1", "+bad:key": "",
                             "+": "", "+a/": "", "+q@x": "", "+é": ""}) == (
        ("+typing", "active"), ("+draft/reply", "id"), ("+example.com/x-y", "1"))


@given(st.text(max_size=30))
def test_an_escaped_value_reads_back_and_cannot_break_the_tags(value: str) -> None:
    escaped = wire.escape_tag_value(value)
    assert not set(escaped) & {";", " ", "\r", "\n", "\x00"}
    assert wire.unescape_tag_value(escaped) == value.replace("\x00", "")


def test_tag_section_and_add_tags() -> None:
    section = wire.tag_section([("msgid", "1"), ("+r", "a b;c"), ("bot", "")])
    assert section == b"@msgid=1;+r=a\\sb\\:c;bot "
    assert wire.add_tags(b":s PONG s :x\r\n", section) == (
        b"@msgid=1;+r=a\\sb\\:c;bot :s PONG s :x\r\n")
    assert wire.add_tags(b"@time=t :s X\r\n", b"@label=9 ") == b"@label=9;time=t :s X\r\n"
    assert wire.tag_section([]) == b""


# -- message-tags: client tags and msgid ------------------------------------------

def test_client_tags_reach_only_message_tags_clients_with_the_event_id(net: Net) -> None:
    alice = _with_caps(net, "alice", "message-tags")
    bob = _with_caps(net, "bob", "echo-message message-tags")
    carol = net.irc_user("carol")
    dave = _with_caps(net, "dave", "server-time")
    liner = net.line_user("liner")
    for user in (alice, bob, carol, dave, liner):
        user.read()
    alice.send("@+baz=bat;fizz=buzz;msgid=forged PRIVMSG #chat hi")
    (got,) = bob.read()
    tags = _tags(got)
    assert tags.keys() == {"msgid", "+baz"} and tags["+baz"] == "bat"
    assert re.fullmatch(r"[0-9a-f]{24}", tags["msgid"])
    assert _untagged(got) == ":alice!~alice@192.0.2.1 PRIVMSG #chat :hi"
    assert carol.read() == [":alice!~alice@192.0.2.1 PRIVMSG #chat :hi"]
    (timed,) = dave.read()
    assert _tags(timed).keys() == {"time"}  # server-time alone: no client tags
    assert liner.read() == ["<alice> hi"]
    # The echo and the relay are one message: one msgid.
    bob.send("@+bat=baz;+fizz=buzz PRIVMSG #chat :hi yourself")
    (echo,), (relay,) = bob.read(), alice.read()
    assert _tags(echo) == _tags(relay)
    assert _tags(echo)["+fizz"] == "buzz" and _tags(echo)["msgid"] != tags["msgid"]


class _Recording:
    """The hub's delivery, noting each room event it carries."""

    def __init__(self, local: object) -> None:
        self.local: Any = local
        self.seen: list[object] = []

    def to_room(self, room: object, event: object, *, exclude: object = None) -> None:
        self.seen.append(event)
        self.local.to_room(room, event, exclude=exclude)

    def to_user(self, participant: object, event: object) -> None:
        self.local.to_user(participant, event)

    def to_many(self, participants: object, event: object) -> None:
        self.local.to_many(participants, event)


def test_the_msgid_is_the_hub_event_id_and_rendered_once_per_format(net: Net) -> None:
    alice = _with_caps(net, "alice", "message-tags")
    bob = _with_caps(net, "bob", "message-tags")
    recording = net.hub.delivery = _Recording(net.hub.delivery)
    liner = net.line_user("liner")
    alice.read(), bob.read()
    liner.send("hello")
    (event,) = [e for e in recording.seen if isinstance(e, RoomMessage)]
    (line,) = alice.read()
    assert _tags(line) == {"msgid": event.id}
    fmt = wire_format(frozenset({"message-tags"}))
    assert event.wire[fmt] is variant_bytes(event, fmt)  # cached: rendered once
    assert bob.read() == [line]


def test_hostile_tag_values_stay_inside_their_tag(net: Net) -> None:
    alice = _with_caps(net, "alice", "message-tags")
    bob = _with_caps(net, "bob", "message-tags")
    bob.read()
    alice.send(r"@+x=a\sQUIT\:;+y=\r\nPRIVMSG\sbob\s:forged;+z=\x1b[2J\u202eok PRIVMSG #chat :hi"
               .replace(r"\x1b", "\x1b").replace(r"\u202e", "\u202e"))
    (got,) = bob.read()
    assert got.count(" PRIVMSG ") == 1 and " QUIT" not in got
    # Escaped on the way out, and without controls, as any relayed text.
    assert _tags(got)["+x"] == "a QUIT;" and _tags(got)["+y"] == "PRIVMSG bob :forged"
    assert _tags(got)["+z"] == "[2Jok" and "\x1b" not in got and "\u202e" not in got


def test_private_messages_carry_tags_only_to_who_asked(net: Net) -> None:
    alice = _with_caps(net, "alice", "message-tags echo-message")
    bob = net.irc_user("bob")
    bob.read()
    (echo,) = alice.ask("@+draft/reply=abc PRIVMSG bob :hey yourself")
    assert _tags(echo)["+draft/reply"] == "abc"
    assert bob.read() == [":alice!~alice@192.0.2.1 PRIVMSG bob :hey yourself"]
    bob.ask("CAP REQ message-tags")
    alice.send("@+draft/reply=abc PRIVMSG bob :hey again")
    assert _tags(bob.read()[0])["+draft/reply"] == "abc"


def test_a_split_message_has_its_msgid_on_the_first_line_only(net: Net) -> None:
    tagged = _with_caps(net, "tagged", "message-tags")
    sender = net.line_user("sender")  # an IRC user's would be refused (417)
    tagged.read()
    sender.send("x" * 480)
    first, second = tagged.read()
    assert "msgid" in _tags(first) and not second.startswith("@")


# -- TAGMSG -------------------------------------------------------------------------

def test_tagmsg_reaches_only_message_tags_clients(net: Net) -> None:
    alice = _with_caps(net, "alice", "message-tags")
    bob = _with_caps(net, "bob", "message-tags echo-message")
    carol = net.irc_user("carol")
    dave = _with_caps(net, "dave", "server-time")
    liner, webby = net.line_user("liner"), net.web_user("webby")
    for user in (alice, bob, carol, dave, liner, webby):
        user.read()
    bob.send(r"@+buzz=fizz\:buzz;cat=dog;+steel=wootz TAGMSG #chat")
    (echo,), (relay,) = bob.read(), alice.read()
    assert echo == relay and _untagged(relay) == ":bob!~bob@192.0.2.1 TAGMSG #chat"
    assert _tags(relay).keys() == {"msgid", "+buzz", "+steel"}
    assert _tags(relay)["+buzz"] == "fizz;buzz"
    assert carol.read() == dave.read() == liner.read() == webby.read() == []
    # To a nick; a TAGMSG with no client tag has nothing to relay.
    assert alice.ask("@+typing=active TAGMSG bob") == []
    (typing,) = bob.read()
    assert _untagged(typing) == ":alice!~alice@192.0.2.1 TAGMSG bob"
    assert _tags(typing)["+typing"] == "active"
    assert alice.ask("@nope=1 TAGMSG bob") == [] and bob.read() == []
    assert alice.ask("@+typing=active TAGMSG #nowhere") == [
        ":chatsvc 403 alice #nowhere :No such channel"]
    assert alice.ask("@+typing=active TAGMSG nobody") == [
        ":chatsvc 401 alice nobody :No such nick/channel"]


def test_tagmsg_keeps_the_room_rules(net: Net) -> None:
    op = _with_caps(net, "op", "message-tags", channels="#quiet")
    member = _with_caps(net, "member", "message-tags", channels="#quiet")
    op.send("MODE #quiet +m")
    op.read(), member.read()
    assert member.ask("@+typing=active TAGMSG #quiet") == [
        ":chatsvc 404 member #quiet :Cannot send to channel (moderated)"]
    assert op.read() == []


# -- the length limits --------------------------------------------------------------

def test_tag_data_is_limited_apart_from_the_line(net: Net) -> None:
    alice = _with_caps(net, "alice", "message-tags echo-message")
    bob = _with_caps(net, "bob", "message-tags")
    bob.read()
    at_limit = "@foo=bar;+baz=%s TAGMSG #chat" % ("a" * 4081)
    assert at_limit.index("TAGMSG") == 4096
    (echo,) = alice.ask(at_limit)
    assert _tags(echo)["+baz"] == "a" * 4081 and _tags(bob.read()[0])["+baz"] == "a" * 4081
    over = "@foo=bar;+baz=%s TAGMSG #chat" % ("a" * 4082)
    assert alice.ask(over) == [":chatsvc 417 alice :Input line was too long"]
    assert bob.read() == []
    # The rest of the line keeps its own limit, --max-line.
    too_long = "@+a=b PRIVMSG #chat :" + "x" * net.hub.settings.max_line
    assert alice.ask(too_long) == [":chatsvc 417 alice :Input line was too long"]
    assert alice.ask("PING still-here") == [":chatsvc PONG chatsvc :still-here"]


def test_a_tagged_message_too_long_for_one_line_is_refused_not_split(net: Net) -> None:
    alice = _with_caps(net, "alice", "message-tags echo-message")
    bob = _with_caps(net, "bob", "message-tags")
    bob.read()
    assert alice.ask("@+baz=1 PRIVMSG #chat :" + "b" * 480) == [
        ":chatsvc 417 alice :Input line was too long (512 bytes once your prefix is added)"]
    assert bob.read() == []
    assert alice.ask("@+baz=1 NOTICE #chat :" + "b" * 480) == []  # a NOTICE is not answered
    assert bob.read() == []
    # Untagged, a PRIVMSG is refused too, and a NOTICE (never answered) is split.
    assert [line.split()[1] for line in alice.ask("PRIVMSG #chat :" + "b" * 480)] == ["417"]
    assert bob.read() == []
    alice.send("NOTICE #chat :" + "b" * 480)
    assert len(bob.read()) == 2


# -- labeled-response and batch --------------------------------------------------------

def test_one_reply_carries_the_label(net: Net) -> None:
    user = _with_caps(net, "user", "batch labeled-response")
    assert user.ask("@label=98765 PING adhoc") == [
        "@label=98765 :chatsvc PONG chatsvc :adhoc"]
    assert user.ask("@label=deadbeef FROB") == [
        "@label=deadbeef :chatsvc 421 user FROB :Unknown command"]


def test_no_reply_is_a_labeled_ack(net: Net) -> None:
    user = _with_caps(net, "user", "labeled-response")
    assert user.ask("@label=1 PONG x") == ["@label=1 :chatsvc ACK"]


def test_several_replies_are_one_labeled_batch(net: Net) -> None:
    user = _with_caps(net, "user", "batch labeled-response message-tags server-time")
    got = user.ask("@label=12345 JOIN #xyz")
    start, *inside, end = got
    match = re.fullmatch(r"@label=12345 :chatsvc BATCH \+([A-Za-z0-9-]+) labeled-response",
                         start)
    assert match, start
    reference = match.group(1)
    assert end == f":chatsvc BATCH -{reference}"
    assert len(inside) >= 2 and all(_tags(line)["batch"] == reference for line in inside)
    assert any(" JOIN #xyz" in line for line in inside)
    assert any(" 366 " in line for line in inside)
    # Each batch has its own reference.
    again = user.ask("@label=2 NAMES #xyz")
    assert again[0].split(" ")[3] != f"+{reference}"


def test_the_label_is_only_the_senders_and_is_escaped(net: Net) -> None:
    alice = _with_caps(net, "alice", "echo-message batch labeled-response message-tags")
    bob = _with_caps(net, "bob", "echo-message batch labeled-response message-tags")
    bob.read()
    (echo,) = alice.ask(r"@label=a\sb\:c;+draft/react=l😃l PRIVMSG bob :hi")
    assert echo.startswith("@label=a\\sb\\:c;") and _tags(echo)["label"] == "a b;c"
    assert _tags(echo)["+draft/react"] == "l😃l"
    (relay,) = bob.read()
    assert "label" not in _tags(relay) and _tags(relay)["+draft/react"] == "l😃l"


def test_a_message_to_yourself_comes_twice_and_only_the_echo_is_labeled(net: Net) -> None:
    user = _with_caps(net, "user", "echo-message batch labeled-response message-tags")
    first, second = user.ask("@label=12345 PRIVMSG user :hi")
    assert "label" not in _tags(first) and _tags(second)["label"] == "12345"
    assert _untagged(first) == _untagged(second)
    first, second = user.ask("@label=7;+typing=active TAGMSG user")
    assert "label" not in _tags(first) and _tags(second)["label"] == "7"
    # Without echo-message, once.
    plain_user = _with_caps(net, "plain", "message-tags")
    assert len(plain_user.ask("PRIVMSG plain :hi")) == 1


def test_without_the_cap_nothing_is_labeled(net: Net) -> None:
    user = net.irc_user("user")
    assert user.ask("@label=1 PING x") == [":chatsvc PONG chatsvc :x"]
    nobatch = _with_caps(net, "nobatch", "labeled-response")
    got = nobatch.ask("@label=1 JOIN #new")
    assert got and not any(line.startswith("@") for line in got)  # several lines, no batch


def test_an_overlong_label_is_ignored(net: Net) -> None:
    user = _with_caps(net, "user", "batch labeled-response")
    assert user.ask("@label=%s PING x" % ("l" * 65)) == [":chatsvc PONG chatsvc :x"]


# -- STATUSMSG --------------------------------------------------------------------

def test_statusmsg_reaches_the_rooms_operators_alone(net: Net) -> None:
    op = net.irc_user("op", channels="#den")
    voiced = net.irc_user("voiced", channels="#den")
    member = net.irc_user("member", channels="#den")
    liner = net.line_user("liner")
    liner.send("/join #den")
    op.send("MODE #den +v voiced", "MODE #den +o liner")
    for user in (op, voiced, member, liner):
        user.read()
    assert member.ask("PRIVMSG @#den :for operators") == []
    assert op.read() == [":member!~member@192.0.2.1 PRIVMSG @#den :for operators"]
    assert liner.read() == ["<member> (to @#den) for operators"]
    assert voiced.read() == []
    member.send("NOTICE +#den :and voiced")
    assert op.read() == voiced.read() == [":member!~member@192.0.2.1 NOTICE +#den :and voiced"]
    assert member.read() == []
    assert any("STATUSMSG=@+" in line for line in member.ask("VERSION"))


def test_statusmsg_keeps_the_room_rules(net: Net) -> None:
    op = net.irc_user("op", channels="#den")
    op.send("MODE #den +n")
    outsider = net.irc_user("outsider", channels="")
    op.read()
    assert outsider.ask("PRIVMSG @#den :hi") == [
        ":chatsvc 404 outsider #den :Cannot send to channel (not in room)"]
    assert op.read() == []


# -- UTF8ONLY -----------------------------------------------------------------------

def test_non_utf8_input_is_warned_about_and_read_as_latin1(net: Net) -> None:
    alice = net.irc_user("alice")
    bob = net.line_user("bob")
    bob.read()
    assert alice.ask(b"PRIVMSG bob :caf\xe9") == [
        ":chatsvc WARN PRIVMSG INVALID_UTF8 :Your line was not UTF-8; it was read as latin-1"]
    assert bob.read() == ["*alice* café"]
    assert any(" UTF8ONLY " in line for line in alice.ask("VERSION"))


# -- bot mode -----------------------------------------------------------------------

def test_bot_mode_shows_in_whois_who_and_the_bot_tag(net: Net) -> None:
    bot = net.irc_user("botnick")
    watcher = _with_caps(net, "watcher", "message-tags")
    plain_user = net.irc_user("plain")
    liner = net.line_user("liner")
    assert bot.ask("MODE botnick +B") == [":botnick MODE botnick +B"]
    assert bot.ask("MODE botnick") == [":chatsvc 221 botnick +B"]
    assert net.hub.user_named("botnick").record.bot
    whois = watcher.ask("WHOIS botnick")
    assert ":chatsvc 335 watcher botnick :is a bot" in whois
    (who,) = [line for line in watcher.ask("WHO botnick") if " 352 " in line]
    assert who.split(" ")[8] == "H@B" or who.split(" ")[8].endswith("B")
    plain_user.read(), liner.read()
    bot.send("PRIVMSG #chat :beep boop")
    (tagged,) = watcher.read()
    assert _tags(tagged).keys() == {"msgid", "bot"} and tagged.startswith("@") and (
        ";bot " in tagged or "@bot;" in tagged)
    assert plain_user.read() == [":botnick!~botnick@192.0.2.1 PRIVMSG #chat :beep boop"]
    assert liner.read() == ["<botnick> beep boop"]
    liner.send("/whois botnick")
    assert "a bot" in liner.read()[0]
    bot.send("PRIVMSG watcher :beep")
    assert "bot" in _tags(watcher.read()[0])
    assert bot.ask("MODE botnick -B") == [":botnick MODE botnick -B"]
    assert not any(" 335 " in line for line in watcher.ask("WHOIS botnick"))


def test_bot_isupport_and_user_modes(net: Net) -> None:
    user = net.irc_user()
    user.send("NICK someone", "USER someone 0 * :Someone")
    replies = user.read()
    assert any(line.startswith(":chatsvc 004 someone chatsvc ") and " Biow " in line
               for line in replies)
    assert any(" BOT=B " in line for line in replies)


def test_labeled_replies_leave_before_a_refused_registration_closes() -> None:
    net = Net(password="sesame")
    user = net.irc_user()
    user.send("CAP LS 302", "CAP REQ :batch labeled-response", "PASS wrong", "NICK nick",
              "USER nick 0 * :Nick")
    user.read()
    got = user.ask("@label=reg CAP END")
    assert got[0].startswith("@label=reg :chatsvc BATCH +")
    assert any(" 464 " in line for line in got) and any("ERROR :Closing link" in line
                                                         for line in got)
    assert got[-1].startswith(":chatsvc BATCH -") and user.closed
