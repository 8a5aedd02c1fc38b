"""One run of a pipeline: steps submitted as their inputs are ready, retried, recorded.

A step whose inputs are all succeeded is looked up in the cache (its key, docs/pipelines.md)
and, on a miss, submitted to the executor. A failed attempt is tried again up to the step's
``retries``; a step that still fails marks the steps downstream of it ``skipped`` while
independent steps go on. Each step's row is written when it starts and when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

import orjson

from weekend.artifacts import ArtifactStore
from weekend.catalog import Catalog
from weekend.core.errors import WeekendError
from weekend.core.ids import now_ms
from weekend.pipelines import _store
from weekend.pipelines._cachekey import cache_key, key_parts
from weekend.pipelines._executors import Executor, Outcome, Task
from weekend.pipelines._materialize import decode, encode
from weekend.pipelines._steps import WORKSPACE_PARAM, Graph, Handle, Node


@dataclass
class _Done:
    kind: str
    sha256: str


@dataclass
class _Flight:
    node: Node
    attempt: int
    started: float
    key: str
    parts: dict[str, Any]
    args: dict[str, Any]


class Runner:
    """Runs one graph on one executor, writing each step's row as it goes."""

    def __init__(
        self,
        catalog: Catalog,
        artifacts: ArtifactStore,
        executor: Executor,
        run_id: str,
        *,
        workspace: Any,
        models: Callable[[str, int], Any] | None,
    ) -> None:
        self.catalog, self.artifacts, self.executor = catalog, artifacts, executor
        self.run_id = run_id
        self.workspace = workspace
        self.models = models
        self.done: dict[str, _Done] = {}
        self.failed: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.flights: dict[Future[Outcome], _Flight] = {}
        self.pending_rows: dict[str, dict[str, Any]] = {}

    def run(self, graph: Graph) -> str | None:
        """Run every node; the first failed step's error, or None."""
        pending = list(graph.nodes.values())
        while pending or self.flights:
            for node in list(pending):
                blocked = [u for u in node.upstream if u in self.failed]
                if blocked:
                    pending.remove(node)
                    self.failed[node.name] = f"skipped: upstream step {blocked[0]!r} failed"
                    self._write(node.name, status="skipped", ended_at=now_ms())
                elif all(u in self.done for u in node.upstream):
                    pending.remove(node)
                    self._start(node)
            if self.flights:
                finished, _ = wait(list(self.flights), return_when=FIRST_COMPLETED)
                for future in finished:
                    self._finish(self.flights.pop(future), future.result())
        errors = [e for e in self.failed.values() if not e.startswith("skipped:")]
        return errors[0] if errors else None

    def _write(self, step: str, **values: Any) -> None:
        with self.catalog.begin() as conn:
            _store.update_step(conn, self.run_id, step, values)

    def _start(self, node: Node) -> None:
        inputs = {
            arg: {"step": v.node, "sha256": self.done[v.node].sha256}
            for arg, v in node.args.items()
            if isinstance(v, Handle)
        }
        params = {
            k: v for k, v in node.args.items() if not isinstance(v, Handle) and k != WORKSPACE_PARAM
        }
        parts = key_parts(
            node.step.fn, params, {k: v["sha256"] for k, v in inputs.items()}, node.name
        )
        key = cache_key(parts)
        record = {
            "status": "running",
            "cache_key": key,
            "key_parts_json": orjson.dumps(parts).decode(),
            "inputs_json": orjson.dumps(inputs).decode(),
            "started_at": now_ms(),
        }
        hit = None
        if node.step.options.cache:
            with self.catalog.read() as conn:
                hit = _store.cached_output(conn, key)
        if hit is not None and self.artifacts.exists(hit[1]):
            self.done[node.name] = _Done(hit[0], hit[1])
            record.update(status="succeeded", cached=True, duration_ms=0, ended_at=now_ms())
            record.update(output_kind=hit[0], output_sha256=hit[1], output_size=hit[2])
            self._write(node.name, **record)
            return
        if self.executor.name == "local":  # in process: one write when it ends
            self.pending_rows[node.name] = record
        else:
            self._write(node.name, **record)
        args = {k: self._value(v) if isinstance(v, Handle) else v for k, v in node.args.items()}
        if WORKSPACE_PARAM in node.step.signature.parameters and self.workspace is not None:
            args[WORKSPACE_PARAM] = self.workspace
        self._submit(_Flight(node, 1, time.perf_counter(), key, parts, args))

    def _value(self, handle: Handle) -> Any:
        if handle.node not in self.values:
            done = self.done[handle.node]
            data = self.artifacts.read_bytes(done.sha256)
            self.values[handle.node] = decode(
                done.kind, data, models=self.models, trusted_pickle=True
            )
        return self.values[handle.node]

    def _submit(self, flight: _Flight) -> None:
        options = flight.node.step.options
        task = Task(
            flight.node.name, flight.node.step.fn, flight.args, options.timeout, options.resources
        )
        self.flights[self.executor.submit(task)] = flight

    def _finish(self, flight: _Flight, outcome: Outcome) -> None:
        node, options = flight.node, flight.node.step.options
        retry = True
        if outcome.ok:
            try:
                kind, data = encode(
                    outcome.value, step_name=node.name, trusted_pickle=options.trusted_pickle
                )
            except WeekendError as exc:  # the same value again would be refused again
                outcome, retry = Outcome(failure="error", error=str(exc), logs=outcome.logs), False
            else:
                blob = self.artifacts.put_bytes(data)
                self.values[node.name] = outcome.value
                self.done[node.name] = _Done(kind, blob.sha256)
                self._end(flight, outcome, "succeeded", kind=kind, sha=blob.sha256, size=blob.size)
                return
        if retry and flight.attempt <= options.retries:
            flight.attempt += 1
            self._write(node.name, attempts=flight.attempt - 1, logs=outcome.logs or None)
            self._submit(flight)
            return
        self.failed[node.name] = f"step {node.name!r} failed: {outcome.error}"
        self._end(flight, outcome, "failed")

    def _end(
        self,
        flight: _Flight,
        outcome: Outcome,
        status: str,
        *,
        kind: str | None = None,
        sha: str | None = None,
        size: int | None = None,
    ) -> None:
        values = self.pending_rows.pop(flight.node.name, {})
        values.update(
            status=status,
            attempts=flight.attempt,
            duration_ms=int((time.perf_counter() - flight.started) * 1000),
            logs=outcome.logs or None,
            error=outcome.error,
            output_kind=kind,
            output_sha256=sha,
            output_size=size,
            ended_at=now_ms(),
        )
        self._write(flight.node.name, **values)
