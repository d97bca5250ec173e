"""User projections in V8, through mini-racer.

Each projection run gets its own V8 context with only ECMAScript built-ins in it (no
`require`, no network or file API), the runtime in `prelude.js`, then the user's query.
V8 runs on mini-racer's own threads, driven from one host thread (see v8_host), and the
node's IOLoop only awaits it, so JavaScript never blocks the loop. Every call is bounded by the projection's execution timeout plus a
small batching budget: a handler that loops forever is interrupted and the projection
faults, and the node carries on. A hard memory limit does the same for runaway allocation.

Why V8 through mini-racer: it is a maintained PyPI package with wheels for Linux, macOS and
Windows (no compiler, no Node.js install), it embeds the engine alone (no fs/net/process
modules to take away), and it can interrupt a running script and cap its heap, which is what
turns a runaway handler into a fault. V8 also runs modern JavaScript at full speed, which
the real server's engines (V8 up to 20.x, Jint since) do as well; pure-Python or ES5-only
engines would run real projections wrongly or slowly.
"""
from __future__ import annotations

import asyncio
import json
import time
from importlib import resources
from typing import Any, Optional

from .handlers import BatchOutcome, Emission, ProjectionFault, SourceEvent, SourceSpec
from .v8_host import V8Host

DEFAULT_EXECUTION_TIMEOUT_MS = 250
BATCH_BUDGET_MS = 20  # how long one call may keep handling queued events before returning
MEMORY_LIMIT_BYTES = 256 * 1024 * 1024

_prelude_text: Optional[str] = None


def _prelude() -> str:
    global _prelude_text
    if _prelude_text is None:
        _prelude_text = resources.files(__package__).joinpath("prelude.js").read_text(encoding="utf-8")
    return _prelude_text


def _engine():
    try:
        import py_mini_racer
    except ImportError as error:  # the engine is an optional extra of the package
        raise ProjectionFault(
            "JavaScript projections need the mini-racer package (pip install clientapi[projections])"
        ) from error
    return py_mini_racer


def _error_text(error: BaseException) -> str:
    """The first line of a V8 error report ("<anonymous>:1: Error: boom" -> "Error: boom")."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    if first.startswith("<anonymous>:"):
        first = first.split(": ", 1)[-1]
    return first


def _timespan(seconds: float) -> str:
    """.NET's TimeSpan "c" format (hh:mm:ss.fffffff), as the real server's messages show it."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{int((seconds - whole) * 1e7):07d}"


def _source_spec(described: dict) -> SourceSpec:
    events = described.get("events")
    return SourceSpec(
        all_streams=bool(described["allStreams"]),
        streams=tuple(described["streams"]),
        categories=tuple(described["categories"]),
        events=None if events is None else frozenset(events),
        by_streams=bool(described["byStreams"]),
        by_custom_partitions=bool(described["byCustomPartitions"]),
        include_links=bool(described["includeLinks"]),
        handles_deleted=bool(described["handlesDeletedNotifications"]),
        produces_results=bool(described["producesResults"]),
        defines_state_transform=bool(described["definesStateTransform"]),
        defines_fold=bool(described["definesFold"]),
        is_bi_state=bool(described["isBiState"]),
        reorder_events=bool(described["reorderEvents"]),
        processing_lag=int(described["processingLag"] or 0),
        result_stream_name=described.get("resultStreamName"),
        partition_result_stream_name_pattern=described.get("partitionResultStreamNamePattern"),
    )


def _item(event: SourceEvent) -> dict[str, Any]:
    if event.deleted_partition is not None:
        return {"del": event.deleted_partition, "soft": event.soft_deleted}
    item: dict[str, Any] = {
        "s": event.stream_id, "n": event.event_number, "t": event.event_type, "id": event.event_id,
        "j": event.is_json, "d": event.data, "m": event.metadata,
    }
    if event.link_metadata is not None:
        item["lm"] = event.link_metadata
    if event.category is not None:
        item["c"] = event.category
    return item


