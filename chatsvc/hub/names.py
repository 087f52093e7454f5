"""Nickname and room-name rules shared by every protocol adapter.

Names follow the IRC nickname grammar restricted to ASCII, because the IRC
listener shares this user map: a name valid here is a valid IRC nick, and two
names that differ only by case are the same user (``CASEMAPPING=ascii``).
Restricting to ASCII also rules out look-alike Unicode impersonation.  The
names of network services (L{SERVICE_NAMES}) are reserved.

Room names may be in any script, so they are checked for what makes two
names look the same: invisible and reordering characters, compatibility
forms (fullwidth letters), and letters of look-alike scripts mixed in one
name (L{check_room_name}).
"""

from __future__ import annotations

import re
import unicodedata

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

SERVICE_NAMES: tuple[str, ...] = (
    "NickServ", "ChanServ", "OperServ", "MemoServ", "HostServ", "BotServ",
    "SaslServ", "HelpServ", "InfoServ", "StatServ", "GroupServ", "HistServ",
    "Global", "ALIS",
)
"""Names no user may take, on any protocol: the services of Atheme, Anope and
ergo.  IRC clients send C{NickServ} the user's password by themselves
(C{IDENTIFY}) and trust notices from these names; whoever held one would
collect passwords and speak for the network.  The accounts work gives them an
owner; until then nobody has them."""


class BadName(ValueError):
    """A proposed user or room name breaks the rules; C{str()} says why."""


def fold(name: str) -> str:
    """Return the case-insensitive key for C{name} (ASCII case mapping only)."""
    # On ASCII text str.lower() is exactly this mapping, and several times
    # faster than translate(): fold runs for every private message.
    return name.lower() if name.isascii() else name.translate(_ASCII_LOWER)


_SERVICES = frozenset(name.lower() for name in SERVICE_NAMES)


def is_service_name(name: str) -> bool:
    """Whether C{name} is one of L{SERVICE_NAMES}, in any case."""
    return fold(name) in _SERVICES


def check_name(name: str) -> str:
    """Return C{name} if a user may take it, else raise L{BadName}.

    Every registration and rename on every protocol comes here (the hub's
    C{register}, and IRC's C{NICK} before registering), so the grammar and
    the reserved service names hold everywhere.
    """
    if not name:
        raise BadName("a name needs 1 to 32 characters")
    if len(name) > MAX_NAME_LENGTH:
        raise BadName(f"longer than {MAX_NAME_LENGTH} characters")
    if _NAME.match(name):
        if fold(name) in _SERVICES:
            raise BadName(f"{name} is reserved for network services")
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
    """Return C{name} if it is a valid room name, else raise L{BadName}.

    Beyond IRC's channel grammar, a name that could look like another one is
    refused, so that nobody can open C{#chat\\u200b}, C{#\\u0441hat} (a
    Cyrillic C{с}) or C{#\\u202etahc} next to C{#chat}: see
    L{_look_alike_why}.  ASCII names (most of them) skip those checks.
    """
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
    if not body.isascii():
        why = _look_alike_why(body)
        if why is not None:
            raise BadName(why)
    return name


# Bidirectional controls: they reorder the characters around them, so that
# "#\u202etahc" shows as "#chat".
_BIDI_CONTROLS = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})
# Characters that show as nothing (or as blank) but are not in category Cf:
# the default-ignorable marks and letters of Unicode's
# DerivedCoreProperties.txt (combining grapheme joiner, Hangul fillers,
# Khmer inherent vowels, Mongolian variation selectors, the variation
# selectors and their supplement), and the blank braille pattern.
_INVISIBLE = frozenset(map(chr, (
    0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F,
    0x2800, 0x3164, 0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0),
)))
# Scripts whose letters look like each other's (Latin a, Cyrillic а, Greek α;
# Latin o, Armenian օ; Latin A, Cherokee Ꭺ): one name may use only one of them.
_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK", "COPTIC", "ARMENIAN", "CHEROKEE"})


def _character_why(char: str) -> str | None:
    """Why C{char} may not be in a room name, or C{None} if it may."""
    category = unicodedata.category(char)
    if category == "Cf":
        if unicodedata.bidirectional(char) in _BIDI_CONTROLS:
            return "a bidirectional control, which reorders the text around it"
        return "an invisible formatting character"
    if char in _INVISIBLE:
        return "an invisible character"
    if category == "Zs":
        return "a space"
    if category in ("Zl", "Zp"):
        return "a line or paragraph separator"
    if category == "Co":
        return "a private-use character, which every font shows differently"
    if category == "Cn":
        return f"not a character in Unicode {unicodedata.unidata_version}"
    if category[0] == "C":  # Cc (C0 and C1 are refused earlier), Cs
        return "a control character"
    return None


def _look_alike_why(body: str) -> str | None:
    """Why the room name C{#body} could pass for another one, or C{None}.

    In order: a character that is invisible, reorders the text or has no
    agreed look (category C, separators, and the default-ignorable rest); a
    name that is not in Unicode normal form NFKC (a fullwidth C{#ｃｈａｔ}, a
    C{e} followed by a combining accent instead of C{é}), which has an
    identical twin that is; and letters of two look-alike scripts (Latin,
    Cyrillic, Greek, Coptic, Armenian, Cherokee).  A letter's script is the
    first word of its Unicode name (C{CYRILLIC SMALL LETTER ES}): the
    standard library has no script property, and no NFKC-normal letter
    whose name mentions one of the six starts with another word (checked
    over all of Unicode 14).  Letters of other scripts may mix with them
    (C{#python日本}), and so may digits, marks and symbols.
    """
    for char in body:
        why = _character_why(char)
        if why is not None:
            return f"{_describe(char)} not allowed in a room name: {why}"
    if not unicodedata.is_normalized("NFKC", body):
        why = "not in Unicode normal form NFKC, so another name looks the same"
        normal = "#" + unicodedata.normalize("NFKC", body)
        try:
            check_room_name(normal)
        except BadName:
            return why
        return f"{why}: use {normal}"
    seen: dict[str, str] = {}
    for char in body:
        if not char.isalpha():  # letters only: category L
            continue
        script = "LATIN" if char.isascii() else unicodedata.name(char, "").partition(" ")[0]
        if script in _CONFUSABLE_SCRIPTS and script not in seen:
            seen[script] = char
            if len(seen) > 1:
                (first, one), (second, other) = seen.items()
                return (f"mixes {first.title()} and {second.title()} letters, which look "
                        f"alike ({_describe(one)}, {_describe(other)})")
    return None


def _describe(char: str) -> str:
    """C{U+0441 CYRILLIC SMALL LETTER ES}: a character named safely, even an invisible one."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"
