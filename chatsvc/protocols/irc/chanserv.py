"""ChanServ: registered rooms (L{chatsvc.hub.registered}) for IRC clients.

A C{PRIVMSG ChanServ :...} on a server that keeps registered rooms (one
with accounts: C{--data-dir}) reaches this module; it answers with NOTICEs
from C{ChanServ}, in the commands of ergo's ChanServ:

    REGISTER <#room>                 register a room you are an operator of
    DROP <#room> (or UNREGISTER)     drop its registration (its founder)
    INFO <#room>                     its founder, registration time, operators
    AMODE <#room> [+o|-o <account>]  its operator accounts: list, add, remove
    OP <#room>                       operator status now, if your account has it
    HELP

Every rule is the hub's (L{chatsvc.hub.registered.RoomRegistry}), the same
as the line protocol's C{/register #room}; ChanServ also gives operator
status on joining (C{:ChanServ!ChanServ@services.chatsvc MODE #rust +o
alice}), from the hub.  WHOIS shows it as a service.  A NOTICE to ChanServ
is never answered.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from twisted.python.failure import Failure
from twisted.words.protocols import irc as rfc

from chatsvc.hub.errors import ChatError
from chatsvc.hub.names import fold
from chatsvc.hub.registered import CHANSERV, CHANSERV_MASK
from chatsvc.protocols.irc import wire
from chatsvc.protocols.irc.isupport import VERSION

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from chatsvc.hub.registered import RoomRegistry
    from chatsvc.protocols.irc.part import ProtocolPart

HELP = (
    "ChanServ keeps registered rooms: their topic, modes, key, lists and operators",
    "survive the room emptying and server restarts. You must be logged in (NickServ).",
    "REGISTER <#room>                 register a room you are an operator of",
    "DROP <#room>                     drop its registration (the founder; also UNREGISTER)",
    "INFO <#room>                     its founder and operator accounts",
    "AMODE <#room> [+o|-o <account>]  list, add or remove an operator account",
    "OP <#room>                       operator status now, if your account has it",
)


def handles(protocol: ProtocolPart, target: str) -> bool:
    """Whether a message to C{target} is for this module (ChanServ, with a registry)."""
    return protocol.hub.registry is not None and fold(target) == fold(CHANSERV)


def _say(protocol: ProtocolPart, text: str) -> None:
    for line in wire.fit(CHANSERV_MASK, "NOTICE", (protocol._me,), text):
        protocol._write(wire.encode(line))


def _later(protocol: ProtocolPart, pending: Deferred[str], say: str) -> None:
    """Say C{say} (with C{{}} for the room's name) once C{pending} fires, or its refusal."""

    def refused(failure: Failure) -> None:
        value = failure.value
        _say(protocol, str(value) if isinstance(value, ChatError) else "Internal error")

    pending.addCallbacks(lambda result: _say(protocol, say.format(result)), refused)


def message(protocol: ProtocolPart, text: str) -> None:
    """One C{PRIVMSG ChanServ :text}."""
    registry = protocol.hub.registry
    assert registry is not None
    words = text.split()
    command = words[0].upper() if words else "HELP"
    arguments = words[1:]
    try:
        if command == "REGISTER" and len(arguments) == 1:
            _later(protocol, registry.register(protocol, arguments[0]),
                   "{} is registered to you")
        elif command in ("DROP", "UNREGISTER") and len(arguments) == 1:
            _later(protocol, registry.drop(protocol, arguments[0]),
                   "{} is no longer registered")
        elif command == "INFO" and len(arguments) == 1:
            _info(protocol, registry, arguments[0])
        elif command == "AMODE" and len(arguments) == 1:
            _info(protocol, registry, arguments[0])
        elif command == "AMODE" and len(arguments) == 3 and arguments[1] in ("+o", "-o"):
            adding = arguments[1] == "+o"
            name, changed = registry.set_operator(protocol, arguments[0], arguments[2], adding)
            room = registry.info(protocol, arguments[0])[0].name
            if not changed:
                _say(protocol, f"Nothing changed: {name} was {'' if adding else 'not '}"
                     f"an operator of {room} already")
            else:
                _say(protocol, f"{name} is {'now' if adding else 'no longer'} an operator "
                     f"of {room} by account")
        elif command == "OP" and len(arguments) == 1:
            room = registry.info(protocol, arguments[0])[0].name
            if not registry.claim(protocol, arguments[0]):
                _say(protocol, f"You are an operator of {room} already")
        else:
            for line in HELP:
                _say(protocol, line)
    except ChatError as refusal:
        _say(protocol, str(refusal))


def _info(protocol: ProtocolPart, registry: RoomRegistry, room_name: str) -> None:
    room, registration = registry.info(protocol, room_name)
    _say(protocol, f"{room.name} is registered to {registration.founder} since "
         f"{_time(registration.registered)}")
    operators = sorted((op.account for op in registration.operators.values()), key=fold)
    _say(protocol, f"Operator accounts of {room.name}: {', '.join(operators) or 'none'}")


def _time(seconds: float) -> str:
    return time.strftime("%a %b %d %Y %H:%M:%S UTC", time.gmtime(seconds))


def whois(protocol: ProtocolPart, nicks: str) -> None:
    """WHOIS ChanServ: a service of this server, not a user."""
    host = CHANSERV_MASK.partition("@")[2]
    protocol._reply(rfc.RPL_WHOISUSER, CHANSERV, CHANSERV, host, "*", "Registered rooms")
    protocol._reply(rfc.RPL_WHOISSERVER, CHANSERV, protocol.server.name, VERSION)
    protocol._reply(rfc.RPL_WHOISOPERATOR, CHANSERV, "is a network service")
    protocol._reply(rfc.RPL_ENDOFWHOIS, nicks, "End of /WHOIS list")


__all__ = ["HELP", "handles", "message", "whois"]
