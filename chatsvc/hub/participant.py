"""The one interface between the hub and a connection of any protocol."""

from __future__ import annotations

from typing import Protocol

from chatsvc.events import Event


class Participant(Protocol):
    """A connected user as the hub sees it, whatever protocol it speaks.

    The hub sets C{name} when the participant registers or renames; adapters
    must treat it as read-only.  C{host} is the peer's address as shown in
    masks.  An adapter may also give its participants a C{user} attribute
    (IRC's username); the hub reads it with C{getattr}, defaulting to the
    name, to form the C{nick!user@host} mask that bans match.

    C{deliver} must not raise and must not call back into the hub
    synchronously: the hub may be iterating a room.  Queries (C{find_room},
    C{members}, ...) are always safe.

    Optionally, C{kicked(room: str)}: the hub calls it (if present) once a
    kick from C{room} is complete, after delivering L{chatsvc.events.Exited};
    it may call the hub (a kicked line user returns to the default room).
    A hook rather than a test in C{deliver} keeps per-recipient work out of
    every broadcast.

    Optionally too, for the log line that ends a session: C{signon} (when it
    connected, in the hub clock's seconds) and C{protocol_name} (C{"line"},
    C{"IRC"}).
    """

    name: str | None
    host: str

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
