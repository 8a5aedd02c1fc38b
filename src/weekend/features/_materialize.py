"""Materialization: the latest value per entity of a time window, into the online store.

For a window ``[start, end)`` of event times, DuckDB keeps the latest row per entity (ties
broken like the point-in-time join: latest created timestamp, then last source row) out of
core, and the result streams as Arrow record batches of ``BATCH_ROWS`` rows into the online
store, whose writes are monotonic (an older event never replaces a newer one), so windows may
overlap or arrive out of order. Memory stays bounded by the batch size and DuckDB's limit.

Every run is recorded in the ``materializations`` table (view, version, window, rows, store).
``materialize_incremental`` starts where the last run of the same view version into the same
store ended; a new version of a view is cleared from the store and loaded from the start.
A view with a ttl is loaded from ``end - ttl`` when no start is given: older values would be
expired online anyway. A window that held no event is explained in the result's ``note``
(:func:`explain_empty`: where the source's events are, against the window and its origin).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
from sqlalchemy import select

from weekend.catalog.tables_features import materializations
from weekend.core.ids import new_id, now_ms
from weekend.core.sql import quote_ident
from weekend.features._definitions import FeatureView
from weekend.features._pit import source_order
from weekend.features._sources import OfflineSession, epoch_ns
from weekend.features._training import cast_features
from weekend.features._types import format_duration
from weekend.features.online import OnlineStore

BATCH_ROWS = 50_000
Progress = Callable[[str, int, int], None]
StartedBy = Literal["given", "ttl", "watermark"]
_E, _C, _O = "__wk_event_ns", "__wk_created_ns", "__wk_order"


def ns_to_datetime(ns: int | None) -> datetime.datetime | None:
    """A UTC time with nanoseconds (a ``pandas.Timestamp``, which is a datetime)."""
    if ns is None:
        return None
    import pandas as pd

    stamp: datetime.datetime = pd.Timestamp(ns, tz="UTC")
    return stamp


@dataclass(frozen=True)
class MaterializeResult:
    """One view loaded into the online store: ``rows`` entities read from the window,
    ``written`` stored, ``skipped_older`` kept because the store already had newer values."""

    view: str
    version: int
    start: datetime.datetime | None
    end: datetime.datetime
    rows: int
    written: int
    skipped_older: int
    cleared: bool = False
    seconds: float = 0.0
    note: str = ""  # when nothing was read: the window used and why it held nothing

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "version": self.version,
            "start": None if self.start is None else self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "written": self.written,
            "skipped_older": self.skipped_older,
            "cleared": self.cleared,
            "seconds": round(self.seconds, 3),
            "note": self.note,
        }


def latest_per_entity_sql(
    session: OfflineSession, view: FeatureView, start: int | None, end: int
) -> str:
    """SQL for the latest row per entity with ``start <= event < end`` (ns since the epoch)."""
    types = session.source_types(view)
    source = session.from_sql(view)
    event = epoch_ns(view.timestamp_field, types[view.timestamp_field])
    created = event
    field = view.created_timestamp_field
    if field:
        created = f"coalesce({epoch_ns(field, types[field])}, {event})"
    keys = [quote_ident(k) for k in view.join_keys]
    order = source_order(source, types)
    items = [*keys, f"{event} AS {_E}", f"{created} AS {_C}", f"{order} AS {_O}"]
    items += [quote_ident(f) for f in view.features]
    window = [f"{k} IS NOT NULL" for k in keys] + [f"{_E} IS NOT NULL", f"{_E} < {end}"]
    if start is not None:
        window.append(f"{_E} >= {start}")
    outputs = ", ".join([*keys, _E, _C, *(quote_ident(f) for f in view.features)])
    return (
        f"SELECT {outputs} FROM (SELECT {', '.join(items)} FROM {source}) "
        f"WHERE {' AND '.join(window)} "
        f"QUALIFY row_number() OVER (PARTITION BY {', '.join(keys)} "
        f"ORDER BY {_E} DESC, {_C} DESC, {_O} DESC) = 1"
    )


def _to_store_batch(batch: pa.RecordBatch, view: FeatureView) -> pa.Table:
    table = pa.Table.from_batches([batch])
    stamp = pa.timestamp("ns", tz="UTC")
    for name in (_E, _C):
        index = table.column_names.index(name)
        table = table.set_column(index, name, table.column(index).cast(stamp))
    return cast_features(table, view, {f: f for f in view.features})


def load_window(
    session: OfflineSession,
    store: OnlineStore,
    view: FeatureView,
    version: int,
    start: int | None,
    end: int,
    *,
    progress: Progress | None = None,
    cleared: bool = False,
    started_by: StartedBy = "given",
) -> MaterializeResult:
    """Stream the latest row per entity of the window into ``store``; ``started_by`` says
    where ``start`` came from, for the note that explains a window without events."""
    began = time.perf_counter()
    con = session.con
    table = f"__wk_latest_{new_id()}"
    con.execute(f"CREATE TEMP TABLE {table} AS {latest_per_entity_sql(session, view, start, end)}")
    try:
        total = int(con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        if progress is not None:
            progress(view.name, 0, total)
        done = 0

        def tables() -> Iterator[pa.Table]:
            # pulled by the store as it writes: one Arrow batch in memory at a time
            nonlocal done
            for batch in con.sql(f"SELECT * FROM {table}").to_arrow_reader(BATCH_ROWS):
                if batch.num_rows == 0:
                    continue
                yield _to_store_batch(batch, view)
                done += batch.num_rows
                if progress is not None:
                    progress(view.name, done, total)

        result = store.write_stream(
            view.name,
            list(view.join_keys),
            tables(),
            timestamp_field=_E,
            created_timestamp_field=_C,
            features=list(view.features),
        )
        rows, written = result.rows, result.written
        note = "" if rows else explain_empty(session, view, start, end, started_by)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return MaterializeResult(
        view=view.name,
        version=version,
        start=ns_to_datetime(start),
        end=ns_to_datetime(end) or datetime.datetime.now(datetime.UTC),
        rows=rows,
        written=written,
        skipped_older=rows - written,
        cleared=cleared,
        seconds=time.perf_counter() - began,
        note=note,
    )


def _at(ns: int) -> str:
    stamp = ns_to_datetime(ns)
    return "" if stamp is None else stamp.strftime("%Y-%m-%d %H:%M:%S")


def explain_empty(
    session: OfflineSession, view: FeatureView, start: int | None, end: int, started_by: StartedBy
) -> str:
    """Why the window ``[start, end)`` of ``view`` held no event: one aggregate over the
    source (run only when nothing was read), turned into the window and what to do."""
    types = session.source_types(view)
    event = epoch_ns(view.timestamp_field, types[view.timestamp_field])
    keyed = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k in view.join_keys) or "true"
    total, usable, first, last = session.con.sql(
        "SELECT count(*), count(e) FILTER (WHERE k), min(e) FILTER (WHERE k), "
        f"max(e) FILTER (WHERE k) FROM (SELECT {event} AS e, ({keyed}) AS k "
        f"FROM {session.from_sql(view)})"
    ).fetchall()[0]
    window = f"no event in [{'the beginning' if start is None else _at(start)}, {_at(end)})"
    if not total:
        return f"{window}: the source has no rows"
    if not usable:
        return f"{window}: every source row has a null join key or event time"
    if first >= end:
        return f"{window}: the first event is at {_at(first)}; materialize with a later end"
    if start is None or last >= start:
        return f"{window}: the events run from {_at(first)} to {_at(last)}, none in the window"
    if started_by == "watermark":
        return (
            f"{window}: nothing new since the last run (the newest event is {_at(last)}); "
            "rows that arrive late, before the last run's end, need an explicit start"
        )
    if started_by == "ttl":
        return (
            f"{window}: the newest event ({_at(last)}) is older than the view's ttl "
            f"({format_duration(view.window)}) allows at the end, so online reads at that time "
            f"return None. To serve these values, materialize with an end after {_at(last)} "
            "and read with now= before it expires, or apply the view with a longer ttl (or none)"
        )
    return f"{window}: the newest event ({_at(last)}) is before the start"


# -- watermarks -----------------------------------------------------------------------------


def record_run(
    catalog: Any, result: MaterializeResult, start: int | None, end: int, store_id: str
) -> None:
    with catalog.begin() as conn:
        conn.execute(
            materializations.insert().values(
                id=new_id(),
                view=result.view,
                view_version=result.version,
                start_ts=start,
                end_ts=end,
                rows=result.rows,
                entities=result.written,
                store=store_id[:250],
                created_at=now_ms(),
            )
        )


def last_run(catalog: Any, view: str, store_id: str) -> tuple[int, int] | None:
    """(view version, end) of the most recent run of ``view`` into ``store_id``."""
    stmt = (
        select(materializations.c.view_version, materializations.c.end_ts)
        .where(materializations.c.view == view, materializations.c.store == store_id[:250])
        .order_by(materializations.c.created_at.desc(), materializations.c.end_ts.desc())
        .limit(1)
    )
    with catalog.read() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else (int(row[0]), int(row[1]))


def watermark(catalog: Any, view: str, version: int, store_id: str) -> int | None:
    """The furthest end of any run of this view version into ``store_id``."""
    stmt = select(materializations.c.end_ts).where(
        materializations.c.view == view,
        materializations.c.view_version == version,
        materializations.c.store == store_id[:250],
    )
    with catalog.read() as conn:
        ends = [int(row[0]) for row in conn.execute(stmt)]
    return max(ends) if ends else None


def history(catalog: Any, view: str | None = None) -> list[dict[str, Any]]:
    stmt = select(materializations).order_by(materializations.c.created_at)
    if view is not None:
        stmt = stmt.where(materializations.c.view == view)
    with catalog.read() as conn:
        return [dict(row._mapping) for row in conn.execute(stmt)]


__all__ = [
    "BATCH_ROWS",
    "MaterializeResult",
    "StartedBy",
    "explain_empty",
    "history",
    "last_run",
    "latest_per_entity_sql",
    "load_window",
    "ns_to_datetime",
    "record_run",
    "watermark",
]
