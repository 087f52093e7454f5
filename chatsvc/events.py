"""The values the hub emits and every adapter renders.

Events are immutable and know nothing of wire formats.  Each carries a
C{wire} cache so that a broadcast to N users of one protocol renders its
bytes once and writes the same bytes N times (see L{rendered}).

Every event the hub emits carries its identity, a L{Stamp} set by the hub
as it emits it: C{time}, the server time it happened (the hub clock's
C{seconds()}, never going backwards), and C{serial}, its number in this
process.  L{Event.id} is the text form, for IRCv3 C{msgid}, history and
de-duplication, made only when asked for: 24 lowercase hex digits, the
time in milliseconds since the epoch (11 digits) then the serial (13
digits), so that ids compare as strings in the order of time, then serial.
The serial's high bits (above L{NODE_SHIFT}) are left for a node number, so
that the processes of a cluster never make the same id (11 digits of
milliseconds last until the year 2527).  One broadcast is one event with
one id, whoever receives it, and the two views of one change (the others'
L{Joined}, the joiner's L{Entered}) share one stamp, as IRC's C{msgid} of a
JOIN is the same for everyone.  Events an adapter builds for
its own replies (a C{/help} text, a refused command) are not the hub's and
carry none (C{id} is C{None}).  Neither the stamp nor the cache takes part
in equality, hashing or C{repr}: an event equals a freshly built one with
the same fields.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast, dataclass_transform

if TYPE_CHECKING:
    from chatsvc.hub.modes import ModeChange


_E = TypeVar("_E")

#: An event's identity: (server time in seconds since the epoch, serial).
#: In that order, so that stamps sort as ids do.
Stamp = tuple[float, int]

#: The stamp of an event the hub did not emit.
UNSTAMPED: Stamp = (0.0, 0)

#: How many low bits of a serial count the events of one process; the bits
#: above them are the node's number in a cluster (0 for a lone server).
NODE_SHIFT = 40


def serials(node: int = 0) -> Iterator[int]:
    """The serials of one process (node C{node} of a cluster): 1, 2, 3...

    Each after the node's number shifted by L{NODE_SHIFT}, so that no two
    nodes count the same serials.
    """
    if not 0 <= node < 1 << (52 - NODE_SHIFT):
        raise ValueError(f"node must be from 0 to {(1 << (52 - NODE_SHIFT)) - 1}")
    return itertools.count((node << NODE_SHIFT) + 1)


#: The serials of this process, shared by every hub in it (tests build many),
#: so that no two of its events have the same id.
PROCESS_SERIALS = serials()


def utc_time(seconds: float) -> str:
    """An event's time as RFC 3339 in UTC, to the millisecond (C{2026-12-03T14:01:02.345Z}).

    The one spelling of it, so that IRC's server-time tag and the web
    protocol's C{time} show the same event at the same millisecond.
    """
    whole, millis = divmod(int(round(seconds * 1000)), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def event_id(stamp: Stamp) -> str:
    """The text form of an event's identity (see the module's docstring)."""
    time, serial = stamp
    return f"{int(time * 1000):011x}{serial:013x}"


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def event(cls: type[_E]) -> type[_E]:
    """C{@dataclass(frozen=True)}, with an C{__init__} that costs half as much.

    Hot spot, event construction (docs/performance.rst, step 9): a frozen
    dataclass's own C{__init__} sets each field through
    C{object.__setattr__}, one call per field, and every message builds an
    event.  This one takes the same arguments and sets the instance's
    C{__dict__} in one call.
    Everything else (immutability, equality, repr, hash) is the
    dataclass's own.  A field whose default factory is C{dict} (the C{wire}
    cache) gets a C{{}} literal rather than a call.
    """
    cls = dataclass(frozen=True)(cls)
    positional: list[str] = []
    keyword: list[str] = []
    defaults: dict[str, Any] = {}
    made = fields(cls)  # type: ignore[arg-type]  # a dataclass from the line above
    for f in made:
        if f.default is not MISSING:
            defaults[f"_default_{f.name}"] = f.default
            parameter = f"{f.name}=_default_{f.name}"
        elif f.default_factory is not MISSING:
            defaults[f"_factory_{f.name}"] = f.default_factory
            parameter = f"{f.name}=None"
        else:
            parameter = f.name
        (keyword if f.kw_only else positional).append(parameter)
    values = ", ".join(
        f"{f.name!r}: {_made(f)} if {f.name} is None else {f.name}"
        if f.default_factory is not MISSING else f"{f.name!r}: {f.name}"
        for f in made
    )
    source = (
        f"def __init__(self, {', '.join(positional + ['*'] + keyword)}):\n"
        f"    _set(self, '__dict__', {{{values}}})\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, {"_set": object.__setattr__, **defaults}, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def _made(f: Field[Any]) -> str:
    """Source for a field's default, made afresh: C{{}} for C{dict}, else a call."""
    return "{}" if f.default_factory is dict else f"_factory_{f.name}()"


