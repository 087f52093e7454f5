"""A client for scripts and bots: connect, register, talk, wait for events.

::

    from twisted.internet import defer, task
    from chatsvc.client import connect
    from chatsvc.events import RoomMessage

    async def main(reactor):
        session = await connect(reactor, "localhost:12345", "greeter")
        session.say("hello, room")
        event = await session.next_event(kind=RoomMessage, timeout=60)
        session.whisper(event.sender, "you said: " + event.text)
        await session.quit("done")

    task.react(lambda reactor: defer.ensureDeferred(main(reactor)))

The protocol parses the server's lines into the same L{chatsvc.events} the
server renders (see L{chatsvc.protocols.line.wire.LineParser}), so a bot reasons about
C{RoomMessage}, C{Joined} and so on, never about text formats.
"""

from __future__ import annotations

import inspect
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar, cast

from twisted.internet import defer, endpoints, ssl
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IReactorTime,
    ISSLTransport,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.conn.framing import TOO_LONG, LineBuffer
from chatsvc.events import Entered, Error, Event, Notice, Registered, Renamed, Topic, Who
from chatsvc.hub import errors
from chatsvc.hub.names import fold
from chatsvc.hub.text import decode, sanitize
from chatsvc.protocols.line.wire import HISTORY_END, WITH_IDS, LineParser

__all__ = [
    "BadName",
    "ClientError",
    "ConnectFailed",
    "ConnectionClosed",
    "EventTimeout",
    "NameTaken",
    "RegistrationRefused",
    "ServerFull",
    "Session",
    "TLSVerificationFailed",
    "WrongPassword",
    "WrongProtocol",
    "client_endpoint",
    "connect",
    "tls_options",
]

E = TypeVar("E", bound=Event)

MAX_LINE = 64 * 1024
"""Longest server line we accept; anything longer is skipped, not buffered."""

INBOX_SIZE = 1000
"""Unclaimed events kept for L{Session.next_event}; the oldest go first.

They are kept since registration, so a wait without C{fresh=True} may be
answered by an event long past."""


# -- errors ------------------------------------------------------------------


class ClientError(Exception):
    """Something went wrong for this client; C{str()} says what, for a person."""


class ConnectFailed(ClientError):
    """The server could not be reached (refused, unknown host, timed out)."""


class TLSVerificationFailed(ConnectFailed):
    """The server's certificate is untrusted or not valid for its host name."""


class WrongProtocol(ConnectFailed):
    """The server answered in another protocol (IRC): the wrong port, or the wrong client."""


class RegistrationRefused(ClientError):
    """The server answered our name with an error; C{text} is its reply.

    C{code} is the refusal's stable code (docs/user/errors.rst), which is
    what the subclasses below are chosen by.
    """

    def __init__(self, text: str, code: str = "error") -> None:
        super().__init__(text)
        self.text = text
        self.code = code


class NameTaken(RegistrationRefused):
    """Someone else has that name (compared ignoring case)."""


class BadName(RegistrationRefused):
    """The name breaks the server's naming rules; the message says which."""


class ServerFull(RegistrationRefused):
    """The server is at its connection limit."""


class WrongPassword(RegistrationRefused):
    """The server has a password and ours was missing or wrong; or the account
    password was wrong (the server says the same for an account that does not
    exist: code C{wrong-password})."""


class ConnectionClosed(ClientError):
    """The connection ended while we were waiting for something."""


class EventTimeout(ClientError, TimeoutError):
    """No wanted event arrived in time."""


_REFUSALS: dict[str, type[RegistrationRefused]] = {
    errors.NameTaken.code: NameTaken,
    errors.BadNameError.code: BadName,
    errors.ServerFull.code: ServerFull,
    errors.BadPassword.code: WrongPassword,
    errors.PasswordRequired.code: WrongPassword,
}
"""The exception for each refusal code the server may answer our name with
(the codes the parser recovers: L{chatsvc.protocols.line.wire.refusal_code});
any other is a plain L{RegistrationRefused}."""


def _refusal(error: Error) -> RegistrationRefused:
    return _REFUSALS.get(error.code, RegistrationRefused)(error.text, error.code)


