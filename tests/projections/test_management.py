"""The management endpoints: codes, headers and JSON shapes as the real server answers them."""
from __future__ import annotations

from typing import Iterator

import pytest

from clientapi.server import Node

from .api import Api, unique, wait_for, wait_state, wait_status

COUNT = "fromStream('{stream}').when({{ $init: function () {{ return {{ n: 0 }}; }}, $any: function (s, e) {{ s.n++; }} }})"
STATS_KEYS = ["coreProcessingTime", "version", "epoch", "effectiveName", "writesInProgress", "readsInProgress",
              "partitionsCached", "status", "stateReason", "name", "mode", "position", "progress",
              "eventsProcessedAfterRestart", "statusUrl", "stateUrl", "resultUrl", "queryUrl", "enableCommandUrl",
              "disableCommandUrl", "checkpointStatus", "bufferedEvents", "writePendingEventsBeforeCheckpoint",
              "writePendingEventsAfterCheckpoint"]


def counted(api: Api, mode: str = "continuous", **params: str) -> tuple[str, str]:
    stream, name = unique("m") + "-1", unique()
    api.append(stream, {"eventType": "E"})
    reply = api.create(name, COUNT.format(stream=stream), mode=mode, **params)
    assert reply.status == 201, reply.text
    return name, stream


def test_create_answers_201_with_location_and_name(api: Api) -> None:
    name = unique()
    reply = api.create(name, "fromAll().when({})")
    assert reply.status == 201
    assert reply.headers["Location"] == f"http://127.0.0.1:{api.node.port}/projection/{name}"
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.json()["name"] == name
    assert reply.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"


def test_create_duplicate_is_409(api: Api) -> None:
    name = unique()
    assert api.create(name, "fromAll()").status == 201
    reply = api.create(name, "fromAll()")
    assert (reply.status, reply.reason) == (409, "Conflict")


def test_create_continuous_without_name_is_500(api: Api) -> None:
    reply = api.request("POST", "/projections/continuous?type=js", "fromAll()", {"Content-Type": "text/plain"})
    assert reply.status == 500
    assert reply.text == "Projection name is required"


def test_create_one_time_without_name_gets_a_generated_one(api: Api) -> None:
    reply = api.request("POST", "/projections/onetime?type=js", "fromAll()", {"Content-Type": "text/plain"})
    assert reply.status == 201
    generated = reply.json()["name"]
    assert len(generated) == 36 and api.status(generated)["mode"] == "OneTime"


def test_create_without_content_type_is_415(api: Api) -> None:
    reply = api.request("POST", f"/projections/continuous?name={unique()}", "fromAll()")
    assert reply.status == 415


def test_create_needs_credentials(api: Api) -> None:
    reply = api.request("POST", f"/projections/continuous?name={unique()}", "fromAll()",
                        {"Content-Type": "text/plain"}, auth=None)
    assert reply.status == 401


def test_status_document_has_the_real_fields(api: Api) -> None:
    name, _ = counted(api)
    wait_state(api, name, {"n": 1})
    status = api.status(name)
    for key in STATS_KEYS:
        assert key in status, key
    assert status["name"] == status["effectiveName"] == name
    assert status["mode"] == "Continuous" and status["status"] == "Running"
    assert status["queryUrl"].endswith(f"/projection/{name}/query%3Fconfig=yes")
    assert status["eventsProcessedAfterRestart"] == 1
    assert status["progress"] == 100.0


def test_unknown_projection_is_404(api: Api) -> None:
    for path in ("", "/state", "/query", "/config", "/statistics"):
        assert api.request("GET", f"/projection/{unique()}{path}").status == 404, path
    assert api.request("POST", f"/projection/{unique()}/command/enable", b"").status == 404


def test_lists_filter_by_mode(api: Api) -> None:
    continuous, _ = counted(api)
    one_time, _ = counted(api, mode="onetime")
    transient, _ = counted(api, mode="transient")

    def names(kind: str) -> set:
        reply = api.request("GET", f"/projections/{kind}")
        assert reply.status == 200
        return {p["name"] for p in reply.json()["projections"]}
    assert {continuous, one_time, transient} <= names("any")
    assert continuous in names("continuous") and one_time not in names("continuous")
    assert one_time in names("onetime") and continuous not in names("onetime")
    assert transient in names("transient") and transient not in names("all-non-transient")
    assert {continuous, one_time} <= names("all-non-transient")


def test_statistics_wraps_the_status(api: Api) -> None:
    name, _ = counted(api)
    reply = api.request("GET", f"/projection/{name}/statistics")
    assert reply.status == 200
    assert [p["name"] for p in reply.json()["projections"]] == [name]


