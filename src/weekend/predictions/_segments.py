"""The prediction log's segments: Parquet blobs in the artifact store, rows in the catalog.

A segment is written in two steps, in this order: its Parquet bytes become a blob (written
to a temporary key and renamed into place by the artifact store), then one catalog
transaction inserts its row. A crash between the two leaves a blob no row refers to, which
``weekend gc`` removes after its grace period; a crash before the rename leaves a file under
the store's ``tmp/``. So a segment is registered only once its blob is complete: every row
of ``prediction_segments`` names a readable blob, and nothing is ever half-registered.
"""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Connection, delete, select

from weekend.artifacts import ArtifactStore
from weekend.catalog import Catalog
from weekend.catalog.tables_predictions import prediction_segments
from weekend.core.errors import IntegrityError
from weekend.core.ids import new_id, now_ms

_WRITER = f"{socket.gethostname()[:200]}:{{pid}}"


@dataclass(frozen=True)
class Segment:
    """One registered segment of the prediction log (times in µs since the epoch)."""

    id: str
    model: str
    version: int
    min_ts: int
    max_ts: int
    rows: int
    sha256: str
    size: int
    writer: str
    created_at: int


def parquet_bytes(table: pa.Table) -> bytes:
    """A table as one Parquet file (zstd), in memory."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def write_segment(
    catalog: Catalog, artifacts: ArtifactStore, model: str, version: int, table: pa.Table
) -> Segment:
    """Store ``table`` (rows of one model version) as a blob, then register it."""
    data = parquet_bytes(table)
    blob = artifacts.put_bytes(data)
    bounds = pc.min_max(table.column("ts"))
    segment = Segment(
        id=new_id(),
        model=model,
        version=int(version),
        min_ts=bounds["min"].value,
        max_ts=bounds["max"].value,
        rows=table.num_rows,
        sha256=blob.sha256,
        size=blob.size,
        writer=_WRITER.format(pid=os.getpid()),
        created_at=now_ms(),
    )
    row = {**segment.__dict__, "blob_sha256": segment.sha256}
    del row["sha256"]
    with catalog.begin() as conn:
        conn.execute(prediction_segments.insert(), [row])
    return segment


def _segment(row: object) -> Segment:
    m = row._mapping  # type: ignore[attr-defined]
    return Segment(
        id=m["id"],
        model=m["model"],
        version=m["version"],
        min_ts=m["min_ts"],
        max_ts=m["max_ts"],
        rows=m["rows"],
        sha256=m["blob_sha256"],
        size=m["size"],
        writer=m["writer"],
        created_at=m["created_at"],
    )


def find_segments(
    conn: Connection,
    model: str | None,
    start_us: int | None = None,
    end_us: int | None = None,
    versions: Sequence[int] | None = None,
) -> list[Segment]:
    """The segments of ``model`` (every model: None) with rows in ``[start_us, end_us)``."""
    t = prediction_segments
    query = select(t)
    if model is not None:
        query = query.where(t.c.model == model)
    if start_us is not None:
        query = query.where(t.c.max_ts >= start_us)
    if end_us is not None:
        query = query.where(t.c.min_ts < end_us)
    if versions is not None:
        query = query.where(t.c.version.in_(list(versions)))
    query = query.order_by(t.c.min_ts, t.c.id)
    return [_segment(row) for row in conn.execute(query)]


def old_segments(conn: Connection, model: str | None, before_us: int) -> list[Segment]:
    """The segments whose every row is older than ``before_us``."""
    t = prediction_segments
    query = select(t).where(t.c.max_ts < before_us)
    if model is not None:
        query = query.where(t.c.model == model)
    return [_segment(row) for row in conn.execute(query)]


def delete_segments(conn: Connection, ids: Sequence[str]) -> None:
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        conn.execute(delete(prediction_segments).where(prediction_segments.c.id.in_(chunk)))


def read_segment(artifacts: ArtifactStore, segment: Segment) -> pa.Table:
    """The rows of a segment, its blob verified against the digest in the catalog."""
    data = artifacts.read_bytes(segment.sha256)
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:  # pragma: no cover - the digest matched
        raise IntegrityError(
            f"prediction segment {segment.id} (blob {segment.sha256}) is not readable "
            f"Parquet: {exc}"
        ) from None
    if table.num_rows != segment.rows:
        raise IntegrityError(
            f"prediction segment {segment.id} holds {table.num_rows} rows, the catalog "
            f"recorded {segment.rows}"
        )
    return table


__all__ = [
    "Segment",
    "delete_segments",
    "find_segments",
    "old_segments",
    "parquet_bytes",
    "read_segment",
    "write_segment",
]
