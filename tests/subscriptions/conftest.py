"""Fixtures for catch-up subscription tests: embedded nodes over real sockets, clients,
a recorder of delivered events, and a node in a process of its own that can be
restarted on the same port and database."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Callable, List, Optional

import pytest

from clientapi import Client, WriteEvent

ADMIN = ("admin", "changeit")


def make_client(host: str, port: int, credentials=ADMIN, **options) -> Client:
    username, password = credentials or (None, None)
    return Client(host, port, username=username, password=password, **options)


@pytest.fixture(scope="session")
def shared_node():
    from clientapi.server import Node

    node = Node(port=0)
    node.start()
    yield node
    node.stop()


@pytest.fixture
def fresh_node():
    """A node of its own, for tests that read the whole of `$all`."""
    from clientapi.server import Node

    node = Node(port=0)
    node.start()
    yield node
    node.stop()


@pytest.fixture
def client(shared_node):
    client = make_client(shared_node.host, shared_node.port)
    yield client
    client.close()  # stops its subscriptions too


@pytest.fixture
def stream():
    return "sub-test-" + uuid.uuid4().hex[:12]


def numbered(count: int, first: int = 0, event_type: str = "numbered") -> List[WriteEvent]:
    return [WriteEvent({"i": i}, is_json=True, event_type=event_type)
            for i in range(first, first + count)]


def append_in_batches(client: Client, stream_id: str, count: int, first: int = 0,
                      batch: int = 250) -> None:
    for start in range(first, first + count, batch):
        client.append_to_stream(stream_id, numbered(min(batch, first + count - start), start))


class Recorder:
    """A callback that keeps what it is given and resumes `wait()` once it has `until`."""

    def __init__(self, client: Client, until: Optional[int] = None,
                 then: Optional[Callable[["Recorder"], None]] = None):
        self.client = client
        self.until = until
        self.then = then
        self.events: list = []
        self.errors: list = []
        self.live_at: List[int] = []

    def __call__(self, event) -> None:
        self.events.append(event)
        if self.then is not None:
            self.then(self)
        if self.until is not None and len(self.events) == self.until:
            self.client.resume()

    def on_live(self) -> None:
        self.live_at.append(len(self.events))

    def on_error(self, error) -> None:
        self.errors.append(error)

    @property
    def numbers(self) -> List[int]:
        return [e.event_number for e in self.events]


def run_loop_for(client: Client, seconds: float) -> None:
    """Let the client's loop run (callbacks included) for a while."""
    client.io_loop.call_later(seconds, client.resume)
    client.wait(timeout=seconds + 10)


# --- a node in a process of its own -----------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NodeProcess:
    """`python -m clientapi.server --port P --db DIR`, stopped and started again at will."""

    def __init__(self, db: str, port: int):
        self.db, self.port, self.host = db, port, "127.0.0.1"
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        environment = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, environment.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clientapi.server", "--port", str(self.port), "--db", self.db],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environment, text=True)
        line = self.process.stdout.readline()  # printed once it accepts connections
        if "listening" not in line:
            self.stop()
            raise RuntimeError("the node process did not start: {!r}".format(line))

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=20)
        finally:
            self.process.stdout.close()
            self.process = None


@pytest.fixture
def node_process(tmp_path):
    node = NodeProcess(str(tmp_path / "db"), free_port())
    node.start()
    yield node
    node.stop()
