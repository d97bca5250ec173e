"""The blocking/_async machinery: callbacks, wait()/resume(), loops, argument checks, paging."""
import asyncio
import threading

import pytest

from clientapi import Client, WriteEvent, errors
from clientapi.client import PAGE_LIMIT


def json_event(n):
    return WriteEvent({"n": n}, is_json=True, event_type="numbered")


def test_async_calls_run_only_inside_wait_and_call_one_callback_each(client, stream):
    calls = []
    loop = client.io_loop.asyncio_loop
    main = threading.current_thread()

    def on_success(result):
        assert asyncio.get_running_loop() is loop and threading.current_thread() is main
        calls.append(result)
        if len(calls) == 16:
            client.resume()

    futures = [client.append_to_stream_async(stream, json_event(n), on_success=on_success,
                                             on_failed=pytest.fail) for n in range(16)]
    assert calls == [] and not any(f.done() for f in futures)
    client.wait(timeout=20)
    assert sorted(number for numbers in calls for number in numbers) == list(range(16))
    assert [f.result() for f in futures] == calls or sorted(map(tuple, calls)) == sorted(
        tuple(f.result()) for f in futures)


def test_on_failed_gets_the_same_exception_object_as_the_future(client, stream):
    failures = []
    future = client.read_event_async(stream, 0, on_success=pytest.fail,
                                     on_failed=lambda e: (failures.append(e), client.resume()))
    client.wait(timeout=10)
    assert len(failures) == 1 and isinstance(failures[0], errors.EventNotFound)
    assert future.exception() is failures[0]


def test_only_one_callback_needed(client, stream):
    done = []
    client.append_to_stream_async(stream, json_event(0), on_success=lambda r: (done.append(r), client.resume()))
    client.wait(timeout=10)
    assert done == [[0]]


def test_resume_before_wait_returns_at_once_and_wait_times_out(client):
    client.resume()
    client.wait(timeout=5)
    with pytest.raises(errors.Timeout):
        client.wait(timeout=0.05)


def test_a_failing_callback_ends_wait_with_its_error(client, stream):
    class Boom(Exception):
        pass

    def explode(result):
        raise Boom("from the callback")

    client.append_to_stream_async(stream, json_event(0), on_success=explode)
    with pytest.raises(Boom):
        client.wait(timeout=10)


def test_blocking_call_inside_a_running_loop_is_refused(client, stream):
    async def inside():
        with pytest.raises(errors.UsageError) as caught:
            client.read_event(stream, 0)
        assert "_async" in str(caught.value)
        with pytest.raises(errors.UsageError):
            client.wait()
    asyncio.run(inside())

    # ...including inside a callback that wait() is running
    client.append_to_stream_async(stream, json_event(0), on_success=lambda r: client.read_event(stream, 0))
    with pytest.raises(errors.UsageError):
        client.wait(timeout=10)


def test_async_inside_user_code_runs_on_the_users_loop(client, stream):
    seen = []

    async def user_code():
        loop = asyncio.get_running_loop()
        numbers = await client.append_to_stream_async(
            stream, json_event(0), on_success=lambda r: seen.append(asyncio.get_running_loop() is loop))
        results = await asyncio.gather(*[client.append_to_stream_async(stream, json_event(n))
                                         for n in range(1, 5)])
        events = await client.read_stream_events_forward_async(stream, 0, 10)
        client.close()
        return numbers, results, events

    numbers, results, events = asyncio.run(user_code())
    assert numbers == [0] and sorted(results) == [[1], [2], [3], [4]] and len(events) == 5
    assert seen == [True]


def test_close_inside_wait_is_refused_clearly(client, stream):
    client.append_to_stream_async(stream, json_event(0), on_success=lambda result: client.close())
    with pytest.raises(errors.UsageError):
        client.wait(timeout=10)
    client.close()


def test_closed_client_refuses_work(shared_node, stream):
    client = Client(shared_node.host, shared_node.port)
    client.close()
    client.close()
    with pytest.raises(errors.UsageError):
        client.read_event(stream, 0)
    with pytest.raises(errors.UsageError):
        client.read_event_async(stream, 0)