def _tags() -> Any:
    # IRCv3 message tags that travel with a message: the client-only ones
    # its sender attached (``+typing``, ``+draft/reply``...), and ``bot``
    # when the sender has user mode +B; as (key, value) pairs, values
    # unescaped.  One shared empty tuple when there are none (most
    # messages); not part of equality, like the mask.
    return field(default=(), compare=False, repr=False, kw_only=True)


def _mask() -> Any:
    # The actor's nick!user@host, for adapters that show it (IRC prefixes);
    # "" when the server itself acts.  Not part of equality, so tests and
    # adapters that do not care can ignore it.
    return field(default="", compare=False, kw_only=True)


@dataclass(frozen=True)
class Event:
    """Base class: an immutable fact to show to one or more participants.

    C{stamp} is its identity, given by the hub when it emits it
    (L{UNSTAMPED} otherwise); C{wire}, its rendered bytes per wire format.
    """

    wire: dict[str, bytes] = field(
        default_factory=dict, compare=False, repr=False, hash=False, kw_only=True
    )
    stamp: Stamp = field(default=UNSTAMPED, compare=False, repr=False, hash=False,
                         kw_only=True)

    @property
    def time(self) -> float:
        """When it happened, in the hub clock's seconds (0.0: not the hub's event)."""
        return self.stamp[0]

    @property
    def serial(self) -> int:
        """Its number among this process's events (0: not the hub's event)."""
        return self.stamp[1]

    @property
    def id(self) -> str | None:
        """Its unique, sortable id, made on demand; C{None} if the hub did not emit it."""
        stamp = self.stamp
        return event_id(stamp) if stamp[1] else None


@event
class RoomMessage(Event):
    """C{sender} said C{text} in C{room}; C{action} for ``/me``.

    C{notice} marks IRC's NOTICE, which clients must never answer
    automatically; wire formats without the distinction ignore it.
    C{tags} are the message's IRCv3 tags (see L{_tags}).  C{status} is
    C{"@"} or C{"+"} for a message only to the room's operators (and voiced
    members), IRC's STATUSMSG (C{PRIVMSG @#room}); C{""} for everyone.
    C{account} is the sender's account when logged in (IRCv3 account-tag;
    not part of equality, like C{mask}); so in L{PrivateMessage},
    L{TagMessage} and the other events a user causes (L{Joined}, L{Left},
    L{Renamed}, L{Kicked}: the kicker's, L{TopicChanged}, L{AwayChanged}).
    """

    room: str
    sender: str
    text: str
    action: bool = False
    mask: str = _mask()
    notice: bool = field(default=False, kw_only=True)
    tags: tuple[tuple[str, str], ...] = _tags()
    status: str = field(default="", kw_only=True)
    account: str | None = field(default=None, compare=False, kw_only=True)


@event
class PrivateMessage(Event):
    """C{sender} said C{text} to C{target} alone; C{action} for ``/me``.

    C{tags} as for L{RoomMessage}.

    C{delayed}: kept while the recipient was offline and delivered when they
    logged in (L{chatsvc.accounts}); its stamp is when it was sent, which
    protocols show (the line protocol as C{[12:01] *alice* text}).
    C{account}: the sender's account, if they were logged in.
    """

    sender: str
    target: str
    text: str
    action: bool = False
    mask: str = _mask()
    notice: bool = field(default=False, kw_only=True)
    tags: tuple[tuple[str, str], ...] = _tags()
    delayed: bool = field(default=False, kw_only=True)
    #: The sender's account at send time (C{None}: a guest): IRC's
    #: account-tag shows it, and the history keys private conversations by
    #: it (L{chatsvc.store.delivery}); not part of equality, like the mask.
    account: str | None = field(default=None, compare=False, repr=False, kw_only=True)


@event
class TagMessage(Event):
    """C{sender} sent only tags to C{target}, a room or a user (IRCv3 TAGMSG).

    Reactions, typing notices, replies' threading: C{tags} (as for
    L{RoomMessage}) are the whole message.  The hub delivers it only to
    connections whose protocol can show tags
    (L{chatsvc.hub.users.MESSAGE_TAGS}); an IRC client that did not
    negotiate message-tags sees nothing of it.
    """

    sender: str
    target: str
    tags: tuple[tuple[str, str], ...]
    mask: str = _mask()
    account: str | None = field(default=None, compare=False, kw_only=True)


