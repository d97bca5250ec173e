"""Targeted malformed requests, each with the real server's answer (digest §4.2, §5.1, §2).

Several of these found bugs in the node (recursion on deep nesting, digits that str.isdigit()
takes and int() refuses, numbers beyond int64); they stay as regression tests."""
from __future__ import annotations

import json
import uuid

import pytest

from .rawhttp import ADMIN_AUTH, EVENTS_JSON, RawHttp, append_json

READ = {"Authorization": ADMIN_AUTH, "Accept": "application/json"}
DEEP = b"[" * 100_000  # far beyond Python's recursion limit
DEEP_CLOSED = b"[" * 3000 + b"]" * 3000
MANY_DIGITS = "1" * 5000  # Python refuses int() of more than 4300 digits
SUPERSCRIPT_TWO = "%C2%B2"  # "²": str.isdigit() says yes, int() says no


@pytest.fixture(scope="module")
def http(node):
    client = RawHttp(node.host, node.port)
    answer = append_json(client, "/streams/malformed",
                         [{"eventId": str(uuid.uuid4()), "eventType": "t", "data": {"a": 1}}])
    assert answer.status == 201
    yield client
    client.close()


def head_of(node) -> int:
    return node.core.head_position()


def post(http, path, body, content_type, **headers):
    return http.request("POST", path, body, {"Authorization": ADMIN_AUTH,
                                             "Content-Type": content_type, **headers})


# --- appends ------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    b"", b"{}", b"[]", b"[1]", b'["x"]', b"not json", b"\xff\xfe\x00", b'{"eventId": 1}',
    json.dumps([{"eventId": "not-a-guid", "eventType": "t"}]).encode(),
    json.dumps([{"eventId": str(uuid.uuid4()), "eventType": "t"}, 5]).encode(),
], ids=["empty", "object", "empty-array", "number-element", "string-element", "text", "binary",
        "bare-object", "bad-guid", "second-element-invalid"])
def test_invalid_event_batches_are_400_and_write_nothing(node, http, body):
    before = head_of(node)
    answer = post(http, "/streams/malformed", body, EVENTS_JSON)
    assert (answer.status, answer.text) == (400, "Write request body invalid.")
    assert head_of(node) == before


@pytest.mark.parametrize("element,text", [
    ({"eventType": "t"}, "Empty eventId provided."),
    ({"eventId": str(uuid.UUID(int=0)), "eventType": "t"}, "Empty eventId provided."),
    ({"eventId": str(uuid.uuid4())}, "Empty eventType provided."),
    ({"eventId": str(uuid.uuid4()), "eventType": ""}, "Empty eventType provided."),
])
def test_missing_ids_and_types_are_the_real_texts(node, http, element, text):
    before = head_of(node)
    answer = post(http, "/streams/malformed", json.dumps([element]).encode(), EVENTS_JSON)
    assert (answer.status, answer.text) == (400, text)
    assert head_of(node) == before


@pytest.mark.parametrize("header,value", [
    ("ES-ExpectedVersion", "-5"), ("ES-ExpectedVersion", "x"), ("ES-ExpectedVersion", "1.0"),
    ("ES-ExpectedVersion", ""), ("ES-RequireLeader", "yes"), ("ES-RequireMaster", "1"),
])
def test_bad_header_values_are_400_in_wrong_format(node, http, header, value):
    before = head_of(node)
    body = json.dumps([{"eventId": str(uuid.uuid4()), "eventType": "t"}]).encode()
    answer = post(http, "/streams/malformed", body, EVENTS_JSON, **{header: value})
    assert answer.status == 400 and "header in wrong format" in answer.text
    assert head_of(node) == before


def test_expected_version_beyond_int64_is_a_header_format_error(node, http):
    body = json.dumps([{"eventId": str(uuid.uuid4()), "eventType": "t"}]).encode()
    answer = post(http, "/streams/malformed", body, EVENTS_JSON,
                  **{"ES-ExpectedVersion": "9223372036854775808"})
    assert answer.status == 400 and "header in wrong format" in answer.text


@pytest.mark.parametrize("path,body,content_type", [
    ("/streams/malformed", DEEP, EVENTS_JSON),
    ("/streams/malformed", DEEP_CLOSED, EVENTS_JSON),
    ("/streams/malformed/metadata", DEEP, EVENTS_JSON),
    ("/streams/malformed", b"<a>" * 3000 + b"</a>" * 3000, "application/vnd.eventstore.events+xml"),
    ("/users/", DEEP, "application/json"),
], ids=["events", "events-closed", "metadata", "events-xml", "user"])
def test_deeply_nested_bodies_are_400_not_500(node, http, path, body, content_type):
    before = head_of(node)
    answer = http.request("POST", path, body, {"Authorization": ADMIN_AUTH, "Content-Type": content_type})
    assert answer.status == 400
    assert head_of(node) == before


