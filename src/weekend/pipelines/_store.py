"""The pipeline tables' reads and writes (no SQL elsewhere in the package)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from weekend.catalog.tables_pipelines import pipeline_runs, pipeline_steps
from weekend.core.errors import NotFoundError
from weekend.pipelines._records import PipelineRun, StepRun


def insert_run(conn: Connection, row: dict[str, Any], steps: list[str]) -> None:
    conn.execute(insert(pipeline_runs).values(**row))
    conn.execute(
        insert(pipeline_steps),
        [
            {
                "run_id": row["id"],
                "step": name,
                "position": i,
                "status": "pending",
                "cached": False,
                "attempts": 0,
                "inputs_json": "{}",
            }
            for i, name in enumerate(steps)
        ],
    )


def update_step(conn: Connection, run_id: str, step: str, values: dict[str, Any]) -> None:
    query = update(pipeline_steps).where(
        pipeline_steps.c.run_id == run_id, pipeline_steps.c.step == step
    )
    conn.execute(query.values(**values))


def finish_run(conn: Connection, run_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(pipeline_runs).where(pipeline_runs.c.id == run_id).values(**values))


def cached_output(conn: Connection, key: str) -> tuple[str, str, int, str] | None:
    """``(kind, sha256, size, run_id)`` of a succeeded step with this key, newest first."""
    query = (
        select(
            pipeline_steps.c.output_kind,
            pipeline_steps.c.output_sha256,
            pipeline_steps.c.output_size,
            pipeline_steps.c.run_id,
        )
        .where(
            pipeline_steps.c.cache_key == key,
            pipeline_steps.c.status == "succeeded",
            pipeline_steps.c.output_sha256.isnot(None),
        )
        .order_by(pipeline_steps.c.ended_at.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else (row[0], row[1], int(row[2] or 0), row[3])


def _step(row: Any) -> StepRun:
    return StepRun(
        name=row.step,
        position=row.position,
        status=row.status,
        cached=bool(row.cached),
        attempts=row.attempts,
        duration=None if row.duration_ms is None else row.duration_ms / 1000.0,
        logs=row.logs,
        error=row.error,
        cache_key=row.cache_key,
        key_parts=None if row.key_parts_json is None else orjson.loads(row.key_parts_json),
        output_kind=row.output_kind,
        output_sha256=row.output_sha256,
        output_size=row.output_size,
        inputs=orjson.loads(row.inputs_json),
        started_at=row.started_at,
        ended_at=row.ended_at,
    )


def _run(row: Any, steps: list[StepRun]) -> PipelineRun:
    return PipelineRun(
        id=row.id,
        pipeline=row.pipeline,
        params=orjson.loads(row.params_json),
        executor=row.executor,
        status=row.status,
        error=row.error,
        started_at=row.started_at,
        ended_at=row.ended_at,
        steps={s.name: s for s in sorted(steps, key=lambda s: s.position)},
    )


def get_run(conn: Connection, run_id: str) -> PipelineRun:
    row = conn.execute(select(pipeline_runs).where(pipeline_runs.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(
            f"no pipeline run {run_id!r}; list runs with `weekend pipelines list`", field="run"
        )
    steps = conn.execute(select(pipeline_steps).where(pipeline_steps.c.run_id == run_id))
    return _run(row, [_step(s) for s in steps])


def list_runs(conn: Connection, pipeline: str | None, limit: int) -> list[PipelineRun]:
    query = select(pipeline_runs).order_by(pipeline_runs.c.started_at.desc()).limit(limit)
    if pipeline is not None:
        query = query.where(pipeline_runs.c.pipeline == pipeline)
    rows = conn.execute(query).all()
    ids = [r.id for r in rows]
    by_run: dict[str, list[StepRun]] = {i: [] for i in ids}
    if ids:
        for s in conn.execute(select(pipeline_steps).where(pipeline_steps.c.run_id.in_(ids))):
            by_run[s.run_id].append(_step(s))
    return [_run(r, by_run[r.id]) for r in rows]


def previous_step(
    conn: Connection, pipeline: str, step: str, before: int, run_id: str
) -> tuple[str, dict[str, Any]] | None:
    """``(run_id, key parts)`` of the latest earlier run of this step that computed a key."""
    query = (
        select(pipeline_steps.c.run_id, pipeline_steps.c.key_parts_json)
        .join(pipeline_runs, pipeline_runs.c.id == pipeline_steps.c.run_id)
        .where(
            pipeline_runs.c.pipeline == pipeline,
            pipeline_steps.c.step == step,
            pipeline_steps.c.key_parts_json.isnot(None),
            pipeline_runs.c.started_at <= before,
            pipeline_runs.c.id != run_id,
        )
        .order_by(pipeline_runs.c.started_at.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else (row[0], orjson.loads(row[1]))
