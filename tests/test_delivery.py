"""The delivery seam: every event the hub emits leaves through C{hub.delivery}.

A recording delivery wraps the hub's L{LocalDelivery} for a whole scripted
session of line and IRC users and checks two things: the complete sequence
of what the hub emitted, to whom; and that the participants received exactly
that from the hub, so that nothing the hub emits goes around the seam.  That
is what lets history and a cluster bus wrap or replace the one object.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from support import LineUser, Net, Recorder, make_hub
from twisted.internet.task import Clock

from chatsvc.events import (
    Entered,
    Event,
    Exited,
    Invited,
    Joined,
    Kicked,
    Left,
    ModesChanged,
    Motd,
    Notice,
    PrivateMessage,
    Registered,
    Renamed,
    RoomMessage,
    Topic,
    TopicChanged,
)
from chatsvc.hub.delivery import Delivery, LocalDelivery
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.modes import ModeChange
from chatsvc.hub.participant import Participant
from chatsvc.hub.rooms import Room
from chatsvc.hub.settings import Settings

Sent = tuple[str, Event, tuple[str, ...]]


def _names(participants: Iterable[Participant]) -> tuple[str, ...]:
    return tuple(sorted(p.name or "?" for p in participants))


class RecordingDelivery:
    """A L{Delivery} that notes each call (shape, event, recipients' names), then
    passes it on: the shape of a history store or a bus publisher."""

    def __init__(self, inner: Delivery) -> None:
        self.inner = inner
        self.sent: list[Sent] = []
        #: Every event, in order, across L{take}s.
        self.events: list[Event] = []
        #: Each (recipient, event) the calls above asked for, to compare
        #: with what the participants received.
        self.owed: list[tuple[Participant, Event]] = []

    def to_room(self, room: Room, event: Event, *, exclude: Participant | None = None) -> None:
        audience = [member for member in room.everyone if member is not exclude]
        self._note("room", event, audience)
        self.inner.to_room(room, event, exclude=exclude)

    def to_user(self, participant: Participant, event: Event) -> None:
        self._note("user", event, [participant])
        self.inner.to_user(participant, event)

    def to_many(self, participants: Iterable[Participant], event: Event) -> None:
        participants = list(participants)
        self._note("many", event, participants)
        self.inner.to_many(participants, event)

    def _note(self, shape: str, event: Event, audience: list[Participant]) -> None:
        self.sent.append((shape, event, _names(audience)))
        self.events.append(event)
        self.owed.extend((participant, event) for participant in audience)

    def take(self) -> list[Sent]:
        sent, self.sent = self.sent, []
        return sent


class Received:
    """Every event handed to a set of participants' C{deliver}, and who called it.

    Wraps each participant's own C{deliver} (the real adapter still renders
    the event), noting whether the call came from the seam
    (L{chatsvc.hub.delivery}), from elsewhere in the hub (a bypass: what this
    test exists to catch), or from the adapter itself (its own replies, which
    are not hub events).
    """

    def __init__(self) -> None:
        self.from_seam: list[tuple[Participant, Event]] = []
        self.bypassed: list[tuple[str, Participant, Event]] = []

    def watch(self, participant: Participant) -> None:
        original = participant.deliver

        def deliver(event: Event) -> None:
            caller = sys._getframe(1).f_globals["__name__"]
            if caller == "chatsvc.hub.delivery":
                self.from_seam.append((participant, event))
            elif caller.startswith("chatsvc.hub"):
                self.bypassed.append((caller, participant, event))
            original(event)

        participant.deliver = deliver  # type: ignore[method-assign]


def test_a_whole_session_leaves_through_the_seam() -> None:
    """Register, join, say, whisper, rename, topic, mode, invite, kick, part
    and quit, by line and IRC users: the complete sequence the hub emitted,
    and exactly that reached the participants."""
    net = Net()
    hub = net.hub
    recording = RecordingDelivery(hub.delivery)
    hub.delivery = recording
    received = Received()

    def line(name: str) -> LineUser:
        user = net.line_user()
        received.watch(user.protocol)
        user.send(f"#{name}")
        return user

    def irc(nick: str) -> LineUser:
        user = net.irc_user()
        received.watch(user.protocol)
        user.send(f"NICK {nick}", f"USER {nick} 0 * :{nick.title()}")
        return user

    alice = line("alice")
    # (Events compare without their masks, so none are written here.)
    assert recording.take() == [
        ("user", Registered("alice"), ("alice",)),
        ("room", Joined("#chat", "alice"), ()),
    ]
    bob = irc("bob")
    assert recording.take() == [("user", Registered("bob"), ("bob",))]
    bob.send("JOIN #chat")
    assert recording.take() == [
        ("room", Joined("#chat", "bob"), ("alice",)),
        ("user", Entered("#chat", 2, ""), ("bob",)),
    ]
    carol = line("carol")
    assert recording.take() == [
        ("user", Registered("carol"), ("carol",)),
        ("room", Joined("#chat", "carol"), ("alice", "bob")),
    ]

    alice.send("hello all")
    bob.send("PRIVMSG alice :hi alice")
    carol.send("/me waves")
    assert recording.take() == [
        ("room", RoomMessage("#chat", "alice", "hello all"), ("bob", "carol")),
        ("user", PrivateMessage("bob", "alice", "hi alice"), ("alice",)),
        ("room", RoomMessage("#chat", "carol", "waves", True), ("alice", "bob")),
    ]

    bob.send("NICK robert")
    assert recording.take() == [
        ("user", Registered("robert"), ("robert",)),
        ("many", Renamed("bob", "robert"), ("alice", "carol")),
    ]

    # A room robert runs: created by his join, so he is its operator.
    bob.send("JOIN #rust")
    alice.send("/join #rust")
    assert recording.take() == [
        ("room", Joined("#rust", "robert"), ()),
        ("user", Entered("#rust", 1, ""), ("robert",)),
        ("room", Left("#chat", "alice", "", to="#rust"), ("carol", "robert")),
        ("room", Joined("#rust", "alice", came_from="#chat"), ("robert",)),
        ("user", Entered("#rust", 2, "", "#chat"), ("alice",)),
    ]
    bob.send("TOPIC #rust :all about rust", "MODE #rust +v alice", "INVITE carol #rust")
    assert recording.take() == [
        ("room", TopicChanged("#rust", "robert", "all about rust"),
         ("alice", "robert")),
        ("room", ModesChanged("#rust", "robert", (ModeChange(True, "v", "alice"),)),
         ("alice", "robert")),
        ("user", Invited("#rust", "robert", "carol"), ("carol",)),
    ]
    carol.send("/join #rust")
    bob.send("KICK #rust carol :not now")
    assert recording.take() == [
        ("room", Left("#chat", "carol", "", to="#rust"), ("robert",)),
        ("room", Joined("#rust", "carol", came_from="#chat"), ("alice", "robert")),
        ("user", Entered("#rust", 3, "all about rust", "#chat"), ("carol",)),
        ("room", Kicked("#rust", "carol", "robert", "not now"), ("alice", "robert")),
        ("user", Exited("#rust", "not now", "robert"), ("carol",)),
        # The line adapter's kicked hook takes carol home, through the hub.
        ("room", Joined("#chat", "carol"), ("robert",)),
        ("user", Entered("#chat", 2, ""), ("carol",)),
    ]

    bob.send("PART #rust :later")
    alice.send("/quit see you")
    alice.drop()  # the connection closes: the hub hears of it from the adapter
    assert recording.take() == [
        ("room", Left("#rust", "robert", "later"), ("alice",)),
        ("user", Exited("#rust", "later"), ("robert",)),
        # alice shares no room with anyone now: her quit has no audience.
        ("many", Left(None, "alice", "see you"), ()),
    ]
    bob.send("QUIT :gone")
    bob.drop()
    assert recording.take() == [
        ("many", Left(None, "robert", "Quit: gone"), ("carol",)),
    ]

    # The participants received exactly what passed through the seam, in
    # order, and nothing from the hub came any other way.
    assert received.bypassed == []
    assert _identities(received.from_seam) == _identities(recording.owed)
    # Every one carries its identity, in the order the hub emitted them.
    ids = [event.id for event in recording.events]
    assert None not in ids and ids == sorted(ids)  # type: ignore[type-var]
    del alice, carol


def _identities(pairs: list[tuple[Participant, Event]]) -> list[tuple[int, int]]:
    return [(id(participant), id(event)) for participant, event in pairs]


def test_a_refusal_and_the_motd_from_the_hub_go_through_the_seam() -> None:
    """The hub's own Error (a refused first join) and the MOTD too."""
    recording = RecordingDelivery(LocalDelivery())
    hub = ChatFactory(Settings(motd=["rules: be kind"]), clock=Clock(), delivery=recording)
    hub.default_room.invite_only = True
    hub.default_room.topic = "welcome"
    alice = Recorder()
    hub.attach(alice, alice.address)
    hub.register(alice, "alice")
    assert recording.take() == [
        ("user", Registered("alice"), ("alice",)),
        ("user", Motd(("rules: be kind",)), ("alice",)),
        ("user", _error_for(hub, alice), ("alice",)),
    ]
    assert alice.events == [Registered("alice"), Motd(("rules: be kind",)), _error_for(hub, alice)]
    hub.default_room.invite_only = False
    bob = Recorder()
    hub.attach(bob, bob.address)
    hub.register(bob, "bob")
    assert recording.take()[-1] == ("user", Topic("#chat", "welcome"), ("bob",))
    assert None not in [event.id for event in recording.events]


