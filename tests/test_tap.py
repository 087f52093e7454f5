"""twistd chat: options, the service tree, and one-line configuration errors."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chatsvc.service.tap import (
    ListenerService,
    Options,
    StartupFailure,
    endpoint_string,
    makeService,
)

TWISTD = Path(sys.executable).with_name("twistd")


def parse(*args):
    options = Options()
    options.parseOptions(list(args))
    return options


def test_defaults():
    options = parse()
    settings = options["settings"]
    assert (settings.room, settings.max_line, settings.max_clients) == ("#chat", 4096, 10_000)
    assert settings.max_backlog == 1024 * 1024
    assert [option for option, _ in options["listeners"]] == ["--port"]


def test_oper_accounts_are_repeatable():
    options = parse("--oper", "admin:s3cret:with:colons", "--oper", "ops:pw")
    assert options["settings"].opers == {"admin": "s3cret:with:colons", "ops": "pw"}
    assert parse()["settings"].opers == {}


def test_oper_accounts_from_a_config_file(tmp_path):
    config = tmp_path / "chat.toml"
    config.write_text('oper = ["admin:pw", "ops:pw2"]\n')
    assert parse("--config", str(config))["settings"].opers == {"admin": "pw", "ops": "pw2"}


def test_help_describes_every_option_as_flowing_text():
    """Docstrings of opt_ methods are indented; --help must not show that."""
    options = Options()
    assert options.docs["oper"] and options.docs["per-ip-exempt"]
    assert not {name: doc for name, doc in options.docs.items() if doc and "  " in doc}
    assert "command (repeatable)" in " ".join(options.getUsage(width=80).split())


def test_bare_port_means_tcp():
    assert endpoint_string("12345") == "tcp:12345:backlog=1024"
    assert endpoint_string("tcp:1:interface=127.0.0.1") == (
        "tcp:1:interface=127.0.0.1:backlog=1024")


def test_service_has_one_listener_per_port_sharing_one_hub(certs):
    options = parse("--port", "tcp:0:interface=127.0.0.1", "--tls-port", "0",
                    "--tls-cert", str(certs.cert), "--tls-key", str(certs.key))
    root = makeService(options)
    listeners = list(root)
    assert [service.option for service in listeners] == ["--port", "--tls-port"]
    assert all(isinstance(service, ListenerService) for service in listeners)
    assert listeners[0].factory is listeners[1].factory is root.hub


def test_tls_with_combined_pem(certs):
    options = parse("--tls-port", "0", "--tls-cert", str(certs.combined))
    assert options["tls"].cert_path == str(certs.combined)


def test_full_ssl_endpoint_string_is_used_as_is(certs):
    options = parse("--tls-port", f"ssl:0:privateKey={certs.key}:certKey={certs.cert}")
    assert len(options["listeners"]) == 2


def pem_directory(certs, directory, *, root=False):
    """A directory for Twisted's tls: endpoint: the key and the leaf (and the root CA)."""
    directory.mkdir()
    chain = certs.cert.read_text()
    end = "-----END CERTIFICATE-----\n"
    leaf = chain[: chain.index(end) + len(end)]
    (directory / "server.pem").write_text(certs.key.read_text() + (chain if root else leaf))
    return directory


def test_full_tls_endpoint_string_names_a_directory_of_pems(certs, tmp_path):
    directory = pem_directory(certs, tmp_path / "pems")
    for spelling in (f"tls:{directory}:port=0", f"tls:path={directory}:port=0"):
        assert len(parse("--tls-port", spelling)["listeners"]) == 2


@pytest.mark.parametrize("option", ["--tls-port", "--irc-port"])
def test_tls_endpoint_with_a_root_certificate_is_refused_not_hung(certs, tmp_path, option):
    """Twisted 26.10's tls: endpoint loops forever following a self-signed
    certificate's issuer to itself: start-up would spin at 100% CPU."""
    directory = pem_directory(certs, tmp_path / "pems", root=True)
    with pytest.raises(StartupFailure) as caught:
        parse(option, f"tls:{directory}:port=0")
    assert str(caught.value.code) == (
        f"twistd chat: {option} 'tls:{directory}:port=0': {directory / 'server.pem'} holds a "
        "self-signed (root) certificate, which Twisted's tls: endpoint cannot use: "
        "leave the root out of the directory (see: twistd chat --help)")


