"""Output held behind a read in progress: a history replay in its place among live output.

The history store reads off the reactor thread, so a room's replay arrives
after the live messages said since the user joined.  While it is read,
everything written to the connection is held (L{Holding} stands in for the
connection's guard) and written after the replay, in order: the history
shows what was said before the join (the store reads after every message
recorded before the read) and the live output what was said after, with
neither gap nor repeat.  Several replays may be read at once; each keeps
its place.  Past L{HOLD_LIMIT} held writes (a very busy room and a slow
disk) the held output goes out and a replay still being read follows when
it comes.

One mechanism for every adapter that writes bytes (the line protocol, the
web protocol's frames): C{deliver}, the hot path, tests nothing for it,
since the protocol's guard attribute is the L{Holding} until it drains.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatsvc.conn.guard import Guard

#: Writes held for a connection while a replay is read, at most.
HOLD_LIMIT = 2000


class Replay:
    """One replay being read, in its place among the held writes."""

    __slots__ = ("data", "late")

    def __init__(self) -> None:
        #: The bytes to write, once read (C{b""}: nothing to show).
        self.data: bytes | None = None
        #: Given up waiting for (L{HOLD_LIMIT}): written when it comes.
        self.late = False


class Holding:
    """A connection's guard while replays are read: writes are held, the rest is the guard's.

    C{owner.<attribute>} (the protocol's guard) is this object from
    L{hold} until L{drain} gives the real guard back.
    """

    __slots__ = ("attribute", "guard", "held", "owner")

    def __init__(self, guard: Guard, owner: Any, attribute: str) -> None:
        self.guard = guard
        self.owner = owner
        self.attribute = attribute
        self.held: deque[bytes | Replay] = deque()

    @classmethod
    def hold(cls, owner: Any, attribute: str) -> tuple[Holding, Replay] | None:
        """A place for a replay among C{owner}'s output: from now until it
        is filled (L{filled}), everything written to the connection is held
        after it.  C{None} for a connection gone or closing."""
        guard = getattr(owner, attribute)
        if guard is None or guard.closing:
            return None
        holding = guard if isinstance(guard, Holding) else cls(guard, owner, attribute)
        setattr(owner, attribute, holding)
        slot = Replay()
        holding.held.append(slot)
        return holding, slot

    def write(self, data: bytes) -> None:
        held = self.held
        held.append(data)
        if len(held) > HOLD_LIMIT:  # a very busy room: stop waiting
            for item in held:
                if isinstance(item, Replay) and item.data is None:
                    item.late = True
            self.drain(give_up=True)

    def filled(self, slot: Replay) -> None:
        """C{slot}'s data is read (or failed): write what may go out now."""
        if slot.late:  # the held output went out without it: it follows now
            current = getattr(self.owner, self.attribute)
            if slot.data and current is not None:
                current.write(slot.data)  # held again if another replay is read
            return
        self.drain()

    def drain(self, give_up: bool = False) -> None:
        """Write the held output and the replays read, in order, up to the
        first replay still being read (all when C{give_up}); once all are out,
        the connection writes to its guard again."""
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
        if getattr(self.owner, self.attribute) is self:
            setattr(self.owner, self.attribute, guard)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.guard, name)


__all__ = ["HOLD_LIMIT", "Holding", "Replay"]