# --- argument checks: every public method, both faces, nothing sent ---------------------------
BAD_CALLS = [
    ("create_stream", (5,), {}, TypeError),
    ("create_stream", ("",), {}, ValueError),
    ("create_stream", ("s", 5), {}, TypeError),
    ("delete_stream", (None,), {}, TypeError),
    ("delete_stream", ("s", "x"), {}, TypeError),
    ("delete_stream", ("s", -7), {}, ValueError),
    ("delete_stream", ("s", -2, "yes"), {}, TypeError),
    ("append_to_stream", ("s", []), {}, ValueError),
    ("append_to_stream", ("s", "x"), {}, TypeError),
    ("append_to_stream", ("s", WriteEvent("x"), "2"), {}, TypeError),
    ("append_to_stream", ("$all", WriteEvent("x")), {}, ValueError),
    ("append_to_stream", ("s", WriteEvent("x" * 2_000_000)), {}, errors.AppendTooLarge),
    ("read_event", ("s", -2), {}, ValueError),
    ("read_event", ("s", "0"), {}, TypeError),
    ("read_event", ("s", 0), {"resolve_links": "no"}, TypeError),
    ("read_event", ("s", 0), {"credentials": "admin"}, TypeError),
    ("read_event", ("s", 0), {"credentials": ("", "x")}, ValueError),
    ("read_stream_events_forward", ("s", 0, 0), {}, ValueError),
    ("read_stream_events_forward", ("s", "0", 1), {}, TypeError),
    ("read_stream_events_backward", ("s", -2, 5), {}, ValueError),
    ("read_stream_events_backward", ("s", 0, 1.5), {}, TypeError),
    ("read_all_events_forward", (-1, 0, 5), {}, ValueError),
    ("read_all_events_forward", (0, 0, 0), {}, ValueError),
    ("read_all_events_backward", ("0", 0, 5), {}, TypeError),
    ("read_all_events_backward", (0, 0, 5), {"resolve_links": None}, TypeError),
    ("get_stream_metadata", (None,), {}, TypeError),
    ("get_stream_metadata", ("$all",), {}, ValueError),
    ("set_stream_metadata", ("s", "x"), {}, TypeError),
    ("set_stream_metadata", ("s", {}, -3), {}, ValueError),
    ("set_stream_metadata", ("s", {"x": object()}), {}, TypeError),
]


@pytest.mark.parametrize("name,args,kwargs,error", BAD_CALLS)
def test_bad_arguments_raise_before_any_request_in_both_faces(client, sent, name, args, kwargs, error):
    with pytest.raises(error):
        getattr(client, name)(*args, **kwargs)
    with pytest.raises(error):
        getattr(client, name + "_async")(*args, on_success=pytest.fail, on_failed=pytest.fail, **kwargs)
    assert sent == []


@pytest.mark.parametrize("timeout,error", [("1", TypeError), (True, TypeError), (-1, ValueError)])
def test_wait_checks_its_timeout(client, timeout, error):
    with pytest.raises(error):
        client.wait(timeout)


@pytest.mark.parametrize("callbacks", [dict(on_success=5), dict(on_failed="x")])
def test_callbacks_must_be_callable(client, sent, callbacks):
    with pytest.raises(TypeError):
        client.read_event_async("s", 0, **callbacks)
    assert sent == []


@pytest.mark.parametrize("kwargs,error", [
    (dict(host=5), TypeError), (dict(host=""), ValueError), (dict(port="2113"), TypeError),
    (dict(port=0), ValueError), (dict(username="admin"), ValueError),
    (dict(https="yes"), TypeError), (dict(request_timeout=0), ValueError),
    (dict(connect_timeout="1"), TypeError), (dict(http_client="requests"), ValueError),
    (dict(max_append_size=0), ValueError), (dict(retries=-1), ValueError),
    (dict(ca_file=3), TypeError), (dict(require_leader=1), TypeError),
    (dict(https=True, ca_file="no-such-ca.pem"), ValueError),
    (dict(client_cert="no-such-cert.pem"), ValueError),
])
def test_client_constructor_checks(kwargs, error):
    with pytest.raises(error):
        Client(**kwargs)


