"""Persistent subscriptions (competing consumers) of the embedded node."""
from .group import NACK_PARK, NACK_RETRY, NACK_SKIP, NACK_STOP, Message, SubscriptionGroup
from .service import GroupExists, GroupNotFound, PersistentSubscriptions
from .settings import GroupSettings, UnknownStrategy, parse_settings

__all__ = ["PersistentSubscriptions", "SubscriptionGroup", "GroupSettings", "parse_settings",
           "GroupExists", "GroupNotFound", "Message", "UnknownStrategy",
           "NACK_PARK", "NACK_RETRY", "NACK_SKIP", "NACK_STOP"]
