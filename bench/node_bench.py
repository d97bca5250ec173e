"""Throughput and latency of the embedded node over HTTP, with a plain stdlib load generator.

    python bench/node_bench.py [--seconds 4] [--mem]

Starts `python -m clientapi.server` as a subprocess (durable database in a temporary
directory unless --mem), then measures, each for a few seconds:

- single-event appends/s on one keep-alive connection
- events/s appended in batches of 100 on one connection
- single-event appends/s over 8 connections (8 threads)
- events/s read forward with embed=body in pages of 100 and of 4096
- long-poll latency: from sending an append to the parked poller getting its answer

and prints a table (about 35 s in all). The client side is `http.client` only, so the client
library is not what is measured. Next to each rate the table gives the node's own CPU time
per item (all its threads, from /proc): on a busy machine the rates swing with whatever else
runs, the CPU cost per item much less.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
AUTH = "Basic " + base64.b64encode(b"admin:changeit").decode()
EVENTS_JSON = "application/vnd.eventstore.events+json"
ATOM_JSON = "application/vnd.eventstore.atom+json"


class Connection(http.client.HTTPConnection):
    """http.client sends a request's headers and body in two writes; without TCP_NODELAY
    the body then waits for the server's delayed ACK, which would be measured instead
    of the node."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NodeProcess:
    """The node as a child process on a free port."""

    def __init__(self, mem: bool):
        self._directory = tempfile.TemporaryDirectory(prefix="node-bench-")
        storage = ["--mem"] if mem else ["--db", self._directory.name]
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clientapi.server", "--port", "0", *storage],
            stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        line = self.process.stdout.readline() if self.process.stdout else ""
        match = re.search(r"http://([^:/\s]+):(\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"the node did not start: {line!r}")
        self.host, self.port = match.group(1), int(match.group(2))

    def connection(self) -> http.client.HTTPConnection:
        return Connection(self.host, self.port, timeout=60)

    def cpu_seconds(self) -> float:
        """CPU time the node process has used so far (all threads), from /proc."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._directory.cleanup()


def request(connection: http.client.HTTPConnection, method: str, path: str,
            body: Optional[bytes] = None, headers: Optional[dict] = None) -> tuple[int, bytes]:
    all_headers = {"Authorization": AUTH}
    all_headers.update(headers or {})
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    return response.status, response.read()


def events_body(count: int) -> bytes:
    return json.dumps([{"eventId": str(uuid.uuid4()), "eventType": "bench",
                        "data": {"n": n, "text": "some payload of a typical size"}}
                       for n in range(count)]).encode()


class Bodies:
    """Request bodies made before the clock starts (unique event ids: no idempotent replays),
    so the load generator's own JSON and uuid work is not what gets measured."""

    def __init__(self, events_per_body: int, count: int):
        self.events_per_body = events_per_body
        self._bodies = [events_body(events_per_body) for _ in range(count)]

    def next(self) -> bytes:
        return self._bodies.pop() if self._bodies else events_body(self.events_per_body)


def append(connection: http.client.HTTPConnection, stream: str, bodies: Bodies) -> int:
    status, _ = request(connection, "POST", f"/streams/{stream}", bodies.next(),
                        {"Content-Type": EVENTS_JSON})
    if status != 201:
        raise RuntimeError(f"append answered {status}")
    return bodies.events_per_body


def for_seconds(seconds: float, step: Callable[[], int]) -> float:
    """Repeat `step` (which returns how many items it did) for `seconds`; items per second."""
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        done += step()
    return done / (time.perf_counter() - started)


def appends_single(node: NodeProcess, seconds: float) -> float:
    connection, bodies = node.connection(), Bodies(1, int(3000 * seconds))
    return for_seconds(seconds, lambda: append(connection, "bench-single", bodies))


def appends_batched(node: NodeProcess, seconds: float) -> float:
    connection, bodies = node.connection(), Bodies(100, int(500 * seconds))
    return for_seconds(seconds, lambda: append(connection, "bench-batch", bodies))


def appends_concurrent(node: NodeProcess, seconds: float, connections: int = 8) -> float:
    counts = [0] * connections
    bodies = [Bodies(1, int(600 * seconds)) for _ in range(connections)]

    def worker(index: int) -> None:
        connection = node.connection()
        counts[index] = int(for_seconds(seconds, lambda: append(
            connection, f"bench-multi-{index}", bodies[index])) * seconds)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def read_forward(node: NodeProcess, seconds: float, page: int, stream: str = "bench-batch") -> float:
    connection = node.connection()
    state = {"next": 0}

    def step() -> int:
        status, body = request(connection, "GET", f"/streams/{stream}/{state['next']}/forward/{page}"
                               "?embed=body", headers={"Accept": ATOM_JSON})
        if status != 200:
            raise RuntimeError(f"read answered {status}")
        entries = json.loads(body)["entries"]
        state["next"] = 0 if len(entries) < page else state["next"] + page
        return len(entries)

    return for_seconds(seconds, step)


def long_poll_latencies(node: NodeProcess, rounds: int) -> list[float]:
    writer, bodies = node.connection(), Bodies(1, rounds + 1)
    append(writer, "bench-poll", bodies)
    latencies: list[float] = []
    for number in range(1, rounds + 1):
        answered = threading.Event()
        received: list[float] = []

        def poll() -> None:
            connection = node.connection()
            status, _ = request(connection, "GET", f"/streams/bench-poll/{number}/forward/1",
                                headers={"Accept": ATOM_JSON, "ES-LongPoll": "10"})
            received.append(time.perf_counter())
            connection.close()
            answered.set()

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.02)  # let the poll park
        sent = time.perf_counter()
        append(writer, "bench-poll", bodies)
        answered.wait(15)
        poller.join()
        latencies.append((received[0] - sent) * 1000.0)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each measurement")
    parser.add_argument("--mem", action="store_true", help="in-memory node instead of a durable one")
    parser.add_argument("--poll-rounds", type=int, default=200)
    arguments = parser.parse_args()
    node = NodeProcess(arguments.mem)
    seconds = arguments.seconds
    measurements = [
        ("single-event appends/s, 1 connection", lambda: appends_single(node, seconds)),
        ("events/s appended in batches of 100", lambda: appends_batched(node, seconds)),
        ("single-event appends/s, 8 connections", lambda: appends_concurrent(node, seconds)),
        ("events/s read forward, embed=body, pages of 100", lambda: read_forward(node, seconds, 100)),
        ("events/s read forward, embed=body, pages of 4096",
         lambda: read_forward(node, seconds, 4096))]
    rows: list[tuple[str, float, float]] = []
    try:
        for name, measure in measurements:
            cpu_before, started = node.cpu_seconds(), time.perf_counter()
            rate = measure()
            elapsed = time.perf_counter() - started
            # the node's CPU per item: what the rate would be on an otherwise idle core
            cpu_per_item = (node.cpu_seconds() - cpu_before) / max(rate * elapsed, 1)
            rows.append((name, rate, cpu_per_item * 1e6))
        latencies = long_poll_latencies(node, arguments.poll_rounds)
        rows += [("long-poll latency p50 (ms)", statistics.median(latencies), float("nan")),
                 ("long-poll latency p99 (ms)", percentile(latencies, 0.99), float("nan"))]
    finally:
        node.stop()
    storage = "in memory" if arguments.mem else "durable (temporary directory)"
    print(f"node benchmark, {storage}, {seconds:g} s per measurement")
    width = max(len(name) for name, _, _ in rows)
    print(f"| {'measurement'.ljust(width)} | {'result':>10} | {'node CPU us/item':>16} |")
    print(f"|{'-' * (width + 2)}|{'-' * 12}|{'-' * 18}|")
    for name, value, cpu in rows:
        shown = f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
        cpu_shown = "" if cpu != cpu else f"{cpu:,.1f}"
        print(f"| {name.ljust(width)} | {shown:>10} | {cpu_shown:>16} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
