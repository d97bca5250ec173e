"""The client against servers that misbehave (real sockets, see misbehaving.py): every
operation times out on a silent or stalling server, and a cut connection, invalid JSON,
a wrong content type or a wrong document shape is a ConnectionFailure/ProtocolError,
never a KeyError, TypeError or a hang.

(tests/client/test_failures.py covers the basic cases for stream reads and appends;
these cover every public operation and the nastier variants.)"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable, Tuple

import pytest

from clientapi import WriteEvent, errors

from .clients import FullClient, close_full_client
from .misbehaving import MisbehavingServer, feed, http_answer, then_cut, trickle

ATOM = "application/vnd.eventstore.atom+json"
TIMEOUT = 0.3
OPERATIONS: list[Tuple[str, Callable[[], tuple]]] = [
    ("read_event", lambda: ("s", 0)),
    ("read_stream_events_forward", lambda: ("s", 0, 5)),
    ("read_stream_events_backward", lambda: ("s", -1, 5)),
    ("read_all_events_forward", lambda: (0, 0, 5)),
    ("read_all_events_backward", lambda: (-1, -1, 5)),
    ("append_to_stream", lambda: ("s", [WriteEvent("x"), WriteEvent("y")], 3)),
    ("create_stream", lambda: ("s",)),
    ("delete_stream", lambda: ("s",)),
    ("get_stream_metadata", lambda: ("s",)),
    ("set_stream_metadata", lambda: ("s", {"k": 1})),
    ("create_persistent_subscription", lambda: ("s", "g")),
    ("delete_persistent_subscription", lambda: ("s", "g")),
    ("get_persistent_subscription_info", lambda: ("s", "g")),
    ("list_persistent_subscriptions", lambda: ()),
    ("read_persistent_messages", lambda: ("s", "g", 5)),
    ("ack_persistent_messages", lambda: ("s", "g", [uuid.uuid4()])),
    ("users.list", lambda: ()),
    ("users.create", lambda: ("ann", "pw")),
    ("projections.list", lambda: ()),
    ("projections.state", lambda: ("p",)),
    ("projections.create_continuous", lambda: ("p", "fromAll()")),
    ("admin.info", lambda: ()),
]
# Operations whose success is a JSON document (the others succeed with an empty body).
JSON_OPERATIONS = ["read_event", "read_stream_events_forward", "read_stream_events_backward",
                   "read_all_events_forward", "read_all_events_backward", "get_stream_metadata",
                   "get_persistent_subscription_info", "list_persistent_subscriptions",
                   "read_persistent_messages", "users.list", "projections.list", "projections.state",
                   "admin.info"]
CONNECTION_PROBLEMS = (errors.ProtocolError, errors.ConnectionFailure)


def arguments_of(name: str) -> tuple:
    return dict(OPERATIONS)[name]()


def operation_of(client: Any, name: str) -> Callable:
    """`read_event` or a section's `users.list`."""
    target = client
    for part in name.split("."):
        target = getattr(target, part)
    return target


def call_with_watchdog(server: MisbehavingServer, name: str, engine: str = "auto",
                       limit: float = 10.0, **options: Any) -> BaseException:
    """Call the operation on a fresh client in a thread; a hang fails the test instead of
    hanging it. Returns what it raised (it must raise)."""
    outcome: list = []

    def run() -> None:
        client = FullClient("127.0.0.1", server.port, "admin", "changeit", http_client=engine,
                            **options)
        try:
            operation_of(client, name)(*arguments_of(name))
            outcome.append(None)
        except BaseException as error:  # what is raised is the point of the test
            outcome.append(error)
        finally:
            close_full_client(client)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert outcome, f"{name} still running after {limit} s: it hangs"
    assert outcome[0] is not None, f"{name} returned normally from a broken answer"
    return outcome[0]


@pytest.fixture
def server():
    started = []

    def start(behaviour) -> MisbehavingServer:
        started.append(MisbehavingServer(behaviour))
        return started[-1]
    yield start
    for running in started:
        running.close()


