"""IRCv3 draft/account-registration: C{REGISTER} and C{VERIFY}, over the hub's account rules.

The capability is offered only on a server that keeps accounts, as
C{draft/account-registration=before-connect} to a C{CAP LS 302} client:

    C: REGISTER <account|*> <email|*> <password>
    S: 900 nick nick!user@host account :You are now logged in as account
    S: REGISTER SUCCESS account :Account registered; you are logged in

The account is the client's nick: C{*} or the nick itself (there is no
C{custom-account-name}: an account is a reserved nick, so registering
another than your own would reserve a nick from under whoever holds it).
Before connecting (C{before-connect}, as ergo allows it) the nick is the one
the client last sent with C{NICK}; registering it is refused while someone
else holds it, as a name that is in use.  A server with C{--password} does
not advertise C{before-connect}, and answers C{COMPLETE_CONNECTION_REQUIRED}
until the connection has registered, so that REGISTER is no way around PASS.

The e-mail address is accepted and not kept: there is no verification
(no C{email-required}), so an account exists at once and C{VERIFY} always
answers C{FAIL VERIFY INVALID_CODE}.  Every rule (the password's form and
the operator's minimum, the registrations throttle per address, one hash at
a time per connection) is the one NickServ's and the line protocol's
registration use: L{chatsvc.accounts.rules.AccountRules.register}.  Each
refusal is a standard reply, C{FAIL REGISTER <code> <account> :why}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.python.failure import Failure
from twisted.words.protocols import irc as rfc

from chatsvc.hub.errors import (
    AccountExists,
    AlreadyLoggedIn,
    BadNameError,
    ChatError,
    NameTaken,
    UnusablePassword,
)
from chatsvc.hub.names import fold
from chatsvc.protocols.irc import wire
from chatsvc.protocols.irc.sasl import logged_in

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory
    from chatsvc.protocols.irc.protocol import IRCChatProtocol

ACCOUNT_REGISTRATION = "draft/account-registration"
#: The capability's value: REGISTER is allowed before connection registration.
BEFORE_CONNECT = "before-connect"


def offered(hub: ChatFactory) -> bool:
    """Whether this server offers REGISTER: only with accounts (a C{--data-dir})."""
    return hub.accounts is not None


def before_connect(hub: ChatFactory) -> bool:
    """Whether REGISTER is allowed before the connection registers: not when
    a server password (C{--password}) must be given first."""
    return not hub.password_required


def advertised(hub: ChatFactory, capabilities: tuple[str, ...],
               version: int) -> tuple[str, ...]:
    """C{capabilities} with this one, when offered (its value for 302 clients)."""
    if not offered(hub):
        return capabilities
    if version >= 302 and before_connect(hub):
        return (*capabilities, f"{ACCOUNT_REGISTRATION}={BEFORE_CONNECT}")
    return (*capabilities, ACCOUNT_REGISTRATION)


def _fail(protocol: IRCChatProtocol, command: str, code: str, account: str, text: str) -> None:
    """C{FAIL <command> <code> <account> :text}; the account as the client typed
    it may be any word, so it goes through L{wire.middle}."""
    protocol._write_line(protocol.server.name, "FAIL", command, code, wire.middle(account),
                         text, text=True)


def _unavailable(protocol: IRCChatProtocol, command: str) -> bool:
    """Answer 421 where there are no accounts (the commands are not offered)."""
    if protocol.hub.accounts is None:
        protocol._reply(rfc.ERR_UNKNOWNCOMMAND, command, "Unknown command")
        return True
    return False


def register(protocol: IRCChatProtocol, params: list[str]) -> None:
    """C{REGISTER <account|*> <email|*> <password>}."""
    if _unavailable(protocol, "REGISTER"):
        return
    accounts = protocol.hub.accounts
    assert accounts is not None
    account, _email, password = params[0], params[1], params[2]
    early = protocol.name is None
    if early and not before_connect(protocol.hub):
        _fail(protocol, "REGISTER", "COMPLETE_CONNECTION_REQUIRED", account,
              "Register your connection (PASS, NICK, USER) first")
        return
    nick = protocol.name if not early else (protocol._nick or protocol._asked_nick)
    if nick is None:
        _fail(protocol, "REGISTER", "NEED_NICK", "*", "Send NICK first: your nick is the account")
        return
    if account != "*" and fold(account) != fold(nick):
        _fail(protocol, "REGISTER", "ACCOUNT_NAME_MUST_BE_NICK", account,
              f"The account is your nick: REGISTER * or REGISTER {nick}")
        return
    try:
        pending = accounts.register(protocol, password, name=nick if early else None)
    except ChatError as refusal:
        _refused(protocol, nick, password, refusal)
        return

    def succeeded(name: str) -> None:
        logged_in(protocol, name)
        protocol._write_line(protocol.server.name, "REGISTER", "SUCCESS", name,
                             "Account registered; you are logged in", text=True)

    def failed(failure: Failure) -> None:
        value = failure.value
        _refused(protocol, nick, password,
                 value if isinstance(value, ChatError) else ChatError("internal error"))

    pending.addCallbacks(succeeded, failed)
    protocol.answer_in_order(pending)


def _refused(protocol: IRCChatProtocol, nick: str, password: str, refusal: ChatError) -> None:
    """The standard reply for one of the account rules' refusals."""
    if isinstance(refusal, AlreadyLoggedIn):
        current = protocol.record.account or nick
        _fail(protocol, "REGISTER", "ALREADY_AUTHENTICATED", current,
              f"You are logged in as {current} already")
    elif isinstance(refusal, AccountExists | NameTaken):
        _fail(protocol, "REGISTER", "ACCOUNT_EXISTS", nick,
              f"{nick} is not available as an account: " + (
                  "it is registered already" if isinstance(refusal, AccountExists)
                  else "someone is using it"))
    elif isinstance(refusal, BadNameError):
        _fail(protocol, "REGISTER", "BAD_ACCOUNT_NAME", nick, str(refusal))
    elif isinstance(refusal, UnusablePassword):
        accounts = protocol.hub.accounts
        weak = accounts is not None and len(password) < accounts.password_min
        _fail(protocol, "REGISTER", "WEAK_PASSWORD" if weak else "UNACCEPTABLE_PASSWORD",
              nick, str(refusal))
    else:  # throttled, a hash already running, the store failing
        _fail(protocol, "REGISTER", "TEMPORARILY_UNAVAILABLE", nick, str(refusal))


def verify(protocol: IRCChatProtocol, params: list[str]) -> None:
    """C{VERIFY <account> <code>}: registering needs no verification here, so
    there is never a code to check."""
    if _unavailable(protocol, "VERIFY"):
        return
    account = params[0]
    if protocol.record.account is not None:
        _fail(protocol, "VERIFY", "ALREADY_AUTHENTICATED", protocol.record.account,
              f"You are logged in as {protocol.record.account} already")
        return
    if protocol.name is None and not before_connect(protocol.hub):
        _fail(protocol, "VERIFY", "COMPLETE_CONNECTION_REQUIRED", account,
              "Register your connection (PASS, NICK, USER) first")
        return
    _fail(protocol, "VERIFY", "INVALID_CODE", account,
          "No verification is pending: REGISTER creates the account at once")


__all__ = ["ACCOUNT_REGISTRATION", "BEFORE_CONNECT", "advertised", "before_connect", "offered",
           "register", "verify"]
