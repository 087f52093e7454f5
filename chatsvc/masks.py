"""``nick!user@host`` masks: how a room's bans and exceptions name people.

The grammar is IRC's, because the IRC adapter shows these lists as channel
modes ``+b``, ``+e`` and ``+I``: ``*`` matches any run of characters, ``?``
exactly one, and matching ignores ASCII case like names do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chatsvc.names import fold

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
    ``*!*@spam.example``; ``bob!b`` means ``bob!b@*``.  Raises L{BadMask}.
    """
    text = text.strip()
    if not text:
        raise BadMask("a mask needs at least one character")
    bad = _BAD_MASK_CHAR.search(text)
    if bad:
        raise BadMask(f"{bad.group()!r} not allowed in a mask")
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
    mask = f"{nick or '*'}!{user or '*'}@{host or '*'}"
    if len(mask) > MAX_MASK_LENGTH:
        raise BadMask(f"longer than {MAX_MASK_LENGTH} characters")
    return mask


def compile_mask(mask: str) -> re.Pattern[str]:
    """A regular expression matching folded C{nick!user@host} strings."""
    pattern = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char)
        for char in fold(mask)
    )
    return re.compile(pattern + r"\Z", re.DOTALL)


@dataclass(frozen=True)
class MaskEntry:
    """One entry of a ban, exception or invitation list: who set it, when."""

    mask: str
    by: str
    at: float
    pattern: re.Pattern[str] = field(compare=False, repr=False)


class MaskList:
    """An ordered set of masks, unique ignoring case, with a size limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: dict[str, MaskEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __iter__(self):
        return iter(self._entries.values())

    def __contains__(self, mask: object) -> bool:
        return isinstance(mask, str) and fold(mask) in self._entries

    @property
    def full(self) -> bool:
        return len(self._entries) >= self.limit

    def get(self, mask: str) -> MaskEntry | None:
        """The entry for C{mask} (any case), or C{None}."""
        return self._entries.get(fold(mask))

    def add(self, mask: str, by: str, at: float) -> bool:
        """Add C{mask} (already normalised); C{False} if it was there."""
        key = fold(mask)
        if key in self._entries:
            return False
        self._entries[key] = MaskEntry(mask, by, at, compile_mask(mask))
        return True

    def remove(self, mask: str) -> MaskEntry | None:
        """Remove C{mask}, returning its entry, or C{None} if absent."""
        return self._entries.pop(fold(mask), None)

    def matches(self, folded_user_mask: str) -> bool:
        """Whether any entry matches a user's mask, already passed to L{fold}."""
        return any(entry.pattern.match(folded_user_mask) for entry in self._entries.values())
