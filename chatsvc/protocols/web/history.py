"""Room history for a web user: the replay on joining, and the C{history} request.

The store (L{chatsvc.store}) reads off the reactor thread, so a replay
arrives later than the live messages said after the join.  While a replay
on joining is read, everything written to the user is held (L{Holding}
stands in for the connection's guard) and written after the replay, in
order, as the line protocol does: the history shows what was said before
the join (the store reads after every message recorded before the read)
and the live messages what was said after, with neither gap nor repeat.
Past L{HOLD_LIMIT} held frames (a very busy room and a slow disk) the
held output goes out and the replay follows when it comes.

A C{history} request is answered with one C{history} object carrying the
messages; it holds nothing, since the page puts the messages in their
place by their ids and times.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from chatsvc.events import utc_time
from chatsvc.store.sqlite import StoredMessage, StoredPrivate

if TYPE_CHECKING:
    from chatsvc.conn.guard import Guard

#: Frames held for a web user while a replay is read, at most.
HOLD_LIMIT = 2000


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


class Replay:
    """One replay being read, in its place among the held frames."""

    __slots__ = ("data", "late")

    def __init__(self) -> None:
        #: The frames to write, once read (C{b""}: nothing to show).
        self.data: bytes | None = None
        #: Given up waiting for (L{HOLD_LIMIT}): written when it comes.
        self.late = False


class Holding:
    """The connection's guard while a replay is read: writes are held, the rest is the guard's.

    C{deliver}, the hot path, tests nothing for it: the protocol's C{guard}
    is this object until L{drain} gives the real one back.
    """

    __slots__ = ("guard", "held", "owner")

    def __init__(self, guard: Guard, owner: Any) -> None:
        self.guard = guard
        #: The protocol whose C{guard} this stands in for, until drained.
        self.owner = owner
        self.held: deque[bytes | Replay] = deque()

    def write(self, data: bytes) -> None:
        held = self.held
        held.append(data)
        if len(held) > HOLD_LIMIT:  # a very busy room: stop waiting
            for item in held:
                if isinstance(item, Replay) and item.data is None:
                    item.late = True
            self.drain(give_up=True)

    def drain(self, give_up: bool = False) -> None:
        """Write the held frames and replays read, in order, up to the first
        replay still being read (all when C{give_up}); once all are out, the
        protocol writes to its guard again."""
        held = self.held
        guard = self.guard
        while held:
            item = held[0]
            if isinstance(item, Replay):
                if item.data is None and not give_up:
                    return
                if item.data:
                    guard.write(item.data)
            else:
                guard.write(item)
            held.popleft()
        if self.owner.guard is self:
            self.owner.guard = guard

    def __getattr__(self, name: str) -> Any:
        return getattr(self.guard, name)