def test_client_repr_hides_the_password():
    with Client(username="admin", password="hunter2-secret") as client:
        assert "hunter2-secret" not in repr(client) and "admin" in repr(client)


# --- paging -----------------------------------------------------------------------------------------
def test_one_request_per_page_and_transparent_paging(client, stream, sent):
    total = PAGE_LIMIT + 150
    client.append_to_stream(stream, [json_event(n) for n in range(2000)])
    client.append_to_stream(stream, [json_event(n) for n in range(2000, total)])
    del sent[:]
    events = client.read_stream_events_forward(stream, 0, total + 10)
    assert [e.data["n"] for e in events] == list(range(total))
    assert len(sent) == 2 and all("embed=body" in r.target for r in sent)
    del sent[:]
    backward = client.read_stream_events_backward(stream, -1, PAGE_LIMIT + 5)
    assert [e.event_number for e in backward] == list(range(total - 1, total - PAGE_LIMIT - 6, -1))
    assert len(sent) == 2
    del sent[:]
    assert len(client.read_stream_events_forward(stream, 10, 20)) == 20 and len(sent) == 1


@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
def test_the_next_page_is_asked_for_before_this_one_is_decoded(client, stream, sent, monkeypatch,
                                                                forward):
    from clientapi.wire import decoding
    total = PAGE_LIMIT + 100
    client.append_to_stream(stream, [json_event(n) for n in range(2000)])
    client.append_to_stream(stream, [json_event(n) for n in range(2000, total)])
    requests_sent_at_decoding = []
    decode = decoding.read_events_from_entries

    def recording_decode(entries):
        requests_sent_at_decoding.append(len(sent))
        return decode(entries)
    monkeypatch.setattr(decoding, "read_events_from_entries", recording_decode)
    del sent[:]
    if forward:
        events = client.read_stream_events_forward(stream, 0, total)
        assert [e.event_number for e in events] == list(range(total))
    else:
        events = client.read_stream_events_backward(stream, -1, total)
        assert [e.event_number for e in events] == list(range(total - 1, -1, -1))
    # the second page was on its way before the first one was decoded, and no third was asked
    assert requests_sent_at_decoding == [2, 2] and len(sent) == 2


def test_non_json_pages_take_one_more_request(client, stream, sent):
    client.append_to_stream(stream, [WriteEvent("a"), json_event(1), WriteEvent("c")])
    del sent[:]
    assert [e.data for e in client.read_stream_events_forward(stream, 0, 10)] == ["a", {"n": 1}, "c"]
    assert [r.query for r in sent] == ["embed=body", "embed=tryharder"]


def test_all_reads_page_transparently_and_continue_exactly(eventstore_client, stream, sent):
    client = eventstore_client
    start = client.read_all_events_forward(-1, -1, 1)
    total = PAGE_LIMIT + 100
    for first in range(0, total, 1000):
        client.append_to_stream(stream, [json_event(n) for n in range(first, min(total, first + 1000))])
    del sent[:]
    forward = client.read_all_events_forward(start.prepare_position, start.commit_position, total + 50)
    mine = [e.data["n"] for e in forward.events if e.stream_id == stream]
    assert mine == list(range(total))
    assert 2 <= len(sent) <= 4  # two pages (each maybe read twice for non-JSON system events)
    backward = client.read_all_events_backward(-1, -1, total)
    assert [e.data["n"] for e in backward.events if e.stream_id == stream] == list(range(total - 1, -1, -1))
    # continuing forward from the returned position finds exactly what comes next
    client.append_to_stream(stream, json_event(total))
    after = client.read_all_events_forward(forward.prepare_position, forward.commit_position, 10)
    assert [(e.stream_id, e.data["n"]) for e in after.events] == [(stream, total)]
