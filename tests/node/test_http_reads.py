"""Stream feeds, paging links, embed levels, single events, negotiation, caching."""
from __future__ import annotations

import uuid

import pytest

from node_http import ATOM_JSON, EVENTS_JSON

NO_CACHE = "max-age=0, no-cache, must-revalidate"


def relations(feed: dict) -> dict:
    return {link["relation"]: link["uri"] for link in feed["links"]}


def numbers(feed: dict) -> list[int]:
    return [int(entry["title"].split("@")[0]) for entry in feed["entries"]]


@pytest.fixture
def stream45(client, stream):
    client.fill(stream, 45)
    return stream


def test_head_page_of_45_events(client, stream45):
    response = client.get(f"/streams/{stream45}")
    assert response.status == 200 and response.media_type == ATOM_JSON
    assert response.header("Cache-Control") == NO_CACHE and response.header("Vary") == "Accept"
    etag = response.header("ETag")
    assert etag.startswith('"44;') and etag.endswith('"')
    feed = response.json()
    base = f"{client.node.url}/streams/{stream45}"
    assert list(feed) == ["title", "id", "updated", "streamId", "author", "headOfStream",
                          "selfUrl", "eTag", "links", "entries"]
    assert feed["title"] == f"Event stream '{stream45}'" and feed["id"] == base
    assert feed["headOfStream"] is True and feed["selfUrl"] == base
    assert feed["eTag"].startswith("44;")
    assert numbers(feed) == list(range(44, 24, -1))
    assert relations(feed) == {"self": base, "first": f"{base}/head/backward/20",
                               "last": f"{base}/0/forward/20", "next": f"{base}/24/backward/20",
                               "previous": f"{base}/45/forward/20", "metadata": f"{base}/metadata"}
    assert [link["relation"] for link in feed["links"]] == [
        "self", "first", "last", "next", "previous", "metadata"]


@pytest.mark.parametrize("path, entries, head, present, cache", [
    ("24/backward/20", range(24, 4, -1), False, {"last": "0/forward/20", "next": "4/backward/20",
                                                  "previous": "25/forward/20"}, "immutable"),
    ("4/backward/20", range(4, -1, -1), False, {"previous": "5/forward/20"}, "immutable"),
    ("24/20", range(24, 4, -1), False, {"last": "0/forward/20", "next": "4/backward/20",
                                         "previous": "25/forward/20"}, "immutable"),
    ("0/forward/20", range(19, -1, -1), False, {"previous": "20/forward/20"}, "immutable"),
    ("20/forward/20", range(39, 19, -1), False, {"last": "0/forward/20", "next": "19/backward/20",
                                                  "previous": "40/forward/20"}, "immutable"),
    ("40/forward/20", range(44, 39, -1), True, {"last": "0/forward/20", "next": "39/backward/20",
                                                 "previous": "45/forward/20"}, "etag"),
    ("45/forward/20", [], True, {"last": "0/forward/20", "next": "44/backward/20"}, "etag"),
    ("head/backward/5", range(44, 39, -1), True, {"last": "0/forward/5", "next": "39/backward/5",
                                                   "previous": "45/forward/5"}, "etag"),
])
def test_paging_follows_the_real_link_rules(client, stream45, path, entries, head, present, cache):
    response = client.get(f"/streams/{stream45}/{path}")
    feed = response.json()
    base = f"{client.node.url}/streams/{stream45}"
    assert numbers(feed) == list(entries)
    assert feed["headOfStream"] is head
    expected = {relation: f"{base}/{target}" for relation, target in present.items()}
    links = relations(feed)
    assert {k: v for k, v in links.items() if k not in ("self", "first", "metadata")} == expected
    assert links["first"].startswith(f"{base}/head/backward/")
    if cache == "immutable":
        assert response.header("Cache-Control") == "max-age=31536000, public"
        assert response.header("ETag") is None
    else:
        assert response.header("Cache-Control") == NO_CACHE and response.header("ETag")
    assert ("selfUrl" in feed) == (path.split("/")[1] != "forward")
    assert "eTag" not in feed or path.startswith("head")


