"""A model-based test of registered rooms: random sequences of joins, parts,
logins, topic and mode changes, registrations, drops, operator-list changes,
account drops and restarts.

The invariants: what the database holds is, at every step, exactly the
registered rooms' state in memory (every change written through, nothing
left behind); a registered room exists, empty or not, and an unregistered
one only while it has members; the server's count of list entries matches
the rooms'; and a restart (a new hub over the same database) brings back
the same registered rooms, state for state.
"""

from __future__ import annotations

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from support import Recorder
from test_accounts import Server

from chatsvc.accounts import store as account_statements
from chatsvc.accounts.store import Summary
from chatsvc.hub import errors
from chatsvc.hub.modes import ModeChange
from chatsvc.hub.names import fold
from chatsvc.hub.registered import RoomState
from chatsvc.store import rooms as statements

ACCOUNTS = ["alice", "bob", "carol"]
NAMES = [*ACCOUNTS, "guest"]
ROOMS = ["#a", "#B", "#chat"]
MASKS = ["x!*@*", "*!*@spam.example", "bob!*@*"]
TOPICS = ["", "hello", "x'); DROP TABLE registered_room; --"]


def sort_key(state: RoomState) -> str:
    return fold(state.name)


class RegisteredRoomsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.server = Server()
        self.hub = self.server.hub
        for name in ACCOUNTS:
            account_statements.create(self.server.connection, name, "hash", 0.0)
            self.server.rules.known[fold(name)] = Summary(name, False, 0)
        self.people: dict[str, Recorder] = {}
        self.connect_everyone()

    def connect_everyone(self) -> None:
        self.people = {}
        for name in NAMES:
            person = Recorder(host="10.0.0.1")
            self.hub.attach(person, person.address)
            self.hub.register(person, name, autojoin=False)
            self.people[name] = person
            if name in ACCOUNTS:
                self.hub.log_in(person, name)

    def person(self, name: str) -> Recorder:
        return self.people[name]

    def attempt(self, call) -> None:  # noqa: ANN001 - any hub call
        """Run C{call}; a refusal is fine (the rules are tested elsewhere)."""
        try:
            result = call()
        except errors.ChatError:
            return
        if hasattr(result, "addErrback"):
            result.addErrback(lambda failure: failure.trap(errors.ChatError))

    # -- rules ---------------------------------------------------------------------

    @initialize()
    def start_registered(self) -> None:
        """Registered rooms from the start, so the rules have work to do."""
        for name, room in (("alice", "#a"), ("bob", "#B")):
            self.hub.join(self.person(name), room)
            self.server.registry.register(self.person(name), room)

    @rule(name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS),
          key=st.sampled_from([None, "k"]))
    def join(self, name: str, room: str, key: str | None) -> None:
        self.attempt(lambda: self.hub.join(self.person(name), room, key))

    @rule(name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS))
    def part(self, name: str, room: str) -> None:
        self.attempt(lambda: self.hub.part(self.person(name), room))

    @rule(name=st.sampled_from(ACCOUNTS))
    def log_in_or_out(self, name: str) -> None:
        person = self.person(name)
        if person.record.account is None:
            self.hub.log_in(person, name)
        else:
            self.hub.log_out(person)

    @rule(name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS), topic=st.sampled_from(TOPICS))
    def topic(self, name: str, room: str, topic: str) -> None:
        self.attempt(lambda: self.hub.set_topic(self.person(name), room, topic))

    @rule(name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS),
          change=st.one_of(
              st.builds(ModeChange, st.booleans(), st.sampled_from("imnstx")),
              st.builds(ModeChange, st.just(True), st.just("k"), st.sampled_from(["k", "k2"])),
              st.builds(ModeChange, st.just(False), st.just("k")),
              st.builds(ModeChange, st.just(True), st.just("l"), st.sampled_from(["1", "5"])),
              st.builds(ModeChange, st.just(False), st.just("l")),
              st.builds(ModeChange, st.booleans(), st.sampled_from("beI"),
                        st.sampled_from(MASKS)),
              st.builds(ModeChange, st.booleans(), st.sampled_from("ov"),
                        st.sampled_from(NAMES))))
    def mode(self, name: str, room: str, change: ModeChange) -> None:
        self.attempt(lambda: self.hub.set_modes(self.person(name), room, [change]))

    @rule(name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS))
    def register(self, name: str, room: str) -> None:
        self.attempt(lambda: self.server.registry.register(self.person(name), room))

    @rule(name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS))
    def drop(self, name: str, room: str) -> None:
        self.attempt(lambda: self.server.registry.drop(self.person(name), room))

    @rule(name=st.sampled_from(NAMES), room=st.sampled_from(ROOMS),
          account=st.sampled_from(ACCOUNTS), adding=st.booleans())
    def amode(self, name: str, room: str, account: str, adding: bool) -> None:
        self.attempt(lambda: self.server.registry.set_operator(
            self.person(name), room, account, adding))

    @rule(name=st.sampled_from(ACCOUNTS))
    def drop_account(self, name: str) -> None:
        """The account goes (its store statement and the registry's rule), and is
        registered again at once by someone else: who must inherit nothing."""
        account_statements.delete(self.server.connection, name)
        self.server.rules.known.pop(fold(name), None)
        self.server.registry.account_dropped(name)
        for person in self.people.values():
            if fold(person.record.account or "") == fold(name):
                self.hub.log_out(person)
        account_statements.create(self.server.connection, name, "hash", 0.0)
        self.server.rules.known[fold(name)] = Summary(name, False, 0)
        for state in statements.load(self.server.connection, 100):
            assert fold(state.founder) != fold(name)
            assert fold(name) not in {fold(op.account) for op in state.operators}

    @rule()
    def restart(self) -> None:
        before = self.in_memory()
        event(f"restart with {len(before)} registered room(s)")
        self.server = Server(self.server.connection)
        self.hub = self.server.hub
        after = self.in_memory()
        assert after == before
        for state in after:
            room = self.hub.room_named(state.name)
            assert room is not None and len(room) == 0
        self.connect_everyone()

    # -- invariants ----------------------------------------------------------------

    def in_memory(self) -> list[RoomState]:
        registry = self.server.registry
        states = []
        for room in self.hub.rooms.values():
            registration = registry.registration(room)
            if registration is not None:
                states.append(registry._state(room, registration))
        return sorted(states, key=sort_key)

    @invariant()
    def the_database_holds_what_memory_does(self) -> None:
        stored = sorted(statements.load(self.server.connection, 100), key=sort_key)
        memory = self.in_memory()
        assert [(s.name, s.founder, s.created, s.topic, s.topic_by, s.modes, s.key, s.limit,
                 sorted(s.entries, key=lambda e: (e.kind, e.mask)),
                 sorted(op.account for op in s.operators)) for s in stored] == [
            (s.name, s.founder, s.created, s.topic, s.topic_by, s.modes, s.key, s.limit,
             sorted(s.entries, key=lambda e: (e.kind, e.mask)),
             sorted(op.account for op in s.operators)) for s in memory]

    @invariant()
    def rooms_exist_while_registered_or_occupied(self) -> None:
        for room in self.hub.rooms.values():
            assert room.registered or len(room) or room is self.hub.default_room
            assert room.registered == (room.key in self.server.registry.registrations)
        for key in self.server.registry.registrations:
            assert key in self.hub.rooms

    @invariant()
    def list_entries_are_counted(self) -> None:
        assert self.hub.list_entries == sum(
            room.list_entries for room in self.hub.rooms.values())


RegisteredRoomsMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None)
test_registered_rooms_model = RegisteredRoomsMachine.TestCase