def test_the_last_refused_password_is_said_through_the_seam_with_an_id() -> None:
    """The hub's own farewell to a connection out of password attempts."""
    from chatsvc.events import Error
    from chatsvc.hub.errors import ChatError

    recording = RecordingDelivery(LocalDelivery())
    hub = ChatFactory(Settings(password="sesame"), clock=Clock(), delivery=recording)
    guesser = Recorder()
    hub.attach(guesser, guesser.address)
    for _ in range(10):
        if guesser.closed_for is not None:
            break
        try:
            hub.authenticate(guesser, "wrong")
        except ChatError:
            pass
    assert guesser.closed_for == "too many failed attempts"
    [(shape, event, audience)] = recording.take()
    assert (shape, audience) == ("user", ("?",)) and isinstance(event, Error)
    assert guesser.events == [event] and event.id is not None


def _error_for(hub: ChatFactory, participant: Participant) -> Event:
    from chatsvc.events import Error
    from chatsvc.hub.errors import InviteOnly

    return Error(str(InviteOnly(hub.default_room.name)))


class HoldingDelivery:
    """A delivery that replaces the local one: it keeps every event and
    delivers nothing, as a bus publisher that only delivers what comes back
    from the bus would."""

    def __init__(self) -> None:
        self.held: list[tuple[Event, tuple[str, ...]]] = []

    def to_room(self, room: Room, event: Event, *, exclude: Participant | None = None) -> None:
        self.held.append((event, _names(m for m in room.everyone if m is not exclude)))

    def to_user(self, participant: Participant, event: Event) -> None:
        self.held.append((event, _names([participant])))

    def to_many(self, participants: Iterable[Participant], event: Event) -> None:
        self.held.append((event, _names(participants)))


