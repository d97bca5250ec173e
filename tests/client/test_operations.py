"""Every operation against the embedded node over real sockets, in all three modes
(blocking, `_async` with callbacks driven by wait(), `await` inside user async code)."""
import base64
import datetime
import http.client
import uuid

import pytest

from clientapi import AllEventsSlice, ReadEvent, WriteEvent, errors

MAX_INT64 = 2 ** 63 - 1


def json_event(n, **kwargs):
    return WriteEvent({"n": n}, is_json=True, event_type="numbered", **kwargs)


def fill(client, stream, count, batch=100):
    for start in range(0, count, batch):
        client.append_to_stream(stream, [json_event(n) for n in range(start, min(count, start + batch))])


# --- create / append / read -----------------------------------------------------------------
def test_hello_world(call, stream):
    call("create_stream", stream)
    assert call("append_to_stream", stream, WriteEvent("hello, Event Store!")) == [1]
    events = call("read_stream_events_backward", stream, -1, 100)
    assert [(e.event_type, e.data) for e in events] == [("str", "hello, Event Store!"),
                                                        ("$stream-created", "")]
    call("delete_stream", stream)
    with pytest.raises(errors.StreamNotFound):
        call("read_stream_events_backward", stream, -1, 100)


def test_create_stream_with_dict_metadata_sets_stream_metadata(call, stream):
    call("create_stream", stream, {"owner": "me", "$maxCount": 100})
    first = call("read_event", stream, 0)
    assert first.event_type == "$stream-created" and first.is_json
    assert first.data == {"owner": "me", "$maxCount": 100}
    assert call("get_stream_metadata", stream) == {"owner": "me", "$maxCount": 100}


def test_create_existing_stream_is_a_clear_error(call, stream):
    call("create_stream", stream, "first")
    with pytest.raises(errors.StreamAlreadyExists) as caught:
        call("create_stream", stream)
    assert caught.value.current_version == 0 and stream in caught.value.message
    assert isinstance(caught.value, errors.WrongExpectedVersion)


def test_append_returns_numbers_and_is_atomic_and_idempotent(call, stream):
    assert call("append_to_stream", stream, json_event(0)) == [0]
    batch = [json_event(n) for n in range(1, 4)]
    assert call("append_to_stream", stream, batch, 0) == [1, 2, 3]
    # The same WriteEvents again (a retry): same numbers, nothing new written.
    assert call("append_to_stream", stream, batch) == [1, 2, 3]
    assert call("append_to_stream", stream, batch, 0) == [1, 2, 3]
    assert [e.data["n"] for e in call("read_stream_events_forward", stream, 0, 100)] == [0, 1, 2, 3]


def test_payload_kinds_round_trip(call, stream):
    written = [WriteEvent({"a": [1, 2]}, is_json=True, metadata={"m": 1}),
               WriteEvent("text", metadata="meta text"),
               WriteEvent(b"bytes as text"),
               WriteEvent([1, "two"], is_json=True),
               WriteEvent(None, event_type="empty"),
               WriteEvent("unicode \u00e9\u4e2d")]
    call("append_to_stream", stream, written)
    events = call("read_stream_events_forward", stream, 0, 10)
    assert [e.data for e in events] == [{"a": [1, 2]}, "text", "bytes as text", [1, "two"], "",
                                        "unicode \u00e9\u4e2d"]
    assert [e.metadata for e in events[:2]] == [{"m": 1}, "meta text"]
    assert [e.is_json for e in events] == [True, False, False, True, False, False]
    assert [e.event_id for e in events] == [w.event_id for w in written]
    assert all(e.stream_id == stream for e in events)
    assert events[4].event_type == "empty"
    assert isinstance(events[0].created, datetime.datetime) and events[0].created.tzinfo


def test_read_event(call, stream):
    call("append_to_stream", stream, [json_event(0), WriteEvent("last one")])
    event = call("read_event", stream, 0)
    assert isinstance(event, ReadEvent)
    assert (event.event_number, event.data, event.event_type) == (0, {"n": 0}, "numbered")
    last = call("read_event", stream, -1)
    assert (last.event_number, last.data, last.is_json) == (1, "last one", False)
    with pytest.raises(errors.EventNotFound):
        call("read_event", stream, 5)
    with pytest.raises(errors.StreamNotFound):
        call("read_event", stream + "-missing", 0)


