"""How the web adapter's output reaches a browser: whole frames on the TCP connection.

Twisted's WebSocket transport frames every message itself: C{sendTextMessage}
has wsproto encode the text, build the header and copy the payload twice,
for every recipient of every message (15 times what a line recipient
costs: docs/performance.rst, step 19).  The adapter instead caches each event's whole frame
(L{chatsvc.protocols.web.wire.framed}) and L{FrameSink} writes those bytes
on the connection under the WebSocket, through the same send queue and
socket fast path as a line or IRC user (L{chatsvc.conn.sinks.StreamSink}),
so the backlog bound and the drop policy are the ones every protocol has.

Writing frames beside wsproto is safe, and L{frames_of} checks the
conditions once per connection (else L{MessageFrames} sends through
Twisted's transport, slower but the same on the wire):

  - Every write is whole frames, from the reactor thread.  Twisted's own
    writes (the pong it answers a ping with, our pings, the close) are whole
    frames too, through C{transport.write}; ours go through
    C{transport.write} or, when Twisted holds nothing unsent, straight to
    the socket, so bytes of two frames never interleave.
  - The only state wsproto keeps about outgoing data is the opcode of a
    fragmented message in progress; Twisted sends whole messages only, so
    there is none between its writes, and ours are never inside one.
  - No extension is negotiated (Twisted accepts none; checked), so a frame
    needs no compression and no reserved bits.
  - After either side's close frame wsproto's state is no longer C{OPEN}
    and nothing more is written, as wsproto itself would refuse to; closing
    goes through wsproto, so its state says what was sent.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import ITransport
from twisted.logger import Logger
from wsproto.connection import Connection, ConnectionState
from wsproto.utilities import LocalProtocolError

from chatsvc.conn.sinks import MessageSink, StreamSink
from chatsvc.protocols.web.wire import payload_of

#: WebSocket close codes (RFC 6455, 7.4.1).
NORMAL_CLOSURE = 1000

#: The attribute of Twisted's WebSocket wire protocol holding its wsproto
#: connection; tests/test_web_site.py checks it is still there.
WSPROTO_CONNECTION = "_wsconn"

_OPEN = ConnectionState.OPEN
_log = Logger()
_warned = False


def frames_of(websocket: Any) -> Connection | None:
    """The wsproto connection of Twisted's WebSocket transport, if frames may be written beside it.

    C{None} (and a warning, once) for a transport that is not Twisted's or
    whose connection negotiated an extension: its output then goes through
    L{MessageFrames}.
    """
    connection = getattr(websocket, WSPROTO_CONNECTION, None)
    if (isinstance(connection, Connection) and not connection.client
            and getattr(getattr(connection, "_proto", None), "extensions", None) == []):
        return connection
    global _warned
    if not _warned:
        _warned = True
        _log.warn("web: Twisted's WebSocket transport has no plain wsproto connection "
                  "({kind}): each message is framed per recipient, without the fast "
                  "path of docs/performance.rst step 19", kind=type(websocket).__qualname__)
    return None


class FrameSink(StreamSink):
    """Whole WebSocket frames straight onto the connection under the WebSocket.

    Hot spot, the send path (docs/performance.rst, step 19): L{StreamSink}'s
    own write and gathered send, behind one test of wsproto's state.

    @param transport: the TCP (or TLS) connection.
    @param websocket: Twisted's WebSocket transport over it, which sends
        the close frame.
    @param connection: its wsproto connection (L{frames_of}).
    @ivar code: the WebSocket close code a graceful L{close} sends.
    """

    __slots__ = ("_websocket", "_connection", "code")

    def __init__(self, transport: ITransport, websocket: Any, connection: Connection) -> None:
        super().__init__(transport)
        self._websocket = websocket
        self._connection = connection
        self.code = NORMAL_CLOSURE

    def send_turn(self, data: bytes) -> None:
        if self._connection.state is _OPEN:
            StreamSink.send_turn(self, data)

    def write(self, data: bytes) -> None:
        if self._connection.state is _OPEN:
            self._transport.write(data)

    def close(self) -> None:
        """The close frame (with L{code}) through wsproto, then close the connection."""
        try:
            self._websocket.loseConnection(self.code)
        except LocalProtocolError:  # the peer's close was answered already
            self._transport.loseConnection()


class MessageFrames(MessageSink):
    """The slow path: each frame's payload through Twisted's C{sendTextMessage}.

    For a WebSocket transport L{frames_of} refuses; it never raises once the
    peer's close is answered (wsproto refuses to send until the connection
    is gone, on the next reactor turn, while the hub may be mid-broadcast).

    @ivar code: the WebSocket close code a graceful L{close} sends.
    """

    __slots__ = ("_websocket", "_connection", "code")

    def __init__(self, transport: ITransport, websocket: Any) -> None:
        abort = getattr(transport, "abortConnection", transport.loseConnection)
        super().__init__(websocket, abort=abort, unsent=StreamSink(transport).unsent)
        self._websocket = websocket
        self._connection = transport
        self.code = NORMAL_CLOSURE

    def write(self, data: bytes) -> None:
        try:
            self._websocket.sendTextMessage(payload_of(data).decode("utf-8"))
        except LocalProtocolError:
            pass  # closed by the peer: connectionLost follows

    def close(self) -> None:
        try:
            self._websocket.loseConnection(self.code)
        except LocalProtocolError:
            self._connection.loseConnection()