def _is_name_refusal(event: Event) -> TypeGuard[Error]:
    return isinstance(event, Error) and event.code in (errors.NameTaken.code,
                                                       errors.BadNameError.code)


# -- endpoints and TLS -------------------------------------------------------


def _load_trust(cafile: str) -> Any:  # an IOpenSSLTrustRoot (a private name in Twisted)
    try:
        with open(cafile, "rb") as pem_file:
            pem = pem_file.read()
    except OSError as error:
        raise ClientError(f"--cafile {cafile}: {error.strerror or error}") from None
    marker = b"-----BEGIN CERTIFICATE-----"
    blocks = [marker + block for block in pem.split(marker)[1:]]
    if not blocks:
        raise ClientError(f"--cafile {cafile}: no PEM certificate in it")
    try:
        certificates = [ssl.Certificate.loadPEM(block) for block in blocks]
    except Exception as error:  # pyOpenSSL raises several kinds
        raise ClientError(f"--cafile {cafile}: not a usable certificate ({error})") from None
    return ssl.trustRootFromCertificates(certificates)


def tls_options(hostname: str, cafile: str | None = None) -> IOpenSSLClientConnectionCreator:
    """TLS that verifies the server's certificate and that it is for C{hostname}.

    The certificate must chain to the system's trusted roots, or to the
    certificates in C{cafile} (a CA, or a server's self-signed certificate)
    when given.  Host name (or IP address) checking is service_identity's,
    through Twisted's L{ssl.optionsForClientTLS}.
    """
    trust = _load_trust(cafile) if cafile else ssl.platformTrust()
    return ssl.optionsForClientTLS(hostname, trustRoot=trust)


def _split_host_port(text: str) -> tuple[str, int]:
    if text.startswith("["):  # [::1]:12345
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: expected host:port, e.g. localhost:12345")
    return host, int(port)


def client_endpoint(
    reactor: Any,
    target: str | IStreamClientEndpoint,
    *,
    tls: bool = False,
    cafile: str | None = None,
    hostname: str | None = None,
) -> IStreamClientEndpoint:
    """The endpoint to reach a chatsvc server.

    C{target} is an endpoint, or a string: ``host:port`` (``[::1]:port``),
    ``tcp:host:port``, or ``tls:host:port`` / ``ssl:host:port`` for verified
    TLS; any other string with ``=`` in it is a Twisted client endpoint
    string, used as it is.  C{tls=True} wraps the connection in verified TLS
    (see L{tls_options}); C{hostname} is the name to verify, by default the
    host connected to.
    """
    if not isinstance(target, str):
        if tls or cafile:
            if hostname is None:
                raise ValueError("TLS over a given endpoint needs hostname=")
            return endpoints.wrapClientTLS(tls_options(hostname, cafile), target)
        return target
    kind, _, rest = target.partition(":")
    if "=" in target:
        endpoint = endpoints.clientFromString(reactor, target)
        if (tls or cafile) and kind.lower() not in ("ssl", "tls"):
            if hostname is None:
                raise ValueError("TLS over an endpoint string needs hostname=")
            endpoint = endpoints.wrapClientTLS(tls_options(hostname, cafile), endpoint)
        return endpoint
    if kind.lower() in ("tcp", "tls", "ssl"):
        tls = tls or kind.lower() != "tcp"
        target = rest
    host, port = _split_host_port(target)
    endpoint = endpoints.HostnameEndpoint(reactor, host.encode("idna"), port)
    if tls or cafile:
        endpoint = endpoints.wrapClientTLS(tls_options(hostname or host, cafile), endpoint)
    return endpoint


