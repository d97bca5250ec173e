"""Test aid, not clustering: let a node play one member of a pretend cluster.

The embedded node is a single node; it never replicates and never elects anybody. This
module exists only so that a client's cluster logic (gossip discovery, routing writes to
the leader, following 307 redirects, failing over) can be tested against a few node
processes:

    python -m clientapi.server --port 2114 --follower-of http://127.0.0.1:2113
    python -m clientapi.server --port 2113 --cluster-view view.json
    python -m clientapi.server --port 2114 --cluster-view view.json

- `--follower-of URL`: the node is a follower of the leader at URL. A request that
  requires the leader (`ES-RequireLeader: True` or `ES-RequireMaster: True`) gets
  `307 Temporary Redirect` with `Location` = the same path and query on the leader, as a
  real follower answers; `/gossip` lists the leader and this node (20+ shape) and `/info`
  says `follower`.
- `--cluster-view FILE`: a gossip document (either shape: Master/Slave with
  `externalHttpIp/Port`, or Leader/Follower with `httpEndPointIp/Port`). `/gossip` serves
  it (with `serverIp`/`serverPort` of this node) and the node finds its own role in it by
  its address: it redirects to the member that is the live leader, or acts as the leader
  when that member is itself. The file is read again whenever it changes, so a test
  "elects" a new leader by rewriting it (e.g. after stopping the old leader).

Requests without the leader header are served locally, from this node's own data (a
real follower would forward writes to the leader): tests must not expect data written on
one node to appear on another.
"""
from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import threading
from dataclasses import dataclass
from typing import Optional, Tuple
from urllib.parse import urlsplit

# The view file is a gossip document: read it the way the client reads gossip.
from ..cluster import ClusterView, parse_gossip

__all__ = ["ClusterRole", "gossip_member"]

def _url(scheme: str, host: str, port: int) -> str:
    return "{}://{}:{}".format(scheme, "[{}]".format(host) if ":" in host else host, port)


def gossip_member(host: str, port: int, state: str, instance_id: str = "", alive: bool = True,
                  epoch_number: int = 0) -> dict:
    """One member in the 20+ shape (what `--follower-of` reports)."""
    return {"instanceId": instance_id, "timeStamp": _now(), "state": state, "isAlive": alive,
            "internalTcpIp": host, "internalTcpPort": 0, "internalSecureTcpPort": 0,
            "externalTcpIp": host, "externalTcpPort": 0, "externalSecureTcpPort": 0,
            "httpEndPointIp": host, "httpEndPointPort": port,
            "lastCommitPosition": -1, "writerCheckpoint": 0, "chaserCheckpoint": 0,
            "epochPosition": 0, "epochNumber": epoch_number, "epochId": "", "nodePriority": 0,
            "isReadOnlyReplica": False}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class ClusterRole:
    """The role a node plays (see the module docstring). Give `leader_url`, `view_file`, or both
    (the view decides when it names a live leader)."""

    leader_url: Optional[str] = None
    view_file: Optional[str] = None

    def __post_init__(self) -> None:
        if self.leader_url is None and self.view_file is None:
            raise ValueError("a cluster role needs a leader URL or a cluster view file")
        if self.leader_url is not None:
            parts = urlsplit(self.leader_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
                raise ValueError("the leader URL must look like http://host:port")
            self.leader_url = "{}://{}".format(parts.scheme, parts.netloc)
        self._lock = threading.Lock()
        self._cached: Optional[tuple] = None
        self._view()  # a missing or broken view file fails now, not on the first request

    # --- the view ------------------------------------------------------------------------
    def _view(self) -> Optional[Tuple[dict, ClusterView]]:
        """The view file (as served, and parsed), re-read when it changes."""
        if self.view_file is None:
            return None
        stat = os.stat(self.view_file)
        with self._lock:
            if self._cached is None or self._cached[:2] != (stat.st_mtime_ns, stat.st_size):
                with open(self.view_file, encoding="utf-8") as handle:
                    document = json.load(handle)
                self._cached = (stat.st_mtime_ns, stat.st_size, (document, parse_gossip(document)))
            return self._cached[2]

    def leader_url_for(self, host: str, port: int, scheme: str = "http") -> Optional[str]:
        """Where requests that require the leader go; None when this node is the leader."""
        view = self._view()
        leader = view[1].leader() if view is not None else None
        if leader is not None:
            return None if leader.address == (host, port) else _url(scheme, *leader.address)
        return self.leader_url

    def state_for(self, host: str, port: int) -> str:
        """This node's state as gossip spells it ("Leader", "Slave"...)."""
        view = self._view()
        if view is not None:
            for member in view[1].members:
                if member.address == (host, port):
                    return member.state
        return "Follower" if self.leader_url is not None else "Leader"

    def gossip_document(self, host: str, port: int, instance_id: str = "") -> dict:
        view = self._view()
        if view is not None:
            document = copy.deepcopy(view[0])
        else:
            assert self.leader_url is not None
            leader = urlsplit(self.leader_url)
            document = {"members": [
                gossip_member(leader.hostname or "", leader.port or 0, "Leader"),
                gossip_member(host, port, "Follower", instance_id)]}
        document["serverIp"], document["serverPort"] = host, port
        return document
