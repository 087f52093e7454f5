"""Rooms in the line protocol: every command, notice and error, end to end."""

from __future__ import annotations

import pytest
import pytest_twisted
from support import LineUser, WireClient, make_hub, registered
from twisted.internet import endpoints, reactor

from chatsvc.service.tap import Options, makeService


def hub_with_oper(**settings: object):
    return make_hub(opers={"root": "hunter2"}, **settings)


def in_room(room: str, *users: LineUser, key: str = "") -> None:
    """Send each user to C{room}, then empty everyone's inbox."""
    for user in users:
        user.send(f"/join {room} {key}".rstrip())
    for user in users:
        user.read()


# -- joining, parting, listing -------------------------------------------------


def test_join_creates_a_room_and_moves_you_there():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    alice.send("/join #rust")
    assert alice.read() == ["* you joined #rust (1 here)"]
    assert bob.read() == ["* alice left for #rust"]
    bob.send("/join #RUST")
    assert bob.read() == ["* you joined #rust (2 here)"]
    assert alice.read() == ["* bob joined #rust from #chat"]
    alice.send("hello rust")
    assert bob.read() == ["<alice> hello rust"]


def test_messages_stay_in_the_senders_room():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    in_room("#rust", alice, bob)
    carol.read()
    alice.send("in rust", "/me waves", "//slash", "/say #hash")
    assert bob.read() == ["<alice> in rust", "* alice waves", "<alice> /slash", "<alice> #hash"]
    assert carol.read() == []
    carol.send("in chat")
    assert alice.read() == bob.read() == []


def test_join_shows_the_topic():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#rust", alice)
    alice.send("/topic Rust talk, be kind")
    assert alice.read() == ["* alice sets the topic of #rust: Rust talk, be kind"]
    bob.read()
    bob.send("/join #rust")
    assert bob.read() == ["* you joined #rust (2 here)", "* topic of #rust: Rust talk, be kind"]


def test_join_errors():
    hub = make_hub()
    (alice,) = registered(hub, "alice")
    alice.send("/join", "/join rust", "/join #a:b", "/join #chat", "/join #" + "x" * 51)
    assert alice.read() == [
        "! join where? /join #room [key]",
        "! bad room name: a room name starts with '#'",
        "! bad room name: ':' not allowed in a room name",
        "! you are already in #chat",
        "! bad room name: longer than 50 characters after '#'",
    ]


def test_join_before_registering():
    user = LineUser(make_hub())
    user.read()
    user.send("/join #rust", "/part", "/rooms")
    assert user.read()[:2] == ["! register first: send #yourname"] * 2


def test_part_returns_to_the_default_room():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#rust", alice, bob)
    alice.send("/part enough rust")
    assert alice.read() == ["* you joined #chat (1 here)"]
    assert bob.read() == ["* alice left #rust for #chat (enough rust)"]
    bob.send("/part")
    assert bob.read() == ["* you joined #chat (2 here)"]
    assert alice.read() == ["* bob is back from #rust"]
    assert "#rust" not in hub.rooms
    alice.send("/part")
    assert alice.read() == ["! you are in #chat, the default room: /join #room to go elsewhere"]


def test_part_when_the_default_room_refuses_leaves_you_in_no_room():
    hub = hub_with_oper()
    boss, alice = registered(hub, "boss", "alice")
    in_room("#rust", alice)
    boss.send("/oper root hunter2", "/mode +i")
    boss.read()
    alice.send("/part")
    assert alice.read() == [
        "* you left #rust",
        "! #chat is invite-only",
        "* you are in no room: /join #room to enter one (private messages still work)",
    ]
    alice.send("anyone?", "/who", "/topic", "/part")
    assert alice.read() == [
        "! you are in no room: /join #room to enter one (private messages still work)"] * 4
    alice.send("@boss:let me in")
    assert boss.read() == ["*alice* let me in"]


def test_registering_when_the_default_room_refuses_says_you_are_in_no_room():
    hub = hub_with_oper()
    (boss,) = registered(hub, "boss")
    boss.send("/oper root hunter2", "/mode +i")
    newbie = LineUser(hub)
    newbie.read()
    newbie.send("#newbie")
    assert newbie.read() == [
        "* you are newbie",
        "! #chat is invite-only",
        "* you are in no room: /join #room to enter one (private messages still work)",
    ]
    newbie.send("#newbie2")  # a rename is no new registration: nothing more to say
    assert newbie.read() == ["* you are newbie2"]


