"""Start, reload and stop, in memory: readiness, goodbyes, rotation without drops."""

from __future__ import annotations

import signal

import pytest
from support import LineUser, make_certificates, make_hub, registered
from twisted.application.service import Service
from twisted.internet import defer, endpoints
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs, formatEvent

from chatsvc.service.lifecycle import GOODBYE, ChatService
from chatsvc.service.tap import ListenerService
from chatsvc.service.tls import ServerTLS


class Notifications(list):
    """Records what would be sent to systemd."""

    def __call__(self, *assignments: str) -> bool:
        self.append(assignments)
        return True

    @property
    def states(self) -> list[str]:
        return [a[0] for a in self]


class SlowListener(Service):
    """A listener whose port is bound when the test says so."""

    def __init__(self) -> None:
        self.bound: defer.Deferred[object] = defer.Deferred()

    def whenListening(self) -> defer.Deferred[object]:
        return self.bound


@pytest.fixture
def reactor():
    reactor = MemoryReactorClock()
    reactor.running = True
    return reactor


def service(reactor, hub=None, **kwargs):
    notes = Notifications()
    root = ChatService(hub or make_hub(), reactor=reactor, notify=notes, **kwargs)
    return root, notes


# -- the hub's shutdown ---------------------------------------------------------------


def test_shutdown_says_goodbye_to_everyone_in_their_own_form():
    hub = make_hub()
    alice, bob = registered(hub, "alice", "bob")
    stranger = LineUser(hub)  # connected, never registered
    stranger.read()
    drained = hub.shutdown(GOODBYE)
    for user in (alice, bob, stranger):
        assert user.read() == ["* server shutting down"]
        assert user.closed
    assert not drained.called
    alice.drop()
    bob.drop()
    assert bob.read() == []  # nobody is told about others leaving a dying server
    assert not drained.called
    stranger.drop()
    assert drained.called
    assert hub.connections == set() and hub.users == {}


def test_shutdown_with_nobody_connected_is_immediate():
    assert make_hub().shutdown(GOODBYE).called


def test_no_new_connections_while_shutting_down():
    hub = make_hub()
    (alice,) = registered(hub, "alice")
    hub.shutdown(GOODBYE)
    late = LineUser(hub)
    assert late.read() == ["! server shutting down"]
    assert late.closed
    assert late.protocol not in hub.connections


def test_disconnect_twice_says_goodbye_once():
    hub = make_hub()
    (alice,) = registered(hub, "alice")
    alice.protocol.disconnect("server shutting down")
    alice.protocol.disconnect("server shutting down")
    assert alice.read() == ["* server shutting down"]


# -- ready only once listening --------------------------------------------------------


def test_ready_waits_for_every_listener(reactor):
    root, notes = service(reactor)
    first, second = SlowListener(), SlowListener()
    first.setServiceParent(root)
    second.setServiceParent(root)
    root.startService()
    first.bound.callback("port 1")
    assert notes == []
    second.bound.callback("port 2")
    assert notes.states == ["READY=1"]


def test_ready_after_real_listeners_bind(reactor):
    hub = make_hub()
    root, notes = service(reactor, hub)
    for port in (1, 2):
        endpoint = endpoints.TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
        ListenerService(f"--port{port}", endpoint, hub).setServiceParent(root)
    root.privilegedStartService()
    root.startService()
    assert len(reactor.tcpServers) == 2
    assert notes.states == ["READY=1"]


def test_ready_says_where_each_listener_is_and_how_many(reactor):
    hub = make_hub()
    root, notes = service(reactor, hub)
    ListenerService("--port", endpoints.TCP4ServerEndpoint(reactor, 12345), hub,
                    "line protocol").setServiceParent(root)
    ListenerService("--irc-tls-port", endpoints.TCP6ServerEndpoint(reactor, 6697, interface="::"),
                    hub, "IRC over TLS").setServiceParent(root)
    root.privilegedStartService()
    with capturedLogs() as events:
        root.startService()
    said = [formatEvent(event) for event in events]
    assert said == ["line protocol on 0.0.0.0:12345", "IRC over TLS on [::]:6697",
                    "ready: 2 listeners"]


def test_one_listener_is_one_listener_not_one_listeners(reactor):
    root, notes = service(reactor)
    SlowListener().setServiceParent(root)
    with capturedLogs() as events:
        root.startService()
        [listener] = root
        listener.bound.callback("port")
    assert [formatEvent(event) for event in events] == ["ready: 1 listener"]


def test_shutdown_counts_connections_in_english(reactor):
    hub = make_hub()
    registered(hub, "alice")
    with capturedLogs() as events:
        hub.shutdown(GOODBYE)
    assert [formatEvent(event) for event in events] == ["shutting down: closing 1 connection"]
    with capturedLogs() as events:
        make_hub().shutdown(GOODBYE)
    assert [formatEvent(event) for event in events] == ["shutting down: closing 0 connections"]


def test_failing_to_listen_is_not_ready_and_stops(reactor):
    root, notes = service(reactor)
    listener = SlowListener()
    listener.setServiceParent(root)
    root.startService()
    with capturedLogs() as events:
        listener.bound.errback(OSError("address in use"))
    assert notes == []
    assert reactor.hasStopped
    assert any("cannot listen" in e["log_format"] for e in events)