# --- timeouts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [name for name, _ in OPERATIONS])
def test_every_operation_times_out_on_a_silent_server(server, name):
    silent = server(None)
    began = time.monotonic()
    error = call_with_watchdog(silent, name, request_timeout=TIMEOUT)
    assert isinstance(error, errors.Timeout), repr(error)
    assert time.monotonic() - began < 5.0


@pytest.mark.parametrize("engine", ["native", "curl", "simple"])
@pytest.mark.parametrize("behaviour", [
    http_answer(body=b'{"entries": [', content_type=ATOM, length=500),   # headers, then nothing
    trickle(feed({"entries": [], "links": []}), 0.05),                  # too slow overall
    trickle(b"HTTP/1.1 200 OK\r\n", 0.2),                              # headers never end
], ids=["stalled-body", "trickling", "endless-headers"])
def test_stalling_answers_time_out(server, engine, behaviour):
    error = call_with_watchdog(server(behaviour), "read_stream_events_forward", engine,
                               request_timeout=TIMEOUT)
    assert isinstance(error, errors.Timeout), repr(error)


def test_async_face_reports_the_timeout_to_on_failed(server):
    silent = server(None)
    client = FullClient("127.0.0.1", silent.port, request_timeout=TIMEOUT)
    failures = []
    try:
        client.read_all_events_forward_async(0, 0, 5, on_failed=lambda e: (failures.append(e),
                                                                          client.resume()))
        client.wait(timeout=5)
    finally:
        close_full_client(client)
    assert isinstance(failures[0], errors.Timeout)


# --- cut connections ----------------------------------------------------------------------------
CUTS = [
    then_cut(b""),
    then_cut(b"HTTP/1.1 200 OK\r\nContent-Ty"),
    then_cut(http_answer(body=b'{"entries": [{"eventId"', content_type=ATOM, length=400)),
    then_cut(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"10\r\n{\"entries\": [],"),
    then_cut(b"HTTP/1.1 201 Created\r\nLocation: http://x/streams/s/4\r\nContent-Length: 5\r\n\r\n"),
]
CUT_IDS = ["before-anything", "mid-headers", "mid-body", "mid-chunk", "201-mid-body"]


# every operation with a cut mid-body; every kind of cut with a few representative operations
REPRESENTATIVE = ["read_stream_events_forward", "read_all_events_backward", "append_to_stream",
                  "get_persistent_subscription_info"]
CUT_CASES = [pytest.param(name, CUTS[2], id=f"{name}-mid-body") for name, _ in OPERATIONS] + [
    pytest.param(name, cut, id=f"{name}-{cut_id}") for cut, cut_id in zip(CUTS, CUT_IDS)
    if cut_id != "mid-body" for name in REPRESENTATIVE]


@pytest.mark.parametrize("name,behaviour", CUT_CASES)
def test_a_connection_cut_mid_response_is_a_connection_or_protocol_error(server, name, behaviour):
    error = call_with_watchdog(server(behaviour), name)
    assert isinstance(error, CONNECTION_PROBLEMS), repr(error)


@pytest.mark.parametrize("engine", ["native", "curl", "simple"])
def test_reset_mid_body_with_every_engine(server, engine):
    behaviour = then_cut(http_answer(body=b'{"entries": [', content_type=ATOM, length=400))
    error = call_with_watchdog(server(behaviour), "read_all_events_forward", engine,
                               request_timeout=2.0)
    assert isinstance(error, CONNECTION_PROBLEMS), repr(error)


@pytest.mark.parametrize("engine", ["native", "curl", "simple"])
def test_clean_close_mid_body_with_every_engine(server, engine):
    behaviour = http_answer(body=b'{"entries": [', content_type=ATOM, length=400)
    error = call_with_watchdog(server(lambda connection: connection.sendall(behaviour)),
                               "read_all_events_forward", engine, request_timeout=5.0)
    assert isinstance(error, CONNECTION_PROBLEMS), repr(error)


