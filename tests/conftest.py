"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from support import CertFiles, make_certificates

# CI runs on a small shared machine: a per-example deadline there measures the
# machine's load, not our code, and a random seed makes a red build
# unrepeatable.  Locally, hypothesis keeps exploring new examples each run.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    """A CA and a server certificate (localhost, 127.0.0.1), generated once."""
    return make_certificates(tmp_path_factory.mktemp("certs"))


# -- unit tests stay in memory -----------------------------------------------
#
# Tests that cross a real wire (sockets, subprocesses, real clients) carry the
# ``integration`` marker, so ``pytest -m "not integration"`` is the fast,
# in-memory half of the suite.  Rather than trusting the markers to be right,
# every other test runs with network sockets and new processes refused: a
# unit test that opens one fails at once, naming the marker it needs.

_NETWORK_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def _refusing(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(self: socket.socket, address: Any, *args: Any) -> Any:
        if self.family in _NETWORK_FAMILIES:
            raise AssertionError(f"a unit test used a network socket ({name} {address!r}): "
                                 "mark it @pytest.mark.integration")
        return original(self, address, *args)
    return guarded


def _no_processes(self: subprocess.Popen[Any], args: Any, *rest: Any, **options: Any) -> None:
    raise AssertionError(f"a unit test started a process ({args!r}): "
                         "mark it @pytest.mark.integration")


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_memory(request: pytest.FixtureRequest,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("integration") is not None:
        return
    for name in ("bind", "connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, _refusing(name, getattr(socket.socket, name)))
    monkeypatch.setattr(subprocess.Popen, "__init__", _no_processes)


# -- in-process servers keep no history unless a test asks -------------------
#
# ``--data-dir`` defaults to ./chatsvc-data, relative to where the server
# starts: for a test building the service in this process, the checkout,
# shared by every test.  So in-process tests default to ``--data-dir none``
# (no store: the server as before issue 18); the history tests give a
# directory of their own.  Servers started as processes run in a temporary
# directory and keep the real default.

@pytest.fixture(autouse=True)
def _no_shared_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatsvc.service import tap

    parameters = [[*parameter[:2], "none", *parameter[3:]] if parameter[0] == "data-dir"
                  else parameter for parameter in tap.Options.optParameters]
    monkeypatch.setattr(tap.Options, "optParameters", parameters)


# -- the store on both backends ---------------------------------------------------
#
# The store's suites take the ``backend`` fixture: each of their tests runs on
# SQLite (in memory, in the fast half) and on PostgreSQL (a real server,
# started once per session by tests/pg_server.py; integration, as it is a
# process and a wire).  Each PostgreSQL test gets a schema of its own.

@pytest.fixture(scope="session")
def postgres_server() -> Any:
    """A real PostgreSQL server for the session, or a skip saying why not."""
    import pg_server

    why = pg_server.unavailable()
    if why is not None:
        pytest.skip(why)
    server = pg_server.start()
    yield server
    server.stop()


class StoreBackend:
    """Connections to a fresh database of one backend (the one a test runs on).

    L{connect} gives a new connection, migrated, to the same database each
    time it is called in a test: a restart is a second call.
    """

    def __init__(self, name: str, server: Any = None) -> None:
        self.name = name
        self.server = server
        self._connections: list[Any] = []
        self.schema: str | None = None
        if server is not None:
            self.schema = server.next_name("t")
            with server.admin() as admin:
                admin.execute(f"CREATE SCHEMA {self.schema}")

    @property
    def url(self) -> str:
        """The PostgreSQL URL of this test's database (its own schema)."""
        assert self.server is not None and self.schema is not None
        return self.server.url(options=f"-csearch_path%3D{self.schema}")

    @property
    def postgres(self) -> bool:
        return self.server is not None

    def connect(self, migrated: bool = True) -> Any:
        import sqlite3

        from chatsvc.store.sqlite import migrate

        if self.server is None:
            connection: Any = sqlite3.connect(":memory:", check_same_thread=False,
                                              isolation_level=None)
        else:
            from chatsvc.store.postgres import connect

            connection = connect(self.url)
        self._connections.append(connection)
        if migrated:
            migrate(connection)
        return connection

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        if self.server is not None:
            with self.server.admin() as admin:
                admin.execute(f"DROP SCHEMA {self.schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> Any:
    """The store's backend for this run of the test: SQLite, then PostgreSQL."""
    server = request.getfixturevalue("postgres_server") if request.param == "postgresql" \
        else None
    chosen = StoreBackend(request.param, server)
    yield chosen
    chosen.close()


@pytest.fixture
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at 1/16 of the real memory cost: the same code, faster tests
    (the account tests' modules use it: C{pytestmark = usefixtures(...)})."""
    from chatsvc.accounts import kdf

    monkeypatch.setattr(kdf, "N", 2 ** 10)
