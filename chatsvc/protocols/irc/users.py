"""IRC user and server queries: WHO, WHOIS, WHOWAS, ISON, USERHOST, AWAY,
user MODE, OPER, KILL, WALLOPS, TIME, VERSION, INFO, ADMIN, LINKS, HELP.

A mixin of L{chatsvc.protocols.irc.protocol.IRCChatProtocol}.  Every user the hub knows is
answered for, whatever protocol they use: a line user shows up in WHO and
WHOIS with their current room, as C{name!name@host}.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, cast

from twisted.words.protocols import irc as rfc

from chatsvc.conn.limits import MAX_WHO_REPLIES
from chatsvc.events import AccountChanged, Event, HostChanged, RealNameChanged
from chatsvc.hub.errors import (
    BadOperLogin,
    EmptyMessage,
    NoSuchUser,
    NotServerOperator,
    TooManyFailures,
)
from chatsvc.hub.masks import Wildcard
from chatsvc.hub.names import fold
from chatsvc.hub.participant import Participant
from chatsvc.hub.text import plain, sanitize_irc
from chatsvc.hub.users import SETTABLE_USER_MODES
from chatsvc.protocols.irc import chanserv, sasl, wire
from chatsvc.protocols.irc.channels import (
    ACCOUNT_NOTIFY,
    CHGHOST,
    SETNAME,
    notification_bytes,
)
from chatsvc.protocols.irc.isupport import KICK_LENGTH, REALNAME_LENGTH, VERSION
from chatsvc.protocols.irc.part import ProtocolPart
from chatsvc.protocols.irc.render import source

if TYPE_CHECKING:
    pass

ERR_TOOMANYMATCHES = "416"
RPL_WHOSPCRPL = "354"

#: WHOX's fields, in the order a 354 reply gives them whatever the order
#: asked: token, channel, user, IP, host, server, nick, flags, hop count,
#: idle seconds, account, op level, real name.
WHOX_FIELDS = "tcuihsnfdlaor"


class Whox(NamedTuple):
    """A WHOX request: the fields wanted, in reply order, and the query token."""

    fields: str
    token: str


def whox_request(spec: str) -> tuple[str, Whox | None]:
    """WHO's second parameter, C{[o][%<fields>[,<token>]]}: (options, WHOX or C{None}).

    Unknown field letters are ignored.  The token is echoed in every reply,
    so only what WHOX allows, one to three digits, is: anything else (the
    client's text, which could hold a space) is C{0}.
    """
    options, percent, rest = spec.partition("%")
    if not percent:
        return options, None
    letters, _, token = rest.partition(",")
    fields = "".join(field for field in WHOX_FIELDS if field in letters)
    if not (token.isascii() and token.isdigit() and len(token) <= 3):
        token = "0"
    return options, Whox(fields or "n", token)


def _ip(host: str) -> str:
    """WHOX's IP field: the address, or C{255.255.255.255} for a host that is none."""
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return "255.255.255.255"
    return wire.irc_host(host)


def clock_time(seconds: float) -> str:
    return time.strftime("%a %b %d %Y %H:%M:%S UTC", time.gmtime(seconds))


class UserCommands(ProtocolPart):
    """User and server queries for an IRC connection (mixed into the protocol)."""

    # Provided by the other parts of the protocol.
    _send_isupport: Callable[[], None]
    _bulk_reply: Callable[..., None]
    _status_prefixes: Callable[[Any, Participant], str]

    def _person(self, nick: str) -> Participant | None:
        return self.hub.user_named(nick)

    def _is_oper(self, person: Participant) -> bool:
        return self.hub.is_server_operator(person)

    # -- WHO, WHOIS, WHOWAS ------------------------------------------------

    def _who_line(self, channel: str, person: Participant, prefix: str = "",
                  whox: Whox | None = None) -> None:
        """One 352, or 354 for a WHOX request: C{prefix} is the person's status
        in C{channel} (C{@}, C{+}), shown after C{H}/C{G} (away) and C{*}
        (server operator); C{B} last for a bot (user mode +B)."""
        record = person.record
        flags = ("G" if record.away is not None else "H") + (
            "*" if self._is_oper(person) else "") + prefix + ("B" if record.bot else "")
        if whox is not None:
            values = {"t": whox.token, "c": channel, "u": record.ident,
                      "i": _ip(record.host), "h": wire.irc_host(record.host),
                      "s": self.server.name, "n": record.name or "*", "f": flags, "d": "0",
                      "l": str(max(0, int(self.server.clock.seconds() - record.last_active))),
                      "a": record.account or "0", "o": "n/a", "r": record.real_name or "*"}
            self._bulk_reply(RPL_WHOSPCRPL, *(values[field] for field in whox.fields),
                             text="r" in whox.fields)
            return
        self._bulk_reply(rfc.RPL_WHOREPLY, channel, record.ident,
                         wire.irc_host(record.host), self.server.name, record.name or "*",
                         flags, f"0 {record.real_name or '*'}")

    def _cmd_who(self, params: list[str]) -> None:
        """WHO on the reply budget; by mask, at most L{MAX_WHO_REPLIES} users
        for anyone but a server operator (then 416).

        C{WHO <mask> o} is server operators only; C{WHO <mask> [o]%<fields>[,<token>]}
        is WHOX (L{whox_request}): 354 replies with those fields.
        """
        mask = params[0] if params and params[0] else "*"
        options, whox = whox_request(params[1] if len(params) > 1 else "")
        opers_only = "o" in options
        if not self._bulk_allowed("WHO"):
            self._reply(rfc.RPL_ENDOFWHO, mask, "End of /WHO list")
            return
        if mask.startswith("#"):
            room = self.hub.room_named(mask, viewer=self)
            if room is not None:
                hide_invisible = self not in room
                for person in room.everyone:
                    if opers_only and not self._is_oper(person):
                        continue
                    if hide_invisible and person.record.invisible:
                        continue
                    self._who_line(room.name, person, self._status_prefixes(room, person),
                                   whox)
        else:
            shared = {p for room in self.hub.rooms_of(self) for p in room.everyone}
            pattern = Wildcard(fold(mask))
            # A plain nick names one user: +i hides users from masks (who
            # is on?), not from someone who already knows the nick (Modern
            # IRC; WHOIS shows them anyway).
            exact = "*" not in mask and "?" not in mask
            everyone = self.hub.registered_users()
            still_shown = MAX_WHO_REPLIES if not self._is_oper(self) else len(everyone)
            for person in everyone:
                if opers_only and not self._is_oper(person):
                    continue
                if (person.record.invisible and person not in shared
                        and person is not self
                        and not (exact and fold(person.name or "") == fold(mask))):
                    continue
                if pattern.matches(fold(person.name or "")) or pattern.matches(
                        fold(self.hub.mask_of(person))):
                    if not still_shown:
                        self._reply(ERR_TOOMANYMATCHES, "WHO", "Output too large, truncated")
                        break
                    still_shown -= 1
                    rooms = [r for r in self.hub.rooms_of(person) if self.hub.can_see(self, r)]
                    if rooms:
                        self._who_line(rooms[0].name, person,
                                       self._status_prefixes(rooms[0], person), whox)
                    else:
                        self._who_line("*", person, whox=whox)
        self._reply(rfc.RPL_ENDOFWHO, mask, "End of /WHO list")

    def _cmd_whois(self, params: list[str]) -> None:
        nicks = params[-1]
        nick = nicks.split(",")[0]
        person = self._person(nick)
        if person is None and chanserv.handles(self, nick):  # a service, not a user
            chanserv.whois(self, nicks)
            return
        if person is None:
            self._reply(rfc.ERR_NOSUCHNICK, nick, "No such nick/channel")
            self._reply(rfc.RPL_ENDOFWHOIS, nicks, "End of /WHOIS list")
            return
        record = person.record
        name = record.name or nick
        self._reply(rfc.RPL_WHOISUSER, name, record.ident, wire.irc_host(record.host), "*",
                    record.real_name or "*")
        rooms = [self._status_prefixes(room, person) + room.name
                 for room in self.hub.rooms_of(person) if self.hub.can_see(self, room)]
        head = wire.build(self.server.name, rfc.RPL_WHOISCHANNELS, self._me, name, "")
        for chunk in wire.pack_words(rooms, wire.BODY_BYTES - len(head.encode("utf-8"))):
            self._reply(rfc.RPL_WHOISCHANNELS, name, chunk)
        self._reply(rfc.RPL_WHOISSERVER, name, self.server.name, VERSION)
        if self._is_oper(person):
            self._reply(rfc.RPL_WHOISOPERATOR, name, "is an IRC operator")
        if record.account is not None:  # what irssi and weechat show as "account"
            self._reply(wire.RPL_WHOISACCOUNT, name, record.account, "is logged in as")
        if record.bot:
            self._reply(wire.RPL_WHOISBOT, name, "is a bot")
        if record.secure:
            self._reply(wire.RPL_WHOISSECURE, name, "is using a secure connection")
        if record.certfp is not None and (person is self or self._is_oper(self)):
            self._reply(wire.RPL_WHOISCERTFP, name,  # to themselves and opers only
                        f"has client certificate fingerprint {record.certfp}")
        if record.away is not None:
            self._reply(rfc.RPL_AWAY, name, record.away)
        idle = int(self.server.clock.seconds() - record.last_active)
        self._reply(rfc.RPL_WHOISIDLE, name, str(idle), str(int(record.signon)),
                    "seconds idle, signon time")
        self._reply(rfc.RPL_ENDOFWHOIS, nicks, "End of /WHOIS list")

    def _cmd_whowas(self, params: list[str]) -> None:
        nick = params[0].split(",")[0]
        try:
            count = int(params[1]) if len(params) > 1 else 0
        except ValueError:
            count = 0
        entries = self.hub.whowas.lookup(nick, count)
        if not entries:
            self._reply(rfc.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
        for entry in entries:
            user, _, host = entry.mask.partition("!")[2].partition("@")
            self._reply(rfc.RPL_WHOWASUSER, entry.name, user, wire.irc_host(host), "*",
                        entry.realname or entry.name)
            self._reply(rfc.RPL_WHOISSERVER, entry.name, self.server.name,
                        clock_time(entry.until))
        self._reply(rfc.RPL_ENDOFWHOWAS, nick, "End of WHOWAS")

    # -- ISON, USERHOST, AWAY ------------------------------------------------

    def _cmd_ison(self, params: list[str]) -> None:
        present = [person.name for nick in " ".join(params).split()
                   if (person := self._person(nick)) is not None and person.name]
        self._reply(rfc.RPL_ISON, " ".join(present))

    def _cmd_userhost(self, params: list[str]) -> None:
        replies = []
        for nick in " ".join(params).split()[:5]:
            person = self._person(nick)
            if person is None:
                continue
            record = person.record
            oper = "*" if self._is_oper(person) else ""
            away = "-" if record.away is not None else "+"
            replies.append(f"{record.name}{oper}={away}{record.ident}@{record.host}")
        self._reply(rfc.RPL_USERHOST, " ".join(replies))

    def _cmd_away(self, params: list[str]) -> None:
        if self.hub.set_away(self, sanitize_irc(params[0]) if params else None) is not None:
            self._reply(rfc.RPL_NOWAWAY, "You have been marked as being away")
        else:
            self._reply(rfc.RPL_UNAWAY, "You are no longer marked as being away")

    # -- SETNAME (IRCv3 setname) --------------------------------------------

    def _cmd_setname(self, params: list[str]) -> None:
        """SETNAME :real name: a new real name, cleaned and bounded as USER's.

        The hub records it (WHOIS, WHO and the line protocol's C{/whois}
        show it) and tells whoever shares a room, and us: with the setname
        capability, as a C{SETNAME} line.  A blank one is C{FAIL}ed.
        """
        realname = plain(params[0]).strip()[:REALNAME_LENGTH]
        if not realname:
            self._write_line(self.server.name, "FAIL", "SETNAME", "INVALID_REALNAME",
                             "Realname is not valid", text=True)
            return
        self.hub.set_realname(self, realname)

    def _realname_changed(self, event: RealNameChanged) -> None:
        """setname: someone (or we) changed real name; rendered once per event."""
        if SETNAME in self._caps:
            self._write(notification_bytes(event, SETNAME, self._caps, _setname_line))

    def _host_changed(self, event: HostChanged) -> None:
        """chghost: a room mate's shown username (or host) changed; rendered once."""
        if CHGHOST in self._caps:
            self._write(notification_bytes(event, CHGHOST, self._caps, _chghost_line))

    def _account_changed(self, event: AccountChanged) -> None:
        """account-notify: we or a room mate logged in or out; rendered once per variant.

        Our own login's 900 goes first (L{sasl.logged_in_first})."""
        if ACCOUNT_NOTIFY in self._caps:
            if event.account is not None and event.name == self.name:
                sasl.logged_in_first(cast(Any, self), event.account)
            self._write(notification_bytes(event, ACCOUNT_NOTIFY, self._caps, _account_line))

    # -- user modes and server operators ----------------------------------

    def _user_mode(self, target: str, changes: list[str]) -> None:
        if fold(target) != fold(self._me):
            if self._person(target) is None:
                self._reply(rfc.ERR_NOSUCHNICK, target, "No such nick/channel")
            else:
                self._reply(rfc.ERR_USERSDONTMATCH, "Can't change mode for other users")
            return
        if not changes:
            modes = self.record.modes | ({"o"} if self._is_oper(self) else set())
            self._reply(rfc.RPL_UMODEIS, "+" + "".join(sorted(modes)), text=False)
            return
        added: list[str] = []
        removed: list[str] = []
        sign, unknown = "+", False
        for char in changes[0]:
            if char in "+-":
                sign = char
            elif char == "o":
                # +o only through OPER; -o gives server operator status up.
                if sign == "-" and self.hub.deoper(self):
                    removed.append(char)
            elif char not in SETTABLE_USER_MODES:
                unknown = True
            elif self.hub.set_user_mode(self, char, sign == "+"):
                (added if sign == "+" else removed).append(char)
        if unknown:
            self._reply(rfc.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
        if added or removed:
            change = ("+" + "".join(added) if added else "") + (
                "-" + "".join(removed) if removed else "")
            self._write_line(self._me, "MODE", self._me, change)

    def _cmd_oper(self, params: list[str]) -> None:
        try:
            self.hub.oper(self, params[0], params[1])
        except BadOperLogin:
            self._reply(rfc.ERR_PASSWDMISMATCH, "Password incorrect")
            return
        except TooManyFailures as refusal:
            self._reply(rfc.ERR_PASSWDMISMATCH, str(refusal))
            return
        self._reply(rfc.RPL_YOUREOPER, "You are now an IRC operator")
        self._write_line(self._me, "MODE", self._me, "+o")

    def _cmd_kill(self, params: list[str]) -> None:
        reason = sanitize_irc(params[1])[:KICK_LENGTH] or "no reason"
        try:
            self.hub.kill(self, params[0], reason)
        except NotServerOperator:
            self._reply(rfc.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        except NoSuchUser:
            self._reply(rfc.ERR_NOSUCHNICK, params[0], "No such nick/channel")

    def _cmd_wallops(self, params: list[str]) -> None:
        """A message from a server operator to every user with mode +w (the hub's L{Wallops})."""
        try:
            self.hub.wallops(self, sanitize_irc(params[0]))
        except NotServerOperator:
            self._reply(rfc.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        except EmptyMessage:
            self._reply(rfc.ERR_NEEDMOREPARAMS, "WALLOPS", "Not enough parameters")

    # -- about the server --------------------------------------------------

    def _cmd_time(self, params: list[str]) -> None:
        self._reply(rfc.RPL_TIME, self.server.name, clock_time(self.server.clock.seconds()))

    def _cmd_version(self, params: list[str]) -> None:
        self._reply(rfc.RPL_VERSION, VERSION, self.server.name, "chatsvc on Twisted")
        self._send_isupport()

    def _cmd_info(self, params: list[str]) -> None:
        for line in (f"{VERSION}: a multi-protocol chat server built on Twisted.",
                     "IRC, line-protocol (telnet/netcat) and other users share",
                     "one set of names, rooms and private messages.",
                     f"Up since {clock_time(self.server.created)}."):
            self._reply(rfc.RPL_INFO, line)
        self._reply(rfc.RPL_ENDOFINFO, "End of /INFO list")

    def _cmd_admin(self, params: list[str]) -> None:
        self._reply(rfc.RPL_ADMINME, self.server.name, "Administrative info")
        self._reply(rfc.RPL_ADMINLOC1, f"{self.server.name}, a chatsvc server")
        self._reply(rfc.RPL_ADMINLOC2, "Ask a server operator (WHO * o) for help")
        self._reply(rfc.RPL_ADMINEMAIL, "no contact address configured")

    def _cmd_links(self, params: list[str]) -> None:
        self._reply(rfc.RPL_LINKS, self.server.name, self.server.name, f"0 {self.server.info}")
        self._reply(rfc.RPL_ENDOFLINKS, "*", "End of /LINKS list")

    def _cmd_help(self, params: list[str]) -> None:
        subject = params[0].upper() if params and params[0] else "INDEX"
        lines = HELP.get(subject)
        if lines is None:
            self._reply(wire.ERR_HELPNOTFOUND, subject, "No help available on this topic")
            return
        self._reply(wire.RPL_HELPSTART, subject, lines[0])
        for line in lines[1:]:
            self._reply(wire.RPL_HELPTXT, subject, line)
        self._reply(wire.RPL_ENDOFHELP, subject, "End of /HELP")

    log: Any

    #: COMMAND -> (fewest parameters, handler(self, params)), for
    #: L{chatsvc.protocols.irc.protocol.IRCChatProtocol._COMMANDS}.
    USER_COMMANDS: ClassVar[dict[str, tuple[int, Callable[[Any, list[str]], None]]]] = {
        "WHO": (0, _cmd_who),
        "WHOIS": (1, _cmd_whois),
        "WHOWAS": (1, _cmd_whowas),
        "ISON": (1, _cmd_ison),
        "USERHOST": (1, _cmd_userhost),
        "AWAY": (0, _cmd_away),
        "OPER": (2, _cmd_oper),
        "KILL": (2, _cmd_kill),
        "WALLOPS": (1, _cmd_wallops),
        "TIME": (0, _cmd_time),
        "VERSION": (0, _cmd_version),
        "INFO": (0, _cmd_info),
        "ADMIN": (0, _cmd_admin),
        "LINKS": (0, _cmd_links),
        "HELP": (0, _cmd_help),
        "HELPOP": (0, _cmd_help),  # what some servers call HELP
        "SETNAME": (1, _cmd_setname),
        "USERS": (0, lambda self, params: self._reply(rfc.ERR_USERSDISABLED,
                                                      "USERS has been disabled")),
        "SUMMON": (0, lambda self, params: self._reply(rfc.ERR_SUMMONDISABLED,
                                                       "SUMMON has been disabled")),
    }
    #: Event type -> handler(self, event), for the protocol's C{deliver}.
    USER_EVENTS: ClassVar[dict[type, Callable[[Any, Any], None]]] = {
        RealNameChanged: _realname_changed,
        HostChanged: _host_changed,
        AccountChanged: _account_changed,
    }


_HELP_TOPICS = {
    "PRIVMSG": "PRIVMSG <nick|#channel>[,...] :<text> -- talk to a channel or a person",
    "NOTICE": "NOTICE <nick|#channel>[,...] :<text> -- like PRIVMSG; never answered",
    "JOIN": "JOIN <#channel>[,...] [key,...] -- enter channels; JOIN 0 leaves all",
    "PART": "PART <#channel>[,...] [:reason] -- leave channels",
    "TOPIC": "TOPIC <#channel> [:topic] -- show or set a channel's topic",
    "NAMES": "NAMES <#channel>[,...] -- who is in a channel (@ operator, + voice)",
    "LIST": "LIST [#channel,*mask*,!*mask*,>N,<N] -- the channels you may see (100 at most)",
    "MODE": "MODE <#channel> [+|-beIiklmnostv [args]] / MODE <nick> [+|-iwB]",
    "KICK": "KICK <#channel> <nick>[,...] [:reason] -- channel operators remove a member",
    "INVITE": "INVITE <nick> <#channel> -- invite someone (operators, on +i channels); "
              "INVITE alone lists your invitations",
    "NICK": "NICK <nick> -- change your nickname",
    "WHO": "WHO <mask|#channel> [o][%fields[,token]] -- users matching a mask, "
           "or in a channel (WHOX fields: tcuihsnfdlaor)",
    "WHOIS": "WHOIS <nick> -- about a user",
    "WHOWAS": "WHOWAS <nick> [count] -- who used a nickname recently",
    "ISON": "ISON <nick> ... -- which of these nicks are online",
    "USERHOST": "USERHOST <nick> ... -- user@host of up to five nicks",
    "AWAY": "AWAY [:message] -- mark yourself away, or back without a message",
    "OPER": "OPER <name> <password> -- become a server operator (--oper accounts)",
    "KILL": "KILL <nick> :<reason> -- server operators disconnect a user",
    "WALLOPS": "WALLOPS :<text> -- server operators write to every +w user",
    "MOTD": "MOTD -- the message of the day",
    "LUSERS": "LUSERS -- how many users and channels",
    "TIME": "TIME -- the server's time",
    "VERSION": "VERSION -- the server's version and features",
    "INFO": "INFO -- about this server",
    "ADMIN": "ADMIN -- who runs this server",
    "LINKS": "LINKS -- servers in this network (one)",
    "PING": "PING <token> -- the server answers PONG",
    "QUIT": "QUIT [:reason] -- leave",
    "HELP": "HELP [command] -- this help",
    "MONITOR": "MONITOR +|- nick,... / C / L / S -- be told when nicks come and go",
    "SETNAME": "SETNAME :<real name> -- change your real name",
}

def _setname_line(event: Event) -> bytes:
    assert isinstance(event, RealNameChanged)
    return wire.encode(wire.build(source(event.name, event.mask), "SETNAME", event.realname,
                                  text=True))


def _chghost_line(event: Event) -> bytes:
    assert isinstance(event, HostChanged)
    return wire.encode(wire.build(source(event.name, event.mask), "CHGHOST",
                                  wire.middle(event.user), wire.irc_host(event.host)))


def _account_line(event: Event) -> bytes:
    assert isinstance(event, AccountChanged)
    return wire.encode(wire.build(source(event.name, event.mask), "ACCOUNT",
                                  wire.middle(event.account or "*")))


HELP: dict[str, list[str]] = {
    "INDEX": ["** Help System **", "Commands (HELP <command> for more):",
              *(" ".join(sorted(_HELP_TOPICS)[i:i + 8]) for i in range(0, len(_HELP_TOPICS), 8))],
    **{name: [name, text] for name, text in _HELP_TOPICS.items()},
}