def test_query_get_put_and_config_view(api: Api) -> None:
    name, stream = counted(api)
    reply = api.request("GET", f"/projection/{name}/query")
    assert reply.status == 200 and reply.text == COUNT.format(stream=stream)
    config = api.request("GET", f"/projection/{name}/query?config=yes").json()
    assert config["name"] == name and config["type"] == "Continuous" and config["checkpointsEnabled"] is True
    assert config["definition"]["streams"] == [stream]
    assert "emitEnabled" not in config  # false values are left out
    new_query = COUNT.format(stream=stream).replace("s.n++", "s.n += 10")
    reply = api.request("PUT", f"/projection/{name}/query?emit=yes", new_query, {"Content-Type": "text/plain"})
    assert reply.status == 200 and reply.json()["name"] == name
    assert api.request("GET", f"/projection/{name}/query").text == new_query
    assert api.request("GET", f"/projection/{name}/query?config=yes").json()["emitEnabled"] is True


def test_config_get_and_put(api: Api) -> None:
    name, _ = counted(api)
    reply = api.request("GET", f"/projection/{name}/config")
    assert reply.status == 200
    assert reply.json() == {"checkpointHandledThreshold": 4000, "checkpointUnhandledBytesThreshold": 10000000,
                            "pendingEventsThreshold": 5000, "maxWriteBatchLength": 500}
    document = {"emitEnabled": True, "checkpointHandledThreshold": 10, "maxWriteBatchLength": 50,
                "projectionExecutionTimeout": 500}
    reply = api.request("PUT", f"/projection/{name}/config", document, {"Content-Type": "application/json"})
    assert reply.status == 200
    assert api.request("GET", f"/projection/{name}/config").json() == document
    bad = api.request("PUT", f"/projection/{name}/config", "{not json", {"Content-Type": "application/json"})
    assert bad.status == 400
    negative = api.request("PUT", f"/projection/{name}/config", {"projectionExecutionTimeout": 0},
                           {"Content-Type": "application/json"})
    assert negative.status == 400


def test_config_needs_ops_or_admin(api: Api) -> None:
    name, _ = counted(api)
    assert api.request("GET", f"/projection/{name}/config", auth=None).status == 401


def test_disable_enable_and_status_text(api: Api) -> None:
    name, stream = counted(api)
    wait_state(api, name, {"n": 1})
    reply = api.command(name, "disable")
    assert reply.status == 200 and reply.json()["name"] == name
    assert api.status(name)["status"].startswith("Stopped")
    assert api.state(name) is None  # not running: empty body
    api.append(stream, {"eventType": "E"})
    assert api.command(name, "enable").status == 200
    wait_state(api, name, {"n": 2})  # resumed from its checkpoint, saw only the new event


def test_reset_reprocesses_from_the_start(api: Api) -> None:
    name, stream = counted(api)
    api.append(stream, {"eventType": "E"})
    wait_state(api, name, {"n": 2})
    epoch = api.status(name)["epoch"]
    assert api.command(name, "reset").status == 200
    wait_state(api, name, {"n": 2})
    assert api.status(name)["epoch"] > epoch


def test_abort_stops_without_checkpoint(api: Api) -> None:
    name, _ = counted(api)
    wait_state(api, name, {"n": 1})
    assert api.command(name, "abort").status == 200
    assert api.status(name)["status"].startswith("Stopped")


def test_delete_running_projection_is_refused(api: Api) -> None:
    name, _ = counted(api)
    reply = api.request("DELETE", f"/projection/{name}")
    assert reply.status == 500
    assert reply.text == "Cannot delete a projection that hasn't been stopped or faulted."


def test_delete_with_stream_deletions(api: Api) -> None:
    source, target, name = unique("src") + "-1", unique("emitted") + "-1", unique()
    api.append(source, {"eventType": "E"})
    query = f"fromStream('{source}').when({{ E: function (s, e) {{ emit('{target}', 'Out', {{}}); }} }})"
    assert api.create(name, query, emit="yes", trackemittedstreams="yes").status == 201
    wait_for(lambda: api.events(target), what="the emitted event")
    wait_for(lambda: api.events(f"$projections-{name}-checkpoint"), what="a checkpoint")
    assert api.command(name, "disable").status == 200
    reply = api.request("DELETE", f"/projection/{name}?deleteCheckpointStream=yes&deleteEmittedStreams=true"
                                  "&deleteStateStream=yes")
    assert reply.status == 200 and reply.json()["name"] == name
    assert api.request("GET", f"/projection/{name}").status == 404
    assert api.events(target) == []
    assert api.events(f"$projections-{name}-checkpoint") == []
    # the name is free again
    assert api.create(name, "fromAll()").status == 201


