"""Windows over the prediction log, computed with DuckDB over its Parquet segments.

The log of one model version between ``start`` and ``end`` becomes a DuckDB view over the
segments' files (``read_parquet``), never one frame in memory: aggregates (volume, latency,
data quality) run as one grouped query, and drift reads one window at a time. Shadow rows
are left out (they were never answered). Each row carries ``__win``, its window's index:

- **by time** (``window="1d"``, ``"6h"``, ``"30m"``): window ``i`` holds the rows with
  ``start + i * width <= ts < start + (i + 1) * width``;
- **by count** (``window=10000``): rows in time order, ``window`` rows each (the last may
  hold fewer).

Labels that arrived later (``ws.predictions.feedback``) are joined by request id and row,
else by row key, the latest label winning; a window computed again after more labels
arrived shows them (backfill).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weekend.core.errors import InvalidValueError
from weekend.core.sql import quote_ident, sql_string

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from weekend.artifacts import ArtifactStore
    from weekend.predictions import Feedback, Segment

LOG = "__log"
LABELS = "__labels"
WIN = "__win"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class WindowSpec:
    """How the log is cut: ``seconds`` per window (by time) or ``rows`` per window."""

    seconds: int | None = None
    rows: int | None = None

    @property
    def text(self) -> str:
        return f"{self.rows} rows" if self.rows else _duration_text(self.seconds or 0)


def _duration_text(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def parse_window(window: object) -> WindowSpec:
    """``"1d"``, ``"6h"``, ``"15m"``, ``"90s"``, ``"2w"``, a timedelta (by time) or a positive
    integer (rows per window)."""
    if isinstance(window, dt.timedelta):
        seconds = int(window.total_seconds())
        if seconds >= 1:
            return WindowSpec(seconds=seconds)
    elif isinstance(window, int) and not isinstance(window, bool):
        if window >= 1:
            return WindowSpec(rows=window)
    elif isinstance(window, str):
        text = window.strip().lower()
        if text.isdigit() and int(text) >= 1:
            return WindowSpec(rows=int(text))
        number, unit = text[:-1], text[-1:]
        if unit in _UNITS and number.isdigit() and int(number) >= 1:
            return WindowSpec(seconds=int(number) * _UNITS[unit])
    raise InvalidValueError(
        "window must be a duration such as '1d', '6h', '15m' (windows by time) or a positive "
        f"number of rows (windows by count), got {window!r:.40}",
        field="window",
    )


def segment_files(artifacts: ArtifactStore, segments: Sequence[Segment]) -> list[str]:
    """A verified local file for each segment (remote stores are copied to scratch)."""
    return [str(artifacts.verified_path(segment.sha256)) for segment in segments]


def create_log_view(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[str],
    start_us: int,
    end_us: int,
    spec: WindowSpec,
) -> None:
    """The view ``__log``: the answered rows in ``[start, end)`` with their window index."""
    listed = ", ".join(sql_string(f) for f in files)
    where = f"epoch_us(ts) >= {start_us} AND epoch_us(ts) < {end_us} AND route <> 'shadow'"
    source = f"read_parquet([{listed}], union_by_name = true)"
    if spec.seconds is not None:
        width = spec.seconds * 1_000_000
        win = f"CAST((epoch_us(ts) - {start_us}) // {width} AS BIGINT)"
        con.execute(f"CREATE VIEW {LOG} AS SELECT *, {win} AS {WIN} FROM {source} WHERE {where}")
    else:
        order = "ts, request_id, row"
        win = f"CAST((row_number() OVER (ORDER BY {order}) - 1) // {spec.rows} AS BIGINT)"
        # the numbering is materialised once: a window function in a view runs per query
        con.execute(f"CREATE TABLE {LOG} AS SELECT *, {win} AS {WIN} FROM {source} WHERE {where}")


def create_labels(con: duckdb.DuckDBPyConnection, labels: Sequence[Feedback]) -> None:
    """The table ``__labels``: the latest label of each (request id, row) and row key, as
    text (``label``) and as a number where it is one (``label_num``)."""
    import pyarrow as pa

    last_by_request: dict[tuple[str, int], Feedback] = {}
    last_by_key: dict[str, Feedback] = {}
    for item in labels:  # oldest first: the later replaces the earlier
        if item.request_id is not None:
            last_by_request[(item.request_id, item.row)] = item
        elif item.row_key is not None:
            last_by_key[item.row_key] = item
    rows: list[tuple[str | None, int, str | None, Feedback]]
    rows = [(k[0], k[1], None, f) for k, f in last_by_request.items()]
    rows += [(None, -1, key, f) for key, f in last_by_key.items()]
    table = pa.table(
        {
            "request_id": pa.array([r[0] for r in rows], pa.string()),
            "row": pa.array([r[1] for r in rows], pa.int32()),
            "row_key": pa.array([r[2] for r in rows], pa.string()),
            "label": pa.array([_label_text(r[3].label) for r in rows], pa.string()),
            "label_num": pa.array([_label_number(r[3].label) for r in rows], pa.float64()),
        }
    )
    con.register("__labels_arrow", table)
    con.execute(f"CREATE TABLE {LABELS} AS SELECT * FROM __labels_arrow")
    con.unregister("__labels_arrow")


def _label_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _label_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def labelled_query(columns: Sequence[str], where: str) -> str:
    """Rows of ``__log`` matching ``where`` with ``columns`` and their label, if any."""
    chosen = ", ".join(f"l.{quote_ident(c)}" for c in columns) or "l.ts"
    return (
        f"SELECT {chosen}, coalesce(a.label, b.label) AS __label, "
        f"coalesce(a.label_num, b.label_num) AS __label_num "
        f"FROM {LOG} l "
        f"LEFT JOIN {LABELS} a ON a.request_id = l.request_id AND a.row = l.row "
        f"LEFT JOIN {LABELS} b ON b.row_key = l.row_key AND b.request_id IS NULL "
        f"WHERE {where}"
    )


def window_table(con: duckdb.DuckDBPyConnection, columns: Sequence[str], index: int) -> pa.Table:
    """One window's ``columns`` with ``__label`` and ``__label_num`` (Arrow)."""
    return con.sql(labelled_query(columns, f"l.{WIN} = {int(index)}")).to_arrow_table()


def log_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The view's columns and their DuckDB types."""
    rows = con.execute(f"DESCRIBE {LOG}").fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


__all__ = [
    "LABELS",
    "LOG",
    "WIN",
    "WindowSpec",
    "create_labels",
    "create_log_view",
    "labelled_query",
    "log_columns",
    "parse_window",
    "segment_files",
    "window_table",
]
