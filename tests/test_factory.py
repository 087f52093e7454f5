"""The hub's routing rules, with bare recorder participants (no wire format)."""

import pytest
from support import Recorder, make_hub, who

from chatsvc.events import (
    Joined,
    Left,
    Motd,
    PrivateMessage,
    Registered,
    Renamed,
    RoomMessage,
)
from chatsvc.hub.errors import (
    BadNameError,
    EmptyMessage,
    NameTaken,
    NoSuchUser,
    NotRegistered,
    ServerFull,
)


def join(hub, *names):
    people = []
    for name in names:
        person = Recorder()
        hub.attach(person, person.address)
        hub.register(person, name)
        people.append(person)
    for person in people:
        person.events.clear()
    return people


def test_registration_announces_and_joins_default_room():
    hub = make_hub(motd=["hello", "be nice"])
    (alice,) = join(hub, "alice")
    bob = Recorder()
    hub.attach(bob, bob.address)
    hub.register(bob, "bob")
    # The MOTD is one event (issue 17); the line protocol still shows it
    # as one notice a line (test_line.test_motd_follows_registration).
    assert bob.events == [Registered("bob"), Motd(("hello", "be nice"))]
    assert alice.events == [Joined("#chat", "bob")]
    assert who(hub) == ("#chat", ["alice", "bob"])


def test_names_are_unique_ignoring_case():
    hub = make_hub()
    join(hub, "alice")
    intruder = Recorder()
    hub.attach(intruder, intruder.address)
    with pytest.raises(NameTaken, match="name taken: ALICE"):
        hub.register(intruder, "ALICE")
    assert intruder.name is None


def test_bad_name_is_refused_with_reason():
    hub = make_hub()
    person = Recorder()
    hub.attach(person, person.address)
    with pytest.raises(BadNameError, match="bad name: must not start"):
        hub.register(person, "9lives")


def test_broadcast_reaches_everyone_else_once():
    hub = make_hub()
    alice, bob, carol = join(hub, "alice", "bob", "carol")
    hub.say(alice, None, "hi")
    assert alice.events == []
    assert bob.events == carol.events == [RoomMessage("#chat", "alice", "hi")]


def test_unregistered_cannot_speak():
    hub = make_hub()
    (alice,) = join(hub, "alice")
    ghost = Recorder()
    hub.attach(ghost, ghost.address)
    with pytest.raises(NotRegistered):
        hub.say(ghost, None, "boo")
    with pytest.raises(NotRegistered):
        hub.whisper(ghost, "alice", "boo")
    assert alice.events == []


def test_private_message_reaches_only_its_target_with_canonical_names():
    hub = make_hub()
    alice, bob, carol = join(hub, "alice", "Bob", "carol")
    hub.whisper(alice, "BOB", "psst")
    assert bob.events == [PrivateMessage("alice", "Bob", "psst")]
    assert carol.events == [] and alice.events == []


def test_private_message_to_self_is_allowed():
    hub = make_hub()
    (alice,) = join(hub, "alice")
    hub.whisper(alice, "alice", "note to self")
    assert alice.events == [PrivateMessage("alice", "alice", "note to self")]


def test_private_message_errors():
    hub = make_hub()
    (alice,) = join(hub, "alice")
    with pytest.raises(NoSuchUser, match="no such user: bob"):
        hub.whisper(alice, "bob", "hi")
    with pytest.raises(EmptyMessage):
        hub.whisper(alice, "alice", "  ")
    with pytest.raises(EmptyMessage):
        hub.say(alice, None, "")


def test_rename_is_announced_once_and_frees_the_old_name():
    hub = make_hub()
    alice, bob = join(hub, "alice", "bob")
    hub.register(alice, "alicia")
    assert alice.events == [Registered("alicia")]
    assert bob.events == [Renamed("alice", "alicia")]
    hub.whisper(bob, "alicia", "found you")
    assert alice.events[-1] == PrivateMessage("bob", "alicia", "found you")
    newcomer = Recorder()
    hub.attach(newcomer, newcomer.address)
    hub.register(newcomer, "alice")
    assert who(hub)[1] == ["alice", "alicia", "bob"]


def test_rename_to_own_name_in_other_case():
    hub = make_hub()
    alice, bob = join(hub, "alice", "bob")
    hub.register(alice, "Alice")
    assert bob.events == [Renamed("alice", "Alice")]
    assert hub.users["alice"] is alice


def test_leaving_is_announced_and_frees_the_name():
    hub = make_hub()
    alice, bob = join(hub, "alice", "bob")
    hub.detach(alice, "quit")
    assert bob.events == [Left(None, "alice", "quit")]
    assert who(hub)[1] == ["bob"]
    assert "alice" not in hub.users and alice not in hub.connections
    hub.say(bob, None, "anyone?")
    assert alice.events == []


def test_detach_of_unregistered_is_silent():
    hub = make_hub()
    (alice,) = join(hub, "alice")
    ghost = Recorder()
    hub.attach(ghost, ghost.address)
    hub.detach(ghost, "gone")
    assert alice.events == [] and ghost not in hub.connections


def test_max_clients_counts_connections():
    hub = make_hub(max_clients=2)
    hub.attach(Recorder(), "test")
    hub.attach(Recorder(), "test")
    with pytest.raises(ServerFull, match="server full"):
        hub.attach(Recorder(), "test")
    assert len(hub.connections) == 2
    unlimited = make_hub(max_clients=0)
    for _ in range(50):
        unlimited.attach(Recorder(), "test")
    assert len(unlimited.connections) == 50


def test_broadcast_renders_once_per_wire_format():
    from chatsvc.protocols.line.wire import line_bytes

    hub = make_hub()
    alice, bob, carol = join(hub, "alice", "bob", "carol")
    hub.say(alice, None, "hi")
    assert bob.events[0] is carol.events[0]
    assert line_bytes(bob.events[0]) is line_bytes(carol.events[0])
