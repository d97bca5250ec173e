"""clientapi: a Python client for EventStore's HTTP API, with an embedded node for tests.

    from clientapi import Client, WriteEvent
    client = Client("127.0.0.1", 2113, username="admin", password="changeit")

Every operation has a blocking form and an `_async` twin (see `clientapi.client`);
errors are in `clientapi.errors`.
"""
from . import errors
from .client import Client
from .events import AllEventsSlice, ReadEvent, WriteEvent
from .persistent import PersistentEvent, PersistentSubscriptionSettings
from .retry import Backoff
from .subscriptions import AllCheckpoint, AllPosition, CatchUpSubscription
from .wire.http import Credentials

__all__ = ["Client", "WriteEvent", "ReadEvent", "AllEventsSlice", "Credentials", "errors",
           "CatchUpSubscription", "AllCheckpoint", "AllPosition", "PersistentEvent",
           "PersistentSubscriptionSettings", "Backoff"]
