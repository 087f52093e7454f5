"""irssi and weechat log in with SASL EXTERNAL, with a client certificate.

A ``twistd chat`` process listens for IRC over TLS with accounts; the test
makes a self-signed client certificate, registers an account over a Python
TLS socket showing it and adds it with NickServ's ``CERT ADD``; then irssi
(in tmux) and weechat (headless) connect with that certificate and SASL
EXTERNAL, and their screens show the login (900).  The harness (tmux,
weechat's FIFO, the bounded waits) is tests/test_irc_clients.py's.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import CertFiles, make_certificates, stop_process
from test_accounts_cert_tls import client_certificate
from test_irc_clients import TIMEOUT, Tmux, WeeChat, free_port, wait_for

pytestmark = pytest.mark.integration

ACCOUNT = "certuser"


class Server:
    def __init__(self, port: int, certs: CertFiles, log: Path) -> None:
        self.port, self.certs, self.log = port, certs, log


class CommandedWeeChat(WeeChat):
    """test_irc_clients's weechat-headless, started with C{commands} of our own."""

    def __init__(self, home: Path, commands: str) -> None:
        self.home = home
        self.logs = home / "logs"
        self.process = subprocess.Popen(
            ["weechat-headless", "--dir", str(home), "-r", commands],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.fifo = Path(wait_for(self._find_fifo, "weechat's FIFO"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``twistd chat`` with IRC over TLS and accounts, on loopback."""
    directory = tmp_path_factory.mktemp("twistd")
    certs = make_certificates(directory)
    port = free_port()
    twistd = Path(sys.executable).with_name("twistd")
    log = directory / "twistd.log"
    process = subprocess.Popen(
        [str(twistd), "-n", "--pidfile=", f"--logfile={log}", "chat", "--port", "none",
         "--irc-tls-port", f"tcp:{port}:interface=127.0.0.1", "--tls-cert", str(certs.cert),
         "--tls-key", str(certs.key), "--data-dir", str(directory / "data"),
         "--name", "testnet"],
        cwd=directory, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return process.poll() is not None

    try:
        wait_for(listening, "twistd chat to listen")
        assert process.poll() is None, log.read_text()
        yield Server(port, certs, log)
    finally:
        stop_process(process)


def register_with_certificate(server: Server, cert: Path, key: Path, nick: str) -> None:
    """Register C{nick} as an account over TLS showing C{cert}, and CERT ADD it."""
    context = ssl.create_default_context(cafile=str(server.certs.ca))
    context.load_cert_chain(str(cert), str(key))
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    with context.wrap_socket(raw, server_hostname="localhost") as sock:
        data = b""

        def until(needle: bytes) -> None:
            nonlocal data
            while needle not in data:
                chunk = sock.recv(65536)
                assert chunk, data.decode("utf-8", "replace")
                data += chunk

        sock.sendall(f"NICK {nick}\r\nUSER u 0 * :U\r\n"
                     "PRIVMSG NickServ :REGISTER sesame-1234\r\n".encode())
        until(b" 900 ")  # the password hashed: logged in
        sock.sendall(b"PRIVMSG NickServ :CERT ADD\r\n")
        until(b"added to your account")
        sock.sendall(b"QUIT\r\n")


@pytest.fixture
def certificate(tls_server: Server, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A client certificate (key and certificate in one PEM, as both clients
    take it) added to a new account named after the test."""
    cert, key, _ = client_certificate(tmp_path)
    combined = tmp_path / "client-combined.pem"
    combined.write_bytes(key.read_bytes() + cert.read_bytes())
    register_with_certificate(tls_server, cert, key, request.param)
    return combined


@pytest.mark.skipif(shutil.which("irssi") is None or shutil.which("tmux") is None,
                    reason="irssi and tmux are not installed (.ci/run installs them)")
@pytest.mark.parametrize("certificate", ["irssiext"], indirect=True)
def test_irssi_logs_in_with_sasl_external(tls_server: Server, certificate: Path,
                                          tmp_path: Path) -> None:
    home = tmp_path / "irssi"
    home.mkdir()
    (home / "config").write_text(f"""
servers = ({{
  address = "127.0.0.1"; chatnet = "certnet"; port = "{tls_server.port}";
  use_tls = "yes"; tls_verify = "no"; tls_cert = "{certificate}"; autoconnect = "yes";
}});
chatnets = {{ certnet = {{ type = "IRC"; sasl_mechanism = "EXTERNAL"; }}; }};
settings = {{
  core = {{ nick = "someone"; }};
  "irc/core" = {{ cmd_queue_speed = "10msec"; cmds_max_at_once = "20"; }};
}};
""")
    env = {**os.environ, "TERM": "screen", "HOME": str(tmp_path)}
    irssi = Tmux(["irssi", f"--home={home}"], env)
    try:
        wait_for(lambda: irssi.shows("You are now logged in as irssiext"),
                 "irssi to show the SASL EXTERNAL login (900)")
        wait_for(lambda: irssi.shows("Welcome to the testnet IRC network"), "irssi to register")
        irssi.keys("/whois someone")
        wait_for(lambda: irssi.shows("has client certificate fingerprint"),
                 "irssi's WHOIS to show its own fingerprint (276)")
    except AssertionError:
        print(irssi.screen())
        raise
    finally:
        irssi.kill()


@pytest.mark.skipif(shutil.which("weechat-headless") is None,
                    reason="weechat-headless is not installed (.ci/run installs it)")
@pytest.mark.parametrize("certificate", ["weeext"], indirect=True)
def test_weechat_logs_in_with_sasl_external(tls_server: Server, certificate: Path,
                                            tmp_path: Path) -> None:
    home = tmp_path / "weechat"
    weechat = CommandedWeeChat(home, (
        "/set logger.file.flush_delay 0;/set logger.level.irc 9;"
        # weechat 4 names the options tls*, weechat 3 ssl*: give both (one is ignored)
        f"/server add certnet 127.0.0.1/{tls_server.port} -nicks=weeone -username=weeone "
        f"-tls -tls_verify=off -tls_cert={certificate} -ssl -ssl_verify=off "
        f"-ssl_cert={certificate} -sasl_mechanism=external;"
        "/connect certnet"))
    server = "irc.server.certnet"
    try:
        wait_for(lambda: "You are now logged in as weeext" in weechat.log(server),
                 "weechat to show the SASL EXTERNAL login (900)")
        wait_for(lambda: "Welcome to the testnet IRC network" in weechat.log(server),
                 "weechat to register")
    except AssertionError:
        print(weechat.log(server))
        raise
    finally:
        weechat.stop()
