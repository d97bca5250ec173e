"""The sans-I/O layer against response shapes recorded from a real EventStore 3.9.4 node
and the documented 20+/25 variants (feed JSON, rich entries, links, reason phrases)."""
import datetime
import json
import os
import re
import uuid

import pytest
from tornado.httputil import HTTPHeaders

from clientapi import WriteEvent, errors
from clientapi.wire import Credentials, Request, Response, authorization_header, decoding, requests
from clientapi.wire.encoding import MAX_EVENT_SIZE
from clientapi.wire.status import error_for, raise_for_status

BASE = "http://127.0.0.1:2113"


def response(status, reason="OK", headers=(), body=b"", content_type=None, request=None):
    http_headers = HTTPHeaders()
    for name, value in headers:
        http_headers.add(name, value)
    if content_type is not None:
        http_headers["Content-Type"] = content_type
    if isinstance(body, (dict, list)):
        body = json.dumps(body, indent=2).encode()
    return Response(status, reason, http_headers, body, request)


def link(uri, relation):
    return {"uri": BASE + uri, "relation": relation}


def rich_entry(stream, number, event_type, data=None, meta=None, is_json=True,
               position=None, event_id="fbf4a1a1-b4a3-4dfe-a01f-ec52c34e16e4"):
    """An `embed=body` entry in the real server's field order."""
    entry = {"eventId": event_id, "eventType": event_type, "eventNumber": number}
    if data is not None:
        entry["data"] = data
    if meta is not None:
        entry["metaData"] = meta
    position_stream, position_number = position or (stream, number)
    entry.update({
        "streamId": stream, "isJson": is_json, "isMetaData": meta is not None,
        "isLinkMetaData": False, "positionEventNumber": position_number,
        "positionStreamId": position_stream, "title": "{}@{}".format(number, stream),
        "id": "{}/streams/{}/{}".format(BASE, stream, number),
        "updated": "2026-11-26T12:34:42.323031Z", "author": {"name": "EventStore"},
        "summary": "$>" if position else event_type, "links": []})
    return entry


FEED_FOO = {
    "title": "Event stream 'foo'", "id": BASE + "/streams/foo",
    "updated": "2026-11-26T12:34:42.323031Z", "streamId": "foo", "author": {"name": "EventStore"},
    "headOfStream": True, "selfUrl": BASE + "/streams/foo", "eTag": "2;-1955838367",
    "links": [link("/streams/foo", "self"), link("/streams/foo/head/backward/20", "first"),
              link("/streams/foo/3/forward/20", "previous"), link("/streams/foo/metadata", "metadata")],
    "entries": [
        rich_entry("foo", 2, "other-type", '{\n  "a": "3"\n}',
                   event_id="0f9fad5b-d9cb-469f-a165-70867728950f"),
        rich_entry("foo", 1, "event-type", '{\n  "a": "2"\n}', meta='{\n  "m": "x"\n}',
                   event_id="0f9fad5b-d9cb-469f-a165-70867728950e"),
        rich_entry("foo", 0, "event-type", '{\n  "a": "1"\n}'),
    ]}
ATOM = "application/vnd.eventstore.atom+json; charset=utf-8"


# --- requests -------------------------------------------------------------------------------
def test_append_request_is_one_events_json_array_with_ids_and_types():
    events = [WriteEvent({"a": 1}, is_json=True, event_type="t"),
              WriteEvent("plain text", metadata={"m": 1}),
              WriteEvent(b"bytes", event_id="0f9fad5b-d9cb-469f-a165-70867728950e")]
    request = requests.append_request("my stream/$x", events, 5)
    assert (request.method, request.path) == ("POST", "/streams/my%20stream%2F%24x")
    assert request.headers["Content-Type"] == "application/vnd.eventstore.events+json"
    assert request.headers["ES-ExpectedVersion"] == "5"
    assert "ES-RequireLeader" not in request.headers
    body = json.loads(request.body)
    assert body[0] == {"eventId": str(events[0].event_id), "eventType": "t", "data": {"a": 1}}
    assert body[1]["data"] == "plain text" and body[1]["metadata"] == {"m": 1}
    assert body[1]["eventType"] == "str" and body[2]["eventType"] == "bytes"
    assert body[2] == {"eventId": "0f9fad5b-d9cb-469f-a165-70867728950e", "eventType": "bytes",
                       "data": "bytes"}


