"""Helpers shared by the tests.

In memory: L{Wire}, the one fake connection to a hub (L{LineUser},
L{IRCUser}; L{Net} is the public harness with both listeners), bare
participants (L{Recorder}), a WebSocket-shaped transport
(L{MessageTransport}) and a WebSocket user over it (L{WebUser}).  Over real
sockets: L{WireClient}, L{SocketUser}, L{twistd_server}.  And test certificates.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import itertools
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from chatsvc.events import Event
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.participant import RecordBacked
from chatsvc.hub.settings import Settings
from chatsvc.protocols.irc.protocol import IRCChatProtocol
from chatsvc.protocols.line.protocol import LineChatProtocol
from chatsvc.protocols.web.protocol import WebChatProtocol
from chatsvc.testing import ChatHarness

_ports = itertools.count(40000)


def peer_address(host: str, port: int | None = None) -> IPv4Address | IPv6Address:
    """The client's address as a listener on C{host}'s family reports it."""
    port = next(_ports) if port is None else port
    return IPv6Address("TCP", host, port) if ":" in host else IPv4Address("TCP", host, port)


class Wire:
    """One client connection to a hub listener over an in-memory transport.

    The one way these tests fake a connection, whatever the protocol: the
    server's protocol is built by the listener (or given, for a subclass
    under test) and connected to a L{StringTransport}; L{send} feeds it
    bytes as the client would and L{read} takes what it wrote.  Nothing is
    pumped or scheduled, so a test sees the server's answer the moment the
    call returns.  L{LineUser} and L{IRCUser} differ in their framing (and
    L{IRCUser.ask}); their hubs come from L{make_hub} or L{Net}, and
    L{chatsvc.testing.ChatHarness} is the same thing over a byte pump, for
    tests that drive a real client.

    @ivar newline: what the client ends every line it sends with.
    """

    newline = b"\n"

    def __init__(self, hub: ChatFactory, listener: ServerFactory | None = None,
                 host: str = "127.0.0.1", *, port: int | None = None,
                 protocol: Protocol | None = None) -> None:
        self.hub = hub
        self.transport = StringTransport(peerAddress=peer_address(host, port))
        if protocol is None:
            built = (listener or hub).buildProtocol(self.transport.getPeer())
            assert built is not None
            protocol = built
        self.protocol: Any = protocol
        self.protocol.makeConnection(self.transport)
        self.dropped = False

    def send(self, *lines: str | bytes) -> None:
        """Send each line with the client's newline."""
        for line in lines:
            data = line if isinstance(line, bytes) else line.encode("utf-8")
            self.protocol.dataReceived(data + self.newline)

    def read(self) -> list[str]:
        """The lines received since the last read (each one complete)."""
        data = self.transport.value()
        self.transport.clear()
        if not data:
            return []
        assert data.endswith(b"\r\n"), data
        return data.decode("utf-8").split("\r\n")[:-1]

    def lines(self) -> list[str]:
        """Like L{read}, but blank lines left out and a partial last line kept."""
        data = self.transport.value().decode()
        self.transport.clear()
        return [line for line in data.split("\r\n") if line]

    def drop(self, reason: Exception | None = None) -> None:
        """The client's side of the connection goes away (once; again is a no-op)."""
        if not self.dropped:
            self.dropped = True
            self.protocol.connectionLost(Failure(reason or ConnectionDone()))

    @property
    def closed(self) -> bool:
        """Whether the server has started closing the connection."""
        return bool(self.transport.disconnecting)


class LineUser(Wire):
    """A line-protocol connection (nc: lines end in LF) to C{hub} itself."""

    def __init__(self, hub: ChatFactory, host: str = "127.0.0.1", *, port: int | None = None,
                 protocol: LineChatProtocol | None = None) -> None:
        super().__init__(hub, hub, host, port=port, protocol=protocol)
        self.protocol: LineChatProtocol


class IRCUser(Wire):
    """An IRC connection (CRLF lines) to C{net}'s IRC listener."""

    newline = b"\r\n"

    def __init__(self, net: Net, host: str = "192.0.2.1", *, port: int | None = None) -> None:
        super().__init__(net.hub, net.listeners["irc"], host, port=port)
        self.protocol: IRCChatProtocol

    def ask(self, *lines: str | bytes) -> list[str]:
        """Send lines and return what came back."""
        self.read()
        self.send(*lines)
        return self.read()


