"""The standard projections: links in `$ce-`, `$et-`, `$bc-` and `$streams`, stream
references in `$category-`, and links that read back resolved like the real server's."""
from __future__ import annotations

import json
import re

from .api import Api, unique, wait_for

STANDARD = ["$streams", "$stream_by_category", "$by_category", "$by_event_type", "$by_correlation_id"]


def test_standard_projections_are_listed_running(api: Api) -> None:
    reply = api.request("GET", "/projections/any")
    assert reply.status == 200
    by_name = {p["name"]: p for p in reply.json()["projections"]}
    for name in STANDARD:
        assert by_name[name]["mode"] == "Continuous"
        assert by_name[name]["status"] == "Running"
        assert by_name[name]["statusUrl"].endswith(f"/projection/{name}")


def test_by_category_links_resolve_to_the_original_events(api: Api) -> None:
    category = unique("order")
    api.append(f"{category}-1", {"eventType": "OrderPlaced", "data": {"o": 1}})
    api.append(f"{category}-2", {"eventType": "OrderPlaced", "data": {"o": 2}})
    entries = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(api.events(f"$ce-{category}")),
                       what="two links in $ce-")
    assert [e["streamId"] for e in entries] == [f"{category}-1", f"{category}-2"]
    assert [json.loads(e["data"]) for e in entries] == [{"o": 1}, {"o": 2}]
    assert all(e["summary"] == "$>" and e["positionStreamId"] == f"$ce-{category}" for e in entries)
    link_metadata = json.loads(entries[0]["linkMetaData"])
    assert link_metadata["$o"] == f"{category}-1"
    assert link_metadata["$causedBy"] == entries[0]["eventId"]
    assert re.fullmatch(r"\d+:-?\d+:\d+:\d+", link_metadata["$v"])
    assert link_metadata["$c"] == link_metadata["$p"] >= 0


def test_links_unresolved_carry_the_target_reference(api: Api) -> None:
    category = unique("cart")
    api.append(f"{category}-7", {"eventType": "ItemAdded"})
    wait_for(lambda: api.events(f"$ce-{category}"), what="a link in $ce-")
    raw = api.events(f"$ce-{category}", resolve=False)
    assert raw[0]["eventType"] == "$>"
    assert raw[0]["title"] == f"0@$ce-{category}"
    assert raw[0]["isJson"] is False


def test_by_event_type_indexes_every_event_of_a_type(api: Api) -> None:
    event_type = unique("Happened")
    api.append(unique("a") + "-1", {"eventType": event_type, "data": {"n": 1}})
    api.append(unique("b") + "-1", {"eventType": event_type, "data": {"n": 2}}, {"eventType": "Other"})
    entries = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(api.events(f"$et-{event_type}")),
                       what="two links in $et-")
    assert [json.loads(e["data"]) for e in entries] == [{"n": 1}, {"n": 2}]
    assert all(e["eventType"] == event_type for e in entries)


def test_streams_and_stream_by_category(api: Api) -> None:
    category = unique("user")
    api.append(f"{category}-1", {"eventType": "A"}, {"eventType": "B"})
    api.append(f"{category}-2", {"eventType": "A"})
    references = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(api.events(f"$category-{category}")),
                          what="two stream references")
    assert [e["eventType"] for e in references] == ["$@", "$@"]
    # `$@` is not a link: its data is the stream id itself (not JSON, so no data with embed=body).
    assert [e["title"] for e in references] == [f"0@$category-{category}", f"1@$category-{category}"]

    def first_events() -> list:
        return [e for e in api.events("$streams") if e.get("streamId", "").startswith(category)]
    found = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(first_events()), what="$streams links")
    assert sorted(e["streamId"] for e in found) == [f"{category}-1", f"{category}-2"]
    assert all(e["eventNumber"] == 0 for e in found)


def test_by_correlation_id(api: Api) -> None:
    correlation = unique("corr")
    api.append(unique("x") + "-1", {"eventType": "A", "metadata": {"$correlationId": correlation}})
    entries = wait_for(lambda: api.events(f"$bc-{correlation}"), what="a $bc- link")
    assert entries[0]["eventType"] == "A"
    assert "$eventTimestamp" in json.loads(entries[0]["linkMetaData"])


def test_streams_without_category_get_no_category_link(api: Api) -> None:
    plain = unique("nocategory")
    api.append(plain, {"eventType": "A"})
    marker = unique("mark")
    api.append(f"{marker}-1", {"eventType": "A"})
    wait_for(lambda: api.events(f"$ce-{marker}"), what="the marker link")
    # `$by_category` handles the log in order: it has passed the plain stream's event by now.
    assert api.events(f"$ce-{plain}") == []
