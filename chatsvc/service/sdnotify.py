"""Tell systemd how the service is doing: the C{sd_notify} protocol.

With C{Type=notify}, systemd sets C{$NOTIFY_SOCKET} to the path of a unix
datagram socket (a leading C{@} means the abstract namespace) and waits for
C{READY=1} before it considers the service started.  The protocol is one
datagram of newline-separated C{KEY=value} assignments, so a few lines here
do what libsystemd's C{sd_notify()} does; Twisted has no such helper and the
PyPI packages for it are unmaintained.

Outside systemd (no C{$NOTIFY_SOCKET}) every call is a no-op, so the server
runs the same from a terminal.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

from twisted.logger import Logger

log = Logger()


def _address(value: str) -> str:
    # "@name" is systemd's spelling of an abstract-namespace socket, which the
    # socket API spells with a leading NUL byte.
    return "\0" + value[1:] if value.startswith("@") else value


def notify(*assignments: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send C{assignments} (e.g. C{"READY=1"}) to systemd in one datagram.

    Returns C{True} if a datagram was sent, C{False} when not run under a
    notify-type unit.  Never raises and never blocks: a status report must
    not take the server down, so a failure is logged instead.
    """
    target = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not target or not assignments:
        return False
    if not target.startswith(("/", "@")):
        log.warn("cannot notify systemd: unsupported NOTIFY_SOCKET {target!r}", target=target)
        return False
    message = "\n".join(assignments).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.setblocking(False)
            sock.connect(_address(target))
            sock.send(message)
    except OSError as error:
        log.warn("cannot notify systemd ({what}): {error}",
                 what=assignments[0], error=error.strerror or error)
        return False
    return True


def monotonic_usec() -> str:
    """C{MONOTONIC_USEC=...}, which systemd wants alongside C{RELOADING=1}."""
    return f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between C{WATCHDOG=1} pings if the unit sets C{WatchdogSec=}.

    Half the deadline, as C{sd_watchdog_enabled(3)} recommends; C{None} when
    no watchdog is configured for this process.
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2_000_000
