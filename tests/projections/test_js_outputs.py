"""JavaScript projections: partitions, emitting and linking, results with transforms."""
from __future__ import annotations

import json

from .api import Api, unique, wait_for, wait_state, wait_status


def test_foreach_stream_keeps_a_state_per_stream(api: Api) -> None:
    category, name = unique("acct"), unique()
    api.append(f"{category}-1", {"eventType": "Deposited", "data": {"amount": 5}},
               {"eventType": "Deposited", "data": {"amount": 7}})
    api.append(f"{category}-2", {"eventType": "Deposited", "data": {"amount": 1}})
    query = f"""fromCategory('{category}').foreachStream().when({{
      $init: function () {{ return {{ balance: 0, created: 0 }}; }},
      $created: function (s, e) {{ s.created++; }},
      Deposited: function (s, e) {{ s.balance += e.body.amount; s.partition = e.partition; }}
    }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"balance": 12, "created": 1, "partition": f"{category}-1"}, partition=f"{category}-1")
    wait_state(api, name, {"balance": 1, "created": 1, "partition": f"{category}-2"}, partition=f"{category}-2")
    assert api.state(name, partition="nobody-here") is None


def test_partition_by_groups_by_the_returned_key(api: Api) -> None:
    stream, name = unique("orders") + "-1", unique()
    api.append(stream, *({"eventType": "Sold", "data": {"region": region, "n": n}}
                         for n, region in enumerate(["eu", "us", "eu", None])))
    query = f"""fromStream('{stream}').partitionBy(function (e) {{ return e.body.region; }}).when({{
      $init: function () {{ return {{ sold: 0 }}; }},
      Sold: function (s, e) {{ s.sold++; }}
    }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"sold": 2}, partition="eu")
    wait_state(api, name, {"sold": 1}, partition="us")
    # a null key goes to the root partition
    wait_state(api, name, {"sold": 1})


def test_emit_writes_json_events_with_their_cause(api: Api) -> None:
    source, target, name = unique("src") + "-1", unique("out") + "-1", unique()
    api.append(source, {"eventType": "Ping", "data": {"n": 1}}, {"eventType": "Ping", "data": {"n": 2}})
    query = f"""fromStream('{source}').when({{
      Ping: function (s, e) {{ emit('{target}', 'Pong', {{ n: e.body.n * 10 }}, {{ extra: true }}); }}
    }})"""
    assert api.create(name, query, emit="yes").status == 201
    events = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(api.events(target)), what="emitted events")
    assert [e["eventType"] for e in events] == ["Pong", "Pong"]
    assert [json.loads(e["data"]) for e in events] == [{"n": 10}, {"n": 20}]
    source_ids = [e["eventId"] for e in api.events(source)]
    metadata = [json.loads(e["metaData"]) for e in events]
    assert [m["$causedBy"] for m in metadata] == source_ids
    assert all(m["extra"] is True and "$v" in m for m in metadata)


def test_link_to_and_link_stream_to(api: Api) -> None:
    source, links, refs, name = unique("src") + "-1", unique("lnk"), unique("ref"), unique()
    api.append(source, {"eventType": "Hello", "data": {"h": 1}})
    query = f"""fromStream('{source}').when({{
      Hello: function (s, e) {{ linkTo('{links}', e); linkStreamTo('{refs}', e.streamId); }}
    }})"""
    assert api.create(name, query, emit="true").status == 201
    resolved = wait_for(lambda: api.events(links), what="the link")
    assert resolved[0]["streamId"] == source and json.loads(resolved[0]["data"]) == {"h": 1}
    raw = api.events(links, resolve=False)
    assert raw[0]["eventType"] == "$>"
    reference = wait_for(lambda: api.events(refs), what="the stream reference")
    assert reference[0]["eventType"] == "$@"


def test_emit_without_permission_faults(api: Api) -> None:
    source, name = unique("src") + "-1", unique()
    api.append(source, {"eventType": "Ping"})
    query = f"fromStream('{source}').when({{ Ping: function (s, e) {{ emit('x-1', 'Pong', {{}}); }} }})"
    assert api.create(name, query).status == 201
    status = wait_status(api, name, "Faulted")
    assert "'emit' is not allowed" in status["stateReason"]