def test_a_replacing_delivery_is_the_only_way_events_reach_anyone() -> None:
    """With a delivery that delivers nothing, participants get nothing from the hub."""
    holding = HoldingDelivery()
    hub = ChatFactory(Settings(), clock=Clock(), delivery=holding)
    alice, bob = Recorder(), Recorder()
    for user, name in ((alice, "alice"), (bob, "bob")):
        hub.attach(user, user.address)
        hub.register(user, name)
    hub.say(alice, None, "hi")
    hub.whisper(bob, "alice", "psst")
    hub.detach(bob, "gone")
    assert alice.events == bob.events == []
    assert holding.held == [
        (Registered("alice"), ("alice",)),
        (Joined("#chat", "alice", mask="alice!alice@test"), ()),
        (Registered("bob"), ("bob",)),
        (Joined("#chat", "bob", mask="bob!bob@test"), ("alice",)),
        (RoomMessage("#chat", "alice", "hi", mask="alice!alice@test"), ("bob",)),
        (PrivateMessage("bob", "alice", "psst", mask="bob!bob@test"), ("alice",)),
        (Left(None, "bob", "gone", mask="bob!bob@test"), ("alice",)),
    ]


def test_local_delivery_to_a_room_skips_only_the_excluded_member() -> None:
    hub = make_hub()
    alice, bob, carol = Recorder(), Recorder(), Recorder()
    for user, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        hub.attach(user, user.address)
        hub.register(user, name)
    for user in (alice, bob, carol):
        user.events.clear()
    event = Notice("to the room")
    LocalDelivery().to_room(hub.default_room, event, exclude=bob)
    LocalDelivery().to_room(hub.default_room, Notice("to all"))
    assert alice.events == carol.events == [event, Notice("to all")]
    assert bob.events == [Notice("to all")]
    assert alice.events[0] is event  # one event shared by every recipient


def test_the_hub_uses_a_local_delivery_unless_given_one() -> None:
    assert isinstance(make_hub().delivery, LocalDelivery)
    holding = HoldingDelivery()
    assert ChatFactory(delivery=holding, clock=Clock()).delivery is holding


def test_a_private_message_carries_the_mask_mask_of_makes() -> None:
    """whisper builds the sender's mask inline (a hot spot): it must stay
    the one L{ChatFactory.mask_of} makes, for line and IRC senders alike."""
    net = Net()
    alice, bob = net.line_user("alice"), net.irc_user("bob")
    target = Recorder()
    net.hub.attach(target, target.address)
    net.hub.register(target, "target")
    for user in (alice, bob):
        net.hub.whisper(user.protocol, "target", "hi")
        got = target.events[-1]
        assert isinstance(got, PrivateMessage)
        assert got.mask == net.hub.mask_of(user.protocol)
    assert [e.mask for e in target.events[-2:]] == [
        "alice!alice@198.51.100.7", "bob!~bob@192.0.2.1"]
