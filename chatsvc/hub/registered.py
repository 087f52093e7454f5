"""Registered rooms: a room kept, with its rules, when it empties and across restarts.

A room's operator who is logged in to an account may register it (the line
protocol's C{/register #rust}, IRC's C{PRIVMSG ChanServ :REGISTER #rust});
that account is its I{founder}.  From then on, until the founder or a server
operator drops the registration:

  - the room is not deleted when its last member leaves: it stays, empty,
    with its topic, rules (C{+imnstx}), key, limit and its ban, exception
    and invitation lists, and the server loads it again at start;
  - every change to those is written through to the store (L{RoomStore})
    as it happens, off the reactor: the operator who made it waits for
    nothing;
  - operator status goes by account: the founder and the accounts on the
    room's operator list (IRC's C{ChanServ AMODE #rust +o bob}, ergo's
    notation) get it from C{ChanServ} on joining (or logging in while
    there: L{joined} is called then too), and pass its ban, key,
    invitation and limit, but only when logged in to that account: someone
    who merely took the name gets nothing.  Operator status given by hand
    (C{/op}, C{MODE +o}) lasts while the member stays, as in any room.

An unregistered room behaves as before.  The rules are here, in the hub,
so that every protocol's command is the same operation; the statements
are L{chatsvc.store.rooms}'s, run on the history store's thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.events import ModesChanged
from chatsvc.hub.errors import (
    ChatError,
    NoAccounts,
    NoSuchAccount,
    NoSuchRoom,
    NotFounder,
    NotInRoom,
    NotOperator,
    NotRegistered,
    RoomNeedsLogin,
    RoomNotRegistered,
    RoomRegistered,
    RoomsUnavailable,
    TooManyRegisteredRooms,
    TooManyRoomOperators,
)
from chatsvc.hub.modes import FLAG_MODES, LIST_MODES, STATUS_MODES, ModeChange
from chatsvc.hub.names import fold
from chatsvc.hub.participant import Participant
from chatsvc.hub.rooms import MAX_LIST_ENTRIES, MAX_SERVER_LIST_ENTRIES, Room

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory

#: Registered rooms a server holds, at most: all are loaded at start (each
#: with its lists: at most C{MAX_LIST_ENTRIES} entries and
#: L{MAX_ROOM_OPERATORS} accounts), and registering past it is refused.
MAX_REGISTERED_ROOMS = 1_000
#: Rooms one account may have founded (server operators are not limited).
MAX_ROOMS_PER_ACCOUNT = 10
#: Accounts on one room's operator list, besides its founder.
MAX_ROOM_OPERATORS = 50

#: The service that speaks for registered rooms: it gives operator status
#: on joining (a C{MODE +o} from C{ChanServ} on IRC) and answers IRC's
#: C{PRIVMSG ChanServ} (L{chatsvc.protocols.irc.chanserv}).
CHANSERV = "ChanServ"
CHANSERV_MASK = "ChanServ!ChanServ@services.chatsvc"


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One entry of a registered room's C{+b}, C{+e} or C{+I} list (C{kind})."""

    kind: str
    mask: str
    by: str
    at: float


@dataclass(frozen=True, slots=True)
class OperatorAccount:
    """An account on a registered room's operator list: who put it there, when."""

    account: str
    by: str
    at: float


@dataclass(frozen=True, slots=True)
class RoomState:
    """A registered room as the store keeps it: what survives a restart.

    C{modes} are the letters of L{chatsvc.hub.modes.FLAG_MODES} that are on;
    C{key} and C{limit} are C{+k} and C{+l}, C{None} when unset; C{created}
    is the room's creation time (the one its secret history is kept under,
    L{chatsvc.store.sqlite}), C{registered} when it was registered.
    Immutable: taken on the reactor thread, written on the store's.
    """

    name: str
    founder: str
    registered: float
    created: float
    topic: str = ""
    topic_by: str = ""
    topic_at: float = 0.0
    modes: str = "nt"
    key: str | None = None
    limit: int | None = None
    entries: tuple[ListEntry, ...] = ()
    operators: tuple[OperatorAccount, ...] = ()


class RoomStore(Protocol):
    """What the registry needs of the store (L{chatsvc.store.rooms.RoomStore})."""

    def load_now(self, limit: int) -> list[RoomState]:
        """Up to C{limit} registered rooms, oldest registration first; blocking."""

    def add(self, state: RoomState) -> Deferred[bool]:
        """Keep a new registration; C{False} if the room is registered already."""

    def save(self, state: RoomState, lists: bool) -> Deferred[None]:
        """Write a registered room's settings (and, with C{lists}, its lists)."""

    def remove(self, name: str) -> Deferred[bool]:
        """Forget a registration and its lists."""


