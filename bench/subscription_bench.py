"""Catch-up subscription benchmark: throughput against a plain read, and live latency.

    python bench/subscription_bench.py [--events 20000] [--live 500] [--rounds 3]

Starts a node in a process of its own (in memory, on a free port) so that the node and
the client do not share one interpreter, then measures in the same run:
- catch-up: events/s handed to a subscription's callback reading a stream of 20,000
  events from the beginning, against the client's plain `read_stream_events_forward`
  of the same stream (target: at least 80% of the plain read);
- live: from the start of an append to the subscription's callback for that event,
  one event at a time, p50/p99 over 500 events (target: p99 at most 25 ms).
Plain reads and subscriptions take turns, `--rounds` times; each figure is the best of
its rounds.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Callable, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from clientapi import Client, WriteEvent  # noqa: E402

BATCH = 500


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_node(port: int) -> subprocess.Popen:
    environment = dict(os.environ, PYTHONPATH=ROOT)
    process = subprocess.Popen([sys.executable, "-m", "clientapi.server", "--port", str(port), "--mem"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=environment)
    if "listening" not in process.stdout.readline():
        process.kill()
        raise SystemExit("the node did not start")
    return process


def events(count: int, first: int = 0) -> List[WriteEvent]:
    return [WriteEvent({"i": i, "text": "some payload of a typical size"}, is_json=True,
                       event_type="benchmarked") for i in range(first, first + count)]


def rate(count: int, run: Callable[[], int]) -> float:
    began = time.perf_counter()
    got = run()
    elapsed = time.perf_counter() - began
    assert got == count, "expected {} events, got {}".format(count, got)
    return count / elapsed


def catch_up_once(client: Client, stream: str, count: int) -> int:
    handed_over = [0]

    def on_event(event) -> None:
        handed_over[0] += 1
        if handed_over[0] == count:
            client.resume()

    subscription = client.subscribe(stream, on_event, start_from_beginning=True)
    client.wait(timeout=120)
    subscription.stop()
    return handed_over[0]


def live_latencies(client: Client, stream: str, count: int) -> List[float]:
    latencies: List[float] = []
    sent_at: List[float] = []
    appends: list = []

    def send() -> None:
        sent_at.append(time.perf_counter())
        appends.append(client.append_to_stream_async(stream, events(1, len(sent_at) - 1)))

    def on_event(event) -> None:
        latencies.append(time.perf_counter() - sent_at[event.data["i"]])
        if len(latencies) == count:
            client.resume()
        else:
            send()

    subscription = client.subscribe(stream, on_event, on_live=send)
    client.wait(timeout=120)
    subscription.stop()
    # the long poll may answer before the append itself does
    appends[-1].add_done_callback(lambda _: client.resume())
    client.wait(timeout=30)
    return latencies


def percentile(values: List[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--live", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    port = free_port()
    node = start_node(port)
    client = Client("127.0.0.1", port, username="admin", password="changeit")
    try:
        stream = "bench-catch-up"
        for first in range(0, options.events, BATCH):
            client.append_to_stream(stream, events(min(BATCH, options.events - first), first))

        plain_rates, subscription_rates = [], []
        for _ in range(options.rounds):
            plain_rates.append(rate(options.events, lambda: len(
                client.read_stream_events_forward(stream, 0, options.events))))
            subscription_rates.append(rate(options.events, lambda: catch_up_once(
                client, stream, options.events)))
        plain, subscribed = max(plain_rates), max(subscription_rates)
        latencies = live_latencies(client, "bench-live", options.live)
    finally:
        client.close()
        node.terminate()
        node.wait()

    ms = [1000 * value for value in latencies]
    print("| measure | result | target |")
    print("|---|---|---|")
    print("| plain read_stream_events_forward, {:,} events | {:,.0f} events/s | (baseline) |".format(
        options.events, plain))
    print("| catch-up subscription, same stream | {:,.0f} events/s ({:.0%} of plain) | >= 80% |".format(
        subscribed, subscribed / plain))
    print("| live append -> callback, p50 over {} | {:.2f} ms | |".format(len(ms), statistics.median(ms)))
    print("| live append -> callback, p99 over {} | {:.2f} ms | <= 25 ms |".format(
        len(ms), percentile(ms, 0.99)))
    print("| live append -> callback, max | {:.2f} ms | |".format(max(ms)))
    print("(HTTP engine: {})".format(client.http_engine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
