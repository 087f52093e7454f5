"""What the hub counts as it runs, for metrics: plain integers, read at scrape time.

The hub already knows its present (L{ChatFactory.stats}: users, rooms,
operators); these are the totals since the start that nothing else keeps.
Each is a plain addition where the thing happens once: per connection
(accepted, refused, registered, dropped) or per message (messages in, and
deliveries, by the size of the audience once per message, never in the
fan-out loop), so counting costs the hot paths of docs/performance.rst
nothing per recipient.  L{chatsvc.metrics} turns them into Prometheus
metrics; nothing here knows Prometheus.
"""

from __future__ import annotations

from collections import Counter

from chatsvc.conn.sendq import OutputCounts
from chatsvc.hub.errors import ConnectingTooFast, ServerFull, ShuttingDown, TooManyConnections

#: Why a connection was dropped by the server (the C{reason} label of
#: C{chatsvc_drops_total}): a bounded set, never a user's words.
FLOOD = "flood"
BACKLOG = "backlog"
REGISTER_TIMEOUT = "register-timeout"
PING_TIMEOUT = "ping-timeout"
FAILED_ATTEMPTS = "failed-attempts"
KILLED = "killed"
DROP_REASONS = (FLOOD, BACKLOG, REGISTER_TIMEOUT, PING_TIMEOUT, FAILED_ATTEMPTS, KILLED)

#: The protocols chatsvc ships (each adapter's C{protocol_name}), counted
#: from the start at zero so that a rate over them is defined at once.
PROTOCOLS = ("line", "IRC", "web")

#: The error codes a connection can be refused with on arrival
#: (L{chatsvc.hub.errors.Refused}), counted from zero likewise.
REFUSALS = tuple(refusal.code for refusal in (ServerFull, TooManyConnections,
                                              ConnectingTooFast, ShuttingDown))


class Counts:
    """The hub's running totals (L{chatsvc.hub.factory.ChatFactory.counts}).

    @ivar room_messages: messages said in rooms (actions and notices too).
    @ivar private_messages: private messages (and private notices).
    @ivar deliveries: recipients of those messages: a room message counts
        its room's members but the sender (unless echoed), a private
        message one (two when echoed to its sender).
    @ivar registrations: first registrations (a rename is not one).
    @ivar accepted: connections admitted, by protocol.
    @ivar connected: connections open now, by protocol (so that a scrape
        need not walk them).
    @ivar refused: connections refused on arrival, by the refusal's error
        code (C{server-full}, C{too-many-connections}...).
    @ivar drops: connections the server dropped, by reason (L{DROP_REASONS}).
    @ivar output: bytes the connections' send queues hold, and sent but for
        the gathered turns of plain sockets, which the reactor's batch
        counts (L{chatsvc.conn.sendq.gathered_bytes}).
    """

    __slots__ = ("room_messages", "private_messages", "deliveries", "registrations",
                 "accepted", "connected", "refused", "drops", "output")

    def __init__(self) -> None:
        self.room_messages = 0
        self.private_messages = 0
        self.deliveries = 0
        self.registrations = 0
        self.accepted: Counter[str] = Counter(dict.fromkeys(PROTOCOLS, 0))
        self.connected: Counter[str] = Counter(dict.fromkeys(PROTOCOLS, 0))
        self.refused: Counter[str] = Counter(dict.fromkeys(REFUSALS, 0))
        self.drops: Counter[str] = Counter(dict.fromkeys(DROP_REASONS, 0))
        self.output = OutputCounts()
