# twisted.web's Request, Resource and Site have no type hints yet; everything
# here that calls them is typed, and --strict would flag each call.
# mypy: disable-error-code="no-untyped-call"
"""The web listener: one C{twisted.web} site for the page and its WebSocket.

C{/} is the page, C{/static/} its scripts and styles (shipped in the
package, never fetched from elsewhere), C{/ws} the WebSocket that speaks
L{chatsvc.protocols.web.wire}, C{/healthz} a plain C{ok} for load balancers.
Every response carries the security headers of L{SECURITY_HEADERS}; the
WebSocket upgrade is refused (403) to a page from an origin not allowed
(L{OriginPolicy}), so another site open in the same browser cannot talk as
its user (cross-site WebSocket hijacking).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from twisted.logger import Logger
from twisted.web import pages
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site
from twisted.web.websocket import WebSocketResource

from chatsvc.protocols.web.protocol import WebChatFactory

if TYPE_CHECKING:
    from chatsvc.hub.factory import ChatFactory

#: The page and its assets, inside the installed package.
STATIC = Path(str(files("chatsvc.protocols.web") / "static"))

#: Headers on every response.  The policy allows scripts, styles and
#: connections from this origin alone: no inline script (so text a user
#: managed to smuggle into markup could not run), no third-party host, no
#: framing (clickjacking), no plugins.
SECURITY_HEADERS = {
    b"Content-Security-Policy": (
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    b"X-Content-Type-Options": b"nosniff",
    b"X-Frame-Options": b"DENY",
    b"Referrer-Policy": b"no-referrer",
    b"Cross-Origin-Opener-Policy": b"same-origin",
}

_log = Logger()


def canonical_origin(origin: str) -> str | None:
    """C{scheme://host[:port]}, lowercased, the default port left out; C{None} if not one."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


class OriginPolicy:
    """Which pages may open the WebSocket (C{--web-origin}).

    With no list, only the page's own origin: the scheme of this listener
    and the C{Host} the browser asked for.  A request without an C{Origin}
    is not from a browser page (browsers always send one on a WebSocket),
    so it cannot be a hijacked session and is let through, as a command-line
    client is.
    """

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed = frozenset(allowed)

    def allows(self, request: Request) -> bool:
        raw = request.getHeader("origin")
        if raw is None:
            return True
        origin = canonical_origin(raw)
        if origin is None:
            return False
        if self.allowed:
            return origin in self.allowed
        host = request.getHeader("host")
        scheme = "https" if request.isSecure() else "http"
        return host is not None and origin == canonical_origin(f"{scheme}://{host}")


class SecureRequest(Request):
    """A request whose response, whatever it is (404s too), has the security headers."""

    def process(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.setHeader(name, value)
        super().process()


class Root(Resource):
    """The site's root: its children, and a plain 404 for anything else."""

    def getChild(self, path: bytes, request: Request) -> IResource:
        return pages.notFound()


class HeadLikeGet:
    """C{HEAD} answered as C{GET} without the body, its C{Content-Length} kept.

    Twisted answers a C{HEAD} with C{render_GET} and logs a warning for the
    body it then discards; load balancers and monitors send C{HEAD
    /healthz} every few seconds, which would fill the log.
    """

    def render_HEAD(self, request: Request) -> bytes:
        body: bytes = self.render_GET(request)  # type: ignore[attr-defined]
        request.setHeader(b"content-length", b"%d" % len(body))
        return b""


class Blob(HeadLikeGet, Resource):
    """One file held in memory: the page or one of its assets."""

    isLeaf = True

    def __init__(self, data: bytes, content_type: bytes, cache: bytes = b"no-cache") -> None:
        super().__init__()
        self.data = data
        self.content_type = content_type
        self.cache = cache

    def render_GET(self, request: Request) -> bytes:
        if request.postpath not in ([], [b""]):
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"not found\n"
        request.setHeader(b"content-type", self.content_type)
        request.setHeader(b"cache-control", self.cache)
        return self.data


#: The asset types the page uses; other files in the directory are not served.
CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
}


def assets(static: Path) -> Resource:
    """C{/static/}: every asset of the page, read once at start-up.

    A handful of small files: held in memory, they need no file system
    access per request, list no directory and cannot be walked out of.
    """
    directory = Root()
    for path in sorted(static.iterdir()):
        kind = CONTENT_TYPES.get(path.suffix)
        if kind is not None and path.is_file() and path.name != "index.html":
            directory.putChild(path.name.encode(), Blob(path.read_bytes(), kind))
    return directory


class Health(HeadLikeGet, Resource):
    """C{/healthz}: C{ok} while the server runs, for load balancers and monitors."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return b"ok\n"


class ChatSocket(WebSocketResource):
    """C{/ws}: Twisted's WebSocket resource, behind the origin check."""

    def __init__(self, factory: WebChatFactory, origins: OriginPolicy) -> None:
        super().__init__(factory)
        self.origins = origins

    def render_GET(self, request: Request) -> bytes | int:
        if not self.origins.allows(request):
            _log.info("web: refused a WebSocket from origin {origin!r}",
                      origin=request.getHeader("origin"))
            request.setResponseCode(403)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"origin not allowed\n"
        return super().render_GET(request)


def web_site(hub: ChatFactory, origins: Iterable[str] = (), static: Path = STATIC) -> Site:
    """The site of one C{--web-port} listener, attached to C{hub}."""
    root = Root()
    root.putChild(b"", Blob((static / "index.html").read_bytes(), CONTENT_TYPES[".html"]))
    root.putChild(b"static", assets(static))
    root.putChild(b"ws", ChatSocket(WebChatFactory(hub), OriginPolicy(origins)))
    root.putChild(b"healthz", Health())
    site: Any = Site(root)
    site.requestFactory = SecureRequest
    site.displayTracebacks = False
    site.noisy = False
    return site  # type: ignore[no-any-return]
