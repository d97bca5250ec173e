"""Settings of a subscription group: parsing the HTTP body, validation, the `config` rendering.

Names and defaults are the real server's HTTP ones (digest §11.2). Input keys are matched
case-insensitively, like the real server's JSON deserializer; output uses its camelCase.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any, Optional

from ..core.errors import BadRequest

log = logging.getLogger(__name__)

ROUND_ROBIN = "RoundRobin"
DISPATCH_TO_SINGLE = "DispatchToSingle"
PINNED = "Pinned"
PINNED_BY_CORRELATION = "PinnedByCorrelation"
STRATEGIES = (ROUND_ROBIN, DISPATCH_TO_SINGLE, PINNED, PINNED_BY_CORRELATION)


@dataclass(frozen=True)
class GroupSettings:
    resolve_linktos: bool = False
    start_from: int = 0  # event number; -1 = from the end of the stream at creation
    message_timeout_ms: int = 10000
    extra_statistics: bool = False
    max_retry_count: int = 10
    live_buffer_size: int = 500
    buffer_size: int = 500
    read_batch_size: int = 20
    check_point_after_ms: int = 1000
    min_check_point_count: int = 10
    max_check_point_count: int = 500
    max_subscriber_count: int = 10
    named_consumer_strategy: str = ROUND_ROBIN

    def to_config_json(self) -> dict:
        """The `config` object of the detail document, in the real server's field order."""
        return {
            "resolveLinktos": self.resolve_linktos,
            "startFrom": self.start_from,
            "startPosition": str(self.start_from),
            "messageTimeoutMilliseconds": self.message_timeout_ms,
            "extraStatistics": self.extra_statistics,
            "maxRetryCount": self.max_retry_count,
            "liveBufferSize": self.live_buffer_size,
            "bufferSize": self.buffer_size,
            "readBatchSize": self.read_batch_size,
            "preferRoundRobin": self.named_consumer_strategy == ROUND_ROBIN,
            "checkPointAfterMilliseconds": self.check_point_after_ms,
            "minCheckPointCount": self.min_check_point_count,
            "maxCheckPointCount": self.max_check_point_count,
            "maxSubscriberCount": self.max_subscriber_count,
            "namedConsumerStrategy": self.named_consumer_strategy,
        }

    def to_storage(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_storage(cls, data: dict) -> "GroupSettings":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# wire name (lower-cased) -> (field, kind)
_FIELDS: dict[str, tuple[str, str]] = {
    "resolvelinktos": ("resolve_linktos", "bool"),
    "startfrom": ("start_from", "int"),
    "messagetimeoutmilliseconds": ("message_timeout_ms", "int"),
    "extrastatistics": ("extra_statistics", "bool"),
    "maxretrycount": ("max_retry_count", "int"),
    "livebuffersize": ("live_buffer_size", "int"),
    "buffersize": ("buffer_size", "int"),
    "readbatchsize": ("read_batch_size", "int"),
    "checkpointaftermilliseconds": ("check_point_after_ms", "int"),
    "mincheckpointcount": ("min_check_point_count", "int"),
    "maxcheckpointcount": ("max_check_point_count", "int"),
    "maxsubscribercount": ("max_subscriber_count", "int"),
}

class UnknownStrategy(BadRequest):
    """The named consumer strategy does not exist (the real server's `Fail` result)."""


class _Unreadable(Exception):
    """The body does not deserialize into the settings object."""


def _coerce(value: Any, kind: str) -> Any:
    # Json.NET's conversions: "10" and 10.0 become 10, "true" becomes True, 1 becomes True;
    # anything else fails the whole body.
    if kind == "bool":
        if isinstance(value, (bool, int)) and not isinstance(value, float):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _Unreadable
    if kind == "str":
        if isinstance(value, (dict, list)):
            raise _Unreadable
        return value if isinstance(value, str) else json.dumps(value)
    if isinstance(value, bool):
        raise _Unreadable
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _Unreadable


def _read_body(body: Any) -> dict[str, Any]:
    """The members the real server's deserializer would set, by wire name (lower-cased).

    Like it (Json.NET with NullValueHandling and DefaultValueHandling Ignore), a null, 0 or
    false value leaves the member at its default: `"maxRetryCount": 0` means 10.
    """
    if not isinstance(body, dict):
        raise _Unreadable
    found: dict[str, Any] = {}
    for key, value in body.items():
        lowered = key.lower()
        kind = "str" if lowered in ("namedconsumerstrategy", "startposition") else (
            "bool" if lowered in ("preferroundrobin",) else _FIELDS.get(lowered, (None, None))[1])
        if kind is None or value is None:
            continue
        coerced = _coerce(value, kind)
        if coerced is False or (kind == "int" and coerced == 0):
            continue
        found[lowered] = coerced
    return found


def parse_settings(body: Any) -> GroupSettings:
    """Settings from a PUT/POST body (already parsed JSON; None = no body).

    A body that does not deserialize (not an object, wrongly typed values) counts as no
    body at all, as on the real server: every setting takes its default. Raises BadRequest
    for the real server's validation failures and UnknownStrategy for a strategy it lacks.
    """
    try:
        found = _read_body(body if body is not None else {})
    except _Unreadable:
        found = {}
        log.info("unreadable subscription settings; using the defaults")
    values = {_FIELDS[name][0]: value for name, value in found.items() if name in _FIELDS}
    if "startposition" in found:  # v21+: overrides startFrom
        try:
            values["start_from"] = int(found["startposition"])
        except ValueError:
            raise BadRequest(f"Start position ({found['startposition']}) is not a number") from None
    strategy = found.get("namedconsumerstrategy", ROUND_ROBIN)
    if not strategy:  # old clients: an empty name defers to preferRoundRobin
        strategy = ROUND_ROBIN if found.get("preferroundrobin") else DISPATCH_TO_SINGLE
    settings = GroupSettings(**values, named_consumer_strategy=strategy)
    validate(settings)
    if strategy not in STRATEGIES:
        raise UnknownStrategy(f"Consumer strategy {strategy} does not exist.")
    return settings


def validate(settings: GroupSettings) -> None:
    """The real server's checks, in its order and with its texts."""
    if settings.buffer_size <= 0:
        raise BadRequest(f"Buffer Size ({settings.buffer_size}) must be positive")
    if settings.live_buffer_size <= 0:
        raise BadRequest(f"Live Buffer Size ({settings.live_buffer_size}) must be positive")
    if settings.read_batch_size <= 0:
        raise BadRequest(f"Read Batch Size ({settings.read_batch_size}) must be positive")
    if not settings.buffer_size > settings.read_batch_size:
        raise BadRequest(f"BufferSize ({settings.buffer_size}) must be larger than "
                         f"ReadBatchSize ({settings.read_batch_size})")
    if settings.start_from < -1:
        raise BadRequest(f"Start from ({settings.start_from}) must be -1 or a non-negative event number")
    if settings.message_timeout_ms < 0 or settings.max_retry_count < 0:
        raise BadRequest("Message timeout and max retry count must not be negative")
