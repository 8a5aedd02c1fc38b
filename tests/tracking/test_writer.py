"""The background writer keeps working when a run disappears under it."""

from __future__ import annotations

from pathlib import Path

import pytest

import weekend as wk
from weekend.core.errors import ConflictError


def test_purged_run_does_not_block_other_runs(project: Path) -> None:
    ws = wk.open(project)
    try:
        doomed = ws.runs.start("exp", system_info=False)
        alive = ws.runs.start("exp", system_info=False)
        ws.runs.flush()
        doomed.log_metric("x", 1.0)
        alive.log_metric("y", 2.0)
        ws.runs.delete(doomed.id, purge=True)
        with pytest.raises(ConflictError, match=f"{doomed.id}.*purged"):
            ws.runs.flush()
        alive.log_metric("y", 3.0)
        alive.end()
        record = ws.runs.get(alive.id)
        assert [p.value for p in record.histories["y"]] == [2.0, 3.0]
        assert record.status == "finished"
    finally:
        ws.close()
