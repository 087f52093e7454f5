# twisted.web's Request, Resource and Site have no type hints yet; everything
# here that calls them is typed, and --strict would flag each call.
# mypy: disable-error-code="no-untyped-call"
"""C{/metrics} over C{twisted.web}: the registry in Prometheus's text format.

Not C{prometheus_client.twisted.MetricsResource}: that is a C{WSGIResource}
that collects in the reactor's thread pool, so the collectors would read
the hub's sets and dicts from another thread while the reactor changes them
(and it binds to the global reactor at import).  Here the page is rendered
in the reactor thread, like every other request: collecting reads
in-memory counts, the same work however many are connected (0.3 ms for a
whole scrape with 10,000 connections), with no I/O but the process
collector's reads of C{/proc}, which never block on a disk.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from twisted.web import http, pages
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site


class MetricsPage(Resource):
    """C{/metrics}: the registry's samples, in the format the scraper asks for.

    Prometheus asks for OpenMetrics in its C{Accept} header and gets it;
    anything else gets the classic text format (C{curl}, a browser).
    """

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render(self, request: Request) -> bytes:
        # Twisted's own answer to another method renders a deprecated error
        # page (and warns each time); a scraper only ever GETs.
        if request.method not in (b"GET", b"HEAD"):
            request.setResponseCode(405)
            request.setHeader(b"allow", b"GET, HEAD")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"method not allowed\n"
        body: bytes = super().render(request)
        return body

    def render_GET(self, request: Request) -> bytes:
        if request.postpath not in ([], [b""]):
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"not found\n"
        accept = request.getHeader(b"accept")
        encoder, content_type = choose_encoder(accept.decode("latin-1") if accept else "")
        body: bytes = encoder(self.registry)
        request.setHeader(b"content-type", content_type.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        return body

    def render_HEAD(self, request: Request) -> bytes:
        """The headers of a GET, without the body (nor Twisted's warning that one was eaten)."""
        self.render_GET(request)
        return b""


class _Root(Resource):
    """The site's root: C{/metrics}, and a plain 404 for anything else."""

    def getChild(self, path: bytes, request: Request) -> IResource:
        return pages.notFound()


class _QuietSite(Site):
    """A site that writes no access line per request: a scrape every 15 s would
    be 5,760 lines a day saying the same thing."""

    def log(self, request: http.Request) -> None:
        pass


def metrics_site(registry: CollectorRegistry) -> Site:
    """The site of the C{--metrics-port} listener, serving C{registry} at C{/metrics}."""
    root = _Root()
    root.putChild(b"metrics", MetricsPage(registry))
    site: Any = _QuietSite(root)
    site.displayTracebacks = False
    site.noisy = False
    return site  # type: ignore[no-any-return]
