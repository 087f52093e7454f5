"""``twistd chat``: command-line options and the service tree.

L{makeService} returns a L{ChatService} (a C{MultiService}, see
L{chatsvc.service.lifecycle}) holding one hub and one listening service per
listener, all sharing that hub.  Every option can also come from a
C{--config} TOML file (L{chatsvc.service.config}).
"""

from __future__ import annotations

import re
from typing import Any, cast

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService, Service
from twisted.internet import endpoints
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.protocol import ServerFactory
from twisted.python import usage
from twisted.python.failure import Failure

from chatsvc.accounts import kdf
from chatsvc.accounts.rules import AccountRules
from chatsvc.accounts.store import AccountStore
from chatsvc.conn.limits import check_fd_limit, check_networks, with_listen_backlog
from chatsvc.hub.factory import ChatFactory
from chatsvc.hub.names import BadName, check_room_name
from chatsvc.hub.registered import RoomRegistry
from chatsvc.hub.settings import Settings
from chatsvc.protocols.irc.protocol import DEFAULT_SERVER_INFO, IRCServer, usable_server_name
from chatsvc.protocols.web.site import canonical_origin, web_site
from chatsvc.service.config import ConfigError, ConfigFileMixin
from chatsvc.service.lifecycle import ChatService
from chatsvc.service.tls import ServerTLS, TLSConfigError, check_pem_directory
from chatsvc.store.delivery import MAX_REPLAY, HistoryDelivery
from chatsvc.store.retention import Retention, parse_age
from chatsvc.store.rooms import RoomStore
from chatsvc.store.service import HistoryService
from chatsvc.store.sqlite import HistoryStore, StoreError

_TLS_ENDPOINT_TYPES = ("ssl", "tls")

#: What C{--port} (or any listener option) may be set to for no listener at
#: all: C{none} is the documented spelling; C{off} and the empty string are
#: what operators try first (C{--port=} in a systemd drop-in, C{port = ""}).
OFF = frozenset({"", "none", "off"})

#: The plain listener when C{--port} is not given: loopback only, so a
#: server started to try it out, or for TLS or IRC only, offers no clear-text
#: port to the network.  A bare port number (C{--port 12345}) is all
#: interfaces, as before.
DEFAULT_PORT = "tcp:12345:interface=127.0.0.1"

#: Where the history is kept when C{--data-dir} is not given: beside where
#: the server was started, so the quick start keeps history with nothing to
#: set up (the systemd unit gives its StateDirectory=).  C{none}: no store.
DEFAULT_DATA_DIR = "./chatsvc-data"


def _default_room(value: str) -> str | None:
    """C{--room}: a room name, or C{none} for no default room.

    The words that turn a listener off (L{OFF}: C{none}, C{off}, empty)
    turn the default room off: no room's name is one of them (those start
    with C{#}).  Raises L{BadName} for anything else that is no room name.
    """
    if is_off(value):
        return None
    return check_room_name(value)


def is_off(value: str | None) -> bool:
    """Whether a listener option's C{value} asks for no listener."""
    return value is None or value.strip().lower() in OFF


