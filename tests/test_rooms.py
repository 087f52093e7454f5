"""The hub's rooms: lifecycle, operators, topics, rules, bans, invitations.

Bare recorder participants, no wire format: what the hub decides and which
events it sends to whom.
"""

from __future__ import annotations

import pytest
from support import Recorder
from twisted.internet.task import Clock

from chatsvc.events import (
    Entered,
    Error,
    Event,
    Exited,
    Invited,
    Joined,
    Kicked,
    Left,
    ModesChanged,
    Registered,
    Renamed,
    RoomMessage,
    Topic,
    TopicChanged,
)
from chatsvc.hub.errors import (
    AlreadyInRoom,
    BadKey,
    BadModeArgument,
    BadOperLogin,
    BadRoomName,
    Banned,
    CannotSpeak,
    InviteOnly,
    ListFull,
    ModeNeedsArgument,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotOperator,
    NotRegistered,
    RoomFull,
    TooManyRooms,
    TopicTooLong,
    UnknownMode,
    UserAlreadyInRoom,
    UserNotInRoom,
)
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.masks import BadMask, Wildcard, normalize_mask
from chatsvc.hub.modes import ModeChange, mode_string, parse_modes
from chatsvc.hub.names import fold
from chatsvc.hub.settings import Settings


class Person(Recorder):
    """A recorder that takes what it was given."""

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


class TickingClock(Clock):
    """A Clock whose time moves on a second each time it is read."""

    def seconds(self) -> float:
        self.rightNow += 1
        return self.rightNow


def make_hub(**settings: object) -> ChatFactory:
    clock = TickingClock()
    clock.rightNow = 999.0
    return ChatFactory(Settings(**settings), clock=clock)


def people(hub: ChatFactory, *names: str, host: str = "test") -> list[Person]:
    out = []
    for name in names:
        person = Person(host=host)
        hub.attach(person, person.address)
        hub.register(person, name)
        out.append(person)
    for person in out:
        person.take()
    return out


def modes(spec: str, *arguments: str) -> list[ModeChange]:
    return parse_modes(spec, arguments)


# -- lifecycle ---------------------------------------------------------------


def test_first_join_creates_the_room_and_makes_its_operator():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    room = hub.join(alice, "#Rust")
    assert hub.rooms[fold("#rust")] is room
    assert room.name == "#Rust"
    assert alice.take() == [Entered("#Rust", 1, "")]
    assert hub.is_operator(alice, room)
    assert room.topic_locked and room.no_outside
    hub.join(bob, "#rust")
    assert bob.take() == [Entered("#Rust", 2, "")]
    assert alice.take() == [Joined("#Rust", "bob")]
    assert not hub.is_operator(bob, room)
    assert [room.name for room in hub.rooms_of(bob)] == ["#chat", "#Rust"]


def test_joined_carries_the_joiners_mask():
    hub = make_hub()
    (alice,) = people(hub, "alice")
    bob = Person(host="10.0.0.2")
    hub.attach(bob, bob.address)
    hub.describe(bob, user="bobby", realname="Bob B.")
    hub.register(bob, "bob")
    assert alice.take()[0].mask == "bob!bobby@10.0.0.2"
    assert hub.mask_of(alice) == "alice!alice@test"


def test_last_member_leaving_removes_the_room():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.part(alice, "#rust", "bye")
    assert alice.take() == [Entered("#rust", 1, ""), Joined("#rust", "bob"),
                            Exited("#rust", "bye")]
    assert bob.take() == [Entered("#rust", 2, ""), Left("#rust", "alice", "bye")]
    hub.part(bob, "#RUST")
    assert "#rust" not in hub.rooms
    with pytest.raises(NoSuchRoom, match="no such room: #rust"):
        hub.members("#rust")


def test_a_recreated_room_starts_afresh():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    hub.join(alice, "#rust")
    hub.set_topic(alice, "#rust", "old topic")
    hub.set_modes(alice, "#rust", modes("+mb", "carol"))
    hub.part(alice, "#rust")
    room = hub.join(bob, "#rust")
    assert (room.topic, room.moderated, len(room.bans)) == ("", False, 0)
    assert hub.is_operator(bob, room) and not hub.is_operator(alice, room)


