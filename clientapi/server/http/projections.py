"""Projections management over HTTP (digest §12): `/projections/...` for collections and
creation, `/projection/{name}/...` for one projection. When the node runs without
projections (mode "none") every one of these paths is a 404, like the real server's
unregistered controller.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from ..atom.xml import XML_DECLARATION, json_to_xml
from ..core import errors
from ..projections import OperationFailed
from ..projections.definition import CONTINUOUS, ONE_TIME, TRANSIENT, InvalidConfig, ProjectionConfig
from ..projections.statistics import query_config_document, statistics_document
from . import media
from .base import HttpProblem, NodeHandler, bad_request

CODECS = (media.APPLICATION_JSON, media.TEXT_XML)
NO_CACHE = "max-age=0, no-cache, must-revalidate"
COMMAND_MESSAGE_TYPE_ID = 285  # what <= v23 servers put beside "name"; clients read only "name"
MODE_BY_PATH = {"continuous": CONTINUOUS, "onetime": ONE_TIME, "transient": TRANSIENT}
_TRUE = ("yes", "true", "1")
_FALSE = ("no", "false", "0")


class ProjectionsHandlerBase(NodeHandler):
    def compute_etag(self) -> Optional[str]:  # the real server sends no ETag on these routes
        return None

    async def prepare(self) -> None:
        subsystem = self.node.projections
        if subsystem is None or not getattr(subsystem, "enabled", False):
            raise HttpProblem(404, "Not Found")
        await super().prepare()
        if self.request.method != "OPTIONS":
            self.require_authenticated()  # v20+: no anonymous access to the projections API

    @property
    def projections(self) -> Any:
        return self.node.projections

    def flag(self, name: str, default: bool) -> bool:
        """`yes|true|1` / `no|false|0` in any case; anything else means the default."""
        value = self.optional_flag(name)
        return default if value is None else value

    def optional_flag(self, name: str) -> Optional[bool]:
        """The flag's value, or None when it is absent or not a recognised value."""
        lowered = (self.get_query_argument(name, None) or "").strip().lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None

    def require_source_content_type(self) -> None:
        """Projection sources are raw text: any Content-Type, but there must be one."""
        if not self.request.headers.get("Content-Type"):
            raise HttpProblem(415, "Invalid or missing Content-Type")

    def source_text(self) -> str:
        return self.request.body.decode("utf-8", errors="replace")

    def reply_document(self, document: Any, status: int = 200, root: str = "projection",
                       cache: bool = True) -> None:
        if cache:
            self.set_header("Cache-Control", NO_CACHE)
            self.set_header("Vary", "Accept")
        if self.media_type == media.TEXT_XML:
            self.reply(status, (XML_DECLARATION + json_to_xml(root, document)).encode("utf-8"), media.TEXT_XML)
        else:
            self.reply_json(document, status)

    def reply_name(self, name: str, status: int = 200) -> None:
        self.reply_document({"msgTypeId": COMMAND_MESSAGE_TYPE_ID, "name": name}, status, cache=False)

    def statistics(self, projection: Any) -> dict:
        return statistics_document(projection, self.base_url, self.core.head_position())

    def require_manager(self, projection: Any) -> None:
        """Any user may change user projections; system projections need ops or admins."""
        if projection.definition.is_system:
            self.require_ops()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if isinstance(error, OperationFailed):
            kwargs["exc_info"] = (HttpProblem, HttpProblem(500, "Failed", errors.message_of(error),
                                                           content_type=media.TEXT_PLAIN), None)
        super().write_error(status_code, **kwargs)


class ListHandler(ProjectionsHandlerBase):
    """GET any / all-non-transient."""

    RESPONSE_CODECS = {"GET": CODECS}

    async def get(self, kind: str) -> None:
        documents = [self.statistics(p) for p in self.projections.list(kind)]
        self.reply_document({"projections": documents}, root="projections")


class ModeHandler(ListHandler):
    """GET onetime / continuous / transient lists them; POST creates one."""

    RESPONSE_CODECS = {"GET": CODECS, "POST": CODECS}

    async def post(self, kind: str) -> None:
        mode = MODE_BY_PATH[kind]
        self.require_source_content_type()
        handler_type = self.get_query_argument("type", "JS") or "JS"
        if handler_type.lower() != "js":
            raise OperationFailed(f"Unknown handler type: {handler_type}")
        emit = self.flag("emit", False)
        projection = await self.projections.create(
            self.get_query_argument("name", None), mode, self.source_text(),
            enabled=self.flag("enabled", True), emit=emit and mode != TRANSIENT,
            checkpoints=self.flag("checkpoints", False) if mode == ONE_TIME else None,
            track_emitted_streams=self.flag("trackemittedstreams", False),
            run_as=self.principal)
        self.set_header("Location", f"{self.base_url}/projection/{projection.name}")
        self.reply_name(projection.name, 201)


