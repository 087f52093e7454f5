"""What bounds the work logins and registrations can make the server do.

Wrong passwords are throttled by the hub's guessing throttle, the one
C{--password} and C{/oper} already use (L{chatsvc.conn.limits.FailureThrottle},
per address and per account: three free failures, then 1 s, 2 s, 4 s ... up
to 600 s for an address and 60 s for an account; five failed attempts close
a connection).  This module adds the two things a password hash brings:

  - L{HashGate}: a hash costs tens of milliseconds of CPU, so a connection
    has at most one in progress (a line of fifty C{/login}s is refused, not
    queued: the throttle only learns of a failure once its hash is done),
    and the server at most L{MAX_HASHING} at once;
  - L{REGISTRATIONS}/L{REGISTRATION_WINDOW}: new accounts per address, the
    same token bucket as C{--connect-rate} (L{chatsvc.conn.limits.ConnectThrottle}),
    so a flood of C{/register} fills neither the disk nor the name space.
"""

from __future__ import annotations

from collections.abc import Iterable

from twisted.internet.interfaces import IReactorTime

from chatsvc.conn.limits import ConnectThrottle

#: Accounts one address may register: 3 at once, then one every 20 minutes.
REGISTRATIONS = 3
REGISTRATION_WINDOW = 3600.0

#: Password hashes the server computes at once (each on a thread of the
#: reactor's pool); past it, attempts are refused with "try again".
MAX_HASHING = 4


def registration_throttle(clock: IReactorTime,
                          exempt: Iterable[str] = ()) -> ConnectThrottle:
    """The per-address bucket for new accounts (L{REGISTRATIONS} per L{REGISTRATION_WINDOW})."""
    return ConnectThrottle(clock, REGISTRATIONS, REGISTRATION_WINDOW, exempt)


class HashGate:
    """At most one password hash per connection, and L{MAX_HASHING} in all, at once."""

    def __init__(self, limit: int = MAX_HASHING) -> None:
        self.limit = limit
        self._busy: set[object] = set()

    def enter(self, who: object) -> bool:
        """Take a place for C{who}'s hash; C{False} if it has one or the server is full."""
        if who in self._busy or len(self._busy) >= self.limit:
            return False
        self._busy.add(who)
        return True

    def leave(self, who: object) -> None:
        self._busy.discard(who)

    def __len__(self) -> int:
        return len(self._busy)


__all__ = ["MAX_HASHING", "REGISTRATIONS", "REGISTRATION_WINDOW", "HashGate",
           "registration_throttle"]
