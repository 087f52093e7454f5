"""Who watches which names: IRCv3 MONITOR's lists, for any protocol.

A user asks to be told when some names come online and go offline (IRC's
C{MONITOR + bob}); the hub tells them when a user of any protocol takes
such a name (registers, or renames to it) and when it is given up (quit,
rename away).  The registry only remembers who watches what; the hub looks
a name up on registration, rename and departure (one dict lookup, none on
the message path) and emits a L{chatsvc.events.Presence} to the watchers.

Lists are bounded: at most L{MAX_WATCHED} names per connection (IRC's
C{MONITOR=} ISUPPORT token), and each must be a valid name (no masks, so
nobody follows a person across renames by their host).  A connection's
list goes with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from typing import NamedTuple

from chatsvc.hub.names import BadName, check_name, fold
from chatsvc.hub.participant import Participant

#: Most names one connection may watch (IRC's ISUPPORT C{MONITOR=100}).
MAX_WATCHED = 100

_NOBODY: frozenset[Participant] = frozenset()


class Added(NamedTuple):
    """What L{Watches.add} did: names now watched, refused as invalid, and
    left out because the list was full (in the order given)."""

    added: list[str]
    invalid: list[str]
    over_limit: list[str]


class Watches:
    """The hub's registry of watched names, both ways.

    C{_by_name} maps a folded name to the connections watching it (looked up
    when a name comes or goes); C{_by_watcher} maps a connection to its
    names, folded key to the spelling it gave (for its list, and to forget
    them all when it leaves).
    """

    __slots__ = ("_by_name", "_by_watcher", "limit")

    def __init__(self, limit: int = MAX_WATCHED) -> None:
        self.limit = limit
        self._by_name: dict[str, set[Participant]] = {}
        self._by_watcher: dict[Participant, dict[str, str]] = {}

    def add(self, watcher: Participant, names: Iterable[str]) -> Added:
        """Watch C{names} for C{watcher}, up to L{limit} in all.

        A name already watched is counted as added again (its status is
        told again); an invalid one (a mask, a bad nick) is refused; once
        the list is full, the rest are left out.
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
            if len(mine) >= self.limit:
                over.append(name)
                continue
            mine[key] = name
            self._by_name.setdefault(key, set()).add(watcher)
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
        return self._by_name.get(fold(name), _NOBODY)

    def __len__(self) -> int:
        """How many (watcher, name) entries there are in all."""
        return sum(map(len, self._by_watcher.values()))

    def _unlink(self, key: str, watcher: Participant) -> None:
        watching = self._by_name.get(key)
        if watching is not None:
            watching.discard(watcher)
            if not watching:
                del self._by_name[key]
