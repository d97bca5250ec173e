"""Gossip parsing (both server generations), leader/follower choice, seeds and the router's
rediscovery (pure: gossip comes from a fake fetcher, no sockets)."""
import asyncio
import json

import pytest

from clientapi import errors
from clientapi.cluster import (ClusterRouter, NoLeader, parse_gossip, parse_seeds,
                               reads_may_use_follower)

from .gossip_samples import V5_AFTER_FAILOVER, V5_HEALTHY, V20_ELECTION, V20_HEALTHY, document, v20_member


def test_v5_shape_master_and_slaves():
    view = parse_gossip(V5_HEALTHY)
    assert view.leader().address == ("127.0.0.1", 23120)  # externalHttpPort, not internal
    assert view.leader().role == "leader" and view.leader().state == "Master"
    assert sorted(m.port for m in view.followers()) == [23100, 23110]
    assert view.server == ("127.0.0.1", 23101)


def test_v5_dead_master_is_not_the_leader():
    view = parse_gossip(json.dumps(V5_AFTER_FAILOVER))
    assert view.leader().address == ("127.0.0.1", 23100)
    assert ("127.0.0.1", 23120) not in view.addresses()
    assert view.addresses()[0] == ("127.0.0.1", 23100)  # leader first


def test_v20_shape_leader_followers_and_replicas():
    view = parse_gossip(json.dumps(V20_HEALTHY).encode())
    assert view.leader().port == 2114
    assert [m.port for m in view.followers()] == [2113, 2115]
    assert {m.role for m in view.members} == {"leader", "follower", "readonlyreplica"}


def test_two_live_leaders_the_newer_epoch_wins():
    view = parse_gossip(document([v20_member(1, "Leader", epoch=3), v20_member(2, "Leader", epoch=4)]))
    assert view.leader().port == 2


def test_no_leader_during_an_election():
    view = parse_gossip(V20_ELECTION)
    assert view.leader() is None and view.choose("follower") is None


def test_choose():
    view = parse_gossip(V20_HEALTHY)
    assert view.choose("leader").port == 2114
    assert view.choose("follower", pick=lambda members: members[-1]).port == 2115
    assert view.choose("random", pick=lambda members: members[-1]).port == 2114
    only_leader = parse_gossip(document([v20_member(7, "Leader")]))
    assert only_leader.choose("follower").port == 7  # no follower: the leader serves reads
    with pytest.raises(ValueError):
        view.choose("nearest")


@pytest.mark.parametrize("bad", [{}, {"members": 3}, {"members": [{"state": "Leader"}]}, "not json",
                                 {"members": [dict(v20_member(1, "Leader"), isAlive="yes")]}])
def test_invalid_gossip(bad):
    with pytest.raises(ValueError):
        parse_gossip(bad)


def test_seeds():
    assert parse_seeds("a:1, b:2,c") == (("a", 1), ("b", 2), ("c", 2113))
    assert parse_seeds(["[::1]:5", ("h", 7), "a:1", "a:1"]) == (("::1", 5), ("h", 7), ("a", 1))
    assert parse_seeds("::1") == (("::1", 2113),)
    for bad in ("", "a:x", "a:0", "a:70000", ":5", "[::1]x"):
        with pytest.raises(ValueError):
            parse_seeds(bad)
    with pytest.raises(TypeError):
        parse_seeds([5])


def test_what_may_go_to_followers():
    assert reads_may_use_follower("GET", "/streams/orders/0/forward/20")
    assert reads_may_use_follower("GET", "/streams/%24all/head/backward/20")
    assert not reads_may_use_follower("POST", "/streams/orders")
    assert not reads_may_use_follower("GET", "/subscriptions/orders/g")
    assert not reads_may_use_follower("GET", "/users/")


class FakeCluster:
    """Answers gossip per address; an address mapped to an exception fails with it."""

    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    async def fetch(self, address):
        self.asked.append(address)
        answer = self.answers.get(address, errors.ConnectionFailure("refused"))
        if isinstance(answer, BaseException):
            raise answer
        return answer


def run(coroutine):
    return asyncio.run(coroutine)


A, B, C = ("127.0.0.1", 23120), ("127.0.0.1", 23110), ("127.0.0.1", 23100)


def test_router_discovers_through_a_seed_and_routes_writes_to_the_leader():
    cluster = FakeCluster({B: V5_HEALTHY})
    router = ClusterRouter(seeds=(C, B), fetch_gossip=cluster.fetch)
    address, to_leader = run(router.address_for("POST", "/streams/s"))
    assert (address, to_leader) == (A, True)
    assert cluster.asked == [C, B]  # C refused, B answered
    run(router.address_for("GET", "/streams/s"))
    assert len(cluster.asked) == 2  # the view is kept


def test_router_sends_reads_to_followers_when_asked():
    router = ClusterRouter(seeds=(A,), fetch_gossip=FakeCluster({A: V5_HEALTHY}).fetch, prefer="follower")
    address, to_leader = run(router.address_for("GET", "/streams/s/0/forward/5"))
    assert address in (B, C) and not to_leader
    assert run(router.address_for("POST", "/streams/s")) == (A, True)


def test_router_rediscovers_after_a_failure_asking_members_it_learnt():
    cluster = FakeCluster({A: V5_HEALTHY})
    router = ClusterRouter(seeds=(A,), fetch_gossip=cluster.fetch)
    assert run(router.address_for("POST", "/streams/s"))[0] == A
    # The leader dies; a new one is elected among the members the first gossip named.
    cluster.answers = {A: errors.ConnectionFailure("refused"), C: V5_AFTER_FAILOVER}
    router.node_failed(A)
    assert run(router.address_for("POST", "/streams/s")) == (C, True)
    assert cluster.asked[1:] == [B, C]  # members learnt from gossip; the failed node would come last


def test_router_without_any_leader_raises_no_leader():
    cluster = FakeCluster({A: V20_ELECTION, B: ValueError("garbage")})
    router = ClusterRouter(seeds=(A, B), fetch_gossip=cluster.fetch)
    with pytest.raises(NoLeader) as caught:
        run(router.discover())
    assert isinstance(caught.value, errors.ConnectionFailure)  # nothing sent: retryable
    assert "no live leader" in str(caught.value)


def test_a_redirect_elsewhere_means_the_leader_moved():
    cluster = FakeCluster({A: V5_HEALTHY})
    router = ClusterRouter(seeds=(A,), fetch_gossip=cluster.fetch)
    run(router.discover())
    router.note_redirect("http://127.0.0.1:23120/streams/s")  # the leader itself: nothing learnt
    assert router.view is not None
    router.note_redirect("http://127.0.0.1:23100/streams/s")
    assert router.view is None  # the next request asks the cluster again


def test_an_old_view_is_refreshed_and_kept_if_the_refresh_fails():
    now = [0.0]
    cluster = FakeCluster({A: V5_HEALTHY})
    router = ClusterRouter(seeds=(A,), fetch_gossip=cluster.fetch, refresh_seconds=30,
                           clock=lambda: now[0])
    assert run(router.address_for("POST", "/streams/s"))[0] == A
    now[0] = 20
    run(router.address_for("POST", "/streams/s"))
    assert len(cluster.asked) == 1  # still fresh
    now[0] = 40
    cluster.answers = {A: V5_AFTER_FAILOVER}  # the leadership moved without any failure seen
    assert run(router.address_for("POST", "/streams/s"))[0] == C
    now[0] = 80
    cluster.answers = {}  # nobody answers the refresh: keep the view that worked
    assert run(router.address_for("POST", "/streams/s"))[0] == C
