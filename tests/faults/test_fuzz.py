"""Random requests against the node (hypothesis): methods, paths, headers and bodies no
client would send. The node must stay up, answer only statuses the real server uses for
such requests (500 only where the real server sends it, never a traceback), send its
CORS headers every time, and change nothing when it refuses a request.

The generators include the inputs that found bugs before (numbers beyond int64, digits
that str.isdigit() takes and int() refuses, JSON nested past the recursion limit, latin-1
header bytes); test_malformed_input.py pins each of those down."""
from __future__ import annotations

import json
import os
import string
import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .rawhttp import ADMIN_AUTH, EVENTS_JSON, RawHttp, append_json, basic

TARGET = "fuzz-target"
# §1.7: every status the real server uses at all.
REAL_STATUSES = {200, 201, 202, 204, 304, 307, 400, 401, 404, 405, 406, 408, 409, 410, 413, 415,
                 500, 503}
# §1.7: the only 500s of the real server (timeouts, read too big, bad ?format=, projections).
REAL_500_TEXTS = ("Read size too big", "Unknown format", "Write timeout", "Delete timeout",
                  "OperationFailed", "Operation failed")
FUZZ_SETTINGS = settings(max_examples=int(os.environ.get("FAULTS_FUZZ_EXAMPLES", "400")), deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.function_scoped_fixture])

# --- generators ------------------------------------------------------------------------------
ascii_words = st.text(alphabet=string.ascii_letters + string.digits + "-_.~$@:+,;=!*'()%",
                      max_size=12)
stream_ids = st.one_of(
    st.sampled_from([TARGET, "$all", "$$" + TARGET, "$settings", "$users", "$stats-127.0.0.1:2113",
                     "$persistentSubscriptionConfig", "$$$all", "..", ".", "a b", "ü/ä", "%", "%2F",
                     "$", "$$", "\u0000", "\U0001f600", "x" * 300]),
    st.text(min_size=1, max_size=20))
numbers = st.one_of(st.integers(-5, 2 ** 70).map(str),
                    st.sampled_from(["head", "-1", "0x10", "1e3", " 1", "+1", "4096", "4097", "5000",
                                     "0" * 40, "1.0", "NaN", "-0", "\u00b2", "\u0662", "1_0",
                                     "9" * 5000, "9223372036854775808"]),
                    st.text(alphabet=string.ascii_letters + "-+.\u00b2\u0663", max_size=6))
positions = st.one_of(st.sampled_from(["0" * 32, "F" * 32, "f" * 32, "head", "00", "G" * 32,
                                       "7" + "F" * 31, "-" + "0" * 31, "0" * 16 + "8" + "0" * 15]),
                      st.text(alphabet="0123456789abcdefABCDEF", min_size=30, max_size=34))
directions = st.sampled_from(["forward", "backward", "sideways"])
names = st.one_of(st.sampled_from(["g", "fuzz-group", "p1", "$by_category", "$streams", "", "%24x"]),
                  ascii_words.filter(lambda name: name.lower() not in ("admin", "ops")))


def escaped(text: str, safe: str = "") -> str:
    return quote(text, safe=safe)


@st.composite
def paths(draw) -> str:
    stream = escaped(draw(stream_ids))
    number, count = escaped(draw(numbers), "+-."), escaped(draw(numbers), "+-.")
    position = escaped(draw(positions))
    direction, name, other = draw(directions), escaped(draw(names)), escaped(draw(names))
    path = draw(st.sampled_from([
        f"/streams/{stream}", f"/streams/{stream}/", f"/streams/{stream}/{number}",
        f"/streams/{stream}/{number}/{count}", f"/streams/{stream}/{number}/{direction}/{count}",
        f"/streams/{stream}/metadata", f"/streams/{stream}/metadata/{number}/{direction}/{count}",
        f"/streams/{stream}/incoming/{draw(st.sampled_from([str(uuid.uuid4()), name, str(uuid.UUID(int=0))]))}",
        f"/streams/%24all/{position}/{direction}/{count}", f"/streams/$all/{position}/{count}",
        "/streams/%24all", f"/streams/%24all/filtered/{position}/{direction}/{count}",
        f"/subscriptions/{stream}/{name}", f"/subscriptions/{stream}/{name}/{count}",
        f"/subscriptions/{stream}/{name}/info", f"/subscriptions/{stream}/{name}/ack/{other}",
        f"/subscriptions/{stream}/{name}/nack/{other}", f"/subscriptions/{stream}",
        "/subscriptions", f"/subscriptions/{stream}/{name}/replayParked",
        "/projections/any", "/projections/continuous", f"/projections/{name}",
        f"/projection/{name}", f"/projection/{name}/state", f"/projection/{name}/query",
        f"/projection/{name}/command/{other}", f"/projection/{name}/config",
        "/users", "/users/", f"/users/{name}", f"/users/{name}/command/{other}",
        "/info", "/info/options", "/ping", "/stats", f"/stats/{name}", "/gossip", f"/{name}",
        "/", "//", "/streams", "/streams//0", f"/streams/{stream}%2F..%2F",
    ]))
    query = draw(st.sampled_from(["", "?embed=body", "?embed=tryharder", "?embed=" + name,
                                  "?format=json", "?format=xml", "?format=atom", "?format=" + name,
                                  "?ids=" + name, "?context=streamid&type=prefix&data=" + name,
                                  "?exclude-system-events=" + name, "?" + name, "?=&&=",
                                  "?format=json&format=xml", "?embed=%FF"]))
    return path + query


