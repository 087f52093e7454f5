"""IRCv3 SASL (sasl-3.1/3.2), mechanism PLAIN, over the hub's account rules.

The capability is offered only on a server that keeps accounts (C{sasl}, or
C{sasl=PLAIN} to a C{CAP LS 302} client).  The exchange::

    C: AUTHENTICATE PLAIN          S: AUTHENTICATE +
    C: AUTHENTICATE <base64>       (400-byte chunks; "+" ends one of exactly 400)
    S: 900 nick nick!user@host account :You are now logged in as account
    S: 903 nick :SASL authentication successful

A wrong password, an unknown account, a bad payload or another mechanism is
904 (908 lists the mechanisms first); C{AUTHENTICATE *} is 906; logged in
already is 907; over L{MAX_PAYLOAD} bytes is 905.  The password is checked
by L{chatsvc.accounts.rules.AccountRules.log_in} (off the reactor, the
guessing throttle, the same answer for an unknown account) and SASL does not
rename: the nick may differ from the account (the registered-name rules then
apply to the nick).  State per connection lives here, not on the protocol.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from twisted.python.failure import Failure

from chatsvc.hub.errors import AlreadyLoggedIn, ChatError

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory
    from chatsvc.protocols.irc.protocol import IRCChatProtocol

SASL = "sasl"
MECHANISMS = ("PLAIN",)

RPL_LOGGEDIN = "900"
RPL_LOGGEDOUT = "901"
RPL_SASLSUCCESS = "903"
ERR_SASLFAIL = "904"
ERR_SASLTOOLONG = "905"
ERR_SASLABORTED = "906"
ERR_SASLALREADY = "907"
RPL_SASLMECHS = "908"

#: The most base64 one exchange may carry (ten 400-byte chunks); PLAIN with
#: the longest name and password needs far less.
MAX_PAYLOAD = 4000
_CHUNK = 400

#: connection -> the base64 received so far (C{None}: PLAIN chosen, nothing yet).
_exchanges: WeakKeyDictionary[IRCChatProtocol, str] = WeakKeyDictionary()


def offered(hub: ChatFactory) -> bool:
    """Whether this server offers SASL: only with accounts (a C{--data-dir})."""
    return hub.accounts is not None


def advertised(hub: ChatFactory, capabilities: tuple[str, ...], version: int) -> list[str]:
    """The capabilities for C{CAP LS}: C{sasl=PLAIN} for 302 clients, when offered."""
    if not offered(hub):
        return list(capabilities)
    return [*capabilities, f"{SASL}={','.join(MECHANISMS)}" if version >= 302 else SASL]


def logged_in(protocol: IRCChatProtocol, account: str) -> None:
    """900: what a client is told once logged in (by SASL or NickServ)."""
    protocol._reply(RPL_LOGGEDIN, protocol.hub.mask_of(protocol), account,
                    f"You are now logged in as {account}")


def authenticate(protocol: IRCChatProtocol, params: list[str]) -> None:
    """C{AUTHENTICATE}: a mechanism to start with, then the payload in chunks."""
    accounts = protocol.hub.accounts
    if accounts is None:
        protocol._reply(ERR_SASLFAIL, "SASL authentication failed: no accounts here")
        return
    data = params[0]
    if protocol.record.account is not None:
        protocol._reply(ERR_SASLALREADY, "You have already authenticated using SASL")
        return
    if protocol not in _exchanges:
        if data.upper() not in MECHANISMS:
            protocol._reply(RPL_SASLMECHS, ",".join(MECHANISMS),
                            "are available SASL mechanisms")
            protocol._reply(ERR_SASLFAIL, "SASL authentication failed")
            return
        _exchanges[protocol] = ""
        protocol._write_line(None, "AUTHENTICATE", "+")
        return
    if data == "*":
        del _exchanges[protocol]
        protocol._reply(ERR_SASLABORTED, "SASL authentication aborted")
        return
    so_far = _exchanges[protocol] + ("" if data == "+" else data)
    if len(so_far) > MAX_PAYLOAD or len(data) > _CHUNK:
        del _exchanges[protocol]
        protocol._reply(ERR_SASLTOOLONG, "SASL message too long")
        return
    if len(data) == _CHUNK:
        _exchanges[protocol] = so_far  # more follows
        return
    del _exchanges[protocol]
    credentials = _plain(so_far)
    if credentials is None:
        protocol._reply(ERR_SASLFAIL, "SASL authentication failed")
        return
    account, password = credentials
    try:
        pending = accounts.log_in(protocol, account, password, take_name=False)
    except AlreadyLoggedIn:
        protocol._reply(ERR_SASLALREADY, "You have already authenticated using SASL")
        return
    except ChatError as refusal:
        protocol._reply(ERR_SASLFAIL, f"SASL authentication failed: {refusal}")
        return

    def succeeded(name: str) -> None:
        logged_in(protocol, name)
        protocol._reply(RPL_SASLSUCCESS, "SASL authentication successful")

    def failed(failure: Failure) -> None:
        why = failure.value if isinstance(failure.value, ChatError) else "internal error"
        protocol._reply(ERR_SASLFAIL, f"SASL authentication failed: {why}")

    pending.addCallbacks(succeeded, failed)


def _plain(payload: str) -> tuple[str, str] | None:
    """(account, password) of a PLAIN payload (RFC 4616), or C{None} if it is
    not valid base64 / UTF-8, has an empty name or password, or asks to act as
    another account than its own (an authzid that is not the authcid)."""
    try:
        raw = base64.b64decode(payload, validate=True)
        authzid, authcid, password = raw.decode("utf-8").split("\x00")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not authcid or not password or (authzid and authzid.lower() != authcid.lower()):
        return None
    return authcid, password


__all__ = ["MECHANISMS", "SASL", "advertised", "authenticate", "logged_in", "offered"]
