"""Operational endpoints: `/info`, `/info/options`, `/ping`, `/stats`, `/gossip` (digest §16),
in the shapes of EventStoreDB 20+ (one node, always the leader).
"""
from __future__ import annotations

import datetime as _dt
import os
import resource
import threading
import time
from typing import Any

from ..atom.text import iso_timestamp
from ..atom.xml import XML_DECLARATION, json_to_xml
from . import media
from .base import NodeHandler, bad_request

ES_VERSION = "24.10.0"
_STARTED = _dt.datetime.now(_dt.timezone.utc)
INFO_CODECS = (media.APPLICATION_JSON, media.TEXT_XML)


class InfoBase(NodeHandler):
    RESPONSE_CODECS = {"GET": INFO_CODECS}

    def reply_document(self, document: Any, name: str = "result") -> None:
        if self.media_type == media.TEXT_XML:
            body = XML_DECLARATION + json_to_xml(name, document)
            self.reply(200, body.encode("utf-8"), media.TEXT_XML)
        else:
            self.reply_json(document)


class InfoHandler(InfoBase):
    AUTHENTICATE = False

    async def get(self) -> None:
        node = self.node
        role = getattr(node, "cluster_role", None)  # test aid: server/follower.py
        state = role.state_for(node.host, node.port) if role is not None else "Leader"
        self.reply_document({
            "esVersion": ES_VERSION,
            "state": state.lower(),
            "features": {"projections": getattr(node, "run_projections", "none") != "none",
                         "userManagement": True, "atomPub": True},
            "authentication": {"type": "insecure" if self.insecure else "internal",
                               "properties": {}},
        }, "info")


class InfoOptionsHandler(InfoBase):
    async def get(self) -> None:
        self.require_ops()
        node = self.node
        options = [("HttpIp", "The IP address the node listens on.", "Interface",
                    getattr(node, "host", "")),
                   ("HttpPort", "The port the node listens on.", "Interface",
                    str(getattr(node, "port", ""))),
                   ("Db", "The path the database is stored in.", "Database",
                    str(getattr(node, "db", None) or "")),
                   ("MemDb", "Keep everything in memory.", "Database",
                    str(getattr(node, "db", None) is None)),
                   ("RunProjections", "Which projections run.", "Projections",
                    str(getattr(node, "run_projections", "none")).capitalize()),
                   ("Insecure", "Authorization turned off.", "Application", str(self.insecure))]
        self.reply_document([{"name": name, "description": description, "group": group,
                              "value": value, "possibleValues": None}
                             for name, description, group, value in options], "options")


class PingHandler(InfoBase):
    AUTHENTICATE = False

    async def get(self) -> None:
        self.reply_document({"msgTypeId": 175, "text": "Ping request successfully handled"})


class GossipHandler(InfoBase):
    AUTHENTICATE = False

    async def get(self) -> None:
        node = self.node
        host, port = getattr(node, "host", "127.0.0.1"), getattr(node, "port", 0)
        position = self.core.head_position()
        self._headers["Cache-Control"] = "max-age=0, no-cache, must-revalidate"
        self._headers["Vary"] = "Accept"
        role = getattr(node, "cluster_role", None)  # test aid: server/follower.py
        if role is not None:
            self.reply_document(role.gossip_document(host, port, str(getattr(node, "instance_id", ""))),
                                "gossip")
            return
        self.reply_document({"members": [{
            "instanceId": str(getattr(node, "instance_id", "")),
            "timeStamp": iso_timestamp(_dt.datetime.now(_dt.timezone.utc)),
            "state": "Leader", "isAlive": True,
            "internalTcpIp": host, "internalTcpPort": 0, "internalSecureTcpPort": 0,
            "externalTcpIp": host, "externalTcpPort": 0, "externalSecureTcpPort": 0,
            "httpEndPointIp": host, "httpEndPointPort": port,
            "internalHttpEndPointIp": host, "internalHttpEndPointPort": port,
            "lastCommitPosition": position, "writerCheckpoint": position,
            "chaserCheckpoint": position, "epochPosition": 0, "epochNumber": 0,
            "epochId": str(getattr(node, "epoch_id", "")), "nodePriority": 0,
            "isReadOnlyReplica": False, "esVersion": ES_VERSION,
        }], "serverIp": host, "serverPort": port}, "gossip")


def _nested(flat: dict) -> dict:
    """`{"proc-cpu": 1}` -> `{"proc": {"cpu": 1}}`, as the real /stats groups its keys."""
    nested: dict = {}
    for key, value in flat.items():
        target = nested
        *groups, leaf = str(key).split("-")
        for group in groups:
            child = target.get(group)
            if not isinstance(child, dict):
                child = target[group] = {}
            target = child
        target[leaf] = value
    return nested


def process_figures() -> dict:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"proc-startTime": iso_timestamp(_STARTED), "proc-id": os.getpid(),
            "proc-mem": usage.ru_maxrss * 1024, "proc-cpu": usage.ru_utime + usage.ru_stime,
            "proc-threadsCount": threading.active_count(),
            "proc-uptimeSeconds": round(time.monotonic() - _MONOTONIC_START, 3)}


_MONOTONIC_START = time.monotonic()


class StatsHandler(InfoBase):
    """`/stats` and `/stats/{group}/...`: the process and the core's figures, nested."""

    async def get(self, path: str = "") -> None:
        self.require_authenticated()
        flat = process_figures()
        try:
            flat.update({f"es-{key}": value for key, value in (self.core.stats() or {}).items()})
        except NotImplementedError:
            pass
        document: Any = _nested(flat)
        grouped = self.get_query_argument("group", "true").lower() != "false"
        if not grouped:
            if path:
                raise bad_request("Sub-paths are not allowed with group=false.")
            document = flat
        for part in filter(None, path.split("/")):
            document = document.get(part) if isinstance(document, dict) else None
            if document is None:
                self.reply(404, b"", media.TEXT_PLAIN, "Not Found")
                return
        self._headers["Cache-Control"] = "max-age=1, public"
        self._headers["Vary"] = "Accept"
        self.reply_document(document, "stats")


ROUTES: list[tuple] = [
    (r"/info", InfoHandler),
    (r"/info/options", InfoOptionsHandler),
    (r"/ping", PingHandler),
    (r"/gossip", GossipHandler),
    (r"/stats", StatsHandler),
    (r"/stats/(.+)", StatsHandler),
]
