"""`/admin/...`: scavenge, shutdown, login and node commands."""
from __future__ import annotations

import time

import pytest

from clientapi.server import Node
from node_http import Http


def test_scavenge_starts_completes_and_leaves_a_trail(client):
    assert client.request("POST", "/admin/scavenge", auth=None).status == 401
    response = client.request("POST", "/admin/scavenge?startFromChunk=0&threads=1",
                              headers={"Accept": "application/json"}, auth=("ops", "changeit"))
    assert response.status == 200 and response.media_type == "application/json"
    scavenge_id = response.json()["scavengeId"]
    trail = client.get("/streams/%24scavenges?embed=body").json()["entries"]
    assert {entry["eventType"] for entry in trail[:2]} == {"$scavengeStarted", "$scavengeCompleted"}
    stopped = client.request("DELETE", f"/admin/scavenge/{scavenge_id}")
    assert stopped.status == 200
    assert client.request("DELETE", "/admin/scavenge/nope").status == 404
    current = client.get("/admin/scavenge/current", accept="application/json").json()
    assert current == {"scavengeId": "", "scavengeLink": ""}


@pytest.mark.parametrize("query", ["startFromChunk=-1", "threads=0", "threads=x",
                                   "threads=2&throttlePercent=50", "syncOnly=maybe"])
def test_bad_scavenge_parameters_are_400(client, query):
    assert client.request("POST", f"/admin/scavenge?{query}").status == 400


def test_admin_answers_text_plain_without_accept(client):
    response = client.request("POST", "/admin/mergeindexes")
    assert response.status == 200 and response.media_type == "text/plain"
    assert "mergeIndexesId" in response.json()
    for path in ("/admin/node/priority/3", "/admin/node/resign", "/admin/reloadconfig"):
        assert client.request("POST", path).status == 200


def test_login_returns_the_caller(client):
    assert client.get("/admin/login", accept="application/json", auth=None).status == 401
    me = client.get("/admin/login", accept="application/json", auth=("ops", "changeit")).json()
    assert me["data"]["loginName"] == "ops" and me["data"]["groups"] == ["$ops"]


def test_shutdown_stops_an_in_process_node():
    node = Node(port=0).start()
    try:
        http = Http(node)
        assert http.request("POST", "/admin/shutdown", auth=None).status == 401
        assert http.request("POST", "/admin/shutdown").status == 200
        deadline = time.monotonic() + 10
        while node._thread is not None and node._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not node._thread.is_alive()
    finally:
        node.stop()
