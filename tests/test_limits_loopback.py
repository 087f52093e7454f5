"""The limits over real sockets on 127.0.0.1, plain and TLS.

Each test checks both the offender's fate and that a well-behaved client in
the same room kept receiving everything, in order, while it happened.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_twisted
from support import WireClient, stop_process
from twisted.internet import defer, endpoints, reactor, ssl
from twisted.internet.task import deferLater

from chatsvc.service.tap import Options, makeService

pytestmark = pytest.mark.integration


async def start(*argv: str, certs=None):
    """A running service on loopback; returns (root service, hub, {kind: port})."""
    args = ["--port", "tcp:0:interface=127.0.0.1", "--irc-port", "tcp:0:interface=127.0.0.1",
            *argv]
    if certs is not None:
        args += ["--tls-port", "tcp:0:interface=127.0.0.1",
                 "--tls-cert", str(certs.cert), "--tls-key", str(certs.key)]
    options = Options()
    options.parseOptions(args)
    root = makeService(options)
    root.startService()
    kinds = {"--port": "plain", "--tls-port": "tls", "--irc-port": "irc"}
    ports = {}
    for listener in root:
        if getattr(listener, "option", None) in kinds:
            ports[kinds[listener.option]] = (await listener.whenListening()).getHost().port
    return root, root.hub, ports


@pytest.fixture
def service(request, certs):
    """start() with the test's arguments; stopped afterwards."""
    started = []

    async def run(*argv: str):
        started.append(await start(*argv, certs=certs))
        return started[-1]

    yield run
    for root, _, _ in started:
        pytest_twisted.blockon(root.stopService())


def endpoint(ports, kind, certs):
    plain = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", ports[kind], timeout=5)
    if kind != "tls":
        return plain
    trust = ssl.Certificate.loadPEM(certs.ca.read_bytes())
    return endpoints.wrapClientTLS(ssl.optionsForClientTLS("localhost", trustRoot=trust), plain)


async def user(ports, name, kind="plain", certs=None) -> WireClient:
    client = await WireClient().connect(endpoint(ports, kind, certs))
    if kind != "irc":
        return await client.register(name)
    client.send(f"NICK {name}\r\nUSER {name} 0 * :{name}\r\nJOIN #chat")
    while " 366 " not in await client.expect():   # end of the channel's names
        pass
    return client


async def expect_lines(client: WireClient, count: int, timeout: float = 10) -> list[str]:
    return [await client.expect(timeout) for _ in range(count)]


def sleep(seconds: float):
    return deferLater(reactor, seconds, lambda: None)


@pytest.mark.parametrize("kind", ["plain", "tls", "irc"])
@pytest_twisted.ensureDeferred
async def test_slow_reader_is_dropped_and_the_others_lose_nothing(service, certs, kind):
    root, hub, ports = await service("--max-backlog", "65536", "--flood-rate", "0",
                                     "--max-per-ip", "0")
    readers = "plain" if kind == "irc" else kind   # the slow one speaks IRC
    alice = await user(ports, "alice", readers, certs)
    carol = await user(ports, "carol", readers, certs)
    slow = await user(ports, "slow", kind, certs)
    await expect_lines(alice, 2)
    await expect_lines(carol, 1)
    # The slow reader stops reading: its kernel buffers fill, then Twisted's,
    # then the server's send queue.
    slow.protocol.transport.pauseProducing()

    body = "x" * 1000
    sent = 0
    left = None
    # Up to 24 MiB of broadcast; the kernel buffers on loopback hold a few MiB.
    for _batch in range(120):
        for _ in range(200):
            alice.send(f"{sent:06d} {body}")
            sent += 1
        # The well-behaved reader gets every line of the batch, in order,
        # while the slow one sits on its backlog.
        for expected in range(sent - 200, sent):
            line = await carol.expect(10)
            if line == "* slow left (too slow)":
                left = line
                line = await carol.expect(10)
            assert line == f"<alice> {expected:06d} {body}"
        if left:
            break
    else:
        pytest.fail("the slow reader was never dropped")
    print(f"slow reader dropped after {sent} lines of 1 KB")
    assert "slow" not in hub.users
    assert await alice.expect() == "* slow left (too slow)"
    # Nothing left over for carol, and she still chats normally.
    alice.send("after")
    assert await carol.expect() == "<alice> after"
    slow.protocol.transport.resumeProducing()
    await slow.closed.addTimeout(10, reactor)
    for client in (alice, carol):
        client.protocol.transport.loseConnection()
        await client.closed


