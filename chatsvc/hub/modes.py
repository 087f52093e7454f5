"""A room's rules as mode letters, the one notation every adapter shares.

IRC shows a room's rules as channel modes, and the line protocol's ``/mode``
command borrows the same letters, so the hub speaks them too: a change is a
L{ModeChange} (``+m``, ``-k``, ``+o bob``, ``+b *!*@spam.example``).  The
letters, and the ISUPPORT tokens they imply, are:

    ``b`` ban mask          ``e`` ban exception     ``I`` invitation mask
    ``k`` key (password)    ``l`` member limit
    ``i`` invite-only       ``m`` moderated         ``n`` no outside messages
    ``s`` secret            ``t`` topic by operators only
    ``x`` no history        (the room's messages are not kept: chatsvc.store)
    ``o`` operator status   ``v`` voice

Why C{x} for "no history": no IRC server we know gives C{x} a channel
meaning (ergo, InspIRCd, UnrealIRCd, solanum, hybrid, ngIRCd; ircdocs'
table of channel modes), so no client or script reads it as something
else; C{H}, the obvious letter, is taken with the opposite sense
(InspIRCd's and UnrealIRCd's C{+H} turns history replay B{on}, with a
parameter); and C{x} reads as "crossed out", off the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chatsvc.hub.errors import ModeNeedsArgument, TooManyModes, UnknownMode

#: Rules that are simply on or off, with the L{chatsvc.hub.rooms.Room} attribute each sets.
FLAG_MODES: dict[str, str] = {
    "i": "invite_only",
    "m": "moderated",
    "n": "no_outside",
    "s": "secret",
    "t": "topic_locked",
    "x": "no_history",
}
#: Lists of masks, with the L{chatsvc.hub.rooms.Room} attribute holding each.
LIST_MODES: dict[str, str] = {"b": "bans", "e": "exceptions", "I": "invite_exceptions"}
#: Member status, with the L{chatsvc.hub.rooms.Room} attribute holding each set.
STATUS_MODES: dict[str, str] = {"o": "operators", "v": "voiced"}
#: Setting takes an argument; so does unsetting C{k}, which IRC clients send.
KEY_MODE, LIMIT_MODE = "k", "l"

#: ISUPPORT values for the IRC adapter.
CHANMODES = "beI,k,l,imnstx"
PREFIX = "(ov)@+"

#: Most changes that take an argument (a mask, name, key or limit) or show a
#: list, in one command: IRC's ISUPPORT C{MODES=4}, which IRC clients already
#: respect when they batch C{+oooo}.  Without it one 4 KB line asked for the
#: ban list 4,076 times (27 MB of replies) or set a thousand bans at once.
MAX_MODE_ARGUMENTS = 4
#: Most mode letters one command may carry, arguments or not.  Thirteen
#: letters exist, so twenty covers any real command (each letter once, and a
#: change of sign); without it C{+i-i+i-i...} did 4,000 changes and announced
#: them all to every member.
MAX_MODE_LETTERS = 20

Excess = Literal["refuse", "ignore", "keep"]
"""What L{parse_modes} does past L{MAX_MODE_ARGUMENTS} or L{MAX_MODE_LETTERS}."""

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


def parse_modes(spec: str, arguments: Sequence[str] = (), *,
                excess: Excess = "refuse") -> list[ModeChange]:
    """Parse IRC-style C{"+im-k"} plus arguments into changes, in order.

    Raises L{UnknownMode} for a letter outside L{CHANMODES} and L{PREFIX}, and
    L{ModeNeedsArgument} when arguments run out.  A list mode with no argument
    left becomes a list query (C{argument=None}); each list is queried at
    most once per command, whatever the letters repeat (C{+bbbb} is one
    query), so that no command answers with the same list twice.

    The limits of one command are here, where every adapter turns a command
    into changes, so that no protocol is a way around them and the work
    stops as soon as they are reached: at most L{MAX_MODE_ARGUMENTS} changes
    that take an argument or query a list, and L{MAX_MODE_LETTERS} letters.
    C{excess} says what happens past them: C{"refuse"} raises
    L{TooManyModes} (the line protocol: a person is told), C{"ignore"} drops
    the excess silently, as IRC servers do (solanum ignores parameters past
    MODES; a client that batches by MODES never gets there), and C{"keep"}
    applies no limit (a client reading changes a server already made).
    """
    changes: list[ModeChange] = []
    remaining = list(arguments)
    queried: set[str] = set()
    adding = True
    letters = with_argument = 0
    limited = excess != "keep"
    if not spec or spec[0] not in "+-":
        spec = "+" + spec
    for letter in spec:
        if letter in "+-":
            adding = letter == "+"
            continue
        if letter not in _ALL:
            raise UnknownMode(letter)
        # Whether this change takes one of the MODES slots: every list mode
        # (a change or a query), status, +k, +l, and -k when given a key.
        takes = (letter in LIST_MODES or letter in STATUS_MODES
                 or (adding and letter in (KEY_MODE, LIMIT_MODE))
                 or (letter == KEY_MODE and bool(remaining)))
        if letter in LIST_MODES and not remaining and letter in queried:
            takes = False  # this list is already being shown: nothing to do
        if limited:
            letters += 1
            if letters > MAX_MODE_LETTERS or (takes and with_argument >= MAX_MODE_ARGUMENTS):
                if excess == "refuse":
                    raise TooManyModes(MAX_MODE_ARGUMENTS, MAX_MODE_LETTERS)
                if letters > MAX_MODE_LETTERS:
                    break
                continue  # past MODES: every later argument is ignored too
            with_argument += takes
        if letter in LIST_MODES:
            if not remaining:
                if letter not in queried:
                    queried.add(letter)
                    changes.append(ModeChange(adding, letter))
                continue
            changes.append(ModeChange(adding, letter, remaining.pop(0)))
            continue
        argument: str | None = None
        if takes:
            if not remaining:
                raise ModeNeedsArgument(letter, adding)
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