def line_user(hub: ChatFactory, name: str | None = None, host: str = "127.0.0.1",
              **kwargs: Any) -> LineUser:
    """A line user; registered as C{name} (its own inbox emptied) when given."""
    user = LineUser(hub, host, **kwargs)
    if name is not None:
        user.send(f"#{name}")
        user.read()
    return user


class Net(ChatHarness):
    """The public harness's hub and listeners, on a clock at a realistic time.

    Many users from one address, sending as fast as a test can: no
    per-address cap or connection rate and no flood control unless a test
    asks for them.  L{irc_user} and L{line_user} connect a L{Wire};
    the harness's own scripted clients (C{irc_client}, C{join}) reach the
    same hub.
    """

    def __init__(self, **settings: Any) -> None:
        clock = Clock()
        clock.advance(1_700_000_000)
        settings = {"max_per_ip": 0, "connect_rate": 0, "flood_rate": 0, "register_timeout": 0,
                    **settings}
        super().__init__(Settings(**settings), clock=clock)

    def irc_user(self, nick: str | None = None, host: str = "192.0.2.1",
                 channels: str = "#chat", *, port: int | None = None) -> IRCUser:
        """An IRC user; registered as C{nick} and in C{channels} when given."""
        user = IRCUser(self, host, port=port)
        if nick is not None:
            user.send(f"NICK {nick}", f"USER {nick} 0 * :{nick.title()} Example")
            replies = user.read()
            assert any(r.startswith(f":chatsvc 001 {nick} ") for r in replies), replies
            if channels:
                user.send(f"JOIN {channels}")
                user.read()
        return user

    def web_user(self, name: str | None = None, host: str = "203.0.113.9",
                 **kwargs: Any) -> WebUser:
        """A WebSocket user; registered as C{name} (its inbox emptied) when given."""
        user = WebUser(self.hub, host, **kwargs)
        if name is not None:
            answers = user.ask(type="register", name=name)
            assert any(m["type"] == "registered" and m["name"] == name for m in answers), answers
            user.read()
        return user

    def line_user(self, name: str | None = None, host: str = "198.51.100.7",
                  **kwargs: Any) -> LineUser:
        return line_user(self.hub, name, host, **kwargs)


def params_of(line: str) -> list[str]:
    """A server line's parameters, the trailing one included (as irctest parses)."""
    head, colon, trailing = line.partition(" :")
    words = head.split(" ")[2:]
    return [*words, trailing] if colon else words


def numerics(lines: list[str]) -> list[str]:
    """The numeric (or command) of each server line."""
    return [line.split(" ")[1] if line.startswith(":") else line.split(" ")[0] for line in lines]


def who(hub: ChatFactory) -> tuple[str, list[str]]:
    """The default room's name and its members' names, sorted ignoring case."""
    return hub.default_room.name, hub.default_room.names()


def make_hub(**overrides: object) -> ChatFactory:
    """A hub on a fake clock (C{hub.clock.advance}), so no timer outlives a test."""
    return ChatFactory(Settings(**overrides), clock=Clock())


def registered(hub: ChatFactory, *names: str) -> list[LineUser]:
    """Users registered under C{names}, with their inboxes emptied."""
    users = []
    for name in names:
        user = LineUser(hub)
        user.send(f"#{name}")
        users.append(user)
    for user in users:
        user.read()
    return users


class Recorder(RecordBacked):
    """A bare participant that records what the hub delivers to it.

    Attach it as a connection from C{address}: C{hub.attach(r, r.address)}
    (the hub then gives it its record, and so its C{name} and C{host}).
    """

    protocol_name = "test"
    capabilities: frozenset[str] = frozenset()

    def __init__(self, host: str = "test") -> None:
        self.address = host
        self.events: list[Event] = []
        self.closed_for: str | None = None

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def disconnect(self, reason: str) -> None:
        self.closed_for = reason


_UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: chat.example:8080\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\n")


