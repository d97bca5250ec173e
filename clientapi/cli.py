"""The `clientapi` command (also `python -m clientapi`): EventStore from a terminal or a script.

Run `clientapi --help` and `clientapi COMMAND --help`. Events are printed as JSON lines
(one object per event, with the fields `append` accepts), so commands compose:

    clientapi read orders > orders.jsonl
    clientapi append orders-copy < orders.jsonl

Exit status: 0 on success, 1 when the server refused or could not be reached (the reason
goes to stderr), 2 for a wrong command line.
"""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import time
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, TextIO

from . import errors
from .client import PAGE_LIMIT, Client
from .events import ReadEvent, WriteEvent

__all__ = ["main", "build_parser", "event_document", "write_events_from_json", "Progress"]

PROG = "clientapi"
ALL = "$all"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROJECTION_SUMMARY = ("name", "mode", "status", "progress", "eventsProcessedAfterRestart")
PROJECTION_LISTS = ("any", "all-non-transient", "continuous", "onetime", "transient")
ENVIRONMENT = {"host": "CLIENTAPI_HOST", "port": "CLIENTAPI_PORT", "user": "CLIENTAPI_USER",
               "password": "CLIENTAPI_PASSWORD"}

DESCRIPTION = """\
Talk to an EventStore / EventStoreDB / KurrentDB node (HTTP API with AtomPub), or to the
embedded node started with `python -m clientapi.server`.

Examples:
  clientapi append orders --type OrderPlaced '{"id": 1}' '{"id": 2}'
  echo '{"id": 3}' | clientapi append orders --type OrderPlaced
  clientapi read orders                      # every event, oldest first, as JSON lines
  clientapi read '$all' --backward --count 10 -u admin -p changeit
  clientapi tail orders                      # new events as they are written (Ctrl-C stops)
  clientapi projections create counter counter.js
  clientapi projections state counter
  clientapi users list -u admin -p changeit
  clientapi admin ping --seeds node1:2113,node2:2113,node3:2113

Connection options can be given before or after the command, or in the environment:
CLIENTAPI_HOST, CLIENTAPI_PORT, CLIENTAPI_USER, CLIENTAPI_PASSWORD (better than -p, which
other users of the machine can see in the process list).
"""


class Failure(Exception):
    """A problem to report in one line (no traceback) with exit status 1."""


# --- events as JSON ---------------------------------------------------------------------
def event_document(event: ReadEvent) -> dict:
    """The JSON line printed for an event (`append` accepts it back)."""
    document = {
        "stream": event.stream_id, "eventNumber": event.event_number, "eventType": event.event_type,
        "eventId": str(event.event_id) if event.event_id is not None else None,
        "created": event.created.isoformat() if event.created is not None else None,
        "isJson": event.is_json, "data": event.data, "metadata": event.metadata,
    }
    if event.is_resolved_link:
        document["link"] = {"stream": event.original_stream_id,
                            "eventNumber": event.original_event_number}
    return document


