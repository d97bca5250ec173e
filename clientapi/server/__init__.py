"""The embedded EventStore-compatible node (`python -m clientapi.server`)."""
from .node import Node

__all__ = ["Node"]