@dataclass
class Registration:
    """The registry's record of one registered room, beside its L{Room}."""

    founder: str
    registered: float
    #: The operator list, by folded account name.
    operators: dict[str, OperatorAccount] = field(default_factory=dict)

    def names_operator(self, account: str) -> bool:
        """Whether C{account} is the founder or on the operator list."""
        key = fold(account)
        return key == fold(self.founder) or key in self.operators


class RoomRegistry:
    """The registered rooms of one hub (C{hub.registry}), over a L{RoomStore}.

    Loads every registered room at once (at most C{limit}), so that each
    exists, empty, from the start: C{/rooms} and IRC's C{LIST} show it, and
    its state is there when someone joins.
    """

    log = Logger()

    def __init__(self, hub: ChatFactory, store: RoomStore, *,
                 limit: int = MAX_REGISTERED_ROOMS,
                 per_account: int = MAX_ROOMS_PER_ACCOUNT,
                 operators: int = MAX_ROOM_OPERATORS) -> None:
        self.hub = hub
        self.store = store
        self.limit = limit
        self.per_account = per_account
        self.max_operators = operators
        #: Registrations by the room's folded name.
        self.registrations: dict[str, Registration] = {}
        for state in store.load_now(limit):
            self._restore(state)
        self._forget_orphans()
        if self.registrations:
            self.log.info("{count} registered room(s) loaded", count=len(self.registrations))
        hub.registry = self

    # -- start-up -------------------------------------------------------------

    def _restore(self, state: RoomState) -> None:
        hub = self.hub
        room = hub.rooms.get(fold(state.name))  # the default room exists already
        if room is None:
            room = Room(state.name, state.created)
        else:
            room.created = state.created
        room.topic, room.topic_by, room.topic_at = state.topic, state.topic_by, state.topic_at
        for letter, attr in FLAG_MODES.items():
            setattr(room, attr, letter in state.modes)
        room.password = state.key
        room.limit = state.limit
        # The hub's limits hold for what is loaded too: a room's, and the
        # server's (1,000 full rooms would be twice MAX_SERVER_LIST_ENTRIES).
        budget = min(MAX_LIST_ENTRIES, MAX_SERVER_LIST_ENTRIES - hub.list_entries)
        for entry in state.entries[:max(budget, 0)]:
            lists = LIST_MODES.get(entry.kind)
            if lists is not None:
                getattr(room, lists).add(entry.mask, entry.by, entry.at)
        if len(state.entries) > budget:
            self.log.warn("{room}: {count} ban, exception or invitation entries not loaded "
                          "(the server holds {limit} at most)", room=state.name,
                          count=len(state.entries) - max(budget, 0),
                          limit=MAX_SERVER_LIST_ENTRIES)
        room.registered = True
        operators = {fold(op.account): op for op in state.operators[:self.max_operators]}
        self.registrations[room.key] = Registration(state.founder, state.registered, operators)
        hub.restore_room(room)

    def _forget_orphans(self) -> None:
        """Accounts deleted while the server was down (C{chatsvc-admin account
        delete}) take their rooms and places on operator lists with them, as
        L{account_dropped} does while it runs."""
        accounts = self.hub.accounts
        if accounts is None:
            return
        for room in list(self.hub.rooms.values()):
            registration = self.registration(room)
            if registration is None:
                continue
            if fold(registration.founder) not in accounts.known:
                self.account_dropped(registration.founder)
                continue
            gone = [key for key in registration.operators if key not in accounts.known]
            for key in gone:
                del registration.operators[key]
            if gone:
                self.changed(room, lists=True)

    # -- queries ----------------------------------------------------------------

    def registration(self, room: Room) -> Registration | None:
        """C{room}'s registration, or C{None} if it is not registered."""
        return self.registrations.get(room.key) if room.registered else None

    def is_account_operator(self, participant: Participant, room: Room) -> bool:
        """Whether C{participant} is logged in to C{room}'s founder or to an
        account on its operator list."""
        registration = self.registration(room)
        account = participant.record.account
        return (registration is not None and account is not None
                and registration.names_operator(account))

    def founded_by(self, account: str) -> list[str]:
        """The rooms C{account} founded, by name."""
        key = fold(account)
        return sorted((room.name for room in self.hub.rooms.values()
                       if (registration := self.registration(room)) is not None
                       and fold(registration.founder) == key), key=fold)

    def info(self, viewer: Participant, room_name: str) -> tuple[Room, Registration]:
        """A registered room and its registration, for C{/roominfo} and C{ChanServ INFO}."""
        return self._registered(viewer, room_name)

    # -- operations -------------------------------------------------------------

    def register(self, participant: Participant, room_name: str) -> Deferred[str]:
        """Register C{room_name} for the account C{participant} is logged in to;
        the Deferred fires with the room's name once the store has it.

        Refused at once: on a server without accounts, for a room the
        participant cannot see, a room registered already, a participant
        not logged in or not the room's operator, and past the limits.  The
        room is registered (it stays when it empties) from this call on;
        if the store fails, it is not, and the Deferred fails with
        L{RoomsUnavailable}.
        """
        hub = self.hub
        if participant.name is None:
            raise NotRegistered()
        if hub.accounts is None:
            raise NoAccounts()
        room = hub.find_room(room_name, participant)
        if room.registered:
            raise RoomRegistered(room.name)
        account = participant.record.account
        if account is None:
            raise RoomNeedsLogin()
        if not hub.is_operator(participant, room):
            raise NotOperator(room.name)
        if len(self.registrations) >= self.limit:
            raise TooManyRegisteredRooms(room.name, self.limit, "server")
        if (not hub.is_server_operator(participant)
                and len(self.founded_by(account)) >= self.per_account):
            raise TooManyRegisteredRooms(room.name, self.per_account, "account")
        registration = Registration(account, hub.clock.seconds())
        self.registrations[room.key] = registration
        room.registered = True
        self.log.info("{name} registered {room} for {account}", name=participant.name,
                      room=room.name, account=account)

        def stored(added: bool) -> str:
            if not added:
                raise RoomRegistered(room.name)
            return room.name

        def failed(failure: Failure) -> str:
            if self.registrations.get(room.key) is registration:
                self._forget(room)
            if isinstance(failure.value, ChatError):
                raise failure.value
            self.log.error("{room} not registered: {why}", room=room.name,
                           why=failure.getErrorMessage())
            raise RoomsUnavailable()

        return self.store.add(self._state(room, registration)).addCallback(stored).addErrback(
            failed)

    def drop(self, participant: Participant, room_name: str) -> Deferred[str]:
        """Drop a registration (its founder, or a server operator); the room
        becomes an ordinary one, and goes at once if it is empty.  The
        Deferred fires with the room's name once the store has forgotten it."""
        room, registration = self._registered(participant, room_name)
        self._require_founder(participant, room, registration)
        self._forget(room)
        self.log.info("{name} dropped the registration of {room}", name=participant.name,
                      room=room.name)

        def failed(failure: Failure) -> str:
            self.log.error("{room}: registration not dropped from the store: {why}",
                           room=room.name, why=failure.getErrorMessage())
            raise RoomsUnavailable()

        return self.store.remove(room.name).addCallbacks(lambda _: room.name, failed)

    def set_operator(self, participant: Participant, room_name: str, account: str,
                     adding: bool) -> tuple[str, bool]:
        """Put C{account} on a registered room's operator list, or take it off
        (the founder, or a server operator); returns the account's name as
        registered and whether the list changed.

        Members logged in to that account get operator status at once, or
        lose it, from C{ChanServ}.  The founder is always an operator and
        is on no list.
        """
        room, registration = self._registered(participant, room_name)
        self._require_founder(participant, room, registration)
        accounts = self.hub.accounts
        name = accounts.account_named(account) if accounts is not None else None
        if name is None:
            raise NoSuchAccount(account)
        key = fold(name)
        if key == fold(registration.founder) or (key in registration.operators) == adding:
            return name, False
        if adding:
            if len(registration.operators) >= self.max_operators:
                raise TooManyRoomOperators(room.name, self.max_operators)
            registration.operators[key] = OperatorAccount(
                name, participant.name or "*", self.hub.clock.seconds())
        else:
            del registration.operators[key]
        self.changed(room, lists=True)
        members = [member for member in room.everyone
                   if fold(member.record.account or "") == key]
        self._give_status(room, members, adding)
        return name, True

    def claim(self, participant: Participant, room_name: str) -> bool:
        """Operator status now, for a member who is an account operator of the
        room (logged in after joining: IRC's C{ChanServ OP #rust}); whether it
        was given (C{False}: held already)."""
        room, _ = self._registered(participant, room_name)
        if participant not in room:
            raise NotInRoom(room.name)
        if not self.is_account_operator(participant, room):
            raise NotOperator(room.name)
        if participant in room.operators:
            return False
        self._give_status(room, [participant], True)
        return True

    def account_dropped(self, account: str) -> None:
        """An account is gone: whoever registers the name next must not run its
        rooms.  The rooms it founded are dropped, and it leaves every operator list."""
        key = fold(account)
        for room in list(self.hub.rooms.values()):
            registration = self.registration(room)
            if registration is None:
                continue
            if fold(registration.founder) == key:
                self._forget(room)
                self.store.remove(room.name).addErrback(self._not_written, room.name)
                self.log.info("{room} dropped with the account {account}", room=room.name,
                              account=account)
            elif registration.operators.pop(key, None) is not None:
                self.changed(room, lists=True)

    # -- what the hub calls -------------------------------------------------------

    def joined(self, participant: Participant, room: Room) -> None:
        """C{participant} just joined C{room}: an account operator gets the status."""
        if participant not in room.operators and self.is_account_operator(participant, room):
            self._give_status(room, [participant], True)

    def changed(self, room: Room, changes: Iterable[ModeChange] = (), *,
                lists: bool = False) -> None:
        """Write a registered room's state through after a change of its topic
        (no C{changes}), its rules or lists (C{changes}, as applied), or its
        operator list (C{lists}).  Status changes of members are not kept."""
        registration = self.registration(room)
        if registration is None:
            return
        changes = tuple(changes)
        if changes and all(change.mode in STATUS_MODES for change in changes):
            return
        lists = lists or any(change.mode in LIST_MODES for change in changes)
        self.store.save(self._state(room, registration), lists).addErrback(
            self._not_written, room.name)

    # -- helpers ------------------------------------------------------------------

    def _registered(self, participant: Participant, room_name: str) -> tuple[Room, Registration]:
        """The registered room C{room_name}, as C{participant} may know it: a
        secret one is shown to its founder and listed accounts too."""
        if participant.name is None:
            raise NotRegistered()
        room = self.hub.rooms.get(fold(room_name))
        registration = None if room is None else self.registration(room)
        if room is None or not (self.hub.can_see(participant, room) or (
                registration is not None and self.is_account_operator(participant, room))):
            raise NoSuchRoom(room_name)
        if registration is None:
            raise RoomNotRegistered(room.name)
        return room, registration

    def _require_founder(self, participant: Participant, room: Room,
                         registration: Registration) -> None:
        account = participant.record.account
        if self.hub.is_server_operator(participant):
            return
        if account is None or fold(account) != fold(registration.founder):
            raise NotFounder(room.name)

    def _forget(self, room: Room) -> None:
        """No longer registered: an empty room (not the default) goes."""
        self.registrations.pop(room.key, None)
        room.registered = False
        if not len(room) and room is not self.hub.default_room:
            self.hub.discard_room(room)

    def _give_status(self, room: Room, members: list[Participant], adding: bool) -> None:
        """Operator status to (or from) C{members}, announced as C{ChanServ}'s."""
        changed = [member for member in members
                   if member.name is not None and (member in room.operators) != adding]
        if not changed:
            return
        for member in changed:
            if adding:
                room.operators.add(member)
            else:
                room.operators.discard(member)
        self.hub.delivery.to_room(room, ModesChanged(
            room.name, CHANSERV, tuple(ModeChange(adding, "o", member.name)
                                       for member in changed if member.name is not None),
            mask=CHANSERV_MASK, stamp=self.hub._stamp()))

    def _state(self, room: Room, registration: Registration) -> RoomState:
        entries = tuple(ListEntry(kind, entry.mask, entry.by, entry.at)
                        for kind, attr in LIST_MODES.items()
                        for entry in getattr(room, attr))
        return RoomState(
            room.name, registration.founder, registration.registered, room.created,
            room.topic, room.topic_by, room.topic_at,
            "".join(letter for letter, attr in sorted(FLAG_MODES.items())
                    if getattr(room, attr)),
            room.password, room.limit, entries, tuple(registration.operators.values()))

    def _not_written(self, failure: Failure, room: str) -> None:
        # A full disk, say: the room carries on; its last change is lost at a restart.
        self.log.error("{room}: registered room not written: {why}", room=room,
                       why=failure.getErrorMessage())


__all__ = ["CHANSERV", "CHANSERV_MASK", "MAX_REGISTERED_ROOMS", "MAX_ROOMS_PER_ACCOUNT",
           "MAX_ROOM_OPERATORS", "ListEntry", "OperatorAccount", "Registration",
           "RoomRegistry", "RoomState", "RoomStore"]