def test_deeply_nested_subscription_settings_mean_all_defaults(http):
    # the real server reads settings that do not parse as none at all: every setting defaults
    answer = http.request("PUT", "/subscriptions/malformed/deep-group", DEEP,
                          {"Authorization": ADMIN_AUTH, "Content-Type": "application/json"})
    assert answer.status == 201
    info = http.request("GET", "/subscriptions/malformed/deep-group/info", None, READ)
    assert info.status == 200 and info.json()["config"]["readBatchSize"] == 20


def test_event_with_data_nested_500_deep_is_stored_or_refused_not_500(http):
    body = json.dumps([{"eventId": str(uuid.uuid4()), "eventType": "t", "data": "@"}]).replace(
        '"@"', "[" * 500 + "]" * 500).encode()
    assert post(http, "/streams/malformed", body, EVENTS_JSON).status in (201, 400)


def test_deep_but_valid_json_data_is_stored_verbatim(http):
    # application/json: the body is the event's data, not parsed (digest §4.2 B)
    answer = post(http, "/streams/malformed", DEEP_CLOSED, "application/json",
                  **{"ES-EventType": "deep", "ES-EventId": str(uuid.uuid4())})
    assert answer.status == 201
    number = answer.headers["Location"].rsplit("/", 1)[1]
    stored = http.request("GET", f"/streams/malformed/{number}", None,
                          {**READ, "Accept": "application/octet-stream"})
    assert stored.status == 200 and stored.body == DEEP_CLOSED


@pytest.fixture(scope="module")
def poisoned(http):
    """A stream holding one event whose (valid) JSON data is nested 3000 deep, then a text one."""
    stream = "poisoned-" + uuid.uuid4().hex[:8]
    answer = post(http, f"/streams/{stream}", DEEP_CLOSED, "application/json",
                  **{"ES-EventType": "deep", "ES-EventId": str(uuid.uuid4())})
    assert answer.status == 201
    answer = post(http, f"/streams/{stream}", b"plain text", "application/octet-stream",
                  **{"ES-EventType": "text", "ES-EventId": str(uuid.uuid4())})
    assert answer.status == 201
    return stream


@pytest.mark.parametrize("path,accept", [
    ("/{s}/0?embed=body", "application/vnd.eventstore.atom+json"),
    ("/{s}/0", "application/json"),
    ("/{s}/0", "application/vnd.eventstore.event+json"),
    ("/{s}/0?embed=body", "application/atom+xml"),
    ("/{s}/0/forward/5?embed=tryharder", "application/vnd.eventstore.atom+json"),
], ids=["entry-atom-json", "data-json", "event-json", "entry-atom-xml", "page-tryharder"])
def test_reads_of_an_event_with_deeply_nested_data_are_not_500(http, poisoned, path, accept):
    answer = http.request("GET", "/streams" + path.format(s=poisoned), None, {**READ, "Accept": accept})
    assert answer.status == 200


def test_client_reads_an_event_with_deeply_nested_data(node, poisoned):
    from clientapi import Client
    with Client(node.host, node.port, "admin", "changeit") as client:
        events = client.read_stream_events_forward(poisoned, 0, 5)
        everything = client.read_all_events_forward(0, 0, 100_000).events
    assert [e.event_type for e in events] == ["deep", "text"]
    assert isinstance(events[0].data, str) and events[1].data == "plain text"
    assert [e.event_type for e in everything if e.stream_id == poisoned] == ["deep", "text"]


def test_event_over_4_mib_in_a_batch_is_413_and_nothing_is_written(node, http):
    before = head_of(node)
    events = [{"eventId": str(uuid.uuid4()), "eventType": "t", "data": "small"},
              {"eventId": str(uuid.uuid4()), "eventType": "t", "data": "x" * (4 * 1024 * 1024 + 1)}]
    answer = post(http, "/streams/malformed", json.dumps(events).encode(), EVENTS_JSON)
    assert answer.status == 413 and "Limit is 4mb" in answer.text
    assert head_of(node) == before


# --- reads --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,text", [
    ("/streams/malformed/-1/forward/5", "'-1' is not valid event number"),
    ("/streams/malformed/x/forward/5", "'x' is not valid event number"),
    ("/streams/malformed/0/forward/0", "'0' is not valid count. Should be positive integer"),
    ("/streams/malformed/0/forward/-3", "'-3' is not valid count. Should be positive integer"),
    ("/streams/%24all/zz/forward/5", "Invalid position argument: zz"),
    ("/streams/%24all/" + "0" * 32 + "/forward/0", "Invalid count argument: 0"),
    ("/streams/%24all/" + "F" * 32 + "/forward/5", "Invalid position argument: " + "F" * 32),
])
def test_bad_positions_and_counts_are_400_with_the_real_text(http, path, text):
    answer = http.request("GET", path, None, READ)
    assert (answer.status, answer.text) == (400, text)


