"""A projection that throws, loops forever or cannot compile becomes Faulted with a reason;
the node goes on serving everything else."""
from __future__ import annotations

import time

from .api import Api, unique, wait_state, wait_status


def test_throwing_handler_faults_with_the_error_text(api: Api) -> None:
    stream, name = unique("boom") + "-1", unique()
    api.append(stream, {"eventType": "Ok"}, {"eventType": "Bad"})
    query = f"""fromStream('{stream}').when({{
      Ok: function (s, e) {{ return {{ ok: true }}; }},
      Bad: function (s, e) {{ throw new Error('bad event ' + e.sequenceNumber); }}
    }})"""
    assert api.create(name, query).status == 201
    status = wait_status(api, name, "Faulted")
    assert "bad event 1" in status["stateReason"]
    # a faulted projection shows no state, as the real server does when it is not running
    assert api.state(name) is None


def test_infinite_loop_faults_and_the_node_keeps_serving(api: Api) -> None:
    stream, name = unique("loop") + "-1", unique()
    api.append(stream, {"eventType": "Spin"})
    query = f"fromStream('{stream}').when({{ Spin: function (s, e) {{ while (true) {{}} }} }})"
    started = time.monotonic()
    assert api.create(name, query).status == 201
    # while V8 spins, the node answers at once
    other = unique("alive") + "-1"
    api.append(other, {"eventType": "StillHere"})
    assert api.request("GET", "/projections/any").status == 200
    status = wait_status(api, name, "Faulted")
    assert status["stateReason"].startswith("Projection script took too long to execute (took: 00:00:00.")
    assert "allowed: 00:00:00.2500000" in status["stateReason"]
    assert time.monotonic() - started < 5


def test_infinite_loop_at_the_top_level_faults(api: Api) -> None:
    name = unique()
    assert api.create(name, "while (true) {}").status == 201
    assert "took too long to compile" in wait_status(api, name, "Faulted")["stateReason"]


def test_syntax_error_faults(api: Api) -> None:
    name = unique()
    assert api.create(name, "fromAll().when({").status == 201
    assert "SyntaxError" in wait_status(api, name, "Faulted")["stateReason"]


def test_projections_cannot_reach_files_or_network(api: Api) -> None:
    stream, name = unique("sandbox") + "-1", unique()
    api.append(stream, {"eventType": "Probe"})
    query = f"""fromStream('{stream}').when({{ Probe: function (s, e) {{
      return {{ require: typeof require, fetch: typeof fetch, process: typeof process,
               xhr: typeof XMLHttpRequest, importScripts: typeof importScripts,
               setTimeout: typeof setTimeout }};
    }} }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"require": "undefined", "fetch": "undefined", "process": "undefined",
                           "xhr": "undefined", "importScripts": "undefined", "setTimeout": "undefined"})


def test_memory_exhaustion_faults(api: Api) -> None:
    stream, name = unique("oom") + "-1", unique()
    api.append(stream, {"eventType": "Grow"})
    query = f"""fromStream('{stream}').when({{ Grow: function (s, e) {{
      var all = []; while (true) {{ all.push(new Array(1000000).fill(1)); }}
    }} }})"""
    assert api.create(name, query, enabled="true").status == 201
    status = wait_status(api, name, "Faulted", timeout=20)
    assert status["stateReason"]


def test_faulted_projection_recovers_after_its_query_is_fixed(api: Api) -> None:
    stream, name = unique("fix") + "-1", unique()
    api.append(stream, {"eventType": "E"})
    assert api.create(name, f"fromStream('{stream}').when({{ E: function () {{ throw 'nope'; }} }})").status == 201
    assert wait_status(api, name, "Faulted")["stateReason"] == "nope"
    fixed = f"fromStream('{stream}').when({{ E: function (s) {{ return {{ fixed: true }}; }} }})"
    reply = api.request("PUT", f"/projection/{name}/query", fixed, {"Content-Type": "application/javascript"})
    assert reply.status == 200
    wait_state(api, name, {"fixed": True})
    assert api.status(name)["stateReason"] == ""
