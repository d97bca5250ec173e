"""pytest fixtures for code that uses clientapi (registered through the `pytest11` entry point).

- `eventstore_node`: a fresh in-memory embedded node on a free port, stopped afterwards.
- `eventstore_client`: a `Client` connected to that node as admin, closed afterwards.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

from .client import Client

if TYPE_CHECKING:
    from .server import Node

ADMIN = ("admin", "changeit")


@pytest.fixture
def eventstore_node() -> Iterator["Node"]:
    from .server import Node  # the node is only imported by tests that use it

    node = Node(port=0)
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def eventstore_client(eventstore_node: "Node") -> Iterator[Client]:
    client = Client(eventstore_node.host, eventstore_node.port, username=ADMIN[0], password=ADMIN[1])
    try:
        yield client
    finally:
        client.close()