def test_default_room_outlives_its_last_member_and_has_no_operator():
    hub = make_hub()
    (alice,) = people(hub, "alice")
    hub.part(alice, "#chat")
    assert hub.rooms[fold("#chat")] is hub.default_room
    assert len(hub.default_room) == 0
    hub.join(alice, "#chat")
    assert not hub.is_operator(alice, hub.default_room)


def test_operator_leaving_leaves_the_room_without_operator():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    room = hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.part(alice, "#rust")
    assert room.operators == set()
    with pytest.raises(NotOperator):
        hub.set_topic(bob, "#rust", "mine now")
    hub.join(alice, "#rust")
    assert not hub.is_operator(alice, room)


def test_join_errors():
    hub = make_hub()
    (alice,) = people(hub, "alice")
    with pytest.raises(BadRoomName, match="bad room name: a room name starts with '#'"):
        hub.join(alice, "rust")
    with pytest.raises(BadRoomName, match="not allowed"):
        hub.join(alice, "#a,b")
    with pytest.raises(AlreadyInRoom, match="you are already in #chat"):
        hub.join(alice, "#CHAT")
    stranger = Person()
    hub.attach(stranger, stranger.address)
    with pytest.raises(NotRegistered):
        hub.join(stranger, "#rust")
    hub.part(alice, "#chat")
    with pytest.raises(NotInRoom, match="you are not in #chat"):
        hub.part(alice, "#chat")


def test_part_errors():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    with pytest.raises(NoSuchRoom):
        hub.part(alice, "#nowhere")
    hub.join(bob, "#rust")
    with pytest.raises(NotInRoom, match="you are not in #rust"):
        hub.part(alice, "#rust")


def test_moving_leaves_the_old_room_only_once_admitted():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    hub.join(carol, "#vault")
    hub.set_modes(carol, "#vault", modes("+i"))
    with pytest.raises(InviteOnly):
        hub.join(alice, "#vault", leaving="#chat")
    assert alice in hub.default_room
    hub.join(alice, "#rust", leaving="#chat", reason="off to #rust")
    assert alice not in hub.default_room
    assert alice.take() == [Entered("#rust", 1, "", left="#chat")]
    assert bob.take() == [Left("#chat", "alice", "off to #rust", to="#rust")]


def test_too_many_rooms():
    hub = make_hub(max_rooms=2)
    (alice,) = people(hub, "alice")
    hub.join(alice, "#one")
    with pytest.raises(TooManyRooms, match="you are in 2 rooms already"):
        hub.join(alice, "#two")
    hub.join(alice, "#two", leaving="#one")


# -- messages ----------------------------------------------------------------


def test_room_message_reaches_members_but_not_sender_or_outsiders():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    for person in (alice, bob, carol):
        person.take()
    hub.say(alice, "#rust", "hello")
    assert alice.take() == [] and carol.take() == []
    assert bob.take() == [RoomMessage("#rust", "alice", "hello")]


def test_no_outside_messages_by_default_but_can_be_allowed():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    hub.join(alice, "#rust")
    with pytest.raises(CannotSpeak, match="cannot speak: you are not in #rust"):
        hub.say(bob, "#rust", "hi")
    hub.set_modes(alice, "#rust", modes("-n"))
    alice.take()
    hub.say(bob, "#rust", "hi")
    assert alice.take() == [RoomMessage("#rust", "bob", "hi")]


def test_moderated_room_lets_only_operators_and_voiced_speak():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.join(carol, "#rust")
    hub.set_modes(alice, "#rust", modes("+m"))
    with pytest.raises(CannotSpeak, match="#rust is moderated"):
        hub.say(bob, "#rust", "hi")
    hub.set_modes(alice, "#rust", modes("+v", "BOB"))
    for person in (alice, bob, carol):
        person.take()
    hub.say(bob, "#rust", "hi")
    hub.say(alice, "#rust", "op speaks")
    assert carol.take() == [RoomMessage("#rust", "bob", "hi"),
                            RoomMessage("#rust", "alice", "op speaks")]