header_values = st.one_of(
    st.sampled_from(["True", "False", "true", "yes", "", "-2", "-1", "-3", "-4", "-5", "0", "1",
                     "9223372036854775807", "99999999999999999999", "0x1", "1.5", str(uuid.uuid4()),
                     str(uuid.UUID(int=0)), "{" + str(uuid.uuid4()) + "}", "$metadata", "head"]),
    st.text(alphabet=string.printable.replace("\r", "").replace("\n", "").replace("\x0b", "")
            .replace("\x0c", ""), max_size=20))
long_polls = st.sampled_from(["0", "-1", "abc", "", "1.5", " ", "0x1", "-0", "\u00b2", "9" * 5000,
                              "\u0661"])  # never a real wait
media_types = st.sampled_from([
    EVENTS_JSON, "application/json", "application/json; charset=utf-8", "application/json; charset=latin1",
    "Application/JSON", "application/vnd.eventstore.atom+json", "application/atom+xml",
    "application/vnd.eventstore.events+xml", "text/xml", "application/xml", "application/octet-stream",
    "text/plain", "application/vnd.kurrent.events+json", "multipart/form-data; boundary=x",
    "*/*", ";", "application/json;;;", "application/vnd.eventstore.streamdesc+json"])
authorizations = st.sampled_from([ADMIN_AUTH] * 6 + [None, None, basic("admin", "wrong"),
                                                     "Basic !!!", "Basic " + "QQ==", "Bearer abc",
                                                     "basic YWRtaW46Y2hhbmdlaXQ=", "Basic"])
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=20)
event_ids = st.one_of(st.uuids().map(str), st.just(str(uuid.UUID(int=0))), header_values, json_values)
event_elements = st.fixed_dictionaries({}, optional={
    "eventId": event_ids, "EVENTID": event_ids,  # names are matched case-insensitively
    "eventType": st.one_of(st.text(max_size=10), json_values), "eventtype": st.text(max_size=4),
    "data": json_values, "metadata": json_values, "isJson": json_values})


def nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


bodies = st.one_of(
    st.none(), st.binary(max_size=64),
    st.sampled_from([b"", b"[", b"{}", b"[]", b"null", b"[{}]", b'[{"eventId": null}]', b"\xff\xfe",
                     b"<xml", b"<events><event/></events>", b'{"$acl": 5}', b'{"$maxCount": "10"}',
                     b'{"$tb": -1}', b"[" + b"1," * 10000 + b"1]"]),
    st.integers(1, 400).map(nested), st.sampled_from([600, 1500, 100_000]).map(nested),
    st.sampled_from([600, 3000]).map(lambda depth: json.dumps(
        [{"eventId": str(uuid.uuid4()), "eventType": "t", "data": "@"}]).replace(
        '"@"', "[" * depth + "]" * depth).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.lists(event_elements, max_size=3).map(lambda value: json.dumps(value).encode()),
    st.integers(0, 2 * 1024 * 1024).map(lambda size: b"x" * size))


@st.composite
def requests(draw) -> tuple:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "GET", "POST",
                                   "PATCH", "HEAD", "PROPFIND"]))
    headers = {}
    auth = draw(authorizations)
    if auth is not None:
        headers["Authorization"] = auth
    for name in ("Content-Type", "Accept"):
        if draw(st.booleans()):
            headers[name] = draw(media_types)
    for prefix in draw(st.sampled_from([("ES-",), ("Kurrent-",), ("ES-", "Kurrent-")])):
        for name in draw(st.lists(st.sampled_from(
                ["ExpectedVersion", "EventId", "EventType", "HardDelete", "ResolveLinkTos",
                 "RequireLeader", "RequireMaster", "TrustedAuth"]), max_size=4, unique=True)):
            encoding = draw(st.sampled_from(["utf-8", "latin-1"]))
            headers[prefix + name] = draw(header_values).encode(encoding, "replace")
    if draw(st.booleans()):
        headers["ES-LongPoll"] = draw(long_polls).encode("latin-1", "replace")
    if draw(st.integers(0, 5)) == 0:
        headers[draw(st.sampled_from(["If-None-Match", "X-Forwarded-Host", "X-Forwarded-Prefix",
                                      "X-Forwarded-Proto", "X-Forwarded-Port", "Accept-Encoding"]))] = \
            draw(header_values).encode("utf-8")
    return method, draw(paths()), headers, draw(bodies)


