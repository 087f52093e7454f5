"""Rooms: a named set of members, the unit of broadcast."""

from __future__ import annotations

from chatsvc.names import fold
from chatsvc.participant import Participant


class Room:
    """A room in the hub, with its members keyed by folded name.

    Fan-out iterates L{everyone}, an immutable snapshot rebuilt only when
    membership changes, so delivering to a member that disconnects mid-loop
    can never disturb the loop, and a broadcast allocates nothing per member.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = fold(name)
        self._members: dict[str, Participant] = {}
        self._snapshot: tuple[Participant, ...] | None = ()

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, participant: object) -> bool:
        name = getattr(participant, "name", None)
        return name is not None and self._members.get(fold(name)) is participant

    @property
    def everyone(self) -> tuple[Participant, ...]:
        """All members, as a snapshot safe to iterate while delivering."""
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = tuple(self._members.values())
        return snapshot

    def names(self) -> list[str]:
        """Member names, sorted case-insensitively."""
        return sorted((p.name for p in self._members.values() if p.name), key=fold)

    def add(self, participant: Participant) -> None:
        assert participant.name is not None
        self._members[fold(participant.name)] = participant
        self._snapshot = None

    def remove(self, participant: Participant) -> None:
        assert participant.name is not None
        if self._members.get(fold(participant.name)) is participant:
            del self._members[fold(participant.name)]
            self._snapshot = None

    def rekey(self, participant: Participant, old_name: str) -> None:
        """Follow a member's rename (called after C{participant.name} changed)."""
        if self._members.get(fold(old_name)) is participant:
            del self._members[fold(old_name)]
            self.add(participant)