def test_banned_member_cannot_speak_unless_voiced():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.set_modes(alice, "#rust", modes("+b", "b*"))
    with pytest.raises(CannotSpeak, match="you are banned from #rust"):
        hub.say(bob, "#rust", "hi")
    hub.set_modes(alice, "#rust", modes("+v", "bob"))
    hub.say(bob, "#rust", "hi")


def test_server_operator_is_bound_by_moderation_like_anyone():
    hub = make_hub(opers={"root": "pw"})
    alice, boss = people(hub, "alice", "boss")
    hub.join(alice, "#rust")
    hub.oper(boss, "root", "pw")
    hub.set_modes(boss, "#rust", modes("+m-n"))
    with pytest.raises(CannotSpeak, match="moderated"):
        hub.say(boss, "#rust", "hi")


# -- topics ------------------------------------------------------------------


def test_topic_is_set_by_operators_and_announced_to_every_member():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    alice.take(), bob.take()
    with pytest.raises(NotOperator, match="you are not an operator of #rust"):
        hub.set_topic(bob, "#rust", "mine")
    hub.set_topic(alice, "#rust", "  Rust talk  ")
    room = hub.find_room("#rust")
    assert (room.topic, room.topic_by) == ("Rust talk", "alice")
    assert room.topic_at > 0
    assert alice.take() == bob.take() == [TopicChanged("#rust", "alice", "Rust talk")]
    people(hub, "carol")
    carol = hub.users["carol"]
    hub.join(carol, "#rust")
    assert carol.take() == [Entered("#rust", 3, "Rust talk")]


def test_unlocked_topic_is_settable_by_members_not_outsiders():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.set_modes(alice, "#rust", modes("-t"))
    hub.set_topic(bob, "#rust", "anyone may")
    with pytest.raises(NotInRoom):
        hub.set_topic(carol, "#rust", "outsider")
    hub.set_topic(bob, "#rust", "")
    assert hub.find_room("#rust").topic == ""
    with pytest.raises(TopicTooLong, match="at most 390 bytes"):
        hub.set_topic(bob, "#rust", "x" * 391)
    with pytest.raises(TopicTooLong):  # bytes, not characters
        hub.set_topic(bob, "#rust", "é" * 196)
    hub.set_topic(bob, "#rust", "é" * 195)


def test_default_room_topic_is_shown_on_registration():
    hub = make_hub(opers={"root": "pw"})
    (boss,) = people(hub, "boss")
    hub.oper(boss, "root", "pw")
    hub.set_topic(boss, "#chat", "Welcome!")
    (newcomer,) = [Person()]
    hub.attach(newcomer, newcomer.address)
    hub.register(newcomer, "newcomer")
    assert newcomer.events == [Registered("newcomer"), Topic("#chat", "Welcome!")]


def test_default_room_is_operated_by_server_operators_only():
    hub = make_hub(opers={"root": "secret"})
    alice, bob = people(hub, "alice", "bob")
    with pytest.raises(NotOperator, match="not an operator of #chat"):
        hub.set_modes(alice, "#chat", modes("+m"))
    with pytest.raises(BadOperLogin, match="bad operator name or password"):
        hub.oper(alice, "root", "guess")
    with pytest.raises(BadOperLogin):
        hub.oper(alice, "nobody", "secret")
    hub.oper(alice, "root", "secret")
    assert alice in hub.opers
    hub.set_modes(alice, "#chat", modes("+o", "bob"))
    assert hub.is_operator(bob, hub.default_room)
    hub.kick(bob, "#chat", "alice", "bob can kick now")


def test_server_operator_runs_rooms_they_are_not_in():
    hub = make_hub(opers={"root": "pw"})
    alice, bob, boss = people(hub, "alice", "bob", "boss")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.oper(boss, "root", "pw")
    hub.set_topic(boss, "#rust", "by decree")
    hub.kick(boss, "#rust", "alice", "abuse")
    hub.set_modes(boss, "#rust", modes("+o", "bob"))
    assert hub.is_operator(bob, hub.find_room("#rust"))
    assert boss not in hub.find_room("#rust")


