"""Getting a chat going: a node to talk to, a client that subscribes, and the projection.

Everything here can run again and again: a node is started only when none answers,
and the projection is created when missing and corrected when it differs.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from clientapi import Client
from clientapi.admin import Admin
from clientapi.errors import ConnectionFailure, HttpError
from clientapi.projections import (ProjectionAlreadyExists, ProjectionNotFound, Projections,
                                   ProjectionStatus)
from clientapi.subscriptions import CatchUpSubscriptions

PROJECTION_SOURCE_FILE = Path(__file__).with_name("chat_projection.js")

# The Client may not mix the subscription methods in yet; when it does, this is Client.
SubscribingClient = Client if issubclass(Client, CatchUpSubscriptions) else \
    type("SubscribingClient", (CatchUpSubscriptions, Client), {})


class SetupError(Exception):
    """The chat cannot start; the message says why and what to do."""


def projection_source() -> str:
    return PROJECTION_SOURCE_FILE.read_text(encoding="utf-8")


def section(client: Client, attribute: str, section_class: type) -> Any:
    """`client.projections` / `client.admin` when the Client offers them, else the same
    section built on the client."""
    found = getattr(client, attribute, None)
    return found if found is not None else section_class(client)


def close_client(client: Client) -> None:
    # Subscriptions must end on the client's loop before the loop is closed.
    closing = getattr(client, "_close_subscriptions", None)
    if closing is not None:
        closing()
    client.close()


def node_answers(client: Client) -> bool:
    try:
        section(client, "admin", Admin).ping()
    except ConnectionFailure:
        return False
    return True


@contextlib.contextmanager
def node_for(client: Client, host: str, port: int, db: Optional[str] = None,
             announce: Callable[[str], Any] = print) -> Iterator[None]:
    """Run the block with a node answering on host:port (where `client` talks to): the
    one already there, or an embedded node (projections on) started here for the
    block's length."""
    if node_answers(client):
        yield
        return
    from clientapi.server import Node  # only needed when this process hosts the node

    try:
        node = Node(host=host, port=port, db=db, run_projections="all")
        node.start()
    except OSError as error:
        raise SetupError("no node answers on {}:{} and one cannot be started there: {}".format(
            host, port, error)) from error
    announce("-- no node answered on {}; started one here (the chat ends for everyone when "
             "this participant leaves)".format(node.url))
    try:
        yield
    finally:
        node.stop()


def ensure_projection(projections: Projections, name: str, source: str) -> ProjectionStatus:
    """Make `name` a continuous projection of `source` that may emit, running (or
    starting): create it when missing, replace its query when it differs, enable it when
    stopped or faulted. Returns its status."""
    try:
        current = projections.get_query_config(name)
    except ProjectionNotFound:
        current = None
    if current is None:
        try:
            projections.create_continuous(name, source, emit=True, enabled=True)
        except ProjectionAlreadyExists:
            pass  # another participant created it meanwhile: check it as any existing one
        except HttpError as error:
            if error.status != 404:
                raise
            raise SetupError("the node does not run projections (start it with "
                             "--run-projections all)") from error
        else:
            return projections.status(name)
        current = projections.get_query_config(name)
    if current.query != source or not current.emit_enabled:
        projections.update_query(name, source, emit=True)
    status = projections.status(name)
    if status.stopped or status.faulted:
        projections.enable(name)
        status = projections.status(name)
    return status
