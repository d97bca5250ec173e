"""Durability: reopen keeps everything; kill -9 loses nothing acknowledged, leaves nothing half-written."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clientapi.server.core.errors import AccessDenied, StreamDeleted, StreamNotFound
from clientapi.server.core.model import ANY

from .helpers import ADMIN, ALICE, BOB, events, metadata_event, numbers, with_core

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_reopen_keeps_events_positions_metadata_deletes_and_users(tmp_path):
    batch = events(2)

    async def write(core):
        await core.append("kept", batch, ANY, BOB)
        await core.append("$$kept", [metadata_event({"$maxCount": 50, "owner": "bob"})], ANY, BOB)
        await core.append("soft", events(3), ANY, BOB)
        await core.delete_stream("soft", ANY, False, BOB)
        await core.append("hard", events(1), ANY, BOB)
        await core.delete_stream("hard", ANY, True, BOB)
        await core.append("$settings", [metadata_event({"$userStreamAcl": {"$r": "staff"}})], ANY, ADMIN)
        await core.create_user("bob", "Bob", ["staff"], "pw")
        await core.delete_user("ops")
        page = await core.read_all(0, 4096, "forward", False, ADMIN)
        return [(e.event.stream_id, e.event.event_number, e.event.position) for e in page.events], \
            core.head_position()

    before, head = with_core(write, path=str(tmp_path))

    async def check(core):
        page = await core.read_all(0, 4096, "forward", False, ADMIN)
        assert [(e.event.stream_id, e.event.event_number, e.event.position) for e in page.events] == before
        assert core.head_position() == head
        assert await numbers(core, "kept") == [0, 1]
        metadata = await core.get_metadata("kept")
        assert metadata.max_count == 50 and metadata.raw["owner"] == "bob"
        with pytest.raises(StreamNotFound):
            await core.read_stream("soft", None, 20, "backward", True, BOB)
        with pytest.raises(StreamDeleted):
            await core.append("hard", events(1), ANY, BOB)
        assert (await core.append("soft", events(1), ANY, BOB)).first_event_number == 3
        assert await core.authenticate("bob", "pw") is not None
        assert await core.authenticate("ops", "changeit") is None  # deleted, not re-created
        with pytest.raises(AccessDenied):  # the $settings written before still apply
            await core.read_event("kept", 0, True, ALICE)
        retry = await core.append("kept", batch, ANY, BOB)  # idempotency survives a restart
        assert retry.first_event_number == 0 and await core.last_event_number("kept") == 1
        new = await core.append("kept", events(1), ANY, BOB)
        assert new.position >= head

    with_core(check, path=str(tmp_path))


_WRITER = textwrap.dedent('''
    import asyncio, json, sys, uuid
    from clientapi.server.core.service import EventStoreCore
    from clientapi.server.core.model import NewEvent, SYSTEM

    async def main(path):
        core = await EventStoreCore.open(path)
        print("ready", flush=True)
        batch = 0
        async def writer(worker):
            nonlocal batch
            while True:
                batch += 1
                size = 1 + batch % 3
                ids = [str(uuid.uuid4()) for _ in range(size)]
                evs = [NewEvent(uuid.UUID(i), "T", json.dumps({"batch": batch, "size": size}).encode(),
                                b"", True) for i in ids]
                stream = "crash-%d" % (batch % 4)
                result = await core.append(stream, evs, -2, SYSTEM)
                print(json.dumps([stream, result.first_event_number, ids]), flush=True)
        await asyncio.gather(*(writer(w) for w in range(4)))

    asyncio.run(main(sys.argv[1]))
''')


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    db = tmp_path / "db"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE,
                               env=env, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(1.5)
        os.kill(process.pid, signal.SIGKILL)
        output = process.stdout.read()
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    acknowledged = [json.loads(line) for line in output.splitlines() if line.endswith("]")]
    assert len(acknowledged) > 50

    async def check(core):
        page_events = []
        position = 0
        while True:
            page = await core.read_all(position, 4096, "forward", False, ADMIN)
            page_events += [e.event for e in page.events if e.event.stream_id.startswith("crash-")]
            if page.is_end_of_stream:
                break
            position = page.next_position
        by_id = {}
        for record in page_events:
            assert str(record.event_id) not in by_id, "an event was written twice"
            by_id[str(record.event_id)] = record
        for stream, first, ids in acknowledged:
            for offset, event_id in enumerate(ids):
                record = by_id[event_id]
                assert (record.stream_id, record.event_number) == (stream, first + offset)
        sizes = {}
        for record in page_events:
            document = json.loads(record.data)
            sizes.setdefault(document["batch"], []).append(document["size"])
        for batch, seen in sizes.items():
            assert len(seen) == seen[0], f"batch {batch} is half-written"
        for stream in {r.stream_id for r in page_events}:
            assert await numbers(core, stream) == list(range(await core.last_event_number(stream) + 1))

    with_core(check, path=str(db))


def test_the_wal_file_is_reused_while_appends_keep_coming(tmp_path):
    """Checkpoints are taken between commits (never inside one, which may run on the
    loop); each must catch up with the whole WAL, or the file would grow without end."""
    wal = tmp_path / "events.db-wal"

    async def write(core):
        sizes = []
        for round_ in range(6):
            for _ in range(500):  # lone single-event appends: the commits made on the loop
                await core.append("s", events(1), ANY, BOB)
            sizes.append(wal.stat().st_size)
        return sizes

    sizes = with_core(write, path=str(tmp_path))
    # 3,000 commits of two or three pages each would be 25 MB or more without a reset
    assert max(sizes) < 8 * 1024 * 1024, sizes
    assert sizes[-1] < 1.5 * sizes[0], sizes
