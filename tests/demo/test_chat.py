"""The chat demo end to end: participants are separate processes with piped input, talking
through a node process that runs the chat's projection."""
from __future__ import annotations

import re
import socket
import uuid
from typing import List

from clientapi.projections import Projections, ProjectionStatus

from chat_events import PROJECTION_NAME
from chat_setup import ensure_projection, projection_source

from .processes import LineProcess

GREETING = "hello bob, ça va? ✓"
ANSWER = "fine, alice"


def fresh_room() -> str:
    return "test-" + uuid.uuid4().hex[:12]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def chat_lines(participant: LineProcess) -> List[str]:
    """What the participant showed of the conversation (not its own "-- " notices)."""
    return [line for line in participant.lines if not line.startswith("-- ")]


def active(status: ProjectionStatus) -> bool:
    return status.status.startswith(("Running", "Starting"))


def test_two_participants_see_each_other_join_talk_and_leave_in_order(start_chat) -> None:
    room = fresh_room()
    alice = start_chat("alice", room)
    alice.expect("* alice joined")
    bob = start_chat("bob", room)
    bob.expect("* bob joined")
    alice.expect("* bob joined")

    alice.send(GREETING)
    bob.expect("alice: " + GREETING)
    bob.send(ANSWER)
    alice.expect("bob: " + ANSWER)

    bob.send("exit")  # leaving by command
    alice.expect("* bob left")
    assert bob.wait_exit() == 0

    bob_again = start_chat("bob", room)  # a latecomer sees the conversation so far
    bob_again.expect("* bob joined")
    bob_again.expect("* bob joined")
    alice.close_input()  # leaving at the end of input
    bob_again.expect("* alice left")
    assert alice.wait_exit() == 0
    bob_again.send("exit")
    assert bob_again.wait_exit() == 0

    conversation = ["* alice joined", "* bob joined", "alice: " + GREETING, "bob: " + ANSWER, "* bob left"]
    # Each saw every line once, in the room's one order, up to their own leaving.
    assert chat_lines(bob) == conversation
    assert chat_lines(alice) == conversation + ["* bob joined", "* alice left"]
    assert chat_lines(bob_again) == conversation + ["* bob joined", "* alice left", "* bob left"]


def test_rooms_are_separate(start_chat) -> None:
    here, elsewhere = fresh_room(), fresh_room()
    carol = start_chat("carol", here)
    carol.expect("* carol joined")
    dave = start_chat("dave", elsewhere)
    dave.expect("* dave joined")
    dave.send("anyone?")
    dave.expect("dave: anyone?")
    dave.close_input()
    assert dave.wait_exit() == 0
    carol.send("exit")
    assert carol.wait_exit() == 0
    assert chat_lines(carol) == ["* carol joined", "* carol left"]


def test_the_chat_asks_for_a_name_when_none_is_given(start_chat) -> None:
    participant = start_chat(None, fresh_room())
    participant.send("  frank   the  first ")
    participant.expect_match(re.compile(r"frank the first in room"))
    participant.expect("* frank the first joined")
    participant.send("exit")
    assert participant.wait_exit() == 0


def test_without_a_node_the_chat_starts_one_of_its_own(start_chat) -> None:
    participant = start_chat("solo", fresh_room(), port=free_port())
    participant.expect_match(re.compile(r"^-- no node answered on http://127\.0\.0\.1:\d+; started one"))
    participant.expect("* solo joined")
    participant.send("anybody?")
    participant.expect("solo: anybody?")
    participant.close_input()
    assert participant.wait_exit() == 0
    assert chat_lines(participant) == ["* solo joined", "solo: anybody?", "* solo left"]


def test_projection_setup_creates_keeps_and_corrects(chat_node) -> None:
    with chat_node.client() as client:
        projections = Projections(client)
        name = "chat-setup-" + uuid.uuid4().hex[:8]
        stale = "fromAll().when({});"

        created = ensure_projection(projections, name, stale)
        assert active(created)
        assert projections.get_query_config(name).emit_enabled

        unchanged = ensure_projection(projections, name, stale)
        assert active(unchanged) and unchanged.version == created.version

        projections.disable(name)
        corrected = ensure_projection(projections, name, projection_source())
        query = projections.get_query_config(name)
        assert active(corrected)
        assert (query.query, query.emit_enabled) == (projection_source(), True)


def test_the_chat_projection_is_running_after_a_chat(chat_node, start_chat) -> None:
    participant = start_chat("erin", fresh_room())
    participant.expect("* erin joined")
    participant.close_input()
    assert participant.wait_exit() == 0
    with chat_node.client() as client:
        status = Projections(client).status(PROJECTION_NAME)
        assert status.running and status.mode == "Continuous"
