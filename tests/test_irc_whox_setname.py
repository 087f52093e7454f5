"""IRCv3 WHOX, setname and invite-notify (issue 15), in memory.

WHOX is WHO with chosen fields (354); setname changes the real name in the
hub's record, which every protocol reads; invite-notify shows a channel's
members the invitations made to it.
"""

from __future__ import annotations

import pytest
from support import Net, numerics, params_of

from chatsvc.events import Event
from chatsvc.protocols.irc.isupport import tokens
from chatsvc.protocols.irc.users import whox_request


@pytest.fixture
def net() -> Net:
    return Net()


# -- WHOX -------------------------------------------------------------------------

def test_whox_is_advertised(net: Net) -> None:
    assert "WHOX" in tokens(net.hub.settings)


def test_whox_gives_every_field_in_its_order_whatever_the_order_asked(net: Net) -> None:
    alice = net.irc_user("alice", channels="#chan")
    bob = net.irc_user("bob", channels="#chan")
    net.clock.advance(7)
    for spec in ("%tcuihsnfdlaor,123", "%roaldfnshiuct,123"):
        reply, end = bob.ask(f"WHO alice {spec}")
        assert params_of(reply) == ["bob", "123", "#chan", "~alice", "192.0.2.1", "192.0.2.1",
                                  "chatsvc", "alice", "H@", "0", "7", "0", "n/a",
                                  "Alice Example"]
        assert numerics([reply, end]) == ["354", "315"]
    alice.send("AWAY :out")
    assert params_of(bob.ask("WHO #chan %nf")[0]) == ["bob", "alice", "G@"]


def test_whox_one_field_and_a_token(net: Net) -> None:
    net.irc_user("alice", channels="#chan")
    bob = net.irc_user("bob", channels="#chan")
    for char in "cuihsnfdlaor":
        reply, end = bob.ask(f"WHO alice %{char}")
        assert numerics([reply, end]) == ["354", "315"]
        assert len(params_of(reply)) == 2 and params_of(reply)[1]
    assert params_of(bob.ask("WHO alice %tn,321")[0]) == ["bob", "321", "alice"]
    # No account yet: 0.
    assert params_of(bob.ask("WHO alice %na")[0]) == ["bob", "alice", "0"]


def test_whox_never_echoes_a_token_that_is_not_digits(net: Net) -> None:
    net.irc_user("alice", channels="#chan")
    bob = net.irc_user("bob", channels="#chan")
    for token in ("1234", "a b", ":x", "x\rPRIVMSG"):
        reply = bob.ask(f"WHO alice :%tn,{token}")[0]
        assert params_of(reply) == ["bob", "0", "alice"], reply
    assert whox_request("o%nt,12") == ("o", ("tn", "12"))
    assert whox_request("o") == ("o", None)
    assert whox_request("%zz")[1] == ("n", "0")  # nothing known asked: the nick


def test_whox_with_o_shows_only_operators(net: Net) -> None:
    net.irc_user("alice", channels="#chan")
    bob = net.irc_user("bob", channels="#chan")
    assert numerics(bob.ask("WHO #chan o%n")) == ["315"]
    net.hub.opers.add(bob.protocol)
    assert bob.ask("WHO #chan o%n")[0] == ":chatsvc 354 bob bob"


def test_whox_answers_for_line_users_and_keeps_the_mask_limit(net: Net) -> None:
    net.line_user("lina")
    bob = net.irc_user("bob", channels="")
    assert params_of(bob.ask("WHO lina %cuhnr")[0]) == ["bob", "#chat", "lina", "198.51.100.7",
                                                       "lina", "lina"]
    for index in range(105):
        net.irc_user(f"u{index}", channels="")
    replies = bob.ask("WHO u* %n")
    assert numerics(replies).count("354") == 100 and "416" in numerics(replies)


# -- setname -----------------------------------------------------------------------

def test_setname_is_offered_and_changes_the_record_everyone_reads(net: Net) -> None:
    alice = net.irc_user("alice", channels="#chan")
    assert "setname" in alice.ask("CAP LS 302")[0]
    alice.ask("CAP REQ setname")
    assert alice.ask("SETNAME :Alice Liddell") == [
        ":alice!~alice@192.0.2.1 SETNAME :Alice Liddell"]
    assert alice.protocol.record.realname == "Alice Liddell"
    bob = net.irc_user("bob", channels="")
    [whois] = [line for line in bob.ask("WHOIS alice") if " 311 " in line]
    assert whois.endswith(" :Alice Liddell")
    assert bob.ask("WHO alice")[0].endswith(" :0 Alice Liddell")
    line = net.line_user("lina")
    line.send("/whois alice")
    assert "real name Alice Liddell" in line.read()[0]