def test_server_operator_status_ends_with_the_connection():
    hub = make_hub(opers={"root": "pw"})
    (boss,) = people(hub, "boss")
    hub.oper(boss, "root", "pw")
    hub.detach(boss, "quit")
    assert hub.opers == set()


# -- kicks -------------------------------------------------------------------


def test_kick_tells_the_room_and_the_victim_last():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    for person in (alice, bob, carol):
        hub.join(person, "#rust")
        person.take()
    alice.take(), bob.take()
    hub.kick(alice, "#rust", "BOB", "spam")
    expected = Kicked("#rust", "bob", "alice", "spam")
    assert alice.take() == carol.take() == [expected]
    assert bob.take() == [Exited("#rust", "spam", "alice")]
    assert bob not in hub.find_room("#rust")
    assert bob in hub.default_room


def test_kick_refusals():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    with pytest.raises(NotOperator):
        hub.kick(bob, "#rust", "alice")
    with pytest.raises(UserNotInRoom, match="carol is not in #rust"):
        hub.kick(alice, "#rust", "carol")
    with pytest.raises(NoSuchRoom):
        hub.kick(alice, "#nowhere", "bob")


def test_kick_of_the_last_operator_leaves_an_operatorless_room():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    room = hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.kick(alice, "#rust", "alice", "bye me")
    assert room.operators == set()
    assert alice.take()[-1] == Exited("#rust", "bye me", "alice")
    assert bob.take()[-1] == Kicked("#rust", "alice", "alice", "bye me")
    with pytest.raises(NotOperator):
        hub.kick(bob, "#rust", "bob")


def test_kick_of_the_last_member_removes_the_room():
    hub = make_hub(opers={"root": "pw"})
    alice, boss = people(hub, "alice", "boss")
    hub.join(alice, "#rust")
    hub.oper(boss, "root", "pw")
    hub.kick(boss, "#rust", "alice")
    assert "#rust" not in hub.rooms


def test_kicked_status_does_not_survive_a_rejoin():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    room = hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.set_modes(alice, "#rust", modes("+ov", "bob", "bob"))
    hub.kick(alice, "#rust", "bob")
    hub.join(bob, "#rust")
    assert bob not in room.operators and bob not in room.voiced


# -- renames and quits ---------------------------------------------------------


def test_rename_in_several_rooms_is_announced_once_to_each_neighbour():
    hub = make_hub()
    alice, bob, carol, dave = people(hub, "alice", "bob", "carol", "dave")
    hub.part(dave, "#chat")
    for room in ("#one", "#two"):
        hub.join(alice, room)
        hub.join(bob, room)
    hub.join(dave, "#two")
    room = hub.find_room("#one")
    for person in (alice, bob, carol, dave):
        person.take()
    hub.register(alice, "alicia")
    assert alice.take() == [Registered("alicia")]
    assert bob.take() == carol.take() == dave.take() == [Renamed("alice", "alicia")]
    assert room.member("ALICIA") is alice and room.member("alice") is None
    assert hub.is_operator(alice, room)
    hub.say(bob, "#one", "still here?")
    assert alice.take() == [RoomMessage("#one", "bob", "still here?")]


def test_quit_is_announced_once_and_empties_rooms():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    for room in ("#one", "#two"):
        hub.join(alice, room)
        hub.join(bob, room)
    bob.take()
    hub.detach(alice, "gone")
    assert bob.take() == carol.take() == [Left(None, "alice", "gone")]
    assert hub.rooms_of(alice) == []
    hub.detach(bob, "gone")
    assert set(hub.rooms) == {"#chat"}


def test_private_messages_ignore_rooms():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    hub.part(alice, "#chat")
    hub.whisper(bob, "alice", "psst")
    assert alice.take()[-1].text == "psst"


# -- rules on joining --------------------------------------------------------


