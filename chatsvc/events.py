"""The values the hub emits and every adapter renders.

Events are immutable and know nothing of wire formats.  Each carries a
C{wire} cache so that a broadcast to N users of one protocol renders its
bytes once and writes the same bytes N times (see L{rendered}).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    """Base class: an immutable fact to show to one or more participants."""

    wire: dict[str, bytes] = field(
        default_factory=dict, compare=False, repr=False, hash=False, kw_only=True
    )


@dataclass(frozen=True)
class RoomMessage(Event):
    """C{sender} said C{text} in C{room}; C{action} for ``/me``."""

    room: str
    sender: str
    text: str
    action: bool = False


@dataclass(frozen=True)
class PrivateMessage(Event):
    """C{sender} said C{text} to C{target} alone; C{action} for ``/me``."""

    sender: str
    target: str
    text: str
    action: bool = False


@dataclass(frozen=True)
class Joined(Event):
    """C{name} entered C{room}."""

    room: str
    name: str


@dataclass(frozen=True)
class Left(Event):
    """C{name} left C{room}, or the server when C{room} is C{None}."""

    room: str | None
    name: str
    reason: str


@dataclass(frozen=True)
class Renamed(Event):
    """C{old} is now called C{new}."""

    old: str
    new: str


@dataclass(frozen=True)
class Registered(Event):
    """The recipient is now known as C{name}."""

    name: str


@dataclass(frozen=True)
class Who(Event):
    """The names present in C{room}, answering a ``/who``."""

    room: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Notice(Event):
    """Free text from the server (welcome, help, MOTD, goodbye)."""

    text: str


@dataclass(frozen=True)
class Error(Event):
    """A refusal answering what the recipient sent; the connection lives on."""

    text: str


def rendered(event: Event, wire_format: str, render: Callable[[Event], bytes]) -> bytes:
    """Return C{render(event)}, computed once per event and wire format."""
    data = event.wire.get(wire_format)
    if data is None:
        data = event.wire[wire_format] = render(event)
    return data
