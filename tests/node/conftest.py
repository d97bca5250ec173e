"""Fixtures: one node started in-process on a free port for the session, a keep-alive
connection per test, and a fresh stream name per test."""
from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from clientapi.server import Node
from node_http import Http


@pytest.fixture(scope="session")
def node() -> Iterator[Node]:
    with Node(port=0) as running:
        yield running


@pytest.fixture
def client(node: Node) -> Iterator[Http]:
    connection = Http(node)
    yield connection
    connection.close()


@pytest.fixture
def stream() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"