@pytest_twisted.ensureDeferred
async def test_flooder_is_disconnected_and_the_others_carry_on(service, certs):
    root, hub, ports = await service()          # the default flood limits
    alice = await user(ports, "alice")
    await sleep(0.6)                      # alice's registration token comes back
    carol = await user(ports, "carol", "tls", certs)
    await expect_lines(alice, 1)
    flooder = await user(ports, "flooder")
    await expect_lines(alice, 1)
    await expect_lines(carol, 1)

    flooder.send(b"".join(b"flood %d\n" % i for i in range(200)))
    replies = []
    while (line := await flooder.expect()) != "! flooding":
        replies.append(line)
    assert replies == []
    await flooder.closed.addTimeout(5, reactor)

    # Carol saw the burst the gate let through (and perhaps a line released
    # by a token that came back meanwhile), then the flooder leave.
    seen = []
    while (line := await carol.expect()) != "* flooder left (flooding)":
        seen.append(line)
    assert 9 <= len(seen) <= 11   # registering took one token of the 10
    assert seen == [f"<flooder> flood {i}" for i in range(len(seen))]

    # A person typing normally is never delayed: 10 lines at once pass at once.
    for i in range(10):
        alice.send(f"normal {i}")
    assert await expect_lines(carol, 10) == [f"<alice> normal {i}" for i in range(10)]
    assert await expect_lines(alice, len(seen) + 1) == seen + ["* flooder left (flooding)"]
    for client in (alice, carol):
        client.protocol.transport.loseConnection()
        await client.closed


@pytest_twisted.ensureDeferred
async def test_connection_storm(service, certs):
    root, hub, ports = await service("--max-per-ip", "4", "--register-timeout", "0.5",
                               "--flood-rate", "0")
    alice = await user(ports, "alice")
    carol = await user(ports, "carol", "tls", certs)
    await expect_lines(alice, 1)

    # Two registered users are two of loopback's four slots.  Fill the rest,
    # and the fifth is told why and closed.
    idle = [await WireClient().connect(endpoint(ports, "plain", certs)) for _ in range(2)]
    refused = await WireClient().connect(endpoint(ports, "plain", certs))
    assert await refused.expect() == "! too many connections from your address (limit 4)"
    await refused.closed.addTimeout(5, reactor)

    # The idle ones are closed when the registration deadline passes.
    for client in idle:
        assert (await client.expect()).startswith("* welcome")
        assert await client.expect(5) == "* registration timeout (0.5 s)"
        await client.closed.addTimeout(5, reactor)

    # A storm of connects and disconnects while alice and carol talk.
    storm = []
    for round_ in range(25):
        clients = [defer.ensureDeferred(WireClient().connect(endpoint(ports, "plain", certs)))
                   for _ in range(2)]
        for client in await defer.gatherResults(clients):
            storm.append(client)
            client.protocol.transport.abortConnection()
        alice.send(f"during storm {round_}")
    for round_ in range(25):
        assert await carol.expect() == f"<alice> during storm {round_}"
    for client in storm:
        await client.closed
    await sleep(0.1)
    assert len(hub.connections) == 2 and hub.hosts.count("127.0.0.1") == 2

    # Keepalive is on for the accepted sockets, plain and TLS alike.
    for participant in hub.connections:
        from chatsvc.conn.limits import socket_of

        sock = socket_of(participant.transport)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    for client in (alice, carol):
        client.protocol.transport.loseConnection()
        await client.closed


