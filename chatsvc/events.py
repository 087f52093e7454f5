"""The values the hub emits and every adapter renders.

Events are immutable and know nothing of wire formats.  Each carries a
C{wire} cache so that a broadcast to N users of one protocol renders its
bytes once and writes the same bytes N times (see L{rendered}).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatsvc.modes import ModeChange


def _mask() -> Any:
    # The actor's nick!user@host, for adapters that show it (IRC prefixes);
    # "" when the server itself acts.  Not part of equality, so tests and
    # adapters that do not care can ignore it.
    return field(default="", compare=False, kw_only=True)


@dataclass(frozen=True)
class Event:
    """Base class: an immutable fact to show to one or more participants."""

    wire: dict[str, bytes] = field(
        default_factory=dict, compare=False, repr=False, hash=False, kw_only=True
    )


@dataclass(frozen=True)
class RoomMessage(Event):
    """C{sender} said C{text} in C{room}; C{action} for ``/me``.

    C{notice} marks IRC's NOTICE, which clients must never answer
    automatically; wire formats without the distinction ignore it.
    """

    room: str
    sender: str
    text: str
    action: bool = False
    mask: str = _mask()
    notice: bool = field(default=False, kw_only=True)


@dataclass(frozen=True)
class PrivateMessage(Event):
    """C{sender} said C{text} to C{target} alone; C{action} for ``/me``."""

    sender: str
    target: str
    text: str
    action: bool = False
    mask: str = _mask()
    notice: bool = field(default=False, kw_only=True)


@dataclass(frozen=True)
class Joined(Event):
    """C{name} entered C{room} (to the others there; the joiner gets L{Entered})."""

    room: str
    name: str
    mask: str = _mask()


@dataclass(frozen=True)
class Left(Event):
    """C{name} left C{room}, or the server when C{room} is C{None}.

    C{reason} is C{""} when none was given (a plain part, or a move to
    another room).  The one who left gets L{Exited} instead.
    """

    room: str | None
    name: str
    reason: str
    mask: str = _mask()


@dataclass(frozen=True)
class Renamed(Event):
    """C{old} is now called C{new}."""

    old: str
    new: str
    mask: str = _mask()


@dataclass(frozen=True)
class Registered(Event):
    """The recipient is now known as C{name}."""

    name: str


@dataclass(frozen=True)
class Who(Event):
    """The names present in C{room}, answering a ``/who``.

    C{operators} and C{voiced} are the names among C{names} with that status.
    """

    room: str
    names: tuple[str, ...]
    operators: tuple[str, ...] = ()
    voiced: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notice(Event):
    """Free text from the server (welcome, help, MOTD, goodbye)."""

    text: str


@dataclass(frozen=True)
class Error(Event):
    """A refusal answering what the recipient sent; the connection lives on."""

    text: str


@dataclass(frozen=True)
class Entered(Event):
    """The recipient is now in C{room}, with C{members} there counting them.

    C{topic} is C{""} when unset.  C{left} names the room they left to come
    here (a line user's move), or is C{None}.
    """

    room: str
    members: int
    topic: str
    left: str | None = None


@dataclass(frozen=True)
class Exited(Event):
    """The recipient is no longer in C{room}: they parted, or C{by} kicked them.

    The hub delivers this last, once the change is complete (then, for a
    kick, calls the participant's optional C{kicked} hook).  C{mask} is the
    kicker's.
    """

    room: str
    reason: str
    by: str | None = None
    mask: str = _mask()


@dataclass(frozen=True)
class Kicked(Event):
    """C{by} removed C{name} from C{room} (to the others; C{name} gets L{Exited})."""

    room: str
    name: str
    by: str
    reason: str
    mask: str = _mask()


@dataclass(frozen=True)
class TopicChanged(Event):
    """C{by} set the topic of C{room} to C{topic} (C{""}: cleared); to every member."""

    room: str
    by: str
    topic: str
    mask: str = _mask()


@dataclass(frozen=True)
class ModesChanged(Event):
    """C{by} changed C{room}'s rules or members' status; to every member.

    C{changes} holds only what actually changed, in order.
    """

    room: str
    by: str
    changes: tuple[ModeChange, ...]
    mask: str = _mask()


@dataclass(frozen=True)
class Invited(Event):
    """C{by} invites the recipient, C{name}, to C{room}."""

    room: str
    by: str
    name: str
    mask: str = _mask()


@dataclass(frozen=True)
class Topic(Event):
    """The topic of C{room} (C{""}: none), answering a query or on registering."""

    room: str
    topic: str


@dataclass(frozen=True)
class RoomList(Event):
    """The rooms the recipient may see: (name, members, topic) each."""

    rooms: tuple[tuple[str, int, str], ...]


def rendered(event: Event, wire_format: str, render: Callable[[Event], bytes]) -> bytes:
    """Return C{render(event)}, computed once per event and wire format."""
    data = event.wire.get(wire_format)
    if data is None:
        data = event.wire[wire_format] = render(event)
    return data
