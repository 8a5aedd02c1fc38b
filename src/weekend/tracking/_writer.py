"""The background writer: buffers points, params and tags, writes them in batches.

``Run.log_metric`` appends to an in-memory buffer and returns; a daemon thread writes the
buffer every ``flush_interval`` seconds (or sooner when it grows past ``max_buffer``), and
sends heartbeats for the runs still open. ``flush()`` writes synchronously; it is called at
run end and at interpreter exit.

What happens to a batch that fails to write depends on why:

- **The catalog is unavailable** (locked past the retries, connection lost, server down):
  nothing is wrong with the records, so they are kept, in order, for the next attempt, and
  the error is raised by the next ``flush()``. Inserts ignore points already stored (their
  key includes a per-run unique timestamp), so a retry never duplicates a point.
- **The catalog refuses the content** (a value out of range, text it cannot store: anything
  validation at the call should have caught): the batch is split in halves, recursively, and
  each half written on its own, until the refused records are isolated. Each refused record
  is dropped, logged as a warning on the ``weekend.tracking`` logger, listed in
  ``run.dropped`` and counted in the run's ``weekend.dropped`` tag. The other records of the
  batch, and every other run, are written as usual; a refused record is never retried.
- **A run was purged** while records for it were buffered: they have nowhere to go; they
  are dropped and the next ``flush()`` raises a ConflictError naming the run.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import warnings
import weakref
from typing import Any

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from weekend.catalog import Catalog
from weekend.core.errors import ConfigurationError, ConflictError, WeekendError
from weekend.tracking import _store
from weekend.tracking._store import Point

RETRIES = 5
DROPPED_TAG = "weekend.dropped"
MAX_DROPPED_KEPT = 100  # descriptions kept per run (the tag counts them all)
MAX_WARNINGS = 20  # warnings logged per flush; the rest are summarised in one line

log = logging.getLogger("weekend.tracking")

Row = tuple[str, str, str]  # (run_id, key, value) of a param or tag
# A record of a batch being split: (kind, row), kind 0 = point, 1 = tag, 2 = param.
Record = tuple[int, Any]


class _UnavailableError(Exception):
    """The catalog could not be reached; ``records`` are the ones not written yet."""

    def __init__(self, records: list[Record], cause: BaseException) -> None:
        super().__init__(str(cause))
        self.records = records
        self.cause = cause


def _transient(exc: BaseException) -> bool:
    """True for errors of the catalog's availability, not of the records written."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError
    )


def _describe(record: Record) -> str:
    kind, row = record
    if kind == 0:
        _, key, step, ts, value = row
        return f"metric {key!r} step {step} timestamp {ts} value {value!r:.40}"
    what = "tag" if kind == 1 else "param"
    return f"{what} {row[1]!r:.80} = {row[2]!r:.80}"


def _records(points: list[Point], tags: list[Row], params: list[Row]) -> list[Record]:
    records: list[Record] = [(0, p) for p in points]
    records += [(1, t) for t in tags]
    records += [(2, p) for p in params]
    return records


def _split(records: list[Record]) -> tuple[list[Point], list[Row], list[Row]]:
    points: list[Point] = []
    tags: list[Row] = []
    params: list[Row] = []
    for kind, row in records:
        (points, tags, params)[kind].append(row)
    return points, tags, params


