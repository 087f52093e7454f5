"""Who watches which names: IRCv3 MONITOR's lists, for any protocol.

A user asks to be told when some names come online and go offline (IRC's
C{MONITOR + bob}); the hub tells them when a user of any protocol takes
such a name (registers, or renames to it) and when it is given up (quit,
rename away).  The registry only remembers who watches what; the hub looks
a name up on registration, rename and departure (one dict lookup, none on
the message path) and emits a L{chatsvc.events.Presence} to the watchers.

Lists are bounded: at most L{MAX_WATCHED} names per connection (IRC's
C{MONITOR=} ISUPPORT token) and L{MAX_TOTAL_WATCHED} on the server, and
each must be a valid name (no masks, so nobody follows a person across
renames by their host).  A connection's list goes with it.  An entry costs
140 to 200 bytes (a name only one connection watches keeps that
connection, not a set of one), so the server's lists hold 20 MiB at most.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import NamedTuple

from chatsvc.hub.names import BadName, check_name, fold
from chatsvc.hub.participant import Participant

#: Most names one connection may watch (IRC's ISUPPORT C{MONITOR=100}).
MAX_WATCHED = 100
#: Most (connection, name) entries on the server, whatever the connections.
MAX_TOTAL_WATCHED = 100_000

_NOBODY: frozenset[Participant] = frozenset()


class Added(NamedTuple):
    """What L{Watches.add} did: names now watched, refused as invalid, and
    left out because the list was full (in the order given)."""

    added: list[str]
    invalid: list[str]
    over_limit: list[str]


class Watches:
    """The hub's registry of watched names, both ways.

    C{_by_name} maps a folded name to the connection watching it, or to a
    set of them when several do (looked up when a name comes or goes);
    C{_by_watcher} maps a connection to its names, folded key to the
    spelling it gave (for its list, and to forget them all when it leaves).
    """

    __slots__ = ("_by_name", "_by_watcher", "limit", "total_limit", "_total")

    def __init__(self, limit: int = MAX_WATCHED, total_limit: int = MAX_TOTAL_WATCHED) -> None:
        self.limit = limit
        self.total_limit = total_limit
        self._total = 0
        self._by_name: dict[str, Participant | set[Participant]] = {}
        self._by_watcher: dict[Participant, dict[str, str]] = {}

    def add(self, watcher: Participant, names: Iterable[str]) -> Added:
        """Watch C{names} for C{watcher}, up to L{limit} in all.

        A name already watched is counted as added again (its status is
        told again); an invalid one (a mask, a bad nick) is refused; once
        the list (or the server's, L{total_limit}) is full, the rest are
        left out.
        """
        added: list[str] = []
        invalid: list[str] = []
        over: list[str] = []
        mine = self._by_watcher.get(watcher)
        for name in names:
            try:
                check_name(name)
            except BadName:
                invalid.append(name)
                continue
            key = fold(name)
            if mine is not None and key in mine:
                added.append(name)
                continue
            if mine is None:
                mine = self._by_watcher[watcher] = {}
            if len(mine) >= self.limit or self._total >= self.total_limit:
                over.append(name)
                continue
            mine[key] = key if name == key else name  # one string when already folded
            self._link(key, watcher)
            added.append(name)
        if mine is not None and not mine:
            del self._by_watcher[watcher]
        return Added(added, invalid, over)

    def remove(self, watcher: Participant, names: Iterable[str]) -> None:
        """Stop watching C{names} (those not watched are ignored)."""
        mine = self._by_watcher.get(watcher)
        if mine is None:
            return
        for name in names:
            key = fold(name)
            if mine.pop(key, None) is not None:
                self._unlink(key, watcher)
        if not mine:
            del self._by_watcher[watcher]

    def clear(self, watcher: Participant) -> None:
        """Forget everything C{watcher} watches (a cleared list, or it left)."""
        for key in self._by_watcher.pop(watcher, {}):
            self._unlink(key, watcher)

    def watched_by(self, watcher: Participant) -> list[str]:
        """The names C{watcher} watches, as it spelled them, in the order added."""
        return list(self._by_watcher.get(watcher, {}).values())

    def watchers(self, name: str) -> Set[Participant]:
        """Who watches C{name} (any case): empty for most names, at no cost."""
        watching = self._by_name.get(fold(name))
        if watching is None:
            return _NOBODY
        if isinstance(watching, set):
            return watching
        return frozenset((watching,))

    def __len__(self) -> int:
        """How many (watcher, name) entries there are in all."""
        return self._total

    def _link(self, key: str, watcher: Participant) -> None:
        self._total += 1
        watching = self._by_name.get(key)
        if watching is None:
            self._by_name[key] = watcher
        elif isinstance(watching, set):
            watching.add(watcher)
        else:
            self._by_name[key] = {watching, watcher}

    def _unlink(self, key: str, watcher: Participant) -> None:
        self._total -= 1
        watching = self._by_name.get(key)
        if watching is watcher:
            del self._by_name[key]
        elif isinstance(watching, set):
            watching.discard(watcher)
            if len(watching) == 1:
                self._by_name[key] = watching.pop()
