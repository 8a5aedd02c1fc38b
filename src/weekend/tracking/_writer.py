"""The background writer: buffers points, params and tags, writes them in batches.

``Run.log_metric`` appends to an in-memory buffer and returns; a daemon thread writes the
buffer every ``flush_interval`` seconds (or sooner when it grows past ``max_buffer``), and
sends heartbeats for the runs still open. ``flush()`` writes synchronously; it is called at
run end and at interpreter exit. A batch that fails to write is kept and retried: inserts
ignore points already stored (their key includes a per-run unique timestamp), so a retry
never duplicates a point. An error that persists is raised by the next ``flush()``.
"""

from __future__ import annotations

import atexit
import threading
import time
import warnings
import weakref
from typing import Any

from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.exc import OperationalError

from weekend.catalog import Catalog
from weekend.core.errors import ConfigurationError, ConflictError, WeekendError
from weekend.tracking import _store
from weekend.tracking._store import Point

RETRIES = 5


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
        self._lock = threading.Lock()  # guards the buffers
        self._write_lock = threading.Lock()  # one writer at a time
        self._points: list[Point] = []
        self._params: list[tuple[str, str, str]] = []
        self._tags: list[tuple[str, str, str]] = []
        self._active: set[str] = set()
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

    def add_params(self, rows: list[tuple[str, str, str]]) -> None:
        with self._lock:
            self._params.extend(rows)

    def add_tags(self, rows: list[tuple[str, str, str]]) -> None:
        with self._lock:
            self._tags.extend(rows)

    # -- run registry for heartbeats --------------------------------------------------------
    def register(self, run_id: str) -> None:
        with self._lock:
            self._active.add(run_id)
        self._ensure_thread()

    def unregister(self, run_id: str) -> None:
        with self._lock:
            self._active.discard(run_id)

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
                try:
                    conflict = self._write(points, tags, params)
                except SAIntegrityError:
                    # A run was purged while points for it were buffered: drop what belonged
                    # to it (it has nowhere to go), say so, and write the rest.
                    points, tags, params, gone = self._without_missing_runs(points, tags, params)
                    if not gone:
                        raise
                    conflict = self._write(points, tags, params)
                    self._error = ConflictError(
                        f"run(s) {', '.join(sorted(gone))} no longer exist (purged); "
                        "their pending points, params and tags were dropped"
                    )
            except BaseException as exc:
                with self._lock:  # keep them for the next attempt
                    self._points[:0] = points
                    self._tags[:0] = tags
                    self._params[:0] = params
                self._error = exc
                return
            if conflict is not None:
                self._error = conflict

    def _write(
        self,
        points: list[Point],
        tags: list[tuple[str, str, str]],
        params: list[tuple[str, str, str]],
    ) -> WeekendError | None:
        """One transaction for everything buffered; a param conflict is returned, not raised,
        so that the valid rows of the batch are committed."""
        for attempt in range(RETRIES):
            try:
                with self.catalog.begin() as conn:
                    _store.write_metrics(self.catalog, conn, points)
                    _store.write_tags(self.catalog, conn, tags)
                    return _store.write_params(self.catalog, conn, params)
            except OperationalError:
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        return None  # pragma: no cover - the loop returns or raises

    def _without_missing_runs(
        self,
        points: list[Point],
        tags: list[tuple[str, str, str]],
        params: list[tuple[str, str, str]],
    ) -> tuple[list[Point], list[tuple[str, str, str]], list[tuple[str, str, str]], set[str]]:
        wanted = {p[0] for p in points} | {t[0] for t in tags} | {p[0] for p in params}
        with self.catalog.read() as conn:
            present = set(_store.run_rows(conn, sorted(wanted)))
        return (
            [p for p in points if p[0] in present],
            [t for t in tags if t[0] in present],
            [p for p in params if p[0] in present],
            wanted - present,
        )

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
            self._write_pending()
            if time.monotonic() - self._last_beat >= self.heartbeat_interval:
                self._beat()

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        with self._lock:
            active = list(self._active)
        if not active:
            return
        try:
            with self.catalog.begin() as conn:
                _store.heartbeat(conn, active)
        except OperationalError:
            pass  # a missed heartbeat is retried at the next interval

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
