"""Retention: how long the history keeps messages, enforced in the background.

Two limits, either or both (``--history-max-age 30d``, ``--history-max-rows
10000``): messages older than the age go, and each room keeps only its last
so many.  Private messages between accounts go past the age as well; the
row limit is per room only (docs/operator/history.rst says why: it bounds
replays and busy rooms, and a conversation of two is neither).
L{Pruner} enforces them every L{PRUNE_INTERVAL} seconds with a
C{LoopingCall} on the reactor that hands deletes to the store's one worker
thread, in bounded batches (L{PRUNE_BATCH} rows, one transaction each): the
batches of live messages queue between them, so a huge delete (the first
start with a limit on a big file) never holds the writer for longer than one
batch takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatsvc.store.sqlite import HistoryStore

#: Seconds between two passes of the pruner.
PRUNE_INTERVAL = 60.0

#: Rows one delete transaction removes at most.
PRUNE_BATCH = 1000

_UNITS = {"s": 1, "min": 60, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)\s*", re.IGNORECASE)
_FOREVER = frozenset({"", "0", "none", "off", "forever"})


def parse_age(text: str) -> float | None:
    """C{--history-max-age}: seconds, from C{30d}, C{12h}, C{90min}, C{2w}...;
    C{None} (keep forever) for C{0}, C{none} or C{forever}.

    Raises C{ValueError} with the reason for anything else: a bare number
    is refused, as nobody can tell whether C{30} is seconds or days.
    """
    if text.strip().lower() in _FOREVER:
        return None
    match = _AGE.fullmatch(text)
    if match is None:
        raise ValueError("a number and a unit: 30d, 12h, 90min, 3600s, 2w "
                         "(or 0/none: forever)")
    seconds = float(match[1]) * _UNITS[match[2].lower()]
    if seconds <= 0:
        return None
    return seconds


def describe_age(seconds: float) -> str:
    """C{30 days}, C{1 day}, C{12 hours}, C{90 minutes}: for users."""
    for unit, size in (("week", 7 * 86400), ("day", 86400), ("hour", 3600),
                       ("minute", 60), ("second", 1)):
        if seconds >= size and (seconds % size == 0 or unit == "second"):
            count = int(seconds // size)
            if unit == "week":  # "30 days" reads better than "4 weeks" when uneven
                count, unit = count * 7, "day"
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds:g} seconds"


@dataclass(frozen=True, slots=True)
class Retention:
    """What the history keeps: C{max_age} seconds (C{None}: forever) and
    C{max_rows} per room (C{None}: no limit)."""

    max_age: float | None = None
    max_rows: int | None = None

    @property
    def forever(self) -> bool:
        return self.max_age is None and self.max_rows is None

    def describe(self, room: str) -> str:
        """What a user is told on joining: C{#rust keeps history for 30 days}."""
        if self.max_age is not None and self.max_rows is not None:
            return (f"{room} keeps history for {describe_age(self.max_age)}, "
                    f"at most its last {self.max_rows} messages")
        if self.max_age is not None:
            return f"{room} keeps history for {describe_age(self.max_age)}"
        if self.max_rows is not None:
            return f"{room} keeps its last {self.max_rows} messages"
        return f"{room} keeps history"

    def server_line(self) -> str:
        """What the server keeps, for the welcome (one line)."""
        if self.max_age is not None and self.max_rows is not None:
            span = (f" for {describe_age(self.max_age)} (at most {self.max_rows} "
                    "a room)")
        elif self.max_age is not None:
            span = f" for {describe_age(self.max_age)}"
        elif self.max_rows is not None:
            span = f" (each room's last {self.max_rows})"
        else:
            span = ""
        return (f"this server keeps room messages{span} and private messages between "
                "logged-in accounts (not guests'); a room set +x keeps none")


class Pruner:
    """Enforces a L{Retention} on a L{HistoryStore}, in the background.

    @ivar deleted: rows deleted so far (for tests and the log).
    """

    log = Logger()

    def __init__(self, store: HistoryStore, retention: Retention,
                 clock: IReactorTime, interval: float = PRUNE_INTERVAL,
                 batch: int = PRUNE_BATCH) -> None:
        self.store = store
        self.retention = retention
        self.clock = clock
        self.interval = interval
        self.batch = batch
        self.deleted = 0
        self._loop = LoopingCall(self._tick)
        self._loop.clock = clock
        self._running: Deferred[None] | None = None

    def start(self) -> None:
        """Prune now and every C{interval} seconds (nothing for a forever retention)."""
        if not self.retention.forever and not self._loop.running:
            self._loop.start(self.interval, now=True).addErrback(self._failed)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def _tick(self) -> Deferred[None] | None:
        if self._running is not None:  # the last pass is still deleting
            return None
        self._running = ensureDeferred(self.prune())

        def done(result: object) -> None:
            self._running = None

        self._running.addErrback(self._failed).addBoth(done)
        return None

    async def prune(self) -> None:
        """One pass: every limit, batch after batch, until nothing is left to delete.

        Each batch is its own job on the store's thread, so live writes
        submitted meanwhile run between two batches.
        """
        retention, store, batch = self.retention, self.store, self.batch
        if retention.max_age is not None:
            cutoff = self.clock.seconds() - retention.max_age
            while True:
                count = await store.delete_older(cutoff, batch)
                self.deleted += count
                if count < batch or store.closed:
                    break
            while not store.closed:  # private conversations between accounts too
                count = await store.delete_older_private(cutoff, batch)
                self.deleted += count
                if count < batch:
                    break
        if retention.max_rows is not None:
            rooms = await store.room_keys()
            for room_key in rooms:
                while not store.closed:
                    count = await store.delete_beyond(room_key, retention.max_rows, batch)
                    self.deleted += count
                    if count < batch:
                        break

    def _failed(self, failure: Failure) -> None:
        # A locked or full disk, say: the next pass tries again.
        self.log.failure("history: pruning failed", failure)


__all__ = ["PRUNE_BATCH", "PRUNE_INTERVAL", "Pruner", "Retention", "describe_age", "parse_age"]
