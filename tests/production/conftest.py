"""Fixtures of the production-use tests: an in-process node, clients, a test certificate."""
from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from clientapi import Client
from clientapi.server import Node
from clientapi.server.tls import CertificatePair, make_self_signed_certificate, openssl_available

ADMIN = ("admin", "changeit")


def pytest_collection_modifyitems(config, items):
    # Warnings are errors here (no deprecated tornado/asyncio use, no unclosed resources).
    for item in items:
        if "tests/production/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings("error"))


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
