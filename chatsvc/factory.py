"""The hub: the user map, the rooms, and the only code that routes.

Adapters (the line protocol here; IRC and WebSocket later) turn their wire
format into calls on L{ChatFactory} and render the L{chatsvc.events} it
delivers.  Nothing in this module knows a wire format, so adding a protocol
never touches routing.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger

from chatsvc.errors import BadNameError, EmptyMessage, NameTaken, NoSuchUser, NotRegistered
from chatsvc.events import (
    Event,
    Joined,
    Left,
    Notice,
    PrivateMessage,
    Registered,
    Renamed,
    RoomMessage,
)
from chatsvc.names import BadName, check_name, fold
from chatsvc.participant import Participant
from chatsvc.rooms import Room
from chatsvc.settings import Settings


class ChatFactory(ServerFactory):
    """The hub, and the factory for line-protocol connections.

    Every listener of every protocol shares one instance, which is what puts
    a telnet user and an IRC user in the same room.
    """

    log = Logger()

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.connections: set[Participant] = set()
        self.users: dict[str, Participant] = {}
        self.default_room = Room(self.settings.room)
        self.rooms: dict[str, Room] = {self.default_room.key: self.default_room}
        self.closing = False
        self._drained: list[Deferred[None]] = []

    # -- connections ---------------------------------------------------------

    def buildProtocol(self, addr: IAddress) -> Protocol:
        from chatsvc.line import LineChatProtocol

        protocol = LineChatProtocol(self)
        protocol.factory = self
        return protocol

    def adapter(self, build: Callable[[ChatFactory], Protocol]) -> ServerFactory:
        """A factory for another protocol's listener, attached to this hub."""
        return _AdapterFactory(self, build)

    def attach(self, participant: Participant) -> bool:
        """Admit a new connection; C{False} when the server is full."""
        if self.closing:
            return False
        limit = self.settings.max_clients
        if limit and len(self.connections) >= limit:
            self.log.warn("refused {host}: server full ({limit} connections)",
                          host=participant.host, limit=limit)
            return False
        self.connections.add(participant)
        return True

    def detach(self, participant: Participant, reason: str) -> None:
        """Forget a connection that has closed, telling whoever shared a room."""
        self.connections.discard(participant)
        name = participant.name
        if name is not None and self.users.get(fold(name)) is participant:
            del self.users[fold(name)]
            audience = self._audience(participant)
            for room in self._rooms_of(participant):
                room.remove(participant)
            if not self.closing:  # everyone is leaving: nobody to tell
                self._send(audience, Left(None, name, reason))
            self.log.info("{name} left ({reason})", name=name, reason=reason)
        if not self.connections and self._drained:
            drained, self._drained = self._drained, []
            for waiting in drained:
                waiting.callback(None)

    def shutdown(self, reason: str) -> Deferred[None]:
        """Say goodbye to every connection and close it; fires once all are gone.

        Each participant renders the goodbye in its own protocol (see
        L{Participant.disconnect}).  New connections are refused from now on.
        The Deferred may never fire if a peer never lets go: callers bound
        the wait (L{chatsvc.lifecycle.ChatService} does).
        """
        self.closing = True
        self.log.info("shutting down: closing {count} connections", count=len(self.connections))
        for participant in list(self.connections):
            participant.disconnect(reason)
        waiting: Deferred[None] = Deferred()
        if self.connections:
            self._drained.append(waiting)
        else:
            waiting.callback(None)
        return waiting

    # -- names ---------------------------------------------------------------

    def register(self, participant: Participant, name: str) -> None:
        """Give C{participant} a name: first registration, or a rename."""
        try:
            check_name(name)
        except BadName as why:
            raise BadNameError(str(why)) from None
        holder = self.users.get(fold(name))
        if holder is not None and holder is not participant:
            raise NameTaken(name)
        if participant.name is None:
            self._first_registration(participant, name)
        else:
            self._rename(participant, name)

    def _first_registration(self, participant: Participant, name: str) -> None:
        participant.name = name
        self.users[fold(name)] = participant
        self.log.info("{host} registered as {name}", host=participant.host, name=name)
        participant.deliver(Registered(name))
        for line in self.settings.motd:
            participant.deliver(Notice(line))
        room = self.default_room
        self._send(room.everyone, Joined(room.name, name))
        room.add(participant)

    def _rename(self, participant: Participant, new: str) -> None:
        old = participant.name
        assert old is not None
        if old == new:
            participant.deliver(Registered(new))
            return
        rooms = self._rooms_of(participant)
        del self.users[fold(old)]
        participant.name = new
        self.users[fold(new)] = participant
        for room in rooms:
            room.rekey(participant, old)
        self.log.info("{old} is now {new}", old=old, new=new)
        participant.deliver(Registered(new))
        self._send(self._audience(participant), Renamed(old, new))

    # -- messages ------------------------------------------------------------

    def say(self, sender: Participant, room_name: str | None, text: str,
            action: bool = False) -> None:
        """Send C{text} to C{sender}'s room (the default room when C{None})."""
        name = self._require_name(sender)
        if not text.strip():
            raise EmptyMessage()
        room = self.default_room if room_name is None else self.rooms[fold(room_name)]
        event = RoomMessage(room.name, name, text, action)
        for member in room.everyone:
            if member is not sender:
                member.deliver(event)

    def whisper(self, sender: Participant, target: str, text: str,
                action: bool = False) -> None:
        """Send C{text} to the user called C{target} alone."""
        name = self._require_name(sender)
        if not text.strip():
            raise EmptyMessage()
        recipient = self.users.get(fold(target))
        if recipient is None or recipient.name is None:
            raise NoSuchUser(target)
        recipient.deliver(PrivateMessage(name, recipient.name, text, action))

    def who(self, room_name: str | None = None) -> tuple[str, list[str]]:
        """The name of a room (the default one when C{None}) and its members."""
        room = self.default_room if room_name is None else self.rooms[fold(room_name)]
        return room.name, room.names()

    # -- helpers -------------------------------------------------------------

    def _require_name(self, participant: Participant) -> str:
        if participant.name is None:
            raise NotRegistered()
        return participant.name

    def _rooms_of(self, participant: Participant) -> list[Room]:
        return [room for room in self.rooms.values() if participant in room]

    def _audience(self, participant: Participant) -> set[Participant]:
        """Everyone who shares at least one room with C{participant}, once."""
        audience: set[Participant] = set()
        for room in self._rooms_of(participant):
            audience.update(room.everyone)
        audience.discard(participant)
        return audience

    @staticmethod
    def _send(recipients: set[Participant] | tuple[Participant, ...], event: Event) -> None:
        for recipient in recipients:
            recipient.deliver(event)


class _AdapterFactory(ServerFactory):
    """Builds one protocol's connections, all attached to the same hub."""

    def __init__(self, hub: ChatFactory, build: Callable[[ChatFactory], Protocol]) -> None:
        self.hub = hub
        self._build = build

    def buildProtocol(self, addr: IAddress) -> Protocol:
        protocol = self._build(self.hub)
        protocol.factory = self
        return protocol
