"""The hub's record of each connected user: what every adapter reads of anyone.

A connection (L{chatsvc.hub.participant.Participant}) is where a user's
events go; its L{User} is what is known of them.  The hub creates the record
when it admits the connection (L{chatsvc.hub.factory.ChatFactory.attach})
and is the only code that changes it, through its operations (C{register},
C{set_away}, C{set_user_modes}, C{describe}, ...), so that a user of any
protocol looks the same to everyone: a line user's C{/away} shows in IRC's
WHOIS, and an IRC user's real name in the line protocol's C{/whois}.  A user
on another node of a cluster will be a record without a local connection.
Adapters read records; they never read another connection's attributes.
"""

from __future__ import annotations

from collections.abc import Set
from typing import NamedTuple

#: Capabilities a protocol declares (L{User.capabilities}) for what only
#: some clients understand, so that the hub and other adapters ask the
#: record instead of testing which class a connection is.
CTCP = "ctcp"  # answers CTCP requests (VERSION, PING...) as IRC clients do
WALLOPS = "wallops"  # can be shown server operators' WALLOPS (with user mode +w)
MESSAGE_TAGS = "message-tags"  # can show IRCv3 message tags, and TAGMSG (IRC clients)
#: Can show notifications only some clients ask for (IRCv3 setname,
#: invite-notify and account-notify: L{chatsvc.events.RealNameChanged},
#: L{chatsvc.events.InviteNotified}, L{chatsvc.events.AccountChanged});
#: the hub sends those events only to such protocols, whose adapter shows
#: them to the clients that asked.
NOTIFY = "notify"

#: User modes a user may set on themselves (IRC's C{MODE nick +iwB}):
#: C{i} hides them from WHO and NAMES of those who share no room with them,
#: C{w} asks for WALLOPS, C{B} says they are a bot (IRCv3 bot mode: WHO,
#: WHOIS and the C{bot} tag on their messages show it, on every protocol).
#: Server operator status (C{o}) comes with C{/oper}.
SETTABLE_USER_MODES = frozenset("iwB")

#: The user mode of a bot.
BOT_MODE = "B"

#: No user modes: one shared empty set, since an empty frozenset is 216
#: bytes and most users never set a mode (idle memory, docs/performance.rst
#: step 5).
NO_MODES: frozenset[str] = frozenset()

#: Longest away message, in characters (IRC's AWAYLEN).
MAX_AWAY_LENGTH = 200


class User:
    """One connected user, as the hub knows them; changed only by the hub.

    C{name} is C{None} until the user registers.  C{user} is IRC's username
    (for C{nick!user@host} masks; the name when a protocol has none) and
    C{realname} its "real name" (the name when none was given): read them
    through L{ident} and L{real_name}.  C{account} is the account logged in
    to, if any.  C{away} is the away message, C{None} when present.
    C{secure} says the connection is encrypted (TLS); C{certfp} is the
    SHA-256 fingerprint (hex) of the client certificate it showed, if any
    (L{chatsvc.conn.certificates}), set once its handshake is done; C{signon} and
    C{last_active} are hub clock times (connected; last sent a message), for
    IRC's idle time.
    """

    __slots__ = ("name", "host", "protocol", "secure", "certfp", "capabilities", "user",
                 "realname", "account", "away", "modes", "signon", "last_active")

    def __init__(self, host: str, protocol: str, *, secure: bool = False,
                 capabilities: Set[str] = frozenset(), signon: float = 0.0) -> None:
        self.name: str | None = None
        self.host = host
        self.protocol = protocol
        self.secure = secure
        self.certfp: str | None = None
        self.capabilities = frozenset(capabilities)
        self.user: str | None = None
        self.realname = ""
        self.account: str | None = None
        self.away: str | None = None
        self.modes: frozenset[str] = NO_MODES
        self.signon = signon
        self.last_active = signon

    @property
    def ident(self) -> str:
        """The C{user} part of this user's mask: IRC's username, else the name."""
        return self.user or self.name or "*"

    @property
    def real_name(self) -> str:
        """IRC's "real name" if one was given, else the name."""
        return self.realname or self.name or ""

    @property
    def invisible(self) -> bool:
        """User mode C{+i}: hidden from those who share no room with them."""
        return "i" in self.modes

    @property
    def bot(self) -> bool:
        """User mode C{+B}: a program, not a person (IRCv3 bot mode)."""
        return BOT_MODE in self.modes

    def __repr__(self) -> str:
        return f"<User {self.name or '(unregistered)'} {self.protocol} from {self.host}>"


class HubStats(NamedTuple):
    """Counts for IRC's LUSERS (and, later, metrics)."""

    #: Registered users.
    users: int
    #: Of them, with user mode C{+i}.
    invisible: int
    #: Server operators.
    operators: int
    #: Connections not registered yet.
    unregistered: int
    rooms: int
    #: The most users registered at once since the server started.
    peak: int
