"""The node's test-aid cluster role (server/follower.py), without sockets."""
import json

import pytest

from clientapi.server.follower import ClusterRole

from .gossip_samples import v5_member, v20_member
from .processes import write_view


def test_follower_of_a_leader_url():
    role = ClusterRole(leader_url="http://127.0.0.1:2113/ignored/path")
    assert role.leader_url_for("127.0.0.1", 2114) == "http://127.0.0.1:2113"
    assert role.state_for("127.0.0.1", 2114) == "Follower"
    gossip = role.gossip_document("127.0.0.1", 2114, "me")
    assert [(m["state"], m["httpEndPointPort"]) for m in gossip["members"]] == \
        [("Leader", 2113), ("Follower", 2114)]
    assert (gossip["serverIp"], gossip["serverPort"]) == ("127.0.0.1", 2114)


@pytest.mark.parametrize("url", ["127.0.0.1:2113", "ftp://h:1", "http://nohost"])
def test_bad_leader_urls(url):
    with pytest.raises(ValueError):
        ClusterRole(leader_url=url)


def test_a_role_needs_something():
    with pytest.raises(ValueError):
        ClusterRole()


def test_view_file_decides_and_is_reread(tmp_path):
    view = str(tmp_path / "view.json")
    write_view(view, [v20_member(1001, "Leader"), v20_member(1002, "Follower")])
    role = ClusterRole(view_file=view)
    assert role.leader_url_for("127.0.0.1", 1002) == "http://127.0.0.1:1001"
    assert role.leader_url_for("127.0.0.1", 1001, "https") is None  # it leads itself
    assert role.state_for("127.0.0.1", 1002) == "Follower"
    # An election: the 3.x shape this time, the old leader dead but still listed.
    write_view(view, [v5_member(1001, "Master", alive=False), v5_member(1002, "Master", epoch=1)])
    assert role.leader_url_for("127.0.0.1", 1002) is None
    assert role.leader_url_for("127.0.0.1", 1001, "https") == "https://127.0.0.1:1002"
    assert role.state_for("127.0.0.1", 1002) == "Master"
    served = role.gossip_document("127.0.0.1", 1002)
    assert served["members"][0]["isAlive"] is False and served["serverPort"] == 1002
    with open(view) as handle:
        assert "serverPort" not in json.load(handle)  # the file itself is left alone
