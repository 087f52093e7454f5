"""The line protocol adapter: telnet and netcat friendly chat.

Client to server, one UTF-8 line each (``\\n`` or ``\\r\\n``)::

    #name           register; later, rename (also /nick name)
    @name:text      private message (also "@name text")
    /who [#room] /help /me action /quit [reason]
    /join #room [key] /part [reason] /rooms /topic [text] /invite name
    /kick name [reason] /op /deop /voice /devoice name /ban /unban mask
    /mode [changes] /oper name password /history [#room|@name] [N]
    /register password /login name password /logout /password old new
    /drop password /account [name] /certfp add|del|list /ghost name [password]
    /register #room /unregister #room /roominfo [#room] /amode #room +o|-o account
    /say text       room message, whatever it starts with
    //text          room message starting with '/'
    anything else   room message

A line user is in one room at a time, their current room: text goes there,
and the room commands act on it.  Server to client: see L{chatsvc.protocols.line.wire}.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from twisted.internet.interfaces import IHandshakeListener
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from chatsvc.conn.framing import TOO_LONG, BoundedLineReceiver
from chatsvc.conn.guard import Guard
from chatsvc.conn.holding import Holding, Replay
from chatsvc.conn.limits import ROOMS_PER_PAGE, ReplyBudget
from chatsvc.events import Event, Notice, RoomList, Topic, Who
from chatsvc.hub.errors import (
    AlreadyRegistered,
    BadPassword,
    ChatError,
    EmptyMessage,
    HistoryUnavailable,
    InDefaultRoom,
    LineTooLong,
    NoAccounts,
    NoHistory,
    NoRoom,
    NoSuchAccount,
    NoSuchPage,
    NoSuchUser,
    NotInRoom,
    NotLoggedIn,
    NotRegistered,
    NotYourRoom,
    PasswordRequired,
    PrivateHistoryNeedsAccount,
    RoomError,
    TooManyFailures,
    TryAgain,
    UnknownCommand,
    Usage,
)
from chatsvc.hub.modes import FLAG_MODES, LIST_MODES, ModeChange, parse_modes
from chatsvc.hub.names import fold
from chatsvc.hub.participant import RecordBacked
from chatsvc.hub.text import clean_line, plain, telnet_refusals
from chatsvc.protocols.line.wire import (
    NO_ROOM,
    WIRE_FORMAT,
    history_block,
    line_bytes,
    private_history_block,
)
from chatsvc.store.delivery import MAX_REPLAY, history_of
from chatsvc.store.sqlite import KINDS, StoredMessage, StoredPrivate

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from chatsvc.accounts.rules import AccountRules
    from chatsvc.hub.factory import ChatFactory
    from chatsvc.hub.registered import RoomRegistry
    from chatsvc.hub.rooms import Room
    from chatsvc.hub.users import User

HELP = (
    "commands:",
    "  #name              register, or change your name (also /nick name)",
    "  @name:text         private message to name (also @name text, /msg name text)",
    "  /who [#room]       who is in your room (or another; also /names)",
    "  /whois name        about someone: rooms, away, idle time",
    "  /away [text]       mark yourself away (/back when you return)",
    "  /rooms [page]      the rooms, with member counts and topics (also /list)",
    "  /join #room [key]  go to a room (it is created if need be)",
    "  /part [reason]     leave your room for the default room",
    "  /topic [text]      show or set the topic (/topic - clears it)",
    "  /me action         an action line: * you action",
    "  /history [#room] [N]  the last N messages of your room (or another)",
    "  /history @name [N] your last N private messages with name (logged in)",
    "  /help accounts     registering your name, logging in (/register, /login...)",
    "  /quit [reason]     leave",
    "  /pass password     give the server password, if it has one, before #name",
    "  /say text          say text, even if it starts with # @ or /",
    "  //text             say text that starts with /",
    "  anything else      say it to your room",
    "room operators:",
    "  /kick name [reason]  /invite name  /op name  /deop name",
    "  /voice name  /devoice name  /ban mask  /unban mask  /ban (list)",
    "  /mode              show the rules; /mode +i-m, +k key, +l 10, +b mask ...",
    "  /oper name password  become a server operator",
)

#: C{/help accounts}: the account commands (docs/user/accounts.rst).
ACCOUNT_HELP = (
    "accounts:",
    "  /register password    make your name an account (and log in to it)",
    "  /login name password  log in; you take the account's name (also before registering)",
    "  /logout  /password old new  /drop password (deletes your account)",
    "  /account [name]       whom you are logged in as, or whether name is an account",
    "  /certfp add [fp]      let your TLS client certificate (or fingerprint fp) log you in",
    "  /certfp del fp  /certfp list   remove one, list them",
    "  /login name           over TLS with a certificate of that account: no password",
    "  /ghost name [password]  disconnect a stale connection holding your account's name",
    "  /forget messages      delete what the room history keeps of your account",
    "  (a password is one word; never type it where others can see it)",
    "registered rooms (kept when empty and across restarts; logged in):",
    "  /register #room       register a room you are an operator of (you are its founder)",
    "  /unregister #room     drop its registration (also /drop #room; the founder)",
    "  /roominfo [#room]     who founded it, and its operator accounts",
    "  /amode #room +o name  the account name is an operator of it on joining (-o: no more)",
)

#: L{HELP} on a server with no default room (C{--room none}).
HELP_NO_DEFAULT_ROOM = tuple(
    "  /part [reason]     leave your room (for no room: /join another)"
    if line.startswith("  /part ") else line for line in HELP)

#: How many names the welcome lists before "and N more".
_WELCOME_NAMES = 10


def _company(shown: list[str], others: int) -> str:
    """C{with 3 others: bob, carol, dave}, or C{alone for now}: C{shown} are
    some of the C{others}."""
    if not others:
        return "alone for now"
    more = others - len(shown)
    count = f"{others} other" + ("s" if others > 1 else "")
    return f"with {count}: {', '.join(shown)}" + (f" and {more} more (/who)" if more > 0 else "")


def _duration(seconds: float) -> str:
    """C{42 s}, C{5 min}, C{3 h}, C{2 days}: how long, roughly."""
    seconds = max(0, int(seconds))
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size * (2 if unit == "days" else 1):
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


_RULE_WORDS = {
    "i": "invite-only",
    "m": "moderated",
    "n": "no messages from outside",
    "s": "secret",
    "t": "only operators set the topic",
    "x": "no history kept",
}
_STATUS_COMMANDS = {"+o": "op", "-o": "deop", "+v": "voice", "-v": "devoice"}
_LIST_WORDS = {"b": "bans", "e": "ban exceptions", "I": "invite exceptions"}


@implementer(IHandshakeListener)
class LineChatProtocol(RecordBacked, BoundedLineReceiver):
    """One line-protocol connection: parse lines into hub calls, render events.

    A C{LineReceiver} (through L{BoundedLineReceiver}, which says what it
    changes and why: an over-long line is refused alone and the connection
    stays; lines end with LF or CRLF; L{MAX_LENGTH} is C{--max-line}).  What
    this class changes on top, and why:

      - L{dataReceived} passes every line, blank and over-long ones too,
        through the connection's flood gate (L{Guard.received}) in order,
        and the gate calls L{lineReceived}; so a refusal of an over-long
        line takes its turn behind the lines before it.  L{lineReceived}
        therefore gets L{TOO_LONG} in place of an over-long line, and hands
        it to L{lineLengthExceeded}, which answers C{! line too long}.
      - L{dataReceived} also answers telnet option negotiation (IAC) first.
      - L{sendLine} writes through the guard's bounded output, as all
        output does.  Events do not go through it: L{deliver} writes an
        event's cached, pre-rendered bytes (docs/performance.rst, step 3).
    """

    log = Logger()
    #: The hub's record of this user (name, host, away...): set by the hub.
    record: User
    protocol_name: ClassVar[str] = "line"
    #: Neither CTCP nor WALLOPS: a line user's client shows text, it does
    #: not answer requests.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, hub: ChatFactory) -> None:
        super().__init__(hub.settings.max_line)
        self.hub = hub
        self._guard: Guard | None = None
        self._telnet_tail = b""
        #: Output and replays waiting for a history replay to be read (L{_replay}).
        default = hub.default_room
        #: The default room's name, or C{""} on a server without one (a
        #: name no room has, so every notice names its room, as
        #: L{chatsvc.protocols.line.wire.render_text} reads it).
        self._home = default.name if default is not None else ""

    # -- connection lifecycle -----------------------------------------------

    def connectionMade(self) -> None:
        # On a server with a password, nothing but /pass, /quit and /help is
        # answered before the password: not even who is online.
        handle = self._before_password if self.hub.password_required else self.lineReceived
        transport = self.transport
        assert transport is not None  # makeConnection sets it before calling us
        self._guard = Guard(self.hub, self, transport, handle)
        if not self._guard.start():
            return
        how = (
            "this server needs a password: send /pass PASSWORD, then #yourname"
            if self.hub.password_required else "register with #yourname"
        )
        self.deliver(Notice(
            f"welcome to {self.hub.settings.server_name}! {how}; /help lists commands"
        ))
        history = history_of(self.hub.delivery)
        if history is not None:  # what is kept, before anything is said
            self.deliver(Notice(history.stores()))

    def handshakeCompleted(self) -> None:  # noqa: N802 (Twisted's IHandshakeListener)
        """TLS is up: the client's certificate, if any, goes on the hub's record."""
        if self._guard is not None:
            self._guard.handshake_completed()

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._guard is not None:
            self._guard.lost()  # the hub logs the end of the session

    def disconnect(self, reason: str) -> None:
        """Close this connection on the server's initiative, saying why.

        The user sees C{* reason} as the last line (C{* server shutting
        down}); the others see it leave with that reason.
        """
        guard = self._guard
        if guard is None or guard.closing:
            return
        self.deliver(Notice(reason))
        guard.close(reason)

    # -- output --------------------------------------------------------------

    def sendLine(self, line: bytes) -> None:
        """Send one line (CRLF is added) within the connection's backlog limit."""
        guard = self._guard
        if guard is not None:
            guard.write(line + self.line_end)

    def deliver(self, event: Event) -> None:
        guard = self._guard
        if guard is not None:
            # Hot spot, the send path (docs/performance.rst, step 3): the
            # first recipient renders the event (line_bytes caches it in the
            # event); the rest of a broadcast's recipients find the bytes
            # there, and looking first saves a call per recipient.
            data = event.wire.get(WIRE_FORMAT)
            guard.write(data if data is not None else line_bytes(event, self._home))

    # -- the reply budget (chatsvc.conn.limits.ReplyBudget) ------------------------

    #: Made on the first bulk request: idle connections carry none.
    _budget: ReplyBudget | None = None

    def _bulk(self, what: str) -> None:
        """Raise L{TryAgain} unless a bulk answer to C{what} may go out now."""
        budget = self._budget
        if budget is None:
            budget = self._budget = ReplyBudget(self.hub.clock)
        if not budget.allows():
            raise TryAgain(what, budget.wait())

    def _deliver_bulk(self, event: Event) -> None:
        """L{deliver} a bulk answer (after L{_bulk}), charging its bytes."""
        guard = self._guard
        if guard is not None:
            data = line_bytes(event, self._home)
            guard.write(data)
            if self._budget is not None:
                self._budget.spend(len(data))

    def kicked(self, room: str) -> None:
        """Kicked from a room: back to the default room, or into no room."""
        if self._guard is None or self._guard.closing:
            return
        if self._home and room.lower() != self._home.lower():
            try:
                self.hub.join(self, self._home)
                self._replay_on_entering()
                return
            except ChatError as refusal:
                self.deliver(refusal.as_event())
        self.deliver(Notice(NO_ROOM))

    # -- input ---------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """Answer telnet negotiation, split lines, pass each to the flood gate."""
        guard = self._guard
        if guard is None:
            return
        if b"\xff" in data or self._telnet_tail:
            answers, self._telnet_tail = telnet_refusals(self._telnet_tail + data)
            if answers:
                guard.write(answers)
        # Every line counts against the flood gate, blank and over-long too;
        # the gate calls lineReceived.  One split per read and no per-line
        # dispatch here: this is the input hot path (docs/performance.rst,
        # steps 11 and 12).
        for line in self._lines.feed(data):
            guard.received(line)

    def lineReceived(self, raw: bytes | object) -> None:
        """Handle one line (or L{TOO_LONG}); refusals become C{! ...} replies.

        Hot spot, the input parser: one method from raw line to hub call,
        because it runs for every line every client sends and each layer of
        calls here costs every message (docs/performance.rst, step 12).
        """
        if raw is TOO_LONG:
            self.lineLengthExceeded(b"")
            return
        text = clean_line(raw)  # type: ignore[arg-type]
        if not text or text.isspace():
            return
        first = text[0]
        try:
            if first == "@":
                self._private(text[1:])
            elif first == "#":
                name = text[1:].strip()
                if self.name is not None and any(c.isspace() for c in name):
                    self._say(text)  # "#hashtag here" is talk; a name has no spaces
                else:
                    self._register(name)
            elif first != "/":
                self._say(text)
            elif text.startswith("//"):
                self._say(text[1:])
            else:
                command, _, argument = text[1:].partition(" ")
                handler = self._COMMANDS.get(command.lower())
                if handler is None:
                    raise UnknownCommand(command)
                handler(self, argument.strip())
        except ChatError as refusal:
            self.deliver(refusal.as_event())

    def lineLengthExceeded(self, line: bytes) -> None:
        """Refuse one over-long line; the connection and the lines after it carry on.

        Called when the line's turn through the flood gate comes, with
        C{b""}: its bytes were discarded as they arrived.
        """
        self.deliver(LineTooLong(self.hub.settings.max_line).as_event())

    def _before_password(self, raw: bytes | object) -> None:
        """A line from a client that has not given the server password yet.

        Only C{/pass}, C{/quit} and C{/help} are answered; anything else gets
        the hub's own refusal (L{PasswordRequired}), which clients already
        know.  Every line has passed the flood gate already.
        """
        if raw is TOO_LONG:
            self.lineLengthExceeded(b"")
            return
        text = clean_line(raw)  # type: ignore[arg-type]
        if not text or text.isspace():
            return
        command, _, argument = text.partition(" ")
        handler = self._OPEN_COMMANDS.get(command.lower())
        if handler is None:
            self.deliver(PasswordRequired().as_event())
            return
        try:
            handler(self, argument.strip())
        except ChatError as refusal:
            self.deliver(refusal.as_event())

    def _room(self) -> Room:
        """The current room; a line user is in at most one."""
        for room in self.hub.rooms_of(self):
            return room
        if self.name is None:
            raise NotRegistered()
        raise NoRoom()

    def _say(self, text: str, action: bool = False) -> None:
        self.hub.say(self, self._room().name, text, action)

    def _private(self, rest: str) -> None:
        # The name ends at the first ':' or ' ', whichever comes first.
        cut = rest.find(":")
        if cut < 0:
            cut = len(rest)
        space = rest.find(" ", 0, cut)
        if space >= 0:
            cut = space
        target, body = rest[:cut], rest[cut + 1:].strip()
        if not target:
            raise Usage("say who: @name:text")
        if not body:
            raise EmptyMessage()
        recipient = self.hub.whisper(self, target, body)
        away = recipient.record.away
        if away:  # marked away: as IRC's 301 tells IRC users
            self.deliver(Notice(f"{recipient.name} is away: {plain(away)}"))

    # -- commands ------------------------------------------------------------

    def _cmd_who(self, argument: str) -> None:
        if argument:
            name = argument.split()[0]
        elif self.name is None and self._home:  # before registering, a look at the default room
            name = self._home
        else:
            name = self._room().name
        self._bulk("/who")
        members = self.hub.members(name, viewer=self)
        self._deliver_bulk(Who(
            self.hub.find_room(name).name,
            tuple(m.name for m in members),
            tuple(m.name for m in members if m.operator),
            tuple(m.name for m in members if m.voiced and not m.operator),
        ))

    def _cmd_msg(self, argument: str) -> None:
        """IRC's C{/msg name text} (also C{/w}, C{/query}): a private message."""
        target, _, body = argument.partition(" ")
        if not target:
            raise Usage("to whom? /msg name text")
        if not body.strip():
            raise Usage(f"say what? /msg {target} text (there are no query windows here)")
        self._private(f"{target}:{body}")

    def _cmd_away(self, argument: str) -> None:
        """C{/away [text]}: marked away (for IRC's WHOIS and replies too) until C{/back}."""
        text = self.hub.set_away(self, plain(argument) or "away")
        self.deliver(Notice(f"you are away: {text}; /back when you return"))

    def _cmd_back(self, argument: str) -> None:
        was = self.record.away
        self.hub.set_away(self, None)
        self.deliver(Notice("you are back" if was is not None else "you were not away"))

    def _cmd_whois(self, argument: str) -> None:
        """C{/whois name}: what IRC's WHOIS tells, in one line."""
        words = argument.split()
        if not words:
            raise Usage("about whom? /whois name")
        person = self.hub.user_named(words[0])
        if person is None:
            raise NoSuchUser(words[0])
        record = person.record
        rooms = [room.name for room in self.hub.rooms_of(person) if self.hub.can_see(self, room)]
        facts = [f"{record.ident}@{record.host}", f"{record.protocol}"
                 + (" over TLS" if record.secure else "")]
        if record.realname and record.realname != record.name:
            facts.append(f"real name {plain(record.realname)}")
        facts.append(f"in {', '.join(rooms)}" if rooms else "in no room you can see")
        if record.account is not None:
            facts.append(f"logged in as {record.account}")
        if record.certfp is not None and (person is self or self.hub.is_server_operator(self)):
            facts.append(f"certificate {record.certfp}")  # to themselves and opers only
        if self.hub.is_server_operator(person):
            facts.append("a server operator")
        if record.bot:
            facts.append("a bot")
        if record.away is not None:
            facts.append(f"away: {plain(record.away)}")
        now = self.hub.clock.seconds()
        facts.append(f"idle {_duration(now - record.last_active)}, "
                     f"connected {_duration(now - record.signon)}")
        self.deliver(Notice(f"{record.name}: {'; '.join(facts)}"))

    def _cmd_help(self, argument: str) -> None:
        if argument.strip().lower() == "accounts":
            for line in ACCOUNT_HELP:
                self.deliver(Notice(line))
            return
        for line in HELP if self._home else HELP_NO_DEFAULT_ROOM:
            self.deliver(Notice(line))

    def _cmd_me(self, argument: str) -> None:
        self._say(argument, action=True)

    def _cmd_say(self, argument: str) -> None:
        self._say(argument)

    # -- room commands -------------------------------------------------------

    def _cmd_join(self, argument: str) -> None:
        words = argument.split()
        if not words:
            raise Usage("join where? /join #room [key]")
        current = self.hub.rooms_of(self)
        leaving = current[0].name if current else None
        self.hub.join(self, words[0], words[1] if len(words) > 1 else None, leaving=leaving)
        self._replay_on_entering()

    def _cmd_part(self, argument: str) -> None:
        room = self._room()
        if room is self.hub.default_room:
            raise InDefaultRoom(room.name)
        if not self._home:  # no default room to go back to: into no room
            self.hub.part(self, room.name, argument)
            self.deliver(Notice(NO_ROOM))
            return
        try:
            self.hub.join(self, self._home, leaving=room.name, reason=argument)
        except RoomError as refusal:
            self.hub.part(self, room.name, argument)
            self.deliver(refusal.as_event())
            self.deliver(Notice(NO_ROOM))
            return
        self._replay_on_entering()

    def _cmd_rooms(self, argument: str) -> None:
        """C{/rooms [page]}: L{ROOMS_PER_PAGE} rooms a page, on the reply budget.

        One line per page: a server's whole list in one line grows without
        bound, past what clients read as a line (chatsvc.client's: 64 KiB).
        """
        words = argument.split()
        if len(words) > 1 or (words and not words[0].isdigit()):
            raise Usage("usage: /rooms [page]")
        page = int(words[0]) if words else 1
        self._bulk("/rooms")
        rooms = self.hub.visible_rooms(self)
        pages = max(1, -(-len(rooms) // ROOMS_PER_PAGE))
        if not 1 <= page <= pages:
            raise NoSuchPage(page, len(rooms), pages, ROOMS_PER_PAGE)
        start = (page - 1) * ROOMS_PER_PAGE
        listed = rooms[start:start + ROOMS_PER_PAGE]
        self._deliver_bulk(RoomList(
            tuple((room.name, len(room), room.topic) for room in listed),
            start + 1, len(rooms), page + 1 if page < pages else None))

    def _cmd_topic(self, argument: str) -> None:
        room = self._room()
        if not argument:
            self.deliver(Topic(room.name, room.topic))
        else:
            self.hub.set_topic(self, room.name, "" if argument == "-" else argument)

    def _cmd_kick(self, argument: str) -> None:
        name, _, reason = argument.partition(" ")
        if not name:
            raise Usage("kick whom? /kick name [reason]")
        self.hub.kick(self, self._room().name, name, reason.strip())

    def _cmd_invite(self, argument: str) -> None:
        if not argument:
            raise Usage("invite whom? /invite name")
        room = self._room()
        name = self.hub.invite(self, room.name, argument.split()[0])
        self.deliver(Notice(f"you invite {name} to {room.name}"))

    def _status(self, mode: str, argument: str) -> None:
        names = argument.split()
        if not names:
            raise Usage(f"whom? /{_STATUS_COMMANDS[mode]} name")
        self._change_modes(mode[0] + mode[1] * len(names), names)

    def _cmd_op(self, argument: str) -> None:
        self._status("+o", argument)

    def _cmd_deop(self, argument: str) -> None:
        self._status("-o", argument)

    def _cmd_voice(self, argument: str) -> None:
        self._status("+v", argument)

    def _cmd_devoice(self, argument: str) -> None:
        self._status("-v", argument)

    def _cmd_ban(self, argument: str) -> None:
        if not argument:
            self._show_list(self._room(), "b")
        else:
            masks = argument.split()
            self._change_modes("+" + "b" * len(masks), masks)

    def _cmd_unban(self, argument: str) -> None:
        if not argument:
            raise Usage("unban what? /unban mask")
        masks = argument.split()
        self._change_modes("-" + "b" * len(masks), masks)

    def _cmd_mode(self, argument: str) -> None:
        room = self._room()
        words = argument.split()
        if words and words[0].startswith("#"):  # IRC's "/mode #room +m"
            named = words.pop(0)
            if fold(named) != room.key:
                raise NotYourRoom(room.name, named)
        if not words:
            self._show_rules(room)
            return
        spec, *arguments = words
        self._apply(room, parse_modes(spec, arguments))

    def _change_modes(self, spec: str, arguments: list[str]) -> None:
        self._apply(self._room(), parse_modes(spec, arguments))

    def _apply(self, room: Room, changes: list[ModeChange]) -> None:
        for change in changes:
            if change.is_list_query:
                try:
                    self._show_list(room, change.mode)
                except TryAgain as refusal:  # the changes still apply
                    self.deliver(refusal.as_event())
        wanted = [change for change in changes if not change.is_list_query]
        if wanted and not self.hub.set_modes(self, room.name, changes):
            # Nothing to announce: say so, or a telnet user hears nothing at all.
            self.deliver(Notice(f"nothing changed on {room.name}: it was already so"))

    def _show_rules(self, room: Room) -> None:
        words = [_RULE_WORDS[letter] for letter, attr in sorted(FLAG_MODES.items())
                 if getattr(room, attr)]
        if room.password is not None:
            words.append("a key is needed to join")
        if room.limit is not None:
            words.append(f"at most {room.limit} members")
        explained = f" ({', '.join(words) or 'no rules'})"
        self.deliver(Notice(f"modes of {room.name}: {room.mode_string()}{explained}"))

    def _show_list(self, room: Room, mode: str) -> None:
        """A ban, exception or invitation list (at most MAXLIST), on the reply budget."""
        self._bulk("/ban" if mode == "b" else f"/mode +{mode}")
        entries = [entry.mask for entry in getattr(room, LIST_MODES[mode])]
        what = _LIST_WORDS[mode]
        if entries:
            self._deliver_bulk(Notice(f"{what} on {room.name} ({len(entries)}): "
                                      f"{', '.join(entries)}"))
        else:
            self._deliver_bulk(Notice(f"no {what} on {room.name}"))

    def _cmd_oper(self, argument: str) -> None:
        words = argument.split()
        if len(words) != 2:
            raise Usage("usage: /oper name password")
        self.hub.oper(self, words[0], words[1])
        self.deliver(Notice("you are now a server operator"))

    def _cmd_pass(self, argument: str) -> None:
        """The server password; a wrong one closes the connection, as on IRC."""
        if self.name is not None:
            raise AlreadyRegistered()
        try:
            self.hub.authenticate(self, argument)
        except (BadPassword, TooManyFailures) as refusal:
            self.deliver(refusal.as_event())
            if self._guard is not None:
                self._guard.close(str(refusal))
            return
        if self.hub.password_required:
            if self._guard is not None:
                self._guard.handle_with(self.lineReceived)
            self.deliver(Notice("password accepted: now register with #yourname"))

    def _cmd_nick(self, argument: str) -> None:
        self._register(argument)

    def _register(self, name: str) -> None:
        """Register or rename; a newcomer is told where they are, and with whom."""
        first = self.name is None
        self.hub.register(self, name)
        if not first or self.name is None:
            return
        rooms = self.hub.rooms_of(self)
        if not rooms:  # the default room refused them
            self.deliver(Notice(NO_ROOM))
            return
        room = rooms[0]
        # A few names and the count: a room of 10,000 is not sorted for each newcomer.
        shown = sorted(itertools.islice((member.name for member in room.everyone
                                         if member is not self and member.name is not None),
                                        _WELCOME_NAMES), key=fold)
        self.deliver(Notice(f"you are in {room.name} {_company(shown, len(room) - 1)}"))
        self._replay_on_entering()

    # -- history (issue 18) ----------------------------------------------------

    def _replay_on_entering(self) -> None:
        """Show the room just entered's last C{--history-replay} messages."""
        history = history_of(self.hub.delivery)
        rooms = self.hub.rooms_of(self)
        if history is not None and rooms:
            self.deliver(Notice(history.keeps(rooms[0])))
            if history.replay:
                self._replay(rooms[0], history.replay, quiet=True)

    def _cmd_history(self, argument: str) -> None:
        """C{/history [#room] [N]}: the last N (default C{--history-replay}, at
        most L{MAX_REPLAY}) messages of your room, or of a room you could join
        without an invitation or a key.  C{/history @bob [N]} (or C{bob}):
        your last N private messages with account bob, when logged in."""
        history = history_of(self.hub.delivery)
        if history is None:
            raise NoHistory()
        words = argument.split()
        exact = "--ids" in words  # for programs (chatsvc.client): ids and exact times
        words = [word for word in words if word != "--ids"]
        room_name = words.pop(0) if words and words[0].startswith("#") else None
        other = None
        if room_name is None and words and not words[0].isdigit():
            other = words.pop(0).removeprefix("@")
        if len(words) > 1 or (words and not words[0].isdigit()) or other == "":
            raise Usage("usage: /history [#room|@name] [N]")
        count = min(int(words[0]), MAX_REPLAY) if words else (history.replay or 50)
        if other is not None:
            account = self.record.account
            if account is None:  # private history is read by account: a guest has none
                raise PrivateHistoryNeedsAccount()
            if count == 0:
                raise Usage("usage: /history @name [N] (N at least 1)")
            self._bulk("/history")
            self._replay_private(account, other, count, exact)
            return
        if room_name is None:
            room = self._room()
        else:
            room = self.hub.find_room(room_name, viewer=self)  # NoSuchRoom if secret
            if self not in room and (room.invite_only or room.password is not None):
                raise NotInRoom(room.name)
        if count == 0:
            raise Usage("usage: /history [#room] [N] (N at least 1)")
        self._bulk("/history")
        if room.no_history and not exact:
            self.deliver(Notice(history.keeps(room)))
            return
        self._replay(room, count, quiet=False, exact=exact)

    def _cmd_forget(self, argument: str) -> None:
        """C{/forget messages}: delete every room row of your account (what
        you said, your topic changes, joins and parts), in every room; the
        answer says how many.  Logged in only: rows are found by account."""
        history = history_of(self.hub.delivery)
        if history is None:
            raise NoHistory()
        if argument.strip().lower() != "messages":
            raise Usage("usage: /forget messages (deletes what the room history keeps of "
                        "your account, in every room)")
        account = self.record.account
        if account is None:  # rows are found by account: a guest's are nobody's
            raise NotLoggedIn()
        self._bulk("/forget")

        def done(count: int) -> None:
            self.deliver(Notice(f"forgot {count} of your room messages and events"))

        def failed(failure: Failure) -> None:
            self.log.error("history of {account} not forgotten: {why}", account=account,
                           why=failure.getErrorMessage())
            self.deliver(HistoryUnavailable("your account").as_event())

        history.forget(account).addCallbacks(done, failed)

    def _replay(self, current: Room, count: int, quiet: bool, exact: bool = False) -> None:
        """Read C{current}'s last C{count} messages and show them in their place.

        Reads are asynchronous, so from now until the read is done all
        output to this user is held (L{_hold_for}) and written after the history
        block, in order: the history shows what was said before this call
        (the store reads after every message recorded before it) and the
        live lines what was said after, with neither gap nor repeat.
        C{quiet}: nothing at all if the room has no history (on joining).
        C{exact} (C{/history --ids}): each line with its id, exact time and
        kind, and a block even when there is nothing (C{(0) with ids}).

        The count is of rows of every kind the room keeps (topic changes,
        and joins and parts with C{--history-joins}): what the block shows.
        """
        history = history_of(self.hub.delivery)
        if history is None:
            return
        room = current.name
        holding = self._hold_for()
        if holding is None:
            return
        place, slot = holding
        reading = history.replay_of(current, count, KINDS)

        def read(messages: list[StoredMessage]) -> None:
            now = self.hub.clock.seconds()
            if not messages and not exact:
                slot.data = b"" if quiet else line_bytes(Notice(f"no history for {room}"))
            else:
                slot.data = history_block(
                    messages[-1].room if messages else room,
                    [(m.time, m.sender, m.text, m.action, m.kind, m.id, m.notice)
                     for m in messages], now, exact)

        def failed(failure: Failure) -> None:
            self.log.error("history of {room} not read: {why}", room=room,
                           why=failure.getErrorMessage())
            slot.data = line_bytes(HistoryUnavailable(room).as_event())

        reading.addCallback(read).addErrback(failed)  # a failed rendering too: never held
        reading.addCallback(lambda _: place.filled(slot))

    def _hold_for(self) -> tuple[Holding, Replay] | None:
        """A place among this user's output for a history being read: from
        now until it is filled, everything written to them is held after it
        (L{chatsvc.conn.holding})."""
        return Holding.hold(self, "_guard")

    def _replay_private(self, account: str, other: str, count: int,
                        exact: bool = False) -> None:
        """Show the last C{count} private messages between this user's account
        and account C{other}, in their place (as L{_replay}).

        C{account} is the hub's record of who is logged in here, never a
        name this user typed: nobody reads a conversation they are not in.
        """
        history = history_of(self.hub.delivery)
        if history is None:
            return
        holding = self._hold_for()
        if holding is None:
            return
        place, slot = holding
        reading = history.private_replay_of(account, other, count)
        me = fold(account)

        def read(messages: list[StoredPrivate]) -> None:
            if not messages and not exact:
                slot.data = line_bytes(Notice(f"no private history with {plain(other)}"))
                return
            slot.data = private_history_block(
                other, [(m.time, m.sender_key == me, m.sender, m.text, m.action, m.id, m.notice)
                        for m in messages], self.hub.clock.seconds(), exact)

        def failed(failure: Failure) -> None:
            self.log.error("private history not read: {why}", why=failure.getErrorMessage())
            slot.data = line_bytes(HistoryUnavailable(other).as_event())

        reading.addCallback(read).addErrback(failed)  # a failed rendering too: never held
        reading.addCallback(lambda _: place.filled(slot))

    # -- accounts (chatsvc.accounts; docs/user/accounts.rst) -------------------
    #
    # Passwords are never logged nor echoed: the answers name the account only.

    def _accounts(self) -> AccountRules:
        accounts = self.hub.accounts
        if accounts is None:
            raise NoAccounts()
        return accounts

    def _answer_later(self, pending: Deferred[Any], say: Callable[[Any], str]) -> None:
        """Show C{say(result)} when an account operation is done, or its refusal."""

        def done(result: object) -> None:
            self.deliver(Notice(say(result)))

        def refused(failure: Failure) -> None:
            if isinstance(failure.value, ChatError):
                self.deliver(failure.value.as_event())
            else:
                self.log.failure("account operation failed", failure)

        pending.addCallbacks(done, refused)

    def _cmd_register(self, argument: str) -> None:
        """C{/register PASSWORD}: your current name becomes an account;
        C{/register #room}: register a room (a password never starts with C{#})."""
        if argument.startswith("#"):
            self._register_room(argument)
            return
        words = argument.split()
        if len(words) != 1:
            raise Usage("usage: /register password (one word)")
        accounts = self._accounts()
        self._answer_later(accounts.register(self, words[0]),
                           lambda name: f"registered {name}")

    def _cmd_login(self, argument: str) -> None:
        """C{/login NAME PASSWORD}: also before C{#name}, which it then does.
        C{/login NAME}, over TLS with a certificate added to that account
        (C{/certfp add}): the same without the password."""
        words = argument.split()
        if len(words) not in (1, 2):
            raise Usage("usage: /login name password")
        accounts = self._accounts()
        if len(words) == 1:
            if self.record.certfp is None:
                raise Usage("usage: /login name password")
            pending = accounts.log_in_by_certificate(self, words[0])
        else:
            pending = accounts.log_in(self, words[0], words[1])
        self._answer_later(pending, lambda name: f"logged in as {name}")

    def _cmd_certfp(self, argument: str) -> None:
        """C{/certfp add [fp]}, C{/certfp del fp}, C{/certfp list}: the TLS client
        certificates that log in to your account (C{/certfp}: this connection's)."""
        words = argument.split()
        if not words:  # what this connection showed: also on a server without accounts
            fingerprint = self.record.certfp
            self.deliver(Notice(f"your certificate: {fingerprint}" if fingerprint is not None
                                else "you showed no TLS client certificate"))
            return
        verb = words[0].lower()
        accounts = self._accounts()
        if verb == "add" and len(words) in (1, 2):
            def added(result: tuple[str, bool]) -> str:
                fingerprint, new = result
                return (f"certificate {fingerprint} added: /login "
                        f"{self.record.account} needs no password with it" if new
                        else f"certificate {fingerprint} is on your account already")

            self._answer_later(accounts.add_certificate(
                self, words[1] if len(words) == 2 else None), added)
        elif verb in ("del", "delete") and len(words) == 2:
            self._answer_later(accounts.remove_certificate(self, words[1]),
                               lambda fingerprint: f"certificate {fingerprint} removed")
        elif verb == "list" and len(words) == 1:
            self._answer_later(accounts.certificates(self), lambda fingerprints: (
                f"certificates: {', '.join(fingerprints)}" if fingerprints
                else "your account has no certificates"))
        else:
            raise Usage("usage: /certfp add [fingerprint], /certfp del fingerprint, "
                        "/certfp list")

    def _cmd_ghost(self, argument: str) -> None:
        """C{/ghost NAME [PASSWORD]}: close a stale connection holding a name of
        your account (NickServ's GHOST)."""
        words = argument.split()
        if len(words) not in (1, 2):
            raise Usage("usage: /ghost name [password]")
        accounts = self._accounts()
        self._answer_later(accounts.ghost(self, words[0], words[1] if len(words) == 2
                                          else None),
                           lambda name: f"{name} has been ghosted")

    def _cmd_logout(self, argument: str) -> None:
        name = self._accounts().log_out(self)
        self.deliver(Notice(f"logged out of {name}"))

    def _cmd_password(self, argument: str) -> None:
        words = argument.split()
        if len(words) != 2:
            raise Usage("usage: /password old new")
        accounts = self._accounts()
        self._answer_later(accounts.change_password(self, words[0], words[1]),
                           lambda _: "password changed")

    def _cmd_drop(self, argument: str) -> None:
        if argument.startswith("#"):
            self._cmd_unregister(argument)
            return
        words = argument.split()
        if len(words) != 1:
            raise Usage("usage: /drop password")
        accounts = self._accounts()
        self._answer_later(accounts.drop(self, words[0]),
                           lambda name: f"dropped the account {name}")

    def _cmd_account(self, argument: str) -> None:
        """C{/account [name]}: whom you are logged in as; whether C{name} is an
        account (public: taking the name would say so too)."""
        accounts = self._accounts()
        words = argument.split()
        if not words:
            account = self.record.account
            self.deliver(Notice(f"you are logged in as {account}" if account is not None
                                else "you are not logged in"))
            return
        name = accounts.account_named(words[0])
        if name is None:
            raise NoSuchAccount(words[0])
        self.deliver(Notice(f"{name} is a registered account"))

    # -- registered rooms (chatsvc.hub.registered; docs/user/rooms.rst) -------------

    def _registry(self) -> RoomRegistry:
        registry = self.hub.registry
        if registry is None:
            raise NoAccounts()
        return registry

    def _register_room(self, argument: str) -> None:
        words = argument.split()
        if len(words) != 1:
            raise Usage("usage: /register #room")
        self._answer_later(self._registry().register(self, words[0]),
                           lambda room: f"registered {room}")

    def _cmd_unregister(self, argument: str) -> None:
        words = argument.split()
        if len(words) != 1 or not words[0].startswith("#"):
            raise Usage("usage: /unregister #room")
        self._answer_later(self._registry().drop(self, words[0]),
                           lambda room: f"{room} is no longer registered")

    def _cmd_roominfo(self, argument: str) -> None:
        words = argument.split()
        if len(words) > 1 or (words and not words[0].startswith("#")):
            raise Usage("usage: /roominfo [#room]")
        room, registration = self._registry().info(
            self, words[0] if words else self._room().name)
        ago = _duration(self.hub.clock.seconds() - registration.registered)
        operators = sorted((op.account for op in registration.operators.values()), key=fold)
        listed = ", ".join(operators) if operators else "none"
        self.deliver(Notice(f"{room.name} is registered to {registration.founder} "
                            f"(for {ago}); operator accounts: {listed}"))

    def _cmd_amode(self, argument: str) -> None:
        """C{/amode #room +o account} (or C{-o}): ergo's C{ChanServ AMODE}."""
        words = argument.split()
        if len(words) == 1 and words[0].startswith("#"):
            self._cmd_roominfo(argument)
            return
        if (len(words) != 3 or not words[0].startswith("#")
                or words[1] not in ("+o", "-o")):
            raise Usage("usage: /amode #room +o account (or -o)")
        adding = words[1] == "+o"
        name, changed = self._registry().set_operator(self, words[0], words[2], adding)
        room = self.hub.find_room(words[0]).name
        if not changed:
            self.deliver(Notice(f"nothing changed on {room}: it was already so"))
        elif adding:
            self.deliver(Notice(f"{name} is an operator of {room} by account"))
        else:
            self.deliver(Notice(f"{name} is no longer an operator of {room} by account"))

    def _cmd_quit(self, argument: str) -> None:
        self.deliver(Notice("bye"))
        if self._guard is not None:
            self._guard.quit(argument or "quit")

    #: ``/command`` -> handler.  A class attribute, not a table of bound
    #: methods per connection: idle connections are most of a server's
    #: memory (docs/performance.rst, step 5).
    _COMMANDS: ClassVar[dict[str, Callable[[LineChatProtocol, str], None]]] = {
        "who": _cmd_who,
        "names": _cmd_who,
        "whois": _cmd_whois,
        "msg": _cmd_msg,
        "w": _cmd_msg,
        "query": _cmd_msg,
        "away": _cmd_away,
        "back": _cmd_back,
        "list": _cmd_rooms,
        "help": _cmd_help,
        "me": _cmd_me,
        "quit": _cmd_quit,
        "nick": _cmd_nick,
        "say": _cmd_say,
        "join": _cmd_join,
        "part": _cmd_part,
        "rooms": _cmd_rooms,
        "topic": _cmd_topic,
        "kick": _cmd_kick,
        "invite": _cmd_invite,
        "op": _cmd_op,
        "deop": _cmd_deop,
        "voice": _cmd_voice,
        "devoice": _cmd_devoice,
        "ban": _cmd_ban,
        "unban": _cmd_unban,
        "mode": _cmd_mode,
        "oper": _cmd_oper,
        "pass": _cmd_pass,
        "history": _cmd_history,
        "forget": _cmd_forget,
        "register": _cmd_register,
        "login": _cmd_login,
        "certfp": _cmd_certfp,
        "ghost": _cmd_ghost,
        "logout": _cmd_logout,
        "password": _cmd_password,
        "drop": _cmd_drop,
        "account": _cmd_account,
        "unregister": _cmd_unregister,
        "roominfo": _cmd_roominfo,
        "amode": _cmd_amode,
    }

    #: The commands answered before the server password (see L{_before_password}).
    _OPEN_COMMANDS: ClassVar[dict[str, Callable[[LineChatProtocol, str], None]]] = {
        "/pass": _cmd_pass,
        "/quit": _cmd_quit,
        "/help": _cmd_help,
    }
