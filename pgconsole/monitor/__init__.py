"""Collectors: version-keyed SQL -> pydantic models; snapshots and deltas (DESIGN.md §3, §5).

No Textual here; screens render these models, checks judge them.
"""

from pgconsole.monitor.base import CollectorState, CollectorUnavailable
from pgconsole.monitor.delta import DatabaseDelta, SnapshotDelta, StatementDelta, compute_delta
from pgconsole.monitor.snapshot import COLLECTOR_NAMES, COLLECTORS, Snapshot, take_snapshot
from pgconsole.monitor.statements import fetch_query_texts

__all__ = [
    "COLLECTORS",
    "COLLECTOR_NAMES",
    "CollectorState",
    "CollectorUnavailable",
    "DatabaseDelta",
    "Snapshot",
    "SnapshotDelta",
    "StatementDelta",
    "compute_delta",
    "fetch_query_texts",
    "take_snapshot",
]