class StartupFailure(SystemExit, Exception):
    """Exit with one line on stderr and a non-zero status, without a traceback.

    It is a C{SystemExit} so the interpreter prints just the message, and an
    C{Exception} so twistd's clean-up (removing its pid file) still runs.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"twistd chat: {message}")


def version_line() -> str:
    """C{chatsvc 0.1.0 (Twisted 26.10.0)}: what C{twistd chat --version} says."""
    from chatsvc import __version__
    from twisted import version as twisted_version

    return f"chatsvc {__version__} (Twisted {twisted_version.short()})"


def endpoint_string(value: str) -> str:
    """A bare port number means TCP on all interfaces; anything else is kept.

    Either way a listen backlog of 1024 is asked for unless the string names
    one (L{chatsvc.conn.limits.with_listen_backlog}).
    """
    value = value.strip()
    return with_listen_backlog(f"tcp:{value}" if value.isdigit() else value)


def _endpoint_type(description: str) -> str:
    return description.split(":", 1)[0].strip().lower()


def _fields(description: str) -> list[str]:
    """The fields of an endpoint string after its type (C{\\:} escapes a colon)."""
    return [field.replace("\\:", ":")
            for field in re.split(r"(?<!\\):", description.split(":", 1)[1])]


def _tls_directory(description: str) -> str:
    """The directory of PEM files of a C{tls:} server endpoint string
    (C{tls:DIRECTORY:port=N} or C{tls:path=DIRECTORY:...})."""
    fields = _fields(description)
    for field in fields:
        if field.startswith("path="):
            return field[len("path="):]
    positional = [field for field in fields if "=" not in field]
    return positional[0] if positional else ""


#: Endpoint types whose port is their first positional field (or C{port=}).
_PORT_FIRST_TYPES = ("tcp", "tcp6", "ssl")


def _check_port(description: str) -> None:
    """Raise C{ValueError} if a TCP-based endpoint string names no usable port.

    Twisted would accept C{tcp:99999} and fail only when binding, after
    start-up has begun, and C{tcp:abc} with Python's own words for it.
    """
    kind = _endpoint_type(description)
    if kind not in (*_PORT_FIRST_TYPES, "tls") or ":" not in description:
        return
    fields = _fields(description)
    named = [field[len("port="):] for field in fields if field.startswith("port=")]
    positional = [field for field in fields if "=" not in field]
    port = named[0] if named else (positional[0] if positional and kind != "tls" else None)
    if port is None:
        return  # Twisted names what is missing itself
    if not (port.isdigit() and int(port) <= 65535):
        raise ValueError(f"{port!r} is not a port number (0 to 65535)")


def _parse_endpoint(option: str, value: str) -> IStreamServerEndpoint:
    """The endpoint for C{value} as given to C{option}; errors quote C{value}
    as the operator wrote it, not as L{endpoint_string} completed it."""
    from twisted.internet import reactor

    description, shown = endpoint_string(value), value.strip()
    try:
        _check_port(description)
    except ValueError as why:
        raise usage.UsageError(f"{option} {shown!r}: {why}") from None
    if _endpoint_type(description) == "tls":
        try:
            check_pem_directory(_tls_directory(description))
        except TLSConfigError as why:
            raise usage.UsageError(f"{option} {shown!r}: {why}") from None
    try:
        return endpoints.serverFromString(reactor, description)
    except Exception as error:  # serverFromString raises many kinds
        raise usage.UsageError(f"{option} {shown!r}: {_explain(error, description)}") from None


def _explain(error: Exception, description: str) -> str:
    """What is wrong with endpoint string C{description}, in the operator's
    terms rather than Python's (C{invalid literal for int()}, C{list index
    out of range}, a missing positional argument)."""
    kind = _endpoint_type(description)
    if kind == "systemd" and isinstance(error, KeyError):
        return f"no socket {error} was passed by systemd (LISTEN_FDS, LISTEN_FDNAMES)"
    if kind == "systemd" and isinstance(error, IndexError):
        index = next((field[len("index="):] for field in _fields(description)
                      if field.startswith("index=")), "?")
        parser = getattr(endpoints, "_SystemdParser", None)
        passed = len(parser._sddaemon.inheritedDescriptors()) if parser else 0
        return (f"no socket index {index} was passed by systemd (it passed {passed}: "
                "start the service from a .socket unit, or listen on a port instead)")
    literal = re.fullmatch(r"invalid literal for int\(\) with base (\d+): '(.*)'", str(error))
    if isinstance(error, ValueError) and literal:
        base, value = literal.groups()
        names = [field.split("=", 1)[0] for field in _fields(description)
                 if "=" in field and field.split("=", 1)[1] == value]
        where = f"{names[0]}=" if names else "a field"
        number = "an octal number (such as 660)" if base == "8" else "a whole number"
        return f"{where}{value!r} is not {number}"
    missing = re.search(r"missing \d+ required positional argument(?:s)?: (.*)", str(error))
    if isinstance(error, TypeError) and missing:
        fields = ", ".join(f"{name}=..." for name in re.findall(r"'(\w+)'", missing[1]))
        return f"a {kind}: endpoint needs {fields}"
    if isinstance(error, TypeError) and "got multiple values for argument" in str(error):
        return ("more fields than it takes: write the colons of an IPv6 address "
                "as \\: (tcp6:6697:interface=\\:\\:1)")
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error) or repr(error)


class Options(ConfigFileMixin, usage.Options):
    synopsis = "[options]"
    longdesc = (
        "A chat server: telnet/netcat users on --port, TLS users on --tls-port, "
        "IRC clients on --irc-port/--irc-tls-port, all sharing names and rooms. "
        "Send #yourname to register, @name:text for a private message, /help for the rest."
    )
    optParameters = [
        ["port", "p", DEFAULT_PORT,
         "Plain listener (line protocol in clear text): a port number (every "
         "interface), a Twisted endpoint string (tcp:12345:interface=192.0.2.1, "
         "tcp6:12345:interface=\\:\\:1, systemd:domain=INET:index=0), or none for "
         "no plain listener (a TLS-only or IRC-only server). The default is on "
         "127.0.0.1 only."],
        ["tls-port", None, None,
         "TLS listener (line protocol over TLS, off by default): a port number (all "
         "interfaces; uses --tls-cert), an ssl:/tls: endpoint string, or another "
         "endpoint string (e.g. systemd:...) to wrap in TLS with --tls-cert; none: off."],
        ["tls-cert", None, None,
         "PEM file with the certificate chain, leaf first, and the private key "
         "unless --tls-key is given."],
        ["tls-key", None, None, "PEM file with the private key, if separate."],
        ["room", None, "#chat",
         "Name of the room line users are put in on registering, or 'none' for no "
         "default room (an IRC-only server: a fresh server has no rooms)."],
        ["name", None, "chatsvc", "Server name shown in the welcome line."],
        ["server-info", None, DEFAULT_SERVER_INFO,
         "The server's description, as IRC's LINKS shows it."],
        ["motd", None, None, "File whose lines are shown to each user after registering."],
        ["max-line", None, "4096", "Longest accepted line in bytes; longer lines are refused."],
        ["max-clients", None, "10000", "Most connections at once (0: no limit)."],
        ["max-backlog", None, "1048576",
         "Bytes of unsent output held for a client that is not reading, beyond "
         "the 64 KiB transport buffer; past it the client is dropped (0: no limit)."],
        ["max-per-ip", None, "16",
         "Most connections from one IPv4 address or IPv6 /64 (0: no limit)."],
        ["connect-rate", None, "32",
         "New connections one IPv4 address or IPv6 /64 may open per --connect-window; "
         "past it a connection is told when to try again and closed (0: no limit)."],
        ["connect-window", None, "600",
         "Seconds over which --connect-rate is counted (0: no limit)."],
        ["register-timeout", None, "60",
         "Seconds a connection may stay unregistered before it is closed (0: forever)."],
        ["flood-rate", None, "2",
         "Lines per second a client may send after its burst; faster lines are "
         "delayed (0: no flood control)."],
        ["flood-burst", None, "10",
         "Lines a client may send at once before --flood-rate applies (0: no flood control)."],
        ["flood-queue", None, "50",
         "Lines that may wait for their turn; one more and the client is "
         "disconnected for flooding."],
        ["irc-port", None, None,
         "IRC listener (off by default): a port number (all interfaces) or an "
         "endpoint string; an ssl:/tls: string makes it TLS; none: off."],
        ["irc-tls-port", None, None,
         "IRC over TLS (off by default): a port number (all interfaces) or an "
         "endpoint string, with --tls-cert; none: off."],
        ["password", None, None,
         "Server password every client must give before registering: line users "
         "with /pass, IRC users with PASS. It is visible in the process list; "
         "prefer the config file."],
        ["irc-ping-interval", None, "90",
         "Seconds of silence before the server PINGs an IRC client (0: never)."],
        ["irc-ping-timeout", None, "90",
         "Seconds an IRC client has to answer that PING before it is dropped."],
        ["web-port", None, None,
         "Web listener (off by default): the chat page at /, its WebSocket at /ws, "
         "/healthz; a port number (all interfaces) or an endpoint string "
         "(tcp:8080:interface=127.0.0.1); none: off."],
        ["web-tls-port", None, None,
         "Web listener over HTTPS/WSS (off by default): the same site as --web-port; "
         "a port number (all interfaces) or an endpoint string, with --tls-cert, or "
         "an ssl:/tls: string; none: off."],
        ["web-ping-interval", None, "60",
         "Seconds of silence before the server sends a web client a WebSocket ping "
         "(0: never)."],
        ["web-ping-timeout", None, "60",
         "Seconds a web client then has to answer (browsers do by themselves) before "
         "it is dropped."],
        ["metrics-port", None, None,
         "Prometheus metrics at /metrics (off by default; needs the metrics extra): a "
         "port number (all interfaces) or an endpoint string; keep it on loopback or a "
         "private network (tcp:9715:interface=127.0.0.1); none: off."],
        ["data-dir", None, DEFAULT_DATA_DIR,
         "Directory for the room history (an SQLite file, created if need be), "
         "or none to keep nothing on disk (no history)."],
        ["store", None, "sqlite",
         "Where the history and accounts are kept: sqlite (a file in --data-dir) or a "
         "PostgreSQL URL, postgresql://user@host/database (needs the postgres extra; "
         "--data-dir is then unused). Keep its password in ~/.pgpass, not here."],
        ["history-replay", None, "50",
         "Room messages a user is shown on joining a room (0: none; at most 500). "
         "Needs a --data-dir."],
        ["history-max-age", None, "none",
         "How long room messages are kept: a number and a unit (30d, 12h, 90min, "
         "2w); 0 or none: forever. Older ones are deleted in the background."],
        ["history-max-rows", None, "0",
         "The most messages kept per room, the newest (0: no limit). Older ones "
         "are deleted in the background."],
        ["account-grace", None, "60",
         "Seconds a user who takes a registered name has to log in to it before "
         "being renamed to a guest name. Accounts need a --data-dir."],
        ["history-joins", None, "off",
         "on: keep joins, parts and quits in the room history too, and replay them (off by "
         "default: they crowd out the messages, and they record who was where when). "
         "Topic changes are always kept."],
        ["account-password-min", None, str(kdf.MIN_PASSWORD),
         f"The fewest characters a new account password may have "
         f"({kdf.MIN_PASSWORD_LOWEST} to {kdf.MIN_PASSWORD_HIGHEST})."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["per-ip-exempt"] = []
        self["web-origin"] = []
        self["web-trusted-proxy"] = []
        # usage.Options takes opt_ methods' docstrings as they are, indentation
        # and all, and --help would show those runs of spaces: flow them.
        self.docs = {name: " ".join(doc.split()) if doc else doc
                     for name, doc in self.docs.items()}

    def opt_version(self) -> None:
        """Show chatsvc's version and Twisted's, and exit."""
        print(version_line())
        raise SystemExit(0)

    def opt_per_ip_exempt(self, value: str) -> None:
        """Address or network (127.0.0.1, 10.0.0.0/8, ::1) that --max-per-ip
        and --connect-rate do not apply to (as ergo's exempted list); repeat it
        or separate with commas.
        """
        self["per-ip-exempt"].extend(part for part in value.split(",") if part.strip())

    def opt_web_origin(self, value: str) -> None:
        """Origin (https://chat.example.org) whose pages may open the web
        listener's WebSocket; repeat it or separate with commas. By default
        only the page's own origin may: another site open in the same browser
        must not talk as its user."""
        for part in value.split(","):
            if not part.strip():
                continue
            origin = canonical_origin(part)
            if origin is None:
                raise usage.UsageError(f"--web-origin {part.strip()!r}: expected "
                                       "scheme://host[:port], like https://chat.example.org")
            self["web-origin"].append(origin)

    def opt_web_trusted_proxy(self, value: str) -> None:
        """Address or network of a reverse proxy (127.0.0.1/32, ::1/128) whose
        X-Forwarded-For the web listeners believe: the address it names is the
        user's host and counts for --max-per-ip and --connect-rate. From anyone
        else the header is ignored. Repeat it or separate with commas."""
        self["web-trusted-proxy"].extend(part for part in value.split(",") if part.strip())

    def opt_oper(self, value: str) -> None:
        """Server operator account NAME:PASSWORD for the /oper command
        (repeatable). A password on the command line is visible to other local
        users in ps: prefer the oper list of a --config file."""
        name, colon, password = value.partition(":")
        if not colon or not name.strip() or not password:
            raise usage.UsageError(f"--oper {name!r}...: expected NAME:PASSWORD")
        if len(name.split()) != 1 or len(password.split()) != 1 or password != password.strip():
            raise usage.UsageError(f"--oper {name!r}...: no spaces in the name or password "
                                   "(they are typed as /oper NAME PASSWORD)")
        self.setdefault("oper-accounts", {})[name.strip()] = password

    def parseOptions(self, options: list[str] | None = None) -> None:
        # twistd answers a UsageError with its whole --help text; one line
        # naming the problem serves an operator better.
        try:
            super().parseOptions(options)
        except ConfigError as error:
            raise StartupFailure(str(error)) from None
        except usage.UsageError as error:
            raise StartupFailure(f"{error} (see: twistd chat --help)") from None

    def postOptions(self) -> None:
        if any(ord(char) < 32 or ord(char) == 127 for char in self["name"]):
            raise usage.UsageError(f"--name {self['name']!r}: no control characters")
        if any(ord(char) < 32 or ord(char) == 127 for char in self["server-info"]):
            raise usage.UsageError(
                f"--server-info {self['server-info']!r}: no control characters")
        settings = Settings(server_name=self["name"])
        settings.max_line = _positive_int(self, "max-line", minimum=1)
        settings.max_clients = _positive_int(self, "max-clients")
        settings.max_backlog = _positive_int(self, "max-backlog")
        settings.max_per_ip = _positive_int(self, "max-per-ip")
        settings.connect_rate = _positive_int(self, "connect-rate")
        settings.connect_window = _positive_number(self, "connect-window")
        settings.register_timeout = _positive_number(self, "register-timeout")
        settings.flood_rate = _positive_number(self, "flood-rate")
        settings.flood_burst = _positive_int(self, "flood-burst")
        settings.flood_queue = _positive_int(self, "flood-queue")
        try:
            settings.per_ip_exempt = check_networks(self["per-ip-exempt"])
        except ValueError as error:
            raise usage.UsageError(f"--per-ip-exempt: {error}") from None
        try:
            settings.room = _default_room(self["room"])
        except BadName as why:
            raise usage.UsageError(f"--room {self['room']!r}: {why}") from None
        if self["motd"]:
            settings.motd = _read_motd(self["motd"])
        settings.opers = dict(self.get("oper-accounts", {}))
        settings.password = self["password"] or None
        settings.irc_ping_interval = _positive_int(self, "irc-ping-interval")
        settings.irc_ping_timeout = _positive_int(self, "irc-ping-timeout", minimum=1)
        settings.web_ping_interval = _positive_int(self, "web-ping-interval")
        settings.web_ping_timeout = _positive_int(self, "web-ping-timeout", minimum=1)
        try:
            settings.web_trusted_proxies = check_networks(self["web-trusted-proxy"])
        except ValueError as error:
            raise usage.UsageError(f"--web-trusted-proxy: {error}") from None
        self["settings"] = settings
        self["store"] = _store(self["store"])
        # --data-dir none keeps nothing, unless --store names a database elsewhere
        self["history"] = (None if is_off(self["data-dir"]) and self["store"] == "sqlite"
                           else self["data-dir"])
        self["replay"] = _positive_int(self, "history-replay")
        joins = str(self["history-joins"]).strip().lower()
        if joins not in ("on", "off"):
            raise usage.UsageError(f"--history-joins {self['history-joins']!r}: on or off")
        self["joins"] = joins == "on"
        self["grace"] = _positive_number(self, "account-grace")
        self["password_min"] = _positive_int(self, "account-password-min",
                                             minimum=kdf.MIN_PASSWORD_LOWEST)
        if self["password_min"] > kdf.MIN_PASSWORD_HIGHEST:
            raise usage.UsageError(f"--account-password-min {self['account-password-min']!r}: "
                                   f"at most {kdf.MIN_PASSWORD_HIGHEST}")
        if self["replay"] > MAX_REPLAY:
            raise usage.UsageError(f"--history-replay {self['history-replay']!r}: "
                                   f"at most {MAX_REPLAY}")
        try:
            max_age = parse_age(str(self["history-max-age"]))
        except ValueError as why:
            raise usage.UsageError(
                f"--history-max-age {self['history-max-age']!r}: {why}") from None
        self["retention"] = Retention(max_age, _positive_int(self, "history-max-rows") or None)

        self["listeners"] = []
        if not is_off(self["port"]):
            self["listeners"].append(("--port", _parse_endpoint("--port", self["port"])))
        if not is_off(self["tls-port"]):
            self["listeners"].append(("--tls-port", self._tls_endpoint("tls-port")))
        self["irc_listeners"] = []
        if not is_off(self["irc-port"]):
            self["irc_listeners"].append(
                ("--irc-port", _parse_endpoint("--irc-port", self["irc-port"])))
        if not is_off(self["irc-tls-port"]):
            self["irc_listeners"].append(("--irc-tls-port", self._tls_endpoint("irc-tls-port")))
        self["web_listeners"] = []
        if not is_off(self["web-port"]):
            self["web_listeners"].append(
                ("--web-port", _parse_endpoint("--web-port", self["web-port"])))
        if not is_off(self["web-tls-port"]):
            self["web_listeners"].append(("--web-tls-port", self._tls_endpoint("web-tls-port")))
        self["metrics_listeners"] = []
        if not is_off(self["metrics-port"]):
            from chatsvc import metrics

            if not metrics.available():
                raise usage.UsageError(metrics.MISSING)
            self["metrics_listeners"].append(
                ("--metrics-port", _parse_endpoint("--metrics-port", self["metrics-port"])))
        if self["web-origin"] and not self["web_listeners"]:
            raise usage.UsageError("--web-origin needs --web-port or --web-tls-port")
        if self["web-trusted-proxy"] and not self["web_listeners"]:
            raise usage.UsageError("--web-trusted-proxy needs --web-port or --web-tls-port")
        if not self["listeners"] and not self["irc_listeners"] and not self["web_listeners"]:
            raise usage.UsageError(
                "--port is none and no other listener is set: give --tls-port, "
                "--irc-port or --irc-tls-port, or a --port, or --web-port or --web-tls-port")
        if (self["tls-cert"] or self["tls-key"]) and "tls" not in self:
            raise usage.UsageError(
                "--tls-cert/--tls-key need --tls-port or --irc-tls-port (or --web-tls-port)")
        if self["irc_listeners"] and not usable_server_name(self["name"]):
            raise usage.UsageError(
                f"--name {self['name']!r}: not usable as an IRC server name (it prefixes "
                "every IRC line: no spaces or control characters, not empty, not starting "
                "with ':')")

    def _tls_endpoint(self, key: str) -> IStreamServerEndpoint:
        option = f"--{key}"
        description = endpoint_string(self[key])
        if _endpoint_type(description) in _TLS_ENDPOINT_TYPES:
            if self["tls-cert"] or self["tls-key"]:
                raise usage.UsageError(
                    f"{option} is a full TLS endpoint string; give the certificate "
                    "inside it, not with --tls-cert/--tls-key"
                )
            return _parse_endpoint(option, self[key])
        if not self["tls-cert"]:
            raise usage.UsageError(f"{option} needs --tls-cert (or a full ssl: endpoint string)")
        tls = self.get("tls")
        if tls is None:
            try:
                tls = ServerTLS(self["tls-cert"], self["tls-key"])
            except TLSConfigError as error:
                raise usage.UsageError(str(error)) from None
            self["tls"] = tls
        return endpoints.wrapServerTLS(tls, _parse_endpoint(option, self[key]))


def _positive_int(options: Options, key: str, minimum: int = 0) -> int:
    value = options[key]
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise usage.UsageError(f"--{key} {value!r}: not a whole number") from None
    if number < minimum:
        raise usage.UsageError(f"--{key} {value!r}: must be at least {minimum}")
    return number


def _positive_number(options: Options, key: str) -> float:
    value = options[key]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise usage.UsageError(f"--{key} {value!r}: not a number") from None
    if not number >= 0 or number == float("inf"):
        raise usage.UsageError(f"--{key} {value!r}: must be a finite number, at least 0")
    return number


def _read_motd(path: str) -> list[str]:
    from chatsvc.hub.text import sanitize

    try:
        with open(path, encoding="utf-8", errors="replace") as motd:
            return [sanitize(line.rstrip("\r\n")) for line in motd]
    except OSError as error:
        raise usage.UsageError(f"--motd {path}: {error.strerror or error}") from None


def address_text(address: object) -> str:
    """Where a listener is, as an operator would type it: C{127.0.0.1:12345},
    C{[::]:6697}, or a UNIX socket's path."""
    if isinstance(address, IPv6Address):
        return f"[{address.host}]:{address.port}"
    if isinstance(address, IPv4Address):
        return f"{address.host}:{address.port}"
    if isinstance(address, UNIXAddress):
        name = address.name
        return name.decode(errors="replace") if isinstance(name, bytes) else str(name)
    return str(address)


def _listen_error(error: BaseException) -> str:
    """C{127.0.0.1:23: Permission denied}, not Twisted's C{Couldn't listen on
    127.0.0.1:23: [Errno 13] Permission denied.}"""
    if isinstance(error, CannotListenError):
        interface = error.interface or "0.0.0.0"
        place = f"[{interface}]" if ":" in interface else interface
        reason = getattr(error.socketError, "strerror", None) or error.socketError
        return f"{place}:{error.port}: {reason}"
    return str(error) or repr(error)


class _NamedFactory(ServerFactory):
    """The factory a listener's port is given: builds C{factory}'s protocols
    and names the protocol in Twisted's own port lines (C{line protocol
    starting on 12345}, not C{ChatFactory starting on 12345}) without the
    C{Starting factory <...>} noise."""

    noisy = False

    def __init__(self, factory: ServerFactory, what: str) -> None:
        self.factory = factory
        self.what = what

    def logPrefix(self) -> str:
        return self.what

    def buildProtocol(self, addr: Any) -> Any:
        return self.factory.buildProtocol(addr)

    def doStart(self) -> None:
        self.factory.doStart()

    def doStop(self) -> None:
        self.factory.doStop()


class ListenerService(StreamServerEndpointService):
    """One listener; failing to listen ends start-up with one clear line.

    @ivar what: the protocol it serves, for the log (C{IRC over TLS}).
    @ivar port: the listening port once bound, else L{None}.
    """

    _raiseSynchronously = True

    def __init__(self, option: str, endpoint: IStreamServerEndpoint, factory: Any,
                 what: str | None = None) -> None:
        super().__init__(endpoint, factory)
        self.option = option
        self.what = what or option
        self.port: IListeningPort | None = None

    def listen_now(self) -> None:
        """Bind the port now, before the service starts; raise
        L{StartupFailure} if it cannot be.

        twistd calls C{makeService} before it logs anything or forks into
        the background, and reports a C{SystemExit} from there as its bare
        message on stderr.  A failure in C{privilegedStartService} instead
        comes after the fork: the background parent prints its first 100
        bytes as a bytes repr, the foreground one wraps it in a log line.
        """
        named = _NamedFactory(self.factory, self.what.removesuffix(" over TLS"))
        waiting = maybeDeferred(self.endpoint.listen, named)
        outcome: list[object] = []
        waiting.addBoth(outcome.append)
        if outcome and isinstance(outcome[0], Failure):
            raise StartupFailure(f"cannot listen for {self.option}: "
                                 f"{_listen_error(outcome[0].value)}")
        if outcome:
            self.port = cast(IListeningPort, outcome[0])
            self._waitingForPort = succeed(self.port)
            return
        # An endpoint that binds later: whenListening and stopService wait for it.
        self._waitingForPort = Deferred()

        def bound(port: IListeningPort) -> IListeningPort:
            self.port = port
            return port

        waiting.addCallback(bound).chainDeferred(self._waitingForPort)

    def privilegedStartService(self) -> None:
        Service.privilegedStartService(self)
        if self._waitingForPort is None:
            self.listen_now()

    def whenListening(self) -> Deferred[IListeningPort]:
        """Fire with the listening port once bound (after the service started)."""
        listening: Deferred[IListeningPort] = Deferred()

        def relay(result: IListeningPort) -> IListeningPort:
            listening.callback(result)
            return result

        self._waitingForPort.addBoth(relay)
        return listening

    def where(self) -> str:
        """C{line protocol on 127.0.0.1:12345}: what it serves and the real
        bound address (the port the system chose for port 0)."""
        place = address_text(self.port.getHost()) if self.port is not None else "(not bound)"
        return f"{self.what} on {place}"


def _what(option: str, options: Options) -> str:
    """The protocol a listener option serves, as the log names it."""
    key = option.lstrip("-")
    protocol = ("IRC" if key.startswith("irc-") else
                "web" if key.startswith("web-") else
                "metrics" if key.startswith("metrics-") else "line protocol")
    tls = key.endswith("tls-port") or _endpoint_type(
        endpoint_string(options[key])) in _TLS_ENDPOINT_TYPES
    return f"{protocol} over TLS" if tls else protocol


def makeService(options: Options) -> IService:
    """Build the service tree: every listener shares one hub.

    Nothing is bound yet (tests start the tree themselves); twistd runs
    L{makeListeningService}, which binds the ports too.
    """
    history = _history(options)
    hub = ChatFactory(options["settings"], delivery=history)
    if history is not None:  # accounts live in the same database
        AccountRules(hub, AccountStore(history.store), grace=options["grace"],
                     password_min=options["password_min"])
        RoomRegistry(hub, RoomStore(history.store))  # registered rooms, loaded now
    # Twisted's "Starting factory <chatsvc.hub.factory.ChatFactory object at
    # 0x...>" names a class, not a listener: ChatService logs each listener.
    hub.noisy = False
    check_fd_limit(hub.settings.max_clients)
    root = ChatService(hub, handle_signals=True)
    if history is not None:
        HistoryService(history.store, history.retention).setServiceParent(root)
    for option, endpoint in options["listeners"]:
        ListenerService(option, endpoint, hub, _what(option, options)).setServiceParent(root)
    if options["irc_listeners"]:
        irc = IRCServer(hub, info=options["server-info"])
        for option, endpoint in options["irc_listeners"]:
            factory = irc.factory()
            factory.noisy = False
            ListenerService(option, endpoint, factory,
                            _what(option, options)).setServiceParent(root)
    for option, endpoint in options["web_listeners"]:
        ListenerService(option, endpoint, web_site(hub, options["web-origin"]),
                        _what(option, options)).setServiceParent(root)
    for option, endpoint in options["metrics_listeners"]:
        from chatsvc.metrics.service import metrics_for

        site, lag = metrics_for(hub)
        lag.setServiceParent(root)
        ListenerService(option, endpoint, site, _what(option, options)).setServiceParent(root)
    if options["motd"]:
        path = options["motd"]

        def reload_motd() -> None:
            hub.settings.motd = _read_motd(path)

        root.add_reloader(f"MOTD {path}", reload_motd)
    if options.get("tls") is not None:
        root.add_reloader("TLS certificate", options["tls"].reload)
    return root


def _store(value: str) -> str:
    """C{--store}: C{sqlite}, or a PostgreSQL URL (checked, not yet connected)."""
    from chatsvc.store.postgres import check_url, is_postgres_url

    if value.strip().lower() in ("", "sqlite"):
        return "sqlite"
    if not is_postgres_url(value):
        raise usage.UsageError(f"--store {value!r}: expected sqlite or "
                               "postgresql://user@host/database")
    try:
        return check_url(value)
    except ValueError as why:
        raise usage.UsageError(f"--store: {why}") from None


def _history(options: Options) -> HistoryDelivery | None:
    """The history delivery over the store in C{--data-dir}, or C{None} for none.

    Opens the store here, as listeners bind early (L{makeListeningService}):
    a corrupt or unwritable data directory is one line on stderr and exit
    status 1, before twistd forks.
    """
    directory = options.get("history")
    if directory is None:
        return None
    from twisted.internet import reactor

    where = options.get("store", "sqlite")
    try:
        store = HistoryStore.open(directory, cast(Any, reactor), where)
    except StoreError as error:
        option = "--data-dir" if where == "sqlite" else "--store"
        raise StartupFailure(f"{option}: {error}") from None
    return HistoryDelivery(store, options["replay"], retention=options["retention"],
                           joins=options["joins"])


def makeListeningService(options: Options) -> IService:
    """What twistd runs: L{makeService}, with every port bound already.

    Binding here, while twistd is still in the foreground and has not yet
    taken over stderr, makes a port in use (or any other failure to listen)
    one line on stderr and exit status 1, with or without C{-n}; see
    L{ListenerService.listen_now}.  Privileged ports work as before: twistd
    has not shed privileges yet either.
    """
    root = makeService(options)
    for child in cast(Any, root):
        if isinstance(child, ListenerService):
            child.listen_now()
    return root
