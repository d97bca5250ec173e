"""`python -m clientapi.server`: run the node until SIGINT/SIGTERM.

    python -m clientapi.server [--host 127.0.0.1] [--port 2113] [--db DIR | --mem]
        [--run-projections none|system|all] [--start-standard-projections] [--insecure]
        [--tls | --tls-cert FILE --tls-key FILE] [--log-level LEVEL]
        [--follower-of URL] [--cluster-view FILE]     (test aid: see server/follower.py)

Without --db the node keeps everything in memory (as with --mem). Prints one line with
its URL once it accepts connections.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tempfile
from typing import Any, Optional, Sequence

from .node import Node


def parse_arguments(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m clientapi.server",
                                     description="An EventStore-compatible node (HTTP API).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=2113, help="port to listen on (0: any free)")
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument("--db", metavar="DIR", help="durable storage in this directory")
    storage.add_argument("--mem", action="store_true", help="keep everything in memory")
    parser.add_argument("--run-projections", choices=("none", "system", "all"), default="none")
    parser.add_argument("--start-standard-projections", action="store_true")
    parser.add_argument("--insecure", action="store_true", help="turn authorization off")
    parser.add_argument("--tls", action="store_true",
                        help="serve https with a self-signed test certificate made at start")
    parser.add_argument("--tls-cert", "--cert", metavar="FILE", help="serve https with this certificate (PEM)")
    parser.add_argument("--tls-key", "--key", metavar="FILE", help="the certificate's private key (PEM)")
    pretend = parser.add_argument_group(
        "test aid", "play one member of a pretend cluster, only to test clients' cluster logic: "
                    "no replication, no elections (see clientapi/server/follower.py)")
    pretend.add_argument("--follower-of", metavar="URL",
                         help="answer requests that require the leader with 307 to this leader")
    pretend.add_argument("--cluster-view", metavar="FILE",
                         help="serve this gossip document on /gossip and take this node's role "
                              "from it (re-read when it changes)")
    parser.add_argument("--log-level", default="WARNING",
                        type=lambda value: value.upper(),
                        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    return parser.parse_args(argv)


async def serve(arguments: argparse.Namespace) -> None:
    if arguments.tls and not arguments.tls_cert:
        arguments.tls_cert, arguments.tls_key = self_signed_certificate()
    node = Node(host=arguments.host, port=arguments.port, db=None if arguments.mem else arguments.db,
                insecure=arguments.insecure, run_projections=arguments.run_projections,
                start_standard_projections=arguments.start_standard_projections,
                tls_cert=arguments.tls_cert, tls_key=arguments.tls_key,
                cluster_role=cluster_role(arguments))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await node.start_async()
    storage = f"database in {node.db}" if node.db else "in memory"
    print(f"clientapi node listening on {node.url} ({storage})", flush=True)
    waits = [asyncio.ensure_future(stop.wait()),
             asyncio.ensure_future(node.wait_for_shutdown_request())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await node.stop_async()


def cluster_role(arguments: argparse.Namespace) -> Optional[Any]:
    """The test aid of server/follower.py, when asked for."""
    if not (arguments.follower_of or arguments.cluster_view):
        return None
    from .follower import ClusterRole
    return ClusterRole(leader_url=arguments.follower_of, view_file=arguments.cluster_view)


def self_signed_certificate() -> tuple[str, str]:
    """A fresh self-signed certificate for --tls; its path goes to stderr so clients can trust it."""
    from .tls import make_self_signed_certificate
    directory = tempfile.mkdtemp(prefix="clientapi-node-tls-")
    pair = make_self_signed_certificate(directory)
    print(f"self-signed test certificate: {pair.cert_file}", file=sys.stderr, flush=True)
    return pair.cert_file, pair.key_file


def main(argv: Optional[Sequence[str]] = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=arguments.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (arguments.tls_cert is None) != (arguments.tls_key is None):
        print("--tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(arguments))
    except OSError as error:
        print(f"cannot start the node: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
