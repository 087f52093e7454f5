"""The store's place in the service tree: its thread runs while the server does."""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.defer import Deferred

from chatsvc.store.retention import Pruner, Retention
from chatsvc.store.sqlite import HistoryStore


class HistoryService(Service):
    """Starts the store's worker thread and its retention (L{Pruner}); at
    stop, writes what is pending and closes it.

    Messages recorded after the stop began (during the goodbye drain) are
    not kept: the store is closed by then (see L{HistoryStore.record}).
    """

    def __init__(self, store: HistoryStore, retention: Retention | None = None) -> None:
        self.store = store
        self.pruner = Pruner(store, retention or Retention(), store.reactor)

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self.store.start()
        self.pruner.start()

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        self.pruner.stop()
        return self.store.stop()
