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
from chatsvc.store.sqlite import StoredMessage, StoredPrivate


def message_body(message: StoredMessage) -> dict[str, Any]:
    """A stored message as the page gets it: a C{message} event, marked C{history}.

    The same fields as a live one, its original C{id} and C{time}.
    """
    return {"type": "message", "room": message.room, "from": message.sender,
            "text": message.text, "action": message.action, "notice": message.notice,
            "id": message.id, "time": utc_time(message.time), "history": True}


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
