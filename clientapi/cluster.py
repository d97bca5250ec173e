"""Talking to a cluster: read its gossip, find the leader, route around nodes that fail.

Pure part (no I/O): `parse_seeds`, `parse_gossip` (both shapes: 3.x-5.x members with
`externalHttpIp/Port` and states Master/Slave, 20+ members with `httpEndPointIp/Port` and
states Leader/Follower), `ClusterView` (which member leads, which follow).

Async part: `ClusterRouter` keeps the last view and the addresses it knows (the seeds
and every member seen), asks them for `/gossip` when it has no usable view, and tells the
transport where to send each request: to the leader by default; a plain stream or `$all`
read to a follower when the client asked for `prefer="follower"`. The view is dropped
(and the next request rediscovers) when a node fails or a redirect shows the leader moved,
and refreshed when it is older than a minute. Gossip is anonymous on every server
version, so discovery never sends credentials.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from typing import Any, Awaitable, Callable, Iterable, List, Optional, Sequence, Tuple

from .errors import ConnectionFailure, EventStoreError, ProtocolError
from .retry import DEFAULT_CLUSTER_BACKOFF, Backoff, as_backoff
from .wire import Request, Response
from .wire.media import REQUIRE_LEADER_HEADERS
from .wire.status import error_for

__all__ = ["Member", "ClusterView", "ClusterRouter", "NoLeader", "parse_seeds", "parse_gossip",
           "router_for", "url_of", "leader_headers", "transport_options", "LEADER_STATES", "FOLLOWER_STATES", "PREFERENCES",
           "DEFAULT_PORT"]

log = logging.getLogger("clientapi.cluster")

DEFAULT_PORT = 2113
DEFAULT_REFRESH_SECONDS = 60.0
LEADER_STATES = frozenset({"leader", "master"})
FOLLOWER_STATES = frozenset({"follower", "slave"})
READ_ONLY_STATES = frozenset({"readonlyreplica"})
PREFERENCES = ("leader", "follower", "random")

Address = Tuple[str, int]


class NoLeader(ConnectionFailure):
    """No node answered with a view that has a live leader (all down, or an election is
    going on). Nothing was sent to the cluster, so the request can be tried again."""


# --- seeds ------------------------------------------------------------------------------
def parse_seed(text: str, default_port: int = DEFAULT_PORT) -> Address:
    """"host", "host:port", "[v6]:port" or "v6" to (host, port)."""
    if not isinstance(text, str):
        raise TypeError("a seed must be a str like 'host:port', not {}".format(type(text).__name__))
    value = text.strip()
    if not value:
        raise ValueError("empty seed address")
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError("bad seed address {!r}".format(text))
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    else:  # a bare name or a bare IPv6 address
        host, port_text = value, ""
    if not host:
        raise ValueError("bad seed address {!r}".format(text))
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError("bad port in seed address {!r}".format(text)) from None
    if not 0 < port < 65536:
        raise ValueError("bad port in seed address {!r}".format(text))
    return host, port


def parse_seeds(seeds: Any, default_port: int = DEFAULT_PORT) -> Tuple[Address, ...]:
    """"a:2113,b:2113", or an iterable of "host:port" strings / (host, port) pairs."""
    if isinstance(seeds, str):
        items: Iterable[Any] = [part for part in seeds.split(",") if part.strip()]
    else:
        items = seeds
    addresses: List[Address] = []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2:
            host, port = item
            if not isinstance(host, str) or isinstance(port, bool) or not isinstance(port, int):
                raise TypeError("a seed pair must be (str host, int port)")
            address = parse_seed("[{}]:{}".format(host, port) if ":" in host else
                                 "{}:{}".format(host, port))
        else:
            address = parse_seed(item, default_port)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ValueError("give at least one seed address")
    return tuple(addresses)


def format_address(address: Address) -> str:
    host, port = address
    return "[{}]:{}".format(host, port) if ":" in host else "{}:{}".format(host, port)


# --- gossip -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    """One member of a gossip document. `state` as the server spells it ("Master",
    "Follower"...); `role` is the generation-neutral "leader", "follower",
    "readonlyreplica" or the lower-cased state for anything else."""

    instance_id: str
    state: str
    is_alive: bool
    host: str
    port: int
    epoch_number: int = -1
    writer_checkpoint: int = -1
    timestamp: str = ""

    @property
    def role(self) -> str:
        lowered = self.state.lower()
        if lowered in LEADER_STATES:
            return "leader"
        if lowered in FOLLOWER_STATES:
            return "follower"
        return lowered

    @property
    def address(self) -> Address:
        return self.host, self.port

    @property
    def is_leader(self) -> bool:
        return self.is_alive and self.role == "leader"

    @property
    def is_follower(self) -> bool:
        return self.is_alive and self.role == "follower"


@dataclass(frozen=True)
class ClusterView:
    members: Tuple[Member, ...] = ()
    server: Optional[Address] = None  # serverIp/serverPort: the answering node's gossip endpoint

    def leader(self) -> Optional[Member]:
        """The live leader. Several live members can claim it while an old leader has not
        yet noticed it was replaced: the one of the newest epoch wins."""
        leaders = [member for member in self.members if member.is_leader]
        if not leaders:
            return None
        return max(leaders, key=lambda member: (member.epoch_number, member.writer_checkpoint))

    def followers(self) -> List[Member]:
        return [member for member in self.members if member.is_follower]

    def addresses(self) -> List[Address]:
        """The HTTP addresses of the live members, leader first."""
        ordered = sorted((m for m in self.members if m.is_alive), key=lambda m: not m.is_leader)
        return [member.address for member in ordered]

    def choose(self, prefer: str = "leader", pick: Callable[[Sequence[Member]], Member] = random.choice
               ) -> Optional[Member]:
        """The member to read from: the leader, a random follower (the leader when there
        is none), or any live leader/follower."""
        if prefer not in PREFERENCES:
            raise ValueError("prefer must be one of {}".format(", ".join(PREFERENCES)))
        leader = self.leader()
        if prefer == "leader":
            return leader
        followers = self.followers()
        if prefer == "follower":
            return pick(followers) if followers else leader
        candidates = followers + ([leader] if leader is not None else [])
        return pick(candidates) if candidates else None


def _text(member: dict, *names: str) -> Optional[str]:
    for name in names:
        value = member.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _number(member: dict, *names: str) -> Optional[int]:
    for name in names:
        value = member.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


# Where a member's client-facing HTTP endpoint is, newest generation first.
HTTP_HOST_FIELDS = ("httpEndPointIp", "externalHttpIp")
HTTP_PORT_FIELDS = ("httpEndPointPort", "externalHttpPort")


def parse_member(member: Any) -> Member:
    if not isinstance(member, dict):
        raise ValueError("a gossip member must be an object")
    state = _text(member, "state")
    host = _text(member, *HTTP_HOST_FIELDS)
    port = _number(member, *HTTP_PORT_FIELDS)
    alive = member.get("isAlive")
    if state is None or host is None or port is None or not isinstance(alive, bool):
        raise ValueError("a gossip member lacks state, isAlive or its HTTP endpoint")
    return Member(instance_id=str(member.get("instanceId", "")), state=state, is_alive=alive,
                  host=host, port=port, epoch_number=_number(member, "epochNumber") or 0,
                  writer_checkpoint=_number(member, "writerCheckpoint") or 0,
                  timestamp=str(member.get("timeStamp", "")))


def parse_gossip(document: Any) -> ClusterView:
    """A `/gossip` document (parsed JSON, or its text) of any server generation."""
    if isinstance(document, (bytes, str)):
        try:
            document = json.loads(document)
        except ValueError as error:
            raise ValueError("gossip is not JSON: {}".format(error)) from None
    if not isinstance(document, dict) or not isinstance(document.get("members"), list):
        raise ValueError("gossip must be an object with a members array")
    members = tuple(parse_member(member) for member in document["members"])
    server_ip, server_port = document.get("serverIp"), document.get("serverPort")
    server = (server_ip, server_port) if isinstance(server_ip, str) and isinstance(server_port, int) \
        else None
    return ClusterView(members, server)


# --- routing ------------------------------------------------------------------------------
GossipFetcher = Callable[[Address], Awaitable[Any]]
# Anonymous on every version (no credentials are sent to nodes only asked for gossip).
GOSSIP_REQUEST = Request("GET", "/gossip", headers={"Accept": "application/json"})


def url_of(address: Address, https: bool) -> str:
    return "{}://{}".format("https" if https else "http", format_address(address))


def leader_headers() -> dict:
    """What a request routed to the leader carries, so that a node that is no longer the
    leader answers with a 307 to the one that is (both names: 3.x-5.x and 20+)."""
    return {name: "True" for name in REQUIRE_LEADER_HEADERS}


def gossip_from(response: Response) -> Any:
    """The JSON document of a `/gossip` answer (raising the client's errors)."""
    if response.status != 200:
        raise error_for(response)
    try:
        return json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("gossip is not JSON", request=GOSSIP_REQUEST.describe()) from None


def reads_may_use_follower(method: str, path: str) -> bool:
    """Plain stream and `$all` reads; everything else (writes, subscriptions, projections,
    users, admin) belongs to the leader."""
    return method == "GET" and path.startswith("/streams/")


@dataclass
class ClusterRouter:
    """Where each request goes. `fetch_gossip(address)` returns the parsed gossip document
    of the node at `address` (raising the client's errors); the transport supplies it."""

    seeds: Tuple[Address, ...]
    fetch_gossip: GossipFetcher
    prefer: str = "leader"
    view: Optional[ClusterView] = None
    # A view this old is refreshed before the next request (members come and go even when
    # nothing fails); if the refresh finds no leader the old view is kept.
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS
    clock: Callable[[], float] = time.monotonic
    _known: List[Address] = field(default_factory=list, init=False)
    _failed: set = field(default_factory=set, init=False)
    _view_time: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.prefer not in PREFERENCES:
            raise ValueError("prefer must be one of {}".format(", ".join(PREFERENCES)))
        for seed in self.seeds:
            if seed not in self._known:
                self._known.append(seed)

    def candidates(self) -> List[Address]:
        """Whom to ask for gossip: members seen alive, then seeds, nodes that just failed last."""
        ordered = list(self._known)
        if self.view is not None:
            ordered = self.view.addresses() + [a for a in ordered if a not in self.view.addresses()]
        return sorted(ordered, key=lambda address: address in self._failed)

    async def discover(self) -> ClusterView:
        """Ask the known nodes in turn; the first view with a live leader wins."""
        problems: List[str] = []
        for address in self.candidates():
            try:
                view = parse_gossip(await self.fetch_gossip(address))
            except (EventStoreError, ValueError) as error:
                problems.append("{}: {}".format(format_address(address), error))
                continue
            for member_address in view.addresses():
                if member_address not in self._known:
                    self._known.append(member_address)
            if view.leader() is None:
                problems.append("{}: no live leader in its gossip".format(format_address(address)))
                continue
            self.view, self._view_time = view, self.clock()
            self._failed.clear()
            leader = view.leader()
            log.info("cluster view from %s: leader %s, %d follower(s)", format_address(address),
                     format_address(leader.address) if leader else None, len(view.followers()))
            return view
        self.view = None
        raise NoLeader("no node of the cluster answered with a live leader ({})".format(
            "; ".join(problems) or "no address to ask"))

    async def address_for(self, method: str, path: str) -> Tuple[Address, bool]:
        """(address, to_leader) for a request; discovers when there is no usable view."""
        view = self.view
        if view is not None and self.clock() - self._view_time > self.refresh_seconds:
            try:
                view = await self.discover()
            except NoLeader:
                self.view, self._view_time = view, self.clock()  # keep what worked so far
        if view is None:
            view = await self.discover()
        if reads_may_use_follower(method, path) and self.prefer != "leader":
            member = view.choose(self.prefer)
        else:
            member = view.leader()
        if member is None:  # cannot happen with a view from discover(); be safe anyway
            view = await self.discover()
            member = view.leader()
            assert member is not None
        return member.address, member.is_leader

    def note_redirect(self, location: str) -> None:
        """A request routed to the leader was redirected to `location`: when that is not
        the leader we know, the leadership moved, so the next request rediscovers."""
        leader = self.view.leader() if self.view is not None else None
        parts = urlsplit(location)
        if leader is not None and parts.hostname and (parts.hostname, parts.port) != leader.address:
            log.info("redirected to %s: the leader moved, rediscovering on the next request",
                     format_address((parts.hostname, parts.port or 0)))
            self.view = None

    def node_failed(self, address: Address) -> None:
        """`address` did not answer: forget the view, so the next request rediscovers."""
        if self.view is not None:
            log.warning("cluster node %s failed; rediscovering on the next request",
                        format_address(address))
        self._failed.add(address)
        self.view = None


def router_for(seeds: Sequence[Address], prefer: str, fetch_gossip: GossipFetcher) -> Optional[ClusterRouter]:
    """The transport's router: None when the client talks to one node (no seeds)."""
    if not seeds:
        return None
    return ClusterRouter(tuple(seeds), fetch_gossip, prefer)


def transport_options(seeds: Any, prefer: str, retries: Any, default_port: int = DEFAULT_PORT) -> dict:
    """The Client's `seeds`, `prefer` and `retries` checked and turned into TransportSettings
    fields. Without `retries` a cluster client retries (failover needs it), one node not."""
    addresses = parse_seeds(seeds, default_port) if seeds is not None else ()
    if prefer not in PREFERENCES:
        raise ValueError("prefer must be one of {}".format(", ".join(PREFERENCES)))
    if retries is None:
        backoff = DEFAULT_CLUSTER_BACKOFF if addresses else Backoff.off()
    else:
        backoff = as_backoff(retries)
    return dict(seeds=addresses, prefer=prefer, backoff=backoff, retries=backoff.max_retries)
