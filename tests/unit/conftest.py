"""Unit-test fixtures: a canned BSG answering only what each test scripts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.canned_bsg import CannedBsg


@pytest.fixture
async def canned_bsg() -> AsyncIterator[CannedBsg]:
    """A BSG stand-in on 127.0.0.1 that answers what the test scripts (`on`, `script`)."""
    server = CannedBsg()
    await server.start()
    yield server
    await server.stop()