# --- answers that are not what the API promises -------------------------------------------------
BROKEN_DOCUMENTS = [
    http_answer(body=b"{not json", content_type=ATOM),
    http_answer(body=b"{not json", content_type="application/json"),
    http_answer(body=b"\xff\xfe\x00garbage", content_type="application/json"),
    http_answer(body=b"<html><body>proxy error</body></html>", content_type="text/html"),
    http_answer(body=b'{"entries": []}', content_type="text/plain"),
    http_answer(body=b'{"entries": []}'),                                   # no content type
    feed([]), feed("a string"), feed(None),
    feed({"entries": "not a list"}), feed({"entries": ["not an object"]}),
    feed({"entries": [], "links": {"relation": "next"}}),
    feed({"entries": [], "links": [{"relation": 5, "uri": None}]}),
    feed({"entries": [{"title": 5}]}), feed({"entries": [{"title": "no event here"}]}),
    feed({"entries": [{"eventId": str(uuid.uuid4())}]}),
    feed({"entries": [{"eventId": str(uuid.uuid4()), "streamId": "s", "eventNumber": "0",
                       "eventType": "t"}]}),
    feed({"entries": [{"eventId": str(uuid.uuid4()), "streamId": "s", "eventNumber": 0,
                       "eventType": "t", "data": {"not": "text"}}]}),
    feed({"entries": [{"content": {"eventNumber": None}}]}),
    feed({"eventId": 5, "content": 7}),
]
BROKEN_IDS = ["bad-json-atom", "bad-json-json", "binary", "html", "text-plain", "no-content-type",
              "array", "string", "null", "entries-string", "entries-of-strings", "links-object",
              "link-fields-wrong", "title-number", "title-text", "entry-missing-fields",
              "event-number-string", "data-object", "content-number-null", "odd-entry"]


FEED_OPERATIONS = [name for name in JSON_OPERATIONS if name != "get_stream_metadata"]
FEED_READS = {"read_stream_events_forward", "read_stream_events_backward", "read_all_events_forward",
              "read_all_events_backward"}


def broken_cases():
    # every broken document against the feed reads and single reads; the plain-JSON
    # operations (persistent subscriptions) get the documents that are not JSON at all
    for name in FEED_OPERATIONS:
        documents = list(zip(BROKEN_DOCUMENTS, BROKEN_IDS))
        if name not in FEED_READS and name != "read_event":
            documents = documents[:6]
        if name == "projections.state":  # read leniently whatever the content type: only bad JSON
            documents = documents[:4]
        for behaviour, case in documents:
            if case == "odd-entry" and name in FEED_READS:
                continue  # a feed without `entries` is read as an empty page, on purpose
            yield pytest.param(name, behaviour, id=f"{name}-{case}")


@pytest.mark.parametrize("name,behaviour", list(broken_cases()))
def test_broken_documents_are_protocol_errors(server, name, behaviour):
    error = call_with_watchdog(server(behaviour), name)
    assert isinstance(error, errors.ProtocolError), repr(error)


@pytest.mark.parametrize("behaviour", BROKEN_DOCUMENTS[:6], ids=BROKEN_IDS[:6])
def test_metadata_answer_that_is_not_json_is_a_protocol_error(server, behaviour):
    error = call_with_watchdog(server(behaviour), "get_stream_metadata")
    assert isinstance(error, errors.ProtocolError), repr(error)


@pytest.mark.parametrize("document", [[], "a string", None], ids=["array", "string", "null"])
def test_metadata_answer_that_is_not_an_object_is_a_protocol_error(server, document):
    error = call_with_watchdog(server(feed(document, "application/json")), "get_stream_metadata")
    assert isinstance(error, errors.ProtocolError), repr(error)


@pytest.mark.parametrize("location", [
    "", "http://x/streams/s/", "http://x/streams/s/four", "http://x/streams/s/-1",
    "/streams/s/" + "9" * 5000,
], ids=["none", "no-number", "word", "negative", "5000-digits"])
def test_append_answered_without_a_usable_location_is_a_protocol_error(server, location):
    headers = {"Location": location} if location else {}
    error = call_with_watchdog(server(http_answer("201 Created", headers=headers)), "append_to_stream")
    assert isinstance(error, errors.ProtocolError), repr(error)


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
    b"HTTP/1.1 999 Whatever\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 abc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
], ids=["negative-length", "status-999", "status-text", "two-lengths"])
def test_malformed_http_is_an_error_not_a_crash(server, answer):
    error = call_with_watchdog(server(answer), "read_stream_events_forward")
    assert isinstance(error, errors.EventStoreError), repr(error)


