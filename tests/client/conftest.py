import asyncio
import uuid

import pytest

from clientapi import Client
from clientapi.transport import Transport, curl_available
# The public fixtures (also registered by the `pytest11` entry point once installed).
from clientapi.pytest_plugin import eventstore_client, eventstore_node  # noqa: F401

ADMIN = ("admin", "changeit")


def pytest_collection_modifyitems(config, items):
    # Warnings are errors in the client's tests (no deprecated tornado/asyncio use).
    for item in items:
        if "tests/client/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings("error"))


@pytest.fixture(scope="session")
def shared_node():
    """One node for the whole client suite (tests use fresh stream names); tests that
    need a pristine node take `eventstore_node`."""
    from clientapi.server import Node

    node = Node(port=0)
    node.start()
    yield node
    node.stop()


@pytest.fixture
def client(shared_node):
    with Client(shared_node.host, shared_node.port, username=ADMIN[0], password=ADMIN[1]) as client:
        yield client


@pytest.fixture
def anonymous(shared_node):
    with Client(shared_node.host, shared_node.port) as client:
        yield client


@pytest.fixture(params=["native", "curl", "simple"])
def engine(request):
    """Each HTTP engine: our own connections, and tornado's two clients (curl only when
    pycurl is installed)."""
    if request.param == "curl" and not curl_available():
        pytest.skip("pycurl is not installed")
    return request.param


@pytest.fixture
def stream():
    return "client-test-" + uuid.uuid4().hex


@pytest.fixture
def sent(monkeypatch):
    """Every request the transport sends (over the real socket), in order."""
    log = []
    original = Transport.send

    async def recording_send(self, request, credentials=None):
        log.append(request)
        return await original(self, request, credentials)

    monkeypatch.setattr(Transport, "send", recording_send)
    return log


class Caller:
    """Calls an operation in one of the three ways a user can."""

    def __init__(self, client, mode, runner):
        self.client, self.mode, self.runner = client, mode, runner

    def __call__(self, name, *args, **kwargs):
        if self.mode == "blocking":
            return getattr(self.client, name)(*args, **kwargs)
        if self.mode == "await":
            async def awaited():
                return await getattr(self.client, name + "_async")(*args, **kwargs)
            return self.runner.run(awaited())
        return self._with_callbacks(name, args, kwargs)

    def _with_callbacks(self, name, args, kwargs):
        results, failures = [], []
        loop = self.client.io_loop.asyncio_loop

        def on_success(result):
            assert asyncio.get_running_loop() is loop
            results.append(result)
            self.client.resume()

        def on_failed(error):
            assert asyncio.get_running_loop() is loop
            failures.append(error)
            self.client.resume()

        future = getattr(self.client, name + "_async")(*args, on_success=on_success,
                                                       on_failed=on_failed, **kwargs)
        assert not results and not failures  # callbacks only run inside wait()
        self.client.wait(timeout=20)
        assert len(results) + len(failures) == 1 and future.done()
        if failures:
            assert future.exception() is failures[0]
            raise failures[0]
        assert future.result() is results[0]
        return results[0]


class UserLoop:
    """The caller's own asyncio loop (asyncio.Runner exists only from Python 3.11)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def close(self):
        self.loop.close()


@pytest.fixture(params=["blocking", "callbacks", "await"])
def call(request, shared_node, engine):
    """An operation caller in each mode, over each HTTP engine."""
    client = Client(shared_node.host, shared_node.port, username=ADMIN[0], password=ADMIN[1],
                    http_client=engine)
    runner = UserLoop()
    yield Caller(client, request.param, runner)
    runner.run(_close(client))  # close the transport on the loop it lives on
    runner.close()
    client.close()


async def _close(client):
    client.close()
