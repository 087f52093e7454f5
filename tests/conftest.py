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
