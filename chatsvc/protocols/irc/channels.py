"""IRC channel commands on the hub's rooms: JOIN, PART, TOPIC, NAMES, LIST,
MODE, KICK and INVITE, and the numerics for every room refusal.

A mixin of L{chatsvc.protocols.irc.protocol.IRCChatProtocol}: the rules live in the hub
(L{chatsvc.hub.factory.ChatFactory}); this only translates between IRC and the
hub's calls, events and refusals, so a line user and an IRC user meet the
same rules in the same rooms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from twisted.words.protocols import irc as rfc

from chatsvc.conn.limits import MAX_LIST_REPLIES, ReplyBudget
from chatsvc.events import Entered, Event, Exited, InviteNotified, rendered, utc_time
from chatsvc.hub import errors
from chatsvc.hub.masks import Wildcard
from chatsvc.hub.modes import LIST_MODES, parse_modes
from chatsvc.hub.names import fold
from chatsvc.hub.rooms import MAX_TOPIC_LENGTH, Room
from chatsvc.hub.text import sanitize_irc
from chatsvc.protocols.irc import wire
from chatsvc.protocols.irc.history import replay_on_join
from chatsvc.protocols.irc.isupport import KICK_LENGTH
from chatsvc.protocols.irc.part import ProtocolPart
from chatsvc.protocols.irc.render import (
    ACCOUNT_TAG,
    AWAY_NOTIFY,
    EXTENDED_JOIN,
    MESSAGE_TAGS,
    SERVER_TIME,
    source,
)

if TYPE_CHECKING:
    pass

ERR_TOOMANYCHANNELS = "405"
RPL_INVITELIST = "336"
RPL_ENDOFINVITELIST = "337"

#: IRCv3 capabilities this adapter implements (CAP LS): C{cap-notify} (we
#: would announce CAP NEW/DEL; the set never changes while we run),
#: C{multi-prefix} (every status prefix of a member in NAMES, WHO and WHOIS,
#: C{@+nick}), C{userhost-in-names} (C{nick!user@host} in NAMES),
#: C{server-time} (C{@time=} on what the hub's events show) and
#: C{echo-message} (your own PRIVMSG and NOTICE come back once relayed) and
#: C{away-notify} (C{AWAY} lines when someone you share a room with goes
#: away or comes back, on any protocol); C{message-tags} (client tags
#: relayed, TAGMSG, C{msgid}: L{chatsvc.protocols.irc.render}),
#: C{labeled-response} and C{batch} (L{chatsvc.protocols.irc.labels});
#: C{invite-notify} (INVITE lines when a member of your channel invites
#: someone to it) and C{setname} (the SETNAME command, and SETNAME lines
#: when you or someone you share a room with changes real name), C{chghost}
#: (CHGHOST lines when the username a room mate shows changes: a line or
#: web user's is their name, so their rename changes it) and
#: C{extended-monitor} (what away-notify, setname and chghost show of a
#: user you share a room with, also of those you MONITOR) and
#: C{extended-join} (a JOIN names the account, C{*} for none, and the real
#: name); C{account-notify} (ACCOUNT lines when you or someone you share a
#: room with logs in or out, on any protocol) and C{account-tag} (the
#: sender's account on their messages: L{chatsvc.protocols.irc.render});
#: C{draft/chathistory} (the CHATHISTORY command on the history store:
#: L{chatsvc.protocols.irc.chathistory}).
ACCOUNT_NOTIFY = "account-notify"
CAP_NOTIFY = "cap-notify"
MULTI_PREFIX = "multi-prefix"
USERHOST_IN_NAMES = "userhost-in-names"
ECHO_MESSAGE = "echo-message"
INVITE_NOTIFY = "invite-notify"
SETNAME = "setname"
CHGHOST = "chghost"
EXTENDED_MONITOR = "extended-monitor"
CAPABILITIES = (
    ACCOUNT_NOTIFY,
    ACCOUNT_TAG,
    AWAY_NOTIFY,
    "batch",
    CAP_NOTIFY,
    CHGHOST,
    "draft/chathistory",
    ECHO_MESSAGE,
    EXTENDED_JOIN,
    EXTENDED_MONITOR,
    INVITE_NOTIFY,
    "labeled-response",
    "message-tags",
    MULTI_PREFIX,
    SERVER_TIME,
    SETNAME,
    USERHOST_IN_NAMES,
)

#: What RPL_TRYAGAIN (263) says when a connection's reply budget is spent.
TRY_AGAIN = "Please wait a while and try again."

#: Most masks (C{*word*} or C{!*word*}) one LIST applies; more are ignored.
#: Each is matched against every room, so they are what a LIST costs.
MAX_LIST_MASKS = 2
#: Bytes charged to the reply budget for each room a LIST mask is tried
#: on: matching costs about what sending a short line does, and a LIST
#: whose masks match nothing must not be free to repeat (551 rooms, two
#: masks: 70 KB, so about one such LIST every four seconds after the burst).
LIST_MASK_COST = 64

# The list modes' numerics: (entry, end, what the end line says).
_LIST_REPLIES = {
    "b": (rfc.RPL_BANLIST, rfc.RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": (rfc.RPL_EXCEPTLIST, rfc.RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    "I": (rfc.RPL_INVITELIST, rfc.RPL_ENDOFINVITELIST, "End of channel invite list"),
}

# How each refusal reads in IRC, by its code (docs/user/errors.rst): the
# numeric and its parameters, from the refusal's attributes.  Handlers that
# answer a refusal in their own words (NICK, PASS, OPER, PRIVMSG) do so
# before it gets here; anything else with no entry is a NOTICE.
_REFUSALS: dict[str, Callable[[Any], tuple[str, ...]]] = {
    errors.NoSuchRoom.code: lambda e: (rfc.ERR_NOSUCHCHANNEL, e.room, "No such channel"),
    errors.BadRoomName.code: lambda e: (
        wire.ERR_BADCHANNAME if e.room.startswith("#") else rfc.ERR_NOSUCHCHANNEL,
        e.room, f"Illegal channel name: {e.why}"),
    errors.InviteOnly.code: lambda e: (rfc.ERR_INVITEONLYCHAN, e.room,
                                       "Cannot join channel (+i)"),
    errors.BadKey.code: lambda e: (rfc.ERR_BADCHANNELKEY, e.room, "Cannot join channel (+k)"),
    errors.RoomFull.code: lambda e: (rfc.ERR_CHANNELISFULL, e.room, "Cannot join channel (+l)"),
    errors.Banned.code: lambda e: (rfc.ERR_BANNEDFROMCHAN, e.room, "Cannot join channel (+b)"),
    errors.TooManyRooms.code: lambda e: (ERR_TOOMANYCHANNELS, e.room,
                                         "You have joined too many channels"),
    errors.NotOperator.code: lambda e: (rfc.ERR_CHANOPRIVSNEEDED, e.room,
                                        "You're not channel operator"),
    errors.NotInRoom.code: lambda e: (rfc.ERR_NOTONCHANNEL, e.room,
                                      "You're not on that channel"),
    errors.UserNotInRoom.code: lambda e: (rfc.ERR_USERNOTINCHANNEL, e.name, e.room,
                                          "They aren't on that channel"),
    errors.UserAlreadyInRoom.code: lambda e: (rfc.ERR_USERONCHANNEL, e.name, e.room,
                                              "is already on channel"),
    errors.CannotSpeak.code: lambda e: (rfc.ERR_CANNOTSENDTOCHAN, e.room,
                                        f"Cannot send to channel ({e.why})"),
    # The refused argument is the client's text (a key with spaces, an empty
    # limit): as a middle parameter it would shift the rest, so "*" stands
    # for it and the trailing text says what was wrong.
    errors.BadModeArgument.code: lambda e: (wire.ERR_INVALIDMODEPARAM, e.room, e.mode,
                                            "*", str(e)),
    errors.ListFull.code: lambda e: (rfc.ERR_BANLISTFULL, e.room, e.mode,
                                     "Channel list is full"),
    errors.TooManyListEntries.code: lambda e: (rfc.ERR_BANLISTFULL, e.room, e.mode,
                                               "Channel list is full"),
    errors.UnknownMode.code: lambda e: (rfc.ERR_UNKNOWNMODE, e.mode,
                                        "is unknown mode char to me"),
    errors.ModeNeedsArgument.code: lambda e: (rfc.ERR_NEEDMOREPARAMS, "MODE",
                                              "Not enough parameters"),
    errors.NoSuchUser.code: lambda e: (rfc.ERR_NOSUCHNICK, e.name, "No such nick/channel"),
    errors.NoSuchService.code: lambda e: (rfc.ERR_NOSUCHNICK, e.name,
                                          "No such nick/channel"),
}


def notification_bytes(event: Event, cap: str, caps: frozenset[str],
                       line: Callable[[Event], bytes]) -> bytes:
    """The bytes of a notification only clients with C{cap} get (invite-notify,
    setname, chghost, account-notify): C{line(event)}, with C{@time=} for server-time clients
    and the event's C{msgid} for message-tags clients.

    Rendered once per event for each of the four variants (cached in the
    event under C{irc!<cap>}, C{irc!<cap>@time}, C{irc!<cap>+tags} and
    C{irc!<cap>@time+tags}), not per recipient.
    """
    timed = SERVER_TIME in caps and event.id is not None
    tagged = MESSAGE_TAGS in caps and event.id is not None
    if not (timed or tagged):
        return rendered(event, f"irc!{cap}", line)
    tags = ([("time", utc_time(event.time))] if timed else []) + (
        [("msgid", event.id or "")] if tagged else [])
    return rendered(event, f"irc!{cap}" + ("@time" if timed else "") + (
        "+tags" if tagged else ""), lambda e: wire.tag_section(tags) + line(e))


def refusal_numeric(refusal: errors.ChatError) -> tuple[str, ...] | None:
    """The numeric and parameters that answer C{refusal} on IRC, if its code has one."""
    numeric = _REFUSALS.get(refusal.code)
    if numeric is None:
        return None
    try:
        return numeric(refusal)
    except AttributeError:  # a one-off ChatError(text, code=...) lacks the class's fields
        return None


class ListFilter:
    """The rooms a LIST parameter asks for, as a test (see L{list_filter})."""

    __slots__ = ("names", "masks", "negated", "more", "fewer")

    def __init__(self, names: set[str], masks: list[Wildcard], negated: list[Wildcard],
                 more: int, fewer: int | None) -> None:
        self.names, self.masks, self.negated = names, masks, negated
        self.more, self.fewer = more, fewer

    @property
    def mask_count(self) -> int:
        """How many masks each room is tried against."""
        return len(self.masks) + len(self.negated)

    def __call__(self, room: Room) -> bool:
        members = len(room)
        if members <= self.more or (self.fewer is not None and members >= self.fewer):
            return False
        if (self.names or self.masks) and room.key not in self.names and not any(
                mask.matches(room.key) for mask in self.masks):
            return False
        return not any(mask.matches(room.key) for mask in self.negated)


def list_filter(spec: str) -> ListFilter:
    """The rooms a LIST parameter asks for, as a test.

    C{spec} is a comma-separated list of channel names (RFC 1459), masks
    (C{*rust*}: ELIST M), negated masks (C{!*test*}: N) and member counts
    (C{>10}, C{<3}: U, more or fewer than that many).  A room is listed when
    it matches one of the names or masks (or none is given), none of the
    negated masks, and every count.  At most L{MAX_LIST_MASKS} masks count;
    they are matched by L{Wildcard}, in time linear in a room's name (a mask
    longer than any room name is refused at once).
    """
    names: set[str] = set()
    masks: list[Wildcard] = []
    negated: list[Wildcard] = []
    more, fewer = -1, None
    for item in spec.split(","):
        if item[:1] in ("<", ">") and item[1:].isdigit():
            count = int(item[1:])
            if item[0] == ">":
                more = max(more, count)
            else:
                fewer = count if fewer is None else min(fewer, count)
        elif item[:1] == "!" or "*" in item or "?" in item:
            if len(masks) + len(negated) < MAX_LIST_MASKS:
                target = negated if item[:1] == "!" else masks
                target.append(Wildcard(fold(item[1:] if item[:1] == "!" else item)))
        elif item:
            names.add(fold(item))
    return ListFilter(names, masks, negated, more, fewer)


class ChannelCommands(ProtocolPart):
    """Channel commands for an IRC connection (mixed into the protocol)."""

    #: The IRCv3 capabilities this client enabled (CAP REQ): a class-wide
    #: empty set until it asks, so idle connections carry none of their own.
    _caps: frozenset[str] = frozenset()

    def _refused(self, refusal: errors.ChatError) -> None:
        """Answer a hub refusal with its code's numeric (see L{_REFUSALS}),
        or else with a NOTICE of its text."""
        numeric = refusal_numeric(refusal)
        if numeric is None:
            self._notice(str(refusal))
        else:
            self._reply(*numeric)

    # -- joining and leaving -----------------------------------------------

    def _cmd_join(self, params: list[str]) -> None:
        if params[0] == "0":
            for room in self.hub.rooms_of(self):
                self.hub.part(self, room.name, "Left all channels")
            return
        keys = params[1].split(",") if len(params) > 1 else []
        for index, name in enumerate(params[0].split(",")):
            if not name:
                continue
            key = keys[index] if index < len(keys) and keys[index] else None
            try:
                self.hub.join(self, name, key)
            except errors.AlreadyInRoom:
                pass  # IRC servers ignore a JOIN of a channel you are in
            except errors.ChatError as refusal:
                self._refused(refusal)

    def _cmd_part(self, params: list[str]) -> None:
        reason = sanitize_irc(params[1])[:KICK_LENGTH] if len(params) > 1 else ""
        for name in params[0].split(","):
            if name:
                try:
                    self.hub.part(self, name, reason)
                except errors.ChatError as refusal:
                    self._refused(refusal)

    def _entered(self, event: Entered) -> None:
        """Our own JOIN, then the topic and the names, as clients expect."""
        self._write_line(self._source, "JOIN", event.room)
        if event.topic:
            self._send_topic(event.room)
        room = self.hub.room_named(event.room)
        if room is not None:
            self._send_names(room)
            replay_on_join(cast(Any, self), room)  # the room's history (issue 18)

    def _exited(self, event: Exited) -> None:
        if event.by is None:
            if event.reason:
                self._write_line(self._source, "PART", event.room, event.reason, text=True)
            else:
                self._write_line(self._source, "PART", event.room)
        else:
            self._write_line(event.mask or event.by, "KICK", event.room, self._me,
                             event.reason or event.by, text=True)

    def _cmd_kick(self, params: list[str]) -> None:
        """KICK #chan nick[,nick...] or, pairwise, KICK #a,#b nick1,nick2
        (RFC 2812); at most four (TARGMAX KICK:4), one KICK line each."""
        reason = sanitize_irc(params[2])[:KICK_LENGTH] if len(params) > 2 else ""
        rooms = params[0].split(",")
        targets = params[1].split(",")
        if len(rooms) == 1:
            pairs = [(rooms[0], target) for target in targets]
        elif len(rooms) == len(targets):
            pairs = list(zip(rooms, targets, strict=True))
        else:
            self._reply(rfc.ERR_NEEDMOREPARAMS, "KICK", "Not enough parameters")
            return
        for room, target in pairs[:4]:
            if room and target:
                try:
                    self.hub.kick(self, room, target, reason)
                except errors.ChatError as refusal:
                    self._refused(refusal)

    def _cmd_invite(self, params: list[str]) -> None:
        """INVITE nick #channel; with no arguments, the channels we are invited
        to (336s, then 337: at most one per room there is, so bounded)."""
        if not params:
            for name in self.hub.invitations(self):
                self._reply(RPL_INVITELIST, name, text=False)
            self._reply(RPL_ENDOFINVITELIST, "End of /INVITE list")
            return
        if len(params) < 2:
            self._reply(rfc.ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters")
            return
        nick, room = params[0], params[1]
        try:
            name = self.hub.invite(self, room, nick)
        except errors.ChatError as refusal:
            self._refused(refusal)
            return
        self._reply(rfc.RPL_INVITING, name, self.hub.find_room(room).name, text=False)
        invitee = self.hub.user_named(nick)
        if invitee is not None and invitee.record.away is not None:
            self._reply(rfc.RPL_AWAY, name, invitee.record.away)

    def _invite_notified(self, event: InviteNotified) -> None:
        """invite-notify: another member invited someone to a channel we are in.

        Rendered once per event for every client that asked (cached in the
        event), nothing for the others.
        """
        if INVITE_NOTIFY in self._caps:
            self._write(notification_bytes(event, INVITE_NOTIFY, self._caps, _invite_line))

    # -- topic, names, list ------------------------------------------------

    def _cmd_topic(self, params: list[str]) -> None:
        if len(params) == 1:
            try:
                room = self.hub.find_room(params[0], self)
            except errors.ChatError as refusal:
                self._refused(refusal)
                return
            self._send_topic(room.name)
            return
        topic = wire.truncate(sanitize_irc(params[1]), MAX_TOPIC_LENGTH)
        try:
            self.hub.set_topic(self, params[0], topic)
        except errors.ChatError as refusal:
            self._refused(refusal)

    def _send_topic(self, room_name: str) -> None:
        room = self.hub.room_named(room_name)
        if room is None:
            return
        if not room.topic:
            self._reply(rfc.RPL_NOTOPIC, room.name, "No topic is set")
            return
        self._reply(rfc.RPL_TOPIC, room.name, room.topic)
        self._reply(wire.RPL_TOPICWHOTIME, room.name, room.topic_by or "*",
                    str(int(room.topic_at)), text=False)

    def _status_prefixes(self, room: Room, member: Any) -> str:
        """C{member}'s status in C{room} as IRC shows it: the highest
        (C{@} or C{+}), or every one (C{@+}) for a client with multi-prefix."""
        operator, voiced = member in room.operators, member in room.voiced
        if MULTI_PREFIX in self._caps:
            return ("@" if operator else "") + ("+" if voiced else "")
        return "@" if operator else "+" if voiced else ""

    def _names_entry(self, room: Room, member: Any) -> str:
        """One member in NAMES: prefixes and nick, or C{nick!user@host} for a
        client with userhost-in-names."""
        who = self.hub.mask_of(member) if USERHOST_IN_NAMES in self._caps else member.name
        return self._status_prefixes(room, member) + (who or "")

    def _send_names(self, room: Room, reply: Callable[..., None] | None = None,
                    end: bool = True) -> None:
        """353s and (unless C{end} is false) 366 for C{room}, through C{reply}
        (L{_reply} by default: the names that follow a JOIN are not a bulk
        request)."""
        reply = reply or self._reply
        symbol = "@" if room.secret else "="
        head = wire.build(self.server.name, rfc.RPL_NAMREPLY, self._me, symbol, room.name, "")
        members = sorted(room.everyone, key=lambda member: fold(member.name or ""))
        hide_invisible = self not in room
        names = [self._names_entry(room, member) for member in members
                 if not (hide_invisible and member.record.invisible)]
        for chunk in wire.pack_words(names, wire.BODY_BYTES - len(head.encode("utf-8"))):
            reply(rfc.RPL_NAMREPLY, symbol, room.name, chunk)
        if end:
            reply(rfc.RPL_ENDOFNAMES, room.name, "End of /NAMES list")

    def _cmd_names(self, params: list[str]) -> None:
        """NAMES of each channel named once, on the reply budget.

        C{NAMES #a,#b} answers the 353s of each channel and one 366 naming
        them all, as Modern IRC and irctest expect; a channel that does not
        exist (or is hidden) adds nothing but is in that 366.
        """
        if not params or not params[0]:
            self._reply(rfc.RPL_ENDOFNAMES, "*", "End of /NAMES list")
            return
        names = [name for name in params[0].split(",") if name]
        if len(names) < 2:
            self._names_of(params[0], end=True)
            return
        seen: set[str] = set()
        for name in names:
            key = fold(name)
            if key in seen:
                continue  # "NAMES #chat,#chat,..." answered 400 times was 5 MB
            seen.add(key)
            if not self._names_of(name, end=False):
                break
        self._reply(rfc.RPL_ENDOFNAMES, params[0], "End of /NAMES list")

    def _names_of(self, name: str, end: bool) -> bool:
        """NAMES of one channel; C{False} when the reply budget is spent (263 said)."""
        if not self._bulk_allowed("NAMES"):
            if end:
                self._reply(rfc.RPL_ENDOFNAMES, name, "End of /NAMES list")
            return False
        room = self.hub.room_named(name, viewer=self)
        if room is not None:
            self._send_names(room, self._bulk_reply, end=end)
        elif end:
            self._bulk_reply(rfc.RPL_ENDOFNAMES, name, "End of /NAMES list")
        return True

    def _cmd_list(self, params: list[str]) -> None:
        """LIST, with ELIST filters, at most L{MAX_LIST_REPLIES} rooms, on the reply budget."""
        if not self._bulk_allowed("LIST"):
            self._reply(rfc.RPL_LISTEND, "End of /LIST")
            return
        keep = list_filter(params[0] if params else "")
        reply = self._bulk_reply
        reply(rfc.RPL_LISTSTART, "Channel", "Users  Name")
        shown = matched = 0
        rooms = self.hub.visible_rooms(self)
        if keep.mask_count and self._budget is not None:
            self._budget.spend(LIST_MASK_COST * keep.mask_count * len(rooms))
        for room in rooms:
            if keep(room):
                matched += 1
                if shown < MAX_LIST_REPLIES:
                    shown += 1
                    reply(rfc.RPL_LIST, room.name, str(len(room)),
                          f"[{room.mode_string(show_key=False)}] {room.topic}".rstrip())
        if matched > shown:
            self._notice(f"LIST shows {shown} of {matched} channels: narrow it with "
                         "LIST *word* (names matching), LIST >N or LIST <N (more or fewer "
                         "than N users), or LIST #a,#b")
        reply(rfc.RPL_LISTEND, "End of /LIST")

    # -- the reply budget (chatsvc.conn.limits.ReplyBudget) ---------------------

    #: Made on the first bulk request: idle connections carry none.
    _budget: ReplyBudget | None = None

    def _bulk_allowed(self, command: str) -> bool:
        """Whether a bulk answer to C{command} may go out now; if not, say 263.

        The caller still sends the answer's end numeric, so that a client
        waiting for it (a channel list window, a WHO on join) finishes.
        """
        budget = self._budget
        if budget is None:
            budget = self._budget = ReplyBudget(self.hub.clock)
        if budget.allows():
            return True
        self._reply(rfc.RPL_TRYAGAIN, command, TRY_AGAIN)
        return False

    def _bulk_reply(self, numeric: str, *params: str, text: bool = True) -> None:
        """L{_reply} for a line of a bulk answer: its bytes are charged to the budget."""
        data = wire.encode(wire.build(self.server.name, numeric, self._me,
                                      *wire.middles(params), text=text))
        self._write(data)
        budget = self._budget
        if budget is not None:
            budget.spend(len(data))

    # -- modes -------------------------------------------------------------

    def _cmd_mode(self, params: list[str]) -> None:
        if params[0].startswith("#"):
            self._channel_mode(params[0], params[1:])
        else:
            self._user_mode(params[0], params[1:])

    def _channel_mode(self, target: str, arguments: list[str]) -> None:
        try:
            room = self.hub.find_room(target, self)
        except errors.ChatError as refusal:
            self._refused(refusal)
            return
        if not arguments:
            show_key = self in room or self.hub.is_server_operator(self)
            modes = room.mode_string(show_key=show_key).split(" ")
            self._reply(rfc.RPL_CHANNELMODEIS, room.name, *modes, text=False)
            self._reply(wire.RPL_CREATIONTIME, room.name, str(int(room.created)), text=False)
            return
        try:
            # As IRC servers do, what exceeds MODES=4 (or MAX_MODE_LETTERS)
            # is ignored; each list is shown once (chatsvc.hub.modes.parse_modes).
            changes = parse_modes(arguments[0], arguments[1:], excess="ignore")
        except errors.ChatError as refusal:
            self._refused(refusal)
            return
        for change in changes:
            if change.is_list_query:
                self._send_list(room, change.mode)
        try:
            self.hub.set_modes(self, room.name, changes)
        except errors.UserNotInRoom as refusal:
            # +o/+v of a nick nobody has is 401 (no such nick), not 441.
            if self.hub.user_named(refusal.name) is None:
                self._reply(rfc.ERR_NOSUCHNICK, refusal.name, "No such nick/channel")
            else:
                self._refused(refusal)
        except errors.ChatError as refusal:
            self._refused(refusal)

    def _send_list(self, room: Room, mode: str) -> None:
        """A ban, exception or invitation list (at most MAXLIST), on the reply budget."""
        entry, end, text = _LIST_REPLIES[mode]
        if self._bulk_allowed("MODE"):
            for item in getattr(room, LIST_MODES[mode]):
                self._bulk_reply(entry, room.name, item.mask, item.by, str(int(item.at)),
                                 text=False)
        self._reply(end, room.name, text)

    # Provided by the other parts of the protocol.
    _user_mode: Callable[[str, list[str]], None]

    #: COMMAND -> (fewest parameters, handler(self, params)), for
    #: L{chatsvc.protocols.irc.protocol.IRCChatProtocol._COMMANDS}.
    CHANNEL_COMMANDS: ClassVar[dict[str, tuple[int, Callable[[Any, list[str]], None]]]] = {
        "JOIN": (1, _cmd_join),
        "PART": (1, _cmd_part),
        "TOPIC": (1, _cmd_topic),
        "NAMES": (0, _cmd_names),
        "LIST": (0, _cmd_list),
        "MODE": (1, _cmd_mode),
        "KICK": (2, _cmd_kick),
        "INVITE": (0, _cmd_invite),
    }
    #: Event type -> handler(self, event), for the protocol's C{deliver}.
    CHANNEL_EVENTS: ClassVar[dict[type, Callable[[Any, Any], None]]] = {
        InviteNotified: _invite_notified,
    }


def _invite_line(event: Event) -> bytes:
    assert isinstance(event, InviteNotified)
    return wire.encode(wire.build(source(event.by, event.mask), "INVITE", event.name,
                                  event.room))
