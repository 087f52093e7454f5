"""The hub's counts as Prometheus metrics, read when Prometheus scrapes.

A custom collector (prometheus-client's C{Collector}) rather than
C{Counter} and C{Gauge} objects that the server would update: the hub
already keeps plain integers (L{chatsvc.hub.counts.Counts}) where things
happen once per connection or per message, and the sizes of its users,
rooms and operators; turning them into samples here costs the message
path nothing, and a scrape costs the same however many are connected.
A C{Counter.inc()} per delivery would be a Python call in the fan-out
loop, the server's hottest code (docs/performance.rst).

Bytes out are the hub's send queues' count plus what its reactor's
gathered turns sent (L{chatsvc.conn.sendq.gathered_bytes}): the fan-out's
path counts once per turn for the whole reactor, not per connection.

Every label value comes from the code (protocol names, error codes, drop
reasons), never from what a user sent, so the series stay few and bounded.
It runs in the reactor thread, where the hub lives (see L{chatsvc.metrics.site}).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chatsvc.conn.sendq import gathered_bytes

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory


class HubCollector(Collector):
    """Samples of one hub's counts and state, made at each scrape."""

    def __init__(self, hub: ChatFactory) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        counts = hub.counts
        yield _labelled(GaugeMetricFamily(
            "chatsvc_connections", "Open connections, registered or not, by protocol.",
            labels=["protocol"]), counts.connected)
        yield _labelled(CounterMetricFamily(
            "chatsvc_connections_accepted", "Connections admitted since the start, by protocol.",
            labels=["protocol"]), counts.accepted)
        yield _labelled(CounterMetricFamily(
            "chatsvc_connections_refused",
            "Connections refused on arrival (server full, per-address limit, connect rate, "
            "shutting down), by the refusal's error code.", labels=["reason"]), counts.refused)
        yield CounterMetricFamily(
            "chatsvc_registrations", "Users who registered a name (renames not counted).",
            value=counts.registrations)
        messages = CounterMetricFamily(
            "chatsvc_messages", "Messages users sent: to rooms, and private ones.",
            labels=["kind"])
        messages.add_metric(["room"], counts.room_messages)
        messages.add_metric(["private"], counts.private_messages)
        yield messages
        yield CounterMetricFamily(
            "chatsvc_deliveries",
            "Messages handed to recipients: a room message once per member but its sender.",
            value=counts.deliveries)
        yield CounterMetricFamily(
            "chatsvc_sent_bytes", "Bytes handed to the connections' transports, everything sent.",
            value=counts.output.sent + gathered_bytes(hub.clock))
        yield _labelled(CounterMetricFamily(
            "chatsvc_drops", "Connections the server dropped, by reason.",
            labels=["reason"]), counts.drops)
        yield GaugeMetricFamily(
            "chatsvc_backlog_bytes",
            "Output held for clients whose transport buffer is full (what --max-backlog "
            "bounds per connection).", value=counts.output.held)
        # The sizes behind ChatFactory.stats, read directly: stats() also
        # counts invisible users, a walk over every user, and a scrape
        # should cost the same with ten users or ten thousand.
        yield GaugeMetricFamily("chatsvc_users", "Registered users.", value=len(hub.users))
        yield GaugeMetricFamily(
            "chatsvc_users_peak", "The most users registered at once since the start.",
            value=hub.peak_users)
        yield GaugeMetricFamily("chatsvc_operators", "Server operators logged in.",
                                value=len(hub.opers))
        yield GaugeMetricFamily("chatsvc_rooms", "Rooms that exist.", value=len(hub.rooms))


def _labelled(family: GaugeMetricFamily | CounterMetricFamily,
              values: Counter[str]) -> GaugeMetricFamily | CounterMetricFamily:
    for label, value in sorted(values.items()):
        family.add_metric([label], value)
    return family
