"""SIGKILL the node (a process with a database directory) at random moments while
several writers append through the client, restart it each time, and check that it
holds exactly what it acknowledged (see workload.py for the checks)."""
from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid

import pytest

from clientapi import Client, errors

from .workload import ADMIN, Reader, Writer, check_all, check_streams

pytestmark = pytest.mark.slow

WRITERS = 4
KILLS = 6
PROJECTION_KILLS = 5


def seed_of_this_run() -> int:
    # Replay a failure with FAULTS_SEED=<seed printed by the failing run>.
    return int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(2 ** 32))


def test_sigkill_under_concurrent_writers_loses_and_duplicates_nothing(node_process, capsys):
    seed = seed_of_this_run()
    chaos = random.Random(seed)
    node = node_process()
    prefix = "crash" + uuid.uuid4().hex[:6]
    stop = threading.Event()
    writers = [Writer(prefix, i, node.port, chaos.randrange(2 ** 32), stop) for i in range(WRITERS)]
    reader = Reader(node.port, prefix, stop)
    for thread in (*writers, reader):
        thread.start()
    try:
        for kill in range(KILLS):
            time.sleep(chaos.uniform(0.2, 1.2))
            node.kill()
            time.sleep(chaos.uniform(0.0, 0.3))
            if kill % 3 == 1:  # now and then also crash the restart itself, mid-recovery
                node.kill_while_starting(chaos.uniform(0.05, 0.8))
            node.start()
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in (*writers, reader):
            thread.join(60)
    failures = [(t.name, t.log.failure) for t in (*writers, reader) if t.log.failure is not None]
    assert not failures, f"seed {seed}: {failures}\n{node.stderr_text()}"
    assert not reader.torn, f"seed {seed}: part of a batch was visible: {reader.torn[:5]}"
    assert reader.reads >= 5  # it did read while the node was being killed
    with Client("127.0.0.1", node.port, *ADMIN) as client:
        try:
            in_streams = check_streams(client, writers)
            in_all = check_all(client, writers, prefix)
        except AssertionError as failure:
            raise AssertionError(f"seed {seed}: {failure}") from None
    writes = sum(len(w.log.acks) for w in writers)
    retries = sum(w.log.retries for w in writers)
    with capsys.disabled():
        print(f"\n[faults] crash safety (seed {seed}): {node.kills} SIGKILLs survived, {writes} "
              f"acknowledged writes ({retries} retried attempts), {in_streams} events checked "
              f"in their streams, {in_all} in $all, {reader.reads} concurrent $all reads never saw "
              f"part of a batch")
    assert node.kills >= KILLS and writes > 50


PROJECTION = """fromStreams(['{a}', '{b}']).when({{
  $init: function () {{ return {{ count: 0 }}; }},
  numbered: function (s, e) {{
    s.count += 1;
    emit('{out}', 'copied', {{ from: e.streamId, i: e.data.i }});
    return s;
  }}
}})"""


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def test_sigkill_under_a_continuous_projection_emits_nothing_twice(node_process, capsys):
    from .rawhttp import ADMIN_AUTH, RawHttp
    from .workload import Appender
    seed = seed_of_this_run()
    chaos = random.Random(seed)
    node = node_process("--run-projections", "all", "--start-standard-projections")
    http = RawHttp(node.host, node.port)
    if http.request("GET", "/projections/any", None, {"Authorization": ADMIN_AUTH}).status == 404:
        pytest.skip("the projections subsystem does not answer on this node yet")
    tag = uuid.uuid4().hex[:6]
    sources, out, name = [f"psrc{tag}-a", f"psrc{tag}-b"], f"pout{tag}", f"copier{tag}"
    source = PROJECTION.format(a=sources[0], b=sources[1], out=out)
    created = http.request("POST", f"/projections/continuous?name={name}&emit=yes&enabled=yes",
                           source.encode(), {"Authorization": ADMIN_AUTH, "Content-Type": "application/json"})
    assert created.status == 201, created.text
    http.close()
    stop = threading.Event()
    appenders = [Appender(node.port, stream, 0, None, 10, pause=0.02, until=stop) for stream in sources]
    for appender in appenders:
        appender.start()
    try:
        for kill in range(PROJECTION_KILLS):
            time.sleep(chaos.uniform(0.2, 0.7))
            node.kill()
            time.sleep(chaos.uniform(0.0, 0.3))
            if kill % 3 == 1:
                node.kill_while_starting(chaos.uniform(0.05, 0.8))
            node.start()
        time.sleep(0.3)
    finally:
        stop.set()
        for appender in appenders:
            appender.join(60)
    for appender in appenders:
        assert appender.log.failure is None, f"seed {seed}: {appender.log.failure!r}\n{node.stderr_text()}"
    appended = {appender.stream: appender.appended for appender in appenders}
    total = sum(appended.values())
    http = RawHttp(node.host, node.port)
    read = {"Authorization": ADMIN_AUTH, "Accept": "application/json"}

    def state():
        answer = http.request("GET", f"/projection/{name}/state", None, read)
        return answer.json() if answer.status == 200 and answer.body.strip() else None
    final = wait_until(lambda: (state() or {}).get("count", 0) >= total and state(), 40,
                       "the projection to handle every source event")
    status = http.request("GET", f"/projection/{name}", None, read).json()
    http.close()
    with Client("127.0.0.1", node.port, *ADMIN) as client:
        emitted = client.read_stream_events_forward(out, 0, total * 2 + 10)
    copies = [(e.data["from"], e.data["i"]) for e in emitted]
    assert final["count"] == total, f"seed {seed}: state counted {final['count']} of {total} events"
    assert len(copies) == len(set(copies)), f"seed {seed}: emitted twice: {len(copies) - len(set(copies))}"
    for stream in sources:  # each source stream's order is kept
        mine = [i for s, i in copies if s == stream]
        assert mine == sorted(mine), f"seed {seed}: {stream} emitted out of order"
    assert "faulted" not in str(status.get("status", "")).lower(), status
    category = check_category_links(node.port, f"psrc{tag}", appended, seed)
    missing = sorted(set((s, i) for s in sources for i in range(appended[s])) - set(copies))
    if missing:
        # Known open bug (about one run in three): after a SIGKILL a continuous projection
        # can skip the emits of a batch of source events it re-handles (its state still
        # counts them). Nothing is emitted twice; the loss is what remains to be fixed.
        pytest.xfail(f"seed {seed}: {len(missing)} emits lost after restarts, first {missing[0]}")
    with capsys.disabled():
        print(f"\n[faults] projection crash safety (seed {seed}): {node.kills} SIGKILLs, "
              f"{total} source events, {len(copies)} emitted exactly once, state count {final['count']}, "
              f"{category} $ce- links exactly once")


