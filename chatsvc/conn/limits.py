"""The rules that keep one client from hurting the others, for every adapter.

Nothing here knows a wire format.  The hub applies the per-server rules
(connections per address, the registration deadline); L{chatsvc.conn.guard.Guard}
applies the per-connection ones (flood gate, output backlog) for whichever
adapter owns the connection.  All timing goes through an C{IReactorTime}, so
tests drive it with L{twisted.internet.task.Clock} instead of sleeping.
"""

from __future__ import annotations

import ipaddress
import resource
import socket
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger, LogLevel

T = TypeVar("T")

log = Logger()

#: TCP keepalive on accepted sockets: first probe after this many idle
#: seconds, then every C{KEEPALIVE_INTERVAL}, giving up after
#: C{KEEPALIVE_COUNT} unanswered probes.  A peer that vanished without a FIN
#: (a laptop lid, a NAT timeout) is found within about four minutes instead of
#: the kernel default of two hours and eleven.
KEEPALIVE_IDLE = 120
KEEPALIVE_INTERVAL = 30
KEEPALIVE_COUNT = 4


#: The listen backlog our listeners ask for (the kernel caps it at
#: net.core.somaxconn).  Twisted's default is 50: in a burst of connections
#: the 51st SYN is dropped and retried a second later, so a storm of 5,000
#: connects on loopback took 27 s instead of 1 s.
LISTEN_BACKLOG = 1024

_BACKLOG_TYPES = frozenset({"tcp", "tcp6", "ssl", "tls", "unix"})


def with_listen_backlog(description: str) -> str:
    """Add C{backlog=LISTEN_BACKLOG} to a server endpoint string that names none."""
    kind = description.split(":", 1)[0].strip().lower()
    if kind in _BACKLOG_TYPES and "backlog=" not in description:
        return f"{description}:backlog={LISTEN_BACKLOG}"
    return description


class TokenBucket:
    """Up to C{burst} tokens, coming back at C{rate} per second on C{clock}.

    The one bucket under the flood gate (lines) and the reply budget
    (bytes); each spends its tokens its own way.
    """

    __slots__ = ("_clock", "_rate", "_burst", "_tokens", "_stamp")

    def __init__(self, clock: IReactorTime, rate: float, burst: float) -> None:
        self._clock = clock
        self._rate = float(rate)
        self._burst = float(burst)
        self._tokens = self._burst
        self._stamp = clock.seconds()

    def _refill(self) -> float:
        """Add the tokens that came back since the last look; return how many there are."""
        now = self._clock.seconds()
        elapsed = now - self._stamp
        self._stamp = now
        if elapsed > 0:
            self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        return self._tokens