class StatusHandler(ProjectionsHandlerBase):
    RESPONSE_CODECS = {"GET": CODECS, "DELETE": CODECS}

    async def get(self, name: str) -> None:
        self.reply_document(self.statistics(self.projections.get(name)))

    async def delete(self, name: str) -> None:
        projection = self.projections.get(name)
        self.require_manager(projection)
        await self.projections.delete(
            name, delete_checkpoint_stream=self.flag("deleteCheckpointStream", False),
            delete_state_stream=self.flag("deleteStateStream", False),
            delete_emitted_streams=self.flag("deleteEmittedStreams", False))
        self.reply_name(name)


class StatisticsHandler(ProjectionsHandlerBase):
    RESPONSE_CODECS = {"GET": CODECS}

    async def get(self, name: str) -> None:
        document = {"projections": [self.statistics(self.projections.get(name))]}
        self.reply_document(document, root="projections")


class QueryHandler(ProjectionsHandlerBase):
    RESPONSE_CODECS = {"PUT": CODECS}

    async def get(self, name: str) -> None:
        projection = self.projections.get(name)
        if self.flag("config", False):
            self.media_type = self.negotiate(CODECS)
            source = await self.projections.source_of(name)
            self.reply_document(query_config_document(projection.definition, source))
            return
        self.set_header("Cache-Control", NO_CACHE)
        self.reply(200, projection.definition.query.encode("utf-8"), "application/javascript")

    async def put(self, name: str) -> None:
        projection = self.projections.get(name)
        self.require_manager(projection)
        self.require_source_content_type()
        emit = self.optional_flag("emit")
        await self.projections.update_query(name, self.source_text(), emit)
        self.reply_name(name)


class _StateLikeHandler(ProjectionsHandlerBase):
    """state and result: the raw JSON text, with the position in ES-Position."""

    RESPONSE_CODECS = {"GET": CODECS}

    def lookup(self, name: str, partition: str) -> tuple[Optional[str], Optional[dict]]:
        raise NotImplementedError

    async def get(self, name: str) -> None:
        text, position = self.lookup(name, self.get_query_argument("partition", "") or "")
        self.set_header("Cache-Control", NO_CACHE)
        self.set_header("Vary", "Accept")
        if position is not None:  # running: where it is, even for a partition with no state
            position_text = json.dumps(position, separators=(",", ":"))
            self.set_header("ES-Position", position_text)
            self.set_header("Kurrent-Position", position_text)
        self.reply(200, (text or "").encode("utf-8"), media.APPLICATION_JSON)


class StateHandler(_StateLikeHandler):
    def lookup(self, name: str, partition: str) -> tuple[Optional[str], Optional[dict]]:
        return self.projections.state_of(name, partition)


class ResultHandler(_StateLikeHandler):
    def lookup(self, name: str, partition: str) -> tuple[Optional[str], Optional[dict]]:
        return self.projections.result_of(name, partition)


class CommandHandler(ProjectionsHandlerBase):
    RESPONSE_CODECS = {"POST": CODECS}

    async def post(self, name: str, command: str) -> None:
        projection = self.projections.get(name)
        self.require_manager(projection)
        await getattr(self.projections, command)(name)
        self.reply_name(name)


class ConfigHandler(ProjectionsHandlerBase):
    RESPONSE_CODECS = {"GET": CODECS, "PUT": CODECS}
    REQUEST_CODECS = {"PUT": (media.APPLICATION_JSON,)}

    async def get(self, name: str) -> None:
        config = self.projections.config_of(name)
        self.require_ops()
        self.reply_document(config.document(), root="config")

    async def put(self, name: str) -> None:
        self.projections.get(name)
        self.require_ops()
        try:
            config = ProjectionConfig.from_document(json.loads(self.request.body or b"null"))
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            text = str(error) if isinstance(error, InvalidConfig) else "Failed to parse the projection config"
            raise bad_request(text) from None
        await self.projections.update_config(name, config)
        self.reply_name(name)


class RestartHandler(ProjectionsHandlerBase):
    """v20+: restarts the whole subsystem (every running projection resumes from its checkpoint)."""

    RESPONSE_CODECS = {"POST": CODECS}

    async def post(self) -> None:
        self.require_ops()
        await self.projections.restart()
        self.reply(200, b"Restarting", media.TEXT_PLAIN)


_NAME = r"([^/]+)"
ROUTES = [
    (r"/projections/restart", RestartHandler),
    (r"/projections/(any|all-non-transient)", ListHandler),
    (r"/projections/(onetime|continuous|transient)", ModeHandler),
    (rf"/projection/{_NAME}/statistics", StatisticsHandler),
    (rf"/projection/{_NAME}/query", QueryHandler),
    (rf"/projection/{_NAME}/state", StateHandler),
    (rf"/projection/{_NAME}/result", ResultHandler),
    (rf"/projection/{_NAME}/command/(enable|disable|reset|abort)", CommandHandler),
    (rf"/projection/{_NAME}/config", ConfigHandler),
    (rf"/projection/{_NAME}", StatusHandler),
]
