"""Catch-up subscriptions end to end: a Client and the embedded node over real sockets."""
from __future__ import annotations

import asyncio
import time

import pytest

from clientapi import WriteEvent
from clientapi.errors import AccessDenied, StreamDeleted
from clientapi.subscriptions import AllCheckpoint, AllPosition, CallbackError, RetryPolicy

from .conftest import Recorder, append_in_batches, free_port, make_client, numbered, run_loop_for


def all_events_of(client, streams):
    """What a plain read of the whole of `$all` returns for these streams, in log order."""
    events = client.read_all_events_forward(0, 0, 100_000).events
    return [(e.stream_id, e.event_number) for e in events if e.stream_id in streams]


# --- exactly once, in order ------------------------------------------------------------

def test_ten_thousand_events_each_once_in_order_through_catch_up_and_live(client, stream):
    append_in_batches(client, stream, 6000)
    more = iter(range(6000, 10_000, 250))

    def append_next(_=None):  # the other 4,000 arrive while the subscription is live
        start = next(more, None)
        if start is not None:
            client.append_to_stream_async(stream, numbered(250, start), on_success=append_next)

    recorder = Recorder(client, until=10_000)
    subscription = client.subscribe(stream, recorder, start_from_begining=True,
                                    on_live=lambda: (recorder.on_live(), append_next()))
    client.wait(timeout=60)
    run_loop_for(client, 0.3)  # nothing more may come

    assert recorder.numbers == list(range(10_000))
    assert [e.data["i"] for e in recorder.events] == list(range(10_000))
    assert recorder.live_at == [6000]
    assert subscription.checkpoint == 9999 and subscription.is_live


def test_ten_thousand_events_of_all_each_once_in_log_order(fresh_node):
    client = make_client(fresh_node.host, fresh_node.port)
    streams = ["all-a", "all-b", "all-c", "all-d"]
    for round_ in range(20):
        for stream in streams:
            client.append_to_stream(stream, numbered(75, round_ * 75))
    recorder = Recorder(client)
    ours = []

    def until_all_written(r):
        if r.events[-1].stream_id in streams:
            ours.append(r.events[-1])
            if len(ours) == 10_000:
                client.resume()

    recorder.then = until_all_written
    more = iter(range(0, 4000, 200))

    def append_next(_=None):
        start = next(more, None)
        if start is not None:
            client.append_to_stream_async("all-live", numbered(200, start), on_success=append_next)

    streams.append("all-live")
    client.subscribe_all(recorder, start_from_beginning=True, page_size=500,
                         on_live=lambda: (recorder.on_live(), append_next()))
    client.wait(timeout=60)
    run_loop_for(client, 0.3)

    delivered = [(e.stream_id, e.event_number) for e in recorder.events]
    everything = client.read_all_events_forward(0, 0, 100_000).events
    assert delivered == [(e.stream_id, e.event_number) for e in everything]
    assert len(ours) == 10_000
    for stream in streams:
        assert [e.data["i"] for e in ours if e.stream_id == stream] == \
            list(range(4000 if stream == "all-live" else 1500))
    client.close()


# --- where it starts -------------------------------------------------------------------

def test_by_default_only_events_written_after_subscribing(client, stream):
    append_in_batches(client, stream, 30)
    recorder = Recorder(client, until=5)
    client.subscribe(stream, recorder, on_live=lambda: client.append_to_stream_async(
        stream, numbered(5, 100)))
    client.wait(timeout=10)
    assert recorder.numbers == [30, 31, 32, 33, 34]
    assert [e.data["i"] for e in recorder.events] == [100, 101, 102, 103, 104]


def test_a_stream_not_written_yet_is_waited_for(client, stream):
    recorder = Recorder(client, until=3)
    client.subscribe(stream, recorder, True, on_live=lambda: client.append_to_stream_async(
        stream, numbered(3)))
    client.wait(timeout=10)
    assert recorder.numbers == [0, 1, 2]


