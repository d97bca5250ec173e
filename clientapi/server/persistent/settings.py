"""Settings of a subscription group: parsing the HTTP body, validation, the `config` rendering.

Names and defaults are the real server's HTTP ones (digest §11.2). Input keys are matched
case-insensitively, like the real server's JSON deserializer; output uses its camelCase.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

from ..core.errors import BadRequest

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

_INVALID_BODY = "Invalid subscription settings"  # our text: the real server fails deserialization with a 400


def _coerce(value: Any, kind: str) -> Any:
    # The real deserializer is lenient about JSON types the way Json.NET is: "10" and 10.0 become 10,
    # "true" becomes True; anything else is a bad request.
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise BadRequest(_INVALID_BODY)
    if isinstance(value, bool):
        raise BadRequest(_INVALID_BODY)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise BadRequest(_INVALID_BODY)


def parse_settings(body: Optional[dict]) -> GroupSettings:
    """Settings from a PUT/POST body (None or {} = all defaults). Raises BadRequest."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest(_INVALID_BODY)
    values: dict[str, Any] = {}
    strategy: Optional[str] = None
    prefer_round_robin = True  # the real server's default when neither key is given
    start_position: Optional[str] = None
    for key, value in body.items():
        lowered = key.lower()
        if lowered in _FIELDS:
            if value is None:
                continue
            field, kind = _FIELDS[lowered]
            values[field] = _coerce(value, kind)
        elif lowered == "namedconsumerstrategy":
            strategy = value if isinstance(value, str) else None
        elif lowered == "preferroundrobin" and value is not None:
            prefer_round_robin = _coerce(value, "bool")
        elif lowered == "startposition" and value is not None:
            start_position = str(value)
    if start_position is not None:  # v21+: overrides startFrom
        try:
            values["start_from"] = int(start_position)
        except ValueError:
            raise BadRequest(_INVALID_BODY) from None
    if not strategy:  # only consulted when no strategy is named (old clients)
        strategy = ROUND_ROBIN if prefer_round_robin else DISPATCH_TO_SINGLE
    values["named_consumer_strategy"] = _canonical_strategy(strategy)
    settings = GroupSettings(**values)
    validate(settings)
    return settings


def _canonical_strategy(name: str) -> str:
    for known in STRATEGIES:
        if known == name:
            return known
    raise BadRequest(f"Consumer strategy {name} does not exist.")


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
