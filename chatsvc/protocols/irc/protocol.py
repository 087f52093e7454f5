"""The IRC adapter: irssi, weechat and hexchat users on the same hub.

An IRC connection is one more participant of L{chatsvc.hub.factory.ChatFactory}:
it parses IRC commands into hub calls and renders the hub's events as IRC
lines, so IRC users and line users share names, rooms (as channels) and
private messages.  This module holds the connection, registration,
liveness and messaging; L{chatsvc.protocols.irc.channels} the channel commands and
L{chatsvc.protocols.irc.users} the user and server queries.

We do not build on C{twisted.words.service}: it cannot create channels,
never answers CAP (irssi waits forever), drops a connection when a UTF-8
character is split across reads and raises on unknown commands.  From
Twisted we take the numeric constants and C{LineReceiver}, with our bounded
splitter behind it (L{chatsvc.conn.framing.BoundedLineReceiver}: an over-long
line is refused alone, not a disconnection); lines are decoded one by one
with a latin-1 fallback, and the grammar is ours (L{chatsvc.protocols.irc.wire}).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IHandshakeListener, IReactorTime
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.words.protocols import irc as rfc
from zope.interface import implementer

from chatsvc.conn.framing import TOO_LONG, BoundedLineReceiver, _TooLong
from chatsvc.conn.guard import Guard
from chatsvc.events import (
    Entered,
    Error,
    Event,
    Exited,
    Motd,
    Notice,
    Registered,
    Topic,
)
from chatsvc.hub.counts import PING_TIMEOUT
from chatsvc.hub.errors import (
    BadNameError,
    BadPassword,
    CannotSpeak,
    ChatError,
    EmptyMessage,
    Flooding,
    NameTaken,
    NoSuchRoom,
    NoSuchService,
    NoSuchUser,
    TooManyFailures,
)
from chatsvc.hub.names import BadName, check_name
from chatsvc.hub.text import plain, sanitize_ctcp, sanitize_irc
from chatsvc.hub.users import CTCP, MESSAGE_TAGS, NOTIFY, WALLOPS, User
from chatsvc.protocols.irc import (
    chanserv,
    chathistory,
    isupport,
    labels,
    nickserv,
    register,
    sasl,
    wire,
)
from chatsvc.protocols.irc.channels import (
    CAP_NOTIFY,
    CAPABILITIES,
    ECHO_MESSAGE,
    ChannelCommands,
)
from chatsvc.protocols.irc.history import tell_what_is_kept
from chatsvc.protocols.irc.isupport import (
    CHANNEL_MODES,
    CHANNEL_MODES_WITH_ARGUMENT,
    KICK_LENGTH,
    MAX_TARGETS,
    REALNAME_LENGTH,
    USER_LENGTH,
    USER_MODES,
    VERSION,
)
from chatsvc.protocols.irc.labels import LABELED_RESPONSE
from chatsvc.protocols.irc.monitor import MonitorCommands
from chatsvc.protocols.irc.render import ACTION, WIRE_FORMAT, variant_bytes, wire_format
from chatsvc.protocols.irc.render import irc_bytes as render
from chatsvc.protocols.irc.users import UserCommands, clock_time

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory

_USER_BAD = re.compile(r"[^A-Za-z0-9_.\-]")

#: What LINKS says of this server when no --server-info is given.
DEFAULT_SERVER_INFO = "chatsvc chat server"

#: What a line may hold on top of --max-line: the ``@``, the tag data and
#: the space after it (IRCv3 message-tags).
_TAG_ROOM = wire.MAX_CLIENT_TAG_BYTES + 2

#: The tags of a line that had none: one shared empty dict.
_NO_TAGS: dict[str, str] = {}

# Commands a client may send before it is registered; anything else is 451.
_BEFORE_REGISTRATION = frozenset({"CAP", "PASS", "NICK", "USER", "QUIT", "PING", "PONG",
                                  "AUTHENTICATE", "REGISTER", "VERIFY"})


class IRCServer:
    """What all IRC connections to one hub share, however many listeners.

    Time (liveness pings, the times shown to clients) comes from the hub's
    clock, a L{twisted.internet.task.Clock} in tests.
    """

    def __init__(self, hub: ChatFactory, info: str = DEFAULT_SERVER_INFO) -> None:
        self.hub = hub
        self.clock: IReactorTime = hub.clock
        self.created = self.clock.seconds()
        self.name = hub.settings.server_name
        #: The server's description, as LINKS shows it (C{--server-info}).
        self.info = info
        self.isupport = isupport.tokens(hub.settings)

    def factory(self) -> ServerFactory:
        """A factory for one IRC listener (plain or TLS) on this hub."""
        return self.hub.adapter(lambda hub: IRCChatProtocol(self))


_SERVER_NAME = re.compile(r"[^\s:\x00-\x1f\x7f][^\s\x00-\x1f\x7f]*\Z")


def usable_server_name(name: str) -> bool:
    """Whether C{name} can be the source of IRC lines (C{:name 001 ...}) and
    C{NETWORK=}: one word, not starting with C{:}."""
    return _SERVER_NAME.match(name) is not None


def _user(name: str) -> str:
    """The user part of a hostmask: ``~`` (we run no identd) and safe characters."""
    return "~" + (_USER_BAD.sub("", name)[: USER_LENGTH - 1] or "user")


@implementer(IHandshakeListener)
class IRCChatProtocol(ChannelCommands, UserCommands, MonitorCommands, BoundedLineReceiver):
    """One IRC client connection: a participant of the hub.

    A C{LineReceiver} through L{BoundedLineReceiver} (which says what it
    changes: an over-long line gets 417 and the connection stays), with
    C{MAX_LENGTH} from C{--max-line}.  L{dataReceived} parses each line
    before the flood gate (so the gate can let our PING's PONG through) and
    the gate hands the parsed line to L{_handle}; L{lineReceived} is that
    path for one raw line.  L{sendLine} writes through the guard's bounded
    output, kept to one line of at most 512 bytes like every line we send.
    """

    log = Logger()
    #: The hub's record of this user (name, host, away, modes...): set by the hub.
    record: User
    protocol_name: ClassVar[str] = "IRC"
    #: IRC clients answer CTCP requests, show WALLOPS, can show message
    #: tags (TAGMSG reaches them; those that did not negotiate message-tags
    #: show nothing of it) and the IRCv3 notifications their clients ask
    #: for (setname, invite-notify).
    capabilities: ClassVar[frozenset[str]] = frozenset({CTCP, MESSAGE_TAGS, NOTIFY, WALLOPS})
    #: The format of the cached bytes this client reads: plain IRC until it
    #: negotiates server-time (L{chatsvc.protocols.irc.render.wire_format}).
    _wire_format: str = WIRE_FORMAT
    #: The tags of the line being handled (IRCv3 message-tags), for the
    #: commands that relay them; the class's empty dict between lines.
    _tags: dict[str, str] = _NO_TAGS
    #: While a labeled command runs, what writes its replies out
    #: (L{labels.labeled}); C{None} the rest of the time.
    _finish_label: Callable[[], None] | None = None
    #: While a labeled command runs, what hands its label to an answer that
    #: comes later (L{labels.take}); C{None} the rest of the time.
    _take_label: Callable[[], tuple[str, Callable[[bytes], None]]] | None = None
    #: CHATHISTORY requests waiting for their turn, the one being read first
    #: (L{chathistory}); made on the first, idle connections carry none.
    _history_requests: deque[Callable[[], Deferred[None]]] | None = None
    #: The nick last sent before registering, even one refused as in use:
    #: what C{REGISTER *} before connecting names (irc/register.py).  A
    #: class default, so that connections that never ask cost nothing.
    _asked_nick: str | None = None

    def __init__(self, server: IRCServer) -> None:
        super().__init__(server.hub.settings.max_line + _TAG_ROOM)
        self.server = server
        self.hub = server.hub
        # Registration state.
        self._nick: str | None = None
        self._known_nick: str | None = None
        self._user_given = False
        self._password: str | None = None
        self._cap_hold = False
        self._held: list[Event] | None = None
        # I/O state: output, the flood gate and closing go through the Guard
        # every adapter shares (chatsvc.conn.guard).
        self._guard: Guard | None = None
        self._starting = False
        self._timer: IDelayedCall | None = None
        self._heard = 0.0
        self._pinged_at: float | None = None
        #: Whether our liveness PING is still unanswered: its one PONG
        #: passes the flood gate free, every other PONG is a line like any.
        self._pong_owed = False

    @property
    def MAX_LENGTH(self) -> int:  # noqa: N802 (LineReceiver's name)
        """The longest line accepted, in bytes, not counting its terminator
        nor its IRCv3 tags: a message-tags client may put up to 4094 bytes
        of tags before it (L{_received} checks the two limits apart)."""
        return self._lines.max_length - _TAG_ROOM

    @MAX_LENGTH.setter
    def MAX_LENGTH(self, value: int) -> None:  # noqa: N802
        self._lines.max_length = value + _TAG_ROOM

    # -- connection lifecycle -----------------------------------------------

    def connectionMade(self) -> None:
        transport = self.transport
        assert transport is not None
        self._heard = self.server.clock.seconds()
        self._guard = Guard(self.hub, self, transport, self._handle)
        self._starting = True
        started = self._guard.start()
        self._starting = False
        if not started:
            return
        self._schedule(self.hub.settings.irc_ping_interval)

    def handshakeCompleted(self) -> None:  # noqa: N802 (Twisted's IHandshakeListener)
        """TLS is up: the client's certificate, if any, goes on the hub's record."""
        if self._guard is not None:
            self._guard.handshake_completed()

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._guard is not None:
            self._guard.lost()  # the hub logs the end of the session

    @property
    def _closing(self) -> bool:
        return self._guard is None or self._guard.closing

    def disconnect(self, reason: str) -> None:
        """Close this connection on the server's initiative: ``ERROR`` says why."""
        if self._closing:
            return
        self._write_line(None, "ERROR", f"Closing link: {self.host} ({reason})", text=True)
        self._close(reason)

    def _close(self, reason: str) -> None:
        if self._finish_label is not None:
            self._finish_label()  # the labeled replies leave before the guard closes
        if self._guard is not None:
            self._guard.close(reason)

    # -- liveness ------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        if delay > 0 and not self._closing:
            self._timer = self.server.clock.callLater(delay, self._tick)

    def _tick(self) -> None:
        """PING a silent client; drop it if it stays silent past the timeout.

        One timer per connection, never reset per line: a line only records
        the time, and the timer re-arms itself for when silence could be due.
        """
        self._timer = None
        settings = self.hub.settings
        now = self.server.clock.seconds()
        if self._pinged_at is not None:
            if self._heard < self._pinged_at:
                silent = round(now - self._heard)
                self.hub.counts.drops[PING_TIMEOUT] += 1
                self.disconnect(f"Ping timeout: {silent} seconds")
                return
            self._pinged_at = None
        due = self._heard + settings.irc_ping_interval
        if now >= due:
            self._write_line(None, "PING", self.server.name)
            self._pinged_at = now
            self._pong_owed = True
            self._schedule(settings.irc_ping_timeout)
        else:
            self._schedule(due - now)

    # -- output --------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._guard is not None:
            self._guard.write(data)

    def sendLine(self, line: bytes) -> None:
        """Send one raw IRC line (CRLF is added) within the backlog limit.

        Like every line we send (L{wire.encode}), it stays one line of at
        most 512 bytes: CR, LF and NUL inside it are removed.
        """
        self._write(wire.encode(line.decode("utf-8", "replace")))

    def _write_line(self, prefix: str | None, command: str, *params: str,
                    text: bool = False) -> None:
        self._write(wire.encode(wire.build(prefix, command, *params, text=text)))

    @property
    def _me(self) -> str:
        return self.name or "*"

    @property
    def _source(self) -> str:
        return self.hub.mask_of(self)

    def _reply(self, numeric: str, *params: str, text: bool = True) -> None:
        """A numeric reply to this client: ``:server NNN nick params... :text``.

        C{text=False} for the few replies whose last parameter is a word
        (modes, a time stamp), not free text.  Middle parameters pass through
        L{wire.middle}: one the client chose (a nick or channel it sent as a
        trailing parameter, with spaces) becomes C{*} instead of shifting the
        parameters after it.
        """
        self._write(wire.encode(wire.build(self.server.name, numeric, self._me,
                                           *wire.middles(params), text=text)))

    def _notice(self, text: str) -> None:
        for line in wire.fit(self.server.name, "NOTICE", (self._me,), text):
            self._write(wire.encode(line))

    def deliver(self, event: Event) -> None:
        if self._held is not None:
            self._held.append(event)
            return
        # Most events show the same to every IRC user: the first recipient
        # renders them (irc_bytes caches the bytes in the event) and the rest
        # of a broadcast's recipients find them there, with no call to spare.
        fmt = self._wire_format
        data = event.wire.get(fmt)
        if data is None:
            data = render(event) if fmt is WIRE_FORMAT else variant_bytes(event, fmt)
        if data is not None:
            guard = self._guard
            if guard is not None:
                guard.write(data)
        elif isinstance(event, Entered):
            self._entered(event)
        elif isinstance(event, Exited):
            self._exited(event)
        elif isinstance(event, Registered):
            self._renamed_self(event.name)
        elif isinstance(event, Topic):
            self._send_topic(event.room)
        elif isinstance(event, Error) and (self._starting or event.code == Flooding.code):
            # The Guard refusing or dropping us: the connection closes next.
            self._write_line(None, "ERROR", f"Closing link: {self.host} ({event.text})",
                             text=True)
        elif isinstance(event, Notice | Error):
            self._notice(event.text)
        elif isinstance(event, Motd):
            self._send_motd(event.lines)
        else:
            show = self._EVENTS.get(type(event))
            if show is not None:
                show(self, event)
            else:
                self.log.debug("IRC: nothing to show for {event!r}", event=event)

    # -- input ---------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        # Hot spot, the IRC input path (docs/performance.rst, step 15).
        guard = self._guard
        if guard is None:
            return
        # Any bytes prove the client alive, even a line the flood gate holds.
        self._heard = self.server.clock.seconds()
        limit = self._lines.max_length - _TAG_ROOM
        for line in self._lines.feed(data):
            if guard.closing:
                return
            if line is TOO_LONG:
                guard.received(line)
                continue
            # Parsed before the flood gate, so that the gate can let a PONG
            # through and the handler need not parse again.
            if line[:1] == b"@" or len(line) > limit:
                item = self._received(line)
            else:
                try:
                    item = wire.parse(line.decode("utf-8"))
                except UnicodeDecodeError:
                    item = self._received(line)
            if self._pong_owed and item is not None and item is not TOO_LONG and (
                    item[0] if type(item) is wire.Message else item[0][0]) == "PONG":
                # Answering our PING is never flooding, even with the gate
                # full; once.  Other PONGs count like any line, or a client
                # could send a million a second unchecked.
                self._pong_owed = False
                guard.received_free(item)
            else:
                if guard.input_held and item is not None and item is not TOO_LONG and (
                        item[0] if type(item) is wire.Message else item[0][0]) == "QUIT":
                    # Leaving: no later reply to keep in order, and a client
                    # often hangs up right after its QUIT, which must count.
                    guard.release_input(every=True)
                guard.received(item)

    def lineReceived(self, raw: bytes) -> None:
        """Handle one line: every refusal is a numeric, never a silent drop."""
        self._handle(self._received(raw))

    def _received(self, line: bytes) -> wire.Message | wire.Tagged | _TooLong | None:
        """One line as L{_handle} takes it: parsed, with its tags if it has any.

        L{TOO_LONG} when its tag data is over 4094 bytes or the rest over
        C{--max-line} (IRCv3 message-tags: the two are limited apart).  A
        line that is not UTF-8 is read as latin-1 (L{wire.decode}) and
        marked, for the UTF8ONLY warning.
        """
        tag_bytes = wire.tag_data_length(line)
        if tag_bytes > wire.MAX_CLIENT_TAG_BYTES or (
                len(line) - (tag_bytes + 2 if tag_bytes else 0) > self.MAX_LENGTH):
            return TOO_LONG
        try:
            text, latin1 = line.decode("utf-8"), False
        except UnicodeDecodeError:
            text, latin1 = line.decode("latin-1"), True
        message = wire.parse(text)
        if message is None or not (tag_bytes or latin1):
            return message
        return wire.Tagged(message, wire.parse_tags(text), latin1)

    def lineLengthExceeded(self, line: bytes) -> None:
        """Refuse one over-long line (417); the connection and the lines after it carry on.

        Called when the line's turn through the flood gate comes, with
        C{b""}: its bytes were discarded as they arrived.
        """
        self._reply(wire.ERR_INPUTTOOLONG, "Input line was too long")

    def _handle(self, message: wire.Message | wire.Tagged | _TooLong | None) -> None:
        """Handle what the flood gate let through: a parsed line, or L{TOO_LONG}.

        C{None} is a line with no command (blank), which gets no answer.
        """
        if message is None:
            return
        if message is TOO_LONG:
            self.lineLengthExceeded(b"")
            return
        if type(message) is wire.Tagged:
            self._handle_tagged(message)
            return
        assert type(message) is wire.Message
        self._run(message.command, message.params)

    def answer_in_order(self, pending: Deferred[Any]) -> None:
        """Handle no more of this client's lines until C{pending} has fired
        (its callbacks, added before, have answered): a command answered off
        the reactor (C{REGISTER} hashing a password) is answered before the
        commands sent after it, as a client reading replies in order expects.

        The lines wait in the flood gate (L{Guard.hold_input}), as they do
        behind a JOIN's history replay, and count towards flooding there.
        """
        guard = self._guard
        if pending.called or guard is None:
            return
        guard.hold_input()

        def answered(result: object) -> object:
            guard.release_input()
            return result

        pending.addBoth(answered)

    def _handle_tagged(self, tagged: wire.Tagged) -> None:
        """A line with tags, or not in UTF-8: L{_run} with its tags at hand
        (L{_tags}, for PRIVMSG, NOTICE and TAGMSG) and its replies labeled
        when it has a C{label} (L{labels.labeled})."""
        message = tagged.message
        if tagged.latin1:
            # UTF8ONLY: say so, and still read the line as latin-1 (what
            # older clients send), so that nothing relayed is ever not UTF-8.
            self._standard_reply("WARN", message.command, "INVALID_UTF8",
                                 "Your line was not UTF-8; it was read as latin-1")
        self._tags = tagged.tags
        try:
            label = tagged.tags.get("label")
            if label is not None and LABELED_RESPONSE in self._caps \
                    and message.command not in labels.UNLABELED:
                labels.labeled(self, label, lambda: self._run(message.command, message.params))
            else:
                self._run(message.command, message.params)
        finally:
            self._tags = _NO_TAGS

    def _standard_reply(self, kind: str, command: str, code: str, text: str) -> None:
        """An IRCv3 standard reply: C{FAIL|WARN|NOTE command CODE :text}."""
        self._write_line(self.server.name, kind, wire.middle(command), code, text, text=True)

    def _run(self, command: str, params: list[str]) -> None:
        """Run one command: every refusal is a numeric, never a silent drop."""
        entry = self._COMMANDS.get(command)
        if self.name is None and command not in _BEFORE_REGISTRATION:
            self._reply(rfc.ERR_NOTREGISTERED, "You have not registered")
            return
        if entry is None:
            self._reply(rfc.ERR_UNKNOWNCOMMAND, command, "Unknown command")
            return
        minimum, handler = entry
        if len(params) < minimum:
            self._reply(rfc.ERR_NEEDMOREPARAMS, command, "Not enough parameters")
            return
        try:
            handler(self, params)
        except ChatError as refusal:
            # Each handler maps the refusals it expects to numerics; this is
            # the backstop that still answers rather than dropping silently:
            # the numeric for the refusal's code, or else a NOTICE.
            self._refused(refusal)
        except Exception:
            self.log.failure("IRC {command} from {host} failed", command=command,
                             host=self.host)
            self._reply(wire.ERR_UNKNOWNERROR, command, "Internal error")

    # -- registration ------------------------------------------------------

    def _cmd_cap(self, params: list[str]) -> None:
        """IRCv3 capability negotiation (CAP LS [302], LIST, REQ, END).

        What we offer is L{CAPABILITIES}; a REQ is granted (ACK) or refused
        (NAK) whole, as the spec says, with the client's own words echoed.
        Negotiation started before registration holds it until CAP END
        (what irssi, weechat and hexchat expect).  A client that says
        C{CAP LS 302} gets cap-notify without asking.
        """
        sub = params[0].upper()
        if sub == "LS":
            if self.name is None:
                self._cap_hold = True
            version = int(params[1]) if len(params) > 1 and params[1].isdigit() else 0
            if version >= 302:
                self._caps = self._caps | {CAP_NOTIFY}
            offer = sasl.advertised(self.hub, register.advertised(self.hub, CAPABILITIES,
                                                                  version), version)
            self._write_line(self.server.name, "CAP", self._me, "LS", " ".join(offer),
                             text=True)
        elif sub == "LIST":
            self._write_line(self.server.name, "CAP", self._me, "LIST",
                             " ".join(cap for cap in (*CAPABILITIES, sasl.SASL,
                                                      register.ACCOUNT_REGISTRATION)
                                      if cap in self._caps),
                             text=True)
        elif sub == "REQ":
            if self.name is None:
                self._cap_hold = True
            request = params[1] if len(params) > 1 else ""
            wanted = set(self._caps)
            for token in request.split():
                cap = token[1:] if token.startswith("-") else token
                if cap not in CAPABILITIES and not (
                        (cap == sasl.SASL and sasl.offered(self.hub))
                        or (cap == register.ACCOUNT_REGISTRATION
                            and register.offered(self.hub))):
                    self._write_line(self.server.name, "CAP", self._me, "NAK", request,
                                     text=True)
                    return
                if token.startswith("-"):
                    wanted.discard(cap)
                else:
                    wanted.add(cap)
            self._caps = frozenset(wanted)
            self._wire_format = wire_format(self._caps)
            self._write_line(self.server.name, "CAP", self._me, "ACK", request, text=True)
        elif sub == "END":
            if self._cap_hold:
                self._cap_hold = False
                self._try_register()
        else:
            self._reply(wire.ERR_INVALIDCAPCMD, params[0], "Invalid CAP command")

    def _cmd_pass(self, params: list[str]) -> None:
        if self.name is not None:
            self._reply(rfc.ERR_ALREADYREGISTRED, "You may not reregister")
            return
        self._password = params[0]

    def _cmd_user(self, params: list[str]) -> None:
        if self.name is not None or self._user_given:
            self._reply(rfc.ERR_ALREADYREGISTRED, "You may not reregister")
            return
        if not params[0] or not params[3]:
            # An empty user name or real name is a missing parameter (Modern
            # IRC): registering with one would show an empty field in WHOIS.
            self._reply(rfc.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
            return
        self._user_given = True
        self.hub.describe(self, user=_user(params[0]),
                          realname=plain(params[3])[:REALNAME_LENGTH])
        self._try_register()

    def _cmd_nick(self, params: list[str]) -> None:
        if not params or not params[0]:
            self._reply(rfc.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        nick = params[0]
        if self.name is not None:
            self._register(nick)
            return
        try:
            check_name(nick)
        except BadName as why:
            self._reply(rfc.ERR_ERRONEUSNICKNAME, nick, f"Erroneous nickname: {why}")
            return
        self._asked_nick = nick  # REGISTER before connecting (irc/register.py) names it
        # Before the server password, whether a nick is online is not told:
        # registration checks it once the password is right.
        if self.hub.user_named(nick) is not None and self.hub.is_authenticated(self):
            self._reply(rfc.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
            return
        self._nick = nick
        self._try_register()

    def _try_register(self) -> None:
        if self.name is not None or self._nick is None or not self._user_given or self._cap_hold:
            return
        if self._password is None and self.hub.password_required:
            # No guess to count: say what is missing, as a client would not.
            self._reply(rfc.ERR_PASSWDMISMATCH,
                        "Password required: this server needs PASS before NICK and USER")
            self.disconnect("Password required")
            return
        try:
            self.hub.authenticate(self, self._password)
        except BadPassword:
            self._reply(rfc.ERR_PASSWDMISMATCH, "Password incorrect")
            self.disconnect("Bad password")
            return
        except TooManyFailures as refusal:
            self._reply(rfc.ERR_PASSWDMISMATCH, str(refusal))
            self.disconnect(str(refusal))
            return
        self._register(self._nick)

    def _register(self, nick: str) -> None:
        """Ask the hub for C{nick}: a first registration or a nick change.

        IRC users join channels themselves, so the hub does not put them in
        the default room.
        """
        first = self.name is None
        if first:
            self._held = []
        try:
            self.hub.register(self, nick, autojoin=False)
        except NameTaken:
            self._reply(rfc.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        except BadNameError as refusal:
            self._reply(rfc.ERR_ERRONEUSNICKNAME, nick, f"Erroneous nickname: {refusal.why}")
        finally:
            held, self._held = self._held, None
        if first:
            self._nick = None
            if self.name is not None:
                self._welcome(held or [])

    def _welcome(self, held: list[Event]) -> None:
        """The registration burst: 001-005, LUSERS, MOTD (the hub's L{Motd}
        while registering us, 422 if none), then anything else it said."""
        server, me = self.server, self._me
        self._known_nick = me
        self._reply(rfc.RPL_WELCOME,
                    f"Welcome to the {server.name} IRC network {self._source}")
        self._reply(rfc.RPL_YOURHOST, f"Your host is {server.name}, running version {VERSION}")
        self._reply(rfc.RPL_CREATED, f"This server was created {clock_time(server.created)}")
        self._reply(rfc.RPL_MYINFO, server.name, VERSION, USER_MODES, CHANNEL_MODES,
                    CHANNEL_MODES_WITH_ARGUMENT, text=False)
        self._send_isupport()
        self._send_lusers()
        motd: Sequence[str] = ()
        for event in held:
            if isinstance(event, Motd):
                motd = event.lines
        self._send_motd(motd)
        tell_what_is_kept(self)  # a NOTICE, when the server keeps history (issue 18)
        for event in held:
            if not isinstance(event, Motd | Registered):
                self.deliver(event)

    def _renamed_self(self, new: str) -> None:
        old, self._known_nick = self._known_nick, new
        if old is not None and old != new:
            self._write_line(f"{old}!{self.record.user or new}@{self.host}", "NICK", new)

    def _send_isupport(self) -> None:
        tokens = self.server.isupport
        for start in range(0, len(tokens), 12):
            self._reply(rfc.RPL_ISUPPORT, *tokens[start:start + 12],
                        "are supported by this server")

    def _send_lusers(self) -> None:
        stats = self.hub.stats()
        total, invisible, peak = stats.users, stats.invisible, stats.peak
        self._reply(rfc.RPL_LUSERCLIENT,
                    f"There are {total - invisible} users and {invisible} invisible on 1 servers")
        self._reply(rfc.RPL_LUSEROP, str(stats.operators), "operator(s) online")
        self._reply(rfc.RPL_LUSERUNKNOWN, str(stats.unregistered), "unknown connection(s)")
        self._reply(rfc.RPL_LUSERCHANNELS, str(stats.rooms), "channels formed")
        self._reply(rfc.RPL_LUSERME, f"I have {total} clients and 0 servers")
        self._reply(wire.RPL_LOCALUSERS, str(total), str(peak),
                    f"Current local users {total}, max {peak}")
        self._reply(wire.RPL_GLOBALUSERS, str(total), str(peak),
                    f"Current global users {total}, max {peak}")

    def _send_motd(self, lines: Sequence[str]) -> None:
        if not lines:
            self._reply(rfc.ERR_NOMOTD, "MOTD File is missing")
            return
        self._reply(rfc.RPL_MOTDSTART, f"- {self.server.name} Message of the day - ")
        for line in lines:
            for piece in wire.split_text(line, 400):
                self._reply(rfc.RPL_MOTD, f"- {piece}")
        self._reply(rfc.RPL_ENDOFMOTD, "End of /MOTD command.")

    def _cmd_quit(self, params: list[str]) -> None:
        reason = plain(params[0])[:KICK_LENGTH] if params and params[0] else ""
        leave = f"Quit: {reason}" if reason else "Quit"
        self._write_line(None, "ERROR", f"Closing link: {self.host} ({leave})", text=True)
        if self._guard is not None:
            self._guard.quit(leave)

    def _cmd_ping(self, params: list[str]) -> None:
        self._write_line(self.server.name, "PONG", self.server.name, params[0], text=True)

    # -- messages ------------------------------------------------------------

    def _message(self, params: list[str], notice: bool) -> None:
        """PRIVMSG or NOTICE.  A NOTICE is never answered, not even with an
        error (RFC 1459 4.4.2: automatic replies must never follow one, so
        that two bots cannot loop): its refusals are dropped here."""
        command = "NOTICE" if notice else "PRIVMSG"
        if not params or not params[0]:
            self._answer(notice, rfc.ERR_NORECIPIENT, f"No recipient given ({command})")
            return
        if len(params) < 2 or not params[1]:
            self._answer(notice, rfc.ERR_NOTEXTTOSEND, "No text to send")
            return
        targets = [target for target in params[0].split(",") if target]
        if len(targets) > MAX_TARGETS:
            self._answer(notice, rfc.ERR_TOOMANYTARGETS, params[0],
                         f"Too many targets (at most {MAX_TARGETS})")
            return
        text, action = params[1], False
        request = wire.ctcp(text)
        if request is not None:
            if request[0] != "ACTION":
                self._ctcp(targets, sanitize_ctcp(text), notice)
                return
            text, action = request[1], True
        text = sanitize_irc(text)
        tags = wire.client_tags(self._tags) if self._tags else ()
        if (tags or not notice) and not self._fits(command, targets, text, action):
            # One message, one line as its recipients get it (512 bytes with
            # the sender's prefix): a PRIVMSG too long for that is refused,
            # so the sender knows (IRC clients split long input themselves),
            # where a split would arrive as two messages and a cut would lose
            # the end unnoticed; client tags (a reaction) and the msgid belong
            # to one line too.  A NOTICE is never answered: an untagged one is
            # split, as line and web users' messages are (their protocols
            # have no such limit to tell them of).
            self._answer(notice, wire.ERR_INPUTTOOLONG,
                         "Input line was too long (512 bytes once your prefix is added)")
            return
        for target in targets:
            self._message_one(target, text, action, notice, tags)

    def _fits(self, command: str, targets: list[str], text: str, action: bool) -> bool:
        """Whether the message reaches every target as one line of 512 bytes."""
        overhead = len(f":{self._source} {command}  :".encode()) + (
            len(ACTION[0]) + len(ACTION[1]) if action else 0)
        longest = max(len(target.encode("utf-8")) for target in targets)
        return overhead + longest + len(text.encode("utf-8")) <= wire.BODY_BYTES

    def _message_one(self, target: str, text: str, action: bool, notice: bool,
                     tags: tuple[tuple[str, str], ...] = ()) -> None:
        person = None
        try:
            echo = ECHO_MESSAGE in self._caps
            status = ""
            if target[:1] in isupport.STATUSMSG and target[1:2] == "#":
                status, target = target[0], target[1:]
            if target.startswith("#"):
                self.hub.say(self, target, text, action, notice=notice, echo=echo, tags=tags,
                             status=status)
            elif nickserv.handles(self, target):  # accounts (chatsvc.accounts)
                if not notice:
                    nickserv.message(self, text)
                return
            elif chanserv.handles(self, target):  # registered rooms (chatsvc.hub.registered)
                if not notice:
                    chanserv.message(self, text)
                return
            else:
                person = self.hub.whisper(self, target, text, action, notice=notice, echo=echo,
                                          tags=tags)
        except NoSuchRoom:
            self._answer(notice, rfc.ERR_NOSUCHCHANNEL, target, "No such channel")
            return
        except CannotSpeak as refusal:
            self._answer(notice, rfc.ERR_CANNOTSENDTOCHAN, refusal.room,
                         f"Cannot send to channel ({refusal.why})")
            return
        except NoSuchUser as refusal:
            self._answer(notice, rfc.ERR_NOSUCHNICK, target, "No such nick/channel")
            if isinstance(refusal, NoSuchService) and not notice:
                self._notice(f"{target}: {refusal.HINT}")
            return
        except EmptyMessage:
            self._answer(notice, rfc.ERR_NOTEXTTOSEND, "No text to send")
            return
        except ChatError as refusal:
            if not notice:
                self._refused(refusal)
            return
        if not notice and person is not None:
            away = person.record.away
            if away is not None:
                self._answer(notice, rfc.RPL_AWAY, person.name or target, away)

    def _ctcp(self, targets: list[str], text: str, notice: bool) -> None:
        """CTCP other than ACTION (VERSION, PING, ...): only IRC clients answer it.

        It passes to IRC users (sanitised by L{sanitize_ctcp}); a line user's
        client cannot answer, so the sender is told instead of waiting for a
        reply that never comes.
        """
        for target in targets:
            recipient = None if target.startswith("#") else self.hub.user_named(target)
            if recipient is not None and CTCP in recipient.record.capabilities:
                try:
                    self.hub.whisper(self, target, text, notice=notice)
                except ChatError as refusal:
                    if not notice:
                        self._refused(refusal)
            elif target.startswith("#") or recipient is not None:
                if not notice:
                    self._notice(f"{target} cannot answer CTCP: not an IRC client")
            else:
                self._answer(notice, rfc.ERR_NOSUCHNICK, target, "No such nick/channel")

    def _cmd_tagmsg(self, params: list[str]) -> None:
        """IRCv3 TAGMSG: only client tags (a reaction, a typing notice) to a
        channel or a nick, for those who negotiated message-tags.  Like a
        NOTICE it is never answered automatically, only its refusals are."""
        tags = wire.client_tags(self._tags) if self._tags else ()
        echo = ECHO_MESSAGE in self._caps
        for target in [target for target in params[0].split(",") if target][:MAX_TARGETS]:
            try:
                self.hub.tag_message(self, target, tags, echo=echo)
            except EmptyMessage:
                return  # nothing to relay: no client tags
            except NoSuchRoom:
                self._reply(rfc.ERR_NOSUCHCHANNEL, target, "No such channel")
            except CannotSpeak as refusal:
                self._reply(rfc.ERR_CANNOTSENDTOCHAN, refusal.room,
                            f"Cannot send to channel ({refusal.why})")
            except NoSuchUser:
                self._reply(rfc.ERR_NOSUCHNICK, target, "No such nick/channel")
            except ChatError as refusal:
                self._refused(refusal)

    #: Serial of the last batch sent on this connection (L{next_batch_id}).
    _batches = 0

    def next_batch_id(self) -> str:
        """A reference for a new batch, unique on this connection (IRCv3 batch)."""
        self._batches += 1
        return f"b{self._batches}"

    def _answer(self, notice: bool, numeric: str, *params: str) -> None:
        """L{_reply}, unless the message answered is a NOTICE (never answered)."""
        if not notice:
            self._reply(numeric, *params)

    #: COMMAND -> (fewest parameters, handler(self, params)).  One table for
    #: the class, not one of bound methods per connection: idle connections
    #: are most of a server's memory (docs/performance.rst, steps 5 and 7).
    _COMMANDS: ClassVar[dict[str, tuple[int, Callable[[IRCChatProtocol, list[str]], None]]]] = {
        "CAP": (1, _cmd_cap),
        "PASS": (1, _cmd_pass),
        "NICK": (0, _cmd_nick),
        "USER": (4, _cmd_user),
        "QUIT": (0, _cmd_quit),
        "PING": (1, _cmd_ping),
        "PONG": (0, lambda self, params: None),
        "PRIVMSG": (0, lambda self, params: self._message(params, notice=False)),
        "TAGMSG": (1, _cmd_tagmsg),
        "NOTICE": (0, lambda self, params: self._message(params, notice=True)),
        "MOTD": (0, lambda self, params: self._send_motd(self.hub.settings.motd)),
        "LUSERS": (0, lambda self, params: self._send_lusers()),
        "AUTHENTICATE": (1, sasl.authenticate),
        "CHATHISTORY": (0, chathistory.command),
        "REGISTER": (3, register.register),
        "VERIFY": (2, register.verify),
        **ChannelCommands.CHANNEL_COMMANDS,
        **UserCommands.USER_COMMANDS,
        **MonitorCommands.MONITOR_COMMANDS,
    }

    #: Events shown per recipient by the mixins (MONITOR's, setname's...):
    #: type -> handler(self, event).
    _EVENTS: ClassVar[dict[type, Callable[[IRCChatProtocol, Event], None]]] = {
        **ChannelCommands.CHANNEL_EVENTS,
        **UserCommands.USER_EVENTS,
        **MonitorCommands.MONITOR_EVENTS,
    }
