"""A bounded memory of names that were in use: IRC's WHOWAS, for every protocol.

The hub records a name when its user renames or leaves, so "who was bob?"
can be answered whichever protocol bob used.  The memory is a ring of a
fixed size: old entries fall off, and it never grows with traffic.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from chatsvc.hub.names import fold


@dataclass(frozen=True)
class PastName:
    """C{name} was used by C{mask} (C{nick!user@host}) until C{until}."""

    name: str
    mask: str
    realname: str
    until: float


class WhoWas:
    """The last C{size} names given up, newest last."""

    def __init__(self, size: int = 256, now: Callable[[], float] = time.time) -> None:
        self._entries: deque[PastName] = deque(maxlen=size)
        self._now = now

    def record(self, name: str, mask: str, realname: str) -> None:
        self._entries.append(PastName(name, mask, realname, self._now()))

    def lookup(self, name: str, count: int = 0) -> list[PastName]:
        """Entries for C{name} (any case), newest first; at most C{count} if > 0."""
        key = fold(name)
        found = [entry for entry in reversed(self._entries) if fold(entry.name) == key]
        return found[:count] if count > 0 else found
