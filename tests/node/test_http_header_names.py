"""Header names go out spelled as the real server spells them (names are case-insensitive,
but clients and proxies that compare them as strings exist, and the recordings show these)."""
from __future__ import annotations

from node_http import ATOM_JSON


def names(response) -> set[str]:
    return set(response.headers.keys())


def test_wrong_expected_version_names_the_current_version_as_the_real_server(client, stream):
    assert client.append(stream, {"eventType": "a", "data": {}}).status == 201
    response = client.append(stream, {"eventType": "b", "data": {}},
                             headers={"ES-ExpectedVersion": "5"})
    assert response.status == 400
    assert {"ES-CurrentVersion", "Kurrent-CurrentVersion"} <= names(response)


def test_feed_headers_are_spelled_as_recorded(client, stream):
    assert client.append(stream, {"eventType": "a", "data": {}}).status == 201
    response = client.get(f"/streams/{stream}", accept=ATOM_JSON)
    assert response.status == 200
    assert {"ETag", "Cache-Control", "Vary", "Content-Type", "Content-Length",
            "Access-Control-Allow-Methods", "Access-Control-Expose-Headers"} <= names(response)


def test_challenge_is_spelled_www_authenticate(client):
    response = client.get("/streams/%24all", auth=("admin", "wrong"))
    assert response.status == 401
    assert "WWW-Authenticate" in names(response)


def test_created_event_location(client, stream):
    response = client.append(stream, {"eventType": "a", "data": {}})
    assert response.status == 201
    assert "Location" in names(response)
    assert response.header("Location").endswith(f"/streams/{stream}/0")