@pytest.mark.parametrize("path", ["/streams/malformed/0/forward/4097",
                                  "/streams/malformed/head/backward/5000",
                                  "/streams/%24all/head/backward/4097"])
def test_page_size_over_4096_is_the_real_500(http, path):
    answer = http.request("GET", path, None, READ)
    assert answer.status == 500
    assert "Read size too big" in answer.reason + answer.text


def test_page_size_4096_is_fine(http):
    assert http.request("GET", "/streams/malformed/0/forward/4096", None, READ).status == 200


@pytest.mark.parametrize("path", [
    f"/streams/malformed/{SUPERSCRIPT_TWO}", f"/streams/malformed/0/forward/{SUPERSCRIPT_TWO}",
    f"/streams/%24all/head/backward/{SUPERSCRIPT_TWO}", f"/streams/malformed/{MANY_DIGITS}",
    f"/streams/malformed/0/forward/{MANY_DIGITS}",
], ids=["event-superscript", "count-superscript", "all-count-superscript", "event-5000-digits",
        "count-5000-digits"])
def test_odd_digits_in_paths_are_400(http, path):
    assert http.request("GET", path, None, READ).status == 400


@pytest.mark.parametrize("path,headers", [
    ("/subscriptions/malformed/odd-digits/%C2%B2", {}),
    ("/subscriptions/malformed/odd-digits/1", {"ES-LongPoll": "\u00b2"}),
], ids=["count-superscript", "long-poll-superscript"])
def test_odd_digits_in_subscription_reads_are_not_500(http, path, headers):
    created = http.request("PUT", "/subscriptions/malformed/odd-digits", b"{}",
                           {"Authorization": ADMIN_AUTH, "Content-Type": "application/json"})
    assert created.status in (201, 409)
    answer = http.request("GET", path, None, {"Authorization": ADMIN_AUTH,
                                              "Accept": "application/vnd.eventstore.competingatom+json",
                                              **{k: v.encode("latin-1") for k, v in headers.items()}})
    assert answer.status in (200, 400)


def test_event_number_beyond_int64_in_a_page_path_is_400(http):
    answer = http.request("GET", "/streams/malformed/99999999999999999999/forward/5", None, READ)
    assert answer.status == 400


@pytest.mark.parametrize("path", ["/streams/malformed/0/forward/5",
                                  "/streams/%24all/" + "0" * 32 + "/forward/5"], ids=["stream", "$all"])
def test_long_poll_with_a_non_ascii_digit_is_400(http, path):
    # "²" as a latin-1 header byte: str.isdigit() says yes, int() says no
    answer = http.request("GET", path, None, {**READ, "ES-LongPoll": b"\xb2"})
    assert answer.status == 400


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", ""])
def test_bad_long_poll_values_are_400(http, value):
    answer = http.request("GET", "/streams/malformed/0/forward/5", None, {**READ, "ES-LongPoll": value})
    assert (answer.status, answer.text) == (400, "ES-LongPoll header in wrong format.")


@pytest.mark.parametrize("stream", ["%C3%BC%E2%82%AC", "a%20b", "%F0%9F%98%80", "a%2Fb", "%24%24%24x"])
def test_unicode_and_escapes_in_stream_ids_round_trip(http, stream):
    event_id = str(uuid.uuid4())
    answer = append_json(http, f"/streams/{stream}", [{"eventId": event_id, "eventType": "t", "data": {}}])
    if stream.startswith("%24%24"):
        assert answer.status == 201  # a metadata write, allowed to admins
        return
    assert answer.status == 201, answer.reason
    read = http.request("GET", f"/streams/{stream}/0", None,
                        {**READ, "Accept": "application/vnd.eventstore.atom+json"})
    assert read.status == 200 and read.json()["content"]["eventId"] == event_id


def test_persistent_group_on_all_is_refused_or_works(node, http):
    group = "g" + uuid.uuid4().hex[:6]
    headers = {"Authorization": ADMIN_AUTH, "Content-Type": "application/json"}
    created = http.request("PUT", f"/subscriptions/%24all/{group}", b"{}", headers)
    if created.status != 201:
        assert created.status == 400
        return
    append_json(http, "/streams/malformed", [{"eventId": str(uuid.uuid4()), "eventType": "t", "data": {}}])
    messages = http.request("GET", f"/subscriptions/%24all/{group}/5", None, {
        "Authorization": ADMIN_AUTH, "Accept": "application/vnd.eventstore.competingatom+json",
        "ES-LongPoll": "2"})
    assert messages.status == 200 and messages.json()["entries"], "a group on $all that never delivers"
