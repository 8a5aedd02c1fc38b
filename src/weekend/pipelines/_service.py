"""``ws.pipelines``: run pipelines, read their runs, load step outputs, explain cache misses."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from weekend.artifacts import ArtifactStore
from weekend.catalog import Catalog
from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.core.ids import new_id, now_ms
from weekend.core.settings import Settings
from weekend.pipelines import _store
from weekend.pipelines._cachekey import diff_parts, params_json
from weekend.pipelines._executors import Executor, Reopen, make_executor
from weekend.pipelines._materialize import decode
from weekend.pipelines._records import PipelineRun
from weekend.pipelines._runner import Runner
from weekend.pipelines._steps import Pipeline, build


@dataclass(frozen=True)
class Explanation:
    """Why a step of a run hit or missed the cache: ``hit``, and one line per changed part."""

    run_id: str
    step: str
    hit: bool
    compared_with: str | None
    reasons: list[str]

    def __str__(self) -> str:
        return "\n".join(self.reasons)


class Pipelines:
    """Pipelines of one project (docs/pipelines.md).

    ``models`` gives the registry (a ``model`` output loads as its ModelVersion);
    ``workspace`` gives what a step's ``ws`` parameter receives in process, and
    ``open_workspace`` (picklable) opens it again in a worker process or on Ray.
    """

    def __init__(
        self,
        catalog: Catalog,
        artifacts: ArtifactStore,
        settings: Settings,
        *,
        models: Callable[[], Any] | None = None,
        workspace: Callable[[], Any] | None = None,
        open_workspace: Callable[[], Any] | None = None,
    ) -> None:
        self._catalog = catalog
        self._artifacts = artifacts
        self._settings = settings
        self._models = models
        self._workspace = workspace
        self._open_workspace = open_workspace

    def _model(self, name: str, version: int) -> Any:
        if self._models is None:
            return {"name": name, "version": version}
        return self._models().get(f"{name}/{version}")

    def run(
        self,
        flow: Pipeline[..., Any],
        /,
        *,
        executor: str | Executor = "local",
        executor_options: dict[str, Any] | None = None,
        **params: Any,
    ) -> PipelineRun:
        """Run ``flow`` with ``params`` on ``executor`` (``local``, ``process``, ``ray``).

        Returns the run; a failed step makes ``run.status == "failed"`` and ``run.error``
        its error, after the steps that do not depend on it have run.
        """
        if not isinstance(flow, Pipeline):
            raise InvalidValueError(
                f"run() takes a function decorated with @pipeline, got {flow!r:.80}",
                field="pipeline",
            )
        bound = flow.bind(params)
        params_text = params_json(bound, flow.name).decode()
        graph = build(flow, bound)
        engine = make_executor(executor, **(executor_options or {}))
        run_id = new_id()
        row = {
            "id": run_id,
            "pipeline": flow.name,
            "params_json": params_text,
            "executor": engine.name,
            "status": "running",
            "started_at": now_ms(),
        }
        with self._catalog.begin() as conn:
            _store.insert_run(conn, row, list(graph.nodes))
        runner = Runner(
            self._catalog,
            self._artifacts,
            engine,
            run_id,
            workspace=self._step_workspace(engine),
            models=self._model,
        )
        try:
            error = runner.run(graph)
        except BaseException as exc:
            self._finish(run_id, f"the run stopped: {type(exc).__name__}: {exc}")
            raise
        finally:
            if engine is not executor:
                engine.close()
        self._finish(run_id, error)
        return self.get(run_id)

    def _step_workspace(self, engine: Executor) -> Any:
        if engine.name == "local":
            return self._workspace() if self._workspace is not None else None
        return Reopen(self._open_workspace) if self._open_workspace is not None else None

    def _finish(self, run_id: str, error: str | None) -> None:
        status = "failed" if error else "succeeded"
        with self._catalog.begin() as conn:
            _store.finish_run(
                conn, run_id, {"status": status, "error": error, "ended_at": now_ms()}
            )

    def get(self, run_id: str) -> PipelineRun:
        """One run with its steps."""
        with self._catalog.read() as conn:
            return _store.get_run(conn, run_id)

    def list(self, pipeline: str | None = None, *, limit: int = 50) -> builtins.list[PipelineRun]:
        """Runs, newest first (of one pipeline if named)."""
        with self._catalog.read() as conn:
            return _store.list_runs(conn, pipeline, limit)

    def output(self, run_id: str, step: str, *, trusted: bool = False) -> Any:
        """The stored output of a step (a pickle loads only with ``trusted=True``)."""
        found = self.get(run_id).steps.get(step)
        if found is None or found.output_sha256 is None or found.output_kind is None:
            raise NotFoundError(f"run {run_id!r} has no output of step {step!r}", field="step")
        data = self._artifacts.read_bytes(found.output_sha256)
        return decode(found.output_kind, data, models=self._model, trusted_pickle=trusted)

    def explain(self, run_id: str, step: str) -> Explanation:
        """Why ``step`` of ``run_id`` hit or missed the cache: the parts of its key that differ
        from the latest earlier run of the same step in the same pipeline."""
        run = self.get(run_id)
        found = run.steps.get(step)
        if found is None:
            raise NotFoundError(
                f"run {run_id!r} has no step {step!r}; its steps are {sorted(run.steps)}",
                field="step",
            )
        if found.cached:
            return Explanation(run_id, step, True, None, ["cache hit: same key as an earlier run"])
        if found.key_parts is None:
            return Explanation(
                run_id, step, False, None, [f"the step did not start ({found.status})"]
            )
        with self._catalog.read() as conn:
            before = _store.previous_step(conn, run.pipeline, step, run.started_at, run_id)
        if before is None:
            reasons = [f"first run of step {step!r} in pipeline {run.pipeline!r}: nothing cached"]
            return Explanation(run_id, step, False, None, reasons)
        reasons = diff_parts(before[1], found.key_parts)
        if not reasons:
            reasons = [
                f"same key as run {before[0]}, but no succeeded output was stored for it "
                "(it failed, or the step says cache=False)"
            ]
        return Explanation(run_id, step, False, before[0], reasons)
