"""Reading messages, ack and nack over HTTP, checked against the recorded exchanges."""
from __future__ import annotations

import threading
import time

from .conftest import COMPETING_JSON, entry_ids, entry_numbers

FEED_KEYS = ["title", "id", "updated", "author", "headOfStream", "links", "entries"]


def test_feed_shape_with_embed_body(api, node):
    ids = api.append("foo", 2, metadata={"m": "x"})
    api.create("foo", "group1")
    reply = api.request("GET", "/subscriptions/foo/group1/2?embed=body", headers={"Accept": COMPETING_JSON})
    assert reply.status == 200
    assert reply.headers["Content-Type"] == f"{COMPETING_JSON}; charset=utf-8"
    assert "ETag" not in reply.headers
    feed = reply.json()
    base = f"{node.url}/subscriptions/foo/group1"
    assert list(feed) == FEED_KEYS
    assert feed["title"] == "Messages for 'foo/group1'" and feed["id"] == base
    assert feed["headOfStream"] is False and feed["author"] == {"name": "EventStore"}
    assert feed["links"] == [
        {"uri": f"{base}/ack?ids={ids[0]},{ids[1]}", "relation": "ackAll"},
        {"uri": f"{base}/nack?ids={ids[0]},{ids[1]}", "relation": "nackAll"},
        {"uri": f"{base}/2", "relation": "previous"},
        {"uri": base, "relation": "self"}]
    newest, oldest = feed["entries"]
    assert (newest["eventNumber"], oldest["eventNumber"]) == (1, 0)  # newest first
    assert newest["data"] == '{\n  "n": 1\n}' and newest["metaData"] == '{\n  "m": "x"\n}'
    assert feed["updated"] == newest["updated"]
    assert [link["relation"] for link in newest["links"]] == ["edit", "alternate", "ack", "nack"]
    assert newest["links"][2]["uri"] == f"{base}/ack/{ids[1]}"
    assert newest["links"][3]["uri"] == f"{base}/nack/{ids[1]}"
    assert newest["retryCount"] == 0


def test_default_read_is_one_message_without_rich_fields(api, node):
    api.append("foo", 3)
    api.create("foo", "g")
    reply = api.request("GET", "/subscriptions/foo/g", headers={"Accept": COMPETING_JSON})
    feed = reply.json()
    assert len(feed["entries"]) == 1
    entry = feed["entries"][0]
    assert entry["title"] == "0@foo" and "eventId" not in entry
    assert feed["links"][2] == {"uri": f"{node.url}/subscriptions/foo/g/1", "relation": "previous"}


def test_empty_feed(api, node):
    api.create("empty1", "g")
    feed = api.read("empty1", "g", 5)
    assert feed["entries"] == [] and feed["updated"] == "0001-01-01T00:00:00Z"
    assert [link["relation"] for link in feed["links"]] == ["previous", "self"]
    assert feed["links"][0]["uri"] == f"{node.url}/subscriptions/empty1/g/5"


def test_read_refusals(api):
    api.create("empty1", "g")
    wrong_accept = api.request("GET", "/subscriptions/empty1/g",
                               headers={"Accept": "application/vnd.eventstore.atom+json"})
    assert wrong_accept.status == 406
    anonymous = api.request("GET", "/subscriptions/empty1/g", headers={"Accept": COMPETING_JSON}, auth=None)
    assert anonymous.status == 401
    missing = api.request("GET", "/subscriptions/foo/nosuch", headers={"Accept": COMPETING_JSON})
    assert (missing.status, missing.body) == (404, b"")
    assert missing.headers["Content-Type"].startswith(COMPETING_JSON)
    for count in ("0", "101", "abc"):
        bad = api.request("GET", f"/subscriptions/empty1/g/{count}", headers={"Accept": COMPETING_JSON})
        assert bad.status == 400
        assert bad.body.startswith(b"Message count must be an integer between 1 and 100")


def test_reading_needs_read_access_to_the_stream(api):
    api.append("secret", 1)
    api.request("POST", "/streams/secret/metadata", {"$acl": {"$r": "$admins"}},
                {"Content-Type": "application/json", "ES-EventId": "11111111-2222-3333-4444-555555555555"})
    api.create("secret", "g")
    created = api.request("POST", "/users/", {"loginName": "plain", "fullName": "P", "password": "pw",
                                              "groups": []})
    assert created.status == 201
    api.create("open", "g")
    allowed = api.request("GET", "/subscriptions/open/g", headers={"Accept": COMPETING_JSON},
                          auth=("plain", "pw"))
    assert allowed.status == 200
    refused = api.request("GET", "/subscriptions/secret/g", headers={"Accept": COMPETING_JSON},
                          auth=("plain", "pw"))
    assert refused.status == 401
    assert len(api.read("secret", "g")["entries"]) == 1


