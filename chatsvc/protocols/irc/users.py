"""IRC user and server queries: WHO, WHOIS, WHOWAS, ISON, USERHOST, AWAY,
user MODE, OPER, KILL, WALLOPS, TIME, VERSION, INFO, ADMIN, LINKS, HELP.

A mixin of L{chatsvc.protocols.irc.protocol.IRCChatProtocol}.  Every user the hub knows is
answered for, whatever protocol they use: a line user shows up in WHO and
WHOIS with their current room, as C{name!name@host}.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from twisted.words.protocols import irc as rfc

from chatsvc.conn.limits import MAX_WHO_REPLIES
from chatsvc.events import Event
from chatsvc.hub.errors import BadOperLogin, TooManyFailures
from chatsvc.hub.factory import realname
from chatsvc.hub.masks import Wildcard
from chatsvc.hub.names import fold
from chatsvc.hub.participant import Participant
from chatsvc.hub.text import sanitize_irc
from chatsvc.protocols.irc import wire
from chatsvc.protocols.irc.isupport import AWAY_LENGTH, KICK_LENGTH, VERSION

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory

ERR_TOOMANYMATCHES = "416"
_SETTABLE_USER_MODES = "iw"


def clock_time(seconds: float) -> str:
    return time.strftime("%a %b %d %Y %H:%M:%S UTC", time.gmtime(seconds))


def _realname(person: Participant) -> str:
    return realname(person) or "*"


def _user_of(person: Participant) -> str:
    return getattr(person, "user", None) or person.name or "*"


class UserCommands:
    """User and server queries for an IRC connection (mixed into the protocol)."""

    hub: ChatFactory
    # The connection this is mixed into is a hub participant (Participant).
    name: str | None
    host: str
    deliver: Callable[[Event], None]
    disconnect: Callable[[str], None]
    server: Any
    modes: set[str]
    away: str | None
    if TYPE_CHECKING:  # provided by the protocol, as read-only properties
        @property
        def _me(self) -> str: ...

        @property
        def _source(self) -> str: ...
    _reply: Callable[..., None]
    _write: Callable[[bytes], None]
    _write_line: Callable[..., None]
    _notice: Callable[[str], None]
    _send_isupport: Callable[[], None]
    _bulk_allowed: Callable[[str], bool]
    _bulk_reply: Callable[..., None]

    def _person(self, nick: str) -> Participant | None:
        person = self.hub.users.get(fold(nick))
        return person if person is not None and person.name is not None else None

    def _is_oper(self, person: object) -> bool:
        return person in self.hub.opers

    # -- WHO, WHOIS, WHOWAS ------------------------------------------------

    def _who_line(self, channel: str, person: Participant, prefix: str = "") -> None:
        flags = ("G" if getattr(person, "away", None) else "H") + (
            "*" if self._is_oper(person) else "") + prefix
        self._bulk_reply(rfc.RPL_WHOREPLY, channel, _user_of(person),
                         wire.irc_host(person.host), self.server.name, person.name or "*",
                         flags, f"0 {_realname(person)}")

    def _cmd_who(self, params: list[str]) -> None:
        """WHO on the reply budget; by mask, at most L{MAX_WHO_REPLIES} users
        for anyone but a server operator (then 416)."""
        mask = params[0] if params and params[0] else "*"
        opers_only = len(params) > 1 and params[1] == "o"
        if not self._bulk_allowed("WHO"):
            self._reply(rfc.RPL_ENDOFWHO, mask, "End of /WHO list")
            return
        if mask.startswith("#"):
            room = self.hub.rooms.get(fold(mask))
            if room is not None and self.hub.can_see(self, room):
                hide_invisible = self not in room
                for person in room.everyone:
                    if opers_only and not self._is_oper(person):
                        continue
                    if hide_invisible and "i" in getattr(person, "modes", ()):
                        continue
                    status = "@" if person in room.operators else (
                        "+" if person in room.voiced else "")
                    self._who_line(room.name, person, status)
        else:
            shared = {p for room in self.hub.rooms_of(self) for p in room.everyone}
            pattern = Wildcard(fold(mask))
            still_shown = MAX_WHO_REPLIES if not self._is_oper(self) else len(self.hub.users)
            for person in list(self.hub.users.values()):
                if opers_only and not self._is_oper(person):
                    continue
                if ("i" in getattr(person, "modes", ()) and person not in shared
                        and person is not self):
                    continue
                if pattern.matches(fold(person.name or "")) or pattern.matches(
                        fold(self.hub.mask_of(person))):
                    if not still_shown:
                        self._reply(ERR_TOOMANYMATCHES, "WHO", "Output too large, truncated")
                        break
                    still_shown -= 1
                    rooms = [r for r in self.hub.rooms_of(person) if self.hub.can_see(self, r)]
                    self._who_line(rooms[0].name if rooms else "*", person)
        self._reply(rfc.RPL_ENDOFWHO, mask, "End of /WHO list")

    def _cmd_whois(self, params: list[str]) -> None:
        nicks = params[-1]
        nick = nicks.split(",")[0]
        person = self._person(nick)
        if person is None:
            self._reply(rfc.ERR_NOSUCHNICK, nick, "No such nick/channel")
            self._reply(rfc.RPL_ENDOFWHOIS, nicks, "End of /WHOIS list")
            return
        name = person.name or nick
        self._reply(rfc.RPL_WHOISUSER, name, _user_of(person), wire.irc_host(person.host), "*",
                    _realname(person))
        rooms = [
            ("@" if person in room.operators else "+" if person in room.voiced else "")
            + room.name
            for room in self.hub.rooms_of(person) if self.hub.can_see(self, room)
        ]
        head = wire.build(self.server.name, rfc.RPL_WHOISCHANNELS, self._me, name, "")
        for chunk in wire.pack_words(rooms, wire.BODY_BYTES - len(head.encode("utf-8"))):
            self._reply(rfc.RPL_WHOISCHANNELS, name, chunk)
        self._reply(rfc.RPL_WHOISSERVER, name, self.server.name, VERSION)
        if self._is_oper(person):
            self._reply(rfc.RPL_WHOISOPERATOR, name, "is an IRC operator")
        if getattr(person, "secure", False):
            self._reply(wire.RPL_WHOISSECURE, name, "is using a secure connection")
        away = getattr(person, "away", None)
        if away is not None:
            self._reply(rfc.RPL_AWAY, name, away)
        active, signon = getattr(person, "last_active", None), getattr(person, "signon", None)
        if active is not None and signon is not None:
            idle = int(self.server.clock.seconds() - active)
            self._reply(rfc.RPL_WHOISIDLE, name, str(idle), str(int(signon)),
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
            oper = "*" if self._is_oper(person) else ""
            away = "-" if getattr(person, "away", None) else "+"
            replies.append(f"{person.name}{oper}={away}{_user_of(person)}@{person.host}")
        self._reply(rfc.RPL_USERHOST, " ".join(replies))

    def _cmd_away(self, params: list[str]) -> None:
        text = sanitize_irc(params[0]).strip() if params else ""
        if text:
            self.away = text[:AWAY_LENGTH]
            self._reply(rfc.RPL_NOWAWAY, "You have been marked as being away")
        else:
            self.away = None
            self._reply(rfc.RPL_UNAWAY, "You are no longer marked as being away")

    # -- user modes and server operators ----------------------------------

    def _user_mode(self, target: str, changes: list[str]) -> None:
        if fold(target) != fold(self._me):
            if self._person(target) is None:
                self._reply(rfc.ERR_NOSUCHNICK, target, "No such nick/channel")
            else:
                self._reply(rfc.ERR_USERSDONTMATCH, "Can't change mode for other users")
            return
        if not changes:
            modes = set(self.modes) | ({"o"} if self._is_oper(self) else set())
            self._reply(rfc.RPL_UMODEIS, "+" + "".join(sorted(modes)), text=False)
            return
        added, removed, sign, unknown = [], [], "+", False
        for char in changes[0]:
            if char in "+-":
                sign = char
            elif char == "o":
                # +o only through OPER; -o gives server operator status up.
                if sign == "-" and self._is_oper(self):
                    self.hub.opers.discard(self)
                    removed.append(char)
            elif char not in _SETTABLE_USER_MODES:
                unknown = True
            elif sign == "+" and char not in self.modes:
                self.modes.add(char)
                added.append(char)
            elif sign == "-" and char in self.modes:
                self.modes.discard(char)
                removed.append(char)
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
        if not self._is_oper(self):
            self._reply(rfc.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
            return
        target = self._person(params[0])
        if target is None:
            self._reply(rfc.ERR_NOSUCHNICK, params[0], "No such nick/channel")
            return
        reason = sanitize_irc(params[1])[:KICK_LENGTH] or "no reason"
        self.log.info("{oper} killed {name} ({reason})", oper=self._me, name=target.name,
                      reason=reason)
        target.disconnect(f"Killed ({self._me} ({reason}))")

    def _cmd_wallops(self, params: list[str]) -> None:
        """A message from a server operator to every IRC user with mode +w."""
        if not self._is_oper(self):
            self._reply(rfc.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
            return
        data = b"".join(wire.encode(line) for line in wire.fit(
            self._source, "WALLOPS", (), sanitize_irc(params[0])))
        for person in list(self.hub.users.values()):
            if "w" in getattr(person, "modes", ()):
                receive = getattr(person, "receive_wallops", None)
                if receive is not None:
                    receive(data)

    def receive_wallops(self, data: bytes) -> None:
        """Write a WALLOPS, rendered once by its sender, to this +w user."""
        self._write(data)

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
        self._reply(rfc.RPL_LINKS, self.server.name, self.server.name, f"0 {VERSION}")
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
        "USERS": (0, lambda self, params: self._reply(rfc.ERR_USERSDISABLED,
                                                      "USERS has been disabled")),
        "SUMMON": (0, lambda self, params: self._reply(rfc.ERR_SUMMONDISABLED,
                                                       "SUMMON has been disabled")),
    }


_HELP_TOPICS = {
    "PRIVMSG": "PRIVMSG <nick|#channel>[,...] :<text> -- talk to a channel or a person",
    "NOTICE": "NOTICE <nick|#channel>[,...] :<text> -- like PRIVMSG; never answered",
    "JOIN": "JOIN <#channel>[,...] [key,...] -- enter channels; JOIN 0 leaves all",
    "PART": "PART <#channel>[,...] [:reason] -- leave channels",
    "TOPIC": "TOPIC <#channel> [:topic] -- show or set a channel's topic",
    "NAMES": "NAMES <#channel>[,...] -- who is in a channel (@ operator, + voice)",
    "LIST": "LIST [#channel,*mask*,!*mask*,>N,<N] -- the channels you may see (100 at most)",
    "MODE": "MODE <#channel> [+|-beIiklmnostv [args]] / MODE <nick> [+|-iw]",
    "KICK": "KICK <#channel> <nick>[,...] [:reason] -- channel operators remove a member",
    "INVITE": "INVITE <nick> <#channel> -- invite someone (operators, on +i channels)",
    "NICK": "NICK <nick> -- change your nickname",
    "WHO": "WHO <mask|#channel> [o] -- users matching a mask, or in a channel",
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
}

HELP: dict[str, list[str]] = {
    "INDEX": ["** Help System **", "Commands (HELP <command> for more):",
              *(" ".join(sorted(_HELP_TOPICS)[i:i + 8]) for i in range(0, len(_HELP_TOPICS), 8))],
    **{name: [name, text] for name, text in _HELP_TOPICS.items()},
}
