"""Fixtures of the fault tests: the node in-process (fuzzing, limits, security) and as a
process of its own (crash safety, restarts)."""
from __future__ import annotations

import uuid
from typing import Callable, Iterator, List

import pytest

from clientapi import Client
from clientapi.server import Node

from .processes import NodeProcess

ADMIN = ("admin", "changeit")


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A node in memory, in this process, on a free port."""
    with Node(port=0) as running:
        yield running


@pytest.fixture
def admin(node: Node) -> Iterator[Client]:
    with Client(node.host, node.port, *ADMIN) as client:
        yield client


@pytest.fixture
def stream_name() -> str:
    return "faults-" + uuid.uuid4().hex[:12]


@pytest.fixture
def node_process(tmp_path) -> Iterator[Callable[..., NodeProcess]]:
    """Factory: `node_process(*extra_arguments)` starts a node process on a fresh database
    directory; every process still running at the end is killed."""
    started: List[NodeProcess] = []

    def start(*extra_arguments: str) -> NodeProcess:
        process = NodeProcess(str(tmp_path / f"db{len(started)}"), extra_arguments=extra_arguments)
        started.append(process)
        process.start()
        return process
    yield start
    for process in started:
        process.kill()