def test_system_projection_cannot_be_deleted(api: Api) -> None:
    assert api.command("$streams", "disable").status == 200
    try:
        reply = api.request("DELETE", "/projection/%24streams")
        assert reply.status == 500
    finally:
        assert api.command("$streams", "enable").status == 200
    wait_status(api, "$streams", "Running")


def test_state_carries_es_position(api: Api) -> None:
    name, _ = counted(api)
    wait_state(api, name, {"n": 1})
    reply = api.request("GET", f"/projection/{name}/state")
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert '"$v"' in reply.headers["ES-Position"]


@pytest.fixture(scope="module")
def node_without_projections() -> Iterator[Node]:
    with Node(port=0) as node:
        yield node


def test_no_projection_routes_without_the_subsystem(node_without_projections: Node) -> None:
    api = Api(node_without_projections)
    try:
        assert api.request("GET", "/projections/any").status == 404
        assert api.request("GET", "/projection/%24by_category").status == 404
    finally:
        api.close()


# A stopped standard projection as a real node lists it (recorded from EventStore 3.9.4).
RECORDED_STOPPED_SYSTEM_PROJECTION = {
    "coreProcessingTime": 0, "version": 0, "epoch": -1, "effectiveName": "$by_category", "writesInProgress": 0,
    "readsInProgress": 0, "partitionsCached": 1, "status": "Stopped", "stateReason": "", "name": "$by_category",
    "mode": "Continuous", "position": "C:0/P:-1", "progress": -1.0, "lastCheckpoint": "C:0/P:-1",
    "eventsProcessedAfterRestart": 0, "statusUrl": "{base}/projection/$by_category",
    "stateUrl": "{base}/projection/$by_category/state", "resultUrl": "{base}/projection/$by_category/result",
    "queryUrl": "{base}/projection/$by_category/query%3Fconfig=yes",
    "enableCommandUrl": "{base}/projection/$by_category/command/enable",
    "disableCommandUrl": "{base}/projection/$by_category/command/disable", "checkpointStatus": "",
    "bufferedEvents": 0, "writePendingEventsBeforeCheckpoint": 0, "writePendingEventsAfterCheckpoint": 0,
}


def test_system_mode_runs_only_standard_projections() -> None:
    with Node(port=0, run_projections="system") as node:
        api = Api(node)
        try:
            documents = api.request("GET", "/projections/any").json()["projections"]
            listed = {p["name"]: p["status"] for p in documents}
            assert list(listed)[:4] == ["$streams", "$stream_by_category", "$by_category", "$by_event_type"]
            by_category = next(p for p in documents if p["name"] == "$by_category")
            expected = {key: value.replace("{base}", node.url) if isinstance(value, str) else value
                        for key, value in RECORDED_STOPPED_SYSTEM_PROJECTION.items()}
            assert list(by_category.items()) == list(expected.items())  # same fields, values and order
            assert api.command("$by_category", "enable").status == 200
            wait_status(api, "$by_category", "Running")
            name = unique()
            assert api.create(name, "fromAll().when({})").status == 201
            assert api.status(name)["status"].startswith("Stopped")
        finally:
            api.close()


def test_anonymous_callers_are_refused(api: Api) -> None:
    for method, path in (("GET", "/projections/any"), ("GET", "/projection/%24by_category"),
                         ("GET", "/projection/%24by_category/state")):
        reply = api.request(method, path, auth=None)
        assert reply.status == 401, path
        assert "WWW-Authenticate" in reply.headers


def test_only_ops_and_admins_manage_system_projections(api: Api) -> None:
    user = unique("user")
    created = api.request("POST", "/users/", {"loginName": user, "fullName": "U", "password": "pw", "groups": []},
                          {"Content-Type": "application/json"})
    assert created.status == 201
    assert api.request("POST", "/projection/%24streams/command/disable", b"", auth=(user, "pw")).status == 401
    assert api.request("GET", "/projection/%24streams", auth=(user, "pw")).status == 200
    assert api.create(unique(), "fromAll()", auth=(user, "pw")).status == 201


def test_a_recreated_projection_does_not_inherit_old_checkpoints(api: Api) -> None:
    name, stream = counted(api)
    api.append(stream, {"eventType": "E"})
    wait_state(api, name, {"n": 2})
    assert api.command(name, "disable").status == 200  # writes a checkpoint at n = 2
    assert api.request("DELETE", f"/projection/{name}").status == 200
    assert api.create(name, COUNT.format(stream=stream).replace("s.n++", "s.n += 100")).status == 201
    wait_state(api, name, {"n": 200})  # both events handled again by the new query
