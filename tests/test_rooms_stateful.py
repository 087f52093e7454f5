"""A model-based test of the hub's rooms: random sequences of everything.

Hypothesis drives users through connecting, renaming, quitting, joining,
moving, parting, kicking, inviting, becoming server operators and changing
every rule, against a small independent model of what the hub should do.
The central invariant: a room message reaches exactly the members allowed to
receive it (every member but the sender, once, if the sender may speak
there; nobody otherwise).  Along the way it also checks that every refusal
is the expected one, that rooms exist exactly while they have members (the
default room always), that renames and quits are announced once to each
neighbour, and that memberships and status match the model after each step.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from support import Recorder
from twisted.internet.task import Clock

from chatsvc.conn.limits import FORGET_FAILURES
from chatsvc.events import (
    Event,
    Exited,
    Joined,
    Kicked,
    Left,
    ModesChanged,
    Renamed,
    RoomMessage,
)
from chatsvc.hub import errors
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.modes import ModeChange
from chatsvc.hub.settings import Settings

NAMES = ["alice", "Alice", "bob", "carol", "b0b"]
HOSTS = ["10.0.0.1", "10.0.0.2", "spam.example"]
ROOMS = ["#chat", "#a", "#A", "#b"]
KEYS = [None, "k1", "k2"]
MASKS = ["alice!*@*", "ALICE!*@*", "b?b!*@*", "*!*@10.0.0.*", "*!*@spam.example", "*!*@*"]
FLAGS = "imnst"
DEFAULT = "#chat"
MAX_ROOMS = 3


#: A bare participant that records what the hub delivers to it.
Person = Recorder


@dataclass
class ModelRoom:
    name: str
    members: set[Person] = field(default_factory=set)
    ops: set[Person] = field(default_factory=set)
    voiced: set[Person] = field(default_factory=set)
    invited: set[Person] = field(default_factory=set)
    flags: set[str] = field(default_factory=lambda: {"n", "t"})
    key: str | None = None
    limit: int | None = None
    lists: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"b": {}, "e": {}, "I": {}})


def wildcard(pattern: str, text: str) -> bool:
    """Glob matching with * and ?, written independently of chatsvc.hub.masks."""
    if not pattern:
        return not text
    if pattern[0] == "*":
        return any(wildcard(pattern[1:], text[i:]) for i in range(len(text) + 1))
    return bool(text) and pattern[0] in ("?", text[0]) and wildcard(pattern[1:], text[1:])


class RoomsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.hub = ChatFactory(Settings(room=DEFAULT, max_rooms=MAX_ROOMS, connect_rate=0,
                                        opers={"root": "pw"}), clock=Clock())
        self.people: list[Person] = []  # connected and registered
        self.opers: set[Person] = set()
        self.rooms: dict[str, ModelRoom] = {DEFAULT: ModelRoom(DEFAULT, flags={"n", "t"})}
        self.texts = itertools.count()

    # -- model helpers ---------------------------------------------------------

    def mask(self, person: Person) -> str:
        return f"{person.name}!{person.name}@{person.host}".lower()

    def listed(self, room: ModelRoom, mode: str, person: Person) -> bool:
        return any(wildcard(mask, self.mask(person)) for mask in room.lists[mode])

    def banned(self, room: ModelRoom, person: Person) -> bool:
        return self.listed(room, "b", person) and not self.listed(room, "e", person)

    def visible(self, room: ModelRoom | None, person: Person) -> bool:
        return room is not None and (
            "s" not in room.flags or person in room.members or person in self.opers)

    def is_op(self, room: ModelRoom, person: Person) -> bool:
        return person in room.ops or person in self.opers

    def rooms_of(self, person: Person) -> list[ModelRoom]:
        return [room for room in self.rooms.values() if person in room.members]

    def entry_refusal(self, room: ModelRoom, person: Person, key: str | None):
        invited = person in room.invited
        if self.banned(room, person):
            return errors.Banned
        if "i" in room.flags and not invited and not self.listed(room, "I", person):
            return errors.InviteOnly
        if invited:
            return None
        if room.key is not None and key != room.key:
            return errors.BadKey
        if room.limit is not None and len(room.members) >= room.limit:
            return errors.RoomFull
        return None

    def remove(self, room: ModelRoom, person: Person) -> None:
        room.members.discard(person)
        room.ops.discard(person)
        room.voiced.discard(person)
        if not room.members and room.name != DEFAULT:
            del self.rooms[room.name]

    def neighbours(self, person: Person) -> set[Person]:
        out: set[Person] = set()
        for room in self.rooms_of(person):
            out |= room.members
        out.discard(person)
        return out

    def attempt(self, expected, call) -> bool:
        """Run C{call}; it must fail with C{expected}, or succeed if that is C{None}."""
        try:
            call()
        except errors.ChatError as refusal:
            assert expected is not None, f"unexpected refusal: {refusal!r}"
            assert type(refusal) is expected, f"{refusal!r}, expected {expected.__name__}"
            return False
        assert expected is None, f"expected {expected.__name__}, but it was allowed"
        return True

    def inbox(self, person: Person, kind: type) -> list[Event]:
        return [event for event in person.events if isinstance(event, kind)]

    def clear(self) -> None:
        for person in self.people:
            person.events.clear()

    def pick(self, data: st.DataObject, label: str, room: ModelRoom | None = None) -> Person:
        """Anyone; with C{room}, mostly one of its members (where rules bite)."""
        if room is not None and room.members and data.draw(st.integers(0, 3), label="bias"):
            return data.draw(st.sampled_from(sorted(room.members, key=self.people.index)),
                             label=label)
        return data.draw(st.sampled_from(self.people), label=label)

    # -- rules -------------------------------------------------------------------

    @initialize(hosts=st.permutations(HOSTS), flags=st.sets(st.sampled_from(FLAGS)),
                masks=st.lists(st.tuples(st.sampled_from("beI"), st.sampled_from(MASKS)),
                               max_size=3),
                voiced=st.booleans())
    def populate(self, hosts: list[str], flags: set[str], masks, voiced: bool) -> None:
        """Start with people sharing a room under some rules, so the rules have work to do."""
        for name, host in zip(("alice", "bob", "carol"), hosts, strict=True):
            self.connect(name, host)
        alice, bob, carol = self.people
        for person in (alice, bob, carol):
            self.join_as(person, "#a")
        changes = [ModeChange(letter in flags, letter) for letter in FLAGS]
        changes += [ModeChange(True, letter, mask) for letter, mask in masks]
        changes += [ModeChange(True, "v", "bob")] if voiced else []
        room = self.find("#a")
        for change in changes:
            self.apply(room, change.adding, change.mode, change.argument, bob)
        self.hub.set_modes(alice, "#a", changes)
        self.clear()

    def join_as(self, person: Person, room_name: str) -> None:
        room = self.find(room_name)
        self.hub.join(person, room_name, room.key if room else None)
        if room is None:
            room = self.rooms[room_name] = ModelRoom(room_name, ops={person})
        room.members.add(person)
        self.clear()

    @rule(name=st.sampled_from(NAMES), host=st.sampled_from(HOSTS))
    def connect(self, name: str, host: str) -> None:
        person = Person(host=host)
        self.hub.attach(person, person.address)
        taken = any(p.name.lower() == name.lower() for p in self.people)
        expected = errors.NameTaken if taken else None
        if not self.attempt(expected, lambda: self.hub.register(person, name)):
            self.hub.detach(person, "gave up")
            return
        self.people.append(person)
        room = self.rooms[DEFAULT]
        if self.entry_refusal(room, person, None) is None:
            room.members.add(person)
            room.invited.discard(person)
        self.clear()

    @precondition(lambda self: self.people)
    @rule(data=st.data(), name=st.sampled_from(NAMES))
    def rename(self, data: st.DataObject, name: str) -> None:
        person = self.pick(data, "who")
        old = person.name
        taken = any(p is not person and p.name.lower() == name.lower() for p in self.people)
        audience = self.neighbours(person)
        if self.attempt(errors.NameTaken if taken else None,
                        lambda: self.hub.register(person, name)) and old != name:
            for other in self.people:
                expected = [Renamed(old, name)] if other in audience else []
                assert self.inbox(other, Renamed) == expected, other.name
        self.clear()

    @precondition(lambda self: self.people)
    @rule(data=st.data())
    def quit(self, data: st.DataObject) -> None:
        person = self.pick(data, "who")
        audience = self.neighbours(person)
        self.hub.detach(person, "bye")
        self.people.remove(person)
        self.opers.discard(person)
        for room in list(self.rooms.values()):
            room.invited.discard(person)
            if person in room.members:
                self.remove(room, person)
        for other in self.people:
            expected = [Left(None, person.name, "bye")] if other in audience else []
            assert self.inbox(other, Left) == expected
        self.clear()

    @precondition(lambda self: self.people)
    @rule(data=st.data(), room_name=st.sampled_from(ROOMS), key=st.sampled_from(KEYS),
          move=st.booleans())
    def join(self, data: st.DataObject, room_name: str, key: str | None, move: bool) -> None:
        person = self.pick(data, "who")
        folded = room_name.lower()
        room = next((r for n, r in self.rooms.items() if n.lower() == folded), None)
        current = self.rooms_of(person)
        leaving = current[0] if move and current else None
        if room is not None and person in room.members:
            expected = errors.AlreadyInRoom
        elif leaving is None and len(current) >= MAX_ROOMS:
            expected = errors.TooManyRooms
        elif room is None:
            expected = None
        else:
            expected = self.entry_refusal(room, person, key)
        event(f"join: {expected.__name__ if expected else 'allowed'}")
        others = set(room.members) if room is not None else set()
        old_others = (leaving.members - {person}) if leaving is not None else set()
        joined = self.attempt(expected, lambda: self.hub.join(
            person, room_name, key, leaving=leaving.name if leaving else None))
        if joined:
            if leaving is not None:
                self.remove(leaving, person)
            if room is None:
                room = self.rooms[room_name] = ModelRoom(room_name, ops={person})
            room.members.add(person)
            room.invited.discard(person)
            for other in self.people:
                assert len(self.inbox(other, Joined)) == (other in others)
                assert len(self.inbox(other, Left)) == (other in old_others)
        self.clear()

    @precondition(lambda self: self.people)
    @rule(data=st.data(), room_name=st.sampled_from(ROOMS))
    def part(self, data: st.DataObject, room_name: str) -> None:
        person = self.pick(data, "who")
        room = self.find(room_name)
        if not self.visible(room, person):
            expected = errors.NoSuchRoom
        elif person not in room.members:
            expected = errors.NotInRoom
        else:
            expected = None
        if self.attempt(expected, lambda: self.hub.part(person, room_name)):
            others = room.members - {person}
            self.remove(room, person)
            for other in self.people:
                assert len(self.inbox(other, Left)) == (other in others)
            assert self.inbox(person, Exited) == [Exited(room.name, "")]
        self.clear()

    @precondition(lambda self: self.people)
    @rule(data=st.data(), room_name=st.sampled_from(ROOMS))
    def kick(self, data: st.DataObject, room_name: str) -> None:
        room = self.find(room_name)
        actor, target = self.pick(data, "actor", room), self.pick(data, "target", room)
        if not self.visible(room, actor):
            expected = errors.NoSuchRoom
        elif not self.is_op(room, actor):
            expected = errors.NotOperator
        elif target not in room.members:
            expected = errors.UserNotInRoom
        else:
            expected = None
        event(f"kick: {expected.__name__ if expected else 'allowed'}")
        if self.attempt(expected, lambda: self.hub.kick(actor, room_name, target.name, "out")):
            self.remove(room, target)
            for other in self.people:
                assert len(self.inbox(other, Kicked)) == (other in room.members)
            assert self.inbox(target, Exited) == [Exited(room.name, "out", actor.name)]
        self.clear()

    @precondition(lambda self: self.people)
    @rule(data=st.data(), room_name=st.sampled_from(ROOMS))
    def invite(self, data: st.DataObject, room_name: str) -> None:
        room = self.find(room_name)
        actor, target = self.pick(data, "actor", room), self.pick(data, "target")
        if not self.visible(room, actor):
            expected = errors.NoSuchRoom
        elif actor not in room.members and actor not in self.opers:
            expected = errors.NotInRoom
        elif "i" in room.flags and not self.is_op(room, actor):
            expected = errors.NotOperator
        elif target in room.members:
            expected = errors.UserAlreadyInRoom
        else:
            expected = None
        if self.attempt(expected, lambda: self.hub.invite(actor, room_name, target.name)):
            room.invited.add(target)
        self.clear()

    @precondition(lambda self: self.people)
    @rule(data=st.data(), good=st.booleans())
    def oper(self, data: st.DataObject, good: bool) -> None:
        person = self.pick(data, "who")
        expected = None if good else errors.BadOperLogin
        # Wrong passwords back off (tests/test_guessing.py); this model has
        # no back-off, so let the last attempt be forgotten first.
        self.hub.clock.advance(FORGET_FAILURES)
        if self.attempt(expected, lambda: self.hub.oper(person, "root", "pw" if good else "x")):
            self.opers.add(person)

    @precondition(lambda self: self.people)
    @rule(data=st.data(), room_name=st.sampled_from(ROOMS), change=st.one_of(
        st.tuples(st.booleans(), st.sampled_from(FLAGS), st.none()),
        st.tuples(st.booleans(), st.just("k"), st.sampled_from(["k1", "k2"])),
        st.tuples(st.booleans(), st.just("l"), st.sampled_from(["1", "2", "3"])),
    ))
    def set_rule(self, data: st.DataObject, room_name: str, change) -> None:
        self.mode(data, room_name, change)

    @precondition(lambda self: self.people)
    @rule(data=st.data(), room_name=st.sampled_from(ROOMS), change=st.tuples(
        st.booleans(), st.sampled_from("beI"), st.sampled_from(MASKS)))
    def set_mask(self, data: st.DataObject, room_name: str, change) -> None:
        self.mode(data, room_name, change)

    @precondition(lambda self: self.people)
    @rule(data=st.data(), room_name=st.sampled_from(ROOMS), change=st.tuples(
        st.booleans(), st.sampled_from("ov"), st.sampled_from(NAMES)))
    def set_status(self, data: st.DataObject, room_name: str, change) -> None:
        self.mode(data, room_name, change)

    def mode(self, data: st.DataObject, room_name: str, change) -> None:
        room = self.find(room_name)
        actor = self.pick(data, "actor", room)
        adding, letter, argument = change
        target = next((p for p in self.people if argument and p.name.lower() == argument.lower()),
                      None)
        if not self.visible(room, actor):
            expected = errors.NoSuchRoom
        elif not self.is_op(room, actor):
            expected = errors.NotOperator
        elif letter in "ov" and target not in room.members:
            expected = errors.UserNotInRoom
        else:
            expected = None
        members = set(room.members) if room else set()
        event(f"mode: {expected.__name__ if expected else 'allowed'}")
        if self.attempt(expected, lambda: self.hub.set_modes(
                actor, room_name, [ModeChange(adding, letter, argument)])):
            changed = self.apply(room, adding, letter, argument, target)
            for other in self.people:
                assert len(self.inbox(other, ModesChanged)) == (changed and other in members)
        self.clear()

    def apply(self, room: ModelRoom, adding: bool, letter: str, argument, target) -> bool:
        if letter in FLAGS:
            before = letter in room.flags
            (room.flags.add if adding else room.flags.discard)(letter)
            return before != adding
        if letter == "k":
            new = argument if adding else None
            changed, room.key = room.key != new, new
            return changed
        if letter == "l":
            new = int(argument) if adding else None
            changed, room.limit = room.limit != new, new
            return changed
        if letter in "beI":
            entries = room.lists[letter]
            present = argument.lower() in entries
            if adding:
                entries.setdefault(argument.lower(), argument)
            else:
                entries.pop(argument.lower(), None)
            return present != adding
        holders = room.ops if letter == "o" else room.voiced
        before = target in holders
        (holders.add if adding else holders.discard)(target)
        return before != adding

    def say(self, sender: Person, room_name: str) -> None:
        """C{sender} speaks in C{room_name}: exactly the allowed members hear it."""
        room = self.find(room_name)
        if not self.visible(room, sender):
            expected = errors.NoSuchRoom
        elif "n" in room.flags and sender not in room.members:
            expected = errors.CannotSpeak
        elif sender in room.ops or sender in room.voiced:
            expected = None
        elif "m" in room.flags or self.banned(room, sender):
            expected = errors.CannotSpeak
        else:
            expected = None
        if room is not None and room.members and len(room.members) > 1:
            event(f"say: {expected.__name__ if expected else 'allowed'}"
                  f"{' (moderated)' if 'm' in room.flags else ''}"
                  f"{' (bans)' if room.lists['b'] else ''}")
        text = f"message {next(self.texts)}"
        self.attempt(expected, lambda: self.hub.say(sender, room_name, text))
        allowed = (room.members - {sender}) if expected is None else set()
        for person in self.people:
            got = [e for e in person.events if isinstance(e, RoomMessage) and e.text == text]
            assert got == ([RoomMessage(room.name, sender.name, text)] if person in allowed
                           else []), (person.name, sender.name, room_name)
            person.events.clear()

    @precondition(lambda self: self.people)
    @rule(data=st.data(), room_name=st.sampled_from(ROOMS))
    def someone_speaks(self, data: st.DataObject, room_name: str) -> None:
        self.say(self.pick(data, "sender", self.find(room_name)), room_name)

    @invariant()
    def a_message_reaches_exactly_the_members_allowed_to_receive_it(self) -> None:
        for sender in self.people:
            for room_name in ROOMS:
                self.say(sender, room_name)

    def find(self, room_name: str) -> ModelRoom | None:
        return next((r for n, r in self.rooms.items() if n.lower() == room_name.lower()), None)

    # -- invariants ----------------------------------------------------------------

    @invariant()
    def rooms_match_the_model(self) -> None:
        assert sorted(self.hub.rooms) == sorted(name.lower() for name in self.rooms)
        for name, model in self.rooms.items():
            room = self.hub.find_room(name)
            assert set(room.everyone) == model.members
            assert room.operators == model.ops and room.voiced == model.voiced
            assert room.invited == model.invited
            assert (room.password, room.limit) == (model.key, model.limit)
            assert {letter for letter in FLAGS if letter in room.mode_string().split()[0]} \
                == model.flags
            assert {entry.mask.lower() for entry in room.bans} == set(model.lists["b"])
        for person in self.people:
            assert {r.key for r in self.hub.rooms_of(person)} == {
                r.name.lower() for r in self.rooms_of(person)}
        assert self.hub.opers == self.opers


TestRooms = RoomsMachine.TestCase
TestRooms.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