def test_tls_endpoint_needs_a_certificate_with_its_key(certs, tmp_path):
    directory = tmp_path / "pems"
    directory.mkdir()
    (directory / "key.pem").write_text(certs.key.read_text())
    with pytest.raises(StartupFailure) as caught:
        parse("--tls-port", f"tls:{directory}:port=0")
    assert f"no certificate with its private key in {directory}" in str(caught.value.code)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "nonsense:1"], "--port 'nonsense:1': Unknown endpoint type"),
        # Quoted as written, not as completed with the default listen backlog.
        (["--port", "tcp:abc"], "--port 'tcp:abc': 'abc' is not a port number (0 to 65535)"),
        # Refused while parsing options, not when binding after start-up began.
        (["--port", "99999"], "--port '99999': '99999' is not a port number (0 to 65535)"),
        (["--irc-port", "tcp:port=70000:interface=127.0.0.1"],
         "--irc-port 'tcp:port=70000:interface=127.0.0.1': '70000' is not a port number"),
        (["--tls-port", "ssl:-1:privateKey=k.pem"], "--tls-port 'ssl:-1:privateKey=k.pem': "
         "'-1' is not a port number"),
        (["--max-line", "big"], "--max-line 'big': not a whole number"),
        (["--max-clients", "-1"], "--max-clients '-1': must be at least 0"),
        (["--max-line", "0"], "--max-line '0': must be at least 1"),
        (["--room", "lobby"], "--room 'lobby': a room name starts with '#'"),
        (["--tls-port", "0"], "--tls-port needs --tls-cert"),
        (["--tls-cert", "x.pem"], "--tls-cert/--tls-key need --tls-port"),
        (["--tls-port", "0", "--tls-cert", "/nonexistent.pem"],
         "--tls-cert /nonexistent.pem: no such file"),
        (["--motd", "/nonexistent/motd"], "--motd /nonexistent/motd: No such file"),
        (["--tls-port", "0", "--tls-cert", "/"], "--tls-cert /: a directory, not a PEM file"),
        (["--frobnicate"], "option --frobnicate not recognized"),
        (["--oper", "admin"], "--oper 'admin'...: expected NAME:PASSWORD"),
        (["--oper", "admin:"], "--oper 'admin'...: expected NAME:PASSWORD"),
        # Typed as "/oper NAME PASSWORD" or OPER NAME PASSWORD: a space could never match.
        (["--oper", "admin:two words"], "--oper 'admin'...: no spaces in the name or password"),
        (["--oper", "the admin:pw"], "--oper 'the admin'...: no spaces in the name or password"),
        # Twisted's tls: endpoint is tls:DIRECTORY[:port=N]; "tls:6697" would
        # listen on 443 with no certificate at all.
        (["--tls-port", "tls:6697"], "--tls-port 'tls:6697': '6697' is not a directory of "
         "PEM files (the form is tls:DIRECTORY:port=N)"),
        (["--irc-port", "tls:/nonexistent:port=6697"], "--irc-port 'tls:/nonexistent:port=6697': "
         "'/nonexistent' is not a directory"),
        # Python's own words (invalid literal for int(), list index out of
        # range, a parser's missing argument) become the operator's.
        (["--port", "tcp:1:backlog=abc"], "--port 'tcp:1:backlog=abc': "
         "backlog='abc' is not a whole number (see: twistd chat --help)"),
        (["--port", "unix:/tmp/chat.sock:mode=rw"], "--port 'unix:/tmp/chat.sock:mode=rw': "
         "mode='rw' is not an octal number (such as 660)"),
        (["--port", "systemd:domain=INET:index=abc"], "--port 'systemd:domain=INET:index=abc': "
         "index='abc' is not a whole number"),
        (["--port", "systemd:index=0"], "--port 'systemd:index=0': a systemd: endpoint needs "
         "domain=..."),
        (["--irc-port", "tcp6:6667:interface=::1"], "--irc-port 'tcp6:6667:interface=::1': "
         "more fields than it takes: write the colons of an IPv6 address as \\: "
         "(tcp6:6697:interface=\\:\\:1)"),
        (["--port", "ssl:1:privateKey=/nonexistent.pem"],
         "--port 'ssl:1:privateKey=/nonexistent.pem': /nonexistent.pem: No such file or directory"),
        (["--port", "none"], "--port is none and no other listener is set: give --tls-port, "
         "--irc-port or --irc-tls-port, or a --port"),
    ],
)
def test_bad_configuration_is_one_line(args, message):
    with pytest.raises(StartupFailure) as caught:
        parse(*args)
    text = str(caught.value.code)
    assert text.startswith("twistd chat: ") and message in text
    assert "\n" not in text
    assert not any(python in text for python in ("invalid literal", "out of range",
                                                 "positional argument", "[Errno"))