def _tls_failure(reason: Failure, hostname: str | None) -> ConnectFailed | None:
    """The error for a person if C{reason} is a TLS failure, else C{None}.

    L{TLSVerificationFailed} only when the certificate was checked and
    refused; any other handshake failure (say, TLS to a plain port) is a
    plain L{ConnectFailed}.
    """
    from OpenSSL import SSL
    from service_identity.exceptions import VerificationError

    if reason.check(VerificationError):
        # Its repr (VerificationError(errors=[IPAddressMismatch(...)])) is for
        # programmers: say what it means and what to do.
        return TLSVerificationFailed(
            f"TLS: the server's certificate is not valid for {hostname or 'this host'} "
            "(it is for another name or address): connect by a name the certificate "
            "carries, or give one with --servername")
    if reason.check(SSL.Error):
        detail = ", ".join(
            entry[-1] for entry in (reason.value.args[0] if reason.value.args else [])
            if isinstance(entry, tuple) and entry and entry[-1]
        ) or str(reason.value)
        if "certificate verify failed" in detail:
            return TLSVerificationFailed(
                "TLS: the server's certificate is not trusted (certificate verify "
                "failed); to trust a private or self-signed certificate, give it "
                "with --cafile")
        if any(sign in detail for sign in _NOT_TLS):
            return ConnectFailed(
                f"TLS handshake failed ({detail}): that port does not speak TLS; "
                "try without --tls")
        return ConnectFailed(f"TLS handshake failed: {detail}")
    return None


_NOT_TLS = ("wrong version number", "packet length too long", "record layer failure",
            "http request")
"""What OpenSSL says when the answer to our TLS hello is not TLS at all (a
plain-text server's greeting): the versions differ in wording."""

_EXACT_HEADER = re.compile(r"history (?:of|with) \S+ \(\d+\)" + re.escape(WITH_IDS))
"""The notice before the answer to L{Session.history} (C{/history --ids})."""

_HISTORY_REFUSALS = frozenset({
    errors.NoSuchRoom.code, errors.NotInRoom.code, errors.NoRoom.code, errors.NoHistory.code,
    errors.HistoryUnavailable.code, errors.PrivateHistoryNeedsAccount.code,
    errors.TryAgain.code, errors.Usage.code,
})
"""The refusals that answer a C{/history} (instead of its block)."""

_IRC_LINE = re.compile(r"(?::\S+ (?:\d{3}|NOTICE|PRIVMSG|PING) |(?:ERROR|PING) :|NOTICE \S+ :)")
"""The start of a line only an IRC server sends (a numeric reply, a NOTICE,
C{ERROR :Closing link}); a chatsvc line-protocol server never starts one so."""


# -- the protocol and the session --------------------------------------------