def test_require_leader_sends_both_generations_of_the_header():
    request = requests.stream_page_request("s", None, 20, False, require_leader=True)
    assert request.headers["ES-RequireLeader"] == "True"
    assert request.headers["ES-RequireMaster"] == "True"


def test_append_refuses_a_batch_over_the_limit_before_sending():
    events = [WriteEvent("x" * 1000) for _ in range(5)]
    with pytest.raises(errors.AppendTooLarge) as caught:
        requests.append_request("s", events, -2, max_append_size=4000)
    assert caught.value.limit == 4000 and caught.value.size > 4000
    assert isinstance(caught.value, ValueError)
    requests.append_request("s", events, -2, max_append_size=10000)


def test_append_refuses_one_event_over_the_per_event_limit():
    with pytest.raises(errors.AppendTooLarge) as caught:
        requests.append_request("s", [WriteEvent("x" * (MAX_EVENT_SIZE + 1))], -2,
                                max_append_size=10 * MAX_EVENT_SIZE)
    assert caught.value.limit == MAX_EVENT_SIZE


@pytest.mark.parametrize("start,forward,path", [
    (None, False, "/streams/s/head/backward/7"),
    (12, False, "/streams/s/12/backward/7"),
    (0, True, "/streams/s/0/forward/7"),
    (30, True, "/streams/s/30/forward/7"),
])
def test_stream_page_paths(start, forward, path):
    request = requests.stream_page_request("s", start, 7, forward)
    assert request.path == path and request.query == "embed=body"
    assert request.headers["Accept"] == "application/vnd.eventstore.atom+json"
    assert request.headers["ES-ResolveLinkTos"] == "True"


@pytest.mark.parametrize("stream_id,path", [
    (".", "/streams/%2E"), ("..", "/streams/%2E%2E"), ("...", "/streams/..."), ("a.b", "/streams/a.b"),
    ("./x", "/streams/.%2Fx"), ("$all", "/streams/%24all"),
])
def test_stream_ids_that_are_dot_segments_are_escaped(stream_id, path):
    # URL normalisation would remove a "." or ".." segment and address another resource
    assert requests.stream_path(stream_id) == path


def test_all_positions_are_commit_then_prepare_in_32_hex():
    request = requests.all_page_request((0x314A, 0x3149), 20, True)
    assert request.path == "/streams/%24all/000000000000314A0000000000003149/forward/20"
    assert requests.all_page_request(None, 5, False).path == "/streams/%24all/head/backward/5"
    assert decoding.decode_position("000000000000314A0000000000003149") == (0x314A, 0x3149)


def test_single_event_and_metadata_requests():
    assert requests.event_request("s", -1).path == "/streams/s/head"
    assert requests.event_request("s", 4).path == "/streams/s/4"
    read = requests.metadata_read_request("s")
    assert (read.path, read.headers["Accept"]) == ("/streams/s/metadata", "application/json")
    write = requests.metadata_write_request("s", {"$maxCount": 5}, 3)
    body = json.loads(write.body)
    assert body[0]["eventType"] == "$metadata" and body[0]["data"] == {"$maxCount": 5}
    assert write.headers["ES-ExpectedVersion"] == "3"


def test_delete_request_headers():
    soft = requests.delete_request("s", -2, False)
    hard = requests.delete_request("s", 3, True)
    assert soft.method == "DELETE" and "ES-HardDelete" not in soft.headers
    assert hard.headers["ES-HardDelete"] == "True" and hard.headers["ES-ExpectedVersion"] == "3"
    assert not hard.retryable


def test_credentials_never_show_and_make_a_basic_header():
    credentials = Credentials("admin", "changeit")
    assert "changeit" not in repr(credentials) and "changeit" not in str(credentials)
    assert authorization_header(credentials) == "Basic YWRtaW46Y2hhbmdlaXQ="
    assert "Authorization" not in Request("GET", "/x").describe()


# --- responses --------------------------------------------------------------------------------
def test_append_location_gives_the_numbers_written():
    created = response(201, "Created", [("Location", BASE + "/streams/foo/6")], content_type="text/plain")
    assert decoding.appended_event_numbers(created, 3) == [6, 7, 8]
    meta = response(201, "Created", [("Location", BASE + "/streams/%24%24foo/0")])
    assert decoding.appended_event_numbers(meta, 1) == [0]
    with pytest.raises(errors.ProtocolError):
        decoding.appended_event_numbers(response(201, "Created"), 1)