def test_acked_messages_are_not_delivered_again(api):
    api.append("foo", 4)
    api.create("foo", "g", messageTimeoutMilliseconds=200)
    first = api.read("foo", "g", 2)
    api.ack("foo", "g", entry_ids(first))
    assert entry_numbers(api.read("foo", "g", 10)) == [2, 3]
    time.sleep(0.4)  # the unacked ones time out and come back; the acked ones do not
    assert entry_numbers(api.read("foo", "g", 10)) == [2, 3]


def test_ack_and_nack_single_and_bulk_answer_202(api):
    api.append("foo", 2)
    api.create("foo", "g")
    ids = entry_ids(api.read("foo", "g", 2))
    reply = api.request("POST", f"/subscriptions/foo/g/ack/{ids[0]}")
    assert (reply.status, reply.body) == (202, b"")
    assert "Content-Type" not in reply.headers
    assert api.request("POST", f"/subscriptions/foo/g/nack/{ids[1]}?action=Skip").status == 202
    unknown = "0f9fad5b-d9cb-469f-a165-70867728950f"
    assert api.request("POST", f"/subscriptions/foo/g/ack?ids={unknown},{ids[1]}").status == 202
    assert api.request("POST", f"/subscriptions/foo/nosuch/ack/{unknown}").status == 202
    assert api.request("POST", "/subscriptions/foo/g/ack/not-a-guid").status == 400
    assert api.request("POST", f"/subscriptions/foo/g/ack/{unknown}", auth=None).status == 401
    assert api.read("foo", "g", 10)["entries"] == []


def test_nack_retry_redelivers_with_a_retry_count(api):
    api.append("foo", 2)
    api.create("foo", "group1")
    ids = entry_ids(api.read("foo", "group1", 2))
    api.ack("foo", "group1", ids[:1])
    assert api.request("POST", f"/subscriptions/foo/group1/nack/{ids[1]}?action=Retry").status == 202
    again = api.read("foo", "group1", 5)["entries"]
    assert [entry["title"] for entry in again] == ["1@foo"]
    assert again[0]["retryCount"] == 1


def test_unknown_nack_action_means_retry(api):
    api.append("foo", 1)
    api.create("foo", "g")
    ids = entry_ids(api.read("foo", "g"))
    api.nack("foo", "g", ids, "whatever")
    assert entry_ids(api.read("foo", "g")) == ids


def test_nack_skip_drops_the_message(api):
    api.append("foo", 2)
    api.create("foo", "g")
    ids = entry_ids(api.read("foo", "g"))
    api.nack("foo", "g", ids, "skip")
    assert entry_numbers(api.read("foo", "g", 5)) == [1]


def test_long_poll_waits_for_the_next_append(api, make_api, node):
    api.create("live", "g")
    writer = make_api()
    timer = threading.Timer(0.3, lambda: writer.append("live", 1))
    timer.start()
    started = time.monotonic()
    feed = api.read("live", "g", 5, long_poll=10)
    elapsed = time.monotonic() - started
    timer.join()
    assert entry_numbers(feed) == [0]
    assert 0.2 < elapsed < 5


def test_long_poll_times_out_with_an_empty_feed(api):
    api.create("quiet", "g")
    started = time.monotonic()
    assert api.read("quiet", "g", 5, long_poll=1)["entries"] == []
    assert 0.9 < time.monotonic() - started < 5


def test_without_long_poll_an_empty_read_answers_at_once(api):
    api.create("quiet", "g")
    started = time.monotonic()
    assert api.read("quiet", "g", 5)["entries"] == []
    assert time.monotonic() - started < 0.5


def test_resolved_links_are_acked_by_the_link_id(api):
    api.append("target", 1)
    link_id = "5b6c1f8e-3f59-4d6c-8a53-1d0c2a2a7c11"
    api.request("POST", "/streams/links", [{"eventId": link_id, "eventType": "$>", "data": "0@target"}],
                {"Content-Type": "application/vnd.eventstore.events+json"})
    api.create("links", "g", resolveLinktos=True)
    feed = api.read("links", "g", 1, embed="rich")
    entry = feed["entries"][0]
    assert entry["streamId"] == "target" and entry["positionStreamId"] == "links"
    assert entry_ids(feed) == [link_id]
    assert entry["summary"] == "$>"


def test_competing_atom_xml(api):
    api.append("foo", 1)
    api.create("foo", "g")
    reply = api.request("GET", "/subscriptions/foo/g/1",
                        headers={"Accept": "application/vnd.eventstore.competingatom+xml"})
    assert reply.status == 200
    assert b"<title>Messages for 'foo/g'</title>" in reply.body
    assert b'rel="ack"' in reply.body and b'rel="ackAll"' in reply.body
