"""Nickname and room-name rules shared by every protocol adapter.

Names follow the IRC nickname grammar restricted to ASCII, because the IRC
listener shares this user map: a name valid here is a valid IRC nick, and two
names that differ only by case are the same user (``CASEMAPPING=ascii``).
Restricting to ASCII also rules out look-alike Unicode impersonation.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 32
MAX_ROOM_NAME_LENGTH = 50

_SPECIAL = r"_\[\]{}\\^|"
NAME_PATTERN = rf"[A-Za-z{_SPECIAL}][A-Za-z0-9\-{_SPECIAL}]*"
"""A valid name as a regular expression (for parsers; L{check_name} says why not)."""
_NAME = re.compile(rf"{NAME_PATTERN}\Z")
_NAME_CHAR = re.compile(rf"[A-Za-z0-9\-{_SPECIAL}]")
# Room names: '#' then 1-50 characters, none of them space, comma, ':' or a
# control character (IRC's channel grammar, minus the ':' that would confuse
# the line protocol's "@name:text").
_ROOM_BAD_CHAR = re.compile(r"[\x00-\x20\x7f-\x9f,:]")

_ASCII_LOWER = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
)


class BadName(ValueError):
    """A proposed user or room name breaks the rules; C{str()} says why."""


def fold(name: str) -> str:
    """Return the case-insensitive key for C{name} (ASCII case mapping only)."""
    # On ASCII text str.lower() is exactly this mapping, and several times
    # faster than translate(): fold runs for every private message.
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


def check_name(name: str) -> str:
    """Return C{name} if it is a valid user name, else raise L{BadName}."""
    if not name:
        raise BadName("a name needs 1 to 32 characters")
    if len(name) > MAX_NAME_LENGTH:
        raise BadName(f"longer than {MAX_NAME_LENGTH} characters")
    if _NAME.match(name):
        return name
    if name[0].isdigit() or name[0] == "-":
        raise BadName("must not start with a digit or '-'")
    for char in name:
        if not _NAME_CHAR.match(char):
            raise BadName(
                f"{char!r} not allowed (use ASCII letters, digits and _-[]{{}}\\^|)"
            )
    raise BadName("not a valid name")  # pragma: no cover - all cases above


def check_room_name(name: str) -> str:
    """Return C{name} if it is a valid room name, else raise L{BadName}."""
    if not name.startswith("#"):
        raise BadName("a room name starts with '#'")
    body = name[1:]
    if not body:
        raise BadName("a room name needs 1 to 50 characters after '#'")
    if len(body) > MAX_ROOM_NAME_LENGTH:
        raise BadName(f"longer than {MAX_ROOM_NAME_LENGTH} characters after '#'")
    bad = _ROOM_BAD_CHAR.search(body)
    if bad:
        raise BadName(f"{bad.group()!r} not allowed in a room name")
    return name