class Writer:
    """One per workspace; thread-safe."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        heartbeat_interval: float,
        flush_interval: float = 0.5,
        max_buffer: int = 50_000,
    ) -> None:
        self.catalog = catalog
        self.heartbeat_interval = heartbeat_interval
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self._lock = threading.Lock()  # guards the buffers and the registry of runs
        self._write_lock = threading.Lock()  # one writer at a time
        self._points: list[Point] = []
        self._params: list[Row] = []
        self._tags: list[Row] = []
        self._active: set[str] = set()
        self._dropped: dict[str, list[str]] = {}  # run id -> refused records (first ones)
        self._error: BaseException | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_beat = time.monotonic()
        atexit.register(_close_ref, weakref.ref(self))

    # -- producers (hot path) ---------------------------------------------------------------
    def add_point(self, point: Point) -> None:
        with self._lock:
            self._points.append(point)
            size = len(self._points)
        if size >= self.max_buffer:
            self._wake.set()

    def add_points(self, points: list[Point]) -> None:
        with self._lock:
            self._points.extend(points)

    def add_params(self, rows: list[Row]) -> None:
        with self._lock:
            self._params.extend(rows)

    def add_tags(self, rows: list[Row]) -> None:
        with self._lock:
            self._tags.extend(rows)

    # -- runs: heartbeats and reports -------------------------------------------------------
    def register(self, run_id: str) -> None:
        with self._lock:
            self._active.add(run_id)
        self._ensure_thread()

    def unregister(self, run_id: str) -> None:
        with self._lock:
            self._active.discard(run_id)

    def active(self) -> set[str]:
        """The runs this writer keeps alive with heartbeats."""
        with self._lock:
            return set(self._active)

    def pending(self) -> int:
        """How many points, params and tags wait to be written."""
        with self._lock:
            return len(self._points) + len(self._params) + len(self._tags)

    def dropped(self, run_id: str) -> list[str]:
        """The records of ``run_id`` that the catalog refused and this writer dropped."""
        with self._lock:
            return list(self._dropped.get(run_id, ()))

    # -- writing ----------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything buffered now; raise the error of a failed background write."""
        self._write_pending()
        error, self._error = self._error, None
        if error is not None:
            if isinstance(error, WeekendError):
                raise error
            raise ConfigurationError(f"could not write to the catalog: {error}") from error

    def _write_pending(self) -> None:
        with self._write_lock:
            with self._lock:
                points, self._points = self._points, []
                params, self._params = self._params, []
                tags, self._tags = self._tags, []
            if not (points or params or tags):
                return
            try:
                self._error = self._write(points, tags, params) or self._error
            except _UnavailableError as exc:
                self._requeue(exc.records)
                self._error = exc.cause
            except Exception:  # the catalog refused something: find it, write the rest
                self._write_refused(_records(points, tags, params))
            except BaseException:  # interrupted (KeyboardInterrupt): keep all for later
                self._requeue(_records(points, tags, params))
                raise

    def _requeue(self, records: list[Record]) -> None:
        points, tags, params = _split(records)
        with self._lock:  # kept in order, ahead of what was logged since
            self._points[:0] = points
            self._tags[:0] = tags
            self._params[:0] = params

    def _write(
        self, points: list[Point], tags: list[Row], params: list[Row]
    ) -> WeekendError | None:
        """One transaction for these records. A param conflict is returned, not raised, so
        that the valid rows are committed; unavailability raises ``_UnavailableError``; any other
        error (the catalog refused the content) propagates."""
        for attempt in range(RETRIES):
            try:
                with self.catalog.begin() as conn:
                    _store.write_metrics(self.catalog, conn, points)
                    _store.write_tags(self.catalog, conn, tags)
                    return _store.write_params(self.catalog, conn, params)
            except Exception as exc:
                if not _transient(exc):
                    raise
                if attempt == RETRIES - 1:
                    raise _UnavailableError(_records(points, tags, params), exc) from exc
                time.sleep(0.05 * 2**attempt)
        return None  # pragma: no cover - the loop returns or raises

    def _write_refused(self, records: list[Record]) -> None:
        """Write a batch the catalog refused: without purged runs, then halves of it."""
        try:
            records, gone = self._without_missing_runs(records)
        except SQLAlchemyError as exc:
            self._requeue(records)
            self._error = exc
            return
        if gone:
            self._error = ConflictError(
                f"run(s) {', '.join(sorted(gone))} no longer exist (purged); "
                "their pending points, params and tags were dropped"
            )
        refused: list[tuple[Record, BaseException]] = []
        try:
            self._bisect(records, refused)
        except _UnavailableError as exc:
            self._requeue(exc.records)
            self._error = exc.cause
        self._report(refused)

    def _bisect(self, records: list[Record], refused: list[tuple[Record, BaseException]]) -> None:
        """Write ``records``, splitting them until each refused record stands alone."""
        if not records:
            return
        try:
            conflict = self._write(*_split(records))
        except _UnavailableError:
            raise
        except Exception as exc:
            if len(records) == 1:
                refused.append((records[0], exc))
                return
            middle = len(records) // 2
            try:
                self._bisect(records[:middle], refused)
            except _UnavailableError as unavailable:
                records = unavailable.records + records[middle:]
                raise _UnavailableError(records, unavailable.cause) from None
            self._bisect(records[middle:], refused)
            return
        if conflict is not None:
            self._error = conflict

    def _report(self, refused: list[tuple[Record, BaseException]]) -> None:
        """Tell each run's owner what was dropped: a warning, ``run.dropped``, a tag."""
        counts: dict[str, int] = {}
        for index, (record, exc) in enumerate(refused):
            run_id = record[1][0]
            counts[run_id] = counts.get(run_id, 0) + 1
            what = _describe(record)
            with self._lock:
                kept = self._dropped.setdefault(run_id, [])
                if len(kept) < MAX_DROPPED_KEPT:
                    kept.append(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0]:.200}")
            if index < MAX_WARNINGS:
                log.warning(
                    "run %s: the catalog refused %s, so it was dropped (%s: %.200s)",
                    run_id,
                    what,
                    type(exc).__name__,
                    str(exc).splitlines()[0] if str(exc) else "",
                )
        if len(refused) > MAX_WARNINGS:
            log.warning("%d more refused records were dropped", len(refused) - MAX_WARNINGS)
        if counts:
            try:
                with self.catalog.begin() as conn:
                    _store.add_to_counter_tag(self.catalog, conn, DROPPED_TAG, counts)
            except SQLAlchemyError as exc:
                log.warning("could not record dropped records on their runs: %s", exc)

    def _without_missing_runs(self, records: list[Record]) -> tuple[list[Record], set[str]]:
        wanted = {row[0] for _, row in records}
        with self.catalog.read() as conn:
            present = set(_store.run_rows(conn, sorted(wanted)))
        return [r for r in records if r[1][0] in present], wanted - present

    # -- background thread ------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="weekend-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._write_pending()
                if time.monotonic() - self._last_beat >= self.heartbeat_interval:
                    self._beat()
            except Exception:  # never let the thread die: it is the only background writer
                log.exception("the background writer of weekend met an unexpected error")

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        active = self.active()
        if not active:
            return
        try:
            with self.catalog.begin() as conn:
                _store.heartbeat(conn, sorted(active))
        except SQLAlchemyError as exc:
            if not _transient(exc):
                raise
            # a missed heartbeat is retried at the next interval

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None
        self._write_pending()
        if self._error is not None:
            error, self._error = self._error, None
            warnings.warn(
                f"weekend could not write everything to the catalog before closing: {error}",
                RuntimeWarning,
                stacklevel=2,
            )


def _close_ref(ref: Any) -> None:
    writer = ref()
    if writer is not None:
        writer.close()
