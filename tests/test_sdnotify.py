"""sd_notify against real unix datagram sockets, as systemd listens."""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest

from chatsvc.service import sdnotify


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def test_sends_one_datagram_of_assignments(listener):
    path, sock = listener
    assert sdnotify.notify("READY=1", "STATUS=listening", environ={"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1\nSTATUS=listening"


def test_abstract_namespace_socket():
    name = f"chatsvc-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert sdnotify.notify("STOPPING=1", environ={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"STOPPING=1"


def test_reads_the_process_environment(listener, monkeypatch):
    path, sock = listener
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    assert sdnotify.notify("WATCHDOG=1")
    assert sock.recv(4096) == b"WATCHDOG=1"


def test_no_socket_means_not_under_systemd():
    assert sdnotify.notify("READY=1", environ={}) is False


def test_a_dead_socket_is_logged_not_raised(tmp_path):
    from twisted.logger import capturedLogs

    with capturedLogs() as events:
        sent = sdnotify.notify("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert sent is False
    assert any("cannot notify systemd" in e["log_format"] for e in events)


def test_unsupported_address_kind_is_refused():
    assert sdnotify.notify("READY=1", environ={"NOTIFY_SOCKET": "vsock:2:1234"}) is False


def test_monotonic_usec_is_the_clock_systemd_compares():
    key, value = sdnotify.monotonic_usec().split("=")
    assert key == "MONOTONIC_USEC"
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert 0 <= now - int(value) < 5_000_000


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "10000000"}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}, 5.0),
        ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_the_deadline(environ, interval):
    assert sdnotify.watchdog_interval(environ) == interval
