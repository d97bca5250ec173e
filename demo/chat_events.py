"""What the chat writes and how it shows what it reads (no I/O here).

A participant appends ChatJoined / ChatMessage / ChatLeft events to a stream of their
own; the projection in chat_projection.js links them into one stream per room, which
every participant of the room subscribes to. The stream prefixes and event types are
also in chat_projection.js: change them together.
"""
from __future__ import annotations

import re
import uuid
from typing import Optional

from clientapi import ReadEvent, WriteEvent

PROJECTION_NAME = "chat-rooms"
MEMBER_STREAM_PREFIX = "chatmember-"
ROOM_STREAM_PREFIX = "chatroom-"

JOINED = "ChatJoined"
MESSAGE = "ChatMessage"
LEFT = "ChatLeft"

MAX_NAME_LENGTH = 40
# Room names become part of a stream name: keep them to plain characters.
ROOM_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,60}")


def new_member_stream() -> str:
    """A stream for one session: two people may pick the same name."""
    return MEMBER_STREAM_PREFIX + uuid.uuid4().hex


def room_stream(room: str) -> str:
    return ROOM_STREAM_PREFIX + room


def check_room(room: str) -> str:
    if not ROOM_PATTERN.fullmatch(room):
        raise ValueError("a room name is 1 to 60 letters, digits, '_', '.' or '-'")
    return room


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValueError("the name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError("the name must be at most {} characters".format(MAX_NAME_LENGTH))
    return name


def chat_event(event_type: str, room: str, name: str, text: Optional[str] = None) -> WriteEvent:
    data = {"room": room, "name": name}
    if text is not None:
        data["text"] = text
    return WriteEvent(data, event_type=event_type, is_json=True)


def printable(text: str) -> str:
    """Other participants' text goes to our terminal: control characters (escape
    sequences could move the cursor or retitle the window) are shown as U+FFFD."""
    return "".join(char if char.isprintable() else "\ufffd" for char in text)


def chat_line(event: ReadEvent) -> Optional[str]:
    """The line to show for an event of the room's stream; None for anything else
    (e.g. a link whose event was deleted)."""
    data = event.data if isinstance(event.data, dict) else {}
    name = data.get("name")
    if not isinstance(name, str):
        return None
    name = printable(name)
    if event.event_type == JOINED:
        return "* {} joined".format(name)
    if event.event_type == LEFT:
        return "* {} left".format(name)
    text = data.get("text")
    if event.event_type == MESSAGE and isinstance(text, str):
        return "{}: {}".format(name, printable(text))
    return None