def test_setname_goes_to_those_who_share_a_room_and_asked(net: Net) -> None:
    foo = net.irc_user("foo", channels="#chan")
    bar = net.irc_user("bar", channels="#chan")
    baz = net.irc_user("baz", channels="#chan")
    elsewhere = net.irc_user("qux", channels="#other")
    line = net.line_user("lina")
    line.send("/join #chan")
    for user in (foo, bar, elsewhere):
        user.ask("CAP REQ setname")
    for user in (foo, bar, baz, elsewhere, line):
        user.read()
    foo.send("SETNAME :qux")
    assert foo.read() == bar.read() == [":foo!~foo@192.0.2.1 SETNAME :qux"]
    assert baz.read() == [] and elsewhere.read() == [] and line.read() == []


def test_setname_cleans_and_bounds_the_name_and_refuses_a_blank_one(net: Net) -> None:
    alice = net.irc_user("alice", channels="")
    alice.ask("CAP REQ setname")
    assert alice.ask("SETNAME :   ") == [
        ":chatsvc FAIL SETNAME INVALID_REALNAME :Realname is not valid"]
    assert alice.protocol.record.realname == "Alice Example"
    [echo] = alice.ask("SETNAME :\x1b[2Jevil\x02 " + "x" * 300)
    assert "\x1b" not in echo
    assert len(alice.protocol.record.realname) == 128
    assert numerics(alice.ask("SETNAME")) == ["461"]


def test_setname_is_not_sent_without_the_capability(net: Net) -> None:
    alice = net.irc_user("alice", channels="#chan")
    assert alice.ask("SETNAME :Quiet") == []
    assert alice.protocol.record.realname == "Quiet"


# -- invite-notify -----------------------------------------------------------------

def test_invite_notify_shows_members_who_asked_the_invitations(net: Net) -> None:
    op = net.irc_user("op", channels="#chan")
    watcher = net.irc_user("watcher", channels="#chan")
    plain = net.irc_user("plain", channels="#chan")
    line = net.line_user("lina")
    line.send("/join #chan")
    net.irc_user("dave", channels="")
    op.ask("CAP REQ invite-notify")
    assert "invite-notify" in watcher.ask("CAP LS")[0]
    watcher.ask("CAP REQ invite-notify")
    for user in (op, watcher, plain, line):
        user.read()
    assert op.ask("INVITE dave #chan") == [":chatsvc 341 op dave #chan"]  # no copy to oneself
    assert watcher.read() == [":op!~op@192.0.2.1 INVITE dave #chan"]
    assert plain.read() == [] and line.read() == []


def test_invite_notify_renders_once_for_every_member(net: Net) -> None:
    op = net.irc_user("op", channels="#chan")
    members = [net.irc_user(f"m{i}", channels="#chan") for i in range(3)]
    for member in members:
        member.ask("CAP REQ invite-notify")
    net.irc_user("dave", channels="")
    seen: list[Event] = []
    inner = net.hub.delivery

    class Spy:
        def to_room(self, room, event, *, exclude=None):  # type: ignore[no-untyped-def]
            inner.to_room(room, event, exclude=exclude)

        def to_user(self, participant, event):  # type: ignore[no-untyped-def]
            inner.to_user(participant, event)

        def to_many(self, participants, event):  # type: ignore[no-untyped-def]
            seen.append(event)
            inner.to_many(participants, event)

    net.hub.delivery = Spy()
    op.send("INVITE dave #chan")
    [event] = seen
    assert list(event.wire) == ["irc!invite-notify"]
    lines = {tuple(member.read()) for member in members}
    assert lines == {(":op!~op@192.0.2.1 INVITE dave #chan",)}


# -- chghost -----------------------------------------------------------------------

def test_a_line_users_rename_changes_their_username_and_chghost_says_so(net: Net) -> None:
    alice = net.irc_user("alice", channels="#chat")
    plain = net.irc_user("plain", channels="#chat")
    assert "chghost" in alice.ask("CAP LS")[0]
    alice.ask("CAP REQ chghost")
    line = net.line_user("bob")
    alice.read()
    plain.read()
    line.send("#robert")
    assert alice.read() == [":bob!bob@198.51.100.7 NICK robert",
                            ":robert!bob@198.51.100.7 CHGHOST robert 198.51.100.7"]
    assert plain.read() == [":bob!bob@198.51.100.7 NICK robert"]
    assert net.hub.mask_of(line.protocol) == "robert!robert@198.51.100.7"