def test_invite_only_room_needs_an_invitation_which_is_used_up():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    room = hub.join(alice, "#vault")
    hub.set_modes(alice, "#vault", modes("+i"))
    with pytest.raises(InviteOnly, match="#vault is invite-only"):
        hub.join(bob, "#vault")
    assert hub.invite(alice, "#vault", "BOB") == "bob"
    assert bob.take() == [Invited("#vault", "alice", "bob")]
    hub.join(bob, "#vault")
    assert room.invited == set()
    hub.part(bob, "#vault")
    with pytest.raises(InviteOnly):
        hub.join(bob, "#vault")


def test_invite_refusals():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    hub.join(alice, "#vault")
    hub.join(bob, "#vault")
    with pytest.raises(NotInRoom):
        hub.invite(carol, "#vault", "carol")
    with pytest.raises(NoSuchUser, match="no such user: zed"):
        hub.invite(alice, "#vault", "zed")
    with pytest.raises(UserAlreadyInRoom, match="bob is already in #vault"):
        hub.invite(alice, "#vault", "bob")
    hub.invite(bob, "#vault", "carol")  # any member, while not invite-only
    hub.set_modes(alice, "#vault", modes("+i"))
    with pytest.raises(NotOperator):
        hub.invite(bob, "#vault", "carol")


def test_invitation_passes_key_and_limit_but_not_a_ban():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    hub.join(alice, "#vault")
    hub.set_modes(alice, "#vault", modes("+kl", "sesame", "1"))
    hub.invite(alice, "#vault", "bob")
    hub.join(bob, "#vault")
    hub.set_modes(alice, "#vault", modes("+b", "carol"))
    hub.invite(alice, "#vault", "carol")
    with pytest.raises(Banned):
        hub.join(carol, "#vault")


def test_invitation_dies_with_the_room_and_the_invitee():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    room = hub.join(alice, "#vault")
    hub.set_modes(alice, "#vault", modes("+i"))
    hub.invite(alice, "#vault", "bob")
    hub.part(alice, "#vault")
    assert room.invited == set() and not hub._invites.get(bob)
    room = hub.join(alice, "#vault")
    hub.set_modes(alice, "#vault", modes("+i"))
    with pytest.raises(InviteOnly):
        hub.join(bob, "#vault")
    hub.invite(alice, "#vault", "bob")
    hub.detach(bob, "gone")
    assert room.invited == set() and bob not in hub._invites


def test_invite_exception_mask_passes_invite_only():
    hub = make_hub()
    alice, = people(hub, "alice")
    (staff,) = people(hub, "staffer", host="staff.example")
    hub.join(alice, "#vault")
    hub.set_modes(alice, "#vault", modes("+iI", "*.example"))
    hub.join(staff, "#vault")


def test_key_is_needed_to_join():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    hub.join(alice, "#vault")
    hub.set_modes(alice, "#vault", modes("+k", "sesame"))
    with pytest.raises(BadKey, match="bad key for #vault"):
        hub.join(bob, "#vault")
    with pytest.raises(BadKey):
        hub.join(bob, "#vault", "SESAME")
    hub.join(bob, "#vault", "sesame")
    hub.set_modes(alice, "#vault", modes("-k"))
    assert hub.find_room("#vault").password is None


def test_limit_refuses_joins_beyond_it():
    hub = make_hub()
    alice, bob, carol = people(hub, "alice", "bob", "carol")
    hub.join(alice, "#small")
    hub.set_modes(alice, "#small", modes("+l", "2"))
    hub.join(bob, "#small")
    with pytest.raises(RoomFull, match="#small is full"):
        hub.join(carol, "#small")
    hub.set_modes(alice, "#small", modes("-l"))
    hub.join(carol, "#small")


def test_ban_refuses_join_and_exception_overrides_it():
    hub = make_hub()
    (alice,) = people(hub, "alice")
    (spammer, friend) = people(hub, "spammer", "friend", host="bad.example")
    hub.join(alice, "#rust")
    hub.set_modes(alice, "#rust", modes("+b", "*!*@*.EXAMPLE"))
    with pytest.raises(Banned, match="you are banned from #rust"):
        hub.join(spammer, "#rust")
    hub.set_modes(alice, "#rust", modes("+e", "friend"))
    hub.join(friend, "#rust")
    hub.set_modes(alice, "#rust", modes("-b", "*!*@*.example"))
    hub.join(spammer, "#rust")


