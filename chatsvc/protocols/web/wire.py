"""The browser's wire format: one JSON object per WebSocket text message.

Server to client, every event the hub emits becomes one object with a
C{type} (see docs/user/web.rst for the whole reference); the hub's events
carry their C{id} and C{time} (RFC 3339, UTC, milliseconds).  L{render}
makes the bytes once per event and L{framed} the whole WebSocket frame
around them (the adapter caches it in the event's C{wire}), so a message
to a room of a thousand browser users is encoded and framed once.

Client to server, L{parse} turns one text message into a L{Request}, or
raises L{chatsvc.hub.errors.Usage} (or L{UnknownCommand}) with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatsvc.events import (
    AccountChanged,
    AwayChanged,
    Entered,
    Error,
    Event,
    Exited,
    HostChanged,
    Invited,
    InviteNotified,
    Joined,
    Kicked,
    Left,
    ModesChanged,
    Motd,
    Notice,
    Presence,
    PrivateMessage,
    RealNameChanged,
    Registered,
    Renamed,
    RoomList,
    RoomMessage,
    TagMessage,
    Topic,
    TopicChanged,
    Wallops,
    Watched,
    Who,
    utc_time,
)
from chatsvc.hub.errors import ChatError, UnknownCommand, Usage
from chatsvc.hub.text import sanitize

#: The key of this format's bytes in an event's C{wire} cache: the whole
#: WebSocket frame (L{framed}), ready for the connection.
WIRE_FORMAT = "web"

#: The first byte of every frame the server sends: FIN and the text opcode
#: (RFC 6455, 5.2).  A server's frames are never masked.
_TEXT_FRAME = 0x81

#: What a client may send: the type and its fields, each C{(name, required)}.
REQUESTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "register": (("name", True),),
    "pass": (("password", True),),
    "say": (("room", True), ("text", True)),
    "me": (("room", True), ("text", True)),
    "whisper": (("to", True), ("text", True)),
    "join": (("room", True), ("key", False)),
    "part": (("room", True), ("reason", False)),
    "topic": (("room", True), ("text", False)),
    "who": (("room", False),),
    "history": (("target", True), ("before", False)),
    "ping": (),
    # Accounts (chatsvc.accounts): log in to account "name" (taking its name).
    "login": (("name", True), ("password", True)),
    "logout": (),
    # History (issue 18): delete what the room history keeps of your account.
    "forget": (),
    # Registered rooms (chatsvc.hub.registered): register "room", or drop it.
    "register-room": (("room", True),),
    "unregister-room": (("room", True),),
}

#: Fields that are whole numbers (or absent, or C{null}), by request type.
NUMBERS: dict[str, tuple[str, ...]] = {
    "history": ("limit",),
}


@dataclass(frozen=True, slots=True)
class Request:
    """One client request: its C{type}, its string fields, and C{ref} to echo.

    C{refusal} is set (and C{type} is C{""}) when the message had a usable
    C{ref} but was wrong otherwise: the error echoes the C{ref} too.
    """

    type: str
    fields: dict[str, str | None]
    ref: Any = None
    refusal: ChatError | None = None
    #: The whole-number fields of L{NUMBERS}.
    numbers: dict[str, int | None] = field(default_factory=dict)


def encode(body: dict[str, Any]) -> bytes:
    """One JSON object as the UTF-8 bytes of one text message.

    C{ensure_ascii=False}: text stays as people wrote it (and smaller); JSON
    escapes every control character, so nothing a user typed can end the
    object early.
    """
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _stamped(event: Event, body: dict[str, Any]) -> dict[str, Any]:
    if event.id is not None:
        body["id"] = event.id
        body["time"] = utc_time(event.time)
    return body


def _message(event: RoomMessage) -> dict[str, Any]:
    return {"type": "message", "room": event.room, "from": event.sender, "text": event.text,
            "action": event.action, "notice": event.notice}


def _private(event: PrivateMessage) -> dict[str, Any]:
    body = {"type": "private", "from": event.sender, "to": event.target, "text": event.text,
            "action": event.action, "notice": event.notice}
    if event.delayed:  # kept while the recipient was away: "time" is when it was sent
        body["delayed"] = True
    return body


def _left(event: Left) -> dict[str, Any]:
    return {"type": "left", "room": event.room, "name": event.name, "reason": event.reason,
            "to": event.to}


def _exited(event: Exited) -> dict[str, Any]:
    if event.by is not None:
        return {"type": "kicked", "room": event.room, "name": None, "self": True,
                "by": event.by, "reason": event.reason}
    return {"type": "left", "room": event.room, "name": None, "self": True,
            "reason": event.reason}


_BODIES: dict[type[Event], Callable[[Any], dict[str, Any]]] = {
    RoomMessage: _message,
    PrivateMessage: _private,
    Registered: lambda e: {"type": "registered", "name": e.name},
    Joined: lambda e: {"type": "joined", "room": e.room, "name": e.name,
                       "from_room": e.came_from, "away": e.away},
    Entered: lambda e: {"type": "joined", "room": e.room, "name": None, "self": True,
                        "count": e.members, "topic": e.topic},
    Left: _left,
    Exited: _exited,
    Kicked: lambda e: {"type": "kicked", "room": e.room, "name": e.name, "by": e.by,
                       "reason": e.reason},
    Renamed: lambda e: {"type": "renamed", "from": e.old, "to": e.new},
    TopicChanged: lambda e: {"type": "topic", "room": e.room, "topic": e.topic, "by": e.by},
    Topic: lambda e: {"type": "topic", "room": e.room, "topic": e.topic, "by": None},
    Who: lambda e: {"type": "members", "room": e.room, "names": list(e.names),
                    "operators": list(e.operators), "voiced": list(e.voiced)},
    Notice: lambda e: {"type": "notice", "text": e.text},
    Motd: lambda e: {"type": "motd", "lines": list(e.lines)},
    Error: lambda e: {"type": "error", "code": e.code, "text": e.text},
    ModesChanged: lambda e: {"type": "modes", "room": e.room, "by": e.by,
                             "changes": [str(change) for change in e.changes]},
    Invited: lambda e: {"type": "invited", "room": e.room, "by": e.by},
    Wallops: lambda e: {"type": "wallops", "from": e.sender, "text": e.text},
    AwayChanged: lambda e: {"type": "away", "name": e.name, "away": e.away},
    # IRCv3 TAGMSG: the hub sends it only to protocols that show tags (not
    # this one, today); its body, should that change.
    TagMessage: lambda e: {"type": "tags", "from": e.sender, "to": e.target,
                           "tags": dict(e.tags)},
    # Only to watchers and NOTIFY protocols (IRC's MONITOR, setname,
    # invite-notify): no web user receives them today.
    Presence: lambda e: {"type": "presence", "name": e.name, "online": e.online},
    RealNameChanged: lambda e: {"type": "realname", "name": e.name, "realname": e.realname},
    InviteNotified: lambda e: {"type": "invite_notified", "room": e.room, "by": e.by,
                               "name": e.name},
    HostChanged: lambda e: {"type": "host", "name": e.name, "user": e.user, "host": e.host},
    AccountChanged: lambda e: {"type": "account", "name": e.name, "account": e.account},
    Watched: lambda e: {"type": "watched", "change": body_of(e.change)},
    RoomList: lambda e: {"type": "rooms", "rooms": [
        {"room": name, "count": count, "topic": topic} for name, count, topic in e.rooms]},
}


def body_of(event: Event) -> dict[str, Any]:
    """The JSON object for C{event}, as a dict (a fresh one: callers may add to it)."""
    make = _BODIES.get(type(event))
    if make is None:  # an event added to the hub later: still shown, as a notice
        return _stamped(event, {"type": "notice", "text": str(event)})
    return _stamped(event, make(event))


def render(event: Event) -> bytes:
    """C{event} as the bytes of one text message (cache it with L{rendered})."""
    return encode(body_of(event))


def frame(payload: bytes) -> bytes:
    """C{payload} (UTF-8 JSON) as one whole, unmasked WebSocket text frame.

    The header is the opcode byte and the length in 7, 16 or 64 bits (RFC
    6455, 5.2), exactly what wsproto writes for a server's message with no
    extension; tests/test_web.py holds the two to the same bytes.
    """
    size = len(payload)
    if size < 126:
        return bytes((_TEXT_FRAME, size)) + payload
    if size < 0x10000:
        return bytes((_TEXT_FRAME, 126)) + size.to_bytes(2, "big") + payload
    return bytes((_TEXT_FRAME, 127)) + size.to_bytes(8, "big") + payload


def payload_of(data: bytes) -> bytes:
    """The payload of a frame made by L{frame} (its header is 2, 4 or 10 bytes)."""
    size = data[1]
    return data[2 if size < 126 else 4 if size == 126 else 10:]


def framed(event: Event) -> bytes:
    """C{event} as one whole WebSocket frame (cache it in the event's C{wire})."""
    return frame(render(event))


def parse(message: str) -> Request:
    """One text message from a client as a L{Request}.

    Every field a type takes must be a string (or, when optional, absent or
    C{null}); text is L{sanitize}d here, so the hub relays nothing that can
    drive a terminal or break a line.  C{ref}, if present, must be a string
    or a number, and is echoed on the answer (and on a refusal, which comes
    back in L{Request.refusal}); a message with no usable C{ref} raises.
    """
    try:
        body = json.loads(message)
    except ValueError:
        raise Usage('not JSON: send one object per message, like {"type": "ping"}') from None
    if not isinstance(body, dict):
        raise Usage('send one JSON object per message, like {"type": "ping"}')
    ref = body.get("ref")
    if ref is not None and (isinstance(ref, bool) or not isinstance(ref, (str, int, float))
                            or (isinstance(ref, str) and len(ref) > 64)):
        raise Usage('"ref" is a string (at most 64 characters) or a number')
    try:
        return _request(body, ref)
    except ChatError as refusal:
        return Request("", {}, ref, refusal)


def _request(body: dict[str, Any], ref: Any) -> Request:
    kind = body.get("type")
    if not isinstance(kind, str):
        raise Usage('every message needs a "type": ' + ", ".join(REQUESTS))
    wanted = REQUESTS.get(kind)
    if wanted is None:
        raise UnknownCommand(sanitize(kind)[:32])
    fields: dict[str, str | None] = {}
    for name, required in wanted:
        value = body.get(name)
        if value is None and not required:
            fields[name] = None
        elif isinstance(value, str):
            fields[name] = sanitize(value)
        else:
            raise Usage(f'"{kind}" needs "{name}" as a string'
                        + ("" if required else " (or null)"))
    numbers: dict[str, int | None] = {}
    for name in NUMBERS.get(kind, ()):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise Usage(f'"{kind}" takes "{name}" as a whole number (or null)')
        numbers[name] = value
    return Request(kind, fields, ref, numbers=numbers)
