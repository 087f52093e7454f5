"""``nick!user@host`` masks: how a room's bans and exceptions name people.

The grammar is IRC's, because the IRC adapter shows these lists as channel
modes ``+b``, ``+e`` and ``+I``: ``*`` matches any run of characters, ``?``
exactly one, and matching ignores ASCII case like names do.

Every wildcard match in chatsvc (list entries, IRC's ``WHO mask``) goes
through L{Wildcard}, whose time is linear in the length of what it matches.
Masks used to become regular expressions (``*`` as ``.*``), and a ban of
``*a*a*a*a*a*a*a*a*a*a*b`` made the regex engine backtrack for minutes on
one join, inside C, where neither the reactor nor SIGTERM gets control.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from chatsvc.hub.hosts import canonical_address
from chatsvc.hub.names import fold

MAX_MASK_LENGTH = 128

_BAD_MASK_CHAR = re.compile(r"[\x00-\x20\x7f-\x9f,]")


class BadMask(ValueError):
    """A proposed mask breaks the rules; C{str()} says why."""


def user_mask(name: str, user: str, host: str) -> str:
    """The mask that identifies one user: C{name!user@host}."""
    return f"{name}!{user}@{host}"


def normalize_mask(text: str) -> str:
    """Complete a short mask the way IRC servers do.

    ``bob`` means ``bob!*@*``; ``*@spam.example`` means ``*!*@spam.example``;
    ``spam.example`` (a dot or colon and no ``!``/``@``) means
    ``*!*@spam.example``; ``bob!b`` means ``bob!b@*``.  A host that is an IP
    address is written the way users' hosts are (L{canonical_address}), so
    ``*!*@0::1`` (as IRC shows ``::1``) bans ``::1``.  Raises L{BadMask}.
    """
    text = text.strip()
    if not text:
        raise BadMask("a mask needs at least one character")
    bad = _BAD_MASK_CHAR.search(text)
    if bad:
        raise BadMask(f"{bad.group()!r} not allowed in a mask")
    if not text.isprintable():  # bidi overrides, zero-width and other invisible characters
        char = next(char for char in text if not char.isprintable())
        raise BadMask(f"U+{ord(char):04X} not allowed in a mask (not a visible character)")
    if "!" not in text and "@" not in text:
        mask = f"*!*@{text}" if ("." in text or ":" in text) else f"{text}!*@*"
    elif "!" not in text:
        mask = f"*!{text}"
    elif "@" not in text:
        mask = f"{text}@*"
    else:
        mask = text
    nick, _, rest = mask.partition("!")
    user, _, host = rest.partition("@")
    host = canonical_address(host) if host else "*"
    mask = f"{nick or '*'}!{user or '*'}@{host}"
    if len(mask) > MAX_MASK_LENGTH:
        raise BadMask(f"longer than {MAX_MASK_LENGTH} characters")
    return mask


class Wildcard:
    """A compiled ``*``/``?`` pattern; matching takes linear time.

    The pattern is cut at its stars into literal pieces (``?`` matches any
    one character inside a piece).  A value matches when the first piece
    starts it, the last piece ends it and the pieces between occur in order
    without overlapping.  Taking the leftmost occurrence of each middle
    piece is always right: any match could move that piece left to the
    leftmost occurrence, leaving more room for the rest.  So no choice is
    ever revisited; each piece is looked for once, by C{str.find} over the
    part of the value after the previous piece.

    Both the pattern and the values must already be passed through
    L{chatsvc.hub.names.fold}.
    """

    __slots__ = ("_exact", "_head", "_middle", "_tail", "_shortest")

    def __init__(self, folded_pattern: str) -> None:
        pieces = folded_pattern.split("*")
        self._exact = len(pieces) == 1
        self._head = pieces[0]
        self._tail = pieces[-1]
        self._middle = tuple(piece for piece in pieces[1:-1] if piece)
        self._shortest = sum(map(len, pieces))

    def matches(self, value: str) -> bool:
        """Whether C{value} (folded) matches the whole pattern."""
        head = self._head
        if self._exact:
            return len(value) == len(head) and _piece_at(head, value, 0)
        if len(value) < self._shortest:
            return False
        end = len(value) - len(self._tail)
        if not (_piece_at(head, value, 0) and _piece_at(self._tail, value, end)):
            return False
        start = len(head)
        for piece in self._middle:
            found = _find_piece(piece, value, start, end)
            if found < 0:
                return False
            start = found + len(piece)
        return True


def _piece_at(piece: str, value: str, at: int) -> bool:
    """Whether C{piece} (C{?} for any character) occurs in C{value} at C{at}."""
    if "?" not in piece:
        return value.startswith(piece, at)
    if at + len(piece) > len(value):
        return False
    offset = at
    for literal in piece.split("?"):
        if literal and not value.startswith(literal, offset):
            return False
        offset += len(literal) + 1
    return True


def _find_piece(piece: str, value: str, start: int, end: int) -> int:
    """The leftmost index in C{[start, end - len(piece)]} where C{piece} occurs, or -1."""
    if "?" not in piece:
        return value.find(piece, start, end)
    # Find candidates by the piece's longest literal run, then check the
    # rest in place: every candidate lies after the previous one, so the
    # work stays linear in the length of the value.
    literal = max(piece.split("?"), key=len)
    if not literal:  # only question marks: any position will do
        return start if start + len(piece) <= end else -1
    offset = piece.index(literal)
    last = end - len(piece)  # the last index the piece may start at
    found = value.find(literal, start + offset, last + offset + len(literal))
    while found >= 0:
        if _piece_at(piece, value, found - offset):
            return found - offset
        found = value.find(literal, found + 1, last + offset + len(literal))
    return -1


def wildcard_match(pattern: str, value: str) -> bool:
    """IRC wildcard match of C{value} against C{pattern}, ignoring ASCII case."""
    return Wildcard(fold(pattern)).matches(fold(value))


class MaskEntry:
    """One entry of a ban, exception or invitation list: who set it, when.

    C{owner} is the address it counts against (see
    L{chatsvc.hub.factory.ChatFactory}'s list limits), C{None} for none.  A
    class with slots holding no compiled pattern (L{Wildcard} matches
    without one), because a server may hold tens of thousands of them.
    """

    __slots__ = ("mask", "by", "at", "owner", "pattern")

    def __init__(self, mask: str, by: str, at: float, owner: str | None = None) -> None:
        self.mask = mask
        self.by = by
        self.at = at
        self.owner = owner
        self.pattern = Wildcard(fold(mask))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MaskEntry):
            return NotImplemented
        return (self.mask, self.by, self.at) == (other.mask, other.by, other.at)

    def __hash__(self) -> int:
        return hash((self.mask, self.by, self.at))

    def __repr__(self) -> str:
        return f"MaskEntry(mask={self.mask!r}, by={self.by!r}, at={self.at!r})"


class MaskList:
    """An ordered set of masks, unique ignoring case.

    The limits on how many there may be are the hub's (per room, per
    address, per server), so this holds no limit of its own.
    """

    def __init__(self) -> None:
        self._entries: dict[str, MaskEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __iter__(self) -> Iterator[MaskEntry]:
        return iter(self._entries.values())

    def __contains__(self, mask: object) -> bool:
        return isinstance(mask, str) and fold(mask) in self._entries

    def get(self, mask: str) -> MaskEntry | None:
        """The entry for C{mask} (any case), or C{None}."""
        return self._entries.get(fold(mask))

    def add(self, mask: str, by: str, at: float, owner: str | None = None) -> MaskEntry | None:
        """Add C{mask} (already normalised); the new entry, or C{None} if it was there."""
        key = fold(mask)
        if key in self._entries:
            return None
        entry = self._entries[key] = MaskEntry(mask, by, at, owner)
        return entry

    def remove(self, mask: str) -> MaskEntry | None:
        """Remove C{mask}, returning its entry, or C{None} if absent."""
        return self._entries.pop(fold(mask), None)

    def matches(self, folded_user_mask: str) -> bool:
        """Whether any entry matches a user's mask, already passed to L{fold}."""
        return any(entry.pattern.matches(folded_user_mask) for entry in self._entries.values())
