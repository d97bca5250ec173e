"""Projections: the standard projections (`$by_category`, `$by_event_type`, `$streams`,
`$stream_by_category`, `$by_correlation_id`) and user JavaScript projections, run inside the
node and managed through the `/projections` and `/projection/{name}` endpoints."""
from .subsystem import OperationFailed, Projection, ProjectionsSubsystem

__all__ = ["OperationFailed", "Projection", "ProjectionsSubsystem"]