def _json_line(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def json_documents(text: str) -> Iterator[Any]:
    """Every JSON value in `text`: one document, JSON lines, or values one after another."""
    decoder = json.JSONDecoder()
    index, end = 0, len(text)
    while True:
        while index < end and text[index].isspace():
            index += 1
        if index >= end:
            return
        try:
            value, index = decoder.raw_decode(text, index)
        except ValueError as error:
            raise Failure("invalid JSON input: {}".format(error)) from None
        yield value


def _is_event_object(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("eventType"), str)


def _event_from_object(value: dict) -> WriteEvent:
    data = value.get("data")
    is_json = value.get("isJson", isinstance(data, (dict, list)))
    metadata = value.get("metadata", "")
    try:
        return WriteEvent(data, metadata if metadata is not None else "", value.get("eventId"),
                          value["eventType"], is_json=bool(is_json))
    except (TypeError, ValueError) as error:
        raise Failure("bad event {}: {}".format(_json_line(value).strip()[:200], error)) from None


def _event_from_data(data: Any, event_type: str, metadata: Any) -> WriteEvent:
    if isinstance(data, (dict, list)):
        return WriteEvent(data, metadata, event_type=event_type, is_json=True)
    if isinstance(data, str):
        return WriteEvent(data, metadata, event_type=event_type)
    raise Failure("event data must be a JSON object, array or string, not {}".format(
        json.dumps(data)))


def write_events_from_json(documents: Iterable[Any], event_type: Optional[str],
                           metadata: Any = "") -> List[WriteEvent]:
    """With `event_type`, every document is the data of one event. Without, documents are
    event objects (`eventType`, `data`, optional `metadata`, `eventId`, `isJson`: what
    `read` prints), or arrays of them (the HTTP API's own body format)."""
    events: List[WriteEvent] = []
    for document in documents:
        if event_type is not None:
            events.append(_event_from_data(document, event_type, metadata))
        elif _is_event_object(document):
            events.append(_event_from_object(document))
        elif isinstance(document, list) and document and all(map(_is_event_object, document)):
            events.extend(_event_from_object(item) for item in document)
        else:
            raise Failure("without --type each JSON value must be an event object with "
                          "\"eventType\" (and \"data\"), or give --type to append plain data")
    return events


# --- progress -----------------------------------------------------------------------------
class Progress:
    """A one-line counter on stderr, redrawn at most ten times a second; only when enabled
    (by default: when stderr is a terminal). Cleared before output goes to the same terminal."""

    INTERVAL = 0.1

    def __init__(self, enabled: bool, total: Optional[int] = None, stream: Optional[TextIO] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.total = total
        self.count = 0
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._started = clock()
        self._drawn_at = float("-inf")
        self._visible = False

    def advance(self, count: int) -> None:
        self.count += count
        if self.enabled and self._clock() - self._drawn_at >= self.INTERVAL:
            self.draw()

    def line(self) -> str:
        elapsed = max(self._clock() - self._started, 1e-6)
        rate = "{:,.0f} events/s".format(self.count / elapsed)
        if self.total:
            share = min(self.count / self.total, 1.0)
            filled = int(share * 30)
            return "[{}{}] {:3.0f}% {:,}/{:,} {}".format(
                "#" * filled, "." * (30 - filled), share * 100, self.count, self.total, rate)
        return "{:,} events, {}".format(self.count, rate)

    def draw(self) -> None:
        if not self.enabled:
            return
        self._stream.write("\r" + self.line() + "\x1b[K")
        self._stream.flush()
        self._drawn_at = self._clock()
        self._visible = True

    def clear(self) -> None:
        if self._visible:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._visible = False

    def finish(self) -> None:
        self.clear()


# --- the argument parser -----------------------------------------------------------------------
def _environment_default(name: str, fallback: Any = None) -> Any:
    return os.environ.get(ENVIRONMENT[name], fallback)


def _add_connection_options(parser: argparse.ArgumentParser, top_level: bool) -> None:
    """The same options on the main parser and on each command (so they may come before
    or after the command); on commands they only override what was given."""
    def default(value: Any) -> Any:
        return value if top_level else argparse.SUPPRESS

    group = parser.add_argument_group("connection")
    group.add_argument("--host", default=default(_environment_default("host", "127.0.0.1")),
                       help="node address (default 127.0.0.1, or $CLIENTAPI_HOST)")
    group.add_argument("--port", type=int, default=default(int(_environment_default("port", 2113))),
                       help="node HTTP port (default 2113, or $CLIENTAPI_PORT)")
    group.add_argument("-u", "--user", default=default(_environment_default("user")),
                       help="user name (or $CLIENTAPI_USER); asks for the password on a terminal")
    group.add_argument("-p", "--password", default=default(_environment_default("password")),
                       help="password (prefer $CLIENTAPI_PASSWORD)")
    group.add_argument("--tls", action="store_true", default=default(False),
                       help="use https (certificates are verified)")
    group.add_argument("--ca-file", default=default(None), metavar="PEM",
                       help="trust the certificate authority in this file (implies --tls)")
    group.add_argument("--no-verify", action="store_true", default=default(False),
                       help="do NOT verify the server's certificate (only for trials)")
    group.add_argument("--seeds", default=default(None), metavar="HOST:PORT,...",
                       help="cluster: find the leader through these nodes' gossip "
                            "(instead of --host/--port)")
    group.add_argument("--prefer", choices=("leader", "follower", "random"), default=default("leader"),
                       help="cluster: where reads go (writes always go to the leader)")
    group.add_argument("--timeout", type=float, default=default(30.0), metavar="SECONDS",
                       help="per request (default 30)")
    group.add_argument("--retries", type=int, default=default(None), metavar="N",
                       help="retry failed requests N times with backoff (0: never)")
    group.add_argument("-v", "--verbose", action="count", default=default(0),
                       help="log to stderr (-v info, -vv debug)")


def _add_command(commands: Any, name: str, help_text: str, description: str = "",
                 handler: Optional[Callable[..., int]] = None) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=description or help_text,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_connection_options(parser, top_level=False)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_connection_options(parser, top_level=True)
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")

    append = _add_command(commands, "append", "append events to a stream", (
        "Append events, atomically, in one request. JSON values come from the arguments or,\n"
        "without them, from stdin (one document, JSON lines, or an array).\n\n"
        "With --type each value is the data of one event (an object or array: a JSON event;\n"
        "a string: a text event). Without --type each value is an event object\n"
        "{\"eventType\": ..., \"data\": ..., \"metadata\": ..., \"eventId\": ...}, as `read` prints.\n"
        "Prints {\"stream\": ..., \"eventNumbers\": [...]}."), command_append)
    append.add_argument("stream")
    append.add_argument("json", nargs="*", metavar="JSON", help="event data or event objects")
    append.add_argument("-t", "--type", dest="event_type", help="event type of every event")
    append.add_argument("--metadata", type=_json_argument, default=None,
                        help="JSON metadata for every event (with --type)")
    append.add_argument("--expected-version", type=int, default=-2, metavar="N",
                        help="-2 any (default), -1 no stream yet, -4 stream exists, N last event number")
    append.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="send N events per request (then only each batch is atomic; the "
                             "expected version applies to the first); default: all in one")

    read = _add_command(commands, "read", "print the events of a stream or of $all", (
        "Print events as JSON lines, oldest first (or newest first with --backward).\n"
        "Use '$all' (quoted in the shell) for every event of every stream (admins only).\n"
        "A progress line is shown on stderr while it is a terminal."), command_read)
    read.add_argument("stream", help="stream name, or '$all'")
    read.add_argument("--backward", action="store_true", help="newest first")
    read.add_argument("--start", type=int, default=None, metavar="N",
                      help="first event number (streams only; default: the first / the last)")
    read.add_argument("--count", type=int, default=None, metavar="N", help="at most N events")
    read.add_argument("--no-resolve-links", action="store_true",
                      help="show link events themselves, not the events they point to")
    read.add_argument("--progress", choices=("auto", "always", "never"), default="auto")

    tail = _add_command(commands, "tail", "print new events of a stream or of $all as they come", (
        "Follow a stream (or '$all') live and print each new event as a JSON line.\n"
        "Stops on Ctrl-C, or after --count events."), command_tail)
    tail.add_argument("stream", help="stream name, or '$all'")
    tail.add_argument("--from-start", action="store_true",
                      help="print the existing events first")
    tail.add_argument("--count", type=int, default=None, metavar="N", help="stop after N events")

    _add_projection_commands(_add_command(commands, "projections", "list, create and inspect projections"))
    _add_user_commands(_add_command(commands, "users", "manage users (admins)"))
    _add_admin_commands(_add_command(commands, "admin", "ping, info, stats, gossip, scavenge, shutdown"))
    return parser


def _json_argument(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not valid JSON: {!r}".format(text)) from None


def _add_projection_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(title="projection commands", dest="projection_command",
                                     metavar="COMMAND", required=True)
    listing = _add_command(commands, "list", "list projections", handler=command_projections_list)
    listing.add_argument("--mode", default="any",
                         choices=PROJECTION_LISTS)
    listing.add_argument("--full", action="store_true", help="every statistic, not just a summary")
    create = _add_command(commands, "create", "create a projection from a JavaScript file",
                          handler=command_projections_create)
    create.add_argument("name")
    create.add_argument("file", help="the projection's JavaScript ('-' for stdin)")
    create.add_argument("--mode", choices=("continuous", "onetime"), default="continuous")
    create.add_argument("--emit", action="store_true", help="allow emit() and linkTo()")
    create.add_argument("--disabled", action="store_true", help="create it stopped")
    state = _add_command(commands, "state", "print a projection's state (JSON)",
                         handler=command_projections_state)
    state.add_argument("name")
    state.add_argument("--partition", default=None)


USER_COMMANDS = ("list", "get", "create", "update", "delete", "enable", "disable",
                 "reset-password", "change-password")


def _add_user_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(title="user commands", dest="user_command", metavar="COMMAND",
                                     required=True)
    _add_command(commands, "list", "list users (JSON lines)", handler=command_users)
    for name, help_text in (("get", "show a user"), ("delete", "delete a user"),
                            ("enable", "let a user log in again"), ("disable", "refuse a user's logins")):
        _add_command(commands, name, help_text, handler=command_users).add_argument("login")
    create = _add_command(commands, "create", "create a user", handler=command_users)
    create.add_argument("login")
    create.add_argument("--new-password", required=True, help="the new user's password")
    create.add_argument("--full-name", default="")
    create.add_argument("--group", action="append", default=[], dest="groups",
                        help="a group to put the user in (repeatable), e.g. $admins or $ops")
    update = _add_command(commands, "update", "replace a user's full name and groups",
                          handler=command_users)
    update.add_argument("login")
    update.add_argument("--full-name", default="")
    update.add_argument("--group", action="append", default=[], dest="groups")
    reset = _add_command(commands, "reset-password", "set a user's password (admins)",
                         handler=command_users)
    reset.add_argument("login")
    reset.add_argument("--new-password", required=True)
    change = _add_command(commands, "change-password",
                          "change your own password (log in as that user)", handler=command_users)
    change.add_argument("login")
    change.add_argument("--current-password", required=True)
    change.add_argument("--new-password", required=True)


def _add_admin_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(title="admin commands", dest="admin_command", metavar="COMMAND",
                                     required=True)
    for name, help_text in (("ping", "check that the node answers"), ("info", "version and state"),
                            ("gossip", "the cluster's members as this node sees them"),
                            ("shutdown", "stop the node ($ops or $admins)")):
        _add_command(commands, name, help_text, handler=command_admin)
    stats = _add_command(commands, "stats", "the node's statistics (JSON)", handler=command_admin)
    stats.add_argument("path", nargs="?", default="", help="a group, e.g. proc or es/queue")
    scavenge = _add_command(commands, "scavenge", "start a scavenge ($ops or $admins)",
                            handler=command_admin)
    scavenge.add_argument("--start-from-chunk", type=int, default=0)
    scavenge.add_argument("--threads", type=int, default=1)


# --- commands -------------------------------------------------------------------------------
def command_append(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    if arguments.json:
        documents: Iterable[Any] = [_parse_json_argument(text) for text in arguments.json]
    elif sys.stdin is not None and not sys.stdin.isatty():
        documents = json_documents(sys.stdin.read())
    else:
        raise Failure("give the events as JSON arguments or on stdin (see clientapi append --help)")
    metadata = arguments.metadata if arguments.metadata is not None else ""
    events = write_events_from_json(documents, arguments.event_type, metadata)
    if not events:
        raise Failure("no events to append")
    size = arguments.batch_size or len(events)
    if size <= 0:
        raise Failure("--batch-size must be positive")
    numbers: List[int] = []
    expected = arguments.expected_version
    for first in range(0, len(events), size):
        numbers += client.append_to_stream(arguments.stream, events[first:first + size], expected)
        expected = numbers[-1]  # each later batch follows right after the previous one
    out.write(_json_line({"stream": arguments.stream, "eventNumbers": numbers}))
    return EXIT_OK


def _parse_json_argument(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise Failure("not valid JSON: {!r} (quote strings: '\"text\"')".format(text[:200])) from None


def _stream_position(event: ReadEvent) -> int:
    """The event's number in the stream that was read (for a resolved link: the link's)."""
    return event.original_event_number if event.is_resolved_link else event.event_number


def _stream_pages(client: Client, stream: str, forward: bool, start: Optional[int],
                  resolve_links: bool, size: int) -> Iterator[List[ReadEvent]]:
    position = start if start is not None else (0 if forward else -1)
    read = client.read_stream_events_forward if forward else client.read_stream_events_backward
    while True:
        page = read(stream, position, size, resolve_links=resolve_links)
        if page:
            yield page
        if len(page) < size:
            return
        position = _stream_position(page[-1]) + (1 if forward else -1)
        if position < 0:
            return


def _all_pages(client: Client, forward: bool, resolve_links: bool, size: int) -> Iterator[List[ReadEvent]]:
    prepare, commit = (0, 0) if forward else (-1, -1)
    read = client.read_all_events_forward if forward else client.read_all_events_backward
    while True:
        page = read(prepare, commit, size, resolve_links=resolve_links)
        if page.events:
            yield list(page.events)
        if len(page.events) < size:
            return
        prepare, commit = page.prepare_position, page.commit_position


def _stream_length(client: Client, stream: str) -> Optional[int]:
    try:
        return client.read_event(stream, -1, resolve_links=False).event_number + 1
    except errors.StreamNotFound:
        return None


def _reporting_missing(pages: Iterator[List[ReadEvent]], stream: str) -> Iterator[List[ReadEvent]]:
    try:
        yield from pages
    except errors.StreamDeleted:
        raise Failure("stream {!r} was deleted for good (hard delete)".format(stream)) from None
    except errors.StreamNotFound:
        raise Failure("stream {!r} not found".format(stream)) from None


def command_read(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    forward, limit = not arguments.backward, arguments.count
    if limit is not None and limit <= 0:
        raise Failure("--count must be positive")
    resolve = not arguments.no_resolve_links
    size = min(PAGE_LIMIT, limit) if limit else PAGE_LIMIT
    if arguments.stream == ALL:
        if arguments.start is not None:
            raise Failure("--start is for streams; '$all' is read from its start or its end")
        pages = _all_pages(client, forward, resolve, size)
    else:
        pages = _stream_pages(client, arguments.stream, forward, arguments.start, resolve, size)
    total = limit
    show = {"always": True, "never": False}.get(arguments.progress, sys.stderr.isatty())
    if show and total is None and arguments.stream != ALL and arguments.start is None:
        total = _stream_length(client, arguments.stream)
    progress = Progress(show, total)
    printed = 0
    try:
        for page in _reporting_missing(pages, arguments.stream):
            if limit is not None:
                page = page[:limit - printed]
            progress.clear()
            out.write("".join(_json_line(event_document(event)) for event in page))
            out.flush()
            printed += len(page)
            progress.advance(len(page))
            if limit is not None and printed >= limit:
                break
    finally:
        progress.finish()
    return EXIT_OK


def command_tail(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    if arguments.count is not None and arguments.count <= 0:
        raise Failure("--count must be positive")
    seen = [0]
    failure: List[BaseException] = []

    def on_event(event: ReadEvent) -> None:
        out.write(_json_line(event_document(event)))
        out.flush()
        seen[0] += 1
        if arguments.count is not None and seen[0] >= arguments.count:
            subscription.stop()
            client.resume()

    def on_error(error: BaseException) -> None:
        # Retried failures keep the subscription going; only the ones that stop it end the tail.
        if not subscription.is_running:
            failure.append(error)
            client.resume()
        else:
            logging.getLogger("clientapi.cli").warning("tail: %s (retrying)", error)

    if arguments.stream == ALL:
        subscription = client.subscribe_all(on_event, arguments.from_start, on_error=on_error)
    else:
        subscription = client.subscribe(arguments.stream, on_event, arguments.from_start,
                                        on_error=on_error)
    try:
        client.wait()
    except KeyboardInterrupt:
        pass
    finally:
        subscription.stop()
    if failure:
        raise failure[0]
    return EXIT_OK


def command_projections_list(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    for projection in client.projections.list(arguments.mode):
        document = projection.document
        if not arguments.full:
            document = {key: document.get(key) for key in PROJECTION_SUMMARY}
        out.write(_json_line(document))
    return EXIT_OK


def command_projections_create(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    if arguments.file == "-":
        query = sys.stdin.read()
    else:
        try:
            with open(arguments.file, encoding="utf-8") as handle:
                query = handle.read()
        except OSError as error:
            raise Failure("cannot read {}: {}".format(arguments.file, error.strerror)) from None
    projections, enabled = client.projections, not arguments.disabled
    if arguments.mode == "onetime":
        name = projections.create_one_time(query, arguments.name, enabled=enabled, emit=arguments.emit)
    else:
        name = projections.create_continuous(arguments.name, query, enabled=enabled, emit=arguments.emit)
    out.write(_json_line({"name": name, "mode": arguments.mode}))
    return EXIT_OK


def command_projections_state(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    out.write(_json_line(client.projections.state(arguments.name, arguments.partition)))
    return EXIT_OK


def _user_document(user: Any) -> dict:
    return {"login": user.login, "fullName": user.full_name, "groups": list(user.groups),
            "disabled": user.disabled}


def command_users(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    users, command = client.users, arguments.user_command
    if command == "list":
        for user in users.list():
            out.write(_json_line(_user_document(user)))
        return EXIT_OK
    if command == "get":
        out.write(_json_line(_user_document(users.get(arguments.login))))
        return EXIT_OK
    if command == "create":
        users.create(arguments.login, arguments.new_password, arguments.full_name, arguments.groups)
    elif command == "update":
        users.update(arguments.login, arguments.full_name, arguments.groups)
    elif command == "reset-password":
        users.reset_password(arguments.login, arguments.new_password)
    elif command == "change-password":
        users.change_password(arguments.login, arguments.current_password, arguments.new_password)
    else:
        getattr(users, command)(arguments.login)  # delete, enable, disable
    out.write(_json_line({"login": arguments.login, "done": command}))
    return EXIT_OK


def command_admin(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    admin, command = client.admin, arguments.admin_command
    if command == "stats":
        result: Any = admin.stats(arguments.path)
    elif command == "scavenge":
        result = {"scavengeId": admin.scavenge(arguments.start_from_chunk, arguments.threads)}
    elif command == "gossip":
        view = admin.gossip()
        result = {"members": [{"state": member.state, "isAlive": member.is_alive,
                               "address": "{}:{}".format(member.host, member.port),
                               "instanceId": member.instance_id} for member in view.members]}
    elif command == "shutdown":
        admin.shutdown()
        result = {"shutdown": True}
    else:
        result = getattr(admin, command)()  # ping, info
    out.write(_json_line(result))
    return EXIT_OK


# --- running -------------------------------------------------------------------------------------
def _password(arguments: argparse.Namespace) -> Optional[str]:
    if arguments.user is None or arguments.password is not None:
        return arguments.password
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass("password for {}: ".format(arguments.user))
    raise Failure("--user needs a password: -p, $CLIENTAPI_PASSWORD, or a terminal to ask on")


def make_client(arguments: argparse.Namespace) -> Client:
    password = _password(arguments)
    if password is not None and arguments.user is None:
        raise Failure("a password without --user")
    options: dict = dict(username=arguments.user, password=password,
                         https=bool(arguments.tls or arguments.ca_file), ca_file=arguments.ca_file,
                         validate_cert=not arguments.no_verify, request_timeout=arguments.timeout)
    if arguments.retries is not None:
        options["retries"] = arguments.retries
    if arguments.seeds:
        options.update(seeds=arguments.seeds, prefer=arguments.prefer)
    return Client(arguments.host, arguments.port, **options)


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def parse_arguments(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    # argparse stops filling `append`'s JSON values at the first option, so values that
    # come after an option (`append s --type T '{}' '{}'`) arrive as extras.
    arguments, extras = parser.parse_known_args(argv)
    if extras and getattr(arguments, "handler", None) is command_append and \
            not any(extra.startswith("--") for extra in extras):
        arguments.json = list(arguments.json) + extras
    elif extras:
        unknown = [extra for extra in extras if extra.startswith("-")] or extras
        parser.error("unrecognized arguments: {}".format(" ".join(unknown)))
    return arguments


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None) -> int:
    parser = build_parser()
    arguments = parse_arguments(parser, argv)
    if getattr(arguments, "handler", None) is None:
        parser.print_help()
        return EXIT_USAGE
    _configure_logging(arguments.verbose)
    out = out or sys.stdout
    try:
        with make_client(arguments) as client:
            return arguments.handler(client, arguments, out)
    except (Failure, errors.EventStoreError, ValueError, TypeError) as error:
        print("{}: error: {}".format(PROG, error), file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # e.g. `clientapi read big | head`
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    # Python would complain once more when flushing the closed pipe at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
