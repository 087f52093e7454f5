"""IRCv3 MONITOR: told when names come online and go offline, whoever uses them.

A mixin of L{chatsvc.protocols.irc.protocol.IRCChatProtocol}.  The list
lives in the hub (L{chatsvc.hub.watch.Watches}, bounded to
L{chatsvc.hub.watch.MAX_WATCHED} names, the C{MONITOR=} ISUPPORT token), so
a line or web user who registers, renames or quits shows up as an IRC user
does: the hub emits a L{chatsvc.events.Presence} to the watchers and this
renders it as RPL_MONONLINE (730) or RPL_MONOFFLINE (731).

  - C{MONITOR + a,b}: watch; the status of each is told at once (730/731),
    C{734} for those past the limit, C{432} (once) for masks or bad nicks;
  - C{MONITOR - a,b}: stop watching (no reply);
  - C{MONITOR C}: clear the list (no reply);
  - C{MONITOR L}: the list (732s, then 733);
  - C{MONITOR S}: the status of every name watched (730s and 731s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from twisted.words.protocols import irc as rfc

from chatsvc.events import Presence, Watched
from chatsvc.protocols.irc import wire
from chatsvc.protocols.irc.channels import EXTENDED_MONITOR
from chatsvc.protocols.irc.part import ProtocolPart

if TYPE_CHECKING:
    pass

RPL_MONONLINE = "730"
RPL_MONOFFLINE = "731"
RPL_MONLIST = "732"
RPL_ENDOFMONLIST = "733"
ERR_MONLISTFULL = "734"


class MonitorCommands(ProtocolPart):
    """MONITOR for an IRC connection (mixed into the protocol)."""

    def _cmd_monitor(self, params: list[str]) -> None:
        sub = params[0][:1].upper()
        targets = [name for name in params[1].split(",") if name] if len(params) > 1 else []
        watches = self.hub.watches
        if sub == "+":
            added = watches.add(self, targets)
            if added.invalid:
                self._reply(rfc.ERR_ERRONEUSNICKNAME, added.invalid[0], "Erroneous nickname")
            self._send_status(added.added)
            if added.over_limit:
                self._reply(ERR_MONLISTFULL, str(watches.limit), ",".join(added.over_limit),
                            "Monitor list is full.")
        elif sub == "-":
            watches.remove(self, targets)
        elif sub == "C":
            watches.clear(self)
        elif sub == "L":
            if self._bulk_allowed("MONITOR"):
                self._send_packed(RPL_MONLIST, watches.watched_by(self))
            self._reply(RPL_ENDOFMONLIST, "End of MONITOR list")
        elif sub == "S":
            if self._bulk_allowed("MONITOR"):
                self._send_status(watches.watched_by(self))
        else:
            self._reply(rfc.ERR_UNKNOWNCOMMAND, "MONITOR", "Unknown MONITOR subcommand")

    def _send_status(self, names: Iterable[str]) -> None:
        """730 with C{nick!user@host} of those online, 731 with the others."""
        online: list[str] = []
        offline: list[str] = []
        for name in names:
            person = self.hub.user_named(name)
            if person is None or person.name is None:
                offline.append(name)
            else:
                online.append(self.hub.mask_of(person))
        self._send_packed(RPL_MONONLINE, online)
        self._send_packed(RPL_MONOFFLINE, offline)

    def _send_packed(self, numeric: str, items: list[str]) -> None:
        """C{items}, comma-separated, in as few lines of at most 512 bytes as fit."""
        if not items:
            return
        head = wire.build(self.server.name, numeric, self._me, "")
        # Names and masks hold no spaces: packed with spaces, sent with commas.
        for chunk in wire.pack_words(items, wire.BODY_BYTES - len(head.encode("utf-8"))):
            self._reply(numeric, chunk.replace(" ", ","))

    def _presence(self, event: Presence) -> None:
        """The hub says a watched name came or went: 730 with its mask, or 731."""
        if event.online:
            self._reply(RPL_MONONLINE, event.mask or event.name)
        else:
            self._reply(RPL_MONOFFLINE, event.name)

    def _watched(self, event: Watched) -> None:
        """extended-monitor: a change of someone we watch, shown as from a room mate.

        Shown only to a client that asked for extended-monitor, and then
        only what its other capabilities show (an C{AWAY} with away-notify,
        a C{SETNAME} with setname...): the change's own rendering.
        """
        if EXTENDED_MONITOR in self._caps:
            self.deliver(event.change)

    #: COMMAND -> (fewest parameters, handler(self, params)), for
    #: L{chatsvc.protocols.irc.protocol.IRCChatProtocol._COMMANDS}.
    MONITOR_COMMANDS: ClassVar[dict[str, tuple[int, Callable[[Any, list[str]], None]]]] = {
        "MONITOR": (1, _cmd_monitor),
    }
    #: Event type -> handler(self, event), for the protocol's C{deliver}.
    MONITOR_EVENTS: ClassVar[dict[type, Callable[[Any, Any], None]]] = {
        Presence: _presence,
        Watched: _watched,
    }
