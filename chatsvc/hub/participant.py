"""The one interface between the hub and a connection of any protocol."""

from __future__ import annotations

from typing import ClassVar, Protocol

from chatsvc.events import Event
from chatsvc.hub.users import User


class Participant(Protocol):
    """A connected user as the hub sees it, whatever protocol it speaks.

    Two halves: C{record}, the hub's L{User} record of them (name, host,
    away, modes...; the hub sets it in C{attach} and alone changes it), and
    what only the connection can do, C{deliver} and C{disconnect}.
    C{name} and C{host} are the record's, read-only (L{RecordBacked} gives
    them).  C{protocol_name} (C{"line"}, C{"IRC"}) and C{capabilities}
    (L{chatsvc.hub.users.CTCP}, ...) describe the kind of connection; the
    hub copies them into the record.

    C{deliver} must not raise and must not call back into the hub
    synchronously: the hub may be iterating a room.  Queries (C{find_room},
    C{members}, ...) are always safe.

    Optionally, C{kicked(room: str)}: the hub calls it (if present) once a
    kick from C{room} is complete, after delivering L{chatsvc.events.Exited};
    it may call the hub (a kicked line user returns to the default room).
    A hook rather than a test in C{deliver} keeps per-recipient work out of
    every broadcast.
    """

    record: User
    protocol_name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]

    @property
    def name(self) -> str | None:
        """The registered name (C{None} before registration): the record's."""

    @property
    def host(self) -> str:
        """The peer's address as shown in masks: the record's."""

    def deliver(self, event: Event) -> None:
        """Show C{event} to this user, in this participant's wire format."""

    def disconnect(self, reason: str) -> None:
        """Tell this user C{reason} in the protocol's own farewell, then close.

        The hub calls it on shutdown with C{"server shutting down"}: a line
        user sees C{* server shutting down}, an IRC user an C{ERROR} line, a
        WebSocket user a close frame carrying the reason.  It must not call
        back into the hub synchronously; the hub hears of the close later,
        through its C{detach}.
        """


class RecordBacked:
    """C{name} and C{host} read from the hub's record, for a participant class.

    The record is the one place they live: an adapter keeps no copy that
    could disagree with what the hub and the other adapters see.
    """

    __slots__ = ()
    record: User

    @property
    def name(self) -> str | None:
        return self.record.name

    @property
    def host(self) -> str:
        return self.record.host
