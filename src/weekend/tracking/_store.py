"""Repository functions of tracking: the only place its SQL lives."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, update

from weekend.catalog import Catalog
from weekend.catalog.tables import (
    experiments,
    latest_metrics,
    metrics,
    params,
    run_artifacts,
    runs,
    tags,
)
from weekend.core.errors import NotFoundError, ParamConflictError
from weekend.core.ids import new_id, now_ms
from weekend.core.process import ProcessIdentity

RUNNING, FINISHED, FAILED, KILLED = "running", "finished", "failed", "killed"
STATUSES = (RUNNING, FINISHED, FAILED, KILLED)

# (run_id, key, step, timestamp_us, value)
Point = tuple[str, str, int, int, float]


@dataclass(frozen=True)
class MetricPoint:
    step: int
    timestamp: int  # microseconds since the epoch
    value: float


# -- experiments --------------------------------------------------------------------------
def get_or_create_experiment(catalog: Catalog, name: str) -> str:
    with catalog.read() as conn:
        row = conn.execute(select(experiments.c.id).where(experiments.c.name == name)).first()
    if row is not None:
        return str(row[0])
    with catalog.begin() as conn:
        stmt = (
            catalog.insert(experiments)
            .values(id=new_id(), name=name, description=None, created_at=now_ms())
            .on_conflict_do_nothing()
        )
        conn.execute(stmt)
        row = conn.execute(select(experiments.c.id).where(experiments.c.name == name)).one()
    return str(row[0])


def experiment_ids(conn: Connection, names: Sequence[str]) -> dict[str, str]:
    names = [n for n in names if storable(n)]
    rows = conn.execute(
        select(experiments.c.name, experiments.c.id).where(experiments.c.name.in_(names))
    )
    return {str(name): str(id_) for name, id_ in rows}


def list_experiments(conn: Connection, name: str | None = None) -> list[dict[str, Any]]:
    """Experiments with their count of undeleted runs, oldest first (only ``name``, if given)."""
    counts = (
        select(runs.c.experiment_id, func.count().label("n"))
        .where(runs.c.deleted.is_(False))
        .group_by(runs.c.experiment_id)
        .subquery()
    )
    stmt = (
        select(experiments, func.coalesce(counts.c.n, 0).label("runs"))
        .outerjoin(counts, counts.c.experiment_id == experiments.c.id)
        .order_by(experiments.c.created_at)
    )
    if name is not None:
        stmt = stmt.where(experiments.c.name == name)
    return [dict(row._mapping) for row in conn.execute(stmt)]


# -- runs ---------------------------------------------------------------------------------
def insert_run(
    conn: Connection,
    *,
    run_id: str,
    experiment_id: str,
    name: str,
    parent_id: str | None,
    user: str,
    owner: ProcessIdentity,
) -> int:
    start = now_ms()
    conn.execute(
        runs.insert().values(
            id=run_id,
            experiment_id=experiment_id,
            parent_id=parent_id,
            name=name,
            status=RUNNING,
            start_time=start,
            end_time=None,
            heartbeat_at=start,
            error=None,
            user=user,
            host=owner.host,
            pid=owner.pid,
            deleted=False,
            machine_id=owner.machine_id,
            boot_id=owner.boot_id or None,
            pid_namespace=owner.pid_namespace or None,
            process_start=owner.start,
            lost=False,
        )
    )
    return start


def storable(text: object) -> bool:
    """False for what no catalog can hold in a text column (so no stored id equals it):
    NUL bytes, which PostgreSQL refuses outright, and text that is not valid UTF-8."""
    if not isinstance(text, str):
        return False
    if text.isascii():
        return "\x00" not in text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def run_row(conn: Connection, run_id: str) -> dict[str, Any]:
    if not storable(run_id):
        raise NotFoundError(f"run {run_id!r} does not exist")
    stmt = (
        select(runs, experiments.c.name.label("experiment"))
        .join(experiments, experiments.c.id == runs.c.experiment_id)
        .where(runs.c.id == run_id)
    )
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFoundError(f"run {run_id!r} does not exist")
    return dict(row._mapping)


_RUN_COLUMNS = tuple(c.name for c in runs.columns)
_RUN_ROWS = (
    "SELECT {cols}, e.name FROM runs AS r JOIN experiments AS e ON e.id = r.experiment_id "
    "WHERE r.id IN ({ids})"
)


def run_rows(conn: Connection, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The rows of runs (with their experiment's name), by id; one plain query (hot path)."""
    run_ids = [r for r in run_ids if storable(r)]
    if not run_ids:
        return {}
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = _RUN_ROWS.format(
        cols=", ".join(f'r."{c}"' for c in _RUN_COLUMNS), ids=", ".join([mark] * len(run_ids))
    )
    out = {}
    for row in conn.exec_driver_sql(sql, tuple(run_ids)).fetchall():
        record = dict(zip(_RUN_COLUMNS, row[:-1], strict=True))
        record["deleted"] = bool(record["deleted"])
        record["lost"] = bool(record["lost"])
        record["experiment"] = row[-1]
        out[str(record["id"])] = record
    return out


