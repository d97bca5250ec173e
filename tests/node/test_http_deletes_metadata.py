"""Soft and hard deletes, the metadata endpoints and what metadata does to reads and access."""
from __future__ import annotations

import uuid

from node_http import EVENTS_JSON

TB_MAX = 9223372036854775807


def write_metadata(client, stream, data, **kwargs):
    return client.request("POST", f"/streams/{stream}/metadata",
                          [{"eventId": str(uuid.uuid4()), "eventType": "$metadata", "data": data}],
                          {"Content-Type": EVENTS_JSON}, **kwargs)


def test_soft_delete_then_recreate_continues_numbering(client, stream):
    client.fill(stream, 3)
    deleted = client.request("DELETE", f"/streams/{stream}")
    assert (deleted.status, deleted.reason, deleted.body) == (204, "Stream deleted", b"")
    assert client.get(f"/streams/{stream}").status == 404
    metadata = client.get(f"/streams/{stream}/metadata", accept="application/json")
    assert metadata.status == 200 and metadata.json() == {"$tb": TB_MAX}
    recreated = client.append(stream, {"eventType": "again", "data": {}})
    assert recreated.status == 201 and recreated.header("Location").endswith(f"/{stream}/3")
    feed = client.get(f"/streams/{stream}").json()
    assert [entry["title"] for entry in feed["entries"]] == [f"3@{stream}"]


def test_hard_delete_is_410_for_good(client, stream):
    client.fill(stream, 1)
    deleted = client.request("DELETE", f"/streams/{stream}", headers={"ES-HardDelete": "true"})
    assert deleted.status == 204
    read = client.get(f"/streams/{stream}")
    assert (read.status, read.reason) == (410, "Deleted")
    write = client.append(stream, {"eventType": "x", "data": {}})
    assert (write.status, write.reason) == (410, "Stream deleted")
    assert client.get(f"/streams/{stream}/metadata", accept="application/json").status == 410
    assert client.request("DELETE", f"/streams/{stream}").status == 410


def test_delete_with_wrong_expected_version(client, stream):
    client.fill(stream, 2)
    response = client.request("DELETE", f"/streams/{stream}", headers={"ES-ExpectedVersion": "0"})
    assert (response.status, response.reason) == (400, "Wrong expected EventNumber")
    assert response.header("ES-CurrentVersion") == "1"
    assert client.request("DELETE", f"/streams/{stream}", headers={"ES-ExpectedVersion": "1"}).status == 204
    bad = client.request("DELETE", f"/streams/{stream}", headers={"ES-HardDelete": "maybe"})
    assert bad.status == 400 and bad.body == b"ES-HardDelete header in wrong format."


def test_delete_needs_rights(client, stream):
    client.fill(stream, 1)
    assert client.request("DELETE", f"/streams/{stream}", auth=None).status == 401


def test_metadata_of_stream_without_metadata_and_of_missing_stream(client, stream):
    assert client.get(f"/streams/{stream}/metadata", accept="application/json").status == 404
    client.fill(stream, 1)
    empty = client.get(f"/streams/{stream}/metadata")
    assert empty.status == 200 and empty.json() == {}
    assert empty.header("Cache-Control") == "max-age=0, no-cache, must-revalidate"


def test_metadata_write_and_read_back(client, stream):
    client.fill(stream, 1)
    written = write_metadata(client, stream, {"$maxCount": 50, "custom": "value"})
    assert written.status == 201
    assert written.header("Location") == f"{client.node.url}/streams/%24%24{stream}/0"
    plain = client.request("POST", f"/streams/{stream}/metadata",
                           b'{"$maxAge":3600,"$acl":{"$r":"$all"},"another":1}',
                           {"Content-Type": "application/json", "ES-EventId": str(uuid.uuid4())})
    assert plain.status == 201 and plain.header("Location").endswith(f"/%24%24{stream}/1")
    as_json = client.get(f"/streams/{stream}/metadata", accept="application/json")
    assert as_json.json() == {"$maxAge": 3600, "$acl": {"$r": "$all"}, "another": 1}
    assert as_json.header("ETag").startswith('"1;')
    entry = client.get(f"/streams/{stream}/metadata").json()
    assert entry["title"] == f"1@$${stream}" and entry["summary"] == "$metadata"
    assert entry["content"]["data"]["another"] == 1
    assert entry["id"] == f"{client.node.url}/streams/%24%24{stream}/1"


def test_metadata_write_refusals(client, stream):
    no_id = client.request("POST", f"/streams/{stream}/metadata", b"{}",
                           {"Content-Type": "application/json"})
    assert no_id.status == 400 and no_id.body == b"Empty eventId provided."
    wrong_type = client.request("POST", f"/streams/{stream}/metadata", b"{}", {
        "Content-Type": "application/json", "ES-EventId": str(uuid.uuid4()), "ES-EventType": "x"})
    assert wrong_type.status == 400
    no_type = client.request("POST", f"/streams/{stream}/metadata", b"{}", {})
    assert no_type.status == 415


def test_max_count_and_truncate_before_apply_to_reads(client, stream):
    client.fill(stream, 10)
    write_metadata(client, stream, {"$maxCount": 3})
    feed = client.get(f"/streams/{stream}").json()
    assert [entry["title"].split("@")[0] for entry in feed["entries"]] == ["9", "8", "7"]
    below = client.get(f"/streams/{stream}/0/forward/5").json()
    assert below["entries"] == [] and any(l["relation"] == "previous" for l in below["links"])


def test_acl_is_enforced_for_users_and_groups(client, stream):
    client.request("POST", "/users/", {"loginName": "acl-user", "fullName": "A",
                                       "groups": ["acl-group"], "password": "pw"},
                   {"Content-Type": "application/json"})
    client.fill(stream, 1)
    write_metadata(client, stream, {"$acl": {"$r": "acl-group", "$w": "someone-else"}})
    assert client.get(f"/streams/{stream}", auth=("acl-user", "pw")).status == 200
    refused = client.append(stream, {"eventType": "x", "data": {}}, auth=("acl-user", "pw"))
    assert refused.status == 401 and refused.header("WWW-Authenticate") == 'BasicCustom realm="ES"'
    assert client.get(f"/streams/{stream}/metadata", auth=("acl-user", "pw")).status == 200


def test_metastream_paging_routes(client, stream):
    client.fill(stream, 1)
    write_metadata(client, stream, {"a": 1})
    write_metadata(client, stream, {"a": 2})
    page = client.get(f"/streams/{stream}/metadata/0/forward/20")
    assert page.status == 200 and page.json()["streamId"] == f"$${stream}"
    single = client.get(f"/streams/{stream}/metadata/1", accept="application/json")
    assert single.json() == {"a": 2}