class _Recording:
    """The C{/ws} resource's factory, keeping the protocols it builds."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.built: list[WebChatProtocol] = []

    def buildProtocol(self, request: Any) -> WebChatProtocol:
        protocol = self.factory.buildProtocol(request)
        self.built.append(protocol)
        return protocol


_sites: WeakKeyDictionary[ChatFactory, tuple[Any, _Recording]] = WeakKeyDictionary()


def web_site_of(hub: ChatFactory) -> tuple[Any, _Recording]:
    """One web site per hub (with the recording factory of its C{/ws})."""
    if hub not in _sites:
        from chatsvc.protocols.web.site import web_site

        site = web_site(hub)
        socket_resource = site.resource.children[b"ws"]
        recording = _Recording(socket_resource.factory)
        socket_resource.factory = recording
        _sites[hub] = (site, recording)
    return _sites[hub]


class WebUser:
    """A WebSocket client of the web adapter, in memory: JSON objects in and out.

    Through the real thing: an HTTP upgrade into the web site's channel on
    a L{StringTransport} (C{under}), Twisted's WebSocket layer and the
    adapter's sink; the client frames what it sends and reads what comes
    back with wsproto, as a browser would.  C{headers} are added to the
    upgrade request (C{X-Forwarded-For}...).
    """

    def __init__(self, hub: ChatFactory, host: str = "203.0.113.9", *,
                 port: int | None = None, headers: dict[str, str] | None = None) -> None:
        from wsproto.connection import Connection, ConnectionType

        self.under = StringTransport(peerAddress=peer_address(host, port))
        site, recording = web_site_of(hub)
        self.channel = site.buildProtocol(self.under.getPeer())
        self.channel.makeConnection(self.under)
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.channel.dataReceived(_UPGRADE + extra.encode() + b"\r\n")
        head, _, rest = self.under.value().partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        self.under.clear()
        self.protocol: WebChatProtocol = recording.built[-1]
        self.client = Connection(ConnectionType.CLIENT)
        #: Every text message received, whole; the pings; the close codes.
        self.messages: list[str] = []
        self.pings: list[bytes] = []
        self.close_codes: list[int] = []
        self._take(rest)
        self._seen = 0

    def _take(self, data: bytes) -> None:
        from wsproto.events import CloseConnection, Ping, TextMessage

        self.client.receive_data(data)
        for event in self.client.events():
            if isinstance(event, TextMessage):
                assert event.message_finished
                self.messages.append(event.data)
            elif isinstance(event, Ping):
                self.pings.append(event.payload)
            elif isinstance(event, CloseConnection):
                self.close_codes.append(event.code)
            else:
                raise AssertionError(f"unexpected from the server: {event!r}")

    def receive(self) -> None:
        """Read what the server wrote since the last time."""
        data = self.under.value()
        self.under.clear()
        if data:
            self._take(data)

    def send_raw(self, event: Any) -> None:
        """Send one wsproto event (a message, a pong, a close) as the client would."""
        self.channel.dataReceived(self.client.send(event))

    def send(self, **body: Any) -> None:
        """Send one JSON object as a text message."""
        from wsproto.events import TextMessage

        self.send_raw(TextMessage(json.dumps(body)))

    def read(self) -> list[dict[str, Any]]:
        """The objects received since the last read."""
        self.receive()
        new = self.messages[self._seen:]
        self._seen = len(self.messages)
        return [json.loads(message) for message in new]

    def ask(self, **body: Any) -> list[dict[str, Any]]:
        """Send one object and return what came back."""
        self.read()
        self.send(**body)
        return self.read()

    def drop(self) -> None:
        self.channel.connectionLost(Failure(ConnectionDone()))

    @property
    def closed(self) -> bool:
        return bool(self.under.disconnecting or self.under.disconnected)


class MessageTransport:
    """An in-memory message transport: the shape of Twisted's WebSocketTransport.

    Each message is recorded whole in C{messages} and its bytes go to an
    underlying L{StringTransport}, and the producer is registered on that
    transport, as Twisted's WebSocket transport does on its TCP connection: so
    the backlog policy meets the same pause and resume calls as over a stream.
    """

    def __init__(self, under: StringTransport | None = None) -> None:
        self.under = StringTransport() if under is None else under
        self.messages: list[str | bytes] = []
        #: The WebSocket close code given to L{loseConnection}, once closed.
        self.close_code: int | None = None

    def sendTextMessage(self, text: str) -> None:
        self.messages.append(text)
        self.under.write(text.encode())

    def sendBytesMessage(self, data: bytes) -> None:
        self.messages.append(data)
        self.under.write(data)

    def loseConnection(self, code: int = 1000) -> None:
        self.close_code = code
        self.under.loseConnection()

    def attachProducer(self, producer: IPushProducer) -> None:
        self.under.registerProducer(producer, True)

    def detachProducer(self) -> None:
        self.under.unregisterProducer()


@dataclass
class CertFiles:
    ca: Path
    cert: Path
    key: Path
    combined: Path


def make_certificates(directory: Path, hostname: str = "localhost") -> CertFiles:
    """A test CA and a server certificate for C{hostname} and 127.0.0.1.

    C{cert} holds the chain (leaf then CA) without the key; C{combined} holds
    key, leaf and CA in one PEM, the form --tls-cert accepts alone.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def build(subject: str, issuer: x509.Name, public_key, signer, *extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build(
        "chatsvc test CA", name("chatsvc test CA"), ca_key.public_key(), ca_key,
        (x509.BasicConstraints(ca=True, path_length=None), True),
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    leaf = build(hostname, ca.subject, key.public_key(), ca_key, (san, False))

    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    files = CertFiles(ca=directory / "ca.pem", cert=directory / "cert.pem",
                      key=directory / "key.pem", combined=directory / "server.pem")
    files.ca.write_bytes(ca.public_bytes(pem))
    files.cert.write_bytes(chain)
    files.key.write_bytes(key_pem)
    files.combined.write_bytes(key_pem + chain)
    return files


class WireClient:
    """A line-protocol client over a real socket, for loopback tests.

    Lines arrive in a DeferredQueue; L{expect} waits (bounded) for the next
    one, so a test reads the conversation in order.
    """

    def __init__(self) -> None:
        from twisted.internet.defer import Deferred, DeferredQueue

        self.lines: DeferredQueue[str] = DeferredQueue()
        self.closed: Deferred[None] = Deferred()
        self.reason: Failure | None = None  # why the connection closed
        self.protocol = None

    def factory(self):
        from twisted.internet.protocol import Factory
        from twisted.protocols.basic import LineOnlyReceiver

        client = self

        class _Protocol(LineOnlyReceiver):
            delimiter = b"\r\n"
            MAX_LENGTH = 1 << 20

            def lineReceived(self, line: bytes) -> None:
                client.lines.put(line.decode("utf-8"))

            def connectionLost(self, reason=None) -> None:
                client.reason = reason
                client.closed.callback(None)

        return Factory.forProtocol(_Protocol)

    async def connect(self, endpoint) -> WireClient:
        self.protocol = await endpoint.connect(self.factory())
        return self

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8") + b"\n"
        self.protocol.transport.write(data)

    async def expect(self, timeout: float = 5.0) -> str:
        from twisted.internet import reactor

        return await self.lines.get().addTimeout(timeout, reactor)

    async def register(self, name: str) -> WireClient:
        await self.expect()  # welcome
        self.send(f"#{name}")
        assert await self.expect() == f"* you are {name}"
        # The MOTD and the topic, if any, then where we are and with whom.
        while not (await self.expect()).startswith("* you are in "):
            pass
        return self


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Stop a process a test started: SIGTERM, then SIGKILL if it lingers.

    C{communicate} rather than C{wait}, so a process writing to a pipe
    cannot block on a full pipe while we wait for it.
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=timeout)


#: Seconds a test waits for a real process: generous for a loaded 2-core CI
#: machine, never reached when things work.
WAIT = 20.0


def wait_for(what: str, probe: Callable[[], object], timeout: float = WAIT) -> Any:
    """Poll C{probe} until it returns something true; fail after C{timeout} s."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def twistd_server(directory: Path, *options: str,
                  listener: str = "line protocol") -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A real C{twistd chat} on 127.0.0.1, logging to C{directory}; stopped on exit.

    Yields the port of the listener the start-up log names C{listener} (a
    regular expression: C{line protocol on 127.0.0.1:N}), and the process.
    """
    log = directory / "server.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "twistd"), "-n", "--pidfile=", f"--logfile={log}",
         "chat", "--port", "tcp:0:interface=127.0.0.1", *options],
        cwd=directory, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        def port() -> int | None:
            found = log.exists() and re.search(rf"\] {listener} on \S+:(\d+)$", log.read_text(),
                                               re.MULTILINE)
            if process.poll() is not None:
                raise AssertionError(f"server exited: {log.read_text() if log.exists() else ''}")
            return int(found.group(1)) if found else None

        yield wait_for("the server to listen", port), process
    finally:
        stop_process(process)


class SocketUser:
    """A line user on a plain blocking socket, the way netcat talks (bounded waits)."""

    def __init__(self, port: int, name: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buffer = b""
        if name is not None:
            self.send(f"#{name}")
            self.expect(f"* you are {name}")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def expect(self, wanted: str, timeout: float = WAIT) -> None:
        """Read lines until one is C{wanted}; fail if it does not come in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                if line.decode().rstrip("\r") == wanted:
                    return
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                break
            if not data:
                break
            self.buffer += data
        raise AssertionError(f"never received {wanted!r}")

    def close(self) -> None:
        self.sock.close()
