"""One connection's share of the limits, for any protocol adapter.

Every adapter (line, IRC, WebSocket) owns one L{Guard} per connection and
routes through it: output goes through L{Guard.write} (a bounded
L{SendQueue}), every line or message the client sends goes through
L{Guard.received} (the flood gate), and closing goes through L{Guard.close}.
So "too slow", "flooding", the per-address limit and the registration
deadline mean the same thing whatever protocol the client speaks, and the
others see the same reason when the offender leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IDelayedCall, ISSLTransport, ITransport
from twisted.logger import Logger

from chatsvc.conn import certificates
from chatsvc.conn.limits import FloodGate, enable_keepalive
from chatsvc.conn.sendq import SendQueue
from chatsvc.conn.sinks import Sink, StreamSink
from chatsvc.hub.counts import BACKLOG, FLOOD
from chatsvc.hub.errors import ChatError, Flooding
from chatsvc.hub.hosts import peer_host
from chatsvc.hub.participant import Participant

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory

#: Seconds a connection we closed gracefully may take to read its last
#: lines before it is cut off: a peer that stopped reading would otherwise
#: hold its socket open forever (Twisted waits for the buffer to drain).
CLOSE_LINGER = 10.0

#: Seconds a client's output backlog may stay over C{--max-backlog} before
#: it is too slow (see L{chatsvc.conn.sendq}); four times the limit is too slow
#: at once.
SLOW_GRACE = 5.0

#: Leave reasons the hub and the others see.
TOO_SLOW = "too slow"
FLOODING = "flooding"
CONNECTION_LOST = "connection lost"


class Guard:
    """Bounded output, flood gate and closing for one connection.

    @param hub: the hub; its C{settings} give the limits, its C{clock} the time.
    @param participant: the adapter's participant (usually the protocol).
    @param transport: the connection's transport.
    @param handle: called with each line (or message) the client sent, once
        the flood gate lets it through; never called after L{close}.
    @param sink: where output goes (L{chatsvc.conn.sinks}); by default a
        L{StreamSink} over C{transport}.  A message transport (WebSocket)
        passes its own, and gets the same backlog policy.
    """

    log = Logger()
    __slots__ = (
        "hub", "participant", "transport", "reason", "reason_is_users", "closing",
        "attached", "_handle", "_linger", "_sendq", "write", "_gate", "received",
    )

    def __init__(
        self,
        hub: ChatFactory,
        participant: Participant,
        transport: ITransport,
        handle: Callable[[Any], None],
        sink: Sink | None = None,
    ) -> None:
        settings = hub.settings
        self.hub = hub
        self.participant = participant
        self.transport = transport
        self.reason = CONNECTION_LOST
        #: Whether L{reason} is the user's own words (a quit message): shown
        #: to the others but, being message content, never logged.
        self.reason_is_users = False
        self.closing = False
        self.attached = False
        self._handle = handle
        self._linger: IDelayedCall | None = None
        self._sendq = SendQueue(StreamSink(transport) if sink is None else sink,
                                settings.max_backlog, self._too_slow,
                                hub.clock, SLOW_GRACE, hub.counts.output)
        #: Send bytes to the client, within the backlog limit.  Hot spot, the
        #: send path (docs/performance.rst, step 3): the send queue's own
        #: method rather than a wrapper, as it runs once per recipient of
        #: every message.
        self.write: Callable[[bytes], None] = self._sendq.write
        # The gate hands lines straight to the adapter: close() and lost()
        # shut it, so once closing it passes nothing on, and a line costs no
        # wrapper calls on its way in.
        self._gate: FloodGate[Any] = FloodGate(
            hub.clock, settings.flood_rate, settings.flood_burst, settings.flood_queue,
            handle, self._flooding,
        )
        #: Pass one line the client sent through the flood gate to C{handle};
        #: nothing passes once closing.
        self.received: Callable[[Any], None] = self._gate.submit

    def start(self, host: str | None = None) -> bool:
        """Attach to the hub; on refusal tell the client why and close.

        Call it from C{connectionMade}, after the adapter is ready to deliver.
        The hub's record of the user starts with the transport's peer address
        (or C{host}, the client's address a trusted proxy forwarded) and
        whether it is TLS.
        """
        transport = self.transport
        enable_keepalive(transport)
        secure = ISSLTransport.providedBy(transport)
        if secure:
            certificates.ask_for_certificate(transport)
        try:
            self.hub.attach(self.participant, peer_host(transport) if host is None else host,
                            secure=secure)
        except ChatError as refusal:
            self.participant.deliver(refusal.as_event())
            self.close(str(refusal))
            return False
        self.attached = True
        if secure:
            self.handshake_completed()  # a WebSocket's was, before its upgrade
        return True

    def handshake_completed(self) -> None:
        """The TLS handshake is done (Twisted's C{IHandshakeListener}, through
        the adapter): the client's certificate, if it showed one, is known."""
        if not self.attached or self.participant.record.certfp is not None:
            return
        fingerprint = certificates.fingerprint_of(self.transport)
        if fingerprint is not None:
            self.hub.certified(self.participant, fingerprint)

    # -- the two directions --------------------------------------------------

    def received_free(self, item: Any) -> None:
        """Handle at once, uncounted, a line the protocol requires (IRC PONG)."""
        if not self.closing:
            self._handle(item)

    def hold_input(self) -> None:
        """Handle none of the client's lines until L{release_input}: an answer
        still in progress (an IRC JOIN's history replay, a REGISTER hashing
        its password) must not be overtaken by the next command's.  They
        wait in the flood gate, and holds nest; reading from the socket
        pauses meanwhile, so what waits is at most one read's lines."""
        if not self._gate.holding:
            self._reading("pauseProducing")
        self._gate.hold()

    @property
    def input_held(self) -> bool:
        """Whether L{hold_input} is in force."""
        return self._gate.holding

    def release_input(self, every: bool = False) -> None:
        """End one L{hold_input} (C{every}: all); with none left, handle the
        lines held meanwhile, in order."""
        if self.closing or not self._gate.holding:
            return
        if every or self._gate.holds == 1:
            self._reading("resumeProducing")  # before the lines: one may hold again
        self._gate.release(every)

    def _reading(self, method: str) -> None:
        # TCP and TLS transports are push producers; a test's may not be.
        call = getattr(self.transport, method, None)
        if call is not None:
            call()

    def handle_with(self, handle: Callable[[Any], None]) -> None:
        """Hand the client's lines to C{handle} from now on (after the server password).

        Lines the flood gate is still holding go to C{handle} too: they were
        sent after the line that changed it.
        """
        self._handle = handle
        self._gate.handle_with(handle)

    # -- closing -------------------------------------------------------------

    def close(self, reason: str, abort: bool = False) -> None:
        """Close on the server's initiative: send what is queued, then hang up.

        C{reason} is what the others see when this user leaves.  A peer that
        does not read its last lines within L{CLOSE_LINGER} seconds is cut off.
        """
        if self.closing:
            if abort:
                self._sendq.close(abort=True)
            return
        self.closing = True
        self.reason = reason
        self._gate.shut()
        self._sendq.close(abort=abort)
        if not abort:
            self._linger = self.hub.clock.callLater(CLOSE_LINGER, self._cut_off)

    def quit(self, message: str) -> None:
        """The user asked to leave; C{message} is their own words for the others."""
        if not self.closing:
            self.reason_is_users = True
        self.close(message)

    @property
    def logged_reason(self) -> str:
        """The reason fit for the log: a user's quit message is their content."""
        return "quit" if self.reason_is_users else self.reason

    def lost(self) -> None:
        """The connection has closed, however it happened: leave the hub.

        Call it from the adapter's C{connectionLost}.
        """
        self.closing = True
        self._gate.shut()
        if self._linger is not None:
            if self._linger.active():
                self._linger.cancel()
            self._linger = None
        if self.attached:
            self.attached = False
            self.hub.detach(self.participant, self.reason,
                            logged_reason=self.logged_reason)

    def _cut_off(self) -> None:
        self._linger = None
        self._sendq.close(abort=True)

    def _too_slow(self) -> None:
        self.hub.drop_lines.warn(self.log, "{host} ({name}) dropped: outbound backlog over "
                                 "{limit} bytes", host=self.participant.host,
                                 name=self.participant.name,
                                 limit=self.hub.settings.max_backlog)
        self.hub.counts.drops[BACKLOG] += 1
        self.close(TOO_SLOW, abort=True)

    def _flooding(self) -> None:
        self.hub.drop_lines.warn(self.log, "{host} ({name}) dropped: flooding",
                                 host=self.participant.host, name=self.participant.name)
        self.hub.counts.drops[FLOOD] += 1
        self.participant.deliver(Flooding().as_event())
        self.close(FLOODING)