class FloodGate(TokenBucket, Generic[T]):
    """A token bucket with fake lag, as ergo and InspIRCd do it.

    A client may send C{burst} lines at once; after that each line costs a
    token and tokens come back at C{rate} per second.  A line that finds no
    token is not refused: it waits in a queue and is handled when a token
    comes back, so a fast typist or a pasted paragraph is merely slowed.
    Only a client that has C{max_delayed} lines already waiting is flooding:
    C{on_flood} is called once and the gate shuts.

    @param clock: what tells the time and runs the delayed lines.
    @param rate: tokens per second; 0 (or a C{burst} of 0) turns the gate
        off, and every line is handled at once.
    @param handle: called with each line, in order, when its turn comes.
    """

    def __init__(
        self,
        clock: IReactorTime,
        rate: float,
        burst: int,
        max_delayed: int,
        handle: Callable[[T], None],
        on_flood: Callable[[], None],
    ) -> None:
        super().__init__(clock, rate, burst)
        self._max_delayed = max_delayed
        self._handle = handle
        self._on_flood = on_flood
        self.enabled = rate > 0 and burst > 0
        # Made when a line first waits: most connections never wait, and even
        # an empty list is 56 bytes of every idle one (a deque, 600; idle
        # memory, docs/performance.rst step 5).
        self._delayed: list[T] | None = None
        self._timer: IDelayedCall | None = None
        self._shut = False
        self._holds = 0

    @property
    def delayed(self) -> int:
        """How many lines are waiting for a token."""
        return len(self._delayed or ())

    def handle_with(self, handle: Callable[[T], None]) -> None:
        """Hand lines to C{handle} from now on, those already waiting included."""
        self._handle = handle

    def hold(self) -> None:
        """Hand nothing on until as many L{release}s: the lines wait in the queue, in order.

        For an answer that completes later (an IRC JOIN's history replay,
        read off the reactor): the next command's replies must not overtake
        it.  Held lines count towards flooding as waiting lines do, with the
        burst's allowance on top, since they would have been handled at once.
        """
        self._holds += 1

    @property
    def holds(self) -> int:
        """How many L{hold}s are in force."""
        return self._holds

    @property
    def holding(self) -> bool:
        """Whether a L{hold} is in force."""
        return self._holds > 0

    def release(self, every: bool = False) -> None:
        """End one L{hold} (C{every}: all of them); once none is left, hand
        the lines held on, as tokens allow."""
        if not self._holds:
            return
        self._holds = 0 if every else self._holds - 1
        if not self._holds and self._delayed and self._timer is None and not self._shut:
            self._release()

    def submit(self, item: T) -> None:
        """Handle C{item} now if a token is free, else queue it (or flood)."""
        if self._shut:
            return
        if self._holds:
            delayed = self._delayed
            if delayed is None:
                delayed = self._delayed = []
            if len(delayed) >= self._max_delayed + self._burst_allowance():
                self.shut()
                self._on_flood()
                return
            delayed.append(item)
            return
        if not self.enabled:
            self._handle(item)
            return
        delayed = self._delayed
        if not delayed:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                self._handle(item)
                return
            if delayed is None:
                delayed = self._delayed = []
        if len(delayed) >= self._max_delayed:
            self.shut()
            self._on_flood()
            return
        delayed.append(item)
        if self._timer is None:
            self._schedule()

    def shut(self) -> None:
        """Drop the waiting lines and handle nothing more (the connection is closing)."""
        self._shut = True
        self._delayed = None
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        wait = max(0.0, (1 - self._tokens) / self._rate)
        self._timer = self._clock.callLater(wait, self._release)

    def _burst_allowance(self) -> int:
        return int(self._burst) if self.enabled else 0

    def _release(self) -> None:
        self._timer = None
        if not self.enabled:  # only held lines wait on an open gate
            delayed = self._delayed
            while delayed and not self._holds and not self._shut:
                self._handle(delayed.pop(0))
            return
        self._refill()
        delayed = self._delayed
        while delayed and self._tokens >= 1 and not self._shut and not self._holds:
            self._tokens -= 1
            self._handle(delayed.pop(0))
        if delayed and not self._shut and not self._holds:
            self._schedule()


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """C{host} as an IP address (IPv4-mapped IPv6 as IPv4), or C{None} if it is not one."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _key_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def address_key(host: str) -> str:
    """What per-address rules count C{host} under: its IPv4 address, its IPv6 /64.

    An IPv4-mapped IPv6 address is its IPv4 address.  A host that is not an
    IP address (a UNIX socket's) is its own key.  No exemption applies: see
    L{HostCounter.key} for the limits that have one.
    """
    address = _ip(host)
    return host if address is None else _key_of(address)


class _Exemptions:
    """Networks that the per-address connection limits do not apply to (C{--per-ip-exempt})."""

    def __init__(self, exempt: Iterable[str]) -> None:
        self.exempt = [ipaddress.ip_network(net, strict=False) for net in exempt]

    def key(self, host: str) -> str | None:
        """The address C{host} is counted under, or C{None} if it is not limited.

        Hosts that are not IP addresses (UNIX sockets) and addresses inside
        C{exempt} are not limited.
        """
        address = _ip(host)
        if address is None or any(address in net for net in self.exempt):
            return None
        return _key_of(address)


class HostCounter(_Exemptions):
    """Connections per client address, for C{--max-per-ip}.

    IPv4 addresses count one by one; IPv6 addresses count per /64, because
    one subscriber usually holds a whole /64 (ergo does the same).  An
    IPv4-mapped IPv6 address counts as its IPv4 address.  Hosts that are not
    IP addresses (UNIX sockets) and addresses inside C{exempt} are not
    limited.

    @param limit: most connections per address; 0 means no limit.
    """

    def __init__(self, limit: int, exempt: Iterable[str] = ()) -> None:
        super().__init__(exempt)
        self.limit = limit
        self._counts: Counter[str] = Counter()

    def add(self, host: str) -> bool:
        """Count a new connection from C{host}; C{False} (and not counted) if over."""
        if not self.limit:
            return True
        key = self.key(host)
        if key is None:
            return True
        if self._counts[key] >= self.limit:
            return False
        self._counts[key] += 1
        return True

    def remove(self, host: str) -> None:
        """Forget a connection from C{host} that L{add} counted."""
        if not self.limit:
            return
        key = self.key(host)
        if key is None or key not in self._counts:
            return
        self._counts[key] -= 1
        if self._counts[key] <= 0:
            del self._counts[key]

    def __len__(self) -> int:
        """How many addresses currently have a connection counted."""
        return len(self._counts)

    def count(self, host: str) -> int:
        """Connections counted for C{host}'s address."""
        key = self.key(host)
        return 0 if key is None else self._counts[key]


#: Most keys (addresses, accounts) one throttle remembers.  Past it the one
#: it heard of least recently is forgotten first: memory stays bounded (a
#: few hundred bytes a key) however many addresses an attacker has.
MAX_TRACKED = 10_000


class ConnectThrottle(_Exemptions):
    """New connections per address over time, for C{--connect-rate}/C{--connect-window}.

    ergo's throttle, as a token bucket: an address may open C{rate}
    connections at once, and one more every C{window / rate} seconds after
    that, so never more than C{rate} per C{window} in the long run (ergo's
    default is 32 per 10 minutes).  Keyed like L{HostCounter}, with the same
    exemptions.  Each address costs one number while its bucket is not full
    again; a full bucket is forgotten.

    @param rate: connections per C{window}; 0 (or a C{window} of 0) turns
        the throttle off.
    """

    def __init__(self, clock: IReactorTime, rate: int, window: float,
                 exempt: Iterable[str] = (), max_keys: int = MAX_TRACKED) -> None:
        super().__init__(exempt)
        self._clock = clock
        self.enabled = rate > 0 and window > 0
        self._interval = window / rate if self.enabled else 0.0
        self._tolerance = window - self._interval
        self._max_keys = max_keys
        #: key -> the time its bucket is full again (GCRA's "theoretical
        #: arrival time"), oldest first.
        self._due: OrderedDict[str, float] = OrderedDict()

    def take(self, host: str) -> float:
        """Count a new connection from C{host}: 0 if it may open, else seconds to wait.

        A refused connection is not counted, so the wait it is told is true.
        """
        if not self.enabled:
            return 0.0
        key = self.key(host)
        if key is None:
            return 0.0
        now = self._clock.seconds()
        due = self._due
        while due:  # forget the addresses whose bucket is full again
            first = next(iter(due))
            if due[first] > now:
                break
            del due[first]
        full_at = max(due.get(key, now), now)
        early = full_at - now - self._tolerance
        if early > 0:
            return early
        due[key] = full_at + self._interval
        due.move_to_end(key)
        if len(due) > self._max_keys:
            due.popitem(last=False)
        return 0.0

    def __len__(self) -> int:
        """How many addresses are being tracked."""
        return len(self._due)


#: Password guessing (the server password, /oper; later account logins):
#: three failures are free, then each one shuts the address (and the
#: account) for 1 s, 2 s, 4 s ... up to ADDRESS_BACKOFF_CAP for an address
#: and ACCOUNT_BACKOFF_CAP for an account; a key is forgotten an hour after
#: its last failure.  One address then gets 18 guesses in its first hour and
#: 6 an hour after that; an account, from any number of addresses, 60 an
#: hour, and its owner waits at most a minute when someone else guessed.
#: Constants, not options: nobody who knows the password ever meets them.
FREE_FAILURES = 3
FIRST_BACKOFF = 1.0
ADDRESS_BACKOFF_CAP = 600.0
ACCOUNT_BACKOFF_CAP = 60.0
FORGET_FAILURES = 3600.0

#: A connection's failed (or refused) password attempts before it is closed.
FAILURES_PER_CONNECTION = 5

#: Log lines of one kind (connections, refusals, failed passwords, drops,
#: renames) per LOG_INTERVAL seconds before the rest are only counted; the
#: connection lines get more room, as a busy server's ordinary traffic.
LOG_INTERVAL = 10.0
LOG_LINES = 10
CONNECTION_LOG_LINES = 50


class FailureThrottle:
    """Failed password attempts per key (an address, an account), with back-off.

    The first C{free} failures of a key cost nothing; each one after that
    shuts the key for C{base} seconds, doubling with every failure up to
    C{cap}.  While a key is shut the caller refuses attempts without
    checking the password, so a guesser gets a handful of guesses an hour
    however fast it sends.  Attempts refused while shut are not failures:
    they do not lengthen the wait, which is what the person locked out by
    someone else's guessing needs.  A key is forgotten C{forget} seconds
    after its last failure, and at most C{max_keys} are kept (the one that
    failed least recently goes first).
    """

    def __init__(self, clock: IReactorTime, *, free: int = FREE_FAILURES,
                 base: float = FIRST_BACKOFF, cap: float = ADDRESS_BACKOFF_CAP,
                 forget: float = FORGET_FAILURES, max_keys: int = MAX_TRACKED) -> None:
        self._clock = clock
        self.free = free
        self.base = base
        self.cap = cap
        self.forget = forget
        self._max_keys = max_keys
        #: key -> [failures, time of the last, shut until], least recent first.
        self._entries: OrderedDict[str, list[float]] = OrderedDict()

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            first = next(iter(entries))
            if entries[first][1] + self.forget > now:
                break
            del entries[first]

    def wait(self, key: str) -> float:
        """Seconds before C{key} may try again; 0 if it may try now."""
        now = self._clock.seconds()
        self._expire(now)
        entry = self._entries.get(key)
        return 0.0 if entry is None else max(0.0, entry[2] - now)

    def failures(self, key: str) -> int:
        """Failures remembered for C{key}."""
        self._expire(self._clock.seconds())
        entry = self._entries.get(key)
        return 0 if entry is None else int(entry[0])

    def failed(self, key: str) -> float:
        """Count a failure for C{key}; return how long it is now shut (0: not)."""
        now = self._clock.seconds()
        self._expire(now)
        entries = self._entries
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = [0, now, now]
            if len(entries) > self._max_keys:
                entries.popitem(last=False)
        else:
            entries.move_to_end(key)
        entry[0] += 1
        entry[1] = now
        beyond = int(entry[0]) - self.free
        if beyond <= 0:
            return 0.0
        delay = self.cap if beyond > 32 else min(self.cap, self.base * 2 ** (beyond - 1))
        entry[2] = now + delay
        return delay

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._entries)