def test_a_systemd_socket_that_was_not_passed_says_so(monkeypatch):
    """Not "no socket list index out of range was passed by systemd"."""
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(StartupFailure) as caught:
        parse("--port", "systemd:domain=INET:index=0")
    assert str(caught.value.code) == (
        "twistd chat: --port 'systemd:domain=INET:index=0': no socket index 0 was passed by "
        "systemd (it passed 0: start the service from a .socket unit, or listen on a port "
        "instead) (see: twistd chat --help)")


# -- which listeners, where ------------------------------------------------------------


def test_the_plain_listener_is_on_loopback_unless_told_otherwise():
    """As the quick start runs it: no clear-text port open to the network."""
    [(option, endpoint)] = parse()["listeners"]
    assert option == "--port"
    assert (endpoint._interface, endpoint._port) == ("127.0.0.1", 12345)
    [(_, everywhere)] = parse("--port", "12345")["listeners"]
    assert (everywhere._interface, everywhere._port) == ("", 12345)


@pytest.mark.parametrize("off", ["none", "NONE", "off", "", " none "])
def test_the_plain_listener_can_be_turned_off(off, certs):
    options = parse("--port", off, "--tls-port", "0", "--tls-cert", str(certs.combined))
    assert [option for option, _ in options["listeners"]] == ["--tls-port"]
    options = parse("--port", off, "--irc-port", "0")
    assert options["listeners"] == []
    assert [option for option, _ in options["irc_listeners"]] == ["--irc-port"]


def test_the_plain_listener_can_be_turned_off_in_the_config_file(tmp_path):
    config = tmp_path / "chat.toml"
    config.write_text('port = "none"\nirc-port = "tcp:0:interface=127.0.0.1"\n')
    options = parse("--config", str(config))
    assert options["listeners"] == [] and len(options["irc_listeners"]) == 1
    root = makeService(options)
    assert [service.what for service in root] == ["IRC"]


def test_a_listener_from_the_config_file_can_be_turned_off_on_the_command_line(tmp_path, certs):
    config = tmp_path / "chat.toml"
    config.write_text(f'tls-port = 0\ntls-cert = "{certs.combined}"\nirc-port = 0\n')
    options = parse("--config", str(config), "--irc-port", "none", "--tls-port", "off",
                    "--tls-cert", "")
    assert [option for option, _ in options["listeners"]] == ["--port"]
    assert options["irc_listeners"] == []


