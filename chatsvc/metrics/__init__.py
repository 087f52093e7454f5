"""Prometheus metrics of a running server: C{twistd chat --metrics-port}.

L{chatsvc.metrics.collector} reads at scrape time what the hub already
counts (L{chatsvc.hub.counts}, L{chatsvc.hub.factory.ChatFactory.stats}),
so serving metrics adds nothing per message or per recipient;
L{chatsvc.metrics.lag} measures how late the reactor runs a timer;
L{chatsvc.metrics.site} serves the lot at C{/metrics} with C{twisted.web};
L{chatsvc.metrics.service} puts them together for C{twistd chat}.

They need the C{metrics} extra (prometheus-client).  This module does not
import it, so the option parser can say in one line that it is missing.
"""

from __future__ import annotations

from importlib.util import find_spec

#: What C{--metrics-port} says when prometheus-client is not installed.
MISSING = ("--metrics-port needs the prometheus-client package: "
           "pip install 'chatsvc[metrics]'")


def available() -> bool:
    """Whether prometheus-client can be imported (the C{metrics} extra is installed)."""
    try:
        return find_spec("prometheus_client") is not None
    except ValueError:  # a module of that name with no spec, as sys.modules[name] = None
        return False