def test_ban_on_the_default_room_applies_at_registration():
    hub = make_hub(opers={"root": "pw"})
    (boss,) = people(hub, "boss")
    hub.oper(boss, "root", "pw")
    hub.set_modes(boss, "#chat", modes("+b", "*!*@10.*"))
    banned = Person(host="10.1.2.3")
    hub.attach(banned, banned.address)
    hub.register(banned, "troll")
    assert banned.events == [Registered("troll"), Error("you are banned from #chat")]
    assert hub.rooms_of(banned) == []
    assert boss.take() == [ModesChanged("#chat", "boss", (ModeChange(True, "b", "*!*@10.*"),))]


def test_secret_room_is_hidden_from_outsiders():
    hub = make_hub(opers={"root": "pw"})
    alice, bob, boss = people(hub, "alice", "bob", "boss")
    hub.join(alice, "#hidden")
    hub.join(alice, "#open")
    hub.set_modes(alice, "#hidden", modes("+s"))
    assert [r.name for r in hub.visible_rooms(bob)] == ["#chat", "#open"]
    assert [r.name for r in hub.visible_rooms(alice)] == ["#chat", "#hidden", "#open"]
    for call in (lambda: hub.members("#hidden", bob), lambda: hub.find_room("#hidden", bob),
                 lambda: hub.set_topic(bob, "#hidden", "x"),
                 lambda: hub.kick(bob, "#hidden", "alice")):
        with pytest.raises(NoSuchRoom, match="no such room: #hidden"):
            call()
    hub.oper(boss, "root", "pw")
    assert [m.name for m in hub.members("#hidden", boss)] == ["alice"]
    hub.join(bob, "#hidden")  # knowing the name is enough to join
    assert [m.name for m in hub.members("#hidden", bob)] == ["alice", "bob"]


def test_members_report_status():
    hub = make_hub(opers={"root": "pw"})
    alice, bob = people(hub, "alice", "bob")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.set_modes(alice, "#rust", modes("+v", "bob"))
    hub.oper(bob, "root", "pw")
    (a, b) = hub.members("#rust")
    assert (a.name, a.operator, a.voiced, a.server_operator) == ("alice", True, False, False)
    assert (b.name, b.user, b.host, b.operator, b.voiced, b.server_operator) == (
        "bob", "bob", "test", False, True, True)


# -- modes -------------------------------------------------------------------


def test_mode_changes_are_announced_once_with_only_real_changes():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    room = hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    alice.take(), bob.take()
    applied = hub.set_modes(alice, "#rust", modes("+mnt-s+l", "10"))
    assert applied == (ModeChange(True, "m"), ModeChange(True, "l", "10"))
    assert alice.take() == bob.take() == [ModesChanged("#rust", "alice", applied)]
    assert hub.set_modes(alice, "#rust", modes("+m")) == ()
    assert alice.take() == []
    assert room.mode_string() == "+mntl 10"


def test_mode_changes_are_all_or_nothing():
    hub = make_hub()
    (alice,) = people(hub, "alice")
    room = hub.join(alice, "#rust")
    with pytest.raises(UserNotInRoom):
        hub.set_modes(alice, "#rust", modes("+mo", "nobody"))
    assert not room.moderated
    with pytest.raises(BadModeArgument, match="bad argument for \\+l on #rust"):
        hub.set_modes(alice, "#rust", modes("+l", "many"))
    with pytest.raises(BadModeArgument, match="a key is 1 to 32"):
        hub.set_modes(alice, "#rust", modes("+k", "x" * 33))
    with pytest.raises(BadModeArgument, match="not allowed in a mask"):
        hub.set_modes(alice, "#rust", modes("+b", "a\x01b"))


def test_operator_status_given_and_taken():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    room = hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    hub.set_modes(alice, "#rust", modes("+o", "bob"))
    hub.set_modes(bob, "#rust", modes("-o", "alice"))
    assert room.operators == {bob}
    with pytest.raises(NotOperator):
        hub.set_modes(alice, "#rust", modes("+o", "alice"))


