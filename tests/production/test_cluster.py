"""Three node processes playing a cluster (the node's test-aid cluster view: they do not
replicate, so each test reads data back from the node that must have received it), and
the client's leader discovery, 307 handling with credentials, and failover."""
import io
import json
import uuid

import pytest
from tornado.httpclient import HTTPClient, HTTPRequest

from clientapi import Client, WriteEvent, cli, errors
from clientapi.retry import Backoff

from .gossip_samples import v5_member, v20_member
from .processes import start_nodes, write_view

ADMIN = ("admin", "changeit")
QUICK = Backoff(max_retries=4, first_delay=0.02, max_delay=0.2)


def v20_view(leader, *followers):
    return [v20_member(leader.port, "Leader")] + [v20_member(f.port, "Follower") for f in followers]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    view = str(tmp_path_factory.mktemp("cluster") / "view.json")
    write_view(view, [])
    nodes = start_nodes(3, "--cluster-view", view)
    write_view(view, v20_view(nodes[0], nodes[1], nodes[2]))
    yield view, nodes
    for node in nodes:
        node.kill()


def direct(node, **options):
    """A client of exactly this node (no discovery, no redirects asked for)."""
    return Client("127.0.0.1", node.port, *ADMIN, **options)


def event(n):
    return WriteEvent({"n": n}, event_type="clustered", is_json=True)


def test_each_node_serves_the_view_and_its_role(cluster):
    _, (leader, follower, _) = cluster
    with direct(follower) as client:
        view = client.admin.gossip()
        assert view.leader().port == leader.port and len(view.followers()) == 2
        assert view.server == ("127.0.0.1", follower.port)


def test_a_follower_answers_307_to_requests_that_require_the_leader(cluster):
    _, (leader, follower, _) = cluster
    http = HTTPClient()
    try:
        for header in ("ES-RequireLeader", "ES-RequireMaster"):
            answer = http.fetch(HTTPRequest(
                follower.url + "/streams/x/0/forward/5?embed=body", headers={header: "True"},
                follow_redirects=False), raise_error=False)
            assert answer.code == 307
            assert answer.headers["Location"] == leader.url + "/streams/x/0/forward/5?embed=body"
        served_here = http.fetch(HTTPRequest(follower.url + "/ping"), raise_error=False)
        assert served_here.code == 200
    finally:
        http.close()


def test_307_is_followed_with_the_credentials(cluster):
    _, (leader, follower, _) = cluster
    stream = "acl-" + uuid.uuid4().hex[:8]
    with direct(leader) as on_leader:
        on_leader.set_stream_metadata(stream, {"$acl": {"$w": "admin", "$r": "admin"}})
    with direct(follower, require_leader=True) as via_follower:
        assert via_follower.append_to_stream(stream, event(1)) == [0]
        # Reads that require the leader are redirected too, with the credentials.
        assert via_follower.read_event(stream, 0).data == {"n": 1}
    with Client("127.0.0.1", follower.port, require_leader=True) as anonymous:
        with pytest.raises(errors.AccessDenied):  # refused by the leader, after the redirect
            anonymous.append_to_stream(stream, event(2))
    with direct(leader) as on_leader:
        assert [e.data for e in on_leader.read_stream_events_forward(stream, 0, 10)] == [{"n": 1}]
    with direct(follower) as on_follower:
        with pytest.raises(errors.StreamNotFound):  # nothing was written on the follower itself
            on_follower.read_event(stream, 0)


def test_the_command_line_tool_finds_the_leader_through_seeds(cluster):
    _, (leader, follower, other) = cluster
    stream = "cli-" + uuid.uuid4().hex[:8]
    out = io.StringIO()
    assert cli.main(["append", stream, "-t", "T", '{"via": "seeds"}', "--seeds",
                     "{},{}".format(follower.address, other.address), "-u", "admin", "-p", "changeit"],
                    out=out) == 0
    assert json.loads(out.getvalue())["eventNumbers"] == [0]
    with direct(leader) as on_leader:
        assert on_leader.read_event(stream, 0).data == {"via": "seeds"}


def test_discovery_failover_and_follower_reads(cluster):
    view, (old_leader, new_leader, other) = cluster
    stream = "failover-" + uuid.uuid4().hex[:8]
    seeds = [new_leader.address, other.address]
    with Client(seeds=seeds, username="admin", password="changeit", retries=QUICK) as client:
        assert client.append_to_stream(stream, event(1)) == [0]
        with direct(old_leader) as on_old:
            assert on_old.read_event(stream, 0).data == {"n": 1}

        # The leader dies; the cluster elects another (3.x gossip shape this time, with the
        # dead member still listed as Master but not alive, as real 3.x-5.x nodes report it).
        old_leader.kill()
        write_view(view, [v5_member(old_leader.port, "Master", alive=False),
                          v5_member(new_leader.port, "Master", epoch=1),
                          v5_member(other.port, "Slave", epoch=1)])
        assert client.append_to_stream(stream, event(2)) == [0]  # a new stream on the new leader
        with direct(new_leader) as on_new:
            assert [e.data for e in on_new.read_stream_events_forward(stream, 0, 10)] == [{"n": 2}]
        assert client.read_event(stream, 0).data == {"n": 2}  # reads go to the leader by default

    # Reads may prefer followers: the only follower now is `other`.
    with direct(other) as on_other:
        on_other.append_to_stream(stream + "-local", event(3))
    with Client(seeds=[new_leader.address], username="admin", password="changeit",
                prefer="follower") as reader:
        assert reader.read_event(stream + "-local", 0).data == {"n": 3}
        with pytest.raises(errors.StreamNotFound):
            reader.read_event(stream, 0)  # only on the leader


def test_no_reachable_seed_is_a_connection_failure():
    with Client(seeds=["127.0.0.1:1", "127.0.0.1:2"], retries=0, connect_timeout=2) as client:
        with pytest.raises(errors.ConnectionFailure) as caught:
            client.append_to_stream("s", event(0))
    assert "127.0.0.1:1" in str(caught.value) and "127.0.0.1:2" in str(caught.value)
