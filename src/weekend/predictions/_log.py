"""The prediction log's writer: a bounded buffer that a background thread turns into segments.

``append`` checks the records (see :mod:`weekend.predictions._records`), puts them in an
in-memory buffer and returns; it never waits for storage. A daemon thread writes the buffer
every ``flush_seconds``, or as soon as it holds ``flush_rows`` rows: one Parquet segment per
model version, each stored and registered atomically (:mod:`weekend.predictions._segments`).

Guarantees and policies:

- **a crash loses at most the buffer**: the rows appended since the last write started, so at
  most ``flush_seconds`` of predictions plus the time one write takes (``close()`` and the
  interpreter's exit write what is left; SIGKILL does not wait);
- **back-pressure: drop the newest and count**. When ``max_buffer_rows`` rows are waiting
  (storage slower than traffic, or unavailable), an append is refused as a whole (the rows of
  one call stay together), counted in :attr:`LogStats.dropped_full` and reported by a warning
  on the ``weekend.predictions`` logger at most every 10 s. A request is never blocked or
  failed by the log;
- **storage errors are retried**: a segment that cannot be written stays in the buffer and is
  retried with a growing delay (up to a minute); its rows count toward the bound meanwhile;
- **one bad value never costs other rows**: values are checked at the call; if a group of
  rows still cannot be converted, that group alone is dropped and counted in
  :attr:`LogStats.dropped_invalid`.
"""

from __future__ import annotations

import atexit
import concurrent.futures.thread  # noqa: F401  (see _close_all)
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from weekend.artifacts import ArtifactStore
from weekend.catalog import Catalog
from weekend.core.errors import ConflictError, InvalidValueError
from weekend.core.ids import now_us
from weekend.predictions._privacy import Privacy
from weekend.predictions._records import (
    Entry,
    Kinds,
    check_record,
    check_table,
    conform,
    records_table,
    split_by_version,
)
from weekend.predictions._segments import Segment, write_segment

log = logging.getLogger("weekend.predictions")

FLUSH_ROWS = 10_000
FLUSH_SECONDS = 5.0
MAX_BUFFER_ROWS = 100_000
MAX_RETRY_DELAY = 60.0
WARN_EVERY = 10.0

_OPEN: weakref.WeakSet[PredictionLog] = weakref.WeakSet()