def test_feed_with_embedded_bodies_becomes_read_events():
    page = decoding.parse_feed(response(200, body=FEED_FOO, content_type=ATOM))
    assert page.head_of_stream
    assert decoding.stream_link_start(page.link("previous")) == 3
    events = [decoding.read_event_from_entry(entry) for entry in page.entries]
    assert [e.event_number for e in events] == [2, 1, 0]
    assert events[1].data == {"a": "2"} and events[1].metadata == {"m": "x"}
    assert events[0].metadata == "" and events[0].is_json
    assert events[2].event_id == uuid.UUID("fbf4a1a1-b4a3-4dfe-a01f-ec52c34e16e4")
    assert events[2].created == datetime.datetime(2026, 11, 26, 12, 34, 42, 323031,
                                                  tzinfo=datetime.timezone.utc)
    assert events[0].original_stream_id is None and not events[0].is_resolved_link


def test_kurrent_media_type_is_accepted():
    page = decoding.parse_feed(response(200, body=FEED_FOO,
                                        content_type="application/vnd.kurrent.atom+json; charset=utf-8"))
    assert len(page.entries) == 3


def test_resolved_link_keeps_the_link_coordinates():
    entry = rich_entry("order-2", 0, "OrderPlaced", '{\n  "o": 2\n}', position=("$ce-order", 1))
    entry["linkMetaData"] = '{"$v":"3:-1:1:3","$o":"order-2"}'
    event = decoding.read_event_from_entry(entry)
    assert (event.stream_id, event.event_number) == ("order-2", 0)
    assert (event.original_stream_id, event.original_event_number) == ("$ce-order", 1)
    assert event.link_metadata == {"$v": "3:-1:1:3", "$o": "order-2"}
    assert event.data == {"o": 2}


def test_non_json_event_needs_its_text_from_a_second_read():
    entry = rich_entry("strdata", 0, "s", meta="meta str", is_json=False)
    assert decoding.needs_text(entry)
    event = decoding.read_event_from_entry(entry, "just a string")
    assert event.data == "just a string" and event.metadata == "meta str" and not event.is_json
    assert decoding.read_event_from_entry(entry).data is None
    assert not decoding.needs_text(rich_entry("foo", 0, "t", '{"a":1}'))


def test_json_flag_from_metadata_alone_keeps_text_data():
    event = decoding.read_event_from_entry(rich_entry("s", 0, "t", "hello", meta='{"a":1}'))
    assert event.data == "hello" and event.metadata == {"a": 1}


def test_plain_entry_of_an_unresolvable_link_and_content_entries():
    plain = {"title": "0@$et-OrderPlaced", "id": BASE + "/streams/%24et-OrderPlaced/0",
             "updated": "2026-11-26T12:39:38.007955Z", "summary": "$>", "links": []}
    event = decoding.read_event_from_entry(plain)
    assert (event.stream_id, event.event_number, event.event_type) == ("$et-OrderPlaced", 0, "$>")
    single = {"title": "1@foo", "summary": "event-type", "updated": "2026-11-26T12:34:42.323016Z",
              "content": {"eventStreamId": "foo", "eventNumber": 1, "eventType": "event-type",
                          "eventId": "0f9fad5b-d9cb-469f-a165-70867728950e",
                          "data": {"a": "2"}, "metadata": {"m": "x"}}}
    event = decoding.read_event_from_entry(single)
    assert event.data == {"a": "2"} and event.metadata == {"m": "x"} and event.event_number == 1


def test_all_feed_links_give_positions():
    all_feed = {"title": "All events", "id": BASE + "/streams/%24all", "headOfStream": False,
                "links": [link("/streams/%24all/000000000000314A000000000000314A/backward/20", "next"),
                          link("/streams/%24all/00000000000084C400000000000084C4/forward/20", "previous")],
                "entries": []}
    page = decoding.parse_feed(response(200, body=all_feed, content_type=ATOM))
    assert decoding.all_link_position(page.link("next")) == (0x314A, 0x314A)
    assert decoding.all_link_position(page.link("previous")) == (0x84C4, 0x84C4)
    assert decoding.all_link_position(None) is None