class LogBudget:
    """At most C{lines} log lines of one kind per C{interval} seconds.

    Past the budget, lines are counted instead of written; the first line
    of that kind after the interval is preceded by one saying how many were
    left out (and L{flush} says it at once, at shutdown).  A storm of
    connections or guesses then costs the log a bounded number of bytes a
    second, while a quiet server logs everything.  No timer: an idle server
    has nothing scheduled.

    @param what: names the kind in the summary line ("connection lines").
    """

    def __init__(self, clock: IReactorTime, what: str, lines: int, interval: float) -> None:
        self._clock = clock
        self.what = what
        self.lines = lines
        self.interval = interval
        self._start = float("-inf")
        self._count = 0
        self.suppressed = 0
        self._level = LogLevel.info
        self._log: Logger | None = None

    def emit(self, log: Logger, level: LogLevel, format: str, **kwargs: object) -> None:
        """Log one line with C{log} at C{level}, unless over the budget."""
        now = self._clock.seconds()
        if now - self._start >= self.interval:
            self.flush()
            self._start, self._count = now, 0
        if self._count < self.lines:
            self._count += 1
            log.emit(level, format, **kwargs)
            return
        self.suppressed += 1
        self._log = log
        if level > self._level:
            self._level = level

    def info(self, log: Logger, format: str, **kwargs: object) -> None:
        """L{emit} at C{info}."""
        self.emit(log, LogLevel.info, format, **kwargs)

    def warn(self, log: Logger, format: str, **kwargs: object) -> None:
        """L{emit} at C{warn}."""
        self.emit(log, LogLevel.warn, format, **kwargs)

    def flush(self) -> None:
        """Log how many lines were left out, if any, now."""
        log, count, level = self._log, self.suppressed, self._level
        if log is None or not count:
            return
        self.suppressed, self._level, self._log = 0, LogLevel.info, None
        log.emit(level, "{count} similar {what} suppressed in {interval:g} s",
                 count=count, what=self.what, interval=self.interval)