@dataclass(frozen=True)
class LogStats:
    """Counters of one :class:`PredictionLog` since it was opened (rows, unless named)."""

    appended: int
    written: int
    buffered: int
    dropped_full: int
    dropped_invalid: int
    segments: int
    failed_writes: int
    last_error: str | None
    oldest_buffered_us: int | None

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest row not written yet (0 when the buffer is empty)."""
        if self.oldest_buffered_us is None:
            return 0.0
        return max(0.0, (now_us() - self.oldest_buffered_us) / 1e6)


def _positive_int(value: object, what: str) -> int:
    if type(value) is not int or value < 1:
        raise InvalidValueError(f"{what} must be an integer >= 1, got {value!r:.40}", field=what)
    return value


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValueError(f"{what} must be a number of seconds, got {value!r:.40}")
    if not (math.isfinite(value) and value > 0):
        raise InvalidValueError(f"{what} must be finite and > 0, got {value!r:.40}", field=what)
    return float(value)


class PredictionLog:
    """Appends prediction records without blocking; writes them as segments (see module).

    ``flush_rows``: a write starts as soon as this many rows wait; ``flush_seconds``: at
    least this often (the crash window); ``max_buffer_rows``: the bound of the buffer, beyond
    which appends are dropped and counted. ``drop_inputs`` / ``hash_inputs`` name input
    columns (personal data) removed or hashed (HMAC-SHA256 with ``hash_key``) before writing.
    """

    def __init__(
        self,
        catalog: Catalog,
        artifacts: ArtifactStore,
        *,
        flush_rows: int = FLUSH_ROWS,
        flush_seconds: float = FLUSH_SECONDS,
        max_buffer_rows: int = MAX_BUFFER_ROWS,
        drop_inputs: Iterable[str] | None = None,
        hash_inputs: Iterable[str] | None = None,
        hash_key: str | bytes | None = None,
    ) -> None:
        self.catalog = catalog
        self.artifacts = artifacts
        self.flush_rows = _positive_int(flush_rows, "flush_rows")
        self.flush_seconds = _seconds(flush_seconds, "flush_seconds")
        self.max_buffer_rows = _positive_int(max_buffer_rows, "max_buffer_rows")
        if self.max_buffer_rows < self.flush_rows:
            raise InvalidValueError(
                f"max_buffer_rows ({max_buffer_rows}) must be at least flush_rows ({flush_rows})",
                field="max_buffer_rows",
            )
        self.privacy = Privacy.of(drop_inputs, hash_inputs, hash_key)
        self._kinds: dict[tuple[str, int], Kinds] = {}
        self._reset()
        _OPEN.add(self)

    def _reset(self) -> None:
        """Fresh locks, buffer and counters (at open, and in a forked child)."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._write_lock = threading.Lock()
        self._entries: list[Entry] = []
        self._tables: list[tuple[pa.Table, int]] = []
        self._retry: list[tuple[tuple[str, int], pa.Table]] = []
        self._count = 0
        self._oldest: int | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        self._failures = 0
        self._last_warned = 0.0
        self._unreported = 0
        self._stats = {
            "appended": 0,
            "written": 0,
            "dropped_full": 0,
            "dropped_invalid": 0,
            "segments": 0,
            "failed_writes": 0,
        }
        self._last_error: str | None = None

    def __repr__(self) -> str:
        return (
            f"PredictionLog(flush_rows={self.flush_rows}, flush_seconds={self.flush_seconds}, "
            f"max_buffer_rows={self.max_buffer_rows})"
        )

    # -- appending ------------------------------------------------------------------------
    def append(self, records: pa.Table | Sequence[Mapping[str, Any]]) -> None:
        """Add prediction records (a list of dicts or an Arrow table); never waits on storage.

        Records are checked here (:class:`InvalidValueError` names the first bad field); a
        full buffer drops the whole call and counts it (:meth:`stats`).
        """
        appended = now_us()
        if isinstance(records, pa.Table):
            table = check_table(records, self._kinds)
            self._admit([], [(table, appended)], table.num_rows, appended)
            return
        if isinstance(records, dict):
            records = [records]
        elif not isinstance(records, list | tuple):
            raise InvalidValueError(
                f"records must be a list of dicts or a pyarrow Table, got {type(records).__name__}",
                field="records",
            )
        entries: list[Entry] = []
        rows: dict[tuple[object, object], int] = {}
        for index, record in enumerate(records):
            check_record(record, f"records[{index}]", self._kinds)
            assert isinstance(record, dict)
            ts = record.get("ts")
            row = record.get("row")
            if row is None:
                key = (record["request_id"], record.get("route"))
                row = rows[key] = rows.get(key, -1) + 1
            entries.append((record, row, appended if ts is None else ts))
        if entries:
            self._admit(entries, [], len(entries), appended)

    def _admit(
        self, entries: list[Entry], tables: list[tuple[pa.Table, int]], rows: int, now: int
    ) -> None:
        with self._lock:
            if self._closed:
                raise ConflictError("the prediction log is closed; open a new one to append")
            if self._pid != os.getpid():  # pragma: no cover - reset by the fork hook
                self._reset()
            if self._count + rows > self.max_buffer_rows:
                self._stats["dropped_full"] += rows
                self._unreported += rows
                warn = time.monotonic() - self._last_warned >= WARN_EVERY
                if warn:
                    self._last_warned = time.monotonic()
                    dropped, self._unreported = self._unreported, 0
            else:
                warn = False
                self._entries.extend(entries)
                self._tables.extend(tables)
                if self._oldest is None:
                    self._oldest = now
                self._count += rows
                self._stats["appended"] += rows
                if self._thread is None:
                    self._start()
                if self._count >= self.flush_rows:
                    self._wake.notify()
        if warn:
            log.warning(
                "the prediction log's buffer is full (%d rows waiting, the bound is "
                "max_buffer_rows); dropped %d rows since the last warning. Storage is slower "
                "than traffic or unavailable: %s",
                self._count,
                dropped,
                self._last_error or "no write failed yet",
            )

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="weekend-prediction-log", daemon=True
        )
        self._thread.start()

    # -- writing --------------------------------------------------------------------------
    def _delay(self) -> float:
        if not self._failures:
            return self.flush_seconds
        return min(MAX_RETRY_DELAY, self.flush_seconds * float(2 ** min(self._failures, 16)))

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._closed and self._count < self.flush_rows:
                    self._wake.wait(timeout=self._delay())
                if self._closed:
                    return  # close() writes what is left, in its own thread
            try:
                self._write_pending()
            except Exception:  # noqa: S112 - logged and counted by _write_pending; retried
                continue

    def _take(self) -> tuple[list[Entry], list[tuple[pa.Table, int]], list[Any]]:
        with self._lock:
            entries, self._entries = self._entries, []
            tables, self._tables = self._tables, []
            retry, self._retry = self._retry, []
            self._count = 0
            self._oldest = None
        return entries, tables, retry

    def _groups(
        self, entries: list[Entry], tables: list[tuple[pa.Table, int]]
    ) -> list[tuple[tuple[str, int], pa.Table]]:
        """The buffered rows as Arrow tables, one or more per model version."""
        by_version: dict[tuple[str, int], list[Entry]] = {}
        for entry in entries:
            record = entry[0]
            by_version.setdefault((record["model"], int(record["version"])), []).append(entry)
        groups: list[tuple[tuple[str, int], pa.Table]] = []
        for key, group in by_version.items():
            try:
                groups.append((key, records_table(group, self._kinds.get(key, {}))))
            except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
                self._drop_invalid(key, len(group), exc)
        for table, appended in tables:
            try:
                groups.extend(split_by_version(conform(table, appended)))
            except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
                self._drop_invalid(("(a table)", 0), table.num_rows, exc)
        return groups

    def _drop_invalid(self, key: tuple[str, int], rows: int, exc: BaseException) -> None:
        with self._lock:
            self._stats["dropped_invalid"] += rows
        log.error(
            "the prediction log dropped %d rows of %s version %s it could not convert: %s",
            rows,
            key[0],
            key[1],
            exc,
        )

    def _write_pending(self) -> list[Segment]:
        """Write what is buffered now; raise the first storage error (its rows are kept)."""
        with self._write_lock:
            entries, tables, retry = self._take()
            if not (entries or tables or retry):
                return []
            written: list[Segment] = []
            failed: list[tuple[tuple[str, int], pa.Table]] = []
            error: BaseException | None = None
            for key, table in [*retry, *self._groups(entries, tables)]:
                try:
                    final = self.privacy.apply(table) if self.privacy else table
                    segment = write_segment(self.catalog, self.artifacts, key[0], key[1], final)
                    written.append(segment)
                except Exception as exc:
                    failed.append((key, table))
                    error = error or exc
            self._settle(written, failed, error)
            if error is not None:
                raise error
            return written

    def _settle(
        self,
        written: list[Segment],
        failed: list[tuple[tuple[str, int], pa.Table]],
        error: BaseException | None,
    ) -> None:
        with self._lock:
            self._stats["written"] += sum(s.rows for s in written)
            self._stats["segments"] += len(written)
            if not failed:
                self._failures = 0
                return
            self._retry = failed + self._retry
            self._count += sum(t.num_rows for _, t in failed)
            oldest = min(pc.min(t.column("ts")).value for _, t in failed)
            self._oldest = oldest if self._oldest is None else min(self._oldest, oldest)
            self._failures += 1
            self._stats["failed_writes"] += 1
            self._last_error = f"{type(error).__name__}: {error}"
        log.warning(
            "the prediction log could not write %d segment(s), kept for a retry in %.1f s: %s",
            len(failed),
            self._delay(),
            self._last_error,
        )

    # -- control --------------------------------------------------------------------------
    def flush(self) -> list[Segment]:
        """Write everything appended so far, now; the segments written (raises a storage
        error after keeping the rows for a retry)."""
        return self._write_pending()

    def close(self) -> None:
        """Stop the thread and write what is left (raises if that fails). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        _OPEN.discard(self)
        self._write_pending()

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Rows appended and not written yet (for metrics)."""
        return self._count

    @property
    def dropped(self) -> int:
        """Rows dropped since the log opened: buffer full, or not convertible (for metrics)."""
        return self._stats["dropped_full"] + self._stats["dropped_invalid"]

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest row not written yet, 0 when none waits (for metrics)."""
        return self.stats().lag_seconds

    def stats(self) -> LogStats:
        """A snapshot of the counters (for metrics: lag, drops, failures)."""
        with self._lock:
            return LogStats(
                **self._stats,
                buffered=self._count,
                last_error=self._last_error,
                oldest_buffered_us=self._oldest,
            )


def _close_all() -> None:
    """At exit, write what every open log holds. ``concurrent.futures.thread`` is imported
    with this module because writing may import pandas (through pyarrow), which imports it,
    and it cannot register its own exit hook once the interpreter is shutting down."""
    for prediction_log in list(_OPEN):
        try:
            prediction_log.close()
        except Exception as exc:  # at exit: report, never raise
            log.error("the prediction log could not write its last rows at exit: %s", exc)


def _after_fork_in_child() -> None:
    """A forked child starts with an empty buffer of its own (the parent writes its rows)."""
    for prediction_log in list(_OPEN):
        prediction_log._reset()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["FLUSH_ROWS", "FLUSH_SECONDS", "MAX_BUFFER_ROWS", "LogStats", "PredictionLog"]
