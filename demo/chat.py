"""A terminal chat on EventStore, with a continuous projection and a subscription.

    python demo/chat.py [--name NAME] [--room ROOM] [--host 127.0.0.1] [--port 2113]
                        [--username admin] [--password changeit] [--db DIR]

Type a line and Enter to send it; `exit` (or end of input: Ctrl+D, on Windows Ctrl+Z
then Enter) leaves the room. Each participant writes to a stream of their own; the
projection in chat_projection.js links those events into one stream per room, and every
participant shows that stream as it grows (from its beginning, so latecomers see what
was said). When no node answers on the address an embedded one is started in this
process, with projections on (in memory, or in DIR with --db).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
import threading
from typing import Callable, Optional, Sequence, TextIO, cast

from tornado.locks import Event
from tornado.queues import Queue
from tornado.util import TimeoutError as TornadoTimeout

from clientapi import Client, ReadEvent
from clientapi.errors import EventStoreError, Timeout
from clientapi.projections import Projections
from clientapi.subscriptions import CatchUpSubscription, CatchUpSubscriptions

from chat_events import (JOINED, LEFT, MESSAGE, PROJECTION_NAME, chat_event, chat_line, check_name,
                         check_room, new_member_stream, room_stream)
from chat_setup import (SetupError, SubscribingClient, close_client, ensure_projection, node_for,
                        projection_source, section)

LEAVE_COMMAND = "exit"
# How long leaving waits to see its own ChatLeft come back through the projection (so
# that, when this process hosts the node, the others get it before the node stops).
OWN_LEAVE_WAIT = datetime.timedelta(seconds=5)

Show = Callable[[str], None]


class ChatSession:
    """One participant in one room, running on the client's IOLoop.

    The participant's events are appended one at a time, so they keep the order they
    were typed in; the room's lines are shown as the subscription hands them over.
    `typed()` and `run()` must be called on the loop.
    """

    def __init__(self, client: Client, room: str, name: str, show: Show) -> None:
        self._client = client
        self._room = room
        self._name = name
        self._show = show
        self._member_stream = new_member_stream()
        # tornado's Queue and Event bind to the loop only when used, so they may be made here.
        self._typed: Queue = Queue()
        self._saw_own_leave = Event()
        self._subscription: Optional[CatchUpSubscription] = None
        self._last_room_error: Optional[str] = None
        self.error: Optional[BaseException] = None

    def typed(self, line: Optional[str]) -> None:
        """A line the participant typed; None for the end of input."""
        self._typed.put_nowait(line)

    async def run(self) -> None:
        """Join, send each line typed until `exit` or the end of input, leave; then make
        the client's wait() return."""
        try:
            subscription = self._subscription = cast(CatchUpSubscriptions, self._client).subscribe(
                room_stream(self._room), self._on_room_event, start_from_beginning=True,
                on_error=self._on_room_error)
            await self._send(JOINED)
            while True:
                line = await self._typed.get()
                if line is None or line.strip() == LEAVE_COMMAND:
                    break
                text = line.rstrip("\r\n")
                if text.strip():
                    await self._send(MESSAGE, text)
            if await self._send(LEFT) and subscription.is_running:
                with contextlib.suppress(TornadoTimeout):
                    await self._saw_own_leave.wait(OWN_LEAVE_WAIT)
        except Exception as error:  # never leave wait() hanging: report and end
            self.error = error
        finally:
            if self._subscription is not None:
                self._subscription.stop()
            self._client.resume()

    async def _send(self, event_type: str, text: Optional[str] = None) -> bool:
        event = chat_event(event_type, self._room, self._name, text)
        try:
            await self._client.append_to_stream_async(self._member_stream, event)
        except EventStoreError as error:
            self._show("-- not sent ({})".format(error))
            return False
        return True

    def _on_room_event(self, event: ReadEvent) -> None:
        self._last_room_error = None
        line = chat_line(event)
        if line is not None:
            self._show(line)
        if event.stream_id == self._member_stream and event.event_type == LEFT:
            self._saw_own_leave.set()

    def _on_room_error(self, error: EventStoreError) -> None:
        if self._subscription is not None and not self._subscription.is_running:
            self._show("-- lost the room: {}".format(error))
            self.typed(None)  # the feed gave up (e.g. access denied): leave
        elif str(error) != self._last_room_error:
            # The subscription retries every couple of seconds: say each new trouble once.
            self._last_room_error = str(error)
            self._show("-- room feed: {} (retrying)".format(error))


def read_lines_in_background(stream: TextIO, deliver: Callable[[Optional[str]], None]) -> threading.Thread:
    """Hand each line of `stream` to `deliver`, then None at its end, from a daemon thread.

    A thread because waiting for stdin inside the event loop is POSIX-only (Windows
    cannot select() on a console or pipe); `deliver` must be thread-safe."""
    def read() -> None:
        try:
            for line in stream:
                deliver(line)
        finally:
            deliver(None)

    thread = threading.Thread(target=read, name="chat-input", daemon=True)
    thread.start()
    return thread


def on_loop(client: Client, function: Callable[[Optional[str]], None]) -> Callable[[Optional[str]], None]:
    """`function`, called on the client's IOLoop from any thread."""
    def deliver(line: Optional[str]) -> None:
        try:
            client.io_loop.add_callback(function, line)
        except RuntimeError:
            pass  # the loop is closed: the chat is over, the line goes nowhere
    return deliver


def converse(client: Client, room: str, name: str, show: Show, lines: TextIO) -> int:
    session = ChatSession(client, room, name, show)
    client.io_loop.add_callback(session.run)
    read_lines_in_background(lines, on_loop(client, session.typed))
    show("-- {} in room {!r}; type a message and Enter, {!r} to leave".format(name, room, LEAVE_COMMAND))
    try:
        client.wait()
    except KeyboardInterrupt:  # Ctrl+C: still say goodbye, briefly
        client.io_loop.add_callback(session.typed, None)
        with contextlib.suppress(Timeout, KeyboardInterrupt):
            client.wait(timeout=OWN_LEAVE_WAIT.total_seconds())
    if session.error is not None:
        show("-- the chat stopped: {}".format(session.error))
        return 1
    return 0


def parse_arguments(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chat.py", description="A terminal chat on EventStore.")
    parser.add_argument("--name", help="your name in the chat (asked for when not given)")
    parser.add_argument("--room", default="lobby", help="the room to join (default: lobby)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2113)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="changeit")
    parser.add_argument("--db", metavar="DIR",
                        help="where an embedded node started by the chat keeps its data (default: memory)")
    return parser.parse_args(argv)


def show_line(line: str) -> None:
    print(line, flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    arguments = parse_arguments(argv)
    if hasattr(sys.stdout, "reconfigure"):
        # A console that cannot show some character shows "?" instead of crashing the chat.
        sys.stdout.reconfigure(errors="replace")
    try:
        room = check_room(arguments.room)
        name = check_name(arguments.name if arguments.name is not None else input("Your name: "))
    except (ValueError, EOFError) as error:
        print("chat: {}".format(str(error) or "no name given"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    client = SubscribingClient(arguments.host, arguments.port, username=arguments.username,
                               password=arguments.password)
    try:
        with node_for(client, arguments.host, arguments.port, db=arguments.db, announce=show_line):
            ensure_projection(section(client, "projections", Projections), PROJECTION_NAME,
                              projection_source())
            return converse(client, room, name, show_line, sys.stdin)
    except (SetupError, EventStoreError) as error:
        print("chat: {}".format(error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl+C before the chat began
        return 130
    finally:
        close_client(client)


if __name__ == "__main__":
    sys.exit(main())
