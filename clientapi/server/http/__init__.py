"""The node's Application, built from the ROUTES of each http module.

Each module exports `ROUTES`: rules `(pattern, handler[, kwargs])`, tried in order, the
first match winning. Anything that matches no rule gets the real server's 404.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any

from .base import Authenticator, NotFoundHandler
from .framework import Application, Handler

ROUTE_MODULES = ("streams", "users", "info", "admin", "subscriptions", "projections")
access_log = logging.getLogger("clientapi.server.access")


def log_request(handler: Handler) -> None:
    """Requests are logged at DEBUG (refusals are normal traffic here), server errors at ERROR."""
    status = handler.get_status()
    level = logging.ERROR if status >= 500 else logging.DEBUG
    if access_log.isEnabledFor(level):
        access_log.log(level, "%d %s %.2fms", status, handler.request_summary(),
                       1000.0 * handler.request.request_time())


def collect_routes() -> list[tuple]:
    routes: list[tuple] = []
    for name in ROUTE_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        routes.extend(getattr(module, "ROUTES", []))
    return routes


def build_app(node: Any) -> Application:
    """The Application; handlers reach `self.settings["node"]` (.core, .subscriptions, .projections)."""
    return Application(collect_routes(), default_handler_class=NotFoundHandler,
                       log_function=log_request, node=node, authenticator=Authenticator(node.core))