def test_rooms_lists_visible_rooms_with_counts_and_topics():
    hub = hub_with_oper()
    alice, bob, carol, boss = registered(hub, "alice", "bob", "carol", "boss")
    boss.send("/oper root hunter2", "/topic Welcome!")
    in_room("#rust", alice, bob)
    in_room("#secret", carol)
    carol.send("/mode +s")
    carol.read()
    alice.send("/rooms")
    assert alice.read() == ["* rooms (2): #chat (1) Welcome!, #rust (2)"]
    carol.send("/rooms")
    assert carol.read() == ["* rooms (3): #chat (1) Welcome!, #rust (2), #secret (1)"]


def test_who_lists_your_room_or_another_you_may_see():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    in_room("#rust", alice, bob)
    alice.send("/voice bob", "/who")
    assert alice.read()[-1] == "* in #rust (2): @alice, +bob"
    carol.read()
    carol.send("/who", "/who #rust", "/who #nowhere")
    assert carol.read() == [
        "* in #chat (1): carol",
        "* in #rust (2): @alice, +bob",
        "! no such room: #nowhere",
    ]
    alice.send("/mode +s")
    carol.send("/who #rust")
    assert carol.read() == ["! no such room: #rust"]


# -- topics ------------------------------------------------------------------


def test_topic_show_set_clear_and_refusal():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#rust", alice, bob)
    alice.send("/topic")
    assert alice.read() == ["* no topic for #rust"]
    alice.send("/topic Rust!")
    assert alice.read() == bob.read() == ["* alice sets the topic of #rust: Rust!"]
    bob.send("/topic", "/topic mine")
    assert bob.read() == ["* topic of #rust: Rust!", "! you are not an operator of #rust"]
    alice.send("/topic -")
    assert bob.read() == ["* alice clears the topic of #rust"]
    alice.send("/topic " + "x" * 391)
    assert alice.read()[-1] == "! topic too long for #rust: at most 390 bytes"


def test_default_room_topic_is_shown_after_registering():
    hub = hub_with_oper()
    (boss,) = registered(hub, "boss")
    boss.send("/oper root hunter2", "/topic Welcome!")
    assert boss.read() == ["* you are now a server operator",
                           "* boss sets the topic of #chat: Welcome!"]
    user = LineUser(hub)
    user.read()
    user.send("#newbie")
    assert user.read() == ["* you are newbie", "* topic of #chat: Welcome!",
                           "* you are in #chat with 1 other: boss"]


# -- operators, kicks --------------------------------------------------------


def test_kick_sends_the_victim_back_to_the_default_room():
    hub = make_hub()
    alice, bob, carol, dave = registered(hub, "alice", "bob", "carol", "dave")
    in_room("#rust", alice, bob, carol)
    dave.read()
    alice.send("/kick BOB spam")
    assert alice.read() == carol.read() == ["* alice kicked bob from #rust (spam)"]
    assert bob.read() == ["* you were kicked from #rust by alice (spam)",
                          "* you joined #chat (2 here)"]
    assert dave.read() == ["* bob joined"]
    bob.send("back in chat")
    assert dave.read() == ["<bob> back in chat"]


def test_kick_without_reason_and_refusals():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    in_room("#rust", alice, bob)
    bob.send("/kick alice", "/kick")
    assert bob.read() == ["! you are not an operator of #rust", "! kick whom? /kick name [reason]"]
    alice.send("/kick carol")
    assert alice.read() == ["! carol is not in #rust"]
    alice.send("/kick bob")
    assert alice.read() == ["* alice kicked bob from #rust"]


def test_kicked_from_the_default_room_means_no_room():
    hub = hub_with_oper()
    boss, troll = registered(hub, "boss", "troll")
    boss.send("/oper root hunter2")
    boss.read()
    boss.send("/kick troll go away")
    assert boss.read() == ["* boss kicked troll from #chat (go away)"]
    assert troll.read() == [
        "* you were kicked from #chat by boss (go away)",
        "* you are in no room: /join #room to enter one (private messages still work)",
    ]
    troll.send("still here")
    assert troll.read() == [
        "! you are in no room: /join #room to enter one (private messages still work)"]
    troll.send("/join #chat")
    assert troll.read() == ["* you joined #chat (2 here)"]