# --- the property ------------------------------------------------------------------------------
class State:
    """What a refused request must leave untouched."""

    def __init__(self, node):
        self.node = node

    def snapshot(self) -> tuple:
        core = self.node.core
        index = core._context.index
        return core.head_position(), index.last_committed(TARGET), index.last_committed("$$" + TARGET)


@pytest.fixture(scope="module")
def fuzz_http(node):
    http = RawHttp(node.host, node.port)
    answer = append_json(http, f"/streams/{TARGET}",
                         [{"eventId": str(uuid.uuid4()), "eventType": "seed", "data": {"i": i}}
                          for i in range(3)])
    assert answer.status == 201
    yield http
    http.close()


TRIED = {"requests": 0, "refused": 0, "accepted": 0}


def check_answer(method: str, path: str, answer) -> None:
    assert answer.status in REAL_STATUSES, f"{method} {path} -> {answer.status} {answer.reason}"
    assert b"Traceback" not in answer.body and "Traceback" not in answer.reason
    if answer.status == 500:
        said = answer.reason + " " + answer.text
        assert any(text in said for text in REAL_500_TEXTS), \
            f"{method} {path} -> 500 the real server would not send: {said!r}"
        if "Unknown format" in said:
            assert "format=" in path
        if "Read size too big" in said:
            assert "4097" in path or "5000" in path or any(
                part.isdigit() and int(part) > 4096 for part in path.split("?")[0].split("/"))
    if method != "OPTIONS" or answer.status == 200:
        assert answer.headers.get("Access-Control-Allow-Origin") == "*", f"{method} {path}: no CORS"


@FUZZ_SETTINGS
@given(request=requests())
def test_random_requests_never_crash_the_node_nor_change_state_when_refused(node, fuzz_http, request):
    method, path, headers, body = request
    state = State(node)
    before = state.snapshot()
    answer = fuzz_http.request(method, path, body, headers)
    TRIED["requests"] += 1
    check_answer(method, path, answer)
    if answer.status >= 300:
        TRIED["refused"] += 1
        assert state.snapshot() == before, f"refused {method} {path} ({answer.status}) changed state"
    else:
        TRIED["accepted"] += 1
    if method in ("GET", "OPTIONS", "HEAD"):
        assert state.snapshot() == before, f"{method} {path} ({answer.status}) changed state"


def test_node_still_healthy_after_fuzzing(node, fuzz_http, capsys):
    assert fuzz_http.request("GET", "/ping").status == 200
    answer = append_json(fuzz_http, "/streams/after-fuzz",
                         [{"eventId": str(uuid.uuid4()), "eventType": "t", "data": {}}])
    assert answer.status == 201
    with capsys.disabled():
        print(f"\n[faults] fuzz: {TRIED['requests']} random requests "
              f"({TRIED['refused']} refused, {TRIED['accepted']} accepted), node healthy")
    assert TRIED["requests"] >= 300


# --- through the client: any stream id and payload round-trips -------------------------------
ROUND_TRIPS = {"count": 0}
payloads = st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=20), st.integers(),
                                                          st.booleans(), st.none()), max_size=5)
client_stream_ids = st.one_of(st.sampled_from([".", "..", "a/..", "%2E", " "]),
                              st.text(min_size=1, max_size=24)).filter(lambda s: not s.startswith("$"))


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(stream=client_stream_ids, data=payloads, metadata=payloads,
       event_type=st.text(min_size=1, max_size=16).filter(lambda t: not t.startswith("$")),
       text=st.text(max_size=40))
def test_any_stream_id_type_and_payload_round_trip_through_the_client(admin, stream, data, metadata,
                                                                       event_type, text):
    from clientapi import WriteEvent
    events = [WriteEvent(data, metadata=metadata or "", is_json=True, event_type=event_type),
              WriteEvent(text or None, event_type=event_type)]
    first = admin.append_to_stream(stream, events)[0]
    read = admin.read_stream_events_forward(stream, first, 2)
    ROUND_TRIPS["count"] += 1
    assert [(e.stream_id, e.event_type) for e in read] == [(stream, event_type)] * 2
    assert read[0].data == data and read[0].metadata == (metadata or "")
    assert read[1].data == text
    assert [e.event_id for e in read] == [e.event_id for e in events]


def test_round_trip_report(capsys):
    with capsys.disabled():
        print(f"\n[faults] client round trips: {ROUND_TRIPS['count']} random stream ids/types/payloads")
    assert ROUND_TRIPS["count"] >= 100


@pytest.mark.parametrize("engine", ["native", "curl", "simple"])
@pytest.mark.parametrize("stream", [".", ".."])
def test_client_dot_segments(node, engine, stream):
    from clientapi import Client, WriteEvent
    with Client(node.host, node.port, "admin", "changeit", http_client=engine) as client:
        event = WriteEvent({"dot": stream}, is_json=True)
        client.append_to_stream(stream, event)
        assert event.event_id in [e.event_id for e in client.read_stream_events_forward(stream, 0, 100)]
