"""What the IRC user features (WHOX, extended-join, setname, chghost,
invite-notify) show next to message-tags, bot mode and accounts: the
account a user logged in to, msgid on notifications, one rendering per
capability format."""

from __future__ import annotations

import base64

import pytest
from support import IRCUser, Net
from test_accounts import Server

from chatsvc.protocols.irc import render, wire

pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def net() -> Net:
    return Net()


def _params(line: str) -> list[str]:
    return line.split(" ")[2:]


def _logged_in(server: Server) -> IRCUser:
    """jilles, logged in to the account jilles over SASL before registering."""
    user = IRCUser(server.net)
    user.send("CAP LS 302", "CAP REQ :sasl", "NICK jilles", "USER j 0 * :Jilles J")
    user.send("AUTHENTICATE PLAIN")
    user.send("AUTHENTICATE " + base64.b64encode(b"\0jilles\0sesame-1").decode())
    user.send("CAP END")
    user.read()
    assert user.protocol.record.account == "jilles"
    return user


def test_whox_and_extended_join_name_the_account_logged_in_to() -> None:
    server = Server()
    server.account("jilles", "sesame-1").drop()
    watcher = server.net.irc_user("watcher", channels="#chan")
    watcher.ask("CAP REQ :extended-join")
    jilles = _logged_in(server)
    jilles.send("JOIN #chan")
    assert watcher.read() == [":jilles!~j@192.0.2.1 JOIN #chan jilles :Jilles J"]
    reply, end = watcher.ask("WHO jilles %na")
    assert _params(reply) == ["watcher", "jilles", "jilles"] and " 315 " in end
    # Logged out: none again.
    jilles.send("PRIVMSG NickServ :LOGOUT")
    assert _params(watcher.ask("WHO jilles %na")[0]) == ["watcher", "jilles", "0"]


def test_whox_flags_show_a_bot(net: Net) -> None:
    bob = net.irc_user("bob", channels="#chan")
    bot = net.irc_user("botnick", channels="#chan")
    bot.ask("MODE botnick +B")
    assert _params(bob.ask("WHO botnick %nf")[0]) == ["bob", "botnick", "HB"]


def test_notifications_carry_the_msgid_for_message_tags_clients(net: Net) -> None:
    tagged = net.irc_user("tagged", channels="#chan")
    both = net.irc_user("both", channels="#chan")
    plain = net.irc_user("plain", channels="#chan")
    tagged.ask("CAP REQ :setname invite-notify chghost message-tags")
    both.ask("CAP REQ :setname invite-notify chghost message-tags server-time")
    plain.ask("CAP REQ :setname invite-notify chghost")
    net.irc_user("dave", channels="")
    line = net.line_user("lina")
    line.send("/join #chan")
    for user in (tagged, both, plain):
        user.read()
    plain.send("SETNAME :Plain Person")
    [a], [b], [c] = tagged.read(), both.read(), plain.read()
    assert c == ":plain!~plain@192.0.2.1 SETNAME :Plain Person"
    msgid = wire.parse_tags(a)["msgid"]
    assert a == f"@msgid={msgid} " + c
    assert wire.parse_tags(b).keys() == {"time", "msgid"} and wire.parse_tags(b)["msgid"] == msgid
    assert b.endswith(" " + c)
    line.send("/invite dave")
    [a], [b], [c] = tagged.read(), both.read(), plain.read()
    assert c == ":lina!lina@198.51.100.7 INVITE dave #chan"
    assert a.startswith("@msgid=") and a.endswith(" " + c) and wire.parse_tags(a)["msgid"] != msgid
    line.send("#linda")
    chghost = ":linda!lina@198.51.100.7 CHGHOST linda 198.51.100.7"
    assert plain.read()[1] == chghost
    assert wire.parse_tags(tagged.read()[1]).keys() == {"msgid"}


def test_notifications_render_once_per_variant(net: Net) -> None:
    users = [net.irc_user(f"u{i}", channels="#chan") for i in range(4)]
    for user in users:
        user.ask("CAP REQ :setname message-tags")
    writes: list[bytes] = []
    for user in users:
        user.protocol._write = writes.append  # type: ignore[method-assign]
    net.irc_user("x", channels="#chan").send("SETNAME :New")
    assert len(writes) == 4 and all(data is writes[0] for data in writes)


def test_extended_join_with_message_tags_and_the_others_renders_every_combination(
        net: Net) -> None:
    caps = ["server-time", "away-notify", "message-tags", "extended-join"]
    users = []
    for mask in range(16):
        user = net.irc_user(f"u{mask}", channels="#chan")
        chosen = [cap for bit, cap in enumerate(caps) if mask >> bit & 1]
        if chosen:
            user.ask("CAP REQ :" + " ".join(chosen))
        users.append((chosen, user))
    formats = {render.wire_format(frozenset(chosen)) for chosen, _ in users}
    assert len(formats) == 16
    for _, user in users:
        user.read()
    joiner = net.irc_user("joiner", channels="")
    joiner.send("AWAY :busy", "JOIN #chan")
    msgids = set()
    for chosen, user in users:
        lines = user.read()
        join = ":joiner!~joiner@192.0.2.1 JOIN #chan" + (
            " * :Joiner Example" if "extended-join" in chosen else "")
        assert len(lines) == (2 if "away-notify" in chosen else 1), (chosen, lines)
        tags = wire.parse_tags(lines[0]) if lines[0].startswith("@") else {}
        assert lines[0].endswith(" " + join) or lines[0] == join, (chosen, lines)
        assert ("time" in tags) == ("server-time" in chosen)
        assert ("msgid" in tags) == ("message-tags" in chosen)
        if "msgid" in tags:
            msgids.add(tags["msgid"])
        if "away-notify" in chosen:
            assert lines[1].endswith(":joiner!~joiner@192.0.2.1 AWAY :busy")
            assert "msgid" not in (wire.parse_tags(lines[1]) if lines[1][:1] == "@" else {})
    assert len(msgids) == 1  # one event, one id, whatever the format
