"""JavaScript projections: the source selectors and which events reach which handler."""
from __future__ import annotations

from .api import Api, unique, wait_for, wait_state, wait_status

COUNT_BY_TYPE = """
{selector}.when({{
  $init: function () {{ return {{ count: 0, types: [] }}; }},
  $any: function (s, e) {{ s.count++; s.types.push(e.eventType); }}
}})
"""


def counting(selector: str) -> str:
    return COUNT_BY_TYPE.format(selector=selector)


def test_from_stream_sees_only_that_stream(api: Api) -> None:
    stream, other, name = unique("s") + "-1", unique("s") + "-1", unique()
    api.append(stream, {"eventType": "A"}, {"eventType": "B"})
    api.append(other, {"eventType": "C"})
    assert api.create(name, counting(f"fromStream('{stream}')")).status == 201
    wait_state(api, name, {"count": 2, "types": ["A", "B"]})
    api.append(stream, {"eventType": "D"})
    wait_state(api, name, {"count": 3, "types": ["A", "B", "D"]})


def test_from_streams_merges_in_log_order(api: Api) -> None:
    a, b, name = unique("a") + "-1", unique("b") + "-1", unique()
    api.append(a, {"eventType": "A1"})
    api.append(b, {"eventType": "B1"})
    api.append(a, {"eventType": "A2"})
    assert api.create(name, counting(f"fromStreams(['{a}', '{b}'])")).status == 201
    wait_state(api, name, {"count": 3, "types": ["A1", "B1", "A2"]})


def test_from_category_reads_the_category_through_its_links(api: Api) -> None:
    category, name = unique("cat"), unique()
    api.append(f"{category}-1", {"eventType": "X"})
    api.append(f"{category}-2", {"eventType": "Y"})
    api.append(unique("elsewhere") + "-1", {"eventType": "Z"})
    query = f"""fromCategory('{category}').when({{
      $init: function () {{ return []; }},
      $any: function (s, e) {{ s.push([e.streamId, e.sequenceNumber, e.eventType, e.category,
                                      e.linkMetadata !== null]); }}
    }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, [[f"{category}-1", 0, "X", category, True], [f"{category}-2", 0, "Y", category, True]])


def test_from_categories_reads_several(api: Api) -> None:
    first, second, name = unique("c"), unique("c"), unique()
    api.append(f"{first}-1", {"eventType": "A"})
    api.append(f"{second}-1", {"eventType": "B"})
    assert api.create(name, counting(f"fromCategories('{first}', '{second}')")).status == 201
    wait_state(api, name, {"count": 2, "types": ["A", "B"]})


def test_from_all_skips_system_streams(api: Api) -> None:
    marker, name = unique("Marker"), unique()
    query = f"""fromAll().when({{
      $init: function () {{ return {{ mine: 0, system: 0 }}; }},
      $any: function (s, e) {{
        if (e.streamId.indexOf('$') === 0 && e.streamId.indexOf('$$') !== 0) s.system++;
        if (e.eventType === '{marker}') s.mine++;
      }}
    }})"""
    assert api.create(name, query).status == 201
    api.append(unique("m") + "-1", {"eventType": marker}, {"eventType": marker})
    wait_for(lambda: (api.state(name) or {}).get("mine") == 2, what="the marker events")
    assert api.state(name)["system"] == 0


def test_type_handler_runs_instead_of_any(api: Api) -> None:
    stream, name = unique("t") + "-1", unique()
    api.append(stream, {"eventType": "Special"}, {"eventType": "Plain"}, {"eventType": "Special"})
    query = f"""fromStream('{stream}').when({{
      $init: function () {{ return {{ special: 0, any: 0 }}; }},
      Special: function (s, e) {{ s.special++; }},
      $any: function (s, e) {{ s.any++; }}
    }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"special": 2, "any": 1})


def test_only_handled_types_are_delivered_without_any(api: Api) -> None:
    stream, name = unique("t") + "-1", unique()
    api.append(stream, {"eventType": "Wanted"}, {"eventType": "Ignored"}, {"eventType": "Wanted"})
    query = f"""fromStream('{stream}').when({{
      $init: function () {{ return {{ n: 0 }}; }},
      Wanted: function (s, e) {{ s.n++; return s; }}
    }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"n": 2})


def test_event_object_fields(api: Api) -> None:
    stream, name = unique("f") + "-1", unique()
    event_id = "8b9f0a34-56b2-4a4f-9d63-2b1e0c9f0d11"
    api.append(stream, {"eventId": event_id, "eventType": "Typed", "data": {"a": [1, 2]},
                        "metadata": {"m": "yes"}})
    query = f"""fromStream('{stream}').when({{
      Typed: function (s, e) {{
        return {{ streamId: e.streamId, sequenceNumber: e.sequenceNumber, eventType: e.eventType,
                 body: e.body, same: e.body === e.data, bodyRaw: JSON.parse(e.bodyRaw), isJson: e.isJson,
                 metadata: e.metadata, metadataRaw: typeof e.metadataRaw, eventId: e.eventId,
                 partition: e.partition, linkMetadata: e.linkMetadata }};
      }}
    }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"streamId": stream, "sequenceNumber": 0, "eventType": "Typed", "body": {"a": [1, 2]},
                           "same": True, "bodyRaw": {"a": [1, 2]}, "isJson": True, "metadata": {"m": "yes"},
                           "metadataRaw": "string", "eventId": event_id, "partition": "", "linkMetadata": None})


