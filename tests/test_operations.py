"""Real twistd processes run as systemd would: config file, readiness,
certificate rotation on SIGHUP, goodbye and exit 0 on SIGTERM, and socket
activation with inherited listening sockets.

Every wait is bounded and every process started is killed at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from support import CertFiles, make_certificates
from test_units import ETC, UNIT_CONFIG, UNIT_TWISTD, exec_start

pytestmark = pytest.mark.integration

TWISTD = str(Path(sys.executable).with_name("twistd"))
TIMEOUT = 20.0


# -- systemd's side: the notify socket -------------------------------------------------


class NotifySocket:
    """What systemd listens on for sd_notify, in the abstract namespace."""

    def __init__(self) -> None:
        self.address = f"@chatsvc-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.address[1:])
        self.received: list[str] = []

    def wait_for(self, assignment: str, timeout: float = TIMEOUT) -> list[str]:
        """Read datagrams until one contains C{assignment}; return all seen."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {assignment} within {timeout}s: {self.received}")
            self.sock.settimeout(remaining)
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.received.append(message)
            if assignment in message.split("\n"):
                return self.received

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify():
    notify = NotifySocket()
    yield notify
    notify.close()


# -- the server process ----------------------------------------------------------------


class Server:
    def __init__(self, argv: list[str], cwd: Path, notify: NotifySocket,
                 pass_fds: tuple[int, ...] = ()) -> None:
        self.log_path = cwd / "twistd.log"
        env = dict(os.environ, NOTIFY_SOCKET=notify.address)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, pass_fds=pass_fds,
            )

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def reload(self, notify: NotifySocket) -> None:
        """C{systemctl reload}: SIGHUP, then wait for the reload to be reported done."""
        self.signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1")
        notify.wait_for("READY=1")

    def wait(self, timeout: float = TIMEOUT) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)


@pytest.fixture
def servers():
    started: list[Server] = []
    yield started
    for server in started:
        server.kill()


def twistd(*args: str) -> list[str]:
    return [TWISTD, "-n", "--pidfile=", "chat", *args]


def unit_command(unit: Path, config: Path) -> list[str]:
    """The unit's ExecStart= command, run from this venv with the test's config."""
    command = exec_start(unit)
    assert command[0] == UNIT_TWISTD and UNIT_CONFIG in command
    return [TWISTD if word == UNIT_TWISTD else str(config) if word == UNIT_CONFIG else word
            for word in command]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- clients ---------------------------------------------------------------------------


class Client:
    """A blocking line client with a timeout on every read."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(TIMEOUT)
        self.sock = sock
        self.file = sock.makefile("rb")

    @classmethod
    def plain(cls, port: int, host: str = "127.0.0.1") -> Client:
        return cls(socket.create_connection((host, port), timeout=TIMEOUT))

    @classmethod
    def tls(cls, port: int, trusted: CertFiles, host: str = "127.0.0.1") -> Client:
        """A TLS client that trusts only C{trusted}'s CA (each test CA has the same name)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        context.load_verify_locations(cafile=str(trusted.ca))
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        return cls(context.wrap_socket(raw, server_hostname="localhost"))

    @property
    def certificate(self) -> bytes:
        """The DER of the certificate the server presented."""
        return self.sock.getpeercert(binary_form=True)

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def line(self) -> str | None:
        data = self.file.readline()
        return data.decode().rstrip("\r\n") if data else None

    def expect(self, wanted: str) -> list[str]:
        """Read up to and including the line C{wanted}."""
        return self._until(lambda line: line == wanted, wanted)

    def expect_prefix(self, prefix: str) -> list[str]:
        """Read up to and including a line starting with C{prefix}."""
        return self._until(lambda line: line.startswith(prefix), prefix)

    def _until(self, done, what: str) -> list[str]:
        seen = []
        while True:
            line = self.line()
            if line is None:
                raise AssertionError(f"closed before {what!r}; got {seen}")
            seen.append(line)
            if done(line):
                return seen

    def register(self, name: str) -> list[str]:
        self.expect("* welcome to test! register with #yourname; /help lists commands")
        self.send(f"#{name}")
        lines = self.expect(f"* you are {name}")
        self.send("/who")
        return lines + self.expect_prefix("* in #")

    def rest(self) -> list[str]:
        """Every line until the server closes the connection."""
        lines = []
        while (line := self.line()) is not None:
            lines.append(line)
        return lines

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def leaf_der(certs: CertFiles) -> bytes:
    """The first certificate of the chain file: the server's own."""
    chain = certs.cert.read_text()
    end = "-----END CERTIFICATE-----"
    return ssl.PEM_cert_to_DER_cert(chain[: chain.index(end) + len(end)])


def install(source: CertFiles, cert: Path, key: Path) -> None:
    """Replace the live files atomically, as certbot's deploy hook would."""
    for src, dst in ((source.cert, cert), (source.key, key)):
        temporary = dst.with_suffix(".new")
        temporary.write_bytes(src.read_bytes())
        os.replace(temporary, dst)


# -- tests -----------------------------------------------------------------------------


