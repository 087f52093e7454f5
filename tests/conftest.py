"""Fixtures shared by the test modules."""

from __future__ import annotations

import os

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