def test_non_json_events_have_raw_bodies_only(api: Api) -> None:
    stream, name = unique("raw") + "-1", unique()
    reply = api.request("POST", f"/streams/{stream}", b"plain text",
                        {"Content-Type": "application/octet-stream", "ES-EventType": "Blob",
                         "ES-EventId": "2b0c7a55-9d6e-4f0e-8b8a-1f2e3d4c5b6a"})
    assert reply.status == 201
    query = f"""fromStream('{stream}').when({{
      Blob: function (s, e) {{ return {{ raw: e.bodyRaw, body: e.body === undefined, isJson: e.isJson }}; }}
    }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"raw": "plain text", "body": True, "isJson": False})


def test_bare_selector_keeps_the_last_raw_body(api: Api) -> None:
    stream, name = unique("bare") + "-1", unique()
    api.append(stream, {"eventType": "A", "data": {"v": 1}}, {"eventType": "B", "data": {"v": 2}})
    assert api.create(name, f"fromStream('{stream}')").status == 201
    wait_state(api, name, {"v": 2})
    reply = api.request("POST", f"/streams/{stream}", b"not json",
                        {"Content-Type": "application/octet-stream", "ES-EventType": "Blob",
                         "ES-EventId": "5d7c1e2a-3b4f-4a6e-9c8d-7e6f5a4b3c2d"})
    assert reply.status == 201
    # a string state is served verbatim (the real server does not quote it)
    wait_for(lambda: api.request("GET", f"/projection/{name}/state").body == b"not json", what="raw state")


def test_filter_must_return_true_and_created_results_are_ignored(api: Api) -> None:
    category, name = unique("flt"), unique()
    api.append(f"{category}-1", {"eventType": "E"})
    query = f"""fromCategory('{category}').foreachStream().when({{
      $init: function () {{ return {{ n: 0 }}; }},
      $created: function (s, e) {{ s.created = true; return {{ replaced: true }}; }},
      E: function (s, e) {{ s.n++; }}
    }}).filterBy(function (s) {{ return 1; }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"n": 1, "created": True}, partition=f"{category}-1")
    # filterBy returned 1, not true: no result
    assert api.state(name, partition=f"{category}-1", what="result") is None


def test_on_event_and_on_any_register_handlers(api: Api) -> None:
    stream, name = unique("on") + "-1", unique()
    api.append(stream, {"eventType": "A"}, {"eventType": "B"})
    query = f"""fromStream('{stream}');
      on_event('A', function (s, e) {{ s.a = (s.a || 0) + 1; return s; }});
      on_any(function (s, e) {{ s.other = (s.other || 0) + 1; return s; }});"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"a": 1, "other": 1})


def test_one_time_projection_completes(api: Api) -> None:
    stream, name = unique("once") + "-1", unique()
    api.append(stream, {"eventType": "A"}, {"eventType": "A"})
    assert api.create(name, counting(f"fromStream('{stream}')"), mode="onetime").status == 201
    wait_status(api, name, "Completed")
    assert api.state(name) == {"count": 2, "types": ["A", "A"]}
    api.append(stream, {"eventType": "A"})
    assert api.status(name)["status"].startswith("Completed")
    assert api.state(name)["count"] == 2


def test_transient_projection_runs_and_is_not_persisted(api: Api) -> None:
    stream, name = unique("tr") + "-1", unique()
    api.append(stream, {"eventType": "A"})
    assert api.create(name, counting(f"fromStream('{stream}')"), mode="transient").status == 201
    wait_state(api, name, {"count": 1, "types": ["A"]})
    assert api.request("GET", f"/streams/$projections-{name}").status == 404
    names = [p["name"] for p in api.request("GET", "/projections/transient").json()["projections"]]
    assert name in names
    non_transient = api.request("GET", "/projections/all-non-transient").json()["projections"]
    assert name not in [p["name"] for p in non_transient]