class ChatClientProtocol(Protocol):
    """Bytes to events for one connection; the L{Session} is its public face."""

    log = Logger()

    def __init__(self, session: Session) -> None:
        self.session = session
        self._lines = LineBuffer(MAX_LINE)

    def connectionMade(self) -> None:
        self.session._connected(self)

    def dataReceived(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            if line is TOO_LONG:
                self.log.warn("skipped a server line longer than {limit} bytes", limit=MAX_LINE)
                continue
            # Sanitised again here: a client must not let any server drive
            # the terminal it prints to.
            self.session._received(self.session.parser.parse(sanitize(decode(line))))

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.session._lost(reason)

    def send_line(self, line: str) -> None:
        assert self.transport is not None
        self.transport.write(line.encode("utf-8") + b"\r\n")


@dataclass
class _Waiter:
    wanted: Callable[[Event], bool]
    deferred: Deferred[Any]


def _one_line(what: str, text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} must be one line: {text!r}")
    return text


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


class Session:
    """One registered connection to a chatsvc server.

    Send with L{say}, L{whisper}, L{me}, L{rename}, L{who}, L{quit}.  Receive
    either by waiting (L{next_event}) or by a callback (L{on_event}); every
    event goes to every callback, and to the first waiter that wants it or
    else into a bounded inbox that later waits look through first.

    @ivar name: our current name.
    @ivar greeting: the server's notices up to the end of registration
        (welcome, message of the day, the default room's topic, or the
        error saying why that room refused us).
    @ivar parser: the L{LineParser} with what the server has told us so far.
    """

    log = Logger()

    def __init__(self, reactor: IReactorTime, name: str, hostname: str | None = None,
                 password: str | None = None, account_password: str | None = None) -> None:
        self.reactor = reactor
        self.name = name
        self.hostname = hostname
        self._password = password
        self._account_password = account_password
        #: The account we are logged in to, once the server said so.
        self.account: str | None = None
        self.parser = LineParser()
        self.greeting: list[Event] = []
        self.inbox: deque[Event] = deque(maxlen=INBOX_SIZE)
        self.registered = False
        self.closed = False
        self.close_reason = ""
        self._protocol: ChatClientProtocol | None = None
        self._registration: Deferred[Session] = Deferred()
        self._waiters: list[_Waiter] = []
        self._listeners: list[Callable[[Event], Any]] = []
        self._renames: deque[Deferred[str]] = deque()
        self._whos: deque[Deferred[list[str]]] = deque()
        self._histories: deque[Deferred[list[Event]]] = deque()
        #: The events of the history block being read, between its two lines.
        self._history_block: list[Event] | None = None
        self._close_waiters: list[Deferred[str]] = []
        self._quitting = False
        self._greeting_open = True
        self._refusal: ClientError | None = None

    # -- sending -------------------------------------------------------------

    def send_line(self, line: str) -> None:
        """Send one raw line-protocol line (for commands this API lacks)."""
        _one_line("a line", line)
        if self.closed or self._protocol is None:
            raise ConnectionClosed(f"not connected ({self.close_reason or 'not yet'})")
        if line.startswith("#") or line.lower().startswith("/nick "):
            self.parser.expect_name()
        self._protocol.send_line(line)

    def say(self, text: str) -> None:
        """Say C{text} to the room, verbatim; each line of it is one message."""
        for line in _lines(text):
            self.send_line(f"/say {line}" if line[0] in "#@/" else line)

    def whisper(self, name: str, text: str) -> None:
        """Say C{text} to C{name} alone; each line of it is one message."""
        if not name or any(c in name for c in " :\r\n"):
            raise ValueError(f"not a name to whisper to: {name!r}")
        for line in _lines(text):
            self.send_line(f"@{name}:{line}")

    def me(self, action: str) -> None:
        """An action line: others see ``* yourname action``."""
        for line in _lines(action):
            self.send_line(f"/me {line}")

    def rename(self, name: str) -> Deferred[str]:
        """Ask for a new name; fires with it, or fails with L{NameTaken}/L{BadName}."""
        d: Deferred[str] = Deferred()
        self.send_line(f"/nick {_one_line('a name', name)}")
        self._renames.append(d)
        return d

    def who(self) -> Deferred[list[str]]:
        """The names in the room, as the server lists them.

        Fails with L{ClientError} when we are in no room (kicked from the
        default room, or refused by it).
        """
        d: Deferred[list[str]] = Deferred()
        self.send_line("/who")
        self._whos.append(d)
        return d

    def history(self, target: str | None = None, limit: int = 50) -> Deferred[list[Event]]:
        """The last C{limit} (at most 500) things the server keeps of
        C{target}, oldest first: your room's (C{None}), another room's
        (C{"#rust"}), or your private messages with the account C{"bob"}
        (logged in only).

        Fires with events of L{chatsvc.events}, each with its stored C{id}
        and C{time} (to the millisecond): L{RoomMessage} (actions and
        notices too), L{TopicChanged}, L{Joined} and L{Left} (when the
        server keeps joins; a quit's C{room} is C{None}) for a room;
        L{PrivateMessage} for a conversation (C{sender} is you for what you
        sent).  They are the answer, not live
        events: they go to no L{on_event} callback and no waiter.  Fails
        with L{ClientError} when the server refuses (no such room, not
        logged in, no history kept, asked too often: the text says which).

        It asks with C{/history --ids}, whose lines carry each event's id,
        time and kind ahead of the text, so nothing a user wrote is mistaken
        for them.  Ask one at a time: the line protocol answers in order but
        does not say which request an error answers.
        """
        if not 1 <= limit:
            raise ValueError(f"limit must be at least 1, not {limit}")
        words = ["/history", "--ids"]
        if target is not None:
            if not target or any(c.isspace() for c in target) or target in ("#", "@"):
                raise ValueError(f"not a room or a name: {target!r}")
            words.append(target if target[0] in "#@" else f"@{target}")
        words.append(str(limit))
        d: Deferred[list[Event]] = Deferred()
        self.send_line(" ".join(words))
        self._histories.append(d)
        return d

    def quit(self, reason: str = "") -> Deferred[str]:
        """Leave, telling the others C{reason}; fires when the server has closed."""
        if self.closed:
            return defer.succeed(self.close_reason)
        self._quitting = True
        reason = " ".join(reason.split())
        self.send_line(f"/quit {reason}".rstrip())
        return self.when_closed()

    def close(self) -> Deferred[str]:
        """Drop the connection without a goodbye."""
        if self._protocol is not None and self._protocol.transport is not None \
                and not self.closed:
            self._quitting = True
            self._protocol.transport.loseConnection()
        return self.when_closed()

    # -- receiving -----------------------------------------------------------

    @property
    def tls(self) -> bool:
        """Whether the connection is encrypted with TLS (and so the certificate checked)."""
        transport = None if self._protocol is None else self._protocol.transport
        return transport is not None and ISSLTransport.providedBy(transport)

    @property
    def names(self) -> list[str]:
        """Everyone known to be in the room, ourselves included, sorted."""
        return sorted(self.parser.present.values(), key=fold)

    def on_event(self, callback: Callable[[Event], Any]) -> Callable[[], None]:
        """Call C{callback(event)} for every event from now on.

        C{callback} may be a coroutine function; its errors are logged, never
        raised into the connection.  Returns a function that unsubscribes.
        """
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def next_event(
        self,
        kind: type[E] | tuple[type[E], ...] | None = None,
        match: Callable[[E], bool] | None = None,
        timeout: float | None = None,
        *,
        fresh: bool = False,
    ) -> Deferred[E]:
        """The oldest unclaimed event of C{kind} for which C{match} is true.

        Looks in the inbox first, then waits, so the event may be one that
        arrived long before the call (a C{Joined} from minutes ago, say).
        C{fresh=True} skips the inbox (leaving it as it is) and waits for an
        event that arrives after the call: the answer to what was just sent.
        Fails with L{EventTimeout} after C{timeout} seconds (on this
        session's reactor clock), or with L{ConnectionClosed}.  Cancelling
        the Deferred stops the wait.
        """

        def wanted(event: Event) -> bool:
            if kind is not None and not isinstance(event, kind):
                return False
            return match is None or bool(match(event))  # type: ignore[arg-type]

        for event in () if fresh else self.inbox:
            if wanted(event):
                self.inbox.remove(event)
                return defer.succeed(cast(E, event))
        if self.closed:
            return defer.fail(ConnectionClosed(f"connection closed: {self.close_reason}"))
        waiter = _Waiter(wanted, Deferred(lambda d: self._forget(waiter)))
        self._waiters.append(waiter)
        if timeout is not None:
            what = _describe(kind)
            timer = self.reactor.callLater(
                timeout, self._time_out, waiter,
                EventTimeout(f"no {what} within {timeout:g} seconds"),
            )
            waiter.deferred.addBoth(_cancelling(timer))
        return waiter.deferred

    def when_closed(self) -> Deferred[str]:
        """Fires with why the connection ended, once it has."""
        if self.closed:
            return defer.succeed(self.close_reason)
        d: Deferred[str] = Deferred()
        self._close_waiters.append(d)
        return d

    # -- called by the protocol ----------------------------------------------

    def _connected(self, protocol: ChatClientProtocol) -> None:
        self._protocol = protocol
        if self._password is not None:
            self.send_line(f"/pass {_one_line('a password', self._password)}")
        if self._account_password is not None:
            # Logging in before a name registers us under the account's name;
            # the password is one word (docs/user/accounts.rst).
            self.parser.expect_name()  # "* you are alice" answers the /login
            protocol.send_line(f"/login {self.name} {self._account_password}")
            return
        self.send_line(f"#{_one_line('a name', self.name)}")

    def _received(self, event: Event) -> None:
        if isinstance(event, Notice) and event.text.startswith("logged in as "):
            self.account = event.text.removeprefix("logged in as ")
        elif isinstance(event, Notice) and event.text.startswith("logged out of "):
            self.account = None
        if not self.registered:
            self._while_registering(event)
            return
        if self._history_answer(event):
            return
        if isinstance(event, Registered):
            self.name = event.name
            if self._renames:
                self._renames.popleft().callback(event.name)
        elif isinstance(event, Renamed) and fold(event.old) == fold(self.name):
            self.name = event.new
        elif _is_name_refusal(event) and self._renames:
            self._renames.popleft().errback(_refusal(event))
        elif isinstance(event, Entered) and not self._greeting_open:
            # The parser forgets who is present on entering a room; ask again
            # (through the same queue as who(), so answers stay in order).
            self.who().addErrback(lambda failure: None)
        elif isinstance(event, Who) and self._whos:
            connecting = self._greeting_open
            self._whos.popleft().callback(list(event.names))
            if connecting:
                return  # our own /who while connecting: bookkeeping only
        elif (isinstance(event, Error) and self._whos
              and event.code == errors.NoRoom.code):
            connecting = self._greeting_open
            waiting = self._whos.popleft()
            if connecting:  # the default room refused us: nobody is with us
                waiting.callback([])
                return
            waiting.errback(ClientError(event.text))
        if self._greeting_open and isinstance(event, (Notice, Topic, Error)):
            # The message of the day, the default room's topic, or why it
            # refused us: what a person should read on arriving.
            self.greeting.append(event)
            return
        self._dispatch(event)

    def _history_answer(self, event: Event) -> bool:
        """Take C{event} if it is part of the answer to L{history}: its
        block's lines are the answer, not events for the callbacks."""
        block = self._history_block
        if block is not None:
            if isinstance(event, Notice) and event.text == HISTORY_END[2:]:
                self._history_block = None
                if self._histories:
                    self._histories.popleft().callback(block)
            elif event.id is not None:  # each exact line's event has its id
                block.append(event)
            else:
                self.log.warn("skipped a history line the client cannot read: {event!r}",
                              event=event)
            return True
        if not self._histories:
            return False
        if isinstance(event, Notice) and _EXACT_HEADER.fullmatch(event.text):
            self._history_block = []
            return True
        if isinstance(event, Error) and event.code in _HISTORY_REFUSALS:
            self._histories.popleft().errback(ClientError(event.text))
        return False

    def _while_registering(self, event: Event) -> None:
        if isinstance(event, Registered):
            self.name = event.name
            self.greeting.append(event)
            self.registered = True
            self._registration.callback(self)
        elif isinstance(event, Error):
            self._refuse(_refusal(event))
        elif isinstance(event, Notice) and _IRC_LINE.match(event.text):
            # An IRC server would wait for NICK and USER until its deadline,
            # then close: say at once what is on the other end.
            self._refuse(WrongProtocol(
                "that is an IRC server: use an IRC client, or the line-protocol port"))
        else:
            self.greeting.append(event)

    def _refuse(self, error: ClientError) -> None:
        if self._refusal is None:
            self._refusal = error
            self._registration.errback(error)
            self.close()

    def _dispatch(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    # A coroutine or a Deferred: what an async listener returns.
                    defer.ensureDeferred(result).addErrback(  # type: ignore[arg-type]
                        self._listener_failed)
            except Exception:
                self._listener_failed(Failure())
        for waiter in list(self._waiters):
            if waiter.wanted(event):
                self._waiters.remove(waiter)
                waiter.deferred.callback(event)
                return
        self.inbox.append(event)

    def _listener_failed(self, failure: Failure) -> None:
        self.log.failure("event callback failed", failure)

    def _lost(self, reason: Failure | None) -> None:
        self.closed = True
        tls_error = None if reason is None else _tls_failure(reason, self.hostname)
        if not self.registered:
            error = tls_error or self._refusal or ConnectFailed(
                "the server closed the connection before we registered")
            self.close_reason = str(error)
            if not self._registration.called:
                self._registration.errback(error)
        elif tls_error is not None:
            self.close_reason = str(tls_error)
        elif self._quitting:
            self.close_reason = "closed"
        else:
            self.close_reason = "the server closed the connection"
            if reason is not None and not reason.check(ConnectionDone):
                self.close_reason = f"connection lost: {reason.getErrorMessage()}"
        closed = ConnectionClosed(f"connection closed: {self.close_reason}")
        pending: Sequence[Deferred[Any]] = [
            *(w.deferred for w in self._waiters), *self._renames, *self._whos,
            *self._histories,
        ]
        self._waiters.clear()
        self._renames.clear()
        self._whos.clear()
        self._histories.clear()
        self._history_block = None
        for d in pending:
            d.errback(closed)
        waiters, self._close_waiters = self._close_waiters, []
        for d in waiters:
            d.callback(self.close_reason)

    def _forget(self, waiter: _Waiter) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def _time_out(self, waiter: _Waiter, error: EventTimeout) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
            waiter.deferred.errback(error)


def _describe(kind: type | tuple[type, ...] | None) -> str:
    if kind is None:
        return "event"
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__


def _cancelling(timer: Any) -> Callable[[Any], Any]:
    def cancel(result: Any) -> Any:
        if timer.active():
            timer.cancel()
        return result

    return cancel


class _SessionFactory(Factory):
    def __init__(self, session: Session) -> None:
        self.session = session

    def buildProtocol(self, addr: Any) -> ChatClientProtocol:
        return ChatClientProtocol(self.session)


# -- connecting --------------------------------------------------------------


def connect(
    reactor: Any,
    endpoint: str | IStreamClientEndpoint,
    name: str,
    *,
    tls: bool = False,
    cafile: str | None = None,
    hostname: str | None = None,
    password: str | None = None,
    account_password: str | None = None,
    timeout: float = 30.0,
) -> Deferred[Session]:
    """Connect to a chatsvc server and register as C{name}.

    Fires with a registered L{Session} that already knows who is in the
    room (L{Session.names}).  Fails with L{NameTaken}, L{BadName} or
    L{ServerFull} when the server refuses the name, L{WrongPassword} when
    the server has a password (C{--password}) and C{password} is not it, L{ConnectFailed} when it
    cannot be reached in C{timeout} seconds (L{WrongProtocol} when what
    answers is an IRC server), and L{TLSVerificationFailed} when its
    certificate is untrusted or for another host.  See
    L{client_endpoint} for C{endpoint}, C{tls}, C{cafile} and C{hostname}.

    With C{account_password}, C{name} is an account to log in to (the
    session takes its name, and L{Session.account} says it); a wrong
    password, or no such account, is L{WrongPassword}.  Never take it from
    a command line, where other local users see it: a prompt, an
    environment variable or a file (as C{chat} does).
    """
    try:
        _one_line("a name", name)
        target = client_endpoint(reactor, endpoint, tls=tls, cafile=cafile, hostname=hostname)
    except (ClientError, ValueError) as error:
        return defer.fail(error if isinstance(error, ClientError) else ClientError(str(error)))
    if hostname is None and isinstance(endpoint, str) and "=" not in endpoint:
        kind, _, rest = endpoint.partition(":")
        hostname = _split_host_port(rest if kind.lower() in ("tcp", "tls", "ssl") else endpoint)[0]
    if account_password is not None and (not account_password.strip()
                                         or any(c.isspace() for c in account_password)):
        return defer.fail(ClientError("an account password is one word"))
    session = Session(reactor, name, hostname, password, account_password)
    return defer.ensureDeferred(_connect(reactor, target, session, timeout))


async def _connect(
    reactor: Any, endpoint: IStreamClientEndpoint, session: Session, timeout: float
) -> Session:
    timed_out = []

    def give_up() -> None:
        timed_out.append(True)
        attempt.cancel()

    timer = reactor.callLater(timeout, give_up)
    attempt: Deferred[Any] = endpoint.connect(_SessionFactory(session))
    try:
        try:
            await attempt
        except Exception as error:
            if timed_out:
                raise ConnectFailed(f"no connection within {timeout:g} seconds") from None
            raise ConnectFailed(f"cannot connect to {session.hostname or 'server'}: "
                                f"{error}") from error
        attempt = session._registration
        try:
            await attempt
        except defer.CancelledError:
            session.close()
            raise ConnectFailed(f"no answer to registration within {timeout:g} seconds") from None
        attempt = session.who()
        try:
            await attempt
        except defer.CancelledError:
            session.close()
            raise ConnectFailed(f"no answer to /who within {timeout:g} seconds") from None
    finally:
        if timer.active():
            timer.cancel()
    session._greeting_open = False
    return session