def test_empty_page_is_dated_year_one(client, stream45):
    assert client.get(f"/streams/{stream45}/45/forward/20").json()["updated"] == "0001-01-01T00:00:00Z"


def test_embed_levels(client, stream):
    client.append(stream, {"eventType": "j", "data": {"a": 1}, "metadata": {"m": "x"}})
    client.append(stream, {"eventType": "t", "data": "plain text"})
    client.append(stream, {"eventType": "s", "data": "not json"})
    def entry(embed, number):
        feed = client.get(f"/streams/{stream}?embed={embed}").json()
        return next(e for e in feed["entries"] if e["title"].startswith(f"{number}@"))
    plain = entry("none", 0)
    assert list(plain) == ["title", "id", "updated", "author", "summary", "links"]
    assert [link["relation"] for link in plain["links"]] == ["edit", "alternate"]
    assert list(entry("PrettyBody", 0)) == list(plain)
    content = entry("content", 0)
    assert content["content"] == {"eventStreamId": stream, "eventNumber": 0, "eventType": "j",
                                  "eventId": content["content"]["eventId"], "data": {"a": 1},
                                  "metadata": {"m": "x"}}
    assert "content" not in entry("content", 1)
    rich = entry("rich", 0)
    assert list(rich)[:3] == ["eventId", "eventType", "eventNumber"]
    assert "data" not in rich and rich["isMetaData"] is False
    body = entry("body", 0)
    assert body["data"] == '{\n  "a": 1\n}' and body["metaData"] == '{\n  "m": "x"\n}'
    assert body["isMetaData"] is True and body["positionStreamId"] == stream
    assert list(body)[-6:] == ["title", "id", "updated", "author", "summary", "links"]
    assert "data" not in entry("body", 1) and entry("body", 1)["isJson"] is False
    tryharder = entry("TryHarder", 1)
    assert tryharder["data"] == "plain text" and tryharder["isJson"] is False


def test_single_event_representations(client, stream):
    client.append(stream, {"eventType": "j", "data": {"a": "1"}})
    path = f"/streams/{stream}/0"
    atom = client.get(path)
    assert atom.status == 200 and atom.header("Cache-Control") == "max-age=31536000, public"
    assert atom.json()["content"]["data"] == {"a": "1"} and atom.json()["summary"] == "j"
    assert client.get(path, accept="application/json").body == b'{\n  "a": "1"\n}'
    record = client.get(path, accept="application/vnd.eventstore.event+json").json()
    assert list(record) == ["eventStreamId", "eventNumber", "eventType", "eventId", "data",
                            "metadata"]
    xml = client.get(path, accept=None)
    assert xml.media_type == "application/atom+xml"
    assert xml.body.startswith(b'<?xml version="1.0" encoding="utf-8"?><atom:entry')
    assert b"<data><a>1</a></data>" in xml.body
    assert client.get(path, accept="application/vnd.eventstore.event+xml").body.startswith(
        b'<?xml version="1.0" encoding="utf-8"?><event>')
    assert client.get(path, accept="text/xml").body.endswith(b"<data><a>1</a></data>")
    refused = client.get(path, accept=EVENTS_JSON)
    assert (refused.status, refused.reason) == (406, "Requested URI is not available in requested format")
    head = client.get(f"/streams/{stream}/head", accept="application/json")
    assert head.header("Cache-Control") == NO_CACHE and head.header("ETag").startswith('"0;')


