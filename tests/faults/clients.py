"""A Client with the subscription methods, whether or not `Client` mixes them in yet."""
from __future__ import annotations

from clientapi import Client
from clientapi.persistent import PersistentSubscriptions
from clientapi.subscriptions import CatchUpSubscriptions

_MIXINS = tuple(mixin for mixin in (CatchUpSubscriptions, PersistentSubscriptions)
                if not issubclass(Client, mixin))
FullClient = type("FullClient", (*_MIXINS, Client), {}) if _MIXINS else Client


def close_full_client(client: Client) -> None:
    closing = getattr(client, "_close_subscriptions", None)
    if closing is not None:
        closing()
    client.close()