def test_resumes_right_after_a_stored_event_number(client, stream):
    append_in_batches(client, stream, 2500)

    def stop_at_1234(r):
        if len(r.events) == 1235:
            subscription.stop()
            client.resume()

    first = Recorder(client, then=stop_at_1234)
    subscription = client.subscribe(stream, first, start_from_beginning=True, page_size=200)
    client.wait(timeout=20)
    run_loop_for(client, 0.2)
    assert first.numbers == list(range(1235)) and subscription.checkpoint == 1234

    second = Recorder(client, until=2500 - 1235)
    client.subscribe(stream, second, start_after=subscription.checkpoint)
    client.wait(timeout=20)
    assert second.numbers == list(range(1235, 2500))


def test_all_resumes_mid_page_from_its_checkpoint(fresh_node):
    client = make_client(fresh_node.host, fresh_node.port)
    append_in_batches(client, "resume-all", 900)
    head = client.read_all_events_forward(0, 0, 100_000)
    everything = [(e.stream_id, e.event_number) for e in head.events]

    def stop_midway(r):
        if len(r.events) == 333:
            subscription.stop()
            client.resume()

    first = Recorder(client, then=stop_midway)
    subscription = client.subscribe_all(first, start_from_beginning=True, page_size=100)
    client.wait(timeout=20)
    checkpoint = subscription.checkpoint
    assert isinstance(checkpoint, AllCheckpoint) and checkpoint.skip == 33

    second = Recorder(client, until=len(everything) - 333)
    client.subscribe_all(second, start_after=checkpoint)
    client.wait(timeout=20)
    delivered = [(e.stream_id, e.event_number) for e in first.events + second.events]
    assert delivered == everything

    # a bare position, as a read of $all gives it, starts right there
    third = Recorder(client, until=2)
    client.subscribe_all(third, start_after=AllPosition(head.commit_position, head.prepare_position),
                         on_live=lambda: client.append_to_stream_async("resume-all", numbered(2, 900)))
    client.wait(timeout=20)
    assert [(e.stream_id, e.event_number) for e in third.events] == [
        ("resume-all", 900), ("resume-all", 901)]
    client.close()


def test_all_by_default_only_new_events(fresh_node):
    client = make_client(fresh_node.host, fresh_node.port)
    append_in_batches(client, "old-news", 50)
    recorder = Recorder(client, until=3)
    client.subscribe_all(recorder, on_live=lambda: client.append_to_stream_async(
        "fresh-news", numbered(3)))
    client.wait(timeout=10)
    assert [(e.stream_id, e.event_number) for e in recorder.events] == [
        ("fresh-news", 0), ("fresh-news", 1), ("fresh-news", 2)]
    client.close()


def test_links_are_resolved_and_ordered_by_their_place_in_the_stream_read(client, stream):
    client.append_to_stream(stream + "-a", numbered(3))
    client.append_to_stream(stream + "-b", numbered(2, 10))
    targets = [(stream + "-b", 1), (stream + "-a", 0), (stream + "-a", 2), (stream + "-b", 0)]
    client.append_to_stream(stream, [WriteEvent("{}@{}".format(n, s), event_type="$>")
                                     for s, n in targets])

    resolved = Recorder(client, until=4)
    client.subscribe(stream, resolved, start_from_beginning=True)
    client.wait(timeout=10)
    assert [(e.stream_id, e.event_number) for e in resolved.events] == targets
    assert [e.original_event_number for e in resolved.events] == [0, 1, 2, 3]
    assert [e.data["i"] for e in resolved.events] == [11, 0, 2, 10]

    raw = Recorder(client, until=4)
    client.subscribe(stream, raw, start_from_beginning=True, resolve_links=False)
    client.wait(timeout=10)
    assert [e.event_type for e in raw.events] == ["$>"] * 4
    assert [e.event_number for e in raw.events] == [0, 1, 2, 3]


