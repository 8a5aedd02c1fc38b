"""``ws.predictions``: open prediction logs, read them back with feedback, store feedback, prune.

::

    log = ws.predictions.open_log()                 # one per serving process
    log.append([{"request_id": "r1", "model": "flight-delay", "version": 3,
                 "in.distance": 1400.0, "out.prediction": 1, "out.proba.1": 0.81}])
    ws.predictions.feedback("flight-delay", {"request_id": "r1", "label": 1})
    table = ws.predictions.scan("flight-delay", start="2024-05-01")   # pyarrow.Table
    ws.predictions.prune(older_than="90d")

A log's defaults come from the ``[predictions]`` section of ``weekend.toml``
(``flush_rows``, ``flush_seconds``, ``max_buffer_rows``, ``drop_inputs``, ``hash_inputs``,
``hash_key``); arguments of :meth:`PredictionLogs.open_log` override them.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete

from weekend.artifacts import ArtifactStore
from weekend.catalog import Catalog
from weekend.catalog.tables_predictions import prediction_feedback
from weekend.core.errors import ConfigurationError, InvalidValueError
from weekend.core.ids import now_us
from weekend.core.names import validate_name
from weekend.core.settings import Settings
from weekend.predictions._feedback import (
    Feedback,
    FeedbackWriter,
    check_feedback,
    feedback_tables,
    read_feedback,
)
from weekend.predictions._log import PredictionLog
from weekend.predictions._records import SCHEMA, TS_TYPE, ts_us
from weekend.predictions._retention import older_than_us
from weekend.predictions._segments import (
    Segment,
    delete_segments,
    find_segments,
    old_segments,
    read_segment,
)

if TYPE_CHECKING:
    import duckdb

_OPTIONS = {
    "flush_rows": int,
    "flush_seconds": float,
    "max_buffer_rows": int,
    "drop_inputs": list,
    "hash_inputs": list,
    "hash_key": str,
}


@dataclass(frozen=True)
class PruneReport:
    """What :meth:`PredictionLogs.prune` removed."""

    segments: int
    rows: int
    blobs: int
    feedback: int


def _setting(name: str, value: object) -> object:
    kind = _OPTIONS[name]
    if kind is list and isinstance(value, str):  # from an environment variable
        return [part.strip() for part in value.split(",") if part.strip()]
    if kind in (int, float) and isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            raise ConfigurationError(
                f"setting [predictions] {name} must be a number, got {value!r:.60}"
            ) from None
    return value


def _time(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValueError(
                f"{what} must be a datetime or an ISO 8601 time such as 2024-05-01T12:00:00Z, "
                f"got {value!r:.60}",
                field=what,
            ) from None
    elif type(value) is dt.date:
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return ts_us(value, what)


def _promotable(name: str, types: set[pa.DataType]) -> bool:
    schemas = [pa.schema([pa.field(name, kind)]) for kind in types]
    try:
        pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return False
    return True


def _union(tables: list[pa.Table]) -> pa.Table:
    """One table of segments whose columns may differ; a column of two kinds becomes text."""
    if not tables:
        return SCHEMA.empty_table()
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        kinds: dict[str, set[pa.DataType]] = {}
        for table in tables:
            for field in table.schema:
                kinds.setdefault(field.name, set()).add(field.type)
        mixed = {name for name, types in kinds.items() if not _promotable(name, types)}
        cast = [
            t.cast(
                pa.schema([f.with_type(pa.string()) if f.name in mixed else f for f in t.schema])
            )
            for t in tables
        ]
        return pa.concat_tables(cast, promote_options="permissive")


def _coalesce(first: pa.ChunkedArray, second: pa.ChunkedArray) -> pa.ChunkedArray:
    if first.type != second.type:
        if pa.types.is_null(first.type):
            first = first.cast(second.type)
        elif pa.types.is_null(second.type):
            second = second.cast(first.type)
        else:
            first, second = first.cast(pa.string()), second.cast(pa.string())
    return pc.coalesce(first, second)


def join_feedback(table: pa.Table, labels: list[Feedback]) -> pa.Table:
    """``table`` with ``feedback.label`` and ``feedback.ts``: the last label of each row,
    found by (request_id, row), else by row_key; order kept."""
    by_request, by_key = feedback_tables(labels)
    order = "__weekend_order"
    joined = table.append_column(order, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    label, when = "feedback.label", "feedback.ts"
    if by_request.num_rows:
        joined = joined.join(by_request, keys=["request_id", "row"], join_type="left outer")
    if by_key.num_rows:
        renamed = by_key.rename_columns(["row_key", "__label", "__ts"])
        joined = joined.join(renamed, keys="row_key", join_type="left outer")
        if by_request.num_rows:
            merged = [
                _coalesce(joined.column(label), joined.column("__label")),
                _coalesce(joined.column(when), joined.column("__ts")),
            ]
            joined = joined.drop_columns([label, when])
        else:
            merged = [joined.column("__label"), joined.column("__ts")]
        joined = joined.drop_columns(["__label", "__ts"])
        joined = joined.append_column(label, merged[0]).append_column(when, merged[1])
    if not (by_request.num_rows or by_key.num_rows):
        rows = joined.num_rows
        joined = joined.append_column(label, pa.nulls(rows)).append_column(
            when, pa.nulls(rows, TS_TYPE)
        )
    return joined.sort_by(order).drop_columns([order])


class PredictionLogs:
    """The prediction logs of a project (``ws.predictions``)."""

    def __init__(self, catalog: Catalog, artifacts: ArtifactStore, settings: Settings) -> None:
        self.catalog = catalog
        self.artifacts = artifacts
        self.settings = settings
        self._logs: builtins.list[PredictionLog] = []
        self._feedback = FeedbackWriter(catalog)

    def __repr__(self) -> str:
        return f"PredictionLogs({self.artifacts.root!r})"

    def defaults(self) -> dict[str, object]:
        """The ``[predictions]`` settings of the project (options of :meth:`open_log`)."""
        section = self.settings.values.get("predictions", {})
        unknown = sorted(set(section) - set(_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"unknown setting [predictions] {unknown[0]}; known: {', '.join(_OPTIONS)}"
            )
        return {name: _setting(name, value) for name, value in section.items()}

    def open_log(self, **options: Any) -> PredictionLog:
        """A new :class:`PredictionLog` (closed with the workspace); ``options`` override the
        ``[predictions]`` settings: flush_rows, flush_seconds, max_buffer_rows, drop_inputs,
        hash_inputs, hash_key."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise InvalidValueError(
                f"unknown option {unknown[0]!r}; known: {', '.join(_OPTIONS)}", field=unknown[0]
            )
        log = PredictionLog(self.catalog, self.artifacts, **{**self.defaults(), **options})
        self._logs.append(log)
        return log

    # -- reading --------------------------------------------------------------------------
    def segments(
        self,
        model: str | None = None,
        start: object = None,
        end: object = None,
        *,
        versions: Sequence[int] | None = None,
    ) -> builtins.list[Segment]:
        """The registered segments (of ``model``, with rows in ``[start, end)``), by time."""
        name = None if model is None else validate_name(model, "model")
        start_us, end_us = _time(start, "start"), _time(end, "end")
        with self.catalog.read() as conn:
            return find_segments(conn, name, start_us, end_us, versions)

    def scan(
        self,
        model: str,
        start: object = None,
        end: object = None,
        *,
        versions: Sequence[int] | None = None,
        with_feedback: bool = True,
    ) -> pa.Table:
        """Every logged prediction of ``model`` with ``start <= ts < end`` (times: datetime or
        ISO text; naive means UTC), oldest first, as one Arrow table. With ``with_feedback``,
        the columns ``feedback.label`` and ``feedback.ts`` hold each row's last label."""
        name = validate_name(model, "model")
        start_us, end_us = _time(start, "start"), _time(end, "end")
        if start_us is not None and end_us is not None and start_us >= end_us:
            raise InvalidValueError(
                f"start must be before end, got start={start!r:.40} end={end!r:.40}", field="end"
            )
        with self.catalog.read() as conn:
            segments = find_segments(conn, name, start_us, end_us, versions)
            labels = read_feedback(conn, name) if with_feedback else []
        table = _union([read_segment(self.artifacts, segment) for segment in segments])
        ts = table.column("ts")
        mask = None
        if start_us is not None:
            mask = pc.greater_equal(ts, pa.scalar(start_us, TS_TYPE))
        if end_us is not None:
            before = pc.less(ts, pa.scalar(end_us, TS_TYPE))
            mask = before if mask is None else pc.and_(mask, before)
        if mask is not None:
            table = table.filter(mask)
        table = table.sort_by(
            [("ts", "ascending"), ("request_id", "ascending"), ("row", "ascending")]
        )
        return join_feedback(table, labels) if with_feedback else table

    def relation(
        self,
        model: str,
        start: object = None,
        end: object = None,
        *,
        connection: duckdb.DuckDBPyConnection | None = None,
        versions: Sequence[int] | None = None,
        with_feedback: bool = True,
    ) -> duckdb.DuckDBPyRelation:
        """:meth:`scan` as a DuckDB relation (on ``connection``, else a new in-memory one)."""
        import duckdb

        table = self.scan(model, start, end, versions=versions, with_feedback=with_feedback)
        con = connection if connection is not None else duckdb.connect()
        return con.from_arrow(table)

    # -- feedback -------------------------------------------------------------------------
    def feedback(self, model: str, items: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> int:
        """Store labels that arrived later: ``{"request_id": ..., "row": 0, "label": ...}`` or
        ``{"row_key": ..., "label": ...}`` (and optionally ``"ts"``, when the label became
        known), one or a list. All are checked before any is stored; returns how many."""
        rows = check_feedback(validate_name(model, "model"), items)
        self._feedback.write(rows)
        return len(rows)

    def labels(self, model: str | None = None) -> builtins.list[Feedback]:
        """The stored labels (of ``model``), oldest first."""
        name = None if model is None else validate_name(model, "model")
        with self.catalog.read() as conn:
            return read_feedback(conn, name)

    # -- retention ------------------------------------------------------------------------
    def prune(
        self, older_than: object, *, model: str | None = None, feedback: bool = True
    ) -> PruneReport:
        """Remove the segments whose every row is older than ``older_than`` (a duration such
        as ``"90d"`` or a timedelta, counted back from now, or a datetime), their blobs, and
        (with ``feedback``) the labels that became known before it. A segment that straddles
        the cutoff stays until all its rows are older."""
        cutoff = older_than_us(older_than, now_us())
        name = None if model is None else validate_name(model, "model")
        with self.catalog.begin() as conn:
            old = old_segments(conn, name, cutoff)
            delete_segments(conn, [segment.id for segment in old])
            labels = 0
            if feedback:
                query = delete(prediction_feedback).where(prediction_feedback.c.label_ts < cutoff)
                if name is not None:
                    query = query.where(prediction_feedback.c.model == name)
                labels = conn.execute(query).rowcount
        referenced = self.catalog.referenced_blobs()
        gone = {segment.sha256 for segment in old} - referenced
        for digest in gone:
            self.artifacts.delete(digest)
        return PruneReport(len(old), sum(s.rows for s in old), len(gone), labels)

    def close(self) -> None:
        """Close the logs opened here (each writes what it holds)."""
        logs, self._logs = self._logs, []
        for log in logs:
            log.close()


__all__ = ["PredictionLogs", "PruneReport", "join_feedback"]