def test_watchdog_pings_at_half_the_deadline(reactor, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "4000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    root, notes = service(reactor)
    root.startService()
    assert notes.states == ["READY=1", "WATCHDOG=1"]
    reactor.advance(2)
    assert notes.states[-1] == "WATCHDOG=1" and len(notes) == 3
    defer.ensureDeferred(root.stopService())
    reactor.advance(10)
    assert "WATCHDOG=1" not in notes.states[3:]


# -- reload ---------------------------------------------------------------------------


def test_reload_rereads_the_motd_and_reports_to_systemd(reactor, tmp_path):
    from chatsvc.service.tap import Options, makeService

    motd = tmp_path / "motd.txt"
    motd.write_text("first\n")
    options = Options()
    options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", "--motd", str(motd)])
    root = makeService(options)
    hub = root.hub
    notes = Notifications()
    root._notify = notes
    (alice,) = registered(hub, "alice")
    motd.write_text("second\nthird\n")
    root.reload()
    assert notes.states == ["RELOADING=1", "READY=1"]
    assert notes[0][1].startswith("MONOTONIC_USEC=")
    bob = LineUser(hub)
    bob.read()
    bob.send("#bob")
    assert bob.read()[:3] == ["* you are bob", "* second", "* third"]
    assert alice.read() == ["* bob joined"]  # still connected


def test_reload_keeps_the_old_motd_when_the_file_is_gone(reactor, tmp_path):
    from chatsvc.service.tap import Options, makeService

    motd = tmp_path / "motd.txt"
    motd.write_text("kept\n")
    options = Options()
    options.parseOptions(["--port", "tcp:0:interface=127.0.0.1", "--motd", str(motd)])
    root = makeService(options)
    motd.unlink()
    with capturedLogs() as events:
        root.reload()
    assert root.hub.settings.motd == ["kept"]
    errors = [e for e in events if e["log_format"].startswith("{what} not reloaded")]
    assert len(errors) == 1
    assert str(motd) in errors[0]["what"] and "No such file" in errors[0]["why"]


def test_reload_rotates_the_certificate_and_keeps_it_on_error(reactor, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = make_certificates(tmp_path / "old")
    new = make_certificates(tmp_path / "new")
    live = tmp_path / "live.pem"
    live.write_bytes(old.combined.read_bytes())
    tls = ServerTLS(str(live))
    root, notes = service(reactor)
    root.add_reloader("TLS certificate", tls.reload)

    def serial(tls: ServerTLS) -> int:
        from OpenSSL import SSL

        return SSL.Connection(tls.getContext()).get_certificate().get_serial_number()

    first = serial(tls)
    live.write_text("not a certificate\n")
    with capturedLogs() as events:
        root.reload()
    assert serial(tls) == first
    assert any("not reloaded" in e["log_format"] and "no usable certificate" in e["why"]
               for e in events)
    live.write_bytes(new.combined.read_bytes())
    root.reload()
    assert serial(tls) != first
    assert notes.states == ["RELOADING=1", "READY=1"] * 2


def test_an_unexpected_reload_error_does_not_stop_the_others(reactor):
    root, notes = service(reactor)
    done = []
    root.add_reloader("broken", lambda: 1 / 0)
    root.add_reloader("fine", lambda: done.append(True))
    with capturedLogs():
        root.reload()
    assert done == [True]
    assert notes.states == ["RELOADING=1", "READY=1"]


# -- stop -----------------------------------------------------------------------------


def test_stop_listens_no_more_then_says_goodbye_and_waits(reactor):
    hub = make_hub()
    root, notes = service(reactor, hub)
    endpoint = endpoints.TCP4ServerEndpoint(reactor, 1, interface="127.0.0.1")
    listener = ListenerService("--port", endpoint, hub)
    listener.setServiceParent(root)
    root.privilegedStartService()
    root.startService()
    alice, bob = registered(hub, "alice", "bob")
    stopped = []
    root.stopService().addBoth(stopped.append)
    assert notes.states[-1] == "STOPPING=1"
    assert not listener.running
    assert alice.read() == ["* server shutting down"] == bob.read()
    assert stopped == []
    alice.drop()
    bob.drop()
    assert stopped == [None]


def test_stop_gives_up_waiting_after_the_drain_timeout(reactor):
    hub = make_hub()
    root, notes = service(reactor, hub, drain_timeout=3.0)
    root.startService()
    (alice,) = registered(hub, "alice")  # never closes its side
    stopped = []
    with capturedLogs() as events:
        root.stopService().addBoth(stopped.append)
        reactor.advance(2.9)
        assert stopped == []
        reactor.advance(0.2)
    assert stopped == [None]
    assert "1 connection still open after 3.0s; exiting anyway" in [
        formatEvent(event) for event in events]


def test_signal_handlers_are_ours_while_running_and_restored_after(reactor):
    before = {n: signal.getsignal(n) for n in (signal.SIGHUP, signal.SIGTERM)}
    root, notes = service(reactor, handle_signals=True)
    root.startService()
    try:
        assert signal.getsignal(signal.SIGHUP) == root._on_sighup
        assert signal.getsignal(signal.SIGTERM) == root._on_sigterm
    finally:
        root.stopService()
    assert {n: signal.getsignal(n) for n in before} == before