def set_status(
    conn: Connection, run_id: str, status: str, error: str | None = None, *, only_running: bool
) -> bool:
    """End a run. With ``only_running``, only a run still running, or one that dead-run
    cleanup presumed dead (``lost``): the owner's word overrides cleanup's guess."""
    stmt = update(runs).where(runs.c.id == run_id)
    if only_running:
        stmt = stmt.where(or_(runs.c.status == RUNNING, runs.c.lost.is_(True)))
    values = {"status": status, "end_time": now_ms(), "error": error, "lost": False}
    result = conn.execute(stmt.values(**values))
    return bool(result.rowcount)


def heartbeat(conn: Connection, run_ids: Sequence[str]) -> None:
    """Record that the owner of these runs is alive; a run that cleanup presumed dead
    (``lost``) is running again, as it always was."""
    if run_ids:
        conn.execute(
            update(runs)
            .where(runs.c.id.in_(run_ids), or_(runs.c.status == RUNNING, runs.c.lost.is_(True)))
            .values(heartbeat_at=now_ms(), status=RUNNING, end_time=None, error=None, lost=False)
        )


def running_runs(conn: Connection) -> list[dict[str, Any]]:
    """Running runs with what identifies their owner, for dead-run detection."""
    stmt = select(
        runs.c.id,
        runs.c.host,
        runs.c.pid,
        runs.c.heartbeat_at,
        runs.c.machine_id,
        runs.c.boot_id,
        runs.c.pid_namespace,
        runs.c.process_start,
    ).where(runs.c.status == RUNNING)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def mark_lost(conn: Connection, run_id: str, heartbeat_at: int, reason: str) -> bool:
    """Mark a running run killed by cleanup (``lost``), unless it heartbeated since
    ``heartbeat_at`` was read. It ends when it was last heard of."""
    result = conn.execute(
        update(runs)
        .where(runs.c.id == run_id, runs.c.status == RUNNING, runs.c.heartbeat_at == heartbeat_at)
        .values(status=KILLED, end_time=runs.c.heartbeat_at, error=reason, lost=True)
    )
    return bool(result.rowcount)


def soft_delete(conn: Connection, run_ids: Sequence[str]) -> int:
    result = conn.execute(update(runs).where(runs.c.id.in_(run_ids)).values(deleted=True))
    return int(result.rowcount)


def purge(conn: Connection, run_ids: Sequence[str]) -> None:
    for table in (metrics, latest_metrics, params, tags, run_artifacts):
        conn.execute(delete(table).where(table.c.run_id.in_(run_ids)))
    conn.execute(delete(runs).where(runs.c.id.in_(run_ids)))


def deleted_run_ids(conn: Connection) -> list[str]:
    return [str(r[0]) for r in conn.execute(select(runs.c.id).where(runs.c.deleted.is_(True)))]


# -- params, tags, metrics ------------------------------------------------------------------
def write_params(
    catalog: Catalog, conn: Connection, rows: Sequence[tuple[str, str, str]]
) -> ParamConflictError | None:
    """Insert params. A key already set keeps its stored value; the first key whose stored
    value differs comes back as a ParamConflictError, for the caller to raise after commit
    (so the other, valid params of the batch are not lost)."""
    if not rows:
        return None
    catalog.insert_ignore(conn, params, [{"run_id": r, "key": k, "value": v} for r, k, v in rows])
    by_run: dict[str, dict[str, str]] = {}
    for run_id, key, value in rows:
        by_run.setdefault(run_id, {})[key] = value
    for run_id, wanted in by_run.items():
        stored = conn.execute(
            select(params.c.key, params.c.value).where(
                params.c.run_id == run_id, params.c.key.in_(list(wanted))
            )
        )
        for key, value in stored:
            if value != wanted[key]:
                return ParamConflictError(
                    f"param {key!r} of run {run_id} is already {value!r}; params are immutable, "
                    f"it cannot become {wanted[key]!r}. Use a new run or another key."
                )
    return None