def test_kicked_while_banned_from_the_default_room():
    hub = hub_with_oper()
    boss, troll = registered(hub, "boss", "troll")
    boss.send("/oper root hunter2", "/ban troll", "/join #rust")
    troll.send("/join #rust")
    boss.read(), troll.read()
    boss.send("/kick troll")
    assert troll.read() == [
        "* you were kicked from #rust by boss",
        "! you are banned from #chat",
        "* you are in no room: /join #room to enter one (private messages still work)",
    ]


def test_op_deop_voice_devoice():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#rust", alice, bob)
    alice.send("/op bob")
    assert alice.read() == bob.read() == ["* alice gives operator status to bob in #rust"]
    bob.send("/deop alice", "/voice alice", "/devoice alice")
    assert alice.read() == [
        "* bob takes operator status from alice in #rust",
        "* bob gives voice to alice in #rust",
        "* bob takes voice from alice in #rust",
    ]
    alice.send("/op alice", "/voice", "/op nobody")
    assert alice.read() == ["! you are not an operator of #rust", "! whom? /voice name",
                            "! you are not an operator of #rust"]
    bob.read()
    bob.send("/op nobody", "/voice bob alice")
    assert bob.read() == ["! nobody is not in #rust",
                          "* bob gives voice to bob in #rust",
                          "* bob gives voice to alice in #rust"]


def test_invite_to_an_invite_only_room():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#vault", alice)
    alice.send("/mode +i")
    assert alice.read() == ["* alice sets +i on #vault"]
    bob.read()
    bob.send("/join #vault")
    assert bob.read() == ["! #vault is invite-only"]
    alice.send("/invite bob")
    assert alice.read() == ["* you invite bob to #vault"]
    assert bob.read() == ["* alice invites you to #vault"]
    bob.send("/join #vault")
    assert bob.read() == ["* you joined #vault (2 here)"]


def test_invite_errors():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    in_room("#vault", alice, bob)
    alice.send("/invite", "/invite zed", "/invite bob")
    assert alice.read() == ["! invite whom? /invite name", "! no such user: zed",
                            "! bob is already in #vault"]
    alice.send("/mode +i")
    bob.read()
    bob.send("/invite carol")
    assert bob.read() == ["! you are not an operator of #vault"]


# -- rules -------------------------------------------------------------------


def test_mode_shows_and_changes_rules():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#rust", alice, bob)
    alice.send("/mode")
    assert alice.read() == [
        "* modes of #rust: +nt (no messages from outside, only operators set the topic)"]
    alice.send("/mode +msk-t sesame")
    assert alice.read() == bob.read() == ["* alice sets +msk-t sesame on #rust"]
    alice.send("/mode +l 5")
    assert bob.read() == ["* alice sets +l 5 on #rust"]
    bob.send("/mode")
    assert bob.read() == [
        "* modes of #rust: +mnskl sesame 5 (moderated, no messages from outside, secret, "
        "a key is needed to join, at most 5 members)"]
    alice.send("/mode -mnsl-k *")
    assert bob.read() == ["* alice sets -mnslk on #rust"]
    bob.send("/mode")
    assert bob.read() == ["* modes of #rust: + (no rules)"]


def test_mode_errors():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#rust", alice, bob)
    alice.send("/mode +z", "/mode +k", "/mode +l lots", "/mode +o", "/mode +b a,b")
    assert alice.read() == [
        "! unknown mode: z (known: b e I i k l m n o s t v x)",
        "! mode +k needs a key",
        "! bad argument for +l on #rust: the limit is a number from 1 to 1000000",
        "! mode +o needs a name",
        "! bad argument for +b on #rust: ',' not allowed in a mask",
    ]
    bob.send("/mode +m")
    assert bob.read() == ["! you are not an operator of #rust"]


def test_mode_accepts_the_irc_habit_of_naming_your_room():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#rust", alice, bob)
    alice.send("/mode #RUST +m", "/mode #rust")
    assert alice.read() == [
        "* alice sets +m on #rust",
        "* modes of #rust: +mnt (moderated, no messages from outside, "
        "only operators set the topic)",
    ]
    alice.send("/mode #go +m")
    assert alice.read() == ["! /mode acts on your room, #rust: /join #go first"]


