"""Room history for a web user: the replay on joining, and the C{history} request.

The store (L{chatsvc.store}) reads off the reactor thread, so a replay
arrives later than the live messages said after the join: the replay on
joining holds the user's output behind it (L{chatsvc.conn.holding}), as
the line protocol's does.

A C{history} request is answered with one C{history} object carrying the
messages; it holds nothing, since the page puts the messages in their
place by their ids and times.
"""

from __future__ import annotations

from typing import Any

from chatsvc.events import utc_time
from chatsvc.store.sqlite import JOIN, PART, QUIT, TOPIC, StoredMessage, StoredPrivate


def message_body(message: StoredMessage) -> dict[str, Any]:
    """A stored row as the page gets it, marked C{history}: a C{message}
    event; or, for a topic change, a join or a part, the C{topic},
    C{joined} or C{left} event the page gets live (a quit: C{left} with
    C{quit}, in the room it was recorded in).

    The same fields as a live one, its original C{id} and C{time}.  The
    page shows a C{history} one as a line of the room's past, and changes
    nothing of the room's present (its topic, its members) for it.
    """
    kind = message.kind
    body: dict[str, Any]
    if kind == TOPIC:
        body = {"type": "topic", "room": message.room, "topic": message.text,
                "by": message.sender}
    elif kind == JOIN:
        body = {"type": "joined", "room": message.room, "name": message.sender}
    elif kind in (PART, QUIT):  # a quit: "quit" marks it (live, its "room" is null)
        body = {"type": "left", "room": message.room, "name": message.sender,
                "reason": message.text}
        if kind == QUIT:
            body["quit"] = True
    else:
        body = {"type": "message", "room": message.room, "from": message.sender,
                "text": message.text, "action": message.action, "notice": message.notice}
    body.update(id=message.id, time=utc_time(message.time), history=True)
    return body


def private_body(message: StoredPrivate, mine: bool) -> dict[str, Any]:
    """A stored private message as the page gets it: a C{private} event,
    marked C{history}, with C{self} when the reader sent it (as the answer
    to its own C{whisper} is marked)."""
    body = {"type": "private", "from": message.sender, "to": message.target,
            "text": message.text, "action": message.action, "notice": message.notice,
            "id": message.id, "time": utc_time(message.time), "history": True}
    if mine:
        body["self"] = True
    return body