def write_tags(catalog: Catalog, conn: Connection, rows: Sequence[tuple[str, str, str]]) -> None:
    if not rows:
        return
    latest: dict[tuple[str, str], str] = {}
    for run_id, key, value in rows:
        latest[(run_id, key)] = value
    stmt = catalog.insert(tags)
    stmt = stmt.on_conflict_do_update(
        index_elements=[tags.c.run_id, tags.c.key], set_={"value": stmt.excluded.value}
    )
    conn.execute(stmt, [{"run_id": r, "key": k, "value": v} for (r, k), v in latest.items()])


def add_to_counter_tag(
    catalog: Catalog, conn: Connection, key: str, counts: dict[str, int]
) -> None:
    """Add ``counts[run_id]`` to the integer tag ``key`` of each run that still exists."""
    present = set(run_rows(conn, sorted(counts)))
    stored = tags_of(conn, sorted(present))
    rows = []
    for run_id in sorted(present):
        text = stored[run_id].get(key, "0")
        before = int(text) if text.isdigit() else 0
        rows.append((run_id, key, str(before + counts[run_id])))
    write_tags(catalog, conn, rows)


_COLUMNS = "run_id, key, step, timestamp, value, is_nan"
# The hot path of tracking. Plain DB-API executemany with positional parameters: the rows
# are already validated tuples, and SQLAlchemy's per-row dict handling cost more than the
# database's own work here. Both statements are valid on SQLite and PostgreSQL.
_INSERT_POINTS = "INSERT INTO metrics ({c}) VALUES ({p}) ON CONFLICT DO NOTHING"
_UPSERT_LATEST = (
    "INSERT INTO latest_metrics ({c}) VALUES ({p}) "
    "ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, "
    "timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan "
    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
    "AND excluded.timestamp >= latest_metrics.timestamp)"
)


def _statement(template: str, dialect: str) -> str:
    marks = ", ".join(["?" if dialect == "sqlite" else "%s"] * 6)
    return template.format(c=_COLUMNS, p=marks)


def write_metrics(catalog: Catalog, conn: Connection, points: Sequence[Point]) -> None:
    """Insert points (a retried batch adds nothing twice) and advance latest values."""
    if not points:
        return
    rows = []
    newest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for run_id, key, step, ts, value in points:
        nan = value != value  # NaN is the only value unequal to itself
        row = (run_id, key, step, ts, None if nan else value, nan)
        rows.append(row)
        current = newest.get((run_id, key))
        if current is None or (step, ts) > (current[2], current[3]):
            newest[(run_id, key)] = row
    conn.exec_driver_sql(_statement(_INSERT_POINTS, catalog.dialect), rows)
    conn.exec_driver_sql(_statement(_UPSERT_LATEST, catalog.dialect), list(newest.values()))


_ATTRIBUTES = (
    "SELECT 0, run_id, key, value, CAST(NULL AS DOUBLE PRECISION), 0 FROM params "
    "WHERE run_id IN ({ids}) "
    "UNION ALL SELECT 1, run_id, key, value, CAST(NULL AS DOUBLE PRECISION), 0 FROM tags "
    "WHERE run_id IN ({ids}) "
    "UNION ALL SELECT 2, run_id, key, CAST(NULL AS TEXT), value, CAST(is_nan AS INTEGER) "
    "FROM latest_metrics WHERE run_id IN ({ids})"
)