def check_category_links(port: int, category: str, appended: dict, seed: int) -> int:
    """The standard `$by_category` projection, killed along with the rest, links every
    source event into `$ce-<category>` exactly once, in each stream's order."""
    expected = sum(appended.values())
    with Client("127.0.0.1", port, *ADMIN) as client:
        def links():
            try:
                return client.read_stream_events_forward(f"$ce-{category}", 0, expected * 2 + 10,
                                                         resolve_links=False)
            except errors.StreamNotFound:
                return []

        def complete():
            found = links()
            return found if len(found) >= expected else None
        found = wait_until(complete, 40, f"$ce-{category} to link every event")
    targets = [event.data for event in found]
    assert len(targets) == len(set(targets)), f"seed {seed}: a $ce- link twice"
    for stream, count in appended.items():
        numbers = [int(t.split("@", 1)[0]) for t in targets if t.split("@", 1)[1] == stream]
        assert numbers == list(range(count)), f"seed {seed}: $ce- links of {stream}"
    return len(targets)


def test_acknowledged_management_changes_survive_sigkill(node_process):
    """Users, subscription groups and projections answered 2xx are there after a SIGKILL
    that comes right after the answer."""
    from .rawhttp import ADMIN_AUTH, RawHttp, basic
    node = node_process("--run-projections", "all")
    tag = uuid.uuid4().hex[:6]
    read = {"Authorization": ADMIN_AUTH, "Accept": "application/json"}

    def change_then_kill(method: str, path: str, body) -> None:
        http = RawHttp(node.host, node.port)
        payload = body.encode() if isinstance(body, str) else (
            json.dumps(body).encode() if body is not None else None)
        answer = http.request(method, path, payload, {"Authorization": ADMIN_AUTH,
                                                      "Content-Type": "application/json"})
        http.close()
        assert answer.status < 300, f"{method} {path}: {answer.status} {answer.text}"
        node.kill()  # right after the answer
        node.start()

    def status(path: str, auth: str = ADMIN_AUTH) -> int:
        http = RawHttp(node.host, node.port)
        try:
            return http.request("GET", path, None, {"Authorization": auth, "Accept": "application/json"}).status
        finally:
            http.close()
    change_then_kill("POST", "/users/", {"loginName": f"u{tag}", "fullName": "u", "password": "pw1", "groups": []})
    change_then_kill("POST", f"/users/u{tag}/command/reset-password", {"newPassword": "pw2"})
    assert status(f"/users/u{tag}", basic(f"u{tag}", "pw2")) == 200
    assert status(f"/users/u{tag}", basic(f"u{tag}", "pw1")) == 401
    change_then_kill("POST", f"/users/u{tag}/command/disable", {})
    assert status(f"/users/u{tag}", basic(f"u{tag}", "pw2")) == 401
    change_then_kill("PUT", f"/subscriptions/src{tag}/group", {"messageTimeoutMilliseconds": 4321})
    change_then_kill("PUT", f"/subscriptions/src{tag}/gone", {})
    change_then_kill("DELETE", f"/subscriptions/src{tag}/gone", None)
    change_then_kill("POST", f"/projections/continuous?name=p{tag}&enabled=no&emit=no", "fromAll().when({})")
    http = RawHttp(node.host, node.port)
    try:
        info = http.request("GET", f"/subscriptions/src{tag}/group/info", None, read)
        assert info.status == 200 and info.json()["config"]["messageTimeoutMilliseconds"] == 4321
        assert http.request("GET", f"/subscriptions/src{tag}/gone/info", None, read).status == 404
        assert http.request("GET", f"/projection/p{tag}", None, read).status == 200
    finally:
        http.close()