def test_results_with_transform_and_filter(api: Api) -> None:
    stream, name = unique("res") + "-1", unique()
    api.append(stream, {"eventType": "Add", "data": {"v": 3}})
    query = f"""fromStream('{stream}').when({{
      $init: function () {{ return {{ total: 0 }}; }},
      Add: function (s, e) {{ s.total += e.body.v; }}
    }}).transformBy(function (s) {{ return {{ doubled: s.total * 2 }}; }})
       .filterBy(function (r) {{ return r.doubled < 100; }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"doubled": 6}, what="result")
    assert api.state(name) == {"total": 3}
    results = wait_for(lambda: api.events(f"$projections-{name}-result"), what="a Result event")
    assert results[0]["eventType"] == "Result" and json.loads(results[0]["data"]) == {"doubled": 6}
    api.append(stream, {"eventType": "Add", "data": {"v": 100}})
    wait_for(lambda: [e["eventType"] for e in api.events(f"$projections-{name}-result")] == ["Result", "ResultRemoved"],
             what="ResultRemoved")
    assert api.state(name, what="result") is None
    status = api.status(name)
    assert status["resultStreamUrl"].endswith(f"/streams/%24projections-{name}-result")


def test_output_state_writes_partition_results_and_links_them(api: Api) -> None:
    category, name = unique("part"), unique()
    api.append(f"{category}-1", {"eventType": "E"})
    query = f"""fromCategory('{category}').foreachStream().when({{
      $init: function () {{ return {{ n: 0 }}; }}, E: function (s, e) {{ s.n++; }}
    }}).outputState()"""
    assert api.create(name, query).status == 201
    partition_results = wait_for(lambda: api.events(f"$projections-{name}-{category}-1-result"),
                                 what="the partition result")
    assert json.loads(partition_results[0]["data"]) == {"n": 1}
    links = wait_for(lambda: api.events(f"$projections-{name}-result"), what="the link to it")
    assert links[0]["streamId"] == f"$projections-{name}-{category}-1-result"


def test_output_to_names_the_result_stream(api: Api) -> None:
    stream, name, result_stream = unique("o") + "-1", unique(), unique("results")
    api.append(stream, {"eventType": "E"})
    query = f"""fromStream('{stream}').when({{
      $init: function () {{ return {{ n: 0 }}; }}, E: function (s, e) {{ s.n++; }}
    }}).outputTo('{result_stream}')"""
    assert api.create(name, query).status == 201
    results = wait_for(lambda: api.events(result_stream), what="results in the named stream")
    assert json.loads(results[0]["data"]) == {"n": 1}


def test_options_result_stream_name(api: Api) -> None:
    stream, name, result_stream = unique("o") + "-1", unique(), unique("named")
    api.append(stream, {"eventType": "E"})
    query = f"""options({{ resultStreamName: '{result_stream}' }});
      fromStream('{stream}').when({{ E: function (s, e) {{ return {{ seen: true }}; }} }}).outputState()"""
    assert api.create(name, query).status == 201
    results = wait_for(lambda: api.events(result_stream), what="results in the named stream")
    assert json.loads(results[0]["data"]) == {"seen": True}


def test_unknown_option_faults(api: Api) -> None:
    name = unique()
    assert api.create(name, "options({ noSuchOption: 1 }); fromAll().when({})").status == 201
    status = wait_status(api, name, "Faulted")
    assert "Unrecognized option: noSuchOption" in status["stateReason"]


def test_bi_state_shares_state_across_partitions(api: Api) -> None:
    category, name = unique("bi"), unique()
    api.append(f"{category}-1", {"eventType": "E"})
    api.append(f"{category}-2", {"eventType": "E"})
    query = f"""fromCategory('{category}').foreachStream().when({{
      $init: function () {{ return {{ mine: 0 }}; }},
      $initShared: function () {{ return {{ all: 0 }}; }},
      E: function (s, e) {{ s[0].mine++; s[1].all++; return s; }}
    }})"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"mine": 1}, partition=f"{category}-2")


def test_deleted_notifications_reach_the_partition(api: Api) -> None:
    category, name = unique("del"), unique()
    stream = f"{category}-1"
    api.append(stream, {"eventType": "E"})
    query = """fromAll().foreachStream().when({
      $init: function () { return { n: 0 }; },
      E: function (s, e) { s.n++; },
      $deleted: function (s, e, partition, soft) { s.deleted = [partition, soft]; }
    })"""
    assert api.create(name, query).status == 201
    wait_state(api, name, {"n": 1}, partition=stream)
    assert api.request("DELETE", f"/streams/{stream}").status == 204
    # the 23.10 runtime passes isSoftDeleted false even for a soft delete
    wait_state(api, name, {"n": 1, "deleted": [stream, False]}, partition=stream)
    assert api.command(name, "disable").status == 200  # it would keep a partition for every stream