def attributes_of(
    conn: Connection, run_ids: Sequence[str]
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], dict[str, dict[str, float]]]:
    """Params, tags and latest metrics of runs, in one query (on the hot path of search)."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    ids = ", ".join([mark] * len(run_ids))
    out_p: dict[str, dict[str, str]] = {r: {} for r in run_ids}
    out_t: dict[str, dict[str, str]] = {r: {} for r in run_ids}
    out_m: dict[str, dict[str, float]] = {r: {} for r in run_ids}
    if not run_ids:
        return out_p, out_t, out_m
    rows = conn.exec_driver_sql(_ATTRIBUTES.format(ids=ids), tuple(run_ids) * 3).fetchall()
    for kind, run_id, key, text, number, is_nan in rows:
        if kind == 0:
            out_p[run_id][key] = text
        elif kind == 1:
            out_t[run_id][key] = text
        else:
            out_m[run_id][key] = math.nan if is_nan else float(number)
    return out_p, out_t, out_m


def params_of(conn: Connection, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {r: {} for r in run_ids}
    for run_id, key, value in conn.execute(
        select(params.c.run_id, params.c.key, params.c.value).where(params.c.run_id.in_(run_ids))
    ):
        out[str(run_id)][str(key)] = str(value)
    return out


def tags_of(conn: Connection, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {r: {} for r in run_ids}
    for run_id, key, value in conn.execute(
        select(tags.c.run_id, tags.c.key, tags.c.value).where(tags.c.run_id.in_(run_ids))
    ):
        out[str(run_id)][str(key)] = str(value)
    return out


def latest_of(conn: Connection, run_ids: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {r: {} for r in run_ids}
    stmt = select(
        latest_metrics.c.run_id,
        latest_metrics.c.key,
        latest_metrics.c.value,
        latest_metrics.c.is_nan,
    ).where(latest_metrics.c.run_id.in_(run_ids))
    for run_id, key, value, is_nan in conn.execute(stmt):
        out[str(run_id)][str(key)] = math.nan if is_nan else float(value)
    return out


def history_of(
    conn: Connection, run_id: str, key: str | None = None
) -> dict[str, list[MetricPoint]]:
    stmt = select(
        metrics.c.key, metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan
    ).where(metrics.c.run_id == run_id)
    if key is not None:
        stmt = stmt.where(metrics.c.key == key)
    stmt = stmt.order_by(metrics.c.key, metrics.c.step, metrics.c.timestamp)
    out: dict[str, list[MetricPoint]] = {}
    for k, step, ts, value, is_nan in conn.execute(stmt):
        out.setdefault(str(k), []).append(
            MetricPoint(int(step), int(ts), math.nan if is_nan else float(value))
        )
    return out


def max_steps(conn: Connection, run_id: str) -> dict[str, int]:
    stmt = (
        select(metrics.c.key, func.max(metrics.c.step))
        .where(metrics.c.run_id == run_id)
        .group_by(metrics.c.key)
    )
    return {str(k): int(s) for k, s in conn.execute(stmt)}


# -- artifacts ----------------------------------------------------------------------------
def record_artifacts(
    catalog: Catalog, conn: Connection, run_id: str, entries: Iterable[tuple[str, str, int, str]]
) -> None:
    stmt = catalog.insert(run_artifacts)
    stmt = stmt.on_conflict_do_update(
        index_elements=[run_artifacts.c.run_id, run_artifacts.c.name],
        set_={
            "sha256": stmt.excluded.sha256,
            "size": stmt.excluded.size,
            "kind": stmt.excluded.kind,
            "created_at": stmt.excluded.created_at,
        },
    )
    now = now_ms()
    rows = [
        {"run_id": run_id, "name": n, "sha256": h, "size": s, "kind": k, "created_at": now}
        for n, h, s, k in entries
    ]
    if rows:
        conn.execute(stmt, rows)


def artifacts_of(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    stmt = (
        select(
            run_artifacts.c.name, run_artifacts.c.sha256, run_artifacts.c.size, run_artifacts.c.kind
        )
        .where(run_artifacts.c.run_id == run_id)
        .order_by(run_artifacts.c.name)
    )
    return [dict(row._mapping) for row in conn.execute(stmt)]


def artifact_hash(conn: Connection, run_id: str, name: str) -> str:
    if not (storable(run_id) and storable(name)):
        raise NotFoundError(f"run {run_id} has no artifact named {name!r}")
    row = conn.execute(
        select(run_artifacts.c.sha256).where(
            run_artifacts.c.run_id == run_id, run_artifacts.c.name == name
        )
    ).first()
    if row is None:
        raise NotFoundError(f"run {run_id} has no artifact named {name!r}")
    return str(row[0])
