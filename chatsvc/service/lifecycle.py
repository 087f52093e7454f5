"""The root service: start, reload and stop the way an operator expects.

- B{Ready} means listening: systemd is sent C{READY=1} only once every
  listener (anything with a C{whenListening()}, such as
  L{chatsvc.service.tap.ListenerService}) has bound its port.
- B{SIGHUP} (C{systemctl reload}) re-reads what can change under a running
  server, the MOTD and the TLS certificate and key, without dropping anyone.
  A file that cannot be used is logged and the old value kept.
- B{SIGTERM} (C{systemctl stop}) stops listening, says goodbye to every
  user in its own protocol, waits (bounded) for the connections to close,
  and exits with status 0: a requested stop is not a failure.  (Twisted's
  own handler re-raises SIGTERM at exit, which ends twistd "killed by
  signal".)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from twisted.application.service import IServiceCollection, MultiService
from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.hub.factory import ChatFactory
from chatsvc.service import sdnotify

GOODBYE = "server shutting down"


def counted(count: int, noun: str) -> str:
    """C{1 listener}, C{2 listeners}: the log reads as English."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _listeners(service: Any) -> Iterator[Any]:
    for child in IServiceCollection(service, []):
        if hasattr(child, "whenListening"):
            yield child
        yield from _listeners(child)


class ChatService(MultiService):
    """One hub and its listeners, with systemd-style start, reload and stop.

    @param drain_timeout: seconds to wait at stop for connections to close
        after the goodbye; whatever is still open then is cut by the exit.
    @param handle_signals: install the SIGHUP and SIGTERM handlers once the
        reactor runs (twistd); off for tests that drive L{reload} directly.
    """

    log = Logger()

    def __init__(
        self,
        hub: ChatFactory,
        reactor: Any = None,
        drain_timeout: float = 5.0,
        handle_signals: bool = False,
        notify: Callable[..., bool] = sdnotify.notify,
    ) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor
        self.hub = hub
        self.drain_timeout = drain_timeout
        self.reloaders: list[tuple[str, Callable[[], None]]] = []
        self._reactor = reactor
        self._handle_signals = handle_signals
        self._notify = notify
        self._previous_handlers: dict[int, Any] = {}
        self._watchdog: LoopingCall | None = None
        self._stop_requested = False

    def add_reloader(self, what: str, reload: Callable[[], None]) -> None:
        """Run C{reload} on SIGHUP; if it raises, log C{what} was not reloaded."""
        self.reloaders.append((what, reload))

    # -- start ---------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        self._reactor.callWhenRunning(self._running)

    def _running(self) -> None:
        if self._handle_signals:
            self._install_signal_handlers()
        waiting = [listener.whenListening() for listener in _listeners(self)]
        listening = defer.gatherResults(waiting, consumeErrors=True)
        listening.addCallbacks(self._ready, self._not_listening)

    def _ready(self, ports: list[object]) -> None:
        for listener in _listeners(self):
            where = getattr(listener, "where", None)
            if where is not None:
                self.log.info("{where}", where=where())
        self.log.info("ready: {listeners}", listeners=counted(len(ports), "listener"))
        self._notify("READY=1", "STATUS=listening")
        interval = sdnotify.watchdog_interval()
        if interval is not None:
            self._watchdog = LoopingCall(self._notify, "WATCHDOG=1")
            self._watchdog.clock = self._reactor
            self._watchdog.start(interval)

    def _not_listening(self, failure: Failure) -> None:
        error = failure.value
        if isinstance(error, defer.FirstError):
            error = error.subFailure.value
        self.log.critical("cannot listen: {error}; stopping", error=error)
        self._request_stop()

    # -- reload --------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the MOTD, certificates and whatever else registered."""
        self.log.info("reloading")
        self._notify("RELOADING=1", sdnotify.monotonic_usec())
        for what, reload in self.reloaders:
            try:
                reload()
            except Exception as error:
                self.log.error("{what} not reloaded, keeping the current one: {why}",
                               what=what, why=str(error) or repr(error))
            else:
                self.log.info("reloaded {what}", what=what)
        self._notify("READY=1", "STATUS=listening")

    # -- stop ----------------------------------------------------------------

    def stopService(self) -> defer.Deferred[None]:
        """Stop listening, say goodbye to everyone, wait for them to go."""
        self._notify("STOPPING=1")
        if self._watchdog is not None and self._watchdog.running:
            self._watchdog.stop()
        self._restore_signal_handlers()
        stopped = defer.maybeDeferred(super().stopService)
        stopped.addCallback(lambda _: self._drain())
        return stopped

    def _drain(self) -> defer.Deferred[None]:
        drained = self.hub.shutdown(GOODBYE)
        drained.addTimeout(self.drain_timeout, self._reactor)

        def too_slow(failure: Failure) -> None:
            failure.trap(defer.TimeoutError)
            self.log.warn("{connections} still open after {timeout}s; exiting anyway",
                          connections=counted(len(self.hub.connections), "connection"),
                          timeout=self.drain_timeout)

        drained.addErrback(too_slow)
        return drained

    # -- signals -------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number, handler in ((signal.SIGHUP, self._on_sighup),
                                (signal.SIGTERM, self._on_sigterm)):
            self._previous_handlers[number] = signal.signal(number, handler)

    def _restore_signal_handlers(self) -> None:
        for number, previous in list(self._previous_handlers.items()):
            if number == signal.SIGTERM and self._stop_requested:
                continue  # stays ours until exit, so a second one is not fatal
            del self._previous_handlers[number]
            signal.signal(number, signal.SIG_DFL if previous is None else previous)

    def _on_sighup(self, number: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self.reload)

    def _on_sigterm(self, number: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self._request_stop)

    def _request_stop(self) -> None:
        if self._stop_requested:
            self.log.info("already shutting down")
            return
        self._stop_requested = True
        self.log.info("shutting down")
        self._reactor.stop()