def test_key_and_limit():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    in_room("#vault", alice)
    alice.send("/mode +kl sesame 2")
    alice.read(), bob.read()
    bob.send("/join #vault", "/join #vault wrong", "/join #vault sesame")
    assert bob.read() == ["! bad key for #vault", "! bad key for #vault",
                          "* you joined #vault (2 here)"]
    carol.read()
    carol.send("/join #vault sesame")
    assert carol.read() == ["! #vault is full"]


def test_moderated_room():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    in_room("#rust", alice, bob, carol)
    alice.send("/mode +m", "/voice bob")
    for user in (alice, bob, carol):
        user.read()
    carol.send("hello?", "/me waves")
    assert carol.read() == [
        "! cannot speak: #rust is moderated: only operators and voiced members may speak"] * 2
    assert alice.read() == bob.read() == []
    bob.send("I may")
    alice.send("me too")
    assert carol.read() == ["<bob> I may", "<alice> me too"]


def test_ban_unban_and_ban_list():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#rust", alice, bob)
    alice.send("/ban")
    assert alice.read() == ["* no bans on #rust"]
    alice.send("/ban bob", "/ban *!*@spam.example")
    assert bob.read() == ["* alice sets +b bob!*@* on #rust",
                          "* alice sets +b *!*@spam.example on #rust"]
    alice.send("/ban", "/mode +b")
    assert alice.read()[-2:] == ["* bans on #rust (2): bob!*@*, *!*@spam.example"] * 2
    bob.send("can I talk?")
    assert bob.read() == ["! cannot speak: you are banned from #rust"]
    alice.send("/kick bob")
    alice.read(), bob.read()
    bob.send("/join #rust")
    assert bob.read() == ["! you are banned from #rust"]
    alice.send("/unban BOB", "/unban")
    assert alice.read() == ["* alice sets -b bob!*@* on #rust", "! unban what? /unban mask"]
    bob.send("/join #rust")
    assert bob.read() == ["* you joined #rust (2 here)"]


def test_ban_and_unban_take_several_masks():
    hub = make_hub()
    (alice,) = registered(hub, "alice")
    in_room("#rust", alice)
    alice.send("/ban bob carol *!*@spam.example")
    assert alice.read() == ["* alice sets +bbb bob!*@* carol!*@* *!*@spam.example on #rust"]
    alice.send("/unban bob carol")
    assert alice.read() == ["* alice sets -bb bob!*@* carol!*@* on #rust"]
    alice.send("/ban")
    assert alice.read() == ["* bans on #rust (1): *!*@spam.example"]


def test_a_change_that_changes_nothing_says_so():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#rust", alice, bob)
    alice.send("/mode +n", "/mode -k", "/unban nobody", "/op alice", "/devoice bob")
    assert alice.read() == ["* nothing changed on #rust: it was already so"] * 5
    assert bob.read() == []
    bob.send("/mode +n")  # a refusal is still a refusal
    assert bob.read() == ["! you are not an operator of #rust"]


def test_ban_by_host_with_exception():
    hub = make_hub()
    (alice,) = registered(hub, "alice")
    spammer = LineUser(hub, host="10.9.8.7")
    friend = LineUser(hub, host="10.9.8.6")
    spammer.send("#spammer")
    friend.send("#friend")
    in_room("#rust", alice)
    alice.send("/ban *!*@10.9.8.*", "/mode +e friend", "/mode +e")
    assert alice.read()[-1] == "* ban exceptions on #rust (1): friend!*@*"
    spammer.read(), friend.read()
    spammer.send("/join #rust")
    assert spammer.read() == ["! you are banned from #rust"]
    friend.send("/join #rust")
    assert friend.read() == ["* you joined #rust (2 here)"]


def test_invite_exception():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    in_room("#vault", alice)
    alice.send("/mode +iI bob", "/mode +I")
    assert alice.read() == ["* alice sets +iI bob!*@* on #vault",
                            "* invite exceptions on #vault (1): bob!*@*"]
    bob.read()
    bob.send("/join #vault")
    assert bob.read() == ["* you joined #vault (2 here)"]


# -- server operators --------------------------------------------------------


