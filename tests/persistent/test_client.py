"""The client side of persistent subscriptions, against the embedded node over real sockets."""
from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from clientapi import Client, WriteEvent
from clientapi.errors import AccessDenied
from clientapi.persistent import (PersistentEvent, PersistentSubscriptions,
                                  PersistentSubscriptionSettings, SubscriptionGroupAlreadyExists,
                                  SubscriptionGroupNotFound)

from .conftest import ADMIN


class PersistentClient(Client, PersistentSubscriptions):
    """What Client offers once the mixin is part of it."""

    def close(self) -> None:
        self._close_persistent_subscriptions()
        super().close()


@pytest.fixture
def client(node):
    with PersistentClient(node.host, node.port, username=ADMIN[0], password=ADMIN[1]) as made:
        yield made


def _run_in_asyncio(client, coroutine):
    """asyncio.run, but the loop closes only after the client (which keeps a transport per
    loop, closable only while that loop is open)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        client.close()
        loop.close()


def _append(client, stream: str, count: int) -> None:
    client.append_to_stream(stream, [WriteEvent({"n": n}, event_type="thing", is_json=True) for n in range(count)])


def test_create_info_update_list_delete(client):
    settings = PersistentSubscriptionSettings(max_retry_count=3, consumer_strategy="Pinned",
                                              message_timeout_ms=2000)
    client.create_persistent_subscription("orders", "billing", settings)
    with pytest.raises(SubscriptionGroupAlreadyExists) as exists:
        client.create_persistent_subscription("orders", "billing")
    assert exists.value.status == 409 and "already exists" in exists.value.message
    config = client.get_persistent_subscription_info("orders", "billing")["config"]
    assert (config["maxRetryCount"], config["namedConsumerStrategy"], config["messageTimeoutMilliseconds"]) == (
        3, "Pinned", 2000)
    client.update_persistent_subscription("orders", "billing", PersistentSubscriptionSettings(max_retry_count=1))
    assert client.get_persistent_subscription_info("orders", "billing")["config"]["maxRetryCount"] == 1
    assert [s["groupName"] for s in client.list_persistent_subscriptions()] == ["billing"]
    assert [s["groupName"] for s in client.list_persistent_subscriptions("orders")] == ["billing"]
    assert client.list_persistent_subscriptions("elsewhere") == []
    client.delete_persistent_subscription("orders", "billing")
    with pytest.raises(SubscriptionGroupNotFound):
        client.delete_persistent_subscription("orders", "billing")
    with pytest.raises(SubscriptionGroupNotFound):
        client.update_persistent_subscription("orders", "billing")
    with pytest.raises(SubscriptionGroupNotFound):
        client.get_persistent_subscription_info("orders", "billing")


def test_argument_checks_happen_before_any_request(client):
    with pytest.raises(ValueError):
        PersistentSubscriptionSettings(buffer_size=10, read_batch_size=20)
    with pytest.raises(ValueError):
        PersistentSubscriptionSettings(consumer_strategy="Random")
    with pytest.raises(TypeError):
        PersistentSubscriptionSettings(max_retry_count="3")
    with pytest.raises(ValueError, match="default"):  # the server would read 0 as "not given"
        PersistentSubscriptionSettings(max_retry_count=0)
    with pytest.raises(ValueError):
        client.read_persistent_messages("orders", "g", 101)
    with pytest.raises(ValueError):
        client.nack_persistent_messages("orders", "g", [uuid.uuid4()], action="later")
    with pytest.raises(ValueError):
        client.ack_persistent_messages("orders", "g", "not-a-guid")
    with pytest.raises(TypeError):
        client.create_persistent_subscription("orders", "g", {"maxRetryCount": 1})


def test_read_ack_nack_and_replay_parked(client):
    _append(client, "orders", 3)
    client.create_persistent_subscription("orders", "g", PersistentSubscriptionSettings(max_retry_count=1))
    messages = client.read_persistent_messages("orders", "g", 3)
    assert [m.event_number for m in messages] == [0, 1, 2]
    assert all(isinstance(m, PersistentEvent) and m.retry_count == 0 for m in messages)
    assert messages[0].data == {"n": 0} and messages[0].event_type == "thing"
    assert messages[0].message_id == messages[0].event_id
    client.ack_persistent_messages("orders", "g", messages[0])
    client.nack_persistent_messages("orders", "g", [messages[1].message_id], action="park")
    client.nack_persistent_messages("orders", "g", [str(messages[2].message_id)], action="retry")
    again = client.read_persistent_messages("orders", "g", 10)
    assert [(m.event_number, m.retry_count) for m in again] == [(2, 1)]
    client.nack_persistent_messages("orders", "g", again)  # beyond max_retry_count 1: parked
    assert client.read_persistent_messages("orders", "g", 10) == []
    client.replay_parked_messages("orders", "g")
    again = client.read_persistent_messages("orders", "g", 10, long_poll=2)
    assert sorted(m.event_number for m in again) == [1, 2]
    client.ack_persistent_messages("orders", "g", again)
    assert client.get_persistent_subscription_info("orders", "g")["parkedMessageCount"] == 0


def test_refusals_map_to_the_error_hierarchy(client, node):
    client.create_persistent_subscription("orders", "g")
    with PersistentClient(node.host, node.port) as anonymous:
        with pytest.raises(AccessDenied):
            anonymous.read_persistent_messages("orders", "g")
        with pytest.raises(AccessDenied):
            anonymous.create_persistent_subscription("orders", "other")
    with pytest.raises(SubscriptionGroupNotFound):
        client.read_persistent_messages("orders", "missing")
    with pytest.raises(SubscriptionGroupNotFound):
        client.replay_parked_messages("orders", "missing")
    with pytest.raises(ValueError):  # refused before anything is sent
        client.replay_parked_messages("orders", "g", stop_at=-1)


def test_async_twins(client):
    _append(client, "orders", 2)
    results = []

    def created(result):
        results.append(result)
        client.read_persistent_messages_async("orders", "g", 2, on_success=read, on_failed=read)

    def read(messages):
        results.append(messages)
        client.resume()

    client.create_persistent_subscription_async("orders", "g", on_success=created, on_failed=read)
    client.wait(10)
    assert results[0] is None and [m.event_number for m in results[1]] == [0, 1]

    async def in_asyncio():
        await client.ack_persistent_messages_async("orders", "g", results[1])
        return await client.get_persistent_subscription_info_async("orders", "g")

    assert _run_in_asyncio(client, in_asyncio())["totalInFlightMessages"] == 0


def test_connect_acks_what_the_callback_took_and_retries_what_it_refused(client):
    _append(client, "orders", 6)
    client.create_persistent_subscription("orders", "g", PersistentSubscriptionSettings(max_retry_count=5))
    seen = []
    failed_once = set()

    def on_event(event: PersistentEvent) -> None:
        seen.append((event.event_number, event.retry_count))
        if event.event_number % 2 and event.event_number not in failed_once:
            failed_once.add(event.event_number)
            raise RuntimeError("not now")
        if len([s for s in seen]) >= 9:
            client.resume()

    errors = []
    handle = client.connect_to_persistent_subscription("orders", "g", on_event, batch_size=4, long_poll=1,
                                                       on_error=errors.append)
    client.wait(10)
    handle.stop()
    assert sorted(n for n, _ in seen) == [0, 1, 1, 2, 3, 3, 4, 5, 5]
    assert sorted(r for n, r in seen if n % 2) == [0, 0, 0, 1, 1, 1]
    assert handle.handled == 6 and handle.failed == 3
    assert len(errors) == 3 and all("not now" in str(e) for e in errors)
    # The last batch is settled once the callback returned; each blocking call lets it run.
    deadline = time.monotonic() + 5
    while client.get_persistent_subscription_info("orders", "g")["totalInFlightMessages"]:
        assert time.monotonic() < deadline


def test_connect_gets_new_events_promptly_and_stop_ends_it(client, node):
    client.create_persistent_subscription("live", "g")
    got = []

    def on_event(event: PersistentEvent) -> None:
        got.append(event.event_number)
        client.resume()

    handle = client.connect_to_persistent_subscription("live", "g", on_event, long_poll=5)
    with PersistentClient(node.host, node.port, username=ADMIN[0], password=ADMIN[1]) as writer:
        loop = client.io_loop
        loop.call_later(0.2, lambda: writer.append_to_stream_async(
            "live", WriteEvent({"x": 1}, event_type="t", is_json=True), on_success=lambda _: None))
        client.wait(10)
        assert got == [0]
        handle.stop()
        assert not handle.is_running
        writer.append_to_stream("live", WriteEvent({"x": 2}, event_type="t", is_json=True))
    assert got == [0]


def test_connect_stops_when_the_group_goes_away(client):
    client.create_persistent_subscription("orders", "g")
    errors = []
    handle = client.connect_to_persistent_subscription(
        "orders", "g", lambda event: None, long_poll=1,
        on_error=lambda error: (errors.append(error), client.resume()))
    client.delete_persistent_subscription("orders", "g")
    client.wait(10)
    assert isinstance(errors[0], SubscriptionGroupNotFound)
    assert not handle.is_running and handle.error is errors[0]


def test_connect_from_asyncio_with_a_coroutine_callback(client):
    _append(client, "orders", 3)
    client.create_persistent_subscription("orders", "g")

    async def main():
        done = asyncio.get_running_loop().create_future()
        got = []

        async def on_event(event):
            await asyncio.sleep(0)
            got.append(event.event_number)
            if len(got) == 3 and not done.done():
                done.set_result(None)

        handle = client.connect_to_persistent_subscription("orders", "g", on_event, long_poll=1)
        await asyncio.wait_for(done, 10)
        handle.stop()
        return got

    assert _run_in_asyncio(client, main()) == [0, 1, 2]


def test_closing_the_client_stops_its_persistent_subscriptions(node):
    client = PersistentClient(node.host, node.port, username=ADMIN[0], password=ADMIN[1])
    client.create_persistent_subscription("orders", "g")
    handle = client.connect_to_persistent_subscription("orders", "g", lambda event: None, long_poll=5)
    client.io_loop.call_later(0.2, client.resume)
    client.wait(5)  # the subscription is now in a long poll
    client.close()
    assert not handle.is_running


def test_non_json_payloads_and_resolved_links_come_through(client):
    client.append_to_stream("raw", WriteEvent("plain text", event_type="note"))
    client.create_persistent_subscription("raw", "g")
    [message] = client.read_persistent_messages("raw", "g")
    assert (message.data, message.is_json, message.event_type) == ("plain text", False, "note")
    client.append_to_stream("links", WriteEvent("0@raw", event_type="$>"))
    client.create_persistent_subscription("links", "g", PersistentSubscriptionSettings(resolve_links=True))
    [linked] = client.read_persistent_messages("links", "g")
    assert (linked.stream_id, linked.original_stream_id, linked.data) == ("raw", "links", "plain text")
    assert linked.message_id != linked.event_id  # acks name the link, not its target
    client.ack_persistent_messages("links", "g", linked)
    assert client.get_persistent_subscription_info("links", "g")["totalInFlightMessages"] == 0


def test_connect_without_long_poll_polls_with_pauses(client, node):
    # What happens against servers that answer subscription reads at once.
    client.create_persistent_subscription("polled", "g")
    got = []
    handle = client.connect_to_persistent_subscription(
        "polled", "g", lambda event: (got.append(event.event_number), client.resume()),
        long_poll=0, idle_pause=0.05)
    with PersistentClient(node.host, node.port, username=ADMIN[0], password=ADMIN[1]) as writer:
        client.io_loop.call_later(0.3, lambda: writer.append_to_stream_async(
            "polled", WriteEvent({"x": 1}, event_type="t", is_json=True)))
        client.wait(10)
    handle.stop()
    assert got == [0]