def check_networks(values: Iterable[str]) -> list[str]:
    """Return C{values} if each is an IP address or network, else raise C{ValueError}."""
    out = []
    for value in values:
        value = value.strip()
        if value:
            ipaddress.ip_network(value, strict=False)
            out.append(value)
    return out


def socket_of(transport: object) -> socket.socket | None:
    """The TCP socket under C{transport}, looking through TLS wrappers."""
    for _ in range(4):
        if transport is None:
            return None
        get_handle = getattr(transport, "getHandle", None)
        if get_handle is not None:
            handle = get_handle()
            if isinstance(handle, socket.socket):
                return handle
        transport = getattr(transport, "transport", None)
    return None


def enable_keepalive(transport: object) -> bool:
    """Turn on TCP keepalive with short timers; C{False} if not a TCP socket."""
    sock = socket_of(transport)
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", KEEPALIVE_IDLE),
                            ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
                            ("TCP_KEEPCNT", KEEPALIVE_COUNT)):
            option = getattr(socket, name, None)
            if option is not None:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
    except OSError:
        return False  # the peer is already gone; connectionLost follows
    return True


#: File descriptors kept for what is not a client connection: listeners,
#: log files, the reactor's own, Twisted's EMFILE reserve.
FD_MARGIN = 64


def check_fd_limit(max_clients: int) -> int:
    """Raise the open-file limit for C{max_clients} connections; warn if short.

    Returns the limit now in force.
    """
    wanted = max_clients + FD_MARGIN
    limit = raise_fd_limit(wanted)
    if max_clients and limit < wanted:
        log.warn("open-file limit is {limit}: fewer than --max-clients {clients} "
                 "connections fit; raise it (ulimit -n, systemd LimitNOFILE=)",
                 limit=limit, clients=max_clients)
    return limit


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft limit on open files towards C{wanted}; return the new limit.

    The soft limit is often 1024 while the hard limit is far higher; a
    server that means to hold C{--max-clients} connections should use what
    it is allowed.  It never lowers the limit and never exceeds the hard one.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