def test_redirect_loop_ends_with_an_error(server):
    loop = server(http_answer("307 Temporary Redirect", headers={"Location": "/streams/s/0/forward/5"}))
    began = time.monotonic()
    error = call_with_watchdog(loop, "read_stream_events_forward")
    assert isinstance(error, errors.EventStoreError), repr(error)
    assert time.monotonic() - began < 5.0


def test_redirect_to_a_dead_port_is_a_connection_failure(server):
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    redirect = server(http_answer("307 Temporary Redirect",
                                  headers={"Location": f"http://127.0.0.1:{dead}/streams/s"}))
    error = call_with_watchdog(redirect, "read_event")
    assert isinstance(error, errors.ConnectionFailure), repr(error)


# --- paging against a server that never makes progress ----------------------------------------
@pytest.mark.parametrize("name,document", [
    ("read_all_events_backward", {"entries": [], "links": [
        {"relation": "next", "uri": "http://x/streams/%24all/" + "0" * 31 + "5/backward/5"}]}),
    ("read_all_events_forward", {"entries": [], "links": [
        {"relation": "previous", "uri": "http://x/streams/%24all/" + "0" * 31 + "5/forward/5"}]}),
    ("read_stream_events_forward", {"entries": [], "links": [
        {"relation": "previous", "uri": "http://x/streams/s/0/forward/5"}]}),
    ("read_stream_events_backward", {"entries": [], "links": [
        {"relation": "next", "uri": "http://x/streams/s/3/backward/5"}]}),
], ids=["all-backward", "all-forward", "stream-forward", "stream-backward"])
def test_paging_never_loops_forever_on_empty_pages(server, name, document):
    outcome: list = []
    same_page = server(feed(document))

    def run() -> None:
        client = FullClient("127.0.0.1", same_page.port)
        try:
            outcome.append(getattr(client, name)(*arguments_of(name)))
        except errors.EventStoreError as error:
            outcome.append(error)
        finally:
            close_full_client(client)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    assert outcome, f"{name} keeps asking for the same empty page ({len(same_page.requests)} requests)"


# --- subscriptions against a broken server ------------------------------------------------------
BROKEN_FOR_SUBSCRIPTIONS = {
    "bad-json": http_answer(body=b"{not json", content_type=ATOM),
    "bad-entry": feed({"entries": [{"title": 5}]}),
    "cut": then_cut(http_answer(body=b'{"entries": [', content_type=ATOM, length=400)),
    "server-error": http_answer("500 Internal Server Error", body=b"boom", content_type="text/plain"),
}


def subscription_cases():
    for start in ("stream", "all", "persistent"):
        for case, behaviour in BROKEN_FOR_SUBSCRIPTIONS.items():
            yield pytest.param(start, behaviour, id=f"{start}-{case}")


@pytest.mark.parametrize("start,behaviour", list(subscription_cases()))
def test_subscriptions_report_broken_answers_to_on_error_and_keep_going(server, start, behaviour):
    from clientapi.subscriptions import RetryPolicy
    broken = server(behaviour)
    client = FullClient("127.0.0.1", broken.port, "admin", "changeit", request_timeout=2.0)
    reported = []

    retryable = (errors.ProtocolError, errors.ConnectionFailure, errors.ServerError, errors.Timeout)

    def on_error(error):
        reported.append(error)
        if len(reported) == 3 or not isinstance(error, retryable):
            client.resume()
    try:
        if start == "persistent":
            subscription = client.connect_to_persistent_subscription(
                "s", "g", lambda event: None, long_poll=0, idle_pause=0.01, on_error=on_error)
        else:
            options = dict(on_error=on_error, retry=RetryPolicy(first_delay=0.01, max_delay=0.05))
            subscription = (client.subscribe("s", lambda event: None, True, **options) if start == "stream"
                            else client.subscribe_all(lambda event: None, True, **options))
        client.wait(timeout=8)
        assert subscription.is_running, "a retryable failure stopped the subscription"
        subscription.stop()
    finally:
        close_full_client(client)
    for error in reported:
        assert isinstance(error, retryable), repr(error)
