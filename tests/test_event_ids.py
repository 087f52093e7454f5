"""Events with identity: every event the hub emits has a unique, sortable id
and the server time it happened, and neither changes what an event equals."""

from __future__ import annotations

from support import Net, Recorder, make_hub
from test_delivery import RecordingDelivery

from chatsvc.events import (
    NODE_SHIFT,
    UNSTAMPED,
    Entered,
    Event,
    Exited,
    Joined,
    Kicked,
    Left,
    Notice,
    Registered,
    Renamed,
    RoomMessage,
    event_id,
    rendered,
    scrubbed,
    serials,
)
from chatsvc.hub.factory import ChatFactory


def _registered(hub: ChatFactory, *names: str) -> list[Recorder]:
    users = []
    for name in names:
        user = Recorder(host=f"{name}.test")
        hub.attach(user, user.address)
        hub.register(user, name)
        users.append(user)
    for user in users:
        user.events.clear()
    return users


def test_the_id_is_the_time_in_milliseconds_then_the_serial_in_hex() -> None:
    event = Notice("hi", stamp=(1_700_000_000.5, 42))
    assert event.id == "18bcfe569f4" + "000000000002a"  # 1,700,000,000,500 ms; 42
    assert (event.time, event.serial) == (1_700_000_000.5, 42)
    assert event_id(event.stamp) == event.id


def test_ids_sort_by_time_then_serial_as_strings() -> None:
    stamps = [(1.0, 900), (1.0005, 901), (2.0, 5), (2.0, 6), (70_000.0, 1), (1e10, 2)]
    ids = [event_id(stamp) for stamp in stamps]
    assert sorted(ids) == ids
    assert sorted(stamps) == stamps  # stamps sort as their ids do
    assert len({len(i) for i in ids}) == 1


def test_nodes_count_different_serials() -> None:
    """The serial's high bits are the node's number: two nodes stamping at
    the same millisecond never make the same id, and ids still sort by time."""
    one, two = serials(node=1), serials(node=2)
    first = [next(one) for _ in range(3)]
    assert first == [(1 << NODE_SHIFT) + 1, (1 << NODE_SHIFT) + 2, (1 << NODE_SHIFT) + 3]
    at_once = {event_id((5.0, next(one))), event_id((5.0, next(two)))}
    assert len(at_once) == 2
    assert event_id((5.0, next(two))) < event_id((5.001, next(one)))


def test_node_numbers_fit_the_id() -> None:
    import pytest

    for bad in (-1, 1 << (52 - NODE_SHIFT)):
        with pytest.raises(ValueError):
            serials(node=bad)
    highest = serials(node=(1 << (52 - NODE_SHIFT)) - 1)
    assert len(event_id((1e10, next(highest)))) == 24  # 2286


def test_the_stamp_takes_no_part_in_equality_hash_or_repr() -> None:
    plain = Joined("#rust", "alice", mask="alice!a@h")
    stamped = Joined("#rust", "alice", mask="alice!a@h", stamp=(12.5, 7))
    assert plain == stamped and hash(plain) == hash(stamped) and repr(plain) == repr(stamped)
    assert plain.stamp == UNSTAMPED and plain.id is None and plain.time == 0.0
    assert Joined("#rust", "bob", stamp=(12.5, 7)) != stamped


def test_rendering_stays_cached_per_wire_format_and_a_scrubbed_copy_keeps_the_id() -> None:
    event = RoomMessage("#rust", "alice", "hi\r\n", stamp=(3.0, 9))
    calls = []

    def render(e: Event) -> bytes:
        calls.append(e)
        return b"x"

    assert rendered(event, "line", render) == rendered(event, "line", render) == b"x"
    assert len(calls) == 1
    copy = scrubbed(event, lambda text: text.replace("\r\n", ""))
    assert copy.text == "hi" and copy.id == event.id and copy.wire == {}


