"""A node in a process of its own (projections on) shared by the chat tests, and chat
participants as processes, all stopped at the end."""
from __future__ import annotations

import re
import sys
from typing import Callable, Iterator, List, Optional

import pytest

from clientapi import Client

from .processes import CHAT_SCRIPT, LineProcess

# The chat's helper modules live beside the script, which imports them as top-level modules.
sys.path.insert(0, str(CHAT_SCRIPT.parent))

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
ADMIN = {"username": "admin", "password": "changeit"}


class NodeProcess:
    """`python -m clientapi.server` on a free port, in memory, running projections."""

    def __init__(self) -> None:
        self.process = LineProcess(["-m", "clientapi.server", "--port", "0", "--mem",
                                    "--run-projections", "all"], "the node")
        try:
            self.port = int(self.process.expect_match(LISTENING).group(1))
        except AssertionError:
            self.process.stop()
            raise

    def client(self) -> Client:
        return Client("127.0.0.1", self.port, **ADMIN)


@pytest.fixture(scope="module")
def chat_node() -> Iterator[NodeProcess]:
    node = NodeProcess()
    yield node
    node.process.stop()


@pytest.fixture
def start_chat(chat_node: NodeProcess) -> Iterator[Callable[..., LineProcess]]:
    """start_chat(name, room, port=the node's) -> a participant whose input is a pipe;
    with name None the chat asks for the name."""
    started: List[LineProcess] = []

    def start(name: Optional[str], room: str, port: Optional[int] = None) -> LineProcess:
        arguments = [str(CHAT_SCRIPT), "--port", str(port or chat_node.port), "--room", room]
        if name is not None:
            arguments += ["--name", name]
        participant = LineProcess(arguments, name or "a participant asked for a name")
        started.append(participant)
        return participant

    yield start
    for participant in started:
        participant.stop()
