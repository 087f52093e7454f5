"""The line protocol's server-to-client format.

The first characters of every line say what kind it is, so that a person in
telnet and a script can both read it::

    <alice> text      room message            *alice* text   private message
    * text            server notice           ! text         error reply
"""

from __future__ import annotations

from collections.abc import Callable

from chatsvc.events import (
    Error,
    Event,
    Joined,
    Left,
    Notice,
    PrivateMessage,
    Registered,
    Renamed,
    RoomMessage,
    Who,
    rendered,
)

WIRE_FORMAT = "line"


def _room_message(event: RoomMessage) -> str:
    if event.action:
        return f"* {event.sender} {event.text}"
    return f"<{event.sender}> {event.text}"


def _private_message(event: PrivateMessage) -> str:
    if event.action:
        return f"*{event.sender}* * {event.sender} {event.text}"
    return f"*{event.sender}* {event.text}"


def _left(event: Left) -> str:
    return f"* {event.name} left ({event.reason})"


def _who(event: Who) -> str:
    return f"* online ({len(event.names)}): {', '.join(event.names)}"


_RENDERERS: dict[type, Callable[..., str]] = {
    RoomMessage: _room_message,
    PrivateMessage: _private_message,
    Joined: lambda e: f"* {e.name} joined",
    Left: _left,
    Renamed: lambda e: f"* {e.old} is now {e.new}",
    Registered: lambda e: f"* you are {e.name}",
    Who: _who,
    Notice: lambda e: f"* {e.text}",
    Error: lambda e: f"! {e.text}",
}


def render_text(event: Event) -> str:
    """The line (without terminator) that shows C{event} to a line user."""
    return _RENDERERS[type(event)](event)


def _render(event: Event) -> bytes:
    return (render_text(event) + "\r\n").encode("utf-8")


def line_bytes(event: Event) -> bytes:
    """The bytes to write for C{event}, rendered once however many receive it."""
    return rendered(event, WIRE_FORMAT, _render)