def test_oper_and_its_errors():
    hub = hub_with_oper()
    (alice,) = registered(hub, "alice")
    alice.send("/oper", "/oper root wrong", "/oper nobody hunter2", "/mode +m")
    assert alice.read() == [
        "! usage: /oper name password",
        "! bad operator name or password",
        "! bad operator name or password",
        "! you are not an operator of #chat",
    ]
    alice.send("/oper root hunter2", "/mode +m")
    assert alice.read() == ["* you are now a server operator", "* alice sets +m on #chat"]


def test_server_operator_runs_any_room_they_are_in():
    hub = hub_with_oper()
    alice, boss = registered(hub, "alice", "boss")
    in_room("#rust", alice, boss)
    boss.send("/oper root hunter2", "/topic mine", "/op boss", "/kick alice bye")
    assert boss.read() == [
        "* you are now a server operator",
        "* boss sets the topic of #rust: mine",
        "* boss gives operator status to boss in #rust",
        "* boss kicked alice from #rust (bye)",
    ]


# -- renames and quits across rooms --------------------------------------------


def test_rename_and_quit_reach_only_the_room_mates():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    in_room("#rust", alice, bob)
    carol.read()
    alice.send("#alicia")
    assert alice.read() == ["* you are alicia"]
    assert bob.read() == ["* alice is now alicia"]
    assert carol.read() == []
    alice.send("/quit bye")
    alice.drop()
    assert bob.read() == ["* alicia left (bye)"]
    assert carol.read() == []


def test_help_mentions_the_room_commands():
    user = LineUser(make_hub())
    user.read()
    user.send("/help")
    text = "\n".join(user.read())
    for command in ("/join", "/part", "/rooms", "/topic", "/kick", "/op", "/deop", "/voice",
                    "/invite", "/mode", "/ban", "/unban", "/oper", "/who [#room]"):
        assert command in text


# -- over real sockets ---------------------------------------------------------


@pytest.fixture
def server():
    """A running chat service on loopback with a server operator account."""
    options = Options()
    options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", "--oper", "root:hunter2"])
    root = makeService(options)
    root.startService()
    (plain,) = [service for service in root if getattr(service, "option", "") == "--port"]
    port = pytest_twisted.blockon(plain.whenListening()).getHost().port
    yield endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=5)
    pytest_twisted.blockon(root.stopService())


@pytest.mark.integration
@pytest_twisted.ensureDeferred
async def test_rooms_over_tcp(server):
    alice = await (await WireClient().connect(server)).register("alice")
    bob = await (await WireClient().connect(server)).register("bob")
    assert await alice.expect() == "* bob joined"
    alice.send("/join #vault")
    alice.send("/mode +i")
    assert await alice.expect() == "* you joined #vault (1 here)"
    assert await alice.expect() == "* alice sets +i on #vault"
    assert await bob.expect() == "* alice left for #vault"
    bob.send("/join #vault")
    assert await bob.expect() == "! #vault is invite-only"
    alice.send("/invite bob")
    assert await alice.expect() == "* you invite bob to #vault"
    assert await bob.expect() == "* alice invites you to #vault"
    bob.send("/join #vault")
    assert await bob.expect() == "* you joined #vault (2 here)"
    assert await alice.expect() == "* bob joined #vault from #chat"
    for line in ("/oper root hunter2", "/deop alice", "/kick alice enough"):
        bob.send(line)
    assert await bob.expect() == "* you are now a server operator"
    assert await bob.expect() == "* bob takes operator status from alice in #vault"
    assert await bob.expect() == "* bob kicked alice from #vault (enough)"
    assert await alice.expect() == "* bob takes operator status from alice in #vault"
    assert await alice.expect() == "* you were kicked from #vault by bob (enough)"
    assert await alice.expect() == "* you joined #chat (1 here)"


def test_a_move_into_or_out_of_a_secret_room_does_not_name_it():
    hub = make_hub()
    alice, bob, carol = registered(hub, "alice", "bob", "carol")
    alice.send("/join #hideout", "/mode +s")
    alice.read(), bob.read(), carol.read()
    bob.send("/join #hideout")
    assert carol.read() == ["* bob left"]
    assert alice.read() == ["* bob joined #hideout from #chat"]  # #chat is no secret
    bob.send("/part")
    assert carol.read() == ["* bob joined"]
    bob.send("/join #rust")
    assert carol.read() == ["* bob left for #rust"]