def test_each_listener_is_named_by_its_protocol(certs):
    options = parse("--port", "tcp:0:interface=127.0.0.1", "--tls-port", "0",
                    "--tls-cert", str(certs.combined), "--irc-port", "0", "--irc-tls-port", "0")
    assert [service.what for service in makeService(options)] == [
        "line protocol", "line protocol over TLS", "IRC", "IRC over TLS"]
    options = parse("--port", f"ssl:0:privateKey={certs.key}:certKey={certs.cert}",
                    "--irc-port", f"ssl:0:privateKey={certs.key}:certKey={certs.cert}")
    assert [service.what for service in makeService(options)] == [
        "line protocol over TLS", "IRC over TLS"]


def test_where_a_listener_is_names_the_real_address():
    from twisted.internet import endpoints
    from twisted.internet.testing import MemoryReactor

    from chatsvc.hub.factory import ChatFactory
    from chatsvc.hub.settings import Settings

    reactor = MemoryReactor()
    hub = ChatFactory(Settings())
    v4 = ListenerService("--port", endpoints.TCP4ServerEndpoint(reactor, 1), hub,
                         "line protocol")
    v6 = ListenerService("--irc-tls-port",
                         endpoints.TCP6ServerEndpoint(reactor, 6697, interface="::"),
                         hub, "IRC over TLS")
    assert v4.where() == "line protocol on (not bound)"
    for listener in (v4, v6):
        listener.listen_now()
    assert v4.where() == "line protocol on 0.0.0.0:1"
    assert v6.where() == "IRC over TLS on [::]:6697"
    # Twisted's own "... starting on N" line names the protocol, not a class.
    assert [factory.logPrefix() for _, factory, _, _ in reactor.tcpServers] == [
        "line protocol", "IRC"]
    assert all(factory.factory is hub and not factory.noisy
               for _, factory, _, _ in reactor.tcpServers)


def test_failing_to_listen_is_one_line_naming_the_option_and_the_address():
    import errno

    from twisted.internet import endpoints
    from twisted.internet.error import CannotListenError
    from twisted.internet.testing import RaisingMemoryReactor

    from chatsvc.hub.factory import ChatFactory
    from chatsvc.hub.settings import Settings

    refused = CannotListenError("127.0.0.1", 23,
                                OSError(errno.EACCES, "Permission denied"))
    endpoint = endpoints.TCP4ServerEndpoint(RaisingMemoryReactor(listenException=refused), 23,
                                            interface="127.0.0.1")
    listener = ListenerService("--port", endpoint, ChatFactory(Settings()), "line protocol")
    with pytest.raises(StartupFailure) as caught:
        listener.listen_now()
    assert str(caught.value.code) == (
        "twistd chat: cannot listen for --port: 127.0.0.1:23: Permission denied")


# -- TLS and the version ----------------------------------------------------------------


def test_a_certificate_without_its_key_asks_for_tls_key(certs):
    with pytest.raises(StartupFailure) as caught:
        parse("--tls-port", "0", "--tls-cert", str(certs.cert))
    assert str(caught.value.code) == (
        f"twistd chat: --tls-cert {certs.cert}: holds no private key; give the key file "
        "with --tls-key (or append the key to this file) (see: twistd chat --help)")


def test_version_names_chatsvc_and_twisted(capsys):
    import chatsvc
    import twisted

    with pytest.raises(SystemExit) as caught:
        parse("--version")
    assert caught.value.code == 0
    assert capsys.readouterr().out == (
        f"chatsvc {chatsvc.__version__} (Twisted {twisted.version.short()})\n")


