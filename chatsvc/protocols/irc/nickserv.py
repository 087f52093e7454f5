"""The NickServ convention, for the clients and bouncers that script against it.

A C{PRIVMSG NickServ :...} on a server with accounts reaches this module
instead of "no such nick"; it answers with NOTICEs from C{NickServ}:

    REGISTER <password> [email]    your nick becomes an account (900 too)
    IDENTIFY [account] <password>  log in (900); the nick is not changed
    IDENTIFY                       log in with your TLS client certificate
    LOGOUT                         log out (901)
    CERT ADD [fingerprint]         add your certificate (or that one) to your account
    CERT DEL <fingerprint>         remove one
    CERT LIST                      list them
    GHOST <nick> [password]        disconnect a stale connection holding your nick
    RECOVER <nick> [password]      the same, and take the nick
    HELP

Every rule is the hub's account rules' (L{chatsvc.accounts.rules}); the
e-mail address is accepted and not kept (there is no verification).  A
NOTICE to NickServ is never answered, as a NOTICE never is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from chatsvc.hub.errors import BadPassword, ChatError
from chatsvc.hub.names import fold
from chatsvc.protocols.irc.sasl import RPL_LOGGEDOUT, logged_in

if TYPE_CHECKING:
    from chatsvc.protocols.irc.protocol import IRCChatProtocol

NICKSERV = "NickServ"
SOURCE = "NickServ!NickServ@services.chatsvc"

HELP = (
    "NickServ keeps your nick for you: it is this server's accounts.",
    "REGISTER <password> [email]   make your current nick an account",
    "IDENTIFY [account] <password> log in (SASL PLAIN does it while connecting)",
    "IDENTIFY                      log in with your TLS client certificate (SASL EXTERNAL)",
    "LOGOUT                        log out",
    "CERT ADD [fingerprint]        add your TLS client certificate (or that one) to your account",
    "CERT DEL <fingerprint>        remove a certificate from your account",
    "CERT LIST                     list your account's certificates",
    "GHOST <nick> [password]       disconnect whoever holds a nick of your account",
    "RECOVER <nick> [password]     the same, then take the nick",
)


def handles(protocol: IRCChatProtocol, target: str) -> bool:
    """Whether a message to C{target} is for this module (NickServ, with accounts)."""
    return protocol.hub.accounts is not None and fold(target) == fold(NICKSERV)


def _say(protocol: IRCChatProtocol, text: str) -> None:
    protocol._write_line(SOURCE, "NOTICE", protocol._me, text, text=True)


def _later(protocol: IRCChatProtocol, pending: Deferred[Any],
           done: Callable[[Any], None]) -> None:
    def refused(failure: Failure) -> None:
        value = failure.value
        if isinstance(value, BadPassword):
            _say(protocol, "Invalid password")  # the same for an unknown account
        elif isinstance(value, ChatError):
            _say(protocol, str(value))
        else:
            _say(protocol, "Internal error")

    pending.addCallbacks(done, refused)


def _identified(protocol: IRCChatProtocol, name: str) -> None:
    _say(protocol, f"You are now identified as {name}")
    logged_in(protocol, name)


def _cert(protocol: IRCChatProtocol, words: list[str]) -> None:
    """C{CERT ADD [fp]}, C{CERT DEL fp}, C{CERT LIST} (ergo's forms)."""
    accounts = protocol.hub.accounts
    assert accounts is not None
    if words[0] == "ADD" and len(words) in (1, 2):
        def added(result: tuple[str, bool]) -> None:
            fingerprint, new = result
            _say(protocol, f"Certificate {fingerprint} added to your account" if new
                 else f"Certificate {fingerprint} is on your account already")

        _later(protocol, accounts.add_certificate(protocol, words[1] if len(words) == 2
                                                  else None), added)
    elif words[0] in ("DEL", "DELETE") and len(words) == 2:
        _later(protocol, accounts.remove_certificate(protocol, words[1]),
               lambda fingerprint: _say(protocol, f"Certificate {fingerprint} removed"))
    elif words[0] == "LIST" and len(words) == 1:
        def listed(fingerprints: list[str]) -> None:
            if not fingerprints:
                _say(protocol, "Your account has no certificates")
            for fingerprint in fingerprints:
                _say(protocol, f"Certificate: {fingerprint}")

        _later(protocol, accounts.certificates(protocol), listed)
    else:
        _say(protocol, "Syntax: CERT ADD [fingerprint] | CERT DEL <fingerprint> | CERT LIST")


def message(protocol: IRCChatProtocol, text: str) -> None:
    """One C{PRIVMSG NickServ :text}."""
    accounts = protocol.hub.accounts
    assert accounts is not None
    words = text.split()
    command = words[0].upper() if words else "HELP"
    try:
        if command == "REGISTER" and len(words) in (2, 3):
            def registered(name: str) -> None:
                _say(protocol, f"Account {name} registered; you are logged in")
                logged_in(protocol, name)

            _later(protocol, accounts.register(protocol, words[1]), registered)
        elif command == "IDENTIFY" and len(words) in (2, 3):
            account = words[1] if len(words) == 3 else (protocol.name or "")
            _later(protocol, accounts.log_in(protocol, account, words[-1], take_name=False),
                   lambda name: _identified(protocol, name))
        elif command == "IDENTIFY" and len(words) == 1:
            _later(protocol, accounts.log_in_by_certificate(protocol, take_name=False),
                   lambda name: _identified(protocol, name))
        elif command == "CERT" and len(words) >= 2:
            _cert(protocol, [word.upper() for word in words[1:2]] + words[2:])
        elif command in ("GHOST", "RECOVER") and len(words) in (2, 3):
            password = words[2] if len(words) == 3 else None
            verb = "recovered" if command == "RECOVER" else "ghosted"
            before = protocol.record.account

            def ghosted(name: str) -> None:
                _say(protocol, f"{name} has been {verb}")
                account = protocol.record.account
                if account is not None and before is None:  # RECOVER with the password
                    logged_in(protocol, account)

            _later(protocol, accounts.ghost(protocol, words[1], password,
                                            take=command == "RECOVER"), ghosted)
        elif command == "LOGOUT" and len(words) == 1:
            name = accounts.log_out(protocol)
            protocol._reply(RPL_LOGGEDOUT, protocol.hub.mask_of(protocol),
                            "You are now logged out")
            _say(protocol, f"You are logged out of {name}")
        else:
            for line in HELP:
                _say(protocol, line)
    except ChatError as refusal:
        _say(protocol, str(refusal))


__all__ = ["NICKSERV", "handles", "message"]