class JsProjectionHandler:
    """A compiled user query in its own V8 context. Create with `await compile(...)`."""

    def __init__(self, host: V8Host, racer: Any, timeout_ms: int):
        self._host = host
        self._racer = racer
        self.source = SourceSpec()
        self._timeout_ms = timeout_ms

    @classmethod
    async def compile(cls, query: str, *, timeout_ms: Optional[int] = None) -> "JsProjectionHandler":
        _engine()
        host = V8Host.get()
        handler = cls(host, await host.new_racer(MEMORY_LIMIT_BYTES), timeout_ms or DEFAULT_EXECUTION_TIMEOUT_MS)
        try:
            await handler._eval(_prelude(), action="compile")
            compiled = json.loads(await handler._eval(f"__es_compile({json.dumps(query)})", action="compile"))
            if compiled["fault"]:
                raise ProjectionFault(compiled["fault"])
            handler.source = _source_spec(json.loads(await handler._eval("__es_describe()")))
            return handler
        except BaseException:
            handler.close()
            raise

    async def _eval(self, code: str, budget_ms: int = 0, action: str = "execute") -> Any:
        """Evaluate with a deadline; any JavaScript failure becomes a ProjectionFault."""
        engine = _engine()
        racer = self._racer
        limit_seconds = (self._timeout_ms + budget_ms) / 1000
        started = time.monotonic()

        async def evaluate() -> Any:
            return await asyncio.wait_for(racer.eval_cancelable(code), timeout=limit_seconds)
        try:
            return await self._host.run(evaluate)
        except asyncio.TimeoutError:
            took = _timespan(time.monotonic() - started)
            raise ProjectionFault(f"Projection script took too long to {action} "
                                  f"(took: {took}, allowed: {_timespan(self._timeout_ms / 1000)})") from None
        except engine.JSOOMException:
            raise ProjectionFault("The projection's JavaScript exceeded its memory limit") from None
        except engine.JSEvalException as error:
            raise ProjectionFault(_error_text(error)) from None

    async def load(self, states: dict[str, str], results: dict[str, Optional[str]],
                   shared: Optional[str], *, emit_enabled: bool = False) -> dict[str, Optional[str]]:
        snapshot = json.dumps({"states": states, "results": results, "shared": shared})
        answer = json.loads(await self._eval(f"__es_load({snapshot}, {json.dumps(emit_enabled)})"))
        if answer["fault"]:
            raise ProjectionFault(answer["fault"])
        return answer["states"]

    async def handle(self, events: list[SourceEvent]) -> BatchOutcome:
        outcome = BatchOutcome()
        if not events:
            return outcome
        await self._eval(f"__es_enqueue({json.dumps([_item(e) for e in events])})")
        while True:
            answer = json.loads(await self._eval(f"__es_run({outcome.handled}, {BATCH_BUDGET_MS})",
                                                 budget_ms=BATCH_BUDGET_MS))
            self._merge(outcome, answer)
            if answer["fault"] or not answer["remaining"]:
                return outcome

    @staticmethod
    def _merge(outcome: BatchOutcome, answer: dict) -> None:
        outcome.handled += answer["handled"]
        outcome.fault = answer["fault"]
        outcome.emits.extend(
            Emission(cause=cause, stream=stream, event_type=event_type, data=data, is_json=is_json,
                     metadata=metadata)
            for cause, stream, event_type, data, is_json, metadata in answer["emits"])
        outcome.results.extend((cause, partition, text) for cause, partition, text in answer["results"])
        outcome.created.extend((cause, partition) for cause, partition in answer["created"])
        outcome.states.update(answer["states"])
        if answer["shared"] is not None:
            outcome.shared = answer["shared"]
        outcome.logs.extend(answer["logs"])

    async def result_of(self, partition: str) -> Optional[str]:
        return await self._eval(f"__es_result({json.dumps(partition)})")

    def close(self) -> None:
        self._host.close_racer(self._racer)