@event
class Joined(Event):
    """C{name} entered C{room} (to the others there; the joiner gets L{Entered}).

    C{came_from} is the room they left for this one, when they moved (the
    line protocol's one current room) and that room is not secret.  C{away}
    is their away message if they have one (IRC's away-notify shows it);
    C{realname} and C{account} (C{None}: not logged in) are the record's,
    for IRC's extended-join (not part of equality, like C{mask}).
    """

    room: str
    name: str
    mask: str = _mask()
    came_from: str | None = None
    away: str | None = None
    realname: str = field(default="", compare=False, kw_only=True)
    account: str | None = field(default=None, compare=False, kw_only=True)


@event
class Left(Event):
    """C{name} left C{room}, or the server when C{room} is C{None}.

    C{reason} is C{""} when none was given (a plain part, or a move to
    another room).  C{to} is the room they moved to, when they left this
    one for another (the line protocol's C{/join}) and that one is not
    secret: so a move does not read as leaving the server.  The one who
    left gets L{Exited} instead.
    """

    room: str | None
    name: str
    reason: str
    mask: str = _mask()
    to: str | None = None
    account: str | None = field(default=None, compare=False, kw_only=True)


@event
class Renamed(Event):
    """C{old} is now called C{new}."""

    old: str
    new: str
    mask: str = _mask()
    account: str | None = field(default=None, compare=False, kw_only=True)


@event
class Registered(Event):
    """The recipient is now known as C{name}."""

    name: str


@event
class Who(Event):
    """The names present in C{room}, answering a ``/who``.

    C{operators} and C{voiced} are the names among C{names} with that status.
    """

    room: str
    names: tuple[str, ...]
    operators: tuple[str, ...] = ()
    voiced: tuple[str, ...] = ()


@event
class Notice(Event):
    """Free text from the server (welcome, help, goodbye); the MOTD is L{Motd}."""

    text: str


@event
class Error(Event):
    """A refusal answering what the recipient sent; the connection lives on.

    C{code} is the refusal's stable name (L{chatsvc.hub.errors.ChatError.code},
    listed in docs/user/errors.rst), for programs: C{text} is for people
    and may be reworded.  Not part of equality, so C{Error(text)} still
    equals the refusal it shows.
    """

    text: str
    code: str = field(default="error", compare=False, kw_only=True)


@event
class Motd(Event):
    """The message of the day, one string per line, sent once on registering.

    The hub sends it only when there is one (an adapter with its own way to
    say "none", like IRC's 422, says so when it sees none).
    """

    lines: tuple[str, ...]


@event
class Entered(Event):
    """The recipient is now in C{room}, with C{members} there counting them.

    C{topic} is C{""} when unset.  C{left} names the room they left to come
    here (a line user's move), or is C{None}.
    """

    room: str
    members: int
    topic: str
    left: str | None = None


@event
class Exited(Event):
    """The recipient is no longer in C{room}: they parted, or C{by} kicked them.

    The hub delivers this last, once the change is complete (then, for a
    kick, calls the participant's optional C{kicked} hook).  C{mask} is the
    kicker's.
    """

    room: str
    reason: str
    by: str | None = None
    mask: str = _mask()


@event
class Kicked(Event):
    """C{by} removed C{name} from C{room} (to the others; C{name} gets L{Exited})."""

    room: str
    name: str
    by: str
    reason: str
    mask: str = _mask()
    account: str | None = field(default=None, compare=False, kw_only=True)


@event
class TopicChanged(Event):
    """C{by} set the topic of C{room} to C{topic} (C{""}: cleared); to every member."""

    room: str
    by: str
    topic: str
    mask: str = _mask()
    account: str | None = field(default=None, compare=False, kw_only=True)


@event
class ModesChanged(Event):
    """C{by} changed C{room}'s rules or members' status; to every member.

    C{changes} holds only what actually changed, in order.
    """

    room: str
    by: str
    changes: tuple[ModeChange, ...]
    mask: str = _mask()


@event
class Invited(Event):
    """C{by} invites the recipient, C{name}, to C{room}; C{account} is the
    inviter's (IRCv3 account-tag)."""

    room: str
    by: str
    name: str
    mask: str = _mask()
    account: str | None = field(default=None, compare=False, kw_only=True)