# -- replies to small requests ------------------------------------------------

#: Bytes of bulk replies (room lists, WHO, NAMES, ban lists) one connection
#: may receive at once, and then per second.  A list request is a few bytes
#: and its answer can be thousands of times that (a full LIST of 550 rooms
#: is some 220 KB for 6 bytes), so the flood gate, which counts lines, does
#: not bound it.  The burst is sized for a client that joins twenty
#: 100-member channels and asks WHO and the ban list of each (irssi and
#: weechat do, about 200 KB); the rate holds a loop of LIST to 16 KiB/s.
BULK_REPLY_BURST = 256 * 1024
BULK_REPLY_RATE = 16 * 1024

#: Most rooms one IRC LIST shows (then a notice says how to narrow it:
#: ELIST masks and member counts).  A hundred is more than a person reads in
#: a channel list and at most about 50 KB even with the longest topics.
MAX_LIST_REPLIES = 100
#: Rooms per page of the line protocol's C{/rooms} (C{/rooms 2} for the next
#: page): one line a terminal can still show, at most about 25 KB.
ROOMS_PER_PAGE = 50
#: Most users one WHO by mask shows to anyone but a server operator, who
#: may need more to find every connection of an abuser.  A mask (C{WHO *},
#: C{WHO *.example}) is a search for someone; solanum stops at 500, but a
#: hundred answers already mean the search was too broad.
MAX_WHO_REPLIES = 100


class ReplyBudget(TokenBucket):
    """A token bucket in bytes for the answers to list requests.

    Shared by every request whose answer grows with the server rather than
    with the request (LIST and C{/rooms}, WHO and C{/who}, NAMES, ban-list
    queries), so that however they are mixed one connection receives at most
    C{burst} bytes at once and C{rate} bytes a second of them.  A request is
    answered while any budget is left and its whole answer is then charged
    (the budget may go below zero by one answer, which the per-request caps
    keep small), so an answer is never cut in the middle.

    Adapters make one lazily, on a connection's first bulk request: idle
    connections and the message path (say, whisper, deliver) never touch it.

    @param clock: the hub's clock.
    """

    __slots__ = ()

    def __init__(self, clock: IReactorTime, rate: float = BULK_REPLY_RATE,
                 burst: float = BULK_REPLY_BURST) -> None:
        super().__init__(clock, rate, burst)

    def allows(self) -> bool:
        """Whether a bulk answer may be sent now (some budget is left)."""
        return self._refill() > 0

    def spend(self, size: int) -> None:
        """Charge C{size} bytes that were sent."""
        self._tokens = self._refill() - size

    def wait(self) -> float:
        """Seconds until L{allows} is true again (0 if it is now)."""
        tokens = self._refill()
        if tokens > 0:
            return 0.0
        return (1 - tokens) / self._rate