@pytest.mark.parametrize("text,expected", [
    ("2026-11-26T12:34:42.3230318Z", datetime.datetime(2026, 11, 26, 12, 34, 42, 323031,
                                                       tzinfo=datetime.timezone.utc)),
    ("0001-01-01T00:00:00Z", datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)),
    ("not a date", None),
])
def test_timestamps(text, expected):
    assert decoding.parse_timestamp(text) == expected


@pytest.mark.parametrize("body,content_type", [
    (b"<html></html>", "text/html"),
    (b"{not json", ATOM),
    (b'{"entries": 5}', ATOM),
    (b'{"links": [{"href": 1}]}', ATOM),
    (b"[]", ATOM),
])
def test_invalid_feeds_are_protocol_errors(body, content_type):
    with pytest.raises(errors.ProtocolError):
        decoding.parse_feed(response(200, body=body, content_type=content_type))


DEEP_JSON = "[" * 5000 + "]" * 5000  # valid JSON, nested deeper than Python's recursion limit


@pytest.mark.parametrize("entry", [
    {"title": 5}, {"title": None, "summary": "t"}, {"title": "9" * 5000 + "@s"}, {"title": "\u00b2@s"},
    {"content": {"eventNumber": None}},
    {"content": {"eventStreamId": "s", "eventNumber": True, "eventType": "t"}},
    {"content": {"eventStreamId": 5, "eventNumber": 0, "eventType": "t"}},
    {"eventId": "x", "streamId": "s", "eventNumber": False, "eventType": "t"},
], ids=["title-number", "title-null", "title-5000-digits", "title-superscript", "content-number-null",
        "content-number-bool", "content-stream-number", "event-number-bool"])
def test_entries_of_the_wrong_shape_are_protocol_errors(entry):
    with pytest.raises(errors.ProtocolError):
        decoding.read_event_from_entry(entry)


@pytest.mark.parametrize("text,data", [
    ('{"a": 1}', {"a": 1}), (' \n{"a": 1}\n ', {"a": 1}), ("[1, 2]", [1, 2]),
    ('{"a": 1} trailing', '{"a": 1} trailing'), ("1 2", "1 2"), ("{not json", "{not json"), ("", ""),
])
def test_json_payloads_parse_like_json_loads_or_stay_text(text, data):
    assert decoding.read_event_from_entry(rich_entry("s", 0, "t", text)).data == data


def test_json_data_nested_too_deep_for_python_comes_back_as_text():
    event = decoding.read_event_from_entry(rich_entry("s", 0, "t", DEEP_JSON))
    assert event.data == DEEP_JSON and event.is_json


def test_a_document_nested_too_deep_for_python_is_a_protocol_error():
    with pytest.raises(errors.ProtocolError):
        decoding.parse_json_body(response(200, body=DEEP_JSON.encode(), content_type="application/json"))


@pytest.mark.parametrize("location", ["/streams/s/" + "9" * 5000, "/streams/s/\u00b2", "/streams/s/-1",
                                      "/streams/s/1e3"])
def test_append_locations_without_an_int64_event_number_are_protocol_errors(location):
    with pytest.raises(errors.ProtocolError):
        decoding.appended_event_numbers(response(201, "Created", [("Location", location)]), 1)


def test_links_with_absurd_event_numbers_are_no_links():
    assert decoding.stream_link_start(BASE + "/streams/s/" + "9" * 5000 + "/forward/20") is None
    assert decoding.stream_link_start(BASE + "/streams/s/42/forward/20") == 42


@pytest.mark.parametrize("body", [b"[]", b'"a string"', b"null", b"5"])
def test_stream_metadata_that_is_not_an_object_is_a_protocol_error(body):
    with pytest.raises(errors.ProtocolError):
        decoding.parse_metadata_document(response(200, body=body, content_type="application/json"))
    assert decoding.parse_metadata_document(response(200, body=b"{}", content_type="application/json")) == {}


# --- error mapping ----------------------------------------------------------------------------
REQUEST = Request("POST", "/streams/foo", headers={"Authorization": "Basic c2VjcmV0"})


