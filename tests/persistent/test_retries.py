"""In-flight tracking: timeouts, retries, parking and replaying parked messages."""
from __future__ import annotations

import time

from .conftest import COMPETING_JSON, entry_ids, entry_numbers

PARKED = "/streams/%24persistentsubscription-foo::g-parked"
ATOM_JSON = {"Accept": "application/vnd.eventstore.atom+json"}


def test_an_unacked_message_comes_back_after_the_message_timeout(api):
    api.append("foo", 1)
    api.create("foo", "g", messageTimeoutMilliseconds=300)
    first = api.read("foo", "g")
    assert api.read("foo", "g")["entries"] == []  # in flight: nobody else gets it meanwhile
    time.sleep(0.5)
    again = api.read("foo", "g")
    assert entry_ids(again) == entry_ids(first)
    assert again["entries"][0]["retryCount"] == 1


def test_a_timed_out_message_wakes_a_long_poll(api):
    api.append("foo", 1)
    api.create("foo", "g", messageTimeoutMilliseconds=300)
    first = api.read("foo", "g")
    started = time.monotonic()
    again = api.read("foo", "g", long_poll=5)
    assert entry_ids(again) == entry_ids(first)
    assert time.monotonic() - started < 2


def test_parked_after_max_retry_count_then_replayed(api, node):
    ids = api.append("foo", 2)
    api.create("foo", "g", maxRetryCount=2)
    for expected_retry_count in (0, 1, 2):
        feed = api.read("foo", "g")
        assert entry_ids(feed) == ids[:1]
        assert feed["entries"][0]["retryCount"] == expected_retry_count
        api.nack("foo", "g", ids[:1], "retry")
    # the third nack (retry count 2 = maxRetryCount) parked it: the next message is number 1
    assert entry_numbers(api.read("foo", "g", 5)) == [1]
    api.ack("foo", "g", ids[1:])
    time.sleep(0.1)  # parking is a write
    info = api.info("foo", "g")
    assert info["parkedMessageCount"] == 1
    parked = api.request("GET", PARKED, headers=ATOM_JSON).json()
    assert [entry["title"] for entry in parked["entries"]] == ["0@foo"]
    assert parked["entries"][0]["summary"] == "$>"

    replay = api.request("POST", "/subscriptions/foo/g/replayParked", headers={"Accept": "application/json"})
    assert replay.status == 200 and replay.json()["result"] == "Success"
    feed = api.read("foo", "g", 5)
    assert entry_numbers(feed) == [0] and feed["entries"][0]["retryCount"] == 0
    api.ack("foo", "g", entry_ids(feed))
    assert api.info("foo", "g")["parkedMessageCount"] == 0
    assert api.read("foo", "g", 5)["entries"] == []


def test_nack_park_and_replay_with_stop_at(api):
    ids = api.append("foo", 3)
    api.create("foo", "g")
    assert entry_ids(api.read("foo", "g", 3)) == ids
    api.nack("foo", "g", ids, "park")
    time.sleep(0.1)
    assert api.info("foo", "g")["parkedMessageCount"] == 3
    assert api.request("POST", "/subscriptions/foo/g/replayParked?stopAt=2").status == 200
    assert entry_numbers(api.read("foo", "g", 5)) == [0, 1]
    assert api.info("foo", "g")["parkedMessageCount"] == 1
    assert api.request("POST", "/subscriptions/foo/g/replayParked?stopAt=x").status == 400


def test_replay_parked_refusals(api):
    api.create("foo", "g")
    assert api.request("POST", "/subscriptions/foo/g/replayParked", auth=None).status == 401
    assert api.request("POST", "/subscriptions/foo/nope/replayParked").status == 404


def test_nack_stop_offers_the_message_again_without_counting_a_retry(api, make_api):
    ids = api.append("foo", 1)
    api.create("foo", "g")
    api.read("foo", "g")
    api.nack("foo", "g", ids, "stop")
    feed = make_api().read("foo", "g")
    assert entry_ids(feed) == ids and feed["entries"][0]["retryCount"] == 0


def test_timeouts_count_as_retries(api):
    api.append("foo", 1)
    api.create("foo", "g", maxRetryCount=1, messageTimeoutMilliseconds=200)
    assert api.read("foo", "g")["entries"][0]["retryCount"] == 0
    time.sleep(0.4)
    assert api.read("foo", "g")["entries"][0]["retryCount"] == 1
    time.sleep(0.4)  # the second timeout exceeds maxRetryCount: parked
    assert api.read("foo", "g")["entries"] == []
    assert api.info("foo", "g")["parkedMessageCount"] == 1


def test_info_counts_what_is_in_flight(api):
    api.append("foo", 5)
    api.create("foo", "g")
    api.read("foo", "g", 3)
    info = api.info("foo", "g")
    assert info["totalInFlightMessages"] == 3 and info["totalItemsProcessed"] == 3
    assert len(info["connections"]) == 1 and info["connections"][0]["inFlightMessages"] == 3
    assert info["connections"][0]["username"] == "admin"


def test_message_reads_never_include_a_deleted_group(api):
    api.append("foo", 1)
    api.create("foo", "g")
    api.read("foo", "g")
    api.request("DELETE", "/subscriptions/foo/g")
    reply = api.request("GET", "/subscriptions/foo/g", headers={"Accept": COMPETING_JSON})
    assert reply.status == 404


def test_view_parked_messages(api, node):
    ids = api.append("foo", 2)
    api.create("foo", "g")
    api.read("foo", "g", 2)
    api.nack("foo", "g", ids, "park")
    time.sleep(0.1)
    headers = {"Accept": COMPETING_JSON}
    forward = api.request("GET", "/subscriptions/viewparkedmessages/foo/g/0/forward/10", headers=headers)
    assert forward.status == 200
    assert forward.headers["Content-Type"].startswith(COMPETING_JSON)
    assert [entry["title"] for entry in forward.json()["entries"]] == ["1@foo", "0@foo"]
    head = api.request("GET", "/subscriptions/viewparkedmessages/foo/g/head/backward/1", headers=headers)
    assert [entry["title"] for entry in head.json()["entries"]] == ["1@foo"]
    assert api.request("GET", "/subscriptions/viewparkedmessages/foo/g/0/forward/10", headers=headers,
                       auth=None).status == 401
    assert api.request("GET", "/subscriptions/viewparkedmessages/foo/g/x/forward/10",
                       headers=headers).status == 400


def test_a_deleted_stream_waits_quietly_and_its_recreation_is_read(api):
    api.append("gone", 2)
    api.create("gone", "g")
    assert entry_numbers(api.read("gone", "g", 5)) == [0, 1]
    assert api.request("DELETE", "/streams/gone").status == 204
    started = time.monotonic()
    assert api.read("gone", "g", 5)["entries"] == []
    assert time.monotonic() - started < 0.5  # no waiting for events that cannot be read
    api.append("gone", 1)  # recreates the stream: event 2
    assert entry_numbers(api.read("gone", "g", 5, long_poll=5)) == [2]