def test_certificate_that_is_not_a_certificate(tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(StartupFailure, match="no usable certificate"):
        parse("--tls-port", "0", "--tls-cert", str(bogus))


def test_key_that_does_not_match(certs, tmp_path):
    from support import make_certificates

    other = make_certificates(tmp_path)
    with pytest.raises(StartupFailure, match="no private key matching"):
        parse("--tls-port", "0", "--tls-cert", str(certs.cert), "--tls-key", str(other.key))


def run_twistd(*args, cwd):
    return subprocess.run(
        [str(TWISTD), "-n", "--pidfile=", "chat", *args],
        cwd=cwd, capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.mark.integration
def test_twistd_bad_option_exits_with_one_line(tmp_path):
    result = run_twistd("--max-clients", "lots", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().splitlines() == [
        "twistd chat: --max-clients 'lots': not a whole number (see: twistd chat --help)"
    ]


@pytest.mark.integration
def test_twistd_port_in_use_exits_with_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_twistd("--port", f"tcp:{port}:interface=127.0.0.1", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if "twistd chat:" in line]
    assert len(errors) == 1 and "cannot listen for --port" in errors[0]
    assert "Address already in use" in errors[0]


def busy_port():
    """A listening socket on 127.0.0.1 (close it when done) and its port."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    return busy, busy.getsockname()[1]


@pytest.mark.integration
def test_twistd_port_in_use_is_one_line_on_stderr_and_nothing_else(tmp_path):
    """Bound before twistd logs anything: no log lines around it, no log prefix."""
    busy, port = busy_port()
    with busy:
        result = run_twistd("--port", f"tcp:{port}:interface=127.0.0.1", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"twistd chat: cannot listen for --port: 127.0.0.1:{port}: Address already in use"]


def run_daemon(tmp_path, *args):
    """twistd without -n: the parent exits once the daemon started (or failed)."""
    return subprocess.run(
        [str(TWISTD), f"--pidfile={tmp_path / 'twistd.pid'}",
         f"--logfile={tmp_path / 'twistd.log'}", "chat", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def stop_daemon(pidfile, timeout=20.0):
    """SIGTERM the daemon named in C{pidfile}; wait (bounded) until it is gone."""
    import signal
    import time

    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"daemon {pid} did not stop")


@pytest.mark.integration
def test_daemon_port_in_use_is_the_same_one_line(tmp_path):
    """Not 'An error has occurred: b"chatsvc.tap.StartupFailure: ... 127.' cut at 100 bytes."""
    busy, port = busy_port()
    try:
        with busy:
            result = run_daemon(tmp_path, "--port", f"tcp:{port}:interface=127.0.0.1")
    finally:
        stop_daemon(tmp_path / "twistd.pid")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"twistd chat: cannot listen for --port: 127.0.0.1:{port}: Address already in use"]
    assert not (tmp_path / "twistd.pid").exists()


@pytest.mark.integration
def test_daemon_says_where_it_listens_and_serves(tmp_path, certs):
    import re
    import time

    from support import SocketUser

    try:
        result = run_daemon(tmp_path, "--port", "tcp:0:interface=127.0.0.1",
                            "--irc-tls-port", "tcp:0:interface=127.0.0.1",
                            "--tls-cert", str(certs.combined))
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
        log = tmp_path / "twistd.log"
        deadline = time.monotonic() + 20
        while "ready:" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, "the daemon never got ready"
            time.sleep(0.05)
        text = log.read_text()
        lines = [line.split("] ", 1)[1] for line in text.splitlines() if "] " in line]
        [line_port] = re.findall(r"^line protocol on 127\.0\.0\.1:(\d+)$", "\n".join(lines),
                                 re.MULTILINE)
        assert re.search(r"^IRC over TLS on 127\.0\.0\.1:\d+$", "\n".join(lines), re.MULTILINE)
        assert "ready: 2 listeners" in lines
        # No internal class names, no "Starting factory <... object at 0x...>".
        for noise in ("ChatFactory", "_AdapterFactory", "Starting factory", " object at 0x"):
            assert noise not in text
        user = SocketUser(int(line_port), "alice")
        try:
            stop_daemon(tmp_path / "twistd.pid")
            user.expect("* server shutting down")
        finally:
            user.close()
    finally:
        stop_daemon(tmp_path / "twistd.pid")
    assert "shutting down: closing 1 connection\n" in log.read_text()


@pytest.mark.integration
def test_twistd_chat_version(tmp_path):
    import chatsvc
    import twisted

    result = subprocess.run([str(TWISTD), "chat", "--version"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout == f"chatsvc {chatsvc.__version__} (Twisted {twisted.version.short()})\n"