def test_read_forward_and_backward_windows(call, stream):
    fill(call.client, stream, 10)
    numbers = lambda events: [e.event_number for e in events]  # noqa: E731
    assert numbers(call("read_stream_events_forward", stream, 3, 4)) == [3, 4, 5, 6]
    assert numbers(call("read_stream_events_forward", stream, 8, 10)) == [8, 9]
    assert numbers(call("read_stream_events_forward", stream, 20, 5)) == []
    assert numbers(call("read_stream_events_forward", stream, -1, 5)) == []
    assert numbers(call("read_stream_events_backward", stream, -1, 3)) == [9, 8, 7]
    assert numbers(call("read_stream_events_backward", stream, 4, 10)) == [4, 3, 2, 1, 0]
    with pytest.raises(errors.StreamNotFound):
        call("read_stream_events_forward", stream + "-missing", 0, 5)
    with pytest.raises(errors.StreamNotFound):
        call("read_stream_events_forward", stream + "-missing", -1, 5)


def test_resolved_links_keep_their_own_coordinates(call, stream):
    target = stream + "-target"
    call("append_to_stream", target, [json_event(0), json_event(1)])
    call("append_to_stream", stream, WriteEvent("1@" + target, event_type="$>"))
    event = call("read_stream_events_forward", stream, 0, 1)[0]
    assert (event.stream_id, event.event_number, event.data) == (target, 1, {"n": 1})
    assert (event.original_stream_id, event.original_event_number) == (stream, 0)
    raw = call("read_stream_events_forward", stream, 0, 1, resolve_links=False)[0]
    assert (raw.event_type, raw.data, raw.original_stream_id) == ("$>", "1@" + target, None)


# --- expected versions, deletes, metadata ------------------------------------------------------
def test_wrong_expected_version_reports_current_version(call, stream):
    call("append_to_stream", stream, [json_event(0), json_event(1)])
    with pytest.raises(errors.WrongExpectedVersion) as caught:
        call("append_to_stream", stream, json_event(2), 5)
    assert caught.value.current_version == 1 and caught.value.status == 400
    with pytest.raises(errors.WrongExpectedVersion):
        call("append_to_stream", stream, json_event(2), -1)
    assert call("append_to_stream", stream, json_event(2), 1) == [2]
    assert call("append_to_stream", stream, json_event(3), -4) == [3]


def test_soft_delete_then_recreate(call, stream):
    call("append_to_stream", stream, [json_event(0), json_event(1)])
    with pytest.raises(errors.WrongExpectedVersion):
        call("delete_stream", stream, 0)
    call("delete_stream", stream, 1)
    with pytest.raises(errors.StreamNotFound):
        call("read_stream_events_forward", stream, 0, 10)
    assert call("append_to_stream", stream, json_event(2)) == [2]
    assert [e.data["n"] for e in call("read_stream_events_forward", stream, 0, 10)] == [2]


def test_hard_delete_is_forever(call, stream):
    call("append_to_stream", stream, json_event(0))
    call("delete_stream", stream, hard_delete=True)
    for name, args in [("read_stream_events_backward", (stream, -1, 5)),
                       ("read_event", (stream, 0)),
                       ("append_to_stream", (stream, json_event(1))),
                       ("delete_stream", (stream,))]:
        with pytest.raises(errors.StreamDeleted) as caught:
            call(name, *args)
        assert caught.value.status == 410


def test_metadata_get_set(call, stream):
    call("append_to_stream", stream, json_event(0))
    assert call("get_stream_metadata", stream) == {}
    assert call("set_stream_metadata", stream, {"custom": "value", "$maxCount": 50}) == 0
    assert call("get_stream_metadata", stream) == {"custom": "value", "$maxCount": 50}
    assert call("set_stream_metadata", stream, {"custom": 2}, 0) == 1
    with pytest.raises(errors.WrongExpectedVersion):
        call("set_stream_metadata", stream, {"custom": 3}, 0)
    with pytest.raises(errors.StreamNotFound):
        call("get_stream_metadata", stream + "-missing")


def test_truncated_stream_reads_skip_hidden_events(call, stream):
    fill(call.client, stream, 10)
    call("set_stream_metadata", stream, {"$tb": 6})
    assert [e.event_number for e in call("read_stream_events_forward", stream, 0, 3)] == [6, 7, 8]
    assert [e.event_number for e in call("read_stream_events_forward", stream, 0, 100)] == [6, 7, 8, 9]
    assert [e.event_number for e in call("read_stream_events_backward", stream, -1, 100)] == [9, 8, 7, 6]
    call("set_stream_metadata", stream, {"$maxCount": 2})
    assert [e.event_number for e in call("read_stream_events_forward", stream, 0, 100)] == [8, 9]


