"""The online store contract and its result types.

A store keeps one record per (feature view, entity): the values of all features of the view,
the event timestamp and the created timestamp. Stores differ only in where the bytes go; the
validation and encoding (:mod:`weekend.features.online._codec`) and the TTL rule on read live
in the shared code, so SQLite and Redis cannot drift apart.
"""

from __future__ import annotations

import abc
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import orjson
import pyarrow as pa

from weekend.core.errors import ConfigurationError, InvalidValueError
from weekend.core.names import validate_name
from weekend.features.online._codec import (
    MIN_NS,
    RecordBatch,
    StoredRecord,
    as_table,
    check_names,
    datetime_to_ns,
    decode_value,
    encode_entity_keys,
    encode_records,
    timedelta_to_ns,
)

if TYPE_CHECKING:
    import pandas as pd

_PREFIX = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


@dataclass(frozen=True)
class WriteResult:
    """What a write did: ``rows == written + skipped_older``.

    ``skipped_older`` counts rows not stored because a newer or equally new record for the
    same entity exists, in the store already or later in the same batch.
    """

    rows: int
    written: int
    skipped_older: int


@dataclass(frozen=True)
class OnlineResult:
    """Feature values per entity row, in the order of the request.

    ``rows[i]`` maps every requested feature to its value, ``None`` when the entity is unknown
    or its record is expired or from the future. ``event_ns[view][i]`` is the event timestamp
    (ns since the epoch, UTC) of the record that served row ``i``, ``None`` when none did.
    """

    features: tuple[str, ...]
    rows: list[dict[str, Any]]
    event_ns: dict[str, list[int | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One fresh ``{feature: value}`` dict per entity row."""
        return [dict(row) for row in self.rows]

    def event_timestamps(self, view: str | None = None) -> list[pd.Timestamp | None]:
        """Event timestamps (UTC, ns precision) per row for ``view`` (the only view by default)."""
        import pandas as pd

        views = sorted(self.event_ns)
        if view is None and len(views) == 1:
            view = views[0]
        if view not in self.event_ns:
            raise InvalidValueError(
                f"this result holds the views {views}; pass view= one of them, got {view!r}"
            )
        return [None if ns is None else pd.Timestamp(ns, tz="UTC") for ns in self.event_ns[view]]

    def to_pandas(self, *, event_timestamps: bool = False) -> pd.DataFrame:
        """A frame with one column per feature; with ``event_timestamps`` also one
        ``{view}__event_timestamp`` column per view."""
        import pandas as pd

        frame = pd.DataFrame.from_records(self.rows, columns=list(self.features))
        if event_timestamps:
            for view, values in self.event_ns.items():
                ns = pd.array([pd.NA if v is None else v for v in values], dtype="Int64")
                frame[f"{view}__event_timestamp"] = pd.to_datetime(ns, unit="ns", utc=True)
        return frame

    def to_arrow(self, *, event_timestamps: bool = False) -> pa.Table:
        """The same as :meth:`to_pandas`, as a pyarrow table."""
        frame = self.to_pandas(event_timestamps=event_timestamps)
        return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)

    @classmethod
    def combine(cls, results: Sequence[OnlineResult]) -> OnlineResult:
        """Join the results of several views for the same entity rows, side by side."""
        if not results:
            return cls(features=(), rows=[], event_ns={})
        size = len(results[0])
        features: list[str] = []
        event_ns: dict[str, list[int | None]] = {}
        for result in results:
            if len(result) != size:
                raise InvalidValueError(
                    f"cannot combine results of {size} and {len(result)} rows; "
                    "read every view with the same entity rows"
                )
            for name in result.features:
                if name in features:
                    raise InvalidValueError(
                        f"feature {name!r} appears in more than one result; rename it in one view"
                    )
                features.append(name)
            for view, values in result.event_ns.items():
                if view in event_ns:
                    raise InvalidValueError(f"view {view!r} appears in more than one result")
                event_ns[view] = values
        parts = zip(*(result.rows for result in results), strict=True)
        rows = [{name: v for row in part for name, v in row.items()} for part in parts]
        return cls(features=tuple(features), rows=rows, event_ns=event_ns)


class OnlineStore(abc.ABC):
    """Latest feature values per entity, for serving.

    Implementations store configuration in the constructor and connect on first use. They
    implement :meth:`_upsert` (atomic compare-and-set per record: replace only when the
    incoming ``(event_ts, created_ts)`` is newer), :meth:`_fetch`, :meth:`delete_view` and
    :meth:`close`; everything else is shared.

    ``local`` is True when reads are served from this machine (a file or memory) with no
    network round trip: an HTTP edge may then answer a small request on its event loop.
    """

    key_prefix: str
    local: bool = False

    def write(
        self,
        view: str,
        keys: Sequence[str],
        table: pa.Table | pd.DataFrame,
        *,
        timestamp_field: str,
        created_timestamp_field: str | None,
        features: Sequence[str],
    ) -> WriteResult:
        """Store the newest record per entity of ``table``; older events never replace newer."""
        view = validate_name(view, "feature view name")
        table = as_table(table)
        rows = table.num_rows
        batches = encode_records(
            view,
            table,
            keys,
            timestamp_field=timestamp_field,
            created_timestamp_field=created_timestamp_field,
            features=features,
        )
        written = self._upsert(view, batches) if rows else 0
        return WriteResult(rows=rows, written=written, skipped_older=rows - written)

    def write_stream(
        self,
        view: str,
        keys: Sequence[str],
        tables: Iterable[pa.Table],
        *,
        timestamp_field: str,
        created_timestamp_field: str | None,
        features: Sequence[str],
    ) -> WriteResult:
        """Store a stream of tables, each validated and encoded as it comes, while the store
        writes the one before (one pass, bounded memory: what materialization uses).

        Each table is checked like :meth:`write`; a bad table stops the stream with its error.
        The newest-record rule holds across tables. A long stream is not one transaction: a
        store may commit as it goes (SQLite every ``commit_rows`` records), so a stream cut
        short leaves the records before the cut, and running it again completes it.
        """
        view = validate_name(view, "feature view name")
        seen = 0

        def batches() -> Iterator[RecordBatch]:
            nonlocal seen
            for table in tables:
                table = as_table(table)
                seen += table.num_rows
                yield from encode_records(
                    view,
                    table,
                    keys,
                    timestamp_field=timestamp_field,
                    created_timestamp_field=created_timestamp_field,
                    features=features,
                )

        written = self._upsert(view, batches())
        return WriteResult(rows=seen, written=written, skipped_older=seen - written)

    def read(
        self,
        view: str,
        keys: Sequence[str],
        entity_rows: Sequence[Mapping[str, Any]] | pa.Table,
        features: Sequence[str],
        *,
        ttl: timedelta | None = None,
        now: datetime | None = None,
    ) -> OnlineResult:
        """Feature values for each entity row, valid iff ``now - ttl <= event_ts <= now``."""
        view = validate_name(view, "feature view name")
        wanted = check_names(features, "features", view)
        encoded = encode_entity_keys(view, keys, entity_rows)
        now_ns = time.time_ns() if now is None else datetime_to_ns(now, "now")
        oldest = MIN_NS if ttl is None else now_ns - timedelta_to_ns(ttl, "ttl")
        unique = list(dict.fromkeys(encoded))
        stored = self._fetch(view, unique) if unique else {}
        served: dict[bytes, tuple[dict[str, Any], int]] = {}
        in_order = list(wanted)
        for key, record in stored.items():
            if oldest <= record.event_ns <= now_ns:
                names, values = orjson.loads(record.payload)
                row = dict(zip(names, values, strict=True))
                if names != in_order:
                    row = {name: row.get(name) for name in wanted}
                for name, value in row.items():
                    if type(value) is list:
                        row[name] = decode_value(value)
                served[key] = (row, record.event_ns)
        empty = dict.fromkeys(wanted)
        rows: list[dict[str, Any]] = []
        stamps: list[int | None] = []
        handed_out: set[bytes] = set()
        for key in encoded:
            hit = served.get(key)
            if hit is None:
                rows.append(dict(empty))
                stamps.append(None)
                continue
            rows.append(dict(hit[0]) if key in handed_out else hit[0])  # repeats get copies
            stamps.append(hit[1])
            handed_out.add(key)
        return OnlineResult(features=wanted, rows=rows, event_ns={view: stamps})

    @abc.abstractmethod
    def delete_view(self, view: str) -> None:
        """Remove every record of ``view``; a view without records is not an error."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store reconnects if it is used again."""

    @abc.abstractmethod
    def _upsert(self, view: str, batches: Iterator[RecordBatch]) -> int:
        """Compare-and-set every record; return how many were stored."""

    @abc.abstractmethod
    def _fetch(self, view: str, keys: list[bytes]) -> dict[bytes, StoredRecord]:
        """The stored records among ``keys`` (distinct); absent keys are left out."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def check_key_prefix(prefix: object) -> str:
    """A key prefix: letters, digits and ``_ . : -`` (no glob or path characters)."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            f"key_prefix must be 1 to 64 letters, digits, '_', '.', ':' or '-', got {prefix!r:.80}"
        )
    return prefix


__all__ = [
    "MIN_NS",
    "OnlineResult",
    "OnlineStore",
    "RecordBatch",
    "StoredRecord",
    "WriteResult",
    "check_key_prefix",
    "datetime_to_ns",
]
