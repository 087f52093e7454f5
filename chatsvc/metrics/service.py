"""The metrics of one hub, for the service tree of C{twistd chat --metrics-port}."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from twisted.web.server import Site

from chatsvc.metrics.collector import HubCollector
from chatsvc.metrics.lag import ReactorLag
from chatsvc.metrics.site import metrics_site

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory


def hub_registry(hub: ChatFactory) -> CollectorRegistry:
    """A registry of C{hub}'s metrics and the process's (CPU, memory, file descriptors).

    A registry of its own rather than prometheus-client's global one, so that
    two hubs in one process (tests) never mix their samples.
    """
    registry = CollectorRegistry()
    registry.register(HubCollector(hub))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def metrics_for(hub: ChatFactory) -> tuple[Site, ReactorLag]:
    """The C{/metrics} site for C{hub}, and the reactor-lag service to run beside it."""
    registry = hub_registry(hub)
    lag = ReactorLag(registry, hub.clock)
    return metrics_site(registry), lag