# --- $all -----------------------------------------------------------------------------------------
def test_read_all_forward_and_backward_with_positions(call, stream):
    end = call("read_all_events_forward", -1, -1, 10)
    assert isinstance(end, AllEventsSlice) and end.events == []
    call("append_to_stream", stream, [json_event(n) for n in range(5)])
    page = call("read_all_events_forward", end.prepare_position, end.commit_position, 3)
    assert [(e.stream_id, e.event_number) for e in page.events] == [(stream, 0), (stream, 1), (stream, 2)]
    rest = call("read_all_events_forward", page.prepare_position, page.commit_position, 100)
    assert [(e.stream_id, e.event_number) for e in rest.events] == [(stream, 3), (stream, 4)]
    again = call("read_all_events_forward", rest.prepare_position, rest.commit_position, 100)
    assert again.events == [] and (again.prepare_position, again.commit_position) == (
        rest.prepare_position, rest.commit_position)
    back = call("read_all_events_backward", -1, -1, 2)
    assert [(e.stream_id, e.event_number) for e in back.events] == [(stream, 4), (stream, 3)]
    older = call("read_all_events_backward", back.prepare_position, back.commit_position, 3)
    assert [(e.stream_id, e.event_number) for e in older.events] == [(stream, 2), (stream, 1), (stream, 0)]


def test_read_all_fills_in_non_json_payloads(call, stream):
    end = call("read_all_events_forward", -1, -1, 1)
    call("append_to_stream", stream, [WriteEvent("plain"), json_event(1), WriteEvent(b"more")])
    page = call("read_all_events_forward", end.prepare_position, end.commit_position, 10)
    mine = [e for e in page.events if e.stream_id == stream]
    assert [e.data for e in mine] == ["plain", {"n": 1}, "more"]
    assert [e.is_json for e in mine] == [False, True, False]


def test_read_all_from_the_start(call):
    page = call("read_all_events_forward", 0, 0, 5)
    assert 0 < len(page.events) <= 5
    assert (page.commit_position, page.prepare_position) > (0, 0)


def test_read_all_needs_admin(call, anonymous):
    with pytest.raises(errors.AccessDenied) as caught:
        anonymous.read_all_events_backward(-1, -1, 5)
    assert caught.value.status == 401
    # per-call credentials override the client's (none here)
    assert anonymous.read_all_events_backward(-1, -1, 1, credentials=("admin", "changeit")).events


def test_wrong_password_is_access_denied_without_leaking_it(call, stream):
    with pytest.raises(errors.AccessDenied) as caught:
        call("read_all_events_backward", -1, -1, 1, credentials=("admin", "s3cr3t-pw"))
    text = str(caught.value) + repr(caught.value) + repr(caught.value.__dict__)
    assert "s3cr3t-pw" not in text and "YWRtaW46czNjcjN0LXB3" not in text


def test_system_stream_write_needs_admin(anonymous, stream):
    with pytest.raises(errors.AccessDenied):
        anonymous.append_to_stream("$" + stream, json_event(0))


def test_append_too_large_is_refused_before_sending(call, stream, sent):
    big = [WriteEvent("x" * 200_000) for _ in range(6)]
    with pytest.raises(errors.AppendTooLarge):
        call("append_to_stream", stream, big)
    assert sent == []
    with pytest.raises(errors.StreamNotFound):
        call("read_event", stream, 0)


@pytest.mark.parametrize("stream_id", [".", ".."])
def test_streams_named_like_dot_segments_are_addressable(call, stream_id):
    event = json_event(0)
    call("append_to_stream", stream_id, event)
    events = call("read_stream_events_backward", stream_id, -1, 4096)
    assert event.event_id in [e.event_id for e in events]
    assert {e.stream_id for e in events} == {stream_id}


def test_json_data_nested_too_deep_for_python_is_read_as_text(client, stream, shared_node):
    deep = b"[" * 3000 + b"]" * 3000  # valid JSON, stored as is by the server
    connection = http.client.HTTPConnection(shared_node.host, shared_node.port, timeout=10)
    connection.request("POST", "/streams/" + stream, deep, {
        "Content-Type": "application/json", "ES-EventType": "deep", "ES-EventId": str(uuid.uuid4()),
        "Authorization": "Basic " + base64.b64encode(b"admin:changeit").decode()})
    assert connection.getresponse().status == 201
    connection.close()
    client.append_to_stream(stream, json_event(1))
    events = client.read_stream_events_forward(stream, 0, 10)
    assert [e.data for e in events] == [deep.decode(), {"n": 1}]
