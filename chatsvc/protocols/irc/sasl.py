"""IRCv3 SASL (sasl-3.1/3.2), mechanisms PLAIN and EXTERNAL, over the hub's account rules.

The capability is offered only on a server that keeps accounts (C{sasl}, or
C{sasl=PLAIN,EXTERNAL} to a C{CAP LS 302} client).  The exchange::

    C: AUTHENTICATE PLAIN          S: AUTHENTICATE +
    C: AUTHENTICATE <base64>       (400-byte chunks; "+" ends one of exactly 400)
    S: 900 nick nick!user@host account :You are now logged in as account
    S: 903 nick :SASL authentication successful

EXTERNAL (RFC 4422, appendix A) logs in with the TLS client certificate
the connection showed (L{chatsvc.conn.certificates}), added to the account
beforehand (NickServ's C{CERT ADD}, the line protocol's C{/certfp add}):
its payload is C{+} (empty) or the account's name (the authzid), and
without a certificate, or with one that is no account's, it is 904.

A wrong password, an unknown account, a bad payload or another mechanism is
904 (908 lists the mechanisms first); C{AUTHENTICATE *} is 906; over
L{MAX_PAYLOAD} bytes, or a chunk over 400, is 905.  A logged-in client may
authenticate again, before or after registering (sasl-3.2: "Servers SHOULD
allow a client, authenticated or otherwise, to reauthenticate"): success
moves it to the new account, failure leaves it logged in as it was.  The
password is checked by L{chatsvc.accounts.rules.AccountRules.log_in} (off
the reactor, the guessing throttle, the same answer for an unknown account)
and SASL does not rename: the nick may differ from the account (the
registered-name rules then apply to the nick).  State per connection lives
here, not on the protocol.
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
PLAIN = "PLAIN"
EXTERNAL = "EXTERNAL"
#: Listed to every client (as ergo does): EXTERNAL fails (904) without a
#: certificate, which a client learns only by trying on this connection.
MECHANISMS = (PLAIN, EXTERNAL)

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

#: connection -> (the mechanism chosen, the base64 received so far).
_exchanges: WeakKeyDictionary[IRCChatProtocol, tuple[str, str]] = WeakKeyDictionary()


def offered(hub: ChatFactory) -> bool:
    """Whether this server offers SASL: only with accounts (a C{--data-dir})."""
    return hub.accounts is not None


def advertised(hub: ChatFactory, capabilities: tuple[str, ...], version: int) -> list[str]:
    """The capabilities for C{CAP LS}: C{sasl=PLAIN} for 302 clients, when offered."""
    if not offered(hub):
        return list(capabilities)
    return [*capabilities, f"{SASL}={','.join(MECHANISMS)}" if version >= 302 else SASL]


#: connection -> the account whose 900 went out ahead of its login's
#: callback (L{logged_in_first}), so that the callback does not repeat it.
_told: WeakKeyDictionary[IRCChatProtocol, str] = WeakKeyDictionary()


def logged_in(protocol: IRCChatProtocol, account: str) -> None:
    """900: what a client is told once logged in (by SASL, NickServ or REGISTER)."""
    if _told.pop(protocol, None) == account:
        return
    protocol._reply(RPL_LOGGEDIN, protocol.hub.mask_of(protocol), account,
                    f"You are now logged in as {account}")


def logged_in_first(protocol: IRCChatProtocol, account: str) -> None:
    """900 now, ahead of the client's own account-notify C{ACCOUNT} line: the
    hub tells everyone (the client too) as it logs the client in, before the
    command that logged in gets its answer, and clients (and irctest) expect
    900 first.  The command's own L{logged_in} then says nothing more."""
    logged_in(protocol, account)
    _told[protocol] = account


def authenticate(protocol: IRCChatProtocol, params: list[str]) -> None:
    """C{AUTHENTICATE}: a mechanism to start with, then the payload in chunks."""
    accounts = protocol.hub.accounts
    if accounts is None:
        protocol._reply(ERR_SASLFAIL, "SASL authentication failed: no accounts here")
        return
    data = params[0]
    if protocol not in _exchanges:
        mechanism = data.upper()
        if mechanism not in MECHANISMS:
            protocol._reply(RPL_SASLMECHS, ",".join(MECHANISMS),
                            "are available SASL mechanisms")
            protocol._reply(ERR_SASLFAIL, "SASL authentication failed")
            return
        _exchanges[protocol] = (mechanism, "")
        protocol._write_line(None, "AUTHENTICATE", "+")
        return
    if data == "*":
        del _exchanges[protocol]
        protocol._reply(ERR_SASLABORTED, "SASL authentication aborted")
        return
    mechanism, so_far = _exchanges[protocol]
    so_far += "" if data == "+" else data
    if len(so_far) > MAX_PAYLOAD or len(data) > _CHUNK:
        del _exchanges[protocol]
        protocol._reply(ERR_SASLTOOLONG, "SASL message too long")
        return
    if len(data) == _CHUNK:
        _exchanges[protocol] = (mechanism, so_far)  # more follows
        return
    del _exchanges[protocol]
    try:
        if mechanism == EXTERNAL:
            authzid = _external(so_far)
            if authzid is None:
                protocol._reply(ERR_SASLFAIL, "SASL authentication failed")
                return
            pending = accounts.log_in_by_certificate(protocol, authzid or None,
                                                     take_name=False, again=True)
        else:
            credentials = _plain(so_far)
            if credentials is None:
                protocol._reply(ERR_SASLFAIL, "SASL authentication failed")
                return
            account, password = credentials
            pending = accounts.log_in(protocol, account, password, take_name=False, again=True)
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


def _external(payload: str) -> str | None:
    """The authzid of an EXTERNAL payload: C{""} for none (C{AUTHENTICATE +}),
    C{None} if it is not valid base64 / UTF-8 or holds a NUL."""
    try:
        authzid = base64.b64decode(payload, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return None if "\x00" in authzid else authzid


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


__all__ = ["EXTERNAL", "MECHANISMS", "PLAIN", "SASL", "advertised", "authenticate", "logged_in",
           "logged_in_first", "offered"]
