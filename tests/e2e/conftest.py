"""Fixtures the end-to-end tests share."""

import os

import pytest


@pytest.fixture(scope="session")
def cuvee_binary():
    """The cuvee binary under test (CUVEE_BIN; scripts/test.sh sets it)."""
    binary = os.environ.get("CUVEE_BIN")
    assert binary and os.path.exists(binary), "set CUVEE_BIN to the cuvee binary (scripts/test.sh does)"
    return binary