def test_config_reload_rotates_the_certificate_and_sigterm_says_goodbye(
        tmp_path, notify, servers):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = make_certificates(tmp_path / "a"), make_certificates(tmp_path / "b")
    cert, key, motd = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "motd.txt"
    install(first, cert, key)
    motd.write_text("before the reload\n")
    plain_port, tls_port = free_port(), free_port()
    config = tmp_path / "chat.toml"
    config.write_text(
        f'port = "tcp:{plain_port}:interface=127.0.0.1"\n'
        f'tls-port = "tcp:{tls_port}:interface=127.0.0.1"\n'
        f'tls-cert = "{cert}"\ntls-key = "{key}"\nmotd = "{motd}"\nname = "test"\n'
    )
    server = Server(unit_command(ETC / "chatsvc.service", config), tmp_path, notify)
    servers.append(server)
    notify.wait_for("READY=1")

    alice = Client.plain(plain_port)
    assert "* before the reload" in alice.register("alice")
    bob = Client.tls(tls_port, first)
    assert bob.certificate == leaf_der(first)
    bob.register("bob")
    alice.expect("* bob joined")

    # Rotate: new certificate and MOTD on disk, then `systemctl reload`.
    install(second, cert, key)
    motd.write_text("after the reload\n")
    server.reload(notify)
    carol = Client.tls(tls_port, second)
    assert carol.certificate == leaf_der(second)
    assert "* after the reload" in carol.register("carol")

    # Nobody was dropped: the old TLS connection still talks both ways.
    alice.send("hello everyone")
    bob.expect("<alice> hello everyone")
    bob.send("still here on the old certificate")
    alice.expect("<bob> still here on the old certificate")
    carol.expect("<bob> still here on the old certificate")

    # A broken certificate is refused; the current one stays in service.
    cert.write_text("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")
    server.reload(notify)
    dave = Client.tls(tls_port, second)
    assert dave.certificate == leaf_der(second)
    assert "TLS certificate not reloaded, keeping the current one" in server.log

    # `systemctl stop`: everyone is told, connections close, exit status 0.
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    notify.wait_for("STOPPING=1")
    for client in (alice, bob, carol, dave):
        lines = client.rest()
        assert lines[-1:] == ["* server shutting down"], lines
        assert not [line for line in lines if " left (" in line]
        client.close()
    assert server.wait() == 0
    assert time.monotonic() - started < 10
    assert "still open" not in server.log
    assert "Traceback" not in server.log


LAUNCHER = """
import fcntl, os, sys
# Do what systemd does for a socket unit: the listening sockets become fds
# 3, 4, ... and LISTEN_PID names the process that exec()s the service.
fds, names, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
high = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 100) for fd in fds.split(",")]
for target, fd in enumerate(high, start=3):
    os.dup2(fd, target)
    os.close(fd)
os.environ.update(LISTEN_FDS=str(len(high)), LISTEN_PID=str(os.getpid()),
                  LISTEN_FDNAMES=names)
os.execv(argv[0], argv)
"""


def listening_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    sock.listen(16)
    return sock


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


SOCKET_ACTIVATION = [
    # (family, how the listeners are named, the command): the drop-in's own
    # ExecStart (INET6, by name), and the INET / by-index spelling.
    pytest.param(socket.AF_INET6, "unit", marks=pytest.mark.skipif(
        not ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine"), id="unit-INET6"),
    pytest.param(socket.AF_INET, "index", id="INET-index"),
]


@pytest.mark.parametrize(("family", "spelling"), SOCKET_ACTIVATION)
def test_socket_activation_with_tls_on_an_inherited_socket(
        tmp_path, notify, servers, certs, family, spelling):
    plain, tls = listening_socket(family), listening_socket(family)
    config = tmp_path / "chat.toml"
    config.write_text(f'tls-cert = "{certs.cert}"\ntls-key = "{certs.key}"\nname = "test"\n')
    if spelling == "unit":
        command = unit_command(ETC / "chatsvc.service.d" / "socket-activation.conf", config)
    else:
        command = twistd("--config", str(config), "--port", "systemd:domain=INET:index=0",
                         "--tls-port", "systemd:domain=INET:index=1")
    try:
        argv = [sys.executable, "-c", LAUNCHER, f"{plain.fileno()},{tls.fileno()}",
                "chat-plain:chat-tls", *command]
        server = Server(argv, tmp_path, notify, pass_fds=(plain.fileno(), tls.fileno()))
        servers.append(server)
        notify.wait_for("READY=1")
        host = plain.getsockname()[0]
        alice = Client.plain(plain.getsockname()[1], host)
        alice.register("alice")
        bob = Client.tls(tls.getsockname()[1], certs, host)
        assert bob.certificate == leaf_der(certs)
        bob.register("bob")
        alice.expect("* bob joined")
        bob.send("@alice:over TLS on an adopted socket")
        alice.expect("*bob* over TLS on an adopted socket")
        alice.send("plain back")
        bob.expect("<alice> plain back")
        server.signal(signal.SIGTERM)
        for client in (alice, bob):
            assert client.rest()[-1:] == ["* server shutting down"]
            client.close()
        assert server.wait() == 0
        assert "still open" not in server.log
    finally:
        plain.close()
        tls.close()


def test_a_missing_systemd_socket_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
    done = subprocess.run(
        twistd("--port", "systemd:domain=INET:name=chat-plain"), cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "twistd chat: --port 'systemd:domain=INET:name=chat-plain': no socket 'chat-plain' "
        "was passed by systemd (LISTEN_FDS, LISTEN_FDNAMES) (see: twistd chat --help)"
    )
