"""Argument checks of the public client methods tests/client does not cover (persistent
subscriptions, catch-up subscriptions, users, projections, admin): a wrong type is a
TypeError, a wrong value a ValueError, raised at the call in both faces, and nothing
reaches the server (a real listening socket records every request)."""
from __future__ import annotations

import uuid

import pytest

from clientapi.admin import Admin
from clientapi.persistent import PersistentSubscriptionSettings
from clientapi.projections import Projections
from clientapi.users import Users

from .clients import FullClient, close_full_client
from .misbehaving import MisbehavingServer

ID = uuid.uuid4()
NOOP = lambda event: None  # noqa: E731

# (section, method, args, kwargs, error); section None = the client itself
BAD_CALLS = [
    # persistent subscriptions
    (None, "create_persistent_subscription", (5, "g"), {}, TypeError),
    (None, "create_persistent_subscription", ("s", ""), {}, ValueError),
    (None, "create_persistent_subscription", ("s", 7), {}, TypeError),
    (None, "create_persistent_subscription", ("s", "g", {"startFrom": 0}), {}, TypeError),
    (None, "update_persistent_subscription", ("$all", "g"), {}, ValueError),
    (None, "delete_persistent_subscription", ("s", None), {}, TypeError),
    (None, "get_persistent_subscription_info", ("", "g"), {}, ValueError),
    (None, "list_persistent_subscriptions", (42,), {}, TypeError),
    (None, "read_persistent_messages", ("s", "g", 0), {}, ValueError),
    (None, "read_persistent_messages", ("s", "g", 101), {}, ValueError),
    (None, "read_persistent_messages", ("s", "g", "5"), {}, TypeError),
    (None, "ack_persistent_messages", ("s", "g", "not-a-guid"), {}, ValueError),
    (None, "ack_persistent_messages", ("s", "g", [42]), {}, TypeError),
    (None, "nack_persistent_messages", ("s", "g", [ID]), {"action": "later"}, ValueError),
    (None, "replay_parked_messages", ("s", "g"), {"stop_at": -1}, ValueError),
    (None, "replay_parked_messages", ("s", "g"), {"stop_at": "all"}, TypeError),
    (None, "connect_to_persistent_subscription", ("s", "g", None), {}, TypeError),
    (None, "connect_to_persistent_subscription", ("s", "g", "not callable"), {}, TypeError),
    (None, "connect_to_persistent_subscription", ("s", "g", NOOP), {"batch_size": 0}, ValueError),
    (None, "connect_to_persistent_subscription", ("s", "g", NOOP), {"long_poll": -1}, ValueError),
    (None, "connect_to_persistent_subscription", ("s", "g", NOOP), {"idle_pause": -0.5}, ValueError),
    (None, "connect_to_persistent_subscription", ("s", "g", NOOP), {"on_error": 3}, TypeError),
    # catch-up subscriptions (tests/subscriptions checks the others)
    (None, "subscribe", ("s", NOOP), {"start_after": -2}, ValueError),
    (None, "subscribe", ("s", NOOP), {"page_size": 0}, ValueError),
    (None, "subscribe", ("s", NOOP), {"resolve_links": "yes"}, TypeError),
    (None, "subscribe", ("s", NOOP), {"on_live": 5}, TypeError),
    (None, "subscribe", ("s", NOOP), {"credentials": "admin"}, TypeError),
    (None, "subscribe_all", (NOOP,), {"start_after": 17}, TypeError),
    (None, "subscribe_all", (NOOP,), {"page_size": 4097}, ValueError),
    (None, "subscribe_all", ("not callable",), {}, TypeError),
    # users
    (Users, "get", (None,), {}, TypeError),
    (Users, "get", ("",), {}, ValueError),
    (Users, "create", ("ann", None), {}, TypeError),
    (Users, "create", ("ann", "pw"), {"groups": "devs"}, TypeError),
    (Users, "create", ("ann", "pw"), {"groups": [5]}, TypeError),
    (Users, "create", ("ann", "pw"), {"full_name": 5}, TypeError),
    (Users, "update", ("ann", None), {}, TypeError),
    (Users, "delete", (5,), {}, TypeError),
    (Users, "enable", ("",), {}, ValueError),
    (Users, "disable", (None,), {}, TypeError),
    (Users, "reset_password", ("ann", None), {}, TypeError),
    (Users, "change_password", ("ann", "old", 5), {}, TypeError),
    # projections
    (Projections, "create_continuous", ("", "fromAll()"), {}, ValueError),
    (Projections, "create_continuous", ("p", 5), {}, TypeError),
    (Projections, "create_continuous", ("p", "   "), {}, ValueError),
    (Projections, "create_continuous", ("p", "fromAll()"), {"emit": "yes"}, TypeError),
    (Projections, "create_one_time", ("fromAll()",), {"name": 5}, TypeError),
    (Projections, "create_one_time", ("fromAll()",), {"checkpoints": 1}, TypeError),
    (Projections, "create_transient", (None,), {}, TypeError),
    (Projections, "list", ("some",), {}, ValueError),
    (Projections, "status", (None,), {}, TypeError),
    (Projections, "state", ("p", 5), {}, TypeError),
    (Projections, "result", ("p",), {"partition": 5}, TypeError),
    (Projections, "update_query", ("p", None), {}, TypeError),
    (Projections, "update_config", ("p", {"emitEnabled": True}), {}, TypeError),
    (Projections, "enable", ("",), {}, ValueError),
    (Projections, "delete", ("p",), {"delete_state_stream": "yes"}, TypeError),
    # admin
    (Admin, "stats", (5,), {}, TypeError),
    (Admin, "scavenge", (-1,), {}, ValueError),
    (Admin, "scavenge", (0, "2"), {}, TypeError),
]


def call_id(row) -> str:
    section, method, args, kwargs, _ = row
    return f"{section.__name__.lower() + '.' if section else ''}{method}-{len(args)}-{'-'.join(kwargs)}"


@pytest.fixture(scope="module")
def recording_client():
    listener = MisbehavingServer(None)  # records whatever arrives, never answers
    client = FullClient("127.0.0.1", listener.port, "admin", "changeit", request_timeout=0.5)
    yield client, listener
    close_full_client(client)
    listener.close()


@pytest.mark.parametrize("section,method,args,kwargs,error", BAD_CALLS, ids=[call_id(r) for r in BAD_CALLS])
def test_bad_arguments_raise_at_the_call_and_send_nothing(recording_client, section, method, args,
                                                         kwargs, error):
    client, listener = recording_client
    target = client if section is None else section(client)
    faces = [getattr(target, method)]
    if hasattr(target, method + "_async"):
        faces.append(getattr(target, method + "_async"))
    for face in faces:
        with pytest.raises(error):
            subscription = face(*args, **kwargs)
            stop = getattr(subscription, "stop", None)
            if stop is not None:  # a subscription that started: stop it before failing
                stop()
    assert listener.requests == []


@pytest.mark.parametrize("settings,error", [
    (dict(buffer_size=10, read_batch_size=20), ValueError),
    (dict(start_from=-2), ValueError), (dict(message_timeout_ms=-1), ValueError),
    (dict(resolve_links="no"), TypeError), (dict(consumer_strategy="Random"), ValueError),
    (dict(max_subscriber_count=1.5), TypeError), (dict(checkpoint_after_ms=0), ValueError),
])
def test_persistent_settings_are_checked_when_made(settings, error):
    with pytest.raises(error):
        PersistentSubscriptionSettings(**settings)
