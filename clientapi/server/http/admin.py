"""`/admin/...` (digest §16.4): shutdown, scavenge, merge indexes, node commands, login.

Nothing here needs work from storage: a scavenge of this node's log has nothing to
reclaim, so it completes at once and leaves the real server's trail in `$scavenges`.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Optional

from ..atom.xml import XML_DECLARATION, json_to_xml
from ..core import errors
from ..core.model import ANY, SYSTEM, NewEvent
from . import media
from .base import NodeHandler, bad_request
from .users import DETAILS_RESULT, user_document

ADMIN_CODECS = (media.TEXT_PLAIN, media.APPLICATION_JSON, media.TEXT_XML, media.APPLICATION_XML)
SHUTDOWN_DELAY_SECONDS = 0.05  # lets the 200 leave before the listener closes


class AdminHandler(NodeHandler):
    RESPONSE_CODECS = {method: ADMIN_CODECS for method in ("GET", "POST", "DELETE")}

    def reply_document(self, document: object) -> None:
        media_type = self.media_type or media.TEXT_PLAIN
        if media_type in (media.TEXT_XML, media.APPLICATION_XML):
            self.reply(200, (XML_DECLARATION + json_to_xml("result", document)).encode(), media_type)
        else:
            self.reply(200, json.dumps(document).encode(), media_type)

    def int_argument(self, name: str, default: Optional[int], low: int,
                     high: Optional[int] = None) -> Optional[int]:
        text = self.query_value(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise bad_request(f"{name} must be an integer.") from None
        if value < low or (high is not None and value > high):
            raise bad_request(f"{name} is out of range.")
        return value


class ShutdownHandler(AdminHandler):
    async def post(self) -> None:
        self.require_ops()
        self.reply(200, b"", self.media_type)
        request = getattr(self.node, "request_shutdown", None)
        if request is not None:
            asyncio.get_running_loop().call_later(SHUTDOWN_DELAY_SECONDS, request)


class ScavengeHandler(AdminHandler):
    async def post(self) -> None:
        self.require_ops()
        self.int_argument("startFromChunk", 0, 0)
        threads = self.int_argument("threads", 1, 1)
        self.int_argument("threshold", 0, -(1 << 31))
        throttle = self.int_argument("throttlePercent", 100, 1, 100)
        if threads and threads > 1 and throttle != 100:
            raise bad_request("throttlePercent must be 100 when using more than one thread.")
        sync_only = self.query_value("syncOnly")
        if sync_only is not None and sync_only.lower() not in ("true", "false"):
            raise bad_request("syncOnly must be true or false.")
        scavenge_id = str(uuid.uuid4())
        await self._record(scavenge_id)
        self.node.scavenges.add(scavenge_id)
        self.reply_document({"scavengeId": scavenge_id})

    async def _record(self, scavenge_id: str) -> None:
        endpoint = f"{self.node.host}:{self.node.port}"
        started = {"scavengeId": scavenge_id, "nodeEndpoint": endpoint}
        completed = dict(started, result="Success", error="", timeTaken="00:00:00",
                         spaceSaved=0)
        events = [NewEvent(uuid.uuid4(), "$scavengeStarted", json.dumps(started).encode(), b"", True),
                  NewEvent(uuid.uuid4(), "$scavengeCompleted", json.dumps(completed).encode(), b"",
                           True)]
        try:
            await self.core.append("$scavenges", events, ANY, SYSTEM)
        except errors.CoreError:  # the trail is a courtesy; the scavenge itself succeeded
            pass


class ScavengeItemHandler(AdminHandler):
    async def get(self, scavenge_id: str) -> None:
        self.require_ops()
        if scavenge_id != "current":
            raise errors.NotFound(scavenge_id)
        self.reply_document({"scavengeId": "", "scavengeLink": ""})  # none ever runs for long

    async def delete(self, scavenge_id: str) -> None:
        self.require_ops()
        if scavenge_id not in self.node.scavenges:
            raise errors.NotFound(scavenge_id)
        self.reply(200, scavenge_id.encode(), self.media_type)


class MergeIndexesHandler(AdminHandler):
    async def post(self) -> None:
        self.require_ops()
        self.reply_document({"mergeIndexesId": str(uuid.uuid4())})


class NodeCommandHandler(AdminHandler):
    """Priority, resign and reload: accepted; a single node has nothing to change."""

    async def post(self, *arguments: str) -> None:
        self.require_ops()
        self.reply(200, b"", self.media_type)


class LoginHandler(AdminHandler):
    RESPONSE_CODECS = {"GET": media.ADMIN_JSON_CODECS}

    async def get(self) -> None:
        self.require_authenticated()
        try:
            user = await self.core.get_user(self.principal.login or "")
        except errors.NotFound:
            raise errors.AccessDenied("unknown user") from None
        self.reply_json({"data": user_document(user, self.base_url), "success": True,
                         "error": "Success", "msgTypeId": DETAILS_RESULT})


ROUTES: list[tuple] = [
    (r"/admin/shutdown", ShutdownHandler),
    (r"/admin/scavenge", ScavengeHandler),
    (r"/admin/scavenge/([^/]+)", ScavengeItemHandler),
    (r"/admin/mergeindexes", MergeIndexesHandler),
    (r"/admin/node/priority/(-?\d+)", NodeCommandHandler),
    (r"/admin/node/resign", NodeCommandHandler),
    (r"/admin/reloadconfig", NodeCommandHandler),
    (r"/admin/login", LoginHandler),
]
