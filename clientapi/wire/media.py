"""Media types and header names of the HTTP API, for every server generation.

Requests use the `ES-` names and `vnd.eventstore` types, which every server from 3.x to
KurrentDB 25 accepts; responses are read under either generation's names."""
from __future__ import annotations

EVENTS_JSON = "application/vnd.eventstore.events+json"
ATOM_JSON = "application/vnd.eventstore.atom+json"
JSON = "application/json"

FEED_MEDIA_TYPES = frozenset({
    ATOM_JSON, "application/vnd.kurrent.atom+json", JSON,
})
JSON_MEDIA_TYPES = FEED_MEDIA_TYPES | {"application/vnd.eventstore.event+json",
                                       "application/vnd.kurrent.event+json"}

EXPECTED_VERSION = "ES-ExpectedVersion"
HARD_DELETE = "ES-HardDelete"
RESOLVE_LINK_TOS = "ES-ResolveLinkTos"
# 3.x-5.x know only RequireMaster, 20+ prefer RequireLeader: send both together.
REQUIRE_LEADER_HEADERS = ("ES-RequireLeader", "ES-RequireMaster")
CURRENT_VERSION_HEADERS = ("Kurrent-CurrentVersion", "ES-CurrentVersion")
