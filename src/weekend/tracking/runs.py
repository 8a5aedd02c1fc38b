"""The run service: start, read, search, delete and garbage-collect runs."""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from weekend.core.errors import ConflictError, InvalidValueError, NotFoundError
from weekend.core.ids import new_id, now_ms
from weekend.core.names import check_text, validate_name
from weekend.core.process import this_process
from weekend.tracking import _store
from weekend.tracking._liveness import dead_reason
from weekend.tracking._run import Run
from weekend.tracking._store import KILLED, RUNNING, MetricPoint
from weekend.tracking._sysinfo import system_tags, user_name
from weekend.tracking._writer import Writer

if TYPE_CHECKING:
    from weekend.artifacts import ArtifactStore
    from weekend.catalog import Catalog
    from weekend.core.settings import Settings
    from weekend.tracking._run import ModelRegistrar

DEFAULT_EXPERIMENT = "default"
log = logging.getLogger("weekend.tracking")


@dataclass
class RunRecord:
    """A stored run, as read back from the catalog."""

    id: str
    experiment_id: str
    experiment: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    parent_id: str | None
    error: str | None
    user: str
    host: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    histories: dict[str, list[MetricPoint]] | None = None
    artifacts: list[dict[str, Any]] | None = None
    # True for a run still recorded as running whose process is dead by every sign readable
    # without writing (heartbeat too old, or its local process gone): ``ws.runs.gc()`` or
    # the next run started in this project marks it killed.
    stale: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("histories", "artifacts")}
        if self.histories is not None:
            out["histories"] = {
                k: [[p.step, p.timestamp, p.value] for p in points]
                for k, points in self.histories.items()
            }
        if self.artifacts is not None:
            out["artifacts"] = self.artifacts
        return out


@dataclass(frozen=True)
class GcReport:
    killed: list[str]
    purged: list[str]