def test_a_category_stream_of_the_standard_projections_catches_up_then_goes_live():
    from clientapi.server import Node

    with Node(port=0, run_projections="system", start_standard_projections=True) as node:
        client = make_client(node.host, node.port)
        for n in range(3):
            client.append_to_stream("order-{}".format(n), numbered(2, 10 * n))
        recorder = Recorder(client, until=8)
        client.subscribe("$ce-order", recorder, True, on_live=lambda: client.append_to_stream_async(
            "order-1", numbered(2, 12)))
        client.wait(timeout=20)
        client.close()
    assert [e.original_event_number for e in recorder.events] == list(range(8))
    assert {e.original_stream_id for e in recorder.events} == {"$ce-order"}
    assert sorted(e.data["i"] for e in recorder.events) == [0, 1, 10, 11, 12, 13, 20, 21]
    assert [e.data["i"] for e in recorder.events[-2:]] == [12, 13]
    assert [(e.stream_id, e.event_number) for e in recorder.events[-2:]] == [
        ("order-1", 2), ("order-1", 3)]


def test_text_and_json_events_come_with_their_data(client, stream):
    client.append_to_stream(stream, [WriteEvent("plain text", event_type="note"),
                                     WriteEvent({"a": 1}, is_json=True, event_type="json"),
                                     WriteEvent(b"bytes as text", event_type="note")])
    recorder = Recorder(client, until=3)
    client.subscribe(stream, recorder, True)
    client.wait(timeout=10)
    assert [e.data for e in recorder.events] == ["plain text", {"a": 1}, "bytes as text"]


# --- live ------------------------------------------------------------------------------

