"""Reactor lag: how late a timer runs, as a Prometheus histogram.

Everything chatsvc does runs in one reactor thread, so anything that holds
it (a slow callback, a storm of input, a machine out of CPU) delays every
user's messages.  A timer due every L{INTERVAL} seconds measures that
delay: the time it ran minus the time it was due.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram
from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

#: Seconds between two measurements.
INTERVAL = 1.0

#: Upper bounds of the histogram's buckets, in seconds: from a millisecond
#: (a busy but healthy server) to ten seconds (one that is stuck).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Probe(LoopingCall):
    """A C{LoopingCall} that knows when each of its calls was due.

    The delayed call that runs it (C{self.call}, public) holds the time it
    was scheduled for; C{LoopingCall} forgets it before calling the
    function, so it is kept here first.  (Computing it from the start time
    and the interval would go wrong after a delay longer than the interval,
    since C{LoopingCall} skips the intervals it missed.)
    """

    due: float | None = None

    def __call__(self) -> None:
        call = self.call
        self.due = None if call is None else call.getTime()
        super().__call__()


class ReactorLag(Service):
    """Measure the reactor's lag while the service runs, into C{chatsvc_reactor_lag_seconds}."""

    def __init__(self, registry: CollectorRegistry, clock: IReactorTime,
                 interval: float = INTERVAL) -> None:
        self.histogram = Histogram(
            "chatsvc_reactor_lag_seconds",
            f"How late a timer due every {interval:g} s ran: the reactor busy with other "
            "work for that long delays every user's messages.",
            buckets=BUCKETS, registry=registry)
        self.clock = clock
        self.interval = interval
        self._probe = _Probe(self._measure)
        self._probe.clock = clock

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._probe.start(self.interval, now=False)

    def stopService(self) -> None:
        super().stopService()  # type: ignore[no-untyped-call]
        if self._probe.running:
            self._probe.stop()

    def _measure(self) -> None:
        due = self._probe.due
        if due is not None:
            self.histogram.observe(max(0.0, self.clock.seconds() - due))
