"""The embedded node: core + subsystems + HTTP server, in-process or as a process.

    node = Node(port=0)          # in memory, a free port (tls_cert=/tls_key= for https)
    node.start()                 # own thread + IOLoop; returns once it accepts connections
    node.url                     # "http://127.0.0.1:<port>"
    node.stop()                  # or `with Node() as node: ...`

`await node.start_async()` / `await node.stop_async()` run it on the caller's loop instead.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
import uuid
from typing import Any, Optional

from tornado.netutil import bind_sockets

from .dblock import DatabaseLock

log = logging.getLogger("clientapi.server")

MAX_BODY_BYTES = 256 * 1024 * 1024  # batches of several 4 MiB events still arrive whole
START_TIMEOUT_SECONDS = 60.0


class Node:
    """One EventStore-compatible node. Not restartable: make a new one to start again."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2113, db: Optional[str] = None,
                 insecure: bool = False, run_projections: str = "none",
                 start_standard_projections: bool = False, tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None, cluster_role: Any = None):
        """`cluster_role`: a `follower.ClusterRole`, a test aid only (see server/follower.py)."""
        if run_projections not in ("none", "system", "all"):
            raise ValueError(f"run_projections must be none, system or all, not {run_projections!r}")
        self.host = host
        self.port = port
        self.db = db
        self.insecure = insecure
        self.run_projections = run_projections
        self.start_standard_projections = start_standard_projections
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.cluster_role = cluster_role
        self.instance_id = uuid.uuid4()
        self.epoch_id = uuid.uuid4()
        self.core: Any = None
        self.subscriptions: Any = None
        self.projections: Any = None
        self.long_polls: set = set()
        self.scavenges: set[str] = set()
        self._shutdown_requested: Optional[asyncio.Event] = None
        self._server: Any = None
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop_requested: Optional[asyncio.Event] = None
        self._db_lock: Optional[DatabaseLock] = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    # --- on the caller's loop --------------------------------------------------------------
    async def start_async(self) -> None:
        """Open the core, start the subsystems, listen. Returns once connections are accepted."""
        from .core.service import EventStoreCore
        from .http import build_app
        from .http.connection import HttpServer
        from .persistent import PersistentSubscriptions
        from .projections import ProjectionsSubsystem

        self._shutdown_requested = asyncio.Event()
        if self.db is not None:
            self._db_lock = DatabaseLock(self.db)
            self._db_lock.acquire()
        try:
            self.core = await EventStoreCore.open(self.db, insecure=self.insecure)
        except BaseException:
            self._release_db()
            raise
        try:
            self.subscriptions = PersistentSubscriptions(self.core)
            await self.subscriptions.start()
            self.projections = ProjectionsSubsystem(
                self.core, mode=self.run_projections,
                start_standard=self.start_standard_projections)
            await self.projections.start()
            sockets = bind_sockets(self.port, self.host, family=_family(self.host), reuse_port=False)
            self.port = sockets[0].getsockname()[1]
            ssl_context = None
            if self.tls_cert and self.tls_key:
                from .tls import server_ssl_context
                ssl_context = server_ssl_context(self.tls_cert, self.tls_key)
            self._server = HttpServer(build_app(self), max_body_size=MAX_BODY_BYTES,
                                      ssl_context=ssl_context)
            await self._server.add_sockets(sockets)
        except BaseException:
            await self._close_subsystems()
            raise
        log.info("node listening on %s", self.url)

    def request_shutdown(self) -> None:
        """Asked for over HTTP (`POST /admin/shutdown`); whoever runs the node stops it."""
        if self._shutdown_requested is not None:
            self._shutdown_requested.set()
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def wait_for_shutdown_request(self) -> None:
        """Returns once `POST /admin/shutdown` asked this node to stop."""
        if self._shutdown_requested is not None:
            await self._shutdown_requested.wait()

    async def stop_async(self) -> None:
        """Stop listening, end long polls and open connections, then close everything."""
        if self._server is not None:
            self._server.stop()
        for poll in list(self.long_polls):
            poll.cancel()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.close_all_connections(), 5.0)
            except asyncio.TimeoutError:
                log.warning("some connections did not close in time")
            self._server = None
        await self._close_subsystems()

    async def _close_subsystems(self) -> None:
        for subsystem in (self.projections, self.subscriptions):
            if subsystem is not None:
                try:
                    await subsystem.stop()
                except Exception:
                    log.exception("stopping %s failed", type(subsystem).__name__)
        self.projections = self.subscriptions = None
        if self.core is not None:
            await self.core.close()
            self.core = None
        self._release_db()

    def _release_db(self) -> None:
        if self._db_lock is not None:
            self._db_lock.release()
            self._db_lock = None

    # --- on a thread of its own ------------------------------------------------------------
    def start(self) -> "Node":
        if self._thread is not None:
            raise RuntimeError("this node was started already")
        started = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(started, failure),
                                        name=f"clientapi-node-{self.port}", daemon=True)
        self._thread.start()
        if not started.wait(START_TIMEOUT_SECONDS):
            raise RuntimeError("the node did not start in time")
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def _run(self, started: threading.Event, failure: list) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            self._stop_requested = asyncio.Event()
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as error:
                failure.append(error)
                return
            finally:
                started.set()
            loop.run_until_complete(self._stop_requested.wait())
            loop.run_until_complete(self.stop_async())
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                self._loop = None

    def stop(self) -> None:
        thread, loop, requested = self._thread, self._loop, self._stop_requested
        if thread is None:
            return
        if loop is not None and requested is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(requested.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
        thread.join()
        self._thread = None

    def __enter__(self) -> "Node":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
