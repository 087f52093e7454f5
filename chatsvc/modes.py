"""A room's rules as mode letters, the one notation every adapter shares.

IRC shows a room's rules as channel modes, and the line protocol's ``/mode``
command borrows the same letters, so the hub speaks them too: a change is a
L{ModeChange} (``+m``, ``-k``, ``+o bob``, ``+b *!*@spam.example``).  The
letters, and the ISUPPORT tokens they imply, are:

    ``b`` ban mask          ``e`` ban exception     ``I`` invitation mask
    ``k`` key (password)    ``l`` member limit
    ``i`` invite-only       ``m`` moderated         ``n`` no outside messages
    ``s`` secret            ``t`` topic by operators only
    ``o`` operator status   ``v`` voice
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chatsvc.errors import ModeNeedsArgument, UnknownMode

#: Rules that are simply on or off, with the L{chatsvc.rooms.Room} attribute each sets.
FLAG_MODES: dict[str, str] = {
    "i": "invite_only",
    "m": "moderated",
    "n": "no_outside",
    "s": "secret",
    "t": "topic_locked",
}
#: Lists of masks, with the L{chatsvc.rooms.Room} attribute holding each.
LIST_MODES: dict[str, str] = {"b": "bans", "e": "exceptions", "I": "invite_exceptions"}
#: Member status, with the L{chatsvc.rooms.Room} attribute holding each set.
STATUS_MODES: dict[str, str] = {"o": "operators", "v": "voiced"}
#: Setting takes an argument; so does unsetting C{k}, which IRC clients send.
KEY_MODE, LIMIT_MODE = "k", "l"

#: ISUPPORT values for the IRC adapter.
CHANMODES = "beI,k,l,imnst"
PREFIX = "(ov)@+"

_ALL = set(FLAG_MODES) | set(LIST_MODES) | set(STATUS_MODES) | {KEY_MODE, LIMIT_MODE}


@dataclass(frozen=True)
class ModeChange:
    """One change of a room's rules or of a member's status.

    C{argument} is the mask, name, key or limit the mode needs, or C{None}:
    for a list mode (C{b}, C{e}, C{I}) with no argument it means "show me the
    list", which is an adapter's business, never a change.
    """

    adding: bool
    mode: str
    argument: str | None = None

    def __str__(self) -> str:
        sign = "+" if self.adding else "-"
        if self.argument is None:
            return f"{sign}{self.mode}"
        return f"{sign}{self.mode} {self.argument}"

    @property
    def is_list_query(self) -> bool:
        return self.mode in LIST_MODES and self.argument is None


def parse_modes(spec: str, arguments: Sequence[str] = ()) -> list[ModeChange]:
    """Parse IRC-style C{"+im-k"} plus arguments into changes, in order.

    Raises L{UnknownMode} for a letter outside L{CHANMODES} and L{PREFIX}, and
    L{ModeNeedsArgument} when arguments run out.  A list mode with no argument
    left becomes a list query (C{argument=None}).
    """
    changes: list[ModeChange] = []
    remaining = list(arguments)
    adding = True
    if not spec or spec[0] not in "+-":
        spec = "+" + spec
    for letter in spec:
        if letter in "+-":
            adding = letter == "+"
            continue
        if letter not in _ALL:
            raise UnknownMode(letter)
        argument: str | None = None
        if letter in LIST_MODES:
            argument = remaining.pop(0) if remaining else None
        elif letter in STATUS_MODES or (letter == LIMIT_MODE and adding) or (
            letter == KEY_MODE and adding
        ):
            if not remaining:
                raise ModeNeedsArgument(letter, adding)
            argument = remaining.pop(0)
        elif letter == KEY_MODE and remaining:
            argument = remaining.pop(0)
        changes.append(ModeChange(adding, letter, argument))
    return changes


def mode_string(changes: Sequence[ModeChange]) -> str:
    """Compact IRC form: C{"+im-k+l 10"} style, letters then arguments."""
    letters: list[str] = []
    arguments: list[str] = []
    sign = ""
    for change in changes:
        wanted = "+" if change.adding else "-"
        if wanted != sign:
            letters.append(wanted)
            sign = wanted
        letters.append(change.mode)
        if change.argument is not None:
            arguments.append(change.argument)
    return " ".join(["".join(letters), *arguments])