@pytest_twisted.ensureDeferred
async def test_loopback_can_be_exempt(service, certs):
    root, hub, ports = await service("--max-per-ip", "1", "--per-ip-exempt", "127.0.0.1")
    clients = [await user(ports, f"u{i}") for i in range(5)]
    assert len(hub.users) == 5
    for client in clients:
        client.protocol.transport.loseConnection()
        await client.closed


@pytest_twisted.ensureDeferred
async def test_connect_rate_on_real_sockets(service, certs):
    root, hub, ports = await service("--connect-rate", "2")   # then one per 300 s
    alice = await user(ports, "alice")
    irc = await WireClient().connect(endpoint(ports, "irc", certs))   # IRC counts too
    wait = "too many connections from your address: try again in 300 s"
    late = await WireClient().connect(endpoint(ports, "plain", certs))
    assert await late.expect() == f"! {wait}"
    await late.closed.addTimeout(5, reactor)
    late_irc = await WireClient().connect(endpoint(ports, "irc", certs))
    assert await late_irc.expect() == f"ERROR :Closing link: 127.0.0.1 ({wait})"
    await late_irc.closed.addTimeout(5, reactor)
    assert len(hub.connections) == 2
    for client in (alice, irc):
        client.protocol.transport.loseConnection()
        await client.closed


def _read_port(server: subprocess.Popen, deadline: float) -> int:
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        if "] line protocol on 127.0.0.1:" in line:
            return int(line.rsplit(":", 1)[1])
    raise AssertionError("server did not start")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _line_client(port: int, name: str | None = None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if name:
        sock.sendall(f"#{name}\n".encode())
    return sock


def _read_until(sock: socket.socket, wanted: bytes, timeout: float = 5) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while wanted not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to read CPU time")
def test_running_out_of_file_descriptors(tmp_path):
    """Under a low RLIMIT_NOFILE the server neither spins nor dies.

    Twisted keeps one descriptor in reserve and, on EMFILE, uses it to
    accept and close the waiting connections, so they fail fast instead of
    hanging; we check that holds for our server, in a subprocess.
    """
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    twistd = Path(sys.executable).with_name("twistd")
    server = subprocess.Popen(
        [str(twistd), "-n", "--pidfile=", "chat", "--port", "tcp:0:interface=127.0.0.1",
         "--max-per-ip", "0", "--connect-rate", "0", "--flood-rate", "0"],
        preexec_fn=low_limit, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=tmp_path,
    )
    extra: list[socket.socket] = []
    try:
        port = _read_port(server, time.monotonic() + 30)
        alice, bob = _line_client(port, "alice"), _line_client(port, "bob")
        _read_until(alice, b"* bob joined")
        _read_until(bob, b"* you are bob")
        for _ in range(80):  # far more than the 48 descriptors allowed
            extra.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.3)
        before = _cpu_seconds(server.pid)
        time.sleep(2)
        used = _cpu_seconds(server.pid) - before
        assert used < 1.0, f"server used {used:.2f} s of CPU in 2 s: spinning on EMFILE"

        # The connections beyond the limit were closed, not left hanging.
        closed = 0
        for sock in extra:
            sock.settimeout(5)
            try:
                data = sock.recv(65536)
                closed += data == b""
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                pass
        assert closed >= 80 - 48

        # The server still serves the users it has.
        alice.sendall(b"still here\n")
        assert b"<alice> still here" in _read_until(bob, b"still here")
        for sock in extra:
            sock.close()
        extra.clear()
        time.sleep(0.3)
        # And once descriptors are free again, new users get in.
        carol = _line_client(port, "carol")
        assert b"* you are carol" in _read_until(carol, b"you are carol")
        assert server.poll() is None
        for sock in (alice, bob, carol):
            sock.close()
    finally:
        for sock in extra:
            sock.close()
        stop_process(server)