def test_a_new_event_arrives_within_milliseconds(client, stream):
    client.append_to_stream(stream, numbered(1))
    latencies = []
    sent_at = {}

    def on_event(event):
        latencies.append(time.perf_counter() - sent_at[event.data["i"]])
        if len(latencies) == 20:
            client.resume()
        else:
            send(len(latencies))

    def send(i):
        sent_at[i] = time.perf_counter()
        client.append_to_stream_async(stream, numbered(1, i))

    client.subscribe(stream, on_event, on_live=lambda: send(0))
    client.wait(timeout=20)
    assert sorted(latencies)[len(latencies) // 2] < 0.1


# --- stopping --------------------------------------------------------------------------

def test_unsubscribe_from_a_callback_takes_effect_at_once(client, stream):
    append_in_batches(client, stream, 500)

    def stop_at_ten(r):
        if len(r.events) == 10:
            client.unsubscribe(stream)
            client.io_loop.call_later(0.3, client.resume)

    recorder = Recorder(client, then=stop_at_ten)
    subscription = client.subscribe(stream, recorder, start_from_beginning=True, page_size=100)
    client.wait(timeout=10)
    client.append_to_stream(stream, numbered(5))
    run_loop_for(client, 0.3)
    assert recorder.numbers == list(range(10))
    assert not subscription.is_running and subscription.checkpoint == 9


def test_unsubscribe_between_waits_stops_a_live_subscription(client, stream):
    recorder = Recorder(client, until=1)
    live = []
    subscriptions = [client.subscribe(stream, recorder, on_live=lambda: live.append(1)),
                     client.subscribe(stream, recorder, on_live=lambda: live.append(2))]
    other = Recorder(client)
    kept = client.subscribe(stream + "-other", other, on_live=lambda: live.append(3))
    while len(live) < 3:
        run_loop_for(client, 0.05)
    client.unsubscribe(stream)  # both of them, not the other stream's
    client.append_to_stream(stream, numbered(3))
    client.append_to_stream(stream + "-other", numbered(1))
    run_loop_for(client, 0.5)
    assert recorder.events == []
    assert [s.is_running for s in subscriptions] == [False, False]
    assert kept.is_running and len(other.events) == 1
    kept.stop()


def test_closing_the_client_stops_its_subscriptions(client, stream):
    subscriptions = [client.subscribe(stream, lambda e: None) for _ in range(5)]
    all_subscription = client.subscribe_all(lambda e: None)
    run_loop_for(client, 0.1)
    client.unsubscribe_all()
    assert not all_subscription.is_running
    assert all(s.is_running for s in subscriptions)
    tasks = set(client._catch_up_subscriptions().tasks)
    client.close()
    assert not any(s.is_running for s in subscriptions)
    assert all(task.done() for task in tasks)  # none left pending on the closed loop


# --- failures --------------------------------------------------------------------------

def test_a_raising_callback_stops_the_subscription_and_tells_on_error(client, stream):
    append_in_batches(client, stream, 50)
    seen = []

    def callback(event):
        seen.append(event.event_number)
        if event.event_number == 5:
            raise ValueError("cannot handle 5")

    errors = []
    subscription = client.subscribe(stream, callback, True,
                                    on_error=lambda e: (errors.append(e), client.resume()))
    client.wait(timeout=10)
    run_loop_for(client, 0.2)
    assert seen == [0, 1, 2, 3, 4, 5]
    [error] = errors
    assert isinstance(error, CallbackError) and isinstance(error.__cause__, ValueError)
    assert error.event.event_number == 5
    assert not subscription.is_running and subscription.error is error
    assert subscription.checkpoint == 4  # resuming from it hands event 5 over again


def test_a_raising_callback_without_on_error_makes_wait_raise(client, stream):
    append_in_batches(client, stream, 3)

    def callback(event):
        raise KeyError("boom")

    subscription = client.subscribe(stream, callback, start_from_beginning=True)
    with pytest.raises(CallbackError) as raised:
        client.wait(timeout=10)
    assert isinstance(raised.value.__cause__, KeyError)
    assert not subscription.is_running and subscription.checkpoint == -1


def test_a_callback_that_stops_its_subscription_then_raises_gets_no_more_calls(client, stream):
    append_in_batches(client, stream, 10)
    errors = []

    def callback(event):
        if event.event_number == 3:
            subscription.stop()
            client.io_loop.call_later(0.2, client.resume)
            raise RuntimeError("after stop")

    subscription = client.subscribe(stream, callback, True, on_error=errors.append)
    client.wait(timeout=10)
    assert errors == [] and not subscription.is_running


def test_no_access_to_all_stops_with_access_denied(shared_node):
    anonymous = make_client(shared_node.host, shared_node.port, credentials=None)
    errors = []
    subscription = anonymous.subscribe_all(lambda e: None, True,
                                           on_error=lambda e: (errors.append(e), anonymous.resume()))
    anonymous.wait(timeout=10)
    assert [type(e) for e in errors] == [AccessDenied]
    assert not subscription.is_running
    anonymous.close()


def test_credentials_can_be_given_per_subscription(shared_node):
    anonymous = make_client(shared_node.host, shared_node.port, credentials=None)
    recorder = Recorder(anonymous)
    anonymous.subscribe_all(recorder, True, credentials=("admin", "changeit"),
                            on_live=anonymous.resume, on_error=recorder.on_error)
    anonymous.wait(timeout=20)
    assert recorder.events and recorder.errors == []
    anonymous.close()


def test_a_hard_deleted_stream_stops_with_stream_deleted(client, stream):
    append_in_batches(client, stream, 3)
    client.delete_stream(stream, hard_delete=True)
    errors = []
    client.subscribe(stream, lambda e: None, True,
                     on_error=lambda e: (errors.append(e), client.resume()))
    client.wait(timeout=10)
    assert [type(e) for e in errors] == [StreamDeleted]


def test_a_node_that_is_gone_is_retried_and_reported(stream):
    client = make_client("127.0.0.1", free_port(), connect_timeout=1.0)
    recorder = Recorder(client)

    def on_error(error):
        recorder.on_error(error)
        if len(recorder.errors) == 3:
            client.resume()

    subscription = client.subscribe(stream, recorder, True, on_error=on_error,
                                    retry=RetryPolicy(first_delay=0.01, max_delay=0.05))
    client.wait(timeout=10)
    assert subscription.is_running  # still trying
    assert all(e.__class__.__name__ == "ConnectionFailure" for e in recorder.errors)
    client.close()


# --- many at once, async ---------------------------------------------------------------

def test_many_subscriptions_at_once_on_one_client(client, stream):
    streams = ["{}-{}".format(stream, n) for n in range(12)]
    for name in streams:
        append_in_batches(client, name, 40)
    recorders = {name: [Recorder(client), Recorder(client)] for name in streams}
    expected = 2 * len(streams) * 50
    total = []

    def counting(recorder):
        def callback(event):
            recorder(event)
            total.append(1)
            if len(total) == expected:
                client.resume()
        return callback

    live = []

    def on_live():
        live.append(1)
        if len(live) == 2 * len(streams):
            for name in streams:
                client.append_to_stream_async(name, numbered(10, 40))

    for name in streams:
        client.subscribe(name, counting(recorders[name][0]), True, on_live=on_live)
        client.subscribe(name, counting(recorders[name][1]), True, on_live=on_live)
    client.wait(timeout=30)
    run_loop_for(client, 0.2)
    for name in streams:
        for recorder in recorders[name]:
            assert recorder.numbers == list(range(50))


def test_async_for_over_a_subscription_from_asyncio_code(shared_node, stream):
    async def main():
        client = make_client(shared_node.host, shared_node.port)
        await client.append_to_stream_async(stream, numbered(30))
        seen = []
        async with client.subscribe(stream, start_from_beginning=True, page_size=7) as subscription:
            async for event in subscription:
                seen.append(event.event_number)
                if len(seen) == 30:
                    await client.append_to_stream_async(stream, numbered(3, 30))
                if len(seen) == 33:
                    break
        assert not subscription.is_running
        assert subscription.checkpoint == 32
        client.close()
        return seen

    assert asyncio.run(main()) == list(range(33))


def test_async_for_ends_with_the_error_that_stopped_the_subscription(shared_node):
    async def main():
        anonymous = make_client(shared_node.host, shared_node.port, credentials=None)
        try:
            async for _ in anonymous.subscribe_all(start_from_beginning=True):
                pass
        finally:
            anonymous.close()

    with pytest.raises(AccessDenied):
        asyncio.run(main())


def test_an_async_callback_is_awaited_before_the_next_event(client, stream):
    append_in_batches(client, stream, 20)
    trace = []

    async def callback(event):
        trace.append(("start", event.event_number))
        await asyncio.sleep(0.001)
        trace.append(("end", event.event_number))
        if event.event_number == 19:
            client.resume()

    client.subscribe(stream, callback, True)
    client.wait(timeout=10)
    assert trace == [(step, n) for n in range(20) for step in ("start", "end")]


def test_arguments_are_checked_before_anything_starts(client, stream):
    with pytest.raises(TypeError):
        client.subscribe(42, lambda e: None)
    with pytest.raises(ValueError):
        client.subscribe("$all", lambda e: None)
    with pytest.raises(TypeError):
        client.subscribe(stream, "not callable")
    with pytest.raises(ValueError):
        client.subscribe(stream, lambda e: None, True, start_after=3)
    with pytest.raises(ValueError):
        client.subscribe(stream, lambda e: None, page_size=5000)
    with pytest.raises(TypeError):
        client.subscribe_all(lambda e: None, start_after=(1, 2))
    with pytest.raises(TypeError):
        client.subscribe(stream, lambda e: None, start_from_begining="yes")
    assert client._catch_up_subscriptions().by_stream == {}
    with_callback = client.subscribe(stream, lambda e: None)
    with pytest.raises(TypeError):
        with_callback.__aiter__()  # events go to the callback
    with_callback.stop()
