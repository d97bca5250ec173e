"""Subscriptions outlive their node: a node process (durable database) is SIGKILLed and
started again 3 times while a writer appends and three subscriptions run on one client:
catch-up on the stream and on `$all` (every event exactly once, in order, no gap) and a
persistent subscription (every event at least once)."""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter

import pytest
from tornado.ioloop import PeriodicCallback

from clientapi import WriteEvent
from clientapi.errors import Timeout
from clientapi.persistent import PersistentSubscriptionSettings
from clientapi.subscriptions import RetryPolicy

from .clients import FullClient, close_full_client
from .workload import ADMIN, Appender

pytestmark = pytest.mark.slow

RESTARTS = 3
BEFORE, BATCHES, BATCH = 300, 40, 15
RETRY = RetryPolicy(first_delay=0.02, max_delay=0.3)


def test_subscriptions_survive_three_node_kills(node_process, capsys):
    node = node_process()
    stream = "restarts-" + uuid.uuid4().hex[:8]
    total = BEFORE + BATCHES * BATCH
    client = FullClient("127.0.0.1", node.port, *ADMIN, connect_timeout=1.0, request_timeout=15.0,
                        max_connections=8)
    client.append_to_stream(stream, [WriteEvent({"i": i}, is_json=True, event_type="restart-test")
                                     for i in range(BEFORE)], -1)
    client.create_persistent_subscription(stream, "survivors", PersistentSubscriptionSettings(
        message_timeout_ms=2000, checkpoint_after_ms=200, min_checkpoint_count=1))
    from_stream, from_all, persistent, errors_seen = [], [], [], []
    options = dict(start_from_beginning=True, on_error=errors_seen.append, retry=RETRY)
    client.subscribe(stream, from_stream.append, page_size=100, **options)
    client.subscribe_all(lambda e: from_all.append(e) if e.stream_id == stream else None,
                         page_size=500, **options)
    client.connect_to_persistent_subscription(stream, "survivors", persistent.append, batch_size=50,
                                              long_poll=2, idle_pause=0.05,
                                              on_error=errors_seen.append)
    appender = Appender(node.port, stream, BEFORE, BATCHES, BATCH)
    appender.start()

    def kill_and_restart() -> None:
        chaos = random.Random()
        for _ in range(RESTARTS):
            time.sleep(chaos.uniform(0.4, 1.2))
            node.kill()
            time.sleep(chaos.uniform(0.1, 0.4))
            node.start()
    killer = threading.Thread(target=kill_and_restart, daemon=True)
    killer.start()

    def all_delivered() -> None:
        delivered = {e.event_number for e in persistent}
        if (appender.done.is_set() and not killer.is_alive() and len(from_stream) >= total
                and len(from_all) >= total and len(delivered) >= total):
            client.resume()
    watcher = PeriodicCallback(all_delivered, 100)
    client.io_loop.add_callback(watcher.start)
    try:
        try:
            client.wait(timeout=90)
        except Timeout:
            delivered = {e.event_number for e in persistent}
            missing = sorted(set(range(total)) - delivered)
            raise AssertionError(
                f"not everything arrived: stream {len(from_stream)}, $all {len(from_all)}, persistent "
                f"{len(delivered)} distinct (missing {missing[:10]}...) of {total}; appender done "
                f"{appender.done.is_set()}; last errors {errors_seen[-5:]!r}") from None
        # anything more (a duplicate) would arrive now
        client.io_loop.call_later(0.5, client.resume)
        client.wait(timeout=10)
    finally:
        watcher.stop()
        killer.join(30)
        appender.join(30)
        close_full_client(client)
    assert appender.log.failure is None, f"{appender.log.failure!r}\n{node.stderr_text()}"
    assert node.kills == RESTARTS
    assert [e.event_number for e in from_stream] == list(range(total)), "catch-up on the stream"
    assert [e.data["i"] for e in from_stream] == list(range(total))
    assert [e.event_number for e in from_all] == list(range(total)), "catch-up on $all"
    counts = Counter(e.event_number for e in persistent)
    assert set(counts) == set(range(total)), "persistent subscription lost events"
    duplicates = sum(count - 1 for count in counts.values())
    with capsys.disabled():
        print(f"\n[faults] restarts: {RESTARTS} SIGKILLs under 3 subscriptions, {total} events each; "
              f"catch-up stream/$all exact, persistent {duplicates} redelivered, "
              f"{len(errors_seen)} errors reported and recovered from")
