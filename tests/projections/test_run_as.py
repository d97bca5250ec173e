"""A user projection runs with its creator's rights (recorded when it is created, kept with
its definition): it faults instead of reading a source, or writing a stream, its creator may
not; standard projections run as the node."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from clientapi.server import Node

from .api import Api, escaped, unique, wait_for, wait_state, wait_status

PASSWORD = "pw-" + uuid.uuid4().hex[:8]
NOT_AUTHORIZED = "Not authorized"

COUNT = """{selector}.when({{
  $init: function () {{ return {{ n: 0, seen: [] }}; }},
  $any: function (s, e) {{ s.n++; s.seen.push(e.data); return s; }}
}})"""

EMIT_TO = """fromStream('{source}').when({{
  $any: function (s, e) {{ emit('{target}', 'Copied', {{ n: e.sequenceNumber }}); }}
}})"""


def create_user(api: Api, login: str, *groups: str) -> tuple[str, str]:
    reply = api.request("POST", "/users/", {"loginName": login, "fullName": login, "password": PASSWORD,
                                            "groups": list(groups)}, {"Content-Type": "application/json"})
    assert reply.status == 201, reply.text
    return login, PASSWORD


def guard(api: Api, stream: str, role: str) -> None:
    """Only `role` may read or write `stream` (and admins, always)."""
    acl = {"$r": role, "$w": role, "$d": role, "$mr": role, "$mw": role}
    reply = api.request("POST", f"/streams/{escaped('$$' + stream)}",
                        [{"eventId": str(uuid.uuid4()), "eventType": "$metadata", "data": {"$acl": acl}}],
                        {"Content-Type": "application/vnd.eventstore.events+json"})
    assert reply.status == 201, reply.text


def secret_stream(api: Api, role: str) -> tuple[str, str]:
    """A stream only `role` may use, holding one event whose data carries a secret pin."""
    stream, pin = unique("guarded-"), uuid.uuid4().hex
    api.append(stream, {"eventType": "secret", "data": {"pin": pin}})
    guard(api, stream, role)
    return stream, pin


def test_creator_who_may_not_read_the_source_faults_the_projection(api: Api) -> None:
    reader, bob = create_user(api, unique("alice")), create_user(api, unique("bob"))
    stream, pin = secret_stream(api, reader[0])
    for selector in (f"fromStream('{stream}')", "fromAll()"):
        name = unique("peek")
        assert api.create(name, COUNT.format(selector=selector), auth=bob).status == 201
        status = wait_status(api, name, "Faulted")
        assert NOT_AUTHORIZED in status["stateReason"], status
        assert pin not in api.request("GET", f"/projection/{name}/state", auth=bob).text


def test_creator_who_may_read_the_source_sees_it(api: Api) -> None:
    alice = create_user(api, unique("alice"))
    stream, pin = secret_stream(api, alice[0])
    name = unique("own")
    assert api.create(name, COUNT.format(selector=f"fromStream('{stream}')"), auth=alice).status == 201
    wait_state(api, name, {"n": 1, "seen": [{"pin": pin}]})
    assert api.status(name)["status"] == "Running"


def test_emitting_to_a_stream_the_creator_may_not_write_faults(api: Api) -> None:
    alice, bob = create_user(api, unique("alice")), create_user(api, unique("bob"))
    source, target = unique("src-"), unique("target-")
    api.append(target, {"eventType": "first"})
    guard(api, target, alice[0])
    api.append(source, {"eventType": "E"})
    refused, allowed = unique("emit"), unique("emit")
    assert api.create(refused, EMIT_TO.format(source=source, target=target), auth=bob, emit="yes").status == 201
    status = wait_status(api, refused, "Faulted")
    assert "access denied" in status["stateReason"] and target in status["stateReason"], status
    assert [e["eventType"] for e in api.events(target)] == ["first"]
    assert api.create(allowed, EMIT_TO.format(source=source, target=target), auth=alice, emit="yes").status == 201
    wait_for(lambda: [e["eventType"] for e in api.events(target)] == ["first", "Copied"], what="the copy")
    assert api.status(allowed)["status"] == "Running"


def test_run_as_survives_a_restart(tmp_path: Path) -> None:
    """Roles are kept as well: carol reads through her group, before and after the restart."""
    with Node(port=0, db=str(tmp_path), run_projections="all") as node:
        api = Api(node)
        carol, bob = create_user(api, unique("carol"), "readers"), create_user(api, unique("bob"))
        stream, pin = secret_stream(api, "readers")
        allowed, refused = unique("carols"), unique("bobs")
        for name, who in ((allowed, carol), (refused, bob)):
            assert api.create(name, COUNT.format(selector=f"fromStream('{stream}')"), auth=who).status == 201
        wait_state(api, allowed, {"n": 1, "seen": [{"pin": pin}]})
        wait_status(api, refused, "Faulted")
        definition = json.loads(api.events(f"$projections-{allowed}")[-1]["data"])
        assert definition["runAs"]["name"] == carol[0] and "readers" in definition["runAs"]["roles"]
        api.close()
    with Node(port=0, db=str(tmp_path), run_projections="all") as node:
        api = Api(node)
        api.append(stream, {"eventType": "secret", "data": {"pin": "second"}})
        wait_state(api, allowed, {"n": 2, "seen": [{"pin": pin}, {"pin": "second"}]})
        status = wait_status(api, refused, "Faulted")
        assert NOT_AUTHORIZED in status["stateReason"], status
        api.close()
