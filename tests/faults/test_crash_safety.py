"""SIGKILL the node (a process with a database directory) at random moments while
several writers append through the client, restart it each time, and check that it
holds exactly what it acknowledged (see workload.py for the checks)."""
from __future__ import annotations

import os
import random
import threading
import time
import uuid

import pytest

from clientapi import Client

from .workload import ADMIN, Writer, check_all, check_streams

pytestmark = pytest.mark.slow

WRITERS = 4
KILLS = 6


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
    for writer in writers:
        writer.start()
    try:
        for _ in range(KILLS):
            time.sleep(chaos.uniform(0.2, 1.2))
            node.kill()
            time.sleep(chaos.uniform(0.0, 0.3))
            node.start()
        time.sleep(0.5)
    finally:
        stop.set()
        for writer in writers:
            writer.join(60)
    failures = [(w.name, w.log.failure) for w in writers if w.log.failure is not None]
    assert not failures, f"seed {seed}: {failures}\n{node.stderr_text()}"
    with Client("127.0.0.1", node.port, *ADMIN) as client:
        in_streams = check_streams(client, writers)
        in_all = check_all(client, writers, prefix)
    writes = sum(len(w.log.acks) for w in writers)
    retries = sum(w.log.retries for w in writers)
    with capsys.disabled():
        print(f"\n[faults] crash safety (seed {seed}): {node.kills} SIGKILLs survived, {writes} "
              f"acknowledged writes ({retries} retried attempts), {in_streams} events checked "
              f"in their streams, {in_all} in $all")
    assert node.kills >= 5 and writes > 50
