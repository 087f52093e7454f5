"""The WebSocket adapter: one browser connection as a hub participant.

Twisted's C{twisted.web.websocket} (the C{twisted[websocket]} extra) does
the handshake, reads the client's frames and sends the control frames;
this class is a C{WebSocketProtocol} (the methods it calls:
C{negotiationStarted}, C{textMessageReceived}, ...) and a hub participant,
like the line and IRC adapters, over the same plumbing: a L{Guard} whose
sink writes whole frames, each event's framed once for all its recipients
(L{chatsvc.protocols.web.sink}), so the flood gate (one message counts as
one line), the backlog bound, the connection limits and the registration
deadline mean what they mean for telnet and IRC users.  The JSON format is
in L{chatsvc.protocols.web.wire} and docs/user/web.rst.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from twisted.internet.interfaces import IDelayedCall, ITransport
from twisted.logger import Logger
from twisted.python.failure import Failure
from wsproto.utilities import LocalProtocolError

from chatsvc.conn.guard import Guard
from chatsvc.conn.holding import Holding
from chatsvc.conn.limits import ReplyBudget
from chatsvc.conn.sinks import MessageTransport
from chatsvc.events import (
    Entered,
    Error,
    Event,
    Exited,
    Registered,
    Topic,
    TopicChanged,
    Who,
    utc_time,
)
from chatsvc.hub.counts import PING_TIMEOUT as PING_TIMEOUT_DROP
from chatsvc.hub.errors import (
    AlreadyRegistered,
    BadPassword,
    ChatError,
    HistoryUnavailable,
    LineTooLong,
    NoAccounts,
    NoHistory,
    NotInRoom,
    NotLoggedIn,
    PrivateHistoryNeedsAccount,
    TooManyFailures,
    TryAgain,
    Usage,
)
from chatsvc.hub.hosts import peer_host
from chatsvc.hub.names import fold
from chatsvc.hub.participant import RecordBacked
from chatsvc.hub.settings import Settings
from chatsvc.hub.users import User
from chatsvc.protocols.web.history import message_body, private_body
from chatsvc.protocols.web.proxy import TrustedProxies
from chatsvc.protocols.web.sink import FrameSink, MessageFrames, frames_of
from chatsvc.protocols.web.wire import WIRE_FORMAT, Request, body_of, encode, frame, framed, parse
from chatsvc.store.delivery import MAX_REPLAY, history_of
from chatsvc.store.sqlite import KINDS, StoredMessage, StoredPrivate

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from chatsvc.hub.factory import ChatFactory
    from chatsvc.hub.registered import RoomRegistry
    from chatsvc.hub.rooms import Room

#: An event id, as C{"before"} gives one: 24 hex digits (L{chatsvc.events}).
_EVENT_ID = re.compile(r"[0-9a-f]{24}")

#: The defaults of C{--web-ping-interval} and C{--web-ping-timeout} (the
#: hub's settings hold what a server uses).
PING_INTERVAL: float = Settings.web_ping_interval
PING_TIMEOUT: float = Settings.web_ping_timeout

#: The reason the others see when a silent client is dropped.
PING_TIMED_OUT = "ping timeout"
#: The payload of the server's WebSocket pings.
PING_PAYLOAD = b"chatsvc"

#: Binary messages are not part of the protocol.
_BINARY = object()
#: A text message over the limit (C{--max-line} bytes): refused alone.
_TOO_LONG = object()

#: WebSocket close codes (RFC 6455, 7.4.1).
MESSAGE_TOO_BIG = 1009

#: The reason the others see when a client is closed for sending a message
#: that kept growing past the limit.
TOO_BIG = "message too big"

#: The attributes of Twisted's WebSocket wire protocol holding a message
#: still arriving (it reassembles one without a bound before delivering
#: it); tests/test_web_site.py checks they are still there.
PARTIAL_BUFFERS = ("_textBuffer", "_bytesBuffer")

#: Events that answer a request: they carry its C{ref} back.
_ANSWERS = frozenset({Registered, Entered, Exited, Who, Error, Topic, TopicChanged})


_Stored = TypeVar("_Stored", StoredMessage, StoredPrivate)


def _page(messages: list[_Stored], before: str | None, limit: int) -> list[_Stored]:
    """The last C{limit} of C{messages} said before the message C{before}
    (an id: ids sort by time), or the last C{limit} when C{None}."""
    if before is not None:
        messages = [m for m in messages if m.id < before]
    return messages[-limit:]


class WebChatProtocol(RecordBacked):
    """One browser (or other WebSocket client) speaking the JSON protocol.

    @param hub: the hub.
    @param connection: the TCP (or TLS) connection under the WebSocket: the
        Guard reads the peer's address from it, and a client too slow to
        read is cut off there at once (a WebSocket close would wait for it).
    @param channel: the HTTP channel that was upgraded, whose C{dataReceived}
        feeds Twisted's WebSocket parser: wrapped to bound a message still
        arriving (see L{_bounded}); C{None} in memory.
    @param host: the client's address, if not the connection's peer (the
        one a trusted proxy forwarded: L{chatsvc.protocols.web.proxy}).
    """

    log = Logger()
    record: User
    protocol_name: ClassVar[str] = "web"
    #: Browsers answer no CTCP and the page shows no WALLOPS.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, hub: ChatFactory, connection: ITransport, channel: Any = None,
                 host: str | None = None) -> None:
        self.hub = hub
        self.connection = connection
        self.channel = channel
        self._client_host = host
        self.websocket: Any = None
        #: Where output goes (L{chatsvc.protocols.web.sink}); its C{code} is
        #: the close code a graceful close sends.
        self.sink: FrameSink | MessageFrames | None = None
        self.guard: Guard | None = None
        self._ref: Any = None
        self._budget: ReplyBudget | None = None
        self._silence: IDelayedCall | None = None
        self._waiting_for_pong = False

    # -- what Twisted's WebSocket layer calls -------------------------------

    def negotiationStarted(self, transport: MessageTransport) -> None:
        self.websocket = transport
        if self.channel is not None:
            self._bound(self.channel, transport)

    def _bound(self, channel: Any, wire: Any) -> None:
        """Close (1009) a client whose message keeps growing past C{--max-line}.

        Twisted's WebSocket layer gathers a message's frames without limit
        and hands it over only once complete, so a client could make it
        hold gigabytes; after each read this looks at what it holds.  A
        message that arrives whole in one read is refused in
        L{textMessageReceived} instead, and the connection carries on.
        """
        if not all(hasattr(wire, name) for name in PARTIAL_BUFFERS):
            self.log.warn("Twisted's WebSocket wire protocol has no {names}: messages "
                          "arriving over several reads are not bounded",
                          names=", ".join(PARTIAL_BUFFERS))
            return
        receive = channel.dataReceived  # the WebSocket parser, since the upgrade
        limit = self.hub.settings.max_line
        buffers = [getattr(wire, name) for name in PARTIAL_BUFFERS]

        def bounded(data: bytes) -> None:
            guard = self.guard
            if guard is not None and guard.closing:
                return  # nothing more is read from a connection being closed
            receive(data)
            if any(len(buffer.data) > limit for buffer in buffers) and guard is not None:
                self.log.info("{host} ({name}) closed: a message over {limit} bytes",
                              host=self.host, name=self.name, limit=limit)
                if self.sink is not None:
                    self.sink.code = MESSAGE_TOO_BIG
                guard.close(TOO_BIG)

        channel.dataReceived = bounded

    def negotiationFinished(self) -> None:
        connection = self.connection
        # Twisted's HTTPChannel registered itself as the connection's producer
        # and nothing unregisters it on the upgrade: the backlog policy's
        # producer (attachProducer) takes its place, or registering it fails
        # and a full socket would pause the HTTP channel instead of it.
        if getattr(connection, "producer", None) is not None:
            connection.unregisterProducer()  # type: ignore[attr-defined]
        wsproto = frames_of(self.websocket)
        sink = self.sink = (MessageFrames(connection, self.websocket) if wsproto is None
                            else FrameSink(connection, self.websocket, wsproto))
        self.guard = Guard(self.hub, self, connection, self._handle, sink=sink)
        if not self.guard.start(self._client_host):
            return
        settings = self.hub.settings
        self._write({
            "type": "welcome", "server": settings.server_name,
            "password": self.hub.password_required,
            # Whether the page offers logging in (docs/user/web.rst).
            "accounts": self.hub.accounts is not None,
            "limits": {"max_frame": settings.max_line, "max_rooms": settings.max_rooms,
                       "flood_rate": settings.flood_rate, "flood_burst": settings.flood_burst},
        })
        self._listen()

    def textMessageReceived(self, message: str) -> None:
        guard = self.guard
        if guard is None:
            return
        self._listen()
        # Bytes, as --max-line counts them for every protocol: a character
        # count would let four times as much through.
        if len(message) * 4 > self.hub.settings.max_line and \
                len(message.encode("utf-8")) > self.hub.settings.max_line:
            guard.received(_TOO_LONG)
        else:
            guard.received(message)

    def bytesMessageReceived(self, data: bytes | bytearray) -> None:
        if self.guard is not None:
            self._listen()
            self.guard.received(_BINARY)

    def pongReceived(self, payload: bytes) -> None:
        self._listen()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._stop_listening()
        if self.guard is not None:
            self.guard.lost()

    # -- what the hub calls: the Participant contract -----------------------

    def deliver(self, event: Event) -> None:
        guard = self.guard
        if guard is None:
            return
        if self._ref is not None and type(event) in _ANSWERS:
            # The answer to the request being handled: this recipient's own copy.
            body = body_of(event)
            body["ref"] = self._ref
            guard.write(frame(encode(body)))
            return
        # Hot spot, the send path (docs/performance.rst, step 19): the first
        # recipient encodes and frames the event once, the others find the
        # whole frame in its cache, and the sink writes it on the connection.
        data = event.wire.get(WIRE_FORMAT)
        if data is None:
            data = event.wire[WIRE_FORMAT] = framed(event)
        guard.write(data)

    def disconnect(self, reason: str) -> None:
        """Say why in a last message, then close (the others see C{reason})."""
        guard = self.guard
        if guard is None or guard.closing:
            return
        guard.write(frame(encode({"type": "closing", "reason": reason})))
        guard.close(reason)

    # -- requests ------------------------------------------------------------

    def _handle(self, message: object) -> None:
        """One message the flood gate let through: one request, one hub call."""
        if message is _BINARY:
            self._refuse(Usage('binary messages are not part of this protocol: send JSON text'))
            return
        if message is _TOO_LONG:
            self._refuse(LineTooLong(self.hub.settings.max_line))
            return
        try:
            request = parse(message)  # type: ignore[arg-type]
        except ChatError as refusal:
            self._refuse(refusal)
            return
        if request.refusal is not None:
            self._refuse(request.refusal, request.ref)
            return
        self._ref = request.ref
        try:
            self._REQUESTS[request.type](self, request)
        except ChatError as refusal:
            self.deliver(refusal.as_event())
        finally:
            self._ref = None

    def _refuse(self, refusal: ChatError, ref: Any = None) -> None:
        self._ref = ref
        try:
            self.deliver(refusal.as_event())
        finally:
            self._ref = None

    def _write(self, body: dict[str, Any]) -> None:
        """Send one JSON object as one frame, within the backlog limit."""
        if self.guard is not None:
            self.guard.write(frame(encode(body)))

    def _answer(self, body: dict[str, Any]) -> None:
        if self._ref is not None:
            body["ref"] = self._ref
        self._write(body)

    def _register(self, request: Request) -> None:
        name = request.fields["name"]
        assert name is not None
        first = self.name is None
        self.hub.register(self, name.strip())
        if first:
            self._greet()

    def _greet(self) -> None:
        """Just registered (by C{register}, or C{login} first): the rooms it is in.

        The hub puts a newcomer in the default room without an Entered
        event (each protocol greets its own way): the page needs one.
        """
        if self.name is None:
            return
        for room in self.hub.rooms_of(self):
            self._answer({"type": "joined", "room": room.name, "name": None,
                          "self": True, "count": len(room), "topic": room.topic})
            self._replay_on_entering(room)

    def _pass(self, request: Request) -> None:
        """The server password; a wrong one closes the connection, as on IRC."""
        if self.name is not None:
            raise AlreadyRegistered()
        try:
            self.hub.authenticate(self, request.fields["password"])
        except (BadPassword, TooManyFailures) as refusal:
            self.deliver(refusal.as_event())
            if self.guard is not None:
                self.guard.close(str(refusal))
            return
        self._answer({"type": "ok"})

    def _say(self, request: Request, action: bool = False) -> None:
        room, text = request.fields["room"], request.fields["text"]
        assert room is not None and text is not None
        self.hub.say(self, room, text, action)
        # The hub sends a message to everyone but its sender; the page shows
        # its own messages from this echo, so it shows only what was sent.
        shown = self.hub.room_named(room, self)
        self._answer({"type": "message", "room": shown.name if shown else room,
                      "from": self.name, "text": text, "action": action, "notice": False,
                      "self": True, "time": utc_time(self.hub.clock.seconds())})

    def _me(self, request: Request) -> None:
        self._say(request, action=True)

    def _whisper(self, request: Request) -> None:
        to, text = request.fields["to"], request.fields["text"]
        assert to is not None and text is not None
        recipient = self.hub.whisper(self, to, text)
        self._answer({"type": "private", "from": self.name, "to": recipient.record.name,
                      "text": text, "action": False, "notice": False, "self": True,
                      "time": utc_time(self.hub.clock.seconds())})

    def _join(self, request: Request) -> None:
        room = request.fields["room"]
        assert room is not None
        self.hub.join(self, room, request.fields["key"])
        joined = self.hub.room_named(room, self)
        if joined is not None and self in joined:
            self._replay_on_entering(joined)

    def _part(self, request: Request) -> None:
        room = request.fields["room"]
        assert room is not None
        self.hub.part(self, room, request.fields["reason"] or "")

    def _topic(self, request: Request) -> None:
        room, text = request.fields["room"], request.fields["text"]
        assert room is not None
        if text is None:
            found = self.hub.find_room(room, self)
            self.deliver(Topic(found.name, found.topic))
        else:
            self.hub.set_topic(self, room, text)

    def _who(self, request: Request) -> None:
        room = request.fields["room"]
        if room is None:
            rooms = self.hub.rooms_of(self)
            if not rooms:
                raise Usage('"who" needs "room" when you are in no room')
            room = rooms[0].name
        budget = self._budget
        if budget is None:
            budget = self._budget = ReplyBudget(self.hub.clock)
        if not budget.allows():
            raise TryAgain("who", budget.wait())
        members = self.hub.members(room, viewer=self)
        answer = Who(self.hub.find_room(room, self).name,
                     tuple(m.name for m in members),
                     tuple(m.name for m in members if m.operator),
                     tuple(m.name for m in members if m.voiced and not m.operator))
        data = frame(encode({**body_of(answer), **({"ref": self._ref} if self._ref is not None
                                                   else {})}))
        budget.spend(len(data))
        if self.guard is not None:
            self.guard.write(data)

    def _ping(self, request: Request) -> None:
        self._answer({"type": "pong"})

    # -- history (chatsvc/protocols/web/history.py) ----------------------------

    def _replay_on_entering(self, room: Room) -> None:
        """Send the room just entered's last C{--history-replay} messages, before live ones.

        Until the store has read them, everything written to this user is
        held (L{Holding} replaces the guard) and goes out after them.
        """
        history = history_of(self.hub.delivery)
        if history is None or not history.replay:
            return
        holding = Holding.hold(self, "guard")
        if holding is None:
            return
        place, slot = holding
        name = room.name

        def read(messages: list[StoredMessage]) -> None:
            slot.data = b"".join(frame(encode(message_body(m))) for m in messages)

        def failed(failure: Failure) -> None:
            self.log.error("history of {room} not read: {why}", room=name,
                           why=failure.getErrorMessage())
            slot.data = frame(encode(body_of(HistoryUnavailable(name).as_event())))

        reading = history.replay_of(room, history.replay, KINDS)
        reading.addCallbacks(read, failed)
        reading.addCallback(lambda _: place.filled(slot))

    def _history(self, request: Request) -> None:
        """C{history}: a room's messages, the last C{limit} before C{before} (an id).

        The rooms the line protocol's C{/history} reads: yours, or one you
        could join without an invitation or a key.  Answered later, with one
        C{history} object (and the C{ref}), when the store has read them.
        """
        history = history_of(self.hub.delivery)
        if history is None:
            raise NoHistory()
        target, before = request.fields["target"], request.fields["before"]
        assert target is not None
        limit = request.numbers.get("limit")
        if limit is None:
            limit = history.replay or 50
        if not 1 <= limit <= MAX_REPLAY:
            raise Usage(f'"limit" is from 1 to {MAX_REPLAY}')
        if before is not None and not _EVENT_ID.fullmatch(before):
            raise Usage('"before" is a message\'s "id" (24 hex digits)')
        if not target.startswith("#"):  # a name: your private messages with that account
            self._private_history(target, before, limit)
            return
        room = self.hub.find_room(target, viewer=self)  # NoSuchRoom if secret
        if self not in room and (room.invite_only or room.password is not None):
            raise NotInRoom(room.name)
        budget = self._budget
        if budget is None:
            budget = self._budget = ReplyBudget(self.hub.clock)
        if not budget.allows():
            raise TryAgain("history", budget.wait())
        ref, name = self._ref, room.name

        def read(messages: list[StoredMessage]) -> None:
            page = _page(messages, before, limit)
            self._history_page(name, before, limit, [message_body(m) for m in page], ref,
                               budget)

        def failed(failure: Failure) -> None:
            self.log.error("history of {room} not read: {why}", room=name,
                           why=failure.getErrorMessage())
            self._refuse(HistoryUnavailable(name), ref)

        # "before" pages back through what one read returns: the room's
        # last MAX_REPLAY messages (the store reads no older page yet).
        count = limit if before is None else MAX_REPLAY
        history.replay_of(room, count, KINDS).addCallbacks(read, failed)

    def _history_page(self, target: str, before: str | None, limit: int,
                      messages: list[dict[str, Any]], ref: Any, budget: ReplyBudget) -> None:
        """Answer a C{history} request with one C{history} object (and its
        C{ref}), charged to the reply budget."""
        body: dict[str, Any] = {"type": "history", "target": target, "before": before,
                                "limit": limit, "messages": messages}
        if ref is not None:
            body["ref"] = ref
        data = frame(encode(body))
        budget.spend(len(data))
        if self.guard is not None:
            self.guard.write(data)

    def _private_history(self, other: str, before: str | None, limit: int) -> None:
        """C{history} of a name: the private messages between the account
        logged in here (the hub's record, never a name the page sent) and
        account C{other}, answered as a room's are, C{private} events in it."""
        history = history_of(self.hub.delivery)
        assert history is not None
        account = self.record.account
        if account is None:
            raise PrivateHistoryNeedsAccount()
        budget = self._budget
        if budget is None:
            budget = self._budget = ReplyBudget(self.hub.clock)
        if not budget.allows():
            raise TryAgain("history", budget.wait())
        ref, me = self._ref, fold(account)

        def read(messages: list[StoredPrivate]) -> None:
            page = _page(messages, before, limit)
            self._history_page(other, before, limit,
                               [private_body(m, m.sender_key == me) for m in page], ref, budget)

        def failed(failure: Failure) -> None:
            self.log.error("private history not read: {why}", why=failure.getErrorMessage())
            self._refuse(HistoryUnavailable(other), ref)

        count = limit if before is None else MAX_REPLAY
        history.private_replay_of(account, other, count).addCallbacks(read, failed)

    def _login(self, request: Request) -> None:
        """Log in to an account (docs/user/accounts.rst): answered later, with
        the request's C{ref}, by C{logged-in} or the refusal."""
        accounts = self.hub.accounts
        if accounts is None:
            raise NoAccounts()
        name, password = request.fields["name"], request.fields["password"]
        assert name is not None and password is not None
        ref = request.ref
        first = self.name is None

        def done(account: str) -> None:
            self._ref = ref
            try:
                if first:  # logging in registered it, under the account's name
                    self._greet()
                self._answer({"type": "logged-in", "account": account, "name": self.name})
            finally:
                self._ref = None

        def refused(failure: Failure) -> None:
            if isinstance(failure.value, ChatError):
                self._refuse(failure.value, ref)

        accounts.log_in(self, name.strip(), password).addCallbacks(done, refused)

    def _logout(self, request: Request) -> None:
        """Log out of the account, as the line protocol's C{/logout}: keeping
        its name starts the grace period (the C{name-registered} error)."""
        accounts = self.hub.accounts
        if accounts is None:
            raise NoAccounts()
        account = accounts.log_out(self)
        self._answer({"type": "logged-out", "account": account, "name": self.name})

    def _forget(self, request: Request) -> None:
        """C{forget}: delete every room row of your account, in every room, as
        the line protocol's C{/forget messages}; answered by C{forgot} (with
        the C{count}) when the store is done."""
        history = history_of(self.hub.delivery)
        if history is None:
            raise NoHistory()
        account = self.record.account
        if account is None:  # rows are found by account: a guest's are nobody's
            raise NotLoggedIn()
        budget = self._budget
        if budget is None:
            budget = self._budget = ReplyBudget(self.hub.clock)
        if not budget.allows():
            raise TryAgain("forget", budget.wait())
        ref = request.ref

        def done(count: int) -> None:
            self._ref = ref
            try:
                self._answer({"type": "forgot", "count": count})
            finally:
                self._ref = None

        def failed(failure: Failure) -> None:
            self.log.error("history of {account} not forgotten: {why}", account=account,
                           why=failure.getErrorMessage())
            self._refuse(HistoryUnavailable("your account"), ref)

        history.forget(account).addCallbacks(done, failed)

    def _register_room(self, request: Request) -> None:
        """Register a room (docs/user/rooms.rst), as the line protocol's
        C{/register #room}: answered later by C{room-registered}, or the refusal."""
        room = request.fields["room"]
        assert room is not None
        self._room_registration(self._registry().register(self, room.strip()),
                                "room-registered", request.ref)

    def _unregister_room(self, request: Request) -> None:
        """Drop a room's registration (its founder): C{room-unregistered}."""
        room = request.fields["room"]
        assert room is not None
        self._room_registration(self._registry().drop(self, room.strip()),
                                "room-unregistered", request.ref)

    def _registry(self) -> RoomRegistry:
        registry = self.hub.registry
        if registry is None:
            raise NoAccounts()
        return registry

    def _room_registration(self, pending: Deferred[str], answer: str, ref: Any) -> None:
        def done(room: str) -> None:
            self._ref = ref
            try:
                self._answer({"type": answer, "room": room})
            finally:
                self._ref = None

        def refused(failure: Failure) -> None:
            if isinstance(failure.value, ChatError):
                self._refuse(failure.value, ref)

        pending.addCallbacks(done, refused)

    _REQUESTS: ClassVar[dict[str, Any]] = {
        "register": _register, "pass": _pass, "say": _say, "me": _me, "whisper": _whisper,
        "join": _join, "part": _part, "topic": _topic, "who": _who, "history": _history,
        "ping": _ping, "login": _login, "logout": _logout, "forget": _forget,
        "register-room": _register_room, "unregister-room": _unregister_room,
    }

    # -- liveness: WebSocket ping and pong ------------------------------------

    # After --web-ping-interval seconds of silence from a client the server
    # sends a WebSocket ping; a client that then sends nothing (neither the
    # pong browsers answer by themselves nor a message) for
    # --web-ping-timeout seconds is dropped: a tab that vanished without a
    # close frame (a laptop lid, a lost network) stops holding its name.

    def _listen(self) -> None:
        """The client spoke: wait the ping interval again before a ping."""
        self._waiting_for_pong = False
        interval = self.hub.settings.web_ping_interval
        if interval <= 0:
            return
        silence = self._silence
        if silence is not None and silence.active():
            silence.reset(interval)
        else:
            self._silence = self.hub.clock.callLater(interval, self._silent)

    def _stop_listening(self) -> None:
        silence, self._silence = self._silence, None
        if silence is not None and silence.active():
            silence.cancel()

    def _silent(self) -> None:
        guard = self.guard
        if guard is None or guard.closing:
            self._silence = None
            return
        timeout = self.hub.settings.web_ping_timeout
        if self._waiting_for_pong:
            self._silence = None
            self.log.info("{host} ({name}) dropped: no pong in {timeout} seconds",
                          host=self.host, name=self.name, timeout=timeout)
            self.hub.counts.drops[PING_TIMEOUT_DROP] += 1
            guard.close(PING_TIMED_OUT, abort=True)
            return
        self._waiting_for_pong = True
        self._silence = self.hub.clock.callLater(timeout, self._silent)
        ping = getattr(self.websocket, "ping", None)
        if ping is not None:
            try:
                ping(PING_PAYLOAD)
            except LocalProtocolError:
                pass  # the peer's close was answered: connectionLost follows


class WebChatFactory:
    """The C{WebSocketServerFactory} of the C{/ws} resource: one protocol per upgrade.

    The client's host is the connection's peer, or, from a proxy of
    C{--web-trusted-proxy}, the address its C{X-Forwarded-For} names.
    """

    def __init__(self, hub: ChatFactory) -> None:
        self.hub = hub
        self.proxies = TrustedProxies(hub.settings.web_trusted_proxies)

    def buildProtocol(self, request: Any) -> WebChatProtocol:
        connection = request.channel.transport
        assert connection is not None
        host = None
        if self.proxies:
            forwarded = request.requestHeaders.getRawHeaders(b"x-forwarded-for", [])
            host = self.proxies.client_host(peer_host(connection), forwarded)
        return WebChatProtocol(self.hub, connection, request.channel, host)
