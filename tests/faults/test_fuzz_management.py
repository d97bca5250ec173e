"""Random requests against the management APIs (persistent subscriptions, users,
projections) with bodies shaped like the real ones but with wrong types, odd values and
odd names. The node answers only with statuses the real server uses (500 only for a
projection "Failed"), sends valid JSON whenever it says JSON, keeps its listings
readable, and never touches data streams nobody addressed."""
from __future__ import annotations

import json
import os
import string
import uuid
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientapi.server import Node

from .rawhttp import ADMIN_AUTH, RawHttp, append_json, basic
from .test_fuzz import REAL_STATUSES, json_values

BYSTANDER = "management-bystander"
TRIED = {"requests": 0, "accepted": 0}
FUZZ = settings(max_examples=int(os.environ.get("FAULTS_FUZZ_EXAMPLES", "300")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

odd_numbers = st.one_of(st.integers(-5, 5), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False),
                        st.sampled_from(["10", "", "-1", "1e3", None, True, [], {}]))
SETTING_NAMES = ["resolveLinktos", "startFrom", "messageTimeoutMilliseconds", "extraStatistics",
                 "maxRetryCount", "liveBufferSize", "bufferSize", "readBatchSize",
                 "checkPointAfterMilliseconds", "minCheckPointCount", "maxCheckPointCount",
                 "maxSubscriberCount", "namedConsumerStrategy", "STARTFROM", "preferRoundRobin"]
settings_bodies = st.dictionaries(st.sampled_from(SETTING_NAMES),
                                  st.one_of(odd_numbers, st.sampled_from(
                                      ["RoundRobin", "Pinned", "DispatchToSingle", "roundrobin", "Nope"])),
                                  max_size=6)
names = st.one_of(st.sampled_from(["g", "p", "x y", "é", "%", "$all", ".", "a" * 200, "$by_category",
                                   "$streams", "$stream_by_category", "$by_event_type"]),
                  st.text(alphabet=string.ascii_letters + string.digits + "-_.$@ ", min_size=1, max_size=12))
logins = names.filter(lambda name: name.lower() not in ("admin", "ops"))
user_bodies = st.fixed_dictionaries({}, optional={
    "loginName": st.one_of(logins, json_values), "fullName": st.one_of(st.text(max_size=8), json_values),
    "password": st.one_of(st.text(max_size=8), json_values),
    "groups": st.one_of(st.lists(st.sampled_from(["$admins", "$ops", "devs", ""]), max_size=3), json_values),
    "newPassword": st.one_of(st.text(max_size=8), json_values),
    "currentPassword": st.one_of(st.just("changeit"), json_values)})
sources = st.one_of(st.sampled_from([
    "fromAll().when({$any: function (s, e) { return s; }})",
    "fromStream('fuzz-source').when({$init: function () { return {n: 0}; }, $any: function (s, e) { s.n++; return s; }})",
    "fromCategory('fuzz').foreachStream().when({$any: function (s, e) { return s; }})",
    "fromStream('fuzz-source').when({$any: function (s, e) { emit('fuzz-emitted', 'E', {}); }})",
    "fromStream('fuzz-source').when({$any: function (s, e) { linkTo('fuzz-linked', e); }})",
    "options({resultStreamName: 'x'}); fromAll().when({$any: function (s, e) { return s; }})",
    "fromAll(", "throw new Error('boom')", "", "fromStreams([]).when({})", "null", "{}",
    "fromAll().when({$any: function (s, e) { return undefined.x; }})",
    "fromAll().partitionBy(function (e) { return e.streamId; }).when({$any: function (s, e) { return s; }})",
]), st.text(max_size=60))
flags = st.sampled_from(["yes", "no", "true", "false", "1", "0", "maybe", ""])


@st.composite
def management_requests(draw) -> tuple:
    stream, group = quote(draw(names), safe=""), quote(draw(names), safe="")
    name = quote(draw(names), safe="")
    kind = draw(st.sampled_from(["subscription", "user", "projection"]))
    if kind == "subscription":
        method, path = draw(st.sampled_from([
            ("PUT", f"/subscriptions/{stream}/{group}"), ("POST", f"/subscriptions/{stream}/{group}"),
            ("DELETE", f"/subscriptions/{stream}/{group}"), ("GET", f"/subscriptions/{stream}/{group}/info"),
            ("GET", f"/subscriptions/{stream}/{group}/{draw(st.integers(-1, 200))}"),
            ("POST", f"/subscriptions/{stream}/{group}/replayParked?stopAt={draw(odd_numbers)}"),
            ("POST", f"/subscriptions/{stream}/{group}/ack?ids={quote(str(draw(json_values)))}"),
            ("POST", f"/subscriptions/{stream}/{group}/nack/{uuid.uuid4()}?action={quote(draw(names), safe='')}"),
            ("GET", f"/subscriptions/{stream}"), ("GET", "/subscriptions")]))
        body = json.dumps(draw(st.one_of(settings_bodies, json_values))).encode()
    elif kind == "user":
        method, path = draw(st.sampled_from([
            ("POST", "/users/"), ("PUT", f"/users/{name}"), ("GET", f"/users/{name}"), ("DELETE", f"/users/{name}"),
            ("POST", f"/users/{name}/command/{draw(st.sampled_from(['enable', 'disable', 'reset-password', 'change-password', 'x']))}"),
            ("GET", "/users/")]))
        body = json.dumps(draw(st.one_of(user_bodies, json_values))).encode()
    else:
        query = urlencode({"name": draw(names), "emit": draw(flags), "enabled": draw(flags),
                           "checkpoints": draw(flags), "type": draw(st.sampled_from(["js", "JS", "native", ""]))})
        method, path = draw(st.sampled_from([
            ("POST", f"/projections/{draw(st.sampled_from(['continuous', 'onetime', 'transient']))}?{query}"),
            ("GET", f"/projection/{name}"), ("GET", f"/projection/{name}/state?partition={name}"),
            ("GET", f"/projection/{name}/result"), ("GET", f"/projection/{name}/query?config=yes"),
            ("PUT", f"/projection/{name}/query?emit={draw(flags)}"), ("GET", f"/projection/{name}/config"),
            ("PUT", f"/projection/{name}/config"), ("GET", f"/projection/{name}/statistics"),
            ("POST", f"/projection/{name}/command/{draw(st.sampled_from(['enable', 'disable', 'reset', 'abort']))}"),
            ("DELETE", f"/projection/{name}?deleteStateStream={draw(flags)}&deleteCheckpointStream={draw(flags)}"),
            ("GET", "/projections/any")]))
        body = draw(sources).encode() if "query" in path or path.startswith("/projections/") else \
            json.dumps(draw(st.one_of(json_values, st.dictionaries(
                st.sampled_from(["emitEnabled", "trackEmittedStreams", "checkpointAfterMs",
                                 "checkpointHandledThreshold", "checkpointUnhandledBytesThreshold",
                                 "pendingEventsThreshold", "maxWriteBatchLength", "maxAllowedWritesInFlight"]),
                odd_numbers, max_size=4)))).encode()
    auth = draw(st.sampled_from([ADMIN_AUTH] * 5 + [None, basic("ops", "changeit")]))
    headers = {"Content-Type": draw(st.sampled_from(["application/json", "text/plain", "application/xml"])),
               "Accept": draw(st.sampled_from(["application/json", "text/xml", "*/*", "text/plain"]))}
    if auth:
        headers["Authorization"] = auth
    if draw(st.integers(0, 4)) == 0:
        headers["ES-LongPoll"] = draw(st.sampled_from(["0", "1", "abc"]))
    return method, path, body if method in ("POST", "PUT") else None, headers


@pytest.fixture(scope="module")
def management_node():
    with Node(port=0, run_projections="all") as running:
        http = RawHttp(running.host, running.port)
        assert append_json(http, f"/streams/{BYSTANDER}",
                           [{"eventId": str(uuid.uuid4()), "eventType": "e", "data": {}}]).status == 201
        running.http = http
        yield running
        http.close()


def bystander_version(node) -> int:
    return node.core._context.index.last_committed(BYSTANDER)


@FUZZ
@given(request=management_requests())
def test_random_management_requests(management_node, request):
    method, path, body, headers = request
    before = bystander_version(management_node)
    answer = management_node.http.request(method, path, body, headers)
    TRIED["requests"] += 1
    assert answer.status in REAL_STATUSES, f"{method} {path} -> {answer.status}"
    assert b"Traceback" not in answer.body
    if answer.status == 500:
        assert path.startswith("/projection"), f"{method} {path} -> 500 {answer.text!r}"
    if answer.status < 300:
        TRIED["accepted"] += 1
        if "json" in answer.headers.get("Content-Type", "") and answer.body:
            json.loads(answer.body)  # says JSON, is JSON
    assert answer.headers.get("Access-Control-Allow-Origin") == "*"
    assert bystander_version(management_node) == before


def test_listings_still_readable_after_fuzzing(management_node, capsys):
    http = management_node.http
    read = {"Authorization": ADMIN_AUTH, "Accept": "application/json"}
    for path in ("/subscriptions", "/projections/any", "/users/"):
        answer = http.request("GET", path, None, read)
        assert answer.status == 200, (path, answer.status)
        json.loads(answer.body)
    assert http.request("GET", "/ping").status == 200
    with capsys.disabled():
        print(f"\n[faults] management fuzz: {TRIED['requests']} requests "
              f"({TRIED['accepted']} accepted), listings intact")
    assert TRIED["requests"] >= 250
