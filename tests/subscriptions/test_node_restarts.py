"""A subscription outlives its node: the node process (durable storage in a temporary
directory) is stopped and started again twice while the subscription runs, once while
it catches up and once while it is live. No event may be missed or handed over twice."""
from __future__ import annotations

import pytest

from clientapi.errors import ConnectionFailure, ProtocolError, Timeout
from clientapi.subscriptions import RetryPolicy

from .conftest import Recorder, append_in_batches, make_client, numbered, run_loop_for

pytestmark = pytest.mark.slow

WRITTEN_BEFORE, WRITTEN_AFTER = 3000, 1000
RETRY = RetryPolicy(first_delay=0.02, max_delay=0.2)


@pytest.mark.parametrize("of_all", [False, True], ids=["stream", "$all"])
def test_node_restarted_twice_mid_subscription_no_gap_no_duplicate(node_process, of_all):
    client = make_client(node_process.host, node_process.port, connect_timeout=2.0)
    stream = "restarts"
    append_in_batches(client, stream, WRITTEN_BEFORE)
    total = WRITTEN_BEFORE + WRITTEN_AFTER
    restarts = []

    def restart_soon(kill: bool, then=None):
        node_process.stop(kill=kill)  # in the middle of the subscription's reading

        def start_again():
            node_process.start()
            restarts.append("killed" if kill else "stopped")
            if then is not None:
                then()
        client.io_loop.call_later(0.3, start_again)

    def append_more():
        batches = iter(range(WRITTEN_BEFORE, total, 250))

        def next_batch(_=None):
            start = next(batches, None)
            if start is not None:
                client.append_to_stream_async(stream, numbered(250, start), on_success=next_batch)
        next_batch()

    ours = []

    def on_event(recorder):
        event = recorder.events[-1]
        if event.stream_id != stream:
            return
        ours.append(event)
        if len(ours) == 1100:  # mid-page, while catching up
            restart_soon(kill=False)
        if len(ours) == total:
            client.resume()

    def on_live():
        recorder.on_live()
        if len(recorder.live_at) == 1:
            restart_soon(kill=True, then=append_more)

    recorder = Recorder(client, then=on_event)
    options = dict(start_from_beginning=True, page_size=250, on_live=on_live,
                   on_error=recorder.on_error, retry=RETRY)
    if of_all:
        subscription = client.subscribe_all(recorder, **options)
    else:
        subscription = client.subscribe(stream, recorder, **options)
    client.wait(timeout=60)
    run_loop_for(client, 0.3)  # nothing more may come

    assert restarts == ["stopped", "killed"]
    assert [e.event_number for e in ours] == list(range(total))
    assert [e.data["i"] for e in ours] == list(range(total))
    if of_all:
        everything = client.read_all_events_forward(0, 0, 100_000).events
        assert [(e.stream_id, e.event_number) for e in recorder.events] == \
            [(e.stream_id, e.event_number) for e in everything]
    assert recorder.errors, "the failures were not reported to on_error"
    assert all(isinstance(e, (ConnectionFailure, ProtocolError, Timeout)) for e in recorder.errors)
    assert subscription.is_running
    client.close()