@event
class AwayChanged(Event):
    """C{name} is away with the message C{away}, or back (C{away} is C{None}).

    To those who share a room with them, for IRC's away-notify; clients that
    did not ask for it (and the line protocol's) show nothing.
    """

    name: str
    away: str | None
    mask: str = _mask()
    account: str | None = field(default=None, compare=False, kw_only=True)


@event
class Presence(Event):
    """C{name} came online (C{online}) or went offline: to those who watch it.

    The hub emits it to the watchers of the name (L{chatsvc.hub.watch},
    IRC's MONITOR) when a user of any protocol takes the name (registers or
    renames to it) or gives it up (quits or renames away); C{mask} is the
    user's C{nick!user@host} when online.
    """

    name: str
    online: bool
    mask: str = _mask()


@event
class RealNameChanged(Event):
    """C{name} now has the real name C{realname} (IRCv3 setname).

    To the user and those who share a room with them, on protocols that
    declare L{chatsvc.hub.users.NOTIFY}: others read it in C{/whois}.
    """

    name: str
    realname: str
    mask: str = _mask()


@event
class InviteNotified(Event):
    """C{by} invited C{name} to C{room}: to the room's members (IRCv3 invite-notify).

    The invitee gets L{Invited}; this goes to the other members, on
    protocols that declare L{chatsvc.hub.users.NOTIFY}.
    """

    room: str
    by: str
    name: str
    mask: str = _mask()


@event
class HostChanged(Event):
    """C{name}'s shown username or host is now C{user}@C{host} (IRCv3 chghost).

    A line or web user has no username of their own: their mask's is their
    name, so a rename changes it.  To those who share a room with them, on
    protocols that declare L{chatsvc.hub.users.NOTIFY}; C{mask} is the
    old username and host with the new name, as IRC's CHGHOST source.
    """

    name: str
    user: str
    host: str
    mask: str = _mask()


@event
class AccountChanged(Event):
    """C{name} logged in to C{account}, or out with C{None} (IRCv3 account-notify).

    On any protocol (a line user's C{/login} counts): to the user and those
    who share a room with them, on protocols that declare
    L{chatsvc.hub.users.NOTIFY}; others read it in WHOIS and C{/whois}.
    """

    name: str
    account: str | None
    mask: str = _mask()


@event
class Watched(Event):
    """C{change}, about a user the recipient watches (IRCv3 extended-monitor).

    The hub sends it to watchers of the name (L{chatsvc.hub.watch}) who do
    not share a room with the user, on protocols that declare
    L{chatsvc.hub.users.NOTIFY}: an adapter shows C{change} as it would
    show it from a room mate, if its client asked for that.
    """

    change: Event


@event
class Wallops(Event):
    """A server operator's message, C{sender}'s, to every user who asked for them (+w)."""

    sender: str
    text: str
    mask: str = _mask()


@event
class Topic(Event):
    """The topic of C{room} (C{""}: none), answering a query or on registering."""

    room: str
    topic: str


@event
class RoomList(Event):
    """The rooms the recipient may see: (name, members, topic) each.

    A page of them when there are many (C{/rooms 2}): C{first} is the
    position of the first one listed (from 1), C{total} how many there are
    in all (C{None}: just these), C{next_page} the page that follows, if any.
    """

    rooms: tuple[tuple[str, int, str], ...]
    first: int = 1
    total: int | None = None
    next_page: int | None = None


def scrubbed(event: _E, fix: Callable[[str], str]) -> _E:
    """A copy of C{event} with C{fix} applied to every string it holds.

    Strings inside tuples (L{Who}'s names, L{RoomList}'s rows) and inside
    nested dataclasses (L{ModesChanged}'s changes) too; the copy's C{wire}
    cache starts empty.  For a renderer's slow path, when a field holds what
    no wire line may (see L{chatsvc.protocols.line.wire.line_bytes}).
    """
    return cast(_E, _scrub(event, fix))


def _scrub(value: Any, fix: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, tuple):
        items = [_scrub(item, fix) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _scrub(getattr(value, f.name), fix) for f in fields(value)
                   if f.init and f.name != "wire"}
        if isinstance(value, Event):
            changes["wire"] = {}
        return replace(value, **changes)
    return value


def rendered(event: Event, wire_format: str, render: Callable[[Event], bytes]) -> bytes:
    """Return C{render(event)}, computed once per event and wire format."""
    data = event.wire.get(wire_format)
    if data is None:
        data = event.wire[wire_format] = render(event)
    return data