def test_every_event_the_hub_emits_has_the_clock_time_and_a_new_serial() -> None:
    hub = make_hub()
    hub.clock.advance(1_700_000_000)
    recording = RecordingDelivery(hub.delivery)
    hub.delivery = recording
    alice, bob = _registered(hub, "alice", "bob")
    hub.clock.advance(1.5)
    hub.say(alice, None, "hello")
    hub.whisper(bob, "alice", "psst")
    hub.clock.advance(0.25)
    hub.join(bob, "#rust")
    hub.set_topic(bob, "#rust", "rust")
    hub.register(bob, "robert")
    hub.detach(bob, "gone")
    events = [event for _, event, _ in recording.sent]
    assert all(event.id is not None for event in events)
    assert [e.time for e in events if isinstance(e, RoomMessage)] == [1_700_000_001.5]
    assert {e.time for e in events[-5:]} == {1_700_000_001.75}
    serial_list = [event.serial for event in events]
    assert serial_list == sorted(serial_list)
    assert [e.id for e in events] == sorted(e.id for e in events)  # type: ignore[type-var]
    # What the participants received is the very event, stamp and all.
    assert alice.events[-1].id == events[-1].id


def test_the_two_views_of_one_change_share_its_id() -> None:
    """A join is one happening: the others' Joined and the joiner's Entered
    have one id (as IRC's msgid of a JOIN is the same for everyone); so do a
    part, a kick and a rename.  Different happenings have different ids."""
    hub = make_hub()
    alice, bob = _registered(hub, "alice", "bob")
    hub.join(alice, "#rust")
    hub.join(bob, "#rust")
    assert isinstance(alice.events[-1], Joined) and isinstance(bob.events[-1], Entered)
    assert alice.events[-1].id == bob.events[-1].id
    hub.kick(alice, "#rust", "bob", "out")
    assert isinstance(alice.events[-1], Kicked) and isinstance(bob.events[-1], Exited)
    assert alice.events[-1].id == bob.events[-1].id
    hub.register(bob, "robert")
    assert isinstance(alice.events[-1], Renamed) and isinstance(bob.events[-1], Registered)
    assert alice.events[-1].id == bob.events[-1].id
    hub.part(alice, "#rust")
    assert isinstance(alice.events[-1], Exited)
    ids = [e.id for e in alice.events + bob.events]
    assert len(set(ids)) == len(ids) - 3  # the three shared pairs, and nothing else


def test_time_never_goes_backwards_even_when_the_clock_does() -> None:
    """A clock stepped back (NTP, a resumed VM) would sort later events first;
    the hub holds the time where it was until the clock catches up."""
    hub = make_hub()
    hub.clock.advance(1000)
    alice, bob = _registered(hub, "alice", "bob")
    hub.say(alice, None, "before")
    hub.clock.rightNow = 990.0
    hub.say(alice, None, "after the step")
    hub.whisper(alice, "bob", "still after")
    hub.clock.rightNow = 1001.0
    hub.say(alice, None, "caught up")
    times = [event.time for event in bob.events]
    assert times == [1000.0, 1000.0, 1000.0, 1001.0]
    ids = [event.id for event in bob.events]
    assert ids == sorted(ids)  # type: ignore[type-var]


def test_ids_are_unique_across_the_hubs_of_one_process() -> None:
    one, two = make_hub(), make_hub()  # two fake clocks, both at 0
    (a1, b1), (a2, b2) = _registered(one, "alice", "bob"), _registered(two, "alice", "bob")
    one.say(a1, None, "hi")
    two.say(a2, None, "hi")
    assert b1.events == b2.events and b1.events[0].id != b2.events[0].id


def test_replies_adapters_make_themselves_carry_no_id() -> None:
    """The hub's events have ids; a line user's own /help text does not."""
    net = Net()
    recording = RecordingDelivery(net.hub.delivery)
    net.hub.delivery = recording
    user = net.line_user("alice")
    got: list[Event] = []
    original = user.protocol.deliver

    def deliver(event: Event) -> None:
        got.append(event)
        original(event)

    user.protocol.deliver = deliver  # type: ignore[method-assign]
    user.send("/help")
    assert got and all(isinstance(e, Notice) and e.id is None for e in got)
    assert all(event.id is not None for _, event, _ in recording.sent)
    assert Left(None, "x", "").id is None