def test_an_irc_users_rename_keeps_their_username_so_no_chghost(net: Net) -> None:
    alice = net.irc_user("alice", channels="#chat")
    alice.ask("CAP REQ chghost")
    bob = net.irc_user("bob", channels="#chat")
    alice.read()
    bob.send("NICK robert")
    assert alice.read() == [":bob!~bob@192.0.2.1 NICK robert"]


# -- extended-join -----------------------------------------------------------------

def test_extended_join_names_the_account_and_the_real_name(net: Net) -> None:
    foo = net.irc_user("foo", channels="#chan")
    plain = net.irc_user("plain", channels="#chan")
    assert "extended-join" in foo.ask("CAP LS")[0]
    foo.ask("CAP REQ extended-join")
    net.irc_user("bar", channels="#chan")
    assert foo.read() == [":bar!~bar@192.0.2.1 JOIN #chan * :Bar Example"]
    assert plain.read() == [":bar!~bar@192.0.2.1 JOIN #chan"]
    line = net.line_user("lina")  # a line user's real name is their name
    line.send("/join #chan")
    assert foo.read() == [":lina!lina@198.51.100.7 JOIN #chan * :lina"]
    # The record's account, once someone is logged in to one (the accounts
    # work sets it), is what the JOIN names.
    carol = net.irc_user("carol", channels="")
    carol.protocol.record.account = "carol_acct"
    carol.send("SETNAME :Carol C")
    carol.send("JOIN #chan")
    assert foo.read() == [":carol!~carol@192.0.2.1 JOIN #chan carol_acct :Carol C"]


def test_extended_join_with_the_other_formats_renders_once_per_format(net: Net) -> None:
    users = [net.irc_user(f"u{i}", channels="#chan") for i in range(4)]
    for user in users[:2]:
        user.ask("CAP REQ :extended-join server-time away-notify")
    joiner = net.irc_user("joiner", channels="")
    joiner.send("AWAY :busy")
    joiner.send("JOIN #chan")
    first, second = users[0].read(), users[1].read()
    assert first == second and len(first) == 2
    assert first[0].endswith(":joiner!~joiner@192.0.2.1 JOIN #chan * :Joiner Example")
    assert first[0].startswith("@time=") and first[1].endswith(" AWAY :busy")


# -- INVITE alone, HELPOP ----------------------------------------------------------

def test_invite_alone_lists_ones_invitations(net: Net) -> None:
    alice = net.irc_user("alice", channels="#b,#a")
    bob = net.irc_user("bob", channels="")
    assert bob.ask("INVITE") == [":chatsvc 337 bob :End of /INVITE list"]
    alice.send("INVITE bob #b", "INVITE bob #a")
    assert bob.ask("INVITE") == [":chatsvc 336 bob #a", ":chatsvc 336 bob #b",
                                 ":chatsvc 337 bob :End of /INVITE list"]
    bob.send("JOIN #a")  # an invitation used is gone
    assert numerics(bob.ask("INVITE")) == ["336", "337"]
    assert numerics(bob.ask("INVITE alice")) == ["461"]


def test_helpop_is_help(net: Net) -> None:
    bob = net.irc_user("bob", channels="")
    assert bob.ask("HELPOP") == bob.ask("HELP")
    assert bob.ask("HELPOP monitor") == bob.ask("HELP MONITOR")
    assert numerics(bob.ask("HELP MONITOR")) == ["704", "705", "706"]


def test_notifications_carry_server_time_for_those_who_asked_it(net: Net) -> None:
    timed = net.irc_user("timed", channels="#chan")
    plain = net.irc_user("plain", channels="#chan")
    timed.ask("CAP REQ :setname server-time invite-notify chghost")
    plain.ask("CAP REQ :setname invite-notify chghost")
    net.irc_user("dave", channels="")
    line = net.line_user("lina")
    line.send("/join #chan")
    for user in (timed, plain):
        user.read()
    net.clock.advance(0.25)
    stamp = "@time=2023-11-14T22:13:20.250Z "
    plain.send("SETNAME :Plain Person")
    assert timed.read() == [stamp + ":plain!~plain@192.0.2.1 SETNAME :Plain Person"]
    assert plain.read() == [":plain!~plain@192.0.2.1 SETNAME :Plain Person"]
    line.send("/invite dave")
    assert timed.read() == [stamp + ":lina!lina@198.51.100.7 INVITE dave #chan"]
    assert plain.read() == [":lina!lina@198.51.100.7 INVITE dave #chan"]
    line.send("#linda")
    assert timed.read()[1] == stamp + ":linda!lina@198.51.100.7 CHGHOST linda 198.51.100.7"
    assert plain.read()[1] == ":linda!lina@198.51.100.7 CHGHOST linda 198.51.100.7"
