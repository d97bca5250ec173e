"""The node's tornado Application, built from the ROUTES of each http module.

Each module exports `ROUTES`: tornado rules `(pattern, handler[, kwargs])`, most specific
first. Anything that matches no rule gets the real server's 404.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any

import tornado.web

from .base import Authenticator, NotFoundHandler

ROUTE_MODULES = ("streams", "users", "info", "admin", "subscriptions", "projections")
access_log = logging.getLogger("clientapi.server.access")


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Requests are logged at DEBUG (refusals are normal traffic here), server errors at ERROR."""
    status = handler.get_status()
    level = logging.ERROR if status >= 500 else logging.DEBUG
    if access_log.isEnabledFor(level):
        access_log.log(level, "%d %s %.2fms", status, handler._request_summary(),
                       1000.0 * handler.request.request_time())


def collect_routes() -> list[tuple]:
    routes: list[tuple] = []
    for name in ROUTE_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        routes.extend(getattr(module, "ROUTES", []))
    return routes


def build_app(node: Any) -> tornado.web.Application:
    """The Application; handlers reach `self.settings["node"]` (.core, .subscriptions, .projections)."""
    return tornado.web.Application(
        collect_routes(), default_handler_class=NotFoundHandler, node=node,
        authenticator=Authenticator(node.core), compress_response=False, xsrf_cookies=False,
        log_function=log_request)