def test_feed_media_types(client, stream):
    client.append(stream, {"eventType": "j", "data": {}})
    as_json = client.get(f"/streams/{stream}", accept="application/json")
    assert as_json.media_type == "application/json" and as_json.json()["entries"]
    events = client.get(f"/streams/{stream}", accept=EVENTS_JSON)
    assert events.media_type == EVENTS_JSON and events.json()["streamId"] == stream
    assert as_json.header("ETag") != events.header("ETag")  # the hash part follows the type
    xml = client.get(f"/streams/{stream}", accept="application/atom+xml")
    assert xml.body.startswith(b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">')
    assert b'rel="previous"' in xml.body and b"<entry>" in xml.body
    weighted = client.get(f"/streams/{stream}", accept="text/plain;q=0.9, application/json;q=0.5")
    assert weighted.media_type == "application/json"
    assert client.get(f"/streams/{stream}?format=json", accept=None).media_type == "application/json"
    assert client.get(f"/streams/{stream}", accept="image/png").status == 406


def test_description_document(client, stream):
    client.append(stream, {"eventType": "j", "data": {}})
    for accept, status in (("application/vnd.eventstore.streamdesc+json", 200), (None, 406),
                           ("*/*", 406)):
        response = client.get(f"/streams/{stream}", accept=accept)
        assert response.status == status
        assert response.media_type == "application/vnd.eventstore.streamdesc+json"
        document = response.json()
        assert document["title"] == f"Description document for '{stream}'"
        assert document["_links"]["self"]["href"] == f"/streams/{stream}"
        assert set(document["_links"]) == {"self", "stream"}
    forward = client.get(f"/streams/{stream}/0/forward/20", accept="*/*")
    assert forward.status == 200 and "entries" in forward.json()


def test_missing_streams_and_events(client, stream):
    missing = client.get(f"/streams/{stream}")
    assert (missing.status, missing.body) == (404, b"")
    client.append(stream, {"eventType": "j", "data": {}})
    event = client.get(f"/streams/{stream}/99")
    assert event.status == 404 and event.body == b"{}"


@pytest.mark.parametrize("path, text", [
    ("x/forward/20", "'x' is not valid event number"),
    ("head/forward/20", "'head' is not valid event number"),
    ("0/forward/0", "'0' is not valid count. Should be positive integer"),
    ("0/forward/-1", "'-1' is not valid count. Should be positive integer"),
    ("-3", "'-3' is not valid event number"),
])
def test_bad_paging_arguments_are_400(client, stream, path, text):
    response = client.get(f"/streams/{stream}/{path}")
    assert response.status == 400 and response.body.decode() == text


def test_count_over_4096_is_500(client, stream):
    client.append(stream, {"eventType": "j", "data": {}})
    response = client.get(f"/streams/{stream}/0/forward/4097")
    assert response.status == 500
    assert response.body == b"Read size too big, should be less than 4096 items"
    assert client.get(f"/streams/{stream}/0/forward/4096").status == 200


def test_if_none_match_gives_304_until_the_stream_changes(client, stream):
    client.append(stream, {"eventType": "j", "data": {}})
    etag = client.get(f"/streams/{stream}").header("ETag")
    again = client.get(f"/streams/{stream}", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    other_page = client.get(f"/streams/{stream}/1/forward/20", headers={"If-None-Match": etag})
    assert other_page.status == 304
    other_type = client.get(f"/streams/{stream}", accept="application/json",
                            headers={"If-None-Match": etag})
    assert other_type.status == 200
    client.append(stream, {"eventType": "j", "data": {}})
    assert client.get(f"/streams/{stream}", headers={"If-None-Match": etag}).status == 200


def test_resolve_link_tos_header(client, stream):
    client.append(stream, {"eventType": "target", "data": {"t": 1}})
    links = f"{stream}-links"
    client.append(links, {"eventType": "$>", "data": f"0@{stream}"})
    resolved = client.get(f"/streams/{links}?embed=body").json()["entries"][0]
    assert resolved["summary"] == "$>" and resolved["eventType"] == "target"
    assert resolved["title"] == f"0@{stream}" and resolved["positionStreamId"] == links
    assert "linkMetaData" in resolved
    raw = client.get(f"/streams/{links}?embed=body", headers={"ES-ResolveLinkTos": "False"})
    entry = raw.json()["entries"][0]
    assert entry["eventType"] == "$>" and entry["title"] == f"0@{links}"
    bad = client.get(f"/streams/{links}", headers={"ES-ResolveLinkTos": "no"})
    assert bad.status == 400 and bad.body == b"ES-ResolveLinkTos header in wrong format."
    single = client.get(f"/streams/{links}/0", accept="application/json")
    assert single.json() == {"t": 1}


def test_anonymous_reads_are_401_and_cache_is_private_unless_everyone_may_read(client, stream):
    client.append(stream, {"eventType": "j", "data": {}})
    assert client.get(f"/streams/{stream}", auth=None).status == 401
    assert client.get(f"/streams/{stream}/0").header("Cache-Control") == "max-age=31536000, public"
    client.request("POST", f"/streams/{stream}/metadata",
                   [{"eventId": str(uuid.uuid4()), "eventType": "$metadata",
                     "data": {"$acl": {"$r": "$admins"}}}], {"Content-Type": EVENTS_JSON})
    assert client.get(f"/streams/{stream}/0").header("Cache-Control") == "max-age=31536000, private"
    system = f"%24sys-{stream}"
    client.append(system, {"eventType": "j", "data": {}})
    assert client.get(f"/streams/{system}/0").header("Cache-Control") == "max-age=31536000, private"


def test_cache_control_metadata_sets_max_age_of_head_pages(client, stream):
    client.append(stream, {"eventType": "j", "data": {}})
    client.request("POST", f"/streams/{stream}/metadata",
                   [{"eventId": str(uuid.uuid4()), "eventType": "$metadata",
                     "data": {"$cacheControl": 30}}], {"Content-Type": EVENTS_JSON})
    assert client.get(f"/streams/{stream}").header("Cache-Control") == "max-age=30, public"


def test_forwarded_headers_shape_the_links(client, stream):
    client.append(stream, {"eventType": "j", "data": {}})
    feed = client.get(f"/streams/{stream}", headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.org:8443",
        "X-Forwarded-Prefix": "/es"}).json()
    assert feed["id"] == f"https://example.org:8443/es/streams/{stream}"


def test_stream_names_are_escaped_in_links(client):
    name = f"odd:name ${uuid.uuid4().hex[:6]}"
    quoted = name.replace(":", "%3A").replace(" ", "%20").replace("$", "%24")
    assert client.append(quoted, {"eventType": "j", "data": {}}).status == 201
    feed = client.get(f"/streams/{quoted}").json()
    assert feed["streamId"] == name and feed["id"].endswith(f"/streams/{quoted}")


def test_description_document_lists_subscription_groups(client, stream):
    client.append(stream, {"eventType": "j", "data": {}})
    created = client.request("PUT", f"/subscriptions/{stream}/workers", {},
                             {"Content-Type": "application/json"})
    assert created.status == 201
    document = client.get(f"/streams/{stream}",
                          accept="application/vnd.eventstore.streamdesc+json").json()
    (group,) = document["_links"]["streamSubscription"]
    assert group["href"] == f"/subscriptions/{stream}/workers"
    assert group["supportedContentTypes"] == ["application/vnd.eventstore.competingatom+xml",
                                              "application/vnd.eventstore.competingatom+json"]


def test_link_to_a_deleted_event_is_a_plain_entry_from_the_link(client, stream):
    client.append(stream, {"eventType": "target", "data": {"t": 1}})
    links = f"{stream}-dangling"
    client.append(links, {"eventType": "$>", "data": f"0@{stream}"})
    client.request("DELETE", f"/streams/{stream}", headers={"ES-HardDelete": "true"})
    entry = client.get(f"/streams/{links}?embed=body").json()["entries"][0]
    assert entry["title"] == f"0@{stream}" and entry["summary"] == "$>"
    assert "eventId" not in entry and entry["id"].endswith(f"/streams/{stream}/0")
    assert client.get(f"/streams/{links}/0", accept="application/json").status == 404
