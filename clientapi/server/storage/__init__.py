"""Durable storage of the node: an SQLite event log plus the in-memory indexes kept over it."""
from .index import RecentEventIds, StreamIndex, StreamState
from .log import EventLog

__all__ = ["EventLog", "RecentEventIds", "StreamIndex", "StreamState"]
