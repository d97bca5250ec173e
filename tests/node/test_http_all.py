"""`$all`: admins only, 32-hex positions, paging links, resolution off by default."""
from __future__ import annotations

import re

import pytest


POSITION = re.compile(r"/streams/%24all/([0-9A-F]{32})/(forward|backward)/(\d+)$")


def links(feed: dict) -> dict:
    return {link["relation"]: link["uri"] for link in feed["links"]}


def test_all_needs_an_admin(client, stream):
    anonymous = client.get("/streams/%24all", auth=None)
    assert anonymous.status == 401 and anonymous.header("WWW-Authenticate")
    client.request("POST", "/users/", {"loginName": "reader", "fullName": "R", "groups": [],
                                       "password": "pw"}, {"Content-Type": "application/json"})
    assert client.get("/streams/%24all", auth=("reader", "pw")).status == 401
    wrong = client.get("/streams/%24all", auth=("admin", "nope"))
    assert wrong.status == 401


def test_head_page_shape_and_links(client, stream):
    client.fill(stream, 3)
    for path in ("/streams/%24all", "/streams/$all", "/streams/%24all/head/backward/20",
                 "/streams/%24all/head/20"):
        response = client.get(path)
        assert response.status == 200, path
        feed = response.json()
        assert list(feed) == ["title", "id", "updated", "author", "headOfStream", "links", "entries"]
        assert feed["title"] == "All events" and feed["headOfStream"] is False
        assert feed["id"] == f"{client.node.url}/streams/%24all"
        assert feed["entries"][0]["title"] == f"2@{stream}"
        relation = links(feed)
        assert relation["self"] == f"{client.node.url}/streams/%24all"
        assert relation["first"].endswith("/streams/%24all/head/backward/20")
        assert POSITION.search(relation["previous"]).group(2) == "forward"
        assert relation["metadata"].endswith("/streams/%24all/metadata")
        assert response.header("Cache-Control") == "max-age=0, no-cache, must-revalidate"
        assert response.header("ETag")


def test_paging_backward_then_forward_covers_new_events(client, stream):
    client.fill(stream, 5)
    page = client.get("/streams/%24all/head/backward/2").json()
    relation = links(page)
    assert relation["last"].endswith("/streams/%24all/" + "0" * 32 + "/forward/2")
    older = client.get(relation["next"][len(client.node.url):]).json()
    assert [e["title"] for e in older["entries"]] == [f"2@{stream}", f"1@{stream}"]
    newer_path = relation["previous"][len(client.node.url):]
    assert client.get(newer_path).json()["entries"] == []
    client.fill(stream + "-more", 1)
    caught_up = client.get(newer_path).json()
    assert [e["title"] for e in caught_up["entries"]] == [f"0@{stream}-more"]
    assert "previous" in links(caught_up) and "next" in links(caught_up)


def test_forward_from_zero_has_no_older_links_and_full_pages_are_immutable(client, stream):
    client.fill(stream, 3)
    response = client.get("/streams/%24all/" + "0" * 32 + "/forward/2")
    feed = response.json()
    assert set(links(feed)) == {"self", "first", "previous", "metadata"}
    assert len(feed["entries"]) == 2
    assert response.header("Cache-Control") == "max-age=31536000, private"
    assert response.header("ETag") is None


@pytest.mark.parametrize("path, text", [
    ("/streams/%24all/xyz/forward/20", "Invalid position argument: xyz"),
    ("/streams/%24all/" + "F" * 32 + "/forward/20", "Invalid position argument: " + "F" * 32),
    ("/streams/%24all/head/forward/20", "Invalid position argument: head"),
    ("/streams/%24all/" + "0" * 32 + "/forward/x", "Invalid count argument: x"),
])
def test_bad_positions_and_counts_are_400(client, path, text):
    response = client.get(path)
    assert response.status == 400 and response.body.decode() == text


def test_positions_parse_in_either_case(client, stream):
    client.fill(stream, 1)
    previous = links(client.get("/streams/%24all/head/backward/1").json())["next"]
    lower = previous.replace(POSITION.search(previous).group(1), POSITION.search(previous).group(1).lower())
    assert client.get(lower[len(client.node.url):]).status == 200


def test_links_are_not_resolved_by_default_in_all(client, stream):
    client.fill(stream, 1)
    client.append(stream + "-links", {"eventType": "$>", "data": f"0@{stream}"})
    raw = client.get("/streams/%24all/head/backward/1").json()["entries"][0]
    assert raw["title"] == f"0@{stream}-links" and raw["summary"] == "$>"
    resolved = client.get("/streams/%24all/head/backward/1",
                          headers={"ES-ResolveLinkTos": "True"}).json()["entries"][0]
    assert resolved["title"] == f"0@{stream}"


def test_if_none_match_on_all(client, stream):
    client.fill(stream, 1)
    etag = client.get("/streams/%24all").header("ETag")
    assert client.get("/streams/%24all", headers={"If-None-Match": etag}).status == 304
    client.fill(stream, 1)
    assert client.get("/streams/%24all", headers={"If-None-Match": etag}).status == 200


def test_filtered_all_by_stream_prefix_and_event_type(client, stream):
    client.fill(stream, 3, event_type="wanted")
    client.fill("noise-" + stream, 2, event_type="noise")
    by_stream = client.get(f"/streams/%24all/filtered?context=streamid&type=prefix&data={stream},nothing")
    assert by_stream.status == 200
    titles = [entry["title"] for entry in by_stream.json()["entries"]]
    assert titles[:3] == [f"2@{stream}", f"1@{stream}", f"0@{stream}"]
    assert all("noise" not in title for title in titles)
    assert all(link["uri"].startswith(f"{client.node.url}/streams/%24all/")
               for link in by_stream.json()["links"])
    assert "?" not in by_stream.json()["links"][1]["uri"]
    page = client.get("/streams/%24all/filtered/" + "0" * 32 +
                      "/forward/2?context=eventtype&type=regex&data=^wan")
    entries = page.json()["entries"]
    assert len(entries) == 2 and all(e["summary"] == "wanted" for e in entries)
    links = {link["relation"]: link["uri"] for link in page.json()["links"]}
    assert "/streams/%24all/filtered/" in links["previous"]
    no_system = client.get("/streams/%24all/filtered?exclude-system-events=true").json()
    assert all(not entry["summary"].startswith("$") for entry in no_system["entries"])


@pytest.mark.parametrize("query", ["context=nope&type=prefix&data=a", "context=streamid&type=x&data=a",
                                   "context=streamid&type=prefix", "exclude-system-events=false",
                                   "context=streamid&type=regex&data=("])
def test_bad_filters_are_400(client, query):
    response = client.get(f"/streams/%24all/filtered?{query}")
    assert response.status == 400 and response.media_type == "text/plain" and response.body