class Runs:
    """``ws.runs``: everything about runs."""

    def __init__(
        self,
        catalog: Catalog,
        artifacts: ArtifactStore,
        settings: Settings,
        *,
        models: Callable[[], ModelRegistrar] | None = None,
    ) -> None:
        self._catalog = catalog
        self._artifacts = artifacts
        self._settings = settings
        self._models = models  # gives what ``run.log_model`` registers with (the registry, above)
        self._writer = Writer(
            catalog, heartbeat_interval=settings.float("tracking", "heartbeat_interval")
        )
        # experiment name -> id; experiments are never renamed or removed, so this never goes stale
        self._experiment_ids: dict[str, str] = {}
        self._heartbeat_timeout_ms = int(settings.float("tracking", "heartbeat_timeout") * 1000)
        # starting a run also marks dead runs killed, at most once per heartbeat interval
        self._sweep_interval = settings.float("tracking", "heartbeat_interval")
        self._next_sweep = 0.0

    # -- starting -------------------------------------------------------------------------
    def start(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        parent: str | Run | None = None,
        system_info: bool = True,
    ) -> Run:
        """Start a run in ``experiment`` (created if new); use it in a ``with`` block."""
        validate_name(experiment, "experiment name")
        if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 250):
            raise InvalidValueError(f"run name must be 1 to 250 characters, got {name!r:.80}")
        if name is not None:
            check_text(name, "run name")
        parent_id = parent.id if isinstance(parent, Run) else parent
        catalog = self._catalog
        run_id = new_id()
        run = Run(
            self,
            run_id=run_id,
            experiment_id="",  # set once the experiment exists
            experiment=experiment,
            name=name or f"run-{run_id[:8]}",
            parent_id=parent_id,
        )
        # Validate tags and params before anything is written: bad input leaves no run behind.
        tag_rows = run._tag_rows(system_tags(str(self._settings.root))) if system_info else []
        if tags:
            tag_rows += run._tag_rows(tags)
        param_rows = run._param_rows(params) if params else []
        experiment_id = self._experiment_ids.get(experiment)
        if experiment_id is None:
            experiment_id = _store.get_or_create_experiment(catalog, experiment)
            self._experiment_ids[experiment] = experiment_id
        run.experiment_id = experiment_id
        self._sweep()
        owner = this_process()
        with catalog.begin() as conn:
            if parent_id is not None:
                _store.run_row(conn, parent_id)  # raises NotFoundError
            _store.insert_run(
                conn,
                run_id=run_id,
                experiment_id=experiment_id,
                name=run.name,
                parent_id=parent_id,
                user=user_name(),
                owner=owner,
            )
        self._writer.register(run_id)
        self._writer.add_tags(tag_rows)
        run._add_params(param_rows)
        return run

    def resume(self, run_id: str) -> Run:
        """Continue logging into a run that is still running (e.g. from another process)."""
        with self._catalog.read() as conn:
            row = _store.run_row(conn, run_id)
            params = _store.params_of(conn, [run_id])[run_id]
            steps = _store.max_steps(conn, run_id)
        if row["status"] != RUNNING:
            raise ConflictError(f"run {run_id} is {row['status']}; only running runs resume")
        run = Run(
            self,
            run_id=run_id,
            experiment_id=row["experiment_id"],
            experiment=row["experiment"],
            name=row["name"],
            parent_id=row["parent_id"],
            params=params,
            steps=steps,
        )
        self._writer.register(run_id)
        return run

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    # -- reading --------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRecord:
        """A run with its status, params, tags, latest metrics, full histories and artifacts."""
        self._writer.flush()
        with self._catalog.read() as conn:
            record = self._records(conn, [run_id])[0]
            record.histories = _store.history_of(conn, run_id)
            record.artifacts = _store.artifacts_of(conn, run_id)
        return record

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """Every point logged for metric ``key`` of run ``run_id``, in step order."""
        self._writer.flush()
        with self._catalog.read() as conn:
            _store.run_row(conn, run_id)
            if not _store.storable(key):
                return []  # no stored key can equal it
            return _store.history_of(conn, run_id, key).get(key, [])

    def _records(self, conn: Any, run_ids: Sequence[str]) -> list[RunRecord]:
        rows = _store.run_rows(conn, run_ids)
        missing = [r for r in run_ids if r not in rows]
        if missing:
            raise NotFoundError(f"run {missing[0]!r} does not exist")
        params, tags, latest = _store.attributes_of(conn, run_ids)
        stale = self._stale([rows[r] for r in run_ids if rows[r]["status"] == RUNNING])
        out = []
        for run_id in run_ids:
            row = rows[run_id]
            out.append(
                RunRecord(
                    id=run_id,
                    experiment_id=row["experiment_id"],
                    experiment=row["experiment"],
                    name=row["name"],
                    status=row["status"],
                    start_time=row["start_time"],
                    end_time=row["end_time"],
                    parent_id=row["parent_id"],
                    error=row["error"],
                    user=row["user"],
                    host=row["host"],
                    params=params[run_id],
                    tags=tags[run_id],
                    metrics=latest[run_id],
                    stale=run_id in stale,
                )
            )
        return out

    def _stale(self, running: Sequence[Mapping[str, Any]]) -> set[str]:
        """The running runs, of those given, whose process is dead (read-only verdict)."""
        if not running:
            return set()
        me, now, mine = this_process(), now_ms(), self._writer.active()
        return {
            str(row["id"])
            for row in running
            if row["id"] not in mine
            and dead_reason(row, me, now, self._heartbeat_timeout_ms) is not None
        }

    def list(
        self, experiment: str | Sequence[str] | None = None, *, limit: int | None = 100
    ) -> builtins.list[RunRecord]:
        """The newest runs (of ``experiment``), newest first: ``search`` without a filter."""
        return self.search(None, experiment=experiment, limit=limit)

    def search(
        self,
        filter: str | None = None,
        *,
        order_by: Sequence[str] | None = None,
        limit: int | None = 100,
        offset: int = 0,
        experiment: str | Sequence[str] | None = None,
    ) -> builtins.list[RunRecord]:
        """Runs matching a filter such as ``"metrics.auc > 0.8 and params.model = 'gbm'"``.

        See ``docs/tracking.md`` for the language. Sorting and filtering on a metric use its
        latest value.
        """
        from weekend.tracking.search import search_run_ids

        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InvalidValueError(f"limit must be a positive integer or None, got {limit!r}")
        if isinstance(filter, str):
            check_text(filter, "filter")
        self._writer.flush()
        catalog = self._catalog
        experiment_ids: builtins.list[str] | None = None
        if experiment is not None:
            names = [experiment] if isinstance(experiment, str) else list(experiment)
            found = {n: self._experiment_ids[n] for n in names if n in self._experiment_ids}
            if len(found) < len(names):
                with catalog.read() as conn:
                    found = _store.experiment_ids(conn, names)
                self._experiment_ids.update(found)
            unknown = [n for n in names if n not in found]
            if unknown:
                raise NotFoundError(f"experiment {unknown[0]!r} does not exist")
            experiment_ids = [found[n] for n in names]
        ids = search_run_ids(
            catalog,
            filter,
            order_by=order_by,
            limit=limit,
            offset=offset,
            experiment_ids=experiment_ids,
        )
        if not ids:
            return []
        with catalog.read() as conn:
            return self._records(conn, ids)

    # -- artifacts ------------------------------------------------------------------------
    def _record_artifacts(
        self, run_id: str, entries: builtins.list[tuple[str, str, int, str]]
    ) -> None:
        with self._catalog.begin() as conn:
            _store.record_artifacts(self._catalog, conn, run_id, entries)

    def artifacts(self, run_id: str) -> builtins.list[dict[str, Any]]:
        with self._catalog.read() as conn:
            _store.run_row(conn, run_id)
            return _store.artifacts_of(conn, run_id)

    def read_artifact(self, run_id: str, name: str) -> bytes:
        """The bytes of an artifact, verified against its recorded hash."""
        with self._catalog.read() as conn:
            digest = _store.artifact_hash(conn, run_id, name)
        return self._artifacts.read_bytes(digest)

    def download_artifact(self, run_id: str, name: str, dest: str | Path) -> Path:
        with self._catalog.read() as conn:
            digest = _store.artifact_hash(conn, run_id, name)
        return self._artifacts.get_file(digest, dest)

    # -- lifecycle ------------------------------------------------------------------------
    def _set_status(self, run_id: str, status: str, error: str | None) -> None:
        with self._catalog.begin() as conn:
            _store.set_status(conn, run_id, status, error, only_running=True)

    def delete(self, run_ids: str | Sequence[str], *, purge: bool = False) -> int:
        """Delete runs (hidden from search; ``purge`` also removes their rows)."""
        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        with self._catalog.begin() as conn:
            found = _store.run_rows(conn, ids)
            missing = [r for r in ids if r not in found]
            if missing:
                raise NotFoundError(f"run {missing[0]!r} does not exist")
            if purge:
                _store.purge(conn, ids)
                return len(ids)
            return _store.soft_delete(conn, ids)

    def gc(self, *, purge_deleted: bool = False) -> GcReport:
        """Mark runs whose process died as killed; optionally purge deleted runs.

        A running run is dead when its heartbeat is older than ``heartbeat_timeout``, or when
        its process ran on this machine (same machine id, boot and PID namespace) and is gone.
        See ``docs/tracking.md``; a run wrongly marked recovers at its next heartbeat.
        """
        killed = self._mark_dead()
        purged: builtins.list[str] = []
        if purge_deleted:
            with self._catalog.begin() as conn:
                purged = _store.deleted_run_ids(conn)
                if purged:
                    _store.purge(conn, purged)
        return GcReport(killed=killed, purged=purged)

    def _mark_dead(self) -> builtins.list[str]:
        """Mark the running runs whose process is dead as killed (``lost``); their ids."""
        with self._catalog.read() as conn:
            candidates = _store.running_runs(conn)
        me, now, mine = this_process(), now_ms(), self._writer.active()
        verdicts = []
        for row in candidates:
            if row["id"] not in mine:
                reason = dead_reason(row, me, now, self._heartbeat_timeout_ms)
                if reason is not None:
                    verdicts.append((row, reason))
        if not verdicts:
            return []  # nothing to write: no write transaction at all
        killed = []
        with self._catalog.begin() as conn:
            for row, reason in verdicts:
                if _store.mark_lost(conn, row["id"], row["heartbeat_at"], reason):
                    killed.append(str(row["id"]))
        return killed

    def _sweep(self) -> None:
        """Dead-run cleanup when this process starts a run (a writing operation anyway)."""
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + self._sweep_interval
        try:
            self._mark_dead()
        except SQLAlchemyError as exc:  # cleanup is a courtesy: never fail a start over it
            log.warning("could not mark dead runs killed: %s", exc)


__all__ = ["KILLED", "GcReport", "Run", "RunRecord", "Runs"]
