"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest
from support import CertFiles, make_certificates


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    """A CA and a server certificate (localhost, 127.0.0.1), generated once."""
    return make_certificates(tmp_path_factory.mktemp("certs"))
