"""The hub: the user map, the rooms, and the only code that routes.

Adapters (the line protocol here; IRC and WebSocket later) turn their wire
format into calls on L{ChatFactory} and render the L{chatsvc.events} it
delivers.  Nothing in this module knows a wire format, so adding a protocol
never touches routing.
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger

from chatsvc.conn.limits import (
    ACCOUNT_BACKOFF_CAP,
    CONNECTION_LOG_LINES,
    FAILURES_PER_CONNECTION,
    LOG_INTERVAL,
    LOG_LINES,
    ConnectThrottle,
    FailureThrottle,
    HostCounter,
    LogBudget,
    address_key,
)
from chatsvc.events import (
    PROCESS_SERIALS,
    AccountChanged,
    AwayChanged,
    Entered,
    Exited,
    HostChanged,
    Invited,
    InviteNotified,
    Joined,
    Kicked,
    Left,
    ModesChanged,
    Motd,
    Presence,
    PrivateMessage,
    RealNameChanged,
    Registered,
    Renamed,
    RoomMessage,
    Stamp,
    TagMessage,
    Topic,
    TopicChanged,
    Wallops,
    Watched,
)
from chatsvc.hub.counts import FAILED_ATTEMPTS, KILLED, REGISTER_TIMEOUT, Counts
from chatsvc.hub.delivery import Delivery, LocalDelivery
from chatsvc.hub.errors import (
    AlreadyInRoom,
    BadKey,
    BadModeArgument,
    BadNameError,
    BadOperLogin,
    BadPassword,
    BadRoomName,
    Banned,
    CannotSpeak,
    ChatError,
    ConnectingTooFast,
    EmptyMessage,
    InviteOnly,
    ListFull,
    NameTaken,
    NoRoom,
    NoSuchRoom,
    NoSuchService,
    NoSuchUser,
    NotInRoom,
    NotOperator,
    NotRegistered,
    NotServerOperator,
    PasswordRequired,
    Refused,
    RoomError,
    RoomFull,
    ServerFull,
    ShuttingDown,
    TooManyConnections,
    TooManyFailures,
    TooManyListEntries,
    TooManyModes,
    TooManyRooms,
    TopicTooLong,
    UnknownUserMode,
    UserAlreadyInRoom,
    UserNotInRoom,
)
from chatsvc.hub.masks import BadMask, MaskEntry, MaskList, normalize_mask, user_mask
from chatsvc.hub.modes import (
    FLAG_MODES,
    KEY_MODE,
    LIMIT_MODE,
    LIST_MODES,
    MAX_MODE_ARGUMENTS,
    MAX_MODE_LETTERS,
    STATUS_MODES,
    ModeChange,
)
from chatsvc.hub.names import BadName, check_name, check_room_name, fold, is_service_name
from chatsvc.hub.participant import Participant
from chatsvc.hub.rooms import (
    MAX_KEY_LENGTH,
    MAX_LIMIT,
    MAX_LIST_ENTRIES,
    MAX_LIST_ENTRIES_PER_ADDRESS,
    MAX_SERVER_LIST_ENTRIES,
    MAX_TOPIC_LENGTH,
    MemberInfo,
    Room,
)
from chatsvc.hub.settings import Settings
from chatsvc.hub.users import (
    BOT_MODE,
    MAX_AWAY_LENGTH,
    MESSAGE_TAGS,
    NOTIFY,
    SETTABLE_USER_MODES,
    WALLOPS,
    HubStats,
    User,
)
from chatsvc.hub.watch import Watches
from chatsvc.hub.whowas import WhoWas

#: The tag the hub puts on every message of a user with user mode +B
#: (IRCv3 bot mode), before the sender's own tags.
BOT_TAG = ("bot", "")

if TYPE_CHECKING:
    from chatsvc.accounts.rules import AccountRules
    from chatsvc.hub.registered import RoomRegistry


class ChatFactory(ServerFactory):
    """The hub, and the factory for line-protocol connections.

    Every listener of every protocol shares one instance, which is what puts
    a telnet user and an IRC user in the same room.

    Rooms: the default room (C{settings.room}), if there is one, always
    exists and has no creator; any other room is created by its first join,
    whose member becomes its operator, and disappears with its last member,
    unless it is registered (L{chatsvc.hub.registered}: C{registry}).
    With C{settings.room} C{None} there is no default room
    (C{default_room} is C{None}): a fresh server has no rooms at all, and
    nobody is put anywhere on registering.  Every
    refusal is a L{chatsvc.hub.errors.ChatError}; every change is announced with
    an event to whom it concerns.  C{clock} (the reactor, or a
    L{twisted.internet.task.Clock} in tests) runs the registration deadline
    and gives the times recorded for topics and list entries (its
    C{seconds()}: since the epoch, from the reactor).

    Every event the hub emits leaves through C{delivery} (see
    L{chatsvc.hub.delivery}): a L{LocalDelivery} unless another is given,
    such as one that stores history or publishes to a cluster around it.
    Each carries the identity the hub gives it (L{_stamp}): the clock's time
    and a serial of this process (L{chatsvc.events}).  The two views of one
    change, what the others see and what the one who made it sees (L{Joined}
    and L{Entered}, L{Left} and L{Exited}, L{Kicked} and the victim's
    L{Exited}, L{Renamed} and L{Registered}), are one happening and share
    one stamp, as IRC's C{msgid} of a JOIN is the same for everyone.
    """

    log = Logger()

    def __init__(self, settings: Settings | None = None,
                 clock: IReactorTime | None = None, delivery: Delivery | None = None) -> None:
        if clock is None:
            from twisted.internet import reactor

            clock = cast(IReactorTime, reactor)
        self.settings = settings or Settings()
        self.clock: IReactorTime = clock
        #: The one way out for every event the hub emits.
        self.delivery: Delivery = LocalDelivery() if delivery is None else delivery
        #: Where event serials come from: the process's, unless a cluster
        #: node sets its own (L{chatsvc.events.serials}).
        self.serials = PROCESS_SERIALS
        self._last_time = 0.0
        self.connections: set[Participant] = set()
        settings = self.settings
        self.hosts = HostCounter(settings.max_per_ip, settings.per_ip_exempt)
        self.connect_throttle = ConnectThrottle(clock, settings.connect_rate,
                                                settings.connect_window, settings.per_ip_exempt)
        #: Failed passwords (server password, /oper) per address and per
        #: account, kept across connections: reconnecting does not reset them.
        self.address_failures = FailureThrottle(clock)
        self.account_failures = FailureThrottle(clock, cap=ACCOUNT_BACKOFF_CAP)
        #: Failed or refused password attempts of each connection so far.
        self._attempts: dict[Participant, int] = {}
        #: Each kind of log line has a budget, so a storm cannot fill the disk.
        self.connection_lines = LogBudget(clock, "connection lines", CONNECTION_LOG_LINES,
                                          LOG_INTERVAL)
        self.refusal_lines = LogBudget(clock, "refused-connection lines", LOG_LINES,
                                       LOG_INTERVAL)
        self.auth_lines = LogBudget(clock, "failed-password lines", LOG_LINES, LOG_INTERVAL)
        self.drop_lines = LogBudget(clock, "dropped-client lines", LOG_LINES, LOG_INTERVAL)
        self.name_lines = LogBudget(clock, "rename lines", LOG_LINES, LOG_INTERVAL)
        self.log_budgets = (self.connection_lines, self.refusal_lines, self.auth_lines,
                            self.drop_lines, self.name_lines)
        self._deadlines: dict[Participant, IDelayedCall] = {}
        self.users: dict[str, Participant] = {}
        #: The most users registered at once (IRC's LUSERS "max").
        self.peak_users = 0
        #: Where line users land and return to; C{None} when there is none.
        self.default_room: Room | None = None
        self.rooms: dict[str, Room] = {}
        if self.settings.room is not None:
            self.default_room = Room(self.settings.room, self.clock.seconds())
            self.rooms[self.default_room.key] = self.default_room
        self.closing = False
        self._drained: list[Deferred[None]] = []
        #: Participants who logged in with C{/oper}: operators of every room.
        self.opers: set[Participant] = set()
        #: Names recently given up (renames, departures): IRC's WHOWAS.
        self.whowas = WhoWas(now=self.clock.seconds)
        #: Who watches which names (IRC's MONITOR): told by L{_presence}.
        self.watches = Watches()
        self._joined: dict[Participant, dict[str, Room]] = {}
        self._invites: dict[Participant, set[Room]] = {}
        #: Connections that gave the server password (only kept when one is set).
        self._authenticated: set[Participant] = set()
        #: Ban, exception and invitation entries in every room, in all and
        #: per address that set them (L{MaskEntry.owner}): see L{_check_mode}.
        self.list_entries = 0
        self._list_entries_by: Counter[str] = Counter()
        #: The account rules (L{chatsvc.accounts.rules.AccountRules}, which set
        #: it), or C{None} on a server that keeps no accounts.
        self.accounts: AccountRules | None = None
        #: The registered rooms (L{chatsvc.hub.registered.RoomRegistry}, which
        #: sets it), or C{None} on a server that keeps none.
        self.registry: RoomRegistry | None = None
        #: Running totals for metrics (L{chatsvc.hub.counts}); the send
        #: queues of every connection add their bytes to C{counts.output}.
        self.counts = Counts()

    # -- connections ---------------------------------------------------------

    def buildProtocol(self, addr: IAddress | None) -> Protocol:
        from chatsvc.protocols.line.protocol import LineChatProtocol

        protocol = LineChatProtocol(self)
        protocol.factory = self
        return protocol

    def adapter(self, build: Callable[[ChatFactory], Protocol]) -> ServerFactory:
        """A factory for another protocol's listener, attached to this hub."""
        return _AdapterFactory(self, build)

    def attach(self, participant: Participant, host: str, *, secure: bool = False) -> User:
        """Admit a new connection from C{host}, or raise a L{chatsvc.hub.errors.Refused}.

        Gives the participant its record (L{User}) first, even if refused,
        so that it can render the refusal.  C{secure} says the connection is
        encrypted.  Applies C{--max-clients}, C{--max-per-ip} and
        C{--connect-rate}, and starts the C{--register-timeout} clock: a
        connection still unregistered when it runs out is told so and closed.
        """
        record = participant.record = User(
            host, participant.protocol_name, secure=secure,
            capabilities=participant.capabilities, signon=self.clock.seconds())
        if self.closing:
            raise self._refused(ShuttingDown())
        settings = self.settings
        limit = settings.max_clients
        if limit and len(self.connections) >= limit:
            self.refusal_lines.warn(self.log, "refused {host}: server full ({limit} connections)",
                                    host=host, limit=limit)
            raise self._refused(ServerFull())
        if not self.hosts.add(host):
            self.refusal_lines.warn(self.log, "refused {host}: {limit} connections from that "
                                    "address", host=host, limit=settings.max_per_ip)
            raise self._refused(TooManyConnections(settings.max_per_ip))
        wait = self.connect_throttle.take(host)
        if wait:
            self.hosts.remove(host)
            self.refusal_lines.warn(
                self.log, "refused {host}: over {rate} new connections in {window:g} s",
                host=host, rate=settings.connect_rate, window=settings.connect_window)
            raise self._refused(ConnectingTooFast(wait))
        self.counts.accepted[record.protocol] += 1
        self.counts.connected[record.protocol] += 1
        self.connections.add(participant)
        self.connection_lines.info(self.log, "{protocol} connection from {host}",
                                   protocol=record.protocol, host=host)
        if settings.register_timeout:
            self._deadlines[participant] = self.clock.callLater(
                settings.register_timeout, self._registration_expired, participant)
        return record

    def _refused(self, refusal: Refused) -> Refused:
        """Count a connection refused on arrival; return C{refusal}, for the caller to raise."""
        self.counts.refused[refusal.code] += 1
        return refusal

    def detach(self, participant: Participant, reason: str, *,
               logged_reason: str | None = None) -> None:
        """Forget a connection that has closed, telling whoever shared a room, once.

        C{reason} is shown to the others; C{logged_reason} replaces it in the
        log when it is the user's own words (a quit message is content).
        """
        name = participant.name
        if participant in self.connections:
            self.connections.remove(participant)
            self.counts.connected[participant.record.protocol] -= 1
            self.hosts.remove(participant.host)  # counted by attach()
            # One line per session, at its end: who, why, how long.
            record = participant.record
            self.connection_lines.info(
                self.log, "{name} left ({reason}) after {duration:.1f} s ({protocol} from {host})",
                name=name or "(unregistered)",
                reason=reason if logged_reason is None else logged_reason,
                duration=max(0.0, self.clock.seconds() - record.signon),
                protocol=record.protocol, host=record.host)
        self._cancel_deadline(participant)
        self._authenticated.discard(participant)
        self._attempts.pop(participant, None)
        if self.accounts is not None:
            self.accounts.forget(participant)
        self.opers.discard(participant)
        self.watches.clear(participant)
        for room in self._invites.pop(participant, ()):
            room.invited.discard(participant)
        if name is not None and self.users.get(fold(name)) is participant:
            mask = self.mask_of(participant)
            self.whowas.record(name, mask, participant.record.real_name)
            del self.users[fold(name)]
            audience = self._audience(participant)
            rooms = self.rooms_of(participant)
            for room in rooms:
                self._drop_member(participant, room)
            if not self.closing:  # everyone is leaving: nobody to tell
                left = Left(None, name, reason, mask=mask, account=participant.record.account,
                            stamp=self._stamp())
                self.delivery.to_many(audience, left)
                # A history that keeps joins records the quit in each room
                # (chatsvc.store.delivery.HistoryDelivery.quit_from); an
                # optional method, so that any Delivery still will do.
                quit_from = getattr(self.delivery, "quit_from", None)
                if quit_from is not None:
                    quit_from(rooms, left)
                self._presence(name, None)
        if not self.connections and self._drained:
            drained, self._drained = self._drained, []
            for waiting in drained:
                waiting.callback(None)

    def shutdown(self, reason: str) -> Deferred[None]:
        """Say goodbye to every connection and close it; fires once all are gone.

        Each participant renders the goodbye in its own protocol (see
        L{Participant.disconnect}).  New connections are refused from now on.
        The Deferred may never fire if a peer never lets go: callers bound
        the wait (L{chatsvc.service.lifecycle.ChatService} does).
        """
        self.closing = True
        for budget in self.log_budgets:
            budget.flush()
        count = len(self.connections)
        self.log.info("shutting down: closing {count} connection{s}", count=count,
                      s="" if count == 1 else "s")
        for participant in list(self.connections):
            participant.disconnect(reason)
        waiting: Deferred[None] = Deferred()
        if self.connections:
            self._drained.append(waiting)
        else:
            waiting.callback(None)
        return waiting

    def _registration_expired(self, participant: Participant) -> None:
        self._deadlines.pop(participant, None)
        if participant.name is None and participant in self.connections:
            timeout = self.settings.register_timeout
            self.counts.drops[REGISTER_TIMEOUT] += 1
            participant.disconnect(f"registration timeout ({timeout:g} s)")

    def _cancel_deadline(self, participant: Participant) -> None:
        deadline = self._deadlines.pop(participant, None)
        if deadline is not None and deadline.active():
            deadline.cancel()

    # -- the server password -------------------------------------------------

    @property
    def password_required(self) -> bool:
        """Whether connections must give the server password before registering."""
        return self.settings.password is not None

    def authenticate(self, participant: Participant, password: str | None) -> None:
        """Check the server password (C{--password}) for a connection.

        The rule lives here, not in an adapter, so that no protocol is a way
        around it: L{register} refuses a first registration until this has
        succeeded.  Raises L{BadPassword} on a mismatch, and
        L{TooManyFailures}, without looking at the password, while the
        address is backing off after wrong ones.
        """
        expected = self.settings.password
        if expected is None:
            return
        self._check_attempt(participant, None)
        if not _same_secret(password, expected):
            self.auth_lines.info(self.log, "{host}: wrong server password", host=participant.host)
            raise self._failed_attempt(participant, None, BadPassword())
        self._authenticated.add(participant)

    def is_authenticated(self, participant: Participant) -> bool:
        """Whether C{participant} may register: it gave the server password, or none is set."""
        return not self.password_required or participant in self._authenticated

    def _check_attempt(self, participant: Participant, account: str | None) -> None:
        """Refuse a password attempt while its address or account is backing off."""
        wait = self.address_failures.wait(address_key(participant.host))
        if account is not None:
            wait = max(wait, self.account_failures.wait(_account_key(account)))
        if wait > 0:
            raise self._count_attempt(participant, TooManyFailures(wait))

    def check_attempt(self, participant: Participant, account: str) -> None:
        """Raise L{TooManyFailures} while the address or C{account} backs off
        (the guessing throttle, for account logins as for C{/oper})."""
        self._check_attempt(participant, account)

    def failed_attempt(self, participant: Participant, account: str,
                       refusal: ChatError) -> ChatError:
        """Count a wrong account password against the address and the account;
        return C{refusal} to raise (the fifth of a connection closes it)."""
        return self._failed_attempt(participant, account, refusal)

    def _failed_attempt(self, participant: Participant, account: str | None,
                        refusal: ChatError) -> ChatError:
        """Count a wrong password against its address and account; return C{refusal}."""
        self.address_failures.failed(address_key(participant.host))
        if account is not None:
            self.account_failures.failed(_account_key(account))
        return self._count_attempt(participant, refusal)

    def _count_attempt(self, participant: Participant, refusal: ChatError) -> ChatError:
        """Count an attempt of this connection; at its last, say C{refusal} and disconnect.

        Returns C{refusal}, for the caller to raise.
        """
        if participant in self.connections:
            count = self._attempts.get(participant, 0) + 1
            self._attempts[participant] = count
            if count >= FAILURES_PER_CONNECTION:
                self.auth_lines.warn(self.log, "{host} disconnected: {count} failed password "
                                     "attempts", host=participant.host, count=count)
                self.delivery.to_user(participant, refusal.as_event(stamp=self._stamp()))
                self.counts.drops[FAILED_ATTEMPTS] += 1
                participant.disconnect("too many failed attempts")
        return refusal

    # -- names ---------------------------------------------------------------

    def register(self, participant: Participant, name: str, *, autojoin: bool = True) -> None:
        """Give C{participant} a name: first registration, or a rename.

        A first registration joins the default room unless C{autojoin} is
        false (an adapter whose users join rooms themselves) or there is no
        default room; if the room's rules refuse them, they are told why and
        are in no room.
        """
        try:
            check_name(name)
        except BadName as why:
            raise BadNameError(str(why)) from None
        holder = self.users.get(fold(name))
        if holder is not None and holder is not participant:
            raise NameTaken(name)
        if participant.name is None:
            if self.password_required and participant not in self._authenticated:
                raise PasswordRequired()
            self._first_registration(participant, name, autojoin)
        else:
            self._rename(participant, name)
        if self.accounts is not None:  # a registered name: log in or be renamed
            self.accounts.named(participant)

    def _first_registration(self, participant: Participant, name: str, autojoin: bool) -> None:
        self._cancel_deadline(participant)
        participant.record.name = name
        self.users[fold(name)] = participant
        self.peak_users = max(self.peak_users, len(self.users))
        self.counts.registrations += 1
        self.delivery.to_user(participant, Registered(name, stamp=self._stamp()))
        self._presence(name, participant)
        if self.settings.motd:
            self.delivery.to_user(participant, Motd(tuple(self.settings.motd),
                                                    stamp=self._stamp()))
        room = self.default_room
        if not autojoin or room is None:
            return
        try:
            self._check_entry(participant, room, None)
        except RoomError as refusal:
            self.delivery.to_user(participant, refusal.as_event(stamp=self._stamp()))
            return
        self._admit(participant, room, self._stamp())
        if room.topic:
            self.delivery.to_user(participant, Topic(room.name, room.topic,
                                                     stamp=self._stamp()))
        if room.registered and self.registry is not None:  # operators by account
            self.registry.joined(participant, room)

    def _rename(self, participant: Participant, new: str) -> None:
        old = participant.name
        assert old is not None
        if old == new:
            self.delivery.to_user(participant, Registered(new, stamp=self._stamp()))
            return
        mask = self.mask_of(participant)
        self.whowas.record(old, mask, participant.record.real_name)
        rooms = self.rooms_of(participant)
        del self.users[fold(old)]
        participant.record.name = new
        self.users[fold(new)] = participant
        for room in rooms:
            room.rekey(participant, old)
        self.name_lines.info(self.log, "{old} is now {new}", old=old, new=new)
        stamp = self._stamp()
        self.delivery.to_user(participant, Registered(new, stamp=stamp))
        audience = self._audience(participant)
        self.delivery.to_many(audience, Renamed(old, new, mask=mask,
                                                account=participant.record.account,
                                                stamp=stamp))
        record = participant.record
        if record.user is None:
            # The mask's username is the name (a line or web user): it changed too.
            told = [p for p in audience if NOTIFY in p.record.capabilities]
            change = HostChanged(new, record.ident, record.host,
                                 mask=user_mask(new, old, record.host), stamp=stamp)
            if told:
                self.delivery.to_many(told, change)
            self._tell_watchers(participant, audience, change)
        if fold(old) != fold(new):  # a change of case is the same name to a watcher
            self._presence(old, None)
            self._presence(new, participant)

    def _tell_watchers(self, participant: Participant, audience: Iterable[Participant],
                       change: AwayChanged | RealNameChanged | HostChanged
                       | AccountChanged) -> None:
        """Show C{change} (about C{participant}) to its watchers who did not
        see it in a room (IRCv3 extended-monitor), as a L{Watched}."""
        assert participant.name is not None
        watchers = self.watches.watchers(participant.name)
        if watchers:
            seen = set(audience)
            others = [w for w in watchers if w is not participant and w not in seen
                      and NOTIFY in w.record.capabilities]
            if others:
                self.delivery.to_many(others, Watched(change, stamp=change.stamp))

    def _presence(self, name: str, holder: Participant | None) -> None:
        """Tell the watchers of C{name} (L{watches}) that C{holder} took it, or,
        with C{None}, that it is free: on registration, rename and departure.

        One dict lookup when nobody watches the name, which is almost always.
        """
        watchers = self.watches.watchers(name)
        if watchers:
            mask = self.mask_of(holder) if holder is not None else ""
            self.delivery.to_many(list(watchers), Presence(name, holder is not None, mask=mask,
                                                           stamp=self._stamp()))

    # -- messages ------------------------------------------------------------

    def say(self, sender: Participant, room_name: str | None, text: str,
            action: bool = False, *, notice: bool = False, echo: bool = False,
            tags: tuple[tuple[str, str], ...] = (), status: str = "") -> None:
        """Send C{text} to room C{room_name} (the default room when C{None}).

        With no room named and no default room, that is L{NoRoom}.

        Members other than the sender receive it, and the sender too with
        C{echo} (IRCv3 echo-message: the client shows its own line once
        relayed, with the server's time).  The rules are checked once
        for the sender, never per recipient: +n keeps out non-members, +m
        silences all but operators and voiced members, and a ban silences a
        banned member who is neither.

        C{tags} are IRCv3 client-only tags that travel with the message (the
        hub adds C{bot} for a sender with user mode +B).  C{status} C{"@"}
        sends it to the room's operators alone, C{"+"} to its operators and
        voiced members (IRC's STATUSMSG), under the same rules.
        """
        record = sender.record
        name = record.name  # _require_name, inline: this runs for every message
        if name is None:
            raise NotRegistered()
        if not text or text.isspace():
            raise EmptyMessage()
        if room_name is not None:
            room = self.find_room(room_name, sender)
        elif self.default_room is not None:
            room = self.default_room
        else:
            raise NoRoom()
        if room.no_outside:
            if sender not in room:
                raise CannotSpeak(room.name, "not in room")
            inside = True
        else:
            inside = sender in room
        if (room.moderated or room.bans) and not room.can_speak_freely(sender):
            if room.moderated:
                raise CannotSpeak(room.name, "moderated")
            if room.is_banned(fold(self.mask_of(sender))):
                raise CannotSpeak(room.name, "banned")
        # Hot spot, event construction: _stamp, inline (docs/performance.rst,
        # "Event identity").
        now = self.clock.seconds()
        if now < self._last_time:
            now = self._last_time
        else:
            self._last_time = now
        record.last_active = now
        if BOT_MODE in record.modes:
            tags = (BOT_TAG, *tags)
        message = RoomMessage(room.name, name, text, action, mask=self.mask_of(sender),
                              notice=notice, tags=tags, status=status,
                              account=record.account, stamp=(now, next(self.serials)))
        # Counted once per message, by the audience's size: nothing per
        # recipient is added to the fan-out loop (chatsvc.hub.counts).
        counts = self.counts
        counts.room_messages += 1
        if status:
            audience = self._status_audience(room, status, sender, echo)
            counts.deliveries += len(audience)
            self.delivery.to_many(audience, message)
            return
        counts.deliveries += len(room.everyone) - (inside and not echo)
        self.delivery.to_room(room, message, exclude=None if echo else sender)

    def _status_audience(self, room: Room, status: str, sender: Participant,
                         echo: bool) -> list[Participant]:
        """Who a STATUSMSG to C{room} reaches: its operators, and its voiced
        members too for C{"+"}; the sender only with C{echo}."""
        return [member for member in room.everyone
                if (member in room.operators or (status == "+" and member in room.voiced))
                and (echo or member is not sender)]

    def whisper(self, sender: Participant, target: str, text: str,
                action: bool = False, *, notice: bool = False,
                echo: bool = False, tags: tuple[tuple[str, str], ...] = ()) -> Participant:
        """Send C{text} to the user called C{target} alone; return that user.

        C{notice} (IRC's NOTICE) tells clients never to answer automatically;
        C{echo} delivers the message to its sender too, and C{tags} travel
        with it (see L{say}).  The recipient is returned so that an adapter can show, say, its away
        message without looking the name up again.
        """
        record = sender.record
        name = record.name  # _require_name, inline: this runs for every message
        if name is None:
            raise NotRegistered()
        if not text or text.isspace():
            raise EmptyMessage()
        # Hot spot, event construction: fold, _stamp and mask_of, inline,
        # for every private message (docs/performance.rst, "Event identity").
        recipient = self.users.get(target.lower() if target.isascii() else fold(target))
        if recipient is None and self.accounts is not None:  # kept for an offline account
            recipient = self.accounts.inbox(sender, target)
        if recipient is None or (to := recipient.record.name) is None:
            raise NoSuchService(target) if is_service_name(target) else NoSuchUser(target)
        now = self.clock.seconds()
        if now < self._last_time:
            now = self._last_time
        else:
            self._last_time = now
        record.last_active = now
        mask = f"{name}!{record.user or name}@{record.host}"
        if BOT_MODE in record.modes:
            tags = (BOT_TAG, *tags)
        message = PrivateMessage(name, to, text, action, mask=mask, notice=notice, tags=tags,
                                 account=record.account, stamp=(now, next(self.serials)))
        counts = self.counts
        counts.private_messages += 1
        self.delivery.to_user(recipient, message)
        if echo:
            # A message to yourself arrives, then is echoed: twice, as
            # IRCv3 echo-message has it (the echo is the one a labeled
            # response labels).
            counts.deliveries += 2
            self.delivery.to_user(sender, message)
        else:
            counts.deliveries += 1
        return recipient

    def tag_message(self, sender: Participant, target: str,
                    tags: tuple[tuple[str, str], ...], *, echo: bool = False) -> None:
        """Send only C{tags} to a room or a user (IRCv3 TAGMSG: reactions, typing).

        The rules of L{say} (for a room, C{target} starting with C{#}) and
        L{whisper} (for a user) apply; the L{TagMessage} goes only to those
        whose protocol can show tags (L{MESSAGE_TAGS}: not the line or web
        protocols), the sender too with C{echo}.  Nothing to send (no tag)
        is L{EmptyMessage}.
        """
        name = self._require_name(sender)
        record = sender.record
        if BOT_MODE in record.modes:
            tags = (BOT_TAG, *tags)
        if not tags:
            raise EmptyMessage()
        mask = self.mask_of(sender)
        if target.startswith("#"):
            room = self.find_room(target, sender)
            self._check_speaker(room, sender)
            self.delivery.to_many(
                [p for p in room.everyone
                 if MESSAGE_TAGS in p.record.capabilities and (echo or p is not sender)],
                TagMessage(name, room.name, tags, mask=mask, account=record.account,
                           stamp=self._stamp()))
            return
        recipient = self.user_named(target)
        if recipient is None or (to := recipient.record.name) is None:
            raise NoSuchService(target) if is_service_name(target) else NoSuchUser(target)
        message = TagMessage(name, to, tags, mask=mask, account=record.account,
                             stamp=self._stamp())
        # As for whisper: to yourself with echo, it arrives, then is echoed.
        if MESSAGE_TAGS in recipient.record.capabilities:
            self.delivery.to_user(recipient, message)
        if echo and MESSAGE_TAGS in record.capabilities:
            self.delivery.to_user(sender, message)

    def _check_speaker(self, room: Room, sender: Participant) -> None:
        """Raise L{CannotSpeak} if C{sender} may not talk in C{room} (see L{say},
        which has these rules inline: they run for every message)."""
        if room.no_outside and sender not in room:
            raise CannotSpeak(room.name, "not in room")
        if (room.moderated or room.bans) and not room.can_speak_freely(sender):
            if room.moderated:
                raise CannotSpeak(room.name, "moderated")
            if room.is_banned(fold(self.mask_of(sender))):
                raise CannotSpeak(room.name, "banned")

    # -- joining and leaving rooms -------------------------------------------

    def join(self, participant: Participant, room_name: str, key: str | None = None, *,
             leaving: str | None = None, reason: str = "") -> Room:
        """Put C{participant} in room C{room_name}, creating it if need be.

        The rules are checked in IRC's order: ban (unless an exception
        matches), invite-only (unless invited or matching +I), key, limit; an
        invitation also passes the key and the limit.  With C{leaving}, the
        participant leaves that room for this one, but only once this one has
        admitted them (the line protocol's one current room).  The others
        there get L{Joined}; the joiner gets L{Entered}.
        """
        name = self._require_name(participant)
        try:
            check_room_name(room_name)
        except BadName as why:
            raise BadRoomName(room_name, str(why)) from None
        room = self.rooms.get(fold(room_name))
        if room is not None and participant in room:
            raise AlreadyInRoom(room.name)
        old = None if leaving is None else self._membership(participant, leaving)
        if old is None and len(self._joined.get(participant, ())) >= self.settings.max_rooms:
            raise TooManyRooms(room.name if room else room_name, self.settings.max_rooms)
        created = room is None
        if room is None:
            room = Room(room_name, self.clock.seconds())
        else:
            self._check_entry(participant, room, key)
        if old is not None:
            # Where they went, and came from, unless that is a secret.
            self._drop_member(participant, old)
            self.delivery.to_room(old, Left(old.name, name, reason,
                                            to=None if room.secret else room.name,
                                            mask=self.mask_of(participant),
                                            account=participant.record.account,
                                            stamp=self._stamp()))
        if created:
            self.rooms[room.key] = room
            self.log.info("{name} created {room}", name=name, room=room.name)
        stamp = self._stamp()
        self._admit(participant, room, stamp,
                    None if old is None or old.secret else old.name)
        if created:
            room.operators.add(participant)
        self.delivery.to_user(participant, Entered(room.name, len(room), room.topic,
                                                   old.name if old is not None else None,
                                                   stamp=stamp))
        if room.registered and self.registry is not None:  # operators by account
            self.registry.joined(participant, room)
        return room

    def part(self, participant: Participant, room_name: str, reason: str = "") -> None:
        """Take C{participant} out of a room; the others get L{Left}, they L{Exited}."""
        name = self._require_name(participant)
        room = self._membership(participant, room_name)
        self._drop_member(participant, room)
        stamp = self._stamp()
        self.delivery.to_room(room, Left(room.name, name, reason,
                                         mask=self.mask_of(participant),
                                         account=participant.record.account, stamp=stamp))
        self.delivery.to_user(participant, Exited(room.name, reason, stamp=stamp))

    def kick(self, kicker: Participant, room_name: str, target: str, reason: str = "") -> None:
        """An operator removes C{target} from a room.

        The others there get L{Kicked}; the target gets L{Exited} last, then
        its C{kicked(room)} hook runs if it has one (see L{Participant}).
        """
        name = self._require_name(kicker)
        room = self.find_room(room_name, kicker)
        self._require_operator(kicker, room)
        victim = room.member(target)
        if victim is None or victim.name is None:
            raise UserNotInRoom(room.name, target)
        mask = self.mask_of(kicker)
        self._drop_member(victim, room)
        stamp = self._stamp()
        self.delivery.to_room(room, Kicked(room.name, victim.name, name, reason, mask=mask,
                                           account=kicker.record.account, stamp=stamp))
        self.log.info("{by} kicked {name} from {room}", by=name, name=victim.name,
                      room=room.name)
        self.delivery.to_user(victim, Exited(room.name, reason, name, mask=mask, stamp=stamp))
        after = getattr(victim, "kicked", None)
        if after is not None:
            after(room.name)

    def invite(self, inviter: Participant, room_name: str, target: str) -> str:
        """Invite C{target} to a room; returns their name as registered.

        Any member may invite, but only an operator to an invite-only room.
        The invitation lasts until used, until the invitee leaves the server,
        or until the room disappears.
        """
        name, room = self._acting_in(inviter, room_name, "invite_only")
        invitee = self.users.get(fold(target))
        if invitee is None or invitee.name is None:
            raise NoSuchUser(target)
        if invitee in room:
            raise UserAlreadyInRoom(room.name, invitee.name)
        room.invited.add(invitee)
        self._invites.setdefault(invitee, set()).add(room)
        mask, stamp = self.mask_of(inviter), self._stamp()
        self.delivery.to_user(invitee, Invited(room.name, name, invitee.name, mask=mask,
                                               stamp=stamp, account=inviter.record.account))
        told = [member for member in room.everyone
                if member is not inviter and NOTIFY in member.record.capabilities]
        if told:
            self.delivery.to_many(told, InviteNotified(room.name, name, invitee.name, mask=mask,
                                                       stamp=stamp))
        return invitee.name

    # -- topics and rules ----------------------------------------------------

    def set_topic(self, setter: Participant, room_name: str, topic: str) -> None:
        """Set (or, with C{""}, clear) a room's topic; every member gets L{TopicChanged}."""
        name, room = self._acting_in(setter, room_name, "topic_locked")
        topic = topic.strip()
        if len(topic.encode("utf-8")) > MAX_TOPIC_LENGTH:
            raise TopicTooLong(room.name, MAX_TOPIC_LENGTH)
        room.topic, room.topic_by, room.topic_at = topic, name, self.clock.seconds()
        self.delivery.to_room(room, TopicChanged(room.name, name, topic,
                                                 mask=self.mask_of(setter),
                                                 account=setter.record.account,
                                                 stamp=self._stamp()))
        if room.registered and self.registry is not None:  # kept: written through
            self.registry.changed(room)

    def set_modes(self, setter: Participant, room_name: str,
                  changes: Iterable[ModeChange]) -> tuple[ModeChange, ...]:
        """Apply rule and status changes, all or none; return those that changed.

        Every change is checked before any is applied.  Changes that change
        nothing (C{+m} on a moderated room, C{-b} of an absent mask) are
        dropped; list queries are ignored.  If anything changed, every member
        gets one L{ModesChanged}, with masks normalised and names as
        registered.  More than one command's worth (L{MAX_MODE_ARGUMENTS}
        with an argument, L{MAX_MODE_LETTERS} in all: what
        L{chatsvc.hub.modes.parse_modes} lets through) is refused with
        L{TooManyModes}, whatever the adapter.
        """
        name = self._require_name(setter)
        room = self.find_room(room_name, setter)
        wanted = [change for change in changes if not change.is_list_query]
        if not wanted:
            return ()
        if len(wanted) > MAX_MODE_LETTERS or sum(
                change.argument is not None for change in wanted) > MAX_MODE_ARGUMENTS:
            raise TooManyModes(MAX_MODE_ARGUMENTS, MAX_MODE_LETTERS)
        self._require_operator(setter, room)
        owner = self._list_owner(setter)
        checked = [self._check_mode(room, change, owner) for change in wanted]
        applied = tuple(change for change in checked
                        if self._apply_mode(room, change, name, owner))
        if applied:
            self.delivery.to_room(room, ModesChanged(room.name, name, applied,
                                                     mask=self.mask_of(setter),
                                                     stamp=self._stamp()))
            self.log.info("{by} set modes on {room}", by=name, room=room.name)
            if room.registered and self.registry is not None:  # kept: written through
                self.registry.changed(room, applied)
        return applied

    def _check_mode(self, room: Room, change: ModeChange, owner: str | None) -> ModeChange:
        mode, argument = change.mode, change.argument
        if mode in FLAG_MODES:
            return ModeChange(change.adding, mode)
        if mode == KEY_MODE:
            if not change.adding:
                return ModeChange(False, mode)
            assert argument is not None
            if not argument or len(argument) > MAX_KEY_LENGTH or any(
                    c.isspace() or c == "," or not c.isprintable() for c in argument):
                raise BadModeArgument(room.name, mode, argument,
                                      f"a key is 1 to {MAX_KEY_LENGTH} characters, "
                                      "no spaces or commas")
            return change
        if mode == LIMIT_MODE:
            if not change.adding:
                return ModeChange(False, mode)
            assert argument is not None
            try:
                limit = int(argument)
            except ValueError:
                limit = 0
            if not 1 <= limit <= MAX_LIMIT:
                raise BadModeArgument(room.name, mode, argument,
                                      f"the limit is a number from 1 to {MAX_LIMIT}")
            return ModeChange(True, mode, str(limit))
        if mode in LIST_MODES:
            assert argument is not None
            try:
                mask = normalize_mask(argument)
            except BadMask as why:
                raise BadModeArgument(room.name, mode, argument, str(why)) from None
            entries: MaskList = getattr(room, LIST_MODES[mode])
            existing = entries.get(mask)
            if change.adding and existing is None:
                self._check_list_room(room, mode, owner)
            if not change.adding and existing is not None:
                mask = existing.mask  # announce what is removed as it was set
            return ModeChange(change.adding, mode, mask)
        assert mode in STATUS_MODES and argument is not None
        member = room.member(argument)
        if member is None or member.name is None:
            raise UserNotInRoom(room.name, argument)
        return ModeChange(change.adding, mode, member.name)

    def _list_owner(self, setter: Participant) -> str | None:
        """The address a list entry C{setter} adds counts against; C{None} for
        a server operator or an address exempt from per-address limits."""
        return None if setter in self.opers else self.hosts.key(setter.host)

    def _check_list_room(self, room: Room, mode: str, owner: str | None) -> None:
        """Raise L{ListFull} unless one more entry fits every list limit.

        Three limits, because an entry lives as long as its room and costs
        memory: C{MAX_LIST_ENTRIES} per room (IRC's C{MAXLIST}), and, since
        one address can run many rooms, C{MAX_LIST_ENTRIES_PER_ADDRESS} per
        setter's address and C{MAX_SERVER_LIST_ENTRIES} in all.
        """
        if room.list_entries >= MAX_LIST_ENTRIES:
            raise ListFull(room.name, mode, MAX_LIST_ENTRIES)
        if owner is not None and (
                self._list_entries_by[owner] >= MAX_LIST_ENTRIES_PER_ADDRESS):
            raise TooManyListEntries(room.name, mode, MAX_LIST_ENTRIES_PER_ADDRESS,
                                     "your address")
        if self.list_entries >= MAX_SERVER_LIST_ENTRIES:
            raise TooManyListEntries(room.name, mode, MAX_SERVER_LIST_ENTRIES, "the server")

    def _forget_list_entry(self, entry: MaskEntry) -> None:
        self.list_entries -= 1
        owner = entry.owner
        if owner is not None:
            left = self._list_entries_by[owner] - 1
            if left > 0:
                self._list_entries_by[owner] = left
            else:
                del self._list_entries_by[owner]

    def _apply_mode(self, room: Room, change: ModeChange, by: str, owner: str | None) -> bool:
        mode, argument, adding = change.mode, change.argument, change.adding
        if mode in FLAG_MODES:
            attr = FLAG_MODES[mode]
            if getattr(room, attr) == adding:
                return False
            setattr(room, attr, adding)
            return True
        if mode == KEY_MODE:
            if room.password == argument:
                return False
            room.password = argument
            return True
        if mode == LIMIT_MODE:
            limit = int(argument) if argument is not None else None
            if room.limit == limit:
                return False
            room.limit = limit
            return True
        if mode in LIST_MODES:
            entries: MaskList = getattr(room, LIST_MODES[mode])
            assert argument is not None
            if not adding:
                removed = entries.remove(argument)
                if removed is not None:
                    self._forget_list_entry(removed)
                return removed is not None
            try:  # again: earlier changes of the same command may have filled a list
                self._check_list_room(room, mode, owner)
            except ListFull:
                return False
            if entries.add(argument, by, self.clock.seconds(), owner) is None:
                return False
            self.list_entries += 1
            if owner is not None:
                self._list_entries_by[owner] += 1
            return True
        holders: set[Participant] = getattr(room, STATUS_MODES[mode])
        assert argument is not None
        member = room.member(argument)
        if member is None or (member in holders) == adding:
            return False
        if adding:
            holders.add(member)
        else:
            holders.discard(member)
        return True

    # -- server operators ----------------------------------------------------

    def oper(self, participant: Participant, account: str, password: str) -> None:
        """Make C{participant} a server operator if the account and password match.

        Failures back off per address and per account (L{TooManyFailures},
        refused without looking at the password), across connections.
        """
        name = self._require_name(participant)
        self._check_attempt(participant, account)
        expected = self.settings.opers.get(account)
        # Compared even for an unknown account, so that the time taken does
        # not tell which accounts exist.
        if not _same_secret(password, expected or "") or expected is None:
            self.auth_lines.warn(self.log, "failed /oper as {account} by {name} from {host}",
                                 account=account[:64], name=name, host=participant.host)
            raise self._failed_attempt(participant, account, BadOperLogin())
        self.opers.add(participant)
        self.log.info("{name} from {host} is a server operator (account {account})",
                      name=name, host=participant.host, account=account)

    # -- accounts (the checks are chatsvc.accounts.rules's) -----------------------

    def certified(self, participant: Participant, fingerprint: str) -> None:
        """Record the fingerprint of the TLS client certificate C{participant}
        showed (L{chatsvc.conn.certificates}), once its handshake is done."""
        participant.record.certfp = fingerprint

    def log_in(self, participant: Participant, account: str, *, oper: bool = False) -> None:
        """Record that C{participant} is logged in to C{account} (its password
        checked by the account rules); an C{oper} account is a server operator."""
        participant.record.account = account
        self.log.info("{name} from {host} logged in as {account}", name=participant.name,
                      host=participant.host, account=account)
        if oper:
            self.opers.add(participant)
        self._account_changed(participant)
        if self.registry is not None:  # an operator by account of a room they are in
            for room in self.rooms_of(participant):
                if room.registered:
                    self.registry.joined(participant, room)

    def log_out(self, participant: Participant) -> str | None:
        """Forget C{participant}'s account; return it (C{None}: none was logged in)."""
        record = participant.record
        account, record.account = record.account, None
        if account is not None:
            self._account_changed(participant)
        return account

    def _account_changed(self, participant: Participant) -> None:
        """Tell the user and their room mates, on protocols that can show it
        (L{NOTIFY}), that C{participant} logged in or out (IRCv3
        account-notify); watchers too (extended-monitor).  Nothing before
        registration (SASL): nobody can see the user yet, and JOIN and WHO
        show the account from then on."""
        record = participant.record
        name = record.name
        if name is None or self.users.get(fold(name)) is not participant:
            return
        self._notify_change(participant, AccountChanged(
            name, record.account, mask=self.mask_of(participant), stamp=self._stamp()))

    def _notify_change(self, participant: Participant,
                       change: RealNameChanged | AccountChanged) -> None:
        """C{change} to C{participant}'s record, to them and their room mates
        on protocols that can show it (L{NOTIFY}), and to their watchers
        (extended-monitor)."""
        room_mates = self._audience(participant)
        audience = [p for p in room_mates if NOTIFY in p.record.capabilities]
        if NOTIFY in participant.record.capabilities:
            audience.append(participant)
        if audience:
            self.delivery.to_many(audience, change)
        self._tell_watchers(participant, room_mates, change)

    def deoper(self, participant: Participant) -> bool:
        """Give server operator status up (IRC's C{MODE nick -o}); whether it was held."""
        if participant not in self.opers:
            return False
        self.opers.discard(participant)
        self.log.info("{name} is no longer a server operator", name=participant.name)
        return True

    def wallops(self, sender: Participant, text: str) -> None:
        """A server operator writes to every user who asked for WALLOPS.

        Those are the users with user mode C{+w} whose protocol can show it
        (L{chatsvc.hub.users.WALLOPS}); each gets one L{Wallops}.
        """
        name = self._require_name(sender)
        self._require_server_operator(sender)
        if not text or text.isspace():
            raise EmptyMessage()
        audience = [p for p in self.users.values()
                    if "w" in p.record.modes and WALLOPS in p.record.capabilities]
        self.delivery.to_many(audience, Wallops(name, text, mask=self.mask_of(sender),
                                                stamp=self._stamp()))

    def kill(self, killer: Participant, target: str, reason: str) -> str:
        """A server operator disconnects the user called C{target}; returns their name.

        The victim sees, and those who shared a room with them see them
        leave with, C{Killed (killer (reason))}.
        """
        name = self._require_name(killer)
        self._require_server_operator(killer)
        victim = self.user_named(target)
        if victim is None or victim.name is None:
            raise NoSuchUser(target)
        self.log.info("{oper} killed {name} ({reason})", oper=name, name=victim.name,
                      reason=reason)
        self.counts.drops[KILLED] += 1
        victim.disconnect(f"Killed ({name} ({reason}))")
        return victim.name

    # -- what users change about themselves ------------------------------------

    def describe(self, participant: Participant, *, user: str | None = None,
                 realname: str = "") -> None:
        """Record IRC's username and "real name" (its USER command), before registering.

        Both are the adapter's to clean; they show in masks, WHO, WHOIS and
        WHOWAS for everyone.
        """
        record = participant.record
        record.user = user or None
        record.realname = realname

    def set_realname(self, participant: Participant, realname: str) -> str:
        """Change a registered user's real name (IRCv3 SETNAME); returns it as held.

        The adapter cleans and bounds it, as for L{describe}.  The user and
        those who share a room with them get L{RealNameChanged} on protocols
        that can show it (L{NOTIFY}); everyone sees it in WHOIS and C{/whois}.
        """
        name = self._require_name(participant)
        record = participant.record
        record.realname = realname
        self._notify_change(participant, RealNameChanged(
            name, record.real_name, mask=self.mask_of(participant), stamp=self._stamp()))
        return record.real_name

    def set_away(self, participant: Participant, text: str | None) -> str | None:
        """Mark C{participant} away with C{text}, or back with C{None} or blank.

        Returns the away message now held (stripped, at most
        L{MAX_AWAY_LENGTH} characters), C{None} when back.  Everyone sees
        it: IRC's WHOIS and replies to a private message, the line
        protocol's C{/whois} and whispers.
        """
        name = self._require_name(participant)
        text = (text or "").strip()[:MAX_AWAY_LENGTH] or None
        record = participant.record
        if record.away != text:
            record.away = text
            audience = self._audience(participant)
            change = AwayChanged(name, text, mask=self.mask_of(participant),
                                 account=participant.record.account, stamp=self._stamp())
            self.delivery.to_many(audience, change)
            self._tell_watchers(participant, audience, change)
        return text

    def set_user_mode(self, participant: Participant, mode: str, on: bool) -> bool:
        """Set or clear one of the L{SETTABLE_USER_MODES}; whether it changed.

        Raises L{UnknownUserMode} for any other letter (server operator
        status comes with L{oper} and goes with L{deoper}).
        """
        if mode not in SETTABLE_USER_MODES:
            raise UnknownUserMode(mode)
        record = participant.record
        if (mode in record.modes) == on:
            return False
        record.modes = record.modes | {mode} if on else record.modes - {mode}
        return True

    # -- queries (safe to call from deliver) ---------------------------------

    def user_named(self, name: str) -> Participant | None:
        """The registered user called C{name} (ignoring case), or C{None}."""
        return self.users.get(fold(name))

    def registered_users(self) -> list[Participant]:
        """Every registered user, in no particular order: a copy, safe to act on."""
        return list(self.users.values())

    def room_named(self, room_name: str, viewer: Participant | None = None) -> Room | None:
        """Like L{find_room}, but C{None} where that raises L{NoSuchRoom}."""
        try:
            return self.find_room(room_name, viewer)
        except NoSuchRoom:
            return None

    def invitations(self, participant: Participant) -> list[str]:
        """The rooms C{participant} is invited to and has not joined, sorted (IRC's
        C{INVITE} with no arguments)."""
        return sorted((room.name for room in self._invites.get(participant, ())), key=fold)

    def is_server_operator(self, participant: Participant) -> bool:
        """Whether C{participant} logged in with C{/oper}."""
        return participant in self.opers

    def stats(self) -> HubStats:
        """How many users, invisible users, operators, unregistered connections, rooms."""
        users = self.users.values()
        return HubStats(users=len(users),
                        invisible=sum(1 for p in users if p.record.invisible),
                        operators=len(self.opers),
                        unregistered=max(len(self.connections) - len(users), 0),
                        rooms=len(self.rooms), peak=self.peak_users)

    def mask_of(self, participant: Participant) -> str:
        """C{nick!user@host}, from the participant's record (L{User.ident})."""
        record = participant.record
        return user_mask(record.name or "*", record.ident, record.host)

    def find_room(self, room_name: str, viewer: Participant | None = None) -> Room:
        """The room called C{room_name}, if C{viewer} may know it exists.

        A secret room is hidden (L{NoSuchRoom}) from a viewer who is neither
        a member nor a server operator; C{viewer=None} sees everything.
        """
        room = self.rooms.get(fold(room_name))
        if room is None or (viewer is not None and not self.can_see(viewer, room)):
            raise NoSuchRoom(room_name)
        return room

    def can_see(self, viewer: Participant, room: Room) -> bool:
        """Whether C{viewer} may see C{room} listed, its members and its topic."""
        return not room.secret or viewer in room or viewer in self.opers

    def visible_rooms(self, viewer: Participant) -> list[Room]:
        """The rooms C{viewer} may see, sorted by name ignoring case."""
        return sorted((room for room in self.rooms.values() if self.can_see(viewer, room)),
                      key=lambda room: room.key)

    def rooms_of(self, participant: Participant) -> list[Room]:
        """The rooms C{participant} is in."""
        return list(self._joined.get(participant, {}).values())

    def is_operator(self, participant: Participant, room: Room) -> bool:
        """Whether C{participant} may run C{room}: its operator or a server operator."""
        return participant in room.operators or participant in self.opers

    def members(self, room_name: str, viewer: Participant | None = None) -> list[MemberInfo]:
        """The members of a room C{viewer} may see, sorted by name ignoring case."""
        room = self.find_room(room_name, viewer)
        info = [
            MemberInfo(p.name, p.record.ident, p.host,
                       p in room.operators, p in room.voiced, p in self.opers)
            for p in room.everyone if p.name is not None
        ]
        return sorted(info, key=lambda member: fold(member.name))

    # -- helpers -------------------------------------------------------------

    def _stamp(self) -> Stamp:
        """The identity of an event the hub is about to emit: (time, serial).

        The time is the clock's, held where it was if the clock steps back
        (NTP, a VM resumed), so that ids, which sort by time first, keep the
        order events happened in; the serial makes them unique.
        """
        # Inlined in say and whisper (docs/performance.rst, "Event identity").
        now = self.clock.seconds()
        if now < self._last_time:
            now = self._last_time
        else:
            self._last_time = now
        return (now, next(self.serials))

    def _require_name(self, participant: Participant) -> str:
        if participant.name is None:
            raise NotRegistered()
        return participant.name

    def _require_server_operator(self, participant: Participant) -> None:
        if participant not in self.opers:
            raise NotServerOperator()

    def _require_operator(self, participant: Participant, room: Room) -> None:
        if not self.is_operator(participant, room):
            raise NotOperator(room.name)

    def _acting_in(self, actor: Participant, room_name: str,
                   ops_only_rule: str) -> tuple[str, Room]:
        """The actor's name and the room, if they may act there.

        That is a member or a server operator, and an operator of the room
        while the rule named C{ops_only_rule} (C{+i} for invitations, C{+t}
        for the topic) is on.
        """
        name = self._require_name(actor)
        room = self.find_room(room_name, actor)
        if actor not in room and actor not in self.opers:
            raise NotInRoom(room.name)
        if getattr(room, ops_only_rule):
            self._require_operator(actor, room)
        return name, room

    def _membership(self, participant: Participant, room_name: str) -> Room:
        room = self.find_room(room_name, participant)
        if participant not in room:
            raise NotInRoom(room.name)
        return room

    def _check_entry(self, participant: Participant, room: Room, key: str | None) -> None:
        """Raise the refusal, if any, for C{participant} joining C{room}.

        An operator of a registered room by account (L{chatsvc.hub.registered})
        passes them all, as an invitation would and more: an empty +i room
        has nobody left to invite its founder.
        """
        if (room.registered and self.registry is not None
                and self.registry.is_account_operator(participant, room)):
            return
        invited = participant in room.invited
        if room.bans or room.invite_only:
            mask = fold(self.mask_of(participant))
            if room.bans and room.is_banned(mask):
                raise Banned(room.name)
            if room.invite_only and not invited and not room.invite_exceptions.matches(mask):
                raise InviteOnly(room.name)
        if invited:
            return
        if room.password is not None and not _same_secret(key, room.password):
            raise BadKey(room.name)
        if room.limit is not None and len(room) >= room.limit:
            raise RoomFull(room.name)

    def _admit(self, participant: Participant, room: Room, stamp: Stamp,
               came_from: str | None = None) -> None:
        """Add a member, telling the others there, and use up any invitation."""
        assert participant.name is not None
        # Announced before the joiner is added: the audience is who was there.
        record = participant.record
        self.delivery.to_room(room, Joined(room.name, participant.name, came_from=came_from,
                                           away=record.away, realname=record.real_name,
                                           account=record.account,
                                           mask=self.mask_of(participant), stamp=stamp))
        room.add(participant)
        self._joined.setdefault(participant, {})[room.key] = room
        if participant in room.invited:
            room.invited.discard(participant)
            self._invites[participant].discard(room)

    def _drop_member(self, participant: Participant, room: Room) -> None:
        """Remove a member (no announcement); an emptied room other than the default goes."""
        room.remove(participant)
        joined = self._joined.get(participant)
        if joined is not None:
            joined.pop(room.key, None)
            if not joined:
                del self._joined[participant]
        if not len(room) and room is not self.default_room and not room.registered:
            self.discard_room(room)

    def discard_room(self, room: Room) -> None:
        """Forget an empty room: its list entries and the invitations to it go.

        Called when its last member leaves, or when an empty room's
        registration is dropped (L{chatsvc.hub.registered}).
        """
        if self.rooms.get(room.key) is not room:
            return
        del self.rooms[room.key]
        for entries in room.mask_lists:
            for entry in entries:
                self._forget_list_entry(entry)
        for invitee in room.invited:
            self._invites[invitee].discard(room)
        room.invited.clear()
        self.log.info("{room} is empty and gone", room=room.name)

    def restore_room(self, room: Room) -> None:
        """Add a room built from the store at start (a registered room, empty),
        its list entries counted in the server's total (against no address)."""
        self.rooms[room.key] = room
        for entries in room.mask_lists:
            self.list_entries += len(entries)

    def _audience(self, participant: Participant) -> set[Participant]:
        """Everyone who shares at least one room with C{participant}, once."""
        audience: set[Participant] = set()
        for room in self.rooms_of(participant):
            audience.update(room.everyone)
        audience.discard(participant)
        return audience


def _same_secret(given: str | None, expected: str) -> bool:
    """Whether a password or key someone gave is the expected one.

    Compared in constant time, so the time an answer takes says nothing of
    how much of a guess was right; no secret counts as the empty string.
    """
    return hmac.compare_digest((given or "").encode("utf-8"), expected.encode("utf-8"))


def _account_key(account: str) -> str:
    """The key an account's failures count under: bounded, whatever length was sent."""
    return account[:64]


class _AdapterFactory(ServerFactory):
    """Builds one protocol's connections, all attached to the same hub."""

    def __init__(self, hub: ChatFactory, build: Callable[[ChatFactory], Protocol]) -> None:
        self.hub = hub
        self._build = build

    def buildProtocol(self, addr: IAddress | None) -> Protocol:
        protocol = self._build(self.hub)
        protocol.factory = self
        return protocol
