"""Definitions, checkpoints and parked messages survive a node restart (durable storage)."""
from __future__ import annotations

import time

from clientapi.server import Node

from .conftest import Api, entry_ids, entry_numbers

CHECKPOINT = "/streams/%24persistentsubscription-foo::g-checkpoint/head/backward/1"


def _with_node(db: str):
    node = Node(port=0, db=db).start()
    return node, Api(node)


def test_group_and_checkpoint_survive_a_restart(tmp_path):
    node, api = _with_node(str(tmp_path))
    try:
        api.append("foo", 10)
        api.create("foo", "g", maxRetryCount=4, namedConsumerStrategy="DispatchToSingle")
        api.ack("foo", "g", entry_ids(api.read("foo", "g", 4)))
        api.read("foo", "g", 2)  # in flight when the node stops: must come again
    finally:
        api.close()
        node.stop()
    node, api = _with_node(str(tmp_path))
    try:
        info = api.info("foo", "g")
        assert info["config"]["maxRetryCount"] == 4
        assert info["config"]["namedConsumerStrategy"] == "DispatchToSingle"
        assert info["lastProcessedEventNumber"] == 3
        assert entry_numbers(api.read("foo", "g", 10)) == [4, 5, 6, 7, 8, 9]
    finally:
        api.close()
        node.stop()


def test_checkpoints_are_written_while_running(tmp_path):
    node, api = _with_node(str(tmp_path))
    try:
        api.append("foo", 5)
        api.create("foo", "g", checkPointAfterMilliseconds=100, minCheckPointCount=1)
        api.ack("foo", "g", entry_ids(api.read("foo", "g", 3)))
        deadline = time.monotonic() + 5
        while api.info("foo", "g")["lastProcessedEventNumber"] != 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        checkpoint = api.request("GET", CHECKPOINT, headers={"Accept": "application/vnd.eventstore.atom+json"},
                                 ).json()
        assert checkpoint["entries"][0]["summary"] == "$SubscriptionCheckpoint"
        assert api.info("foo", "g")["lastCheckpointedEventPosition"] == "2"
    finally:
        api.close()
        node.stop()


def test_max_checkpoint_count_forces_a_checkpoint(tmp_path):
    node, api = _with_node(str(tmp_path))
    try:
        api.append("foo", 5)
        api.create("foo", "g", checkPointAfterMilliseconds=60000, minCheckPointCount=1,
                   maxCheckPointCount=2)
        api.ack("foo", "g", entry_ids(api.read("foo", "g", 2)))
        deadline = time.monotonic() + 5
        while api.info("foo", "g")["lastProcessedEventNumber"] != 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        api.close()
        node.stop()


def test_deleted_groups_stay_deleted_and_parked_messages_stay_parked(tmp_path):
    node, api = _with_node(str(tmp_path))
    try:
        ids = api.append("foo", 2)
        api.create("foo", "g")
        api.create("foo", "gone")
        api.request("DELETE", "/subscriptions/foo/gone")
        api.read("foo", "g", 2)
        api.nack("foo", "g", ids[:1], "park")
        api.ack("foo", "g", ids[1:])
        time.sleep(0.1)
    finally:
        api.close()
        node.stop()
    node, api = _with_node(str(tmp_path))
    try:
        groups = api.request("GET", "/subscriptions", headers={"Accept": "application/json"}).json()
        assert [g["groupName"] for g in groups] == ["g"]
        assert api.read("foo", "g", 5)["entries"] == []
        assert api.info("foo", "g")["parkedMessageCount"] == 1
        api.request("POST", "/subscriptions/foo/g/replayParked")
        assert entry_ids(api.read("foo", "g", 5)) == ids[:1]
    finally:
        api.close()
        node.stop()


def test_start_from_the_end_is_pinned_at_creation(tmp_path):
    node, api = _with_node(str(tmp_path))
    try:
        api.append("foo", 3)
        api.create("foo", "g", startFrom=-1)
        api.append("foo", 1)  # after creation: delivered, even across the restart below
    finally:
        api.close()
        node.stop()
    node, api = _with_node(str(tmp_path))
    try:
        api.append("foo", 1)
        assert entry_numbers(api.read("foo", "g", 10)) == [3, 4]
    finally:
        api.close()
        node.stop()
