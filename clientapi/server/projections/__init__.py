"""Projections subsystem (placeholder: does nothing until the real one replaces it)."""
from __future__ import annotations

from typing import Any


class ProjectionsSubsystem:
    def __init__(self, core: Any, **kw: Any):
        self.core = core
        self.options = kw

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