def test_list_queries_change_nothing_and_need_no_rights():
    hub = make_hub()
    alice, bob = people(hub, "alice", "bob")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    assert hub.set_modes(bob, "#rust", modes("+b")) == ()


def test_ban_list_is_bounded_and_unique_ignoring_case():
    hub = make_hub()
    (alice,) = people(hub, "alice")
    room = hub.join(alice, "#rust")
    hub.set_modes(alice, "#rust", modes("+b", "Bob"))
    assert hub.set_modes(alice, "#rust", modes("+b", "bob!*@*")) == ()
    entry = next(iter(room.bans))
    assert (entry.mask, entry.by) == ("Bob!*@*", "alice")
    for n in range(99):
        hub.set_modes(alice, "#rust", modes("+b", f"spam{n}"))
    with pytest.raises(ListFull, match="the ban list of #rust is full"):
        hub.set_modes(alice, "#rust", modes("+b", "one-more"))


@pytest.mark.parametrize("short, full", [
    ("bob", "bob!*@*"),
    ("*@spam.example", "*!*@spam.example"),
    ("spam.example", "*!*@spam.example"),
    ("::1", "*!*@::1"),
    ("bob!b", "bob!b@*"),
    ("!@", "*!*@*"),
    ("a!b@c", "a!b@c"),
])
def test_normalize_mask(short, full):
    assert normalize_mask(short) == full


@pytest.mark.parametrize("bad", ["", "  ", "a b", "a,b", "x" * 200])
def test_bad_masks(bad):
    with pytest.raises(BadMask):
        normalize_mask(bad)


@pytest.mark.parametrize("mask, user, matches", [
    ("*!*@*", "alice!alice@host", True),
    ("ALICE!*@*", "alice!a@h", True),
    ("al?ce!*@*", "alice!a@h", True),
    ("al?ce!*@*", "allice!a@h", False),
    ("*!*@10.0.*", "x!y@10.0.0.1", True),
    ("*!*@10.0.*", "x!y@110.0.0.1", False),
    ("a.b!*@*", "aXb!y@h", False),
    ("[x]!*@*", "[X]!y@h", True),
    ("bob!*@*", "bobby!b@h", False),
])
def test_mask_matching_with_wildcards_and_case(mask, user, matches):
    assert Wildcard(fold(mask)).matches(fold(user)) is matches


def test_parse_modes():
    assert parse_modes("+im-k+l", ["*", "20"]) == [
        ModeChange(True, "i"), ModeChange(True, "m"), ModeChange(False, "k", "*"),
        ModeChange(True, "l", "20")]
    assert parse_modes("-k", ["old"]) == [ModeChange(False, "k", "old")]
    assert parse_modes("b") == [ModeChange(True, "b")]
    assert parse_modes("+ov", ["a", "b"]) == [ModeChange(True, "o", "a"),
                                             ModeChange(True, "v", "b")]
    with pytest.raises(UnknownMode, match="unknown mode: z"):
        parse_modes("+z")
    with pytest.raises(ModeNeedsArgument, match=r"mode \+k needs a key"):
        parse_modes("+k")
    with pytest.raises(ModeNeedsArgument, match=r"mode -o needs a name"):
        parse_modes("-o")
    assert mode_string(parse_modes("+im-k+lb", ["5", "x!*@*"])) == "+im-k+lb 5 x!*@*"


def test_kicked_hook_runs_after_the_kick_and_may_call_the_hub():
    hub = make_hub()

    class Returner(Person):
        def kicked(self, room: str) -> None:
            self.events.append(("hook", room, self in hub.find_room(room)))
            hub.join(self, "#chat")

    alice = people(hub, "alice")[0]
    bob = Returner()
    hub.attach(bob, bob.address)
    hub.register(bob, "bob")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust", leaving="#chat")
    bob.take()
    hub.kick(alice, "#rust", "bob", "out")
    assert bob.take() == [Exited("#rust", "out", "alice"), ("hook", "#rust", False),
                          Entered("#chat", 2, "")]
