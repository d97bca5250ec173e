"""A node with every projection running, shared by the projections tests."""
from __future__ import annotations

from typing import Iterator

import pytest

from clientapi.server import Node

from .api import Api


@pytest.fixture(scope="session")
def projections_node() -> Iterator[Node]:
    with Node(port=0, run_projections="all", start_standard_projections=True) as node:
        yield node


@pytest.fixture
def api(projections_node: Node) -> Iterator[Api]:
    connection = Api(projections_node)
    yield connection
    connection.close()
