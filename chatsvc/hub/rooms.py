"""Rooms: a named set of members, the unit of broadcast, and its rules.

A L{Room} holds state only; the hub (L{chatsvc.hub.factory.ChatFactory}) decides
who may change it and announces every change.  The rules are plain
attributes named in L{chatsvc.hub.modes}, so the IRC adapter can show them as
channel modes and the line protocol as sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatsvc.hub.masks import MaskList
from chatsvc.hub.modes import FLAG_MODES, KEY_MODE, LIMIT_MODE, ModeChange, mode_string
from chatsvc.hub.names import fold
from chatsvc.hub.participant import Participant

#: Longest topic, in UTF-8 bytes (IRC's TOPICLEN counts bytes: in characters, a
#: Cyrillic or CJK topic would overflow IRC's 512-byte lines and reach IRC users cut).
MAX_TOPIC_LENGTH = 390
#: Longest key (IRC's KEYLEN).
MAX_KEY_LENGTH = 32
#: Most entries in a room's ban, exception and invitation lists together
#: (IRC's C{MAXLIST=beI:100} promises exactly that: a limit on the three combined).
MAX_LIST_ENTRIES = 100
#: Most list entries the users of one address (IPv4 address, IPv6 /64) may
#: have set in all rooms: without it, an address's 16 connections in 50
#: rooms each could hold 80,000 entries.  Server operators are not limited.
MAX_LIST_ENTRIES_PER_ADDRESS = 500
#: Most list entries in all rooms of a server: about 25 MiB at 0.5 KiB each.
MAX_SERVER_LIST_ENTRIES = 50_000
#: Highest member limit accepted for C{+l}.
MAX_LIMIT = 1_000_000


@dataclass(frozen=True)
class MemberInfo:
    """One member as a C{/who} or C{NAMES} reply shows them."""

    name: str
    user: str
    host: str
    operator: bool
    voiced: bool
    server_operator: bool


class Room:
    """A room in the hub, with its members keyed by folded name.

    Fan-out iterates L{everyone}, an immutable snapshot rebuilt only when
    membership changes, so delivering to a member that disconnects mid-loop
    can never disturb the loop, and a broadcast allocates nothing per member.

    Rules (see L{chatsvc.hub.modes}): C{invite_only} (+i), C{moderated} (+m),
    C{no_outside} (+n, default on), C{secret} (+s), C{topic_locked} (+t,
    default on), C{no_history} (+x: a history store neither keeps nor
    replays the room's messages), C{password} (+k; C{None} when unset), C{limit} (+l; C{None}
    when unset), and the mask lists C{bans} (+b), C{exceptions} (+e) and
    C{invite_exceptions} (+I: masks that may join an invite-only room uninvited).
    Member status: C{operators} (+o) and C{voiced} (+v), sets of members.
    C{invited} holds the members-to-be invited by name with ``/invite``.
    C{registered}: the room is registered (L{chatsvc.hub.registered}): it
    stays when it empties, and its state is kept across restarts.
    """

    def __init__(self, name: str, created: float = 0.0) -> None:
        self.name = name
        self.key = fold(name)
        self.created = created
        self._members: dict[str, Participant] = {}
        self._snapshot: tuple[Participant, ...] | None = ()
        self.topic = ""
        self.topic_by = ""
        self.topic_at = 0.0
        self.invite_only = False
        self.moderated = False
        self.no_outside = True
        self.secret = False
        self.topic_locked = True
        self.no_history = False
        self.password: str | None = None
        self.limit: int | None = None
        self.bans = MaskList()
        self.exceptions = MaskList()
        self.invite_exceptions = MaskList()
        self.operators: set[Participant] = set()
        self.voiced: set[Participant] = set()
        self.invited: set[Participant] = set()
        self.registered = False

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, participant: object) -> bool:
        name = getattr(participant, "name", None)
        return name is not None and self._members.get(fold(name)) is participant

    def __repr__(self) -> str:
        return f"<Room {self.name} ({len(self)} members)>"

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

    def member(self, name: str) -> Participant | None:
        """The member called C{name} (any case), or C{None}."""
        return self._members.get(fold(name))

    def add(self, participant: Participant) -> None:
        assert participant.name is not None
        self._members[fold(participant.name)] = participant
        self._snapshot = None

    def remove(self, participant: Participant) -> None:
        """Forget a member and any status they held here."""
        assert participant.name is not None
        if self._members.get(fold(participant.name)) is participant:
            del self._members[fold(participant.name)]
            self._snapshot = None
        self.operators.discard(participant)
        self.voiced.discard(participant)

    def rekey(self, participant: Participant, old_name: str) -> None:
        """Follow a member's rename (called after C{participant.name} changed)."""
        if self._members.get(fold(old_name)) is participant:
            del self._members[fold(old_name)]
            self.add(participant)

    # -- rules ---------------------------------------------------------------

    def can_speak_freely(self, participant: Participant) -> bool:
        """Operators and voiced members pass moderation and bans."""
        return participant in self.operators or participant in self.voiced

    @property
    def mask_lists(self) -> tuple[MaskList, MaskList, MaskList]:
        """The ban, exception and invitation lists."""
        return self.bans, self.exceptions, self.invite_exceptions

    @property
    def list_entries(self) -> int:
        """Entries in the three lists together (limited to L{MAX_LIST_ENTRIES})."""
        return len(self.bans) + len(self.exceptions) + len(self.invite_exceptions)

    def is_banned(self, folded_mask: str) -> bool:
        """A ban matches and no exception does (masks passed to L{fold})."""
        return self.bans.matches(folded_mask) and not self.exceptions.matches(folded_mask)

    def rules(self, show_key: bool = True) -> list[ModeChange]:
        """The rules that are on, as C{+} changes (C{+k} hides the key unless asked)."""
        on = [ModeChange(True, letter) for letter, attr in sorted(FLAG_MODES.items())
              if getattr(self, attr)]
        if self.password is not None:
            on.append(ModeChange(True, KEY_MODE, self.password if show_key else None))
        if self.limit is not None:
            on.append(ModeChange(True, LIMIT_MODE, str(self.limit)))
        return on

    def mode_string(self, show_key: bool = True) -> str:
        """The rules in IRC form, e.g. C{"+ntl 10"}; C{"+"} when none are on."""
        rules = self.rules(show_key)
        return mode_string(rules) if rules else "+"