@pytest.mark.parametrize("status,reason,headers,body,kind", [
    (400, "Wrong expected EventNumber", [("ES-CurrentVersion", "2")], b"", errors.WrongExpectedVersion),
    (400, "Wrong expected EventNumber", [], b"", errors.WrongExpectedVersion),
    (400, "Bad Request", [("Kurrent-CurrentVersion", "-1")], b"", errors.WrongExpectedVersion),
    (400, "ES-ExpectedVersion header in wrong format.", [], b"", errors.BadRequest),
    (400, "Bad Request", [], b"Write request body invalid.", errors.BadRequest),
    (401, "Unauthorized", [], b"", errors.AccessDenied),
    (404, "Not Found", [], b"", errors.StreamNotFound),
    (408, "Server was unable to handle request in time", [], b"", errors.Timeout),
    (410, "Deleted", [], b"", errors.StreamDeleted),
    (500, "Read size too big, should be less than 4096 items", [], b"", errors.ServerError),
    (503, "Service Unavailable", [], b"", errors.ServerError),
    (406, "Requested URI is not available in requested format", [], b"", errors.HttpError),
    (415, "Invalid or missing Content-Type", [], b"", errors.HttpError),
])
def test_statuses_map_to_the_hierarchy(status, reason, headers, body, kind):
    error = error_for(response(status, reason, headers, body, content_type="text/plain; charset=utf-8",
                               request=REQUEST))
    assert type(error) is kind
    assert error.status == status
    assert error.message == (body.decode() or reason)
    assert "POST /streams/foo" in str(error) and "c2VjcmV0" not in str(error) + repr(error)


def test_wrong_expected_version_carries_the_current_version():
    error = error_for(response(400, "Wrong expected EventNumber", [("ES-CurrentVersion", "2")]))
    assert error.current_version == 2 and "current version 2" in str(error)
    assert error_for(response(400, "Wrong expected EventNumber")).current_version is None


def test_v20_text_bodies_and_missing_reason_phrases():
    error = error_for(response(400, "", [], b"Empty eventId provided.", content_type="text/plain"))
    assert error.message == "Empty eventId provided."
    assert error_for(response(404, "")).message == "Not Found"
    # 3.x answers a missing event with a text body of "{}": the reason phrase is the message
    assert error_for(response(404, "Not Found", [], b"{}", content_type="text/plain")).message == "Not Found"


def test_not_found_kind_is_chosen_by_the_operation():
    with pytest.raises(errors.EventNotFound):
        raise_for_status(response(404, "Not Found"), (200,), errors.EventNotFound)
    raise_for_status(response(204, "Stream deleted"), (200, 204))


# --- optional: every recorded exchange of a real server ------------------------------------------
TRANSCRIPTS = os.environ.get("CLIENTAPI_TRANSCRIPTS")  # a directory of recorded *.txt exchanges


def recorded_responses():
    if not TRANSCRIPTS or not os.path.isdir(TRANSCRIPTS):
        return []
    found = []
    for name in sorted(os.listdir(TRANSCRIPTS)):
        with open(os.path.join(TRANSCRIPTS, name), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        raw = text.split("### RESPONSE (raw)\n", 1)[-1]
        if "### RESPONSE (raw)\n" in text and raw.startswith("HTTP/1.1 "):  # not failed connects
            found.append((name, raw))
    return found


def as_response(raw):
    head, _, body = raw.partition("\n\n")
    lines = head.split("\n")
    status_line = re.match(r"HTTP/1\.1 (\d+) ?(.*)", lines[0])
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
    return response(int(status_line.group(1)), status_line.group(2), headers, body.encode())


@pytest.mark.skipif(not recorded_responses(), reason="set CLIENTAPI_TRANSCRIPTS to a transcript directory")
@pytest.mark.parametrize("name,raw", recorded_responses())
def test_recorded_responses_parse_or_map_to_our_errors(name, raw):
    recorded = as_response(raw)
    if recorded.status >= 300:
        assert isinstance(error_for(recorded), errors.EventStoreError)
    elif recorded.media_type in ("application/vnd.eventstore.atom+json", "application/json"):
        document = json.loads(recorded.body or b"null")
        if isinstance(document, dict) and "entries" in document:
            page = decoding.parse_feed(recorded)
            for entry in page.entries:
                event = decoding.read_event_from_entry(entry)
                assert isinstance(event.stream_id, str) and isinstance(event.event_number, int)
