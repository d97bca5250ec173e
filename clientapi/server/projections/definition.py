"""A projection's persisted definition (`$ProjectionUpdated` in `$projections-<name>`) and
its config document (`GET/PUT /projection/<name>/config`)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional

from ..core.model import ANONYMOUS, Principal

CONTINUOUS = "Continuous"
ONE_TIME = "OneTime"
TRANSIENT = "Transient"
MODES = (CONTINUOUS, ONE_TIME, TRANSIENT)

JS_HANDLER = "JS"

# Config fields: (python name, camelCase name). Order is the order of the JSON document.
_CONFIG_FIELDS = (
    ("emit_enabled", "emitEnabled"),
    ("track_emitted_streams", "trackEmittedStreams"),
    ("checkpoint_after_ms", "checkpointAfterMs"),
    ("checkpoint_handled_threshold", "checkpointHandledThreshold"),
    ("checkpoint_unhandled_bytes_threshold", "checkpointUnhandledBytesThreshold"),
    ("pending_events_threshold", "pendingEventsThreshold"),
    ("max_write_batch_length", "maxWriteBatchLength"),
    ("max_allowed_writes_in_flight", "maxAllowedWritesInFlight"),
    ("projection_execution_timeout", "projectionExecutionTimeout"),
)


class InvalidConfig(ValueError):
    pass


@dataclass
class ProjectionConfig:
    emit_enabled: bool = False
    track_emitted_streams: bool = False
    checkpoint_after_ms: int = 0
    checkpoint_handled_threshold: int = 4000
    checkpoint_unhandled_bytes_threshold: int = 10_000_000
    pending_events_threshold: int = 5000
    max_write_batch_length: int = 500
    max_allowed_writes_in_flight: int = 0
    projection_execution_timeout: Optional[int] = None  # ms; None = the node's default

    def document(self) -> dict:
        """The config JSON: false, 0 and null values are left out, as the real server does."""
        return {camel: getattr(self, name) for name, camel in _CONFIG_FIELDS if getattr(self, name)}

    @classmethod
    def from_document(cls, document: Any) -> "ProjectionConfig":
        """A PUT replaces every field; what is missing becomes false/0/null. Keys match
        case-insensitively."""
        if not isinstance(document, dict):
            raise InvalidConfig("Failed to parse the projection config")
        lowered = {str(k).lower(): v for k, v in document.items()}
        values: dict[str, Any] = {}
        for name, camel in _CONFIG_FIELDS:
            value = lowered.get(camel.lower())
            if name in ("emit_enabled", "track_emitted_streams"):
                if value is not None and not isinstance(value, bool):
                    raise InvalidConfig("Failed to parse the projection config")
                values[name] = bool(value)
            elif name == "projection_execution_timeout":
                if value is not None:
                    if isinstance(value, bool) or not isinstance(value, int):
                        raise InvalidConfig("Failed to parse the projection config")
                    if value <= 0:
                        raise InvalidConfig("projectionExecutionTimeout should be positive")
                values[name] = value
            else:
                if value is None:
                    value = 0
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidConfig("Failed to parse the projection config")
                values[name] = value
        return cls(**values)


@dataclass
class ProjectionDefinition:
    name: str
    mode: str
    query: str
    handler_type: str = JS_HANDLER  # "JS", or "native:<name>" for the standard projections
    enabled: bool = True
    checkpoints_enabled: bool = True
    projection_id: int = 0
    epoch: int = -1
    version: int = 0
    run_as: Principal = ANONYMOUS  # the creator: the projection reads and emits with their rights
    config: ProjectionConfig = field(default_factory=ProjectionConfig)

    @property
    def is_system(self) -> bool:
        return self.handler_type.startswith("native:")

    @property
    def is_persisted(self) -> bool:
        return self.mode != TRANSIENT

    def to_json(self) -> bytes:
        document = {
            "handlerType": self.handler_type,
            "query": self.query,
            "mode": self.mode,
            "enabled": self.enabled,
            "emitEnabled": self.config.emit_enabled,
            "checkpointsDisabled": not self.checkpoints_enabled,
            "trackEmittedStreams": self.config.track_emitted_streams,
            "projectionId": self.projection_id,
            "epoch": self.epoch,
            "version": self.version,
            "runAs": _run_as_document(self.run_as),
            "config": asdict(self.config),
        }
        return json.dumps(document).encode("utf-8")

    @classmethod
    def from_json(cls, name: str, data: bytes) -> "ProjectionDefinition":
        document = json.loads(data.decode("utf-8"))
        known = {f.name for f in fields(ProjectionConfig)}
        config = ProjectionConfig(**{k: v for k, v in (document.get("config") or {}).items() if k in known})
        return cls(
            name=name, mode=document["mode"], query=document.get("query", ""),
            handler_type=document.get("handlerType", JS_HANDLER), enabled=bool(document.get("enabled")),
            checkpoints_enabled=not document.get("checkpointsDisabled", False),
            projection_id=int(document.get("projectionId", 0)), epoch=int(document.get("epoch", -1)),
            version=int(document.get("version", 0)), run_as=_run_as_from(document.get("runAs")), config=config)


def _run_as_document(principal: Principal) -> Optional[dict]:
    """The creator as the real server records it: login and roles (groups and the login)."""
    if principal.is_anonymous:
        return None
    return {"name": principal.login, "roles": list(principal.roles)}


def _run_as_from(document: Any) -> Principal:
    """Rights come only from the recorded roles (a name alone grants nothing, so a user
    called like the node gains nothing); anything unreadable runs as anonymous."""
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        return ANONYMOUS
    login = document["name"]
    roles = document.get("roles")
    groups = tuple(r for r in roles if isinstance(r, str) and r != login) if isinstance(roles, list) else ()
    return Principal(login, groups)
