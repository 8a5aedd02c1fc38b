"""Predictions over HTTP: ``POST /v1/models/{name}/predict`` (and ``{name}@{alias}``).

Request: rows as records or columns (see :mod:`weekend.serving._rows`). Response (200)::

    {"model": "flight-delay", "version": 3, "alias": "champion", "route": "primary",
     "request_id": "7f9c...", "predictions": [0, 1],
     "classes": [0, 1], "probabilities": [[0.91, 0.09], [0.22, 0.78]]}

``classes`` and ``probabilities`` are there for classifiers that give probabilities
(``probabilities[i][j]`` is row ``i``'s probability of ``classes[j]``). ``route`` says
whether the primary or the canary answered.

The work of a request: parse the rows, route them (canary), read the features a row lacks
from the online store, check the rows against the version's signature (422 with one error
per bad field), score, encode, append to the prediction log, and hand the rows to the shadow.
It runs in the edge's work pool, or on the event loop for a small body when every store it
reads is on this machine (as the feature route does).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from weekend.core.errors import UserCodeError, WeekendError
from weekend.serving._batching import MicroBatcher, column_batch
from weekend.serving._errors import ServiceBusyError
from weekend.serving._json import dumps, json_response
from weekend.serving._middleware import current_request_id
from weekend.serving._rows import MISSING, Rows, parse_rows

if TYPE_CHECKING:
    from weekend.serving._app import Edge
    from weekend.serving._metrics import ServiceMetrics
    from weekend.serving._models import Deployment, ModelSet, Slot
    from weekend.serving._schema import RowSchema
    from weekend.workspace import Workspace

logger = logging.getLogger("weekend.serving")
Array = np.ndarray[Any, Any]
Auth = Callable[[Request, str], Awaitable[None] | None]
ROUTING_HEADER = "x-routing-key"
"""A request header whose value decides the canary split (before the row key)."""


class PredictionLogLike(Protocol):
    """What the service needs of a prediction log: a non-blocking ``append``."""

    def append(self, records: list[dict[str, Any]]) -> None: ...


def refused(deployment: Deployment, exc: Exception) -> Exception:
    """What a model's exception means for the request: a model that refuses the values
    (``ValueError``/``TypeError``: a NaN where it takes none) is the request's fault,
    :class:`UserCodeError` (HTTP 422) with the model's message; anything else is kept."""
    if isinstance(exc, WeekendError) or not isinstance(exc, ValueError | TypeError):
        return exc
    error = UserCodeError(
        f"model {deployment.loaded.ref} could not score these rows: {type(exc).__name__}: "
        f"{' '.join(str(exc).split())[:300]}",
        field="rows",
    )
    return error


def score(deployment: Deployment, inputs: Inputs) -> tuple[Array, Array | None]:
    """(predictions, probabilities or None) of rows already checked against the signature:
    through the compiled fast path when the version has one (it takes the columns as they
    are), else through the loaded model (a frame in the signature's dtypes)."""
    loaded = deployment.loaded
    try:
        if deployment.compiled is not None and inputs.columns is not None:
            outputs: tuple[Array, Array | None] = deployment.compiled.outputs(inputs.columns)
            return outputs
        return loaded.outputs(loaded.validate(inputs.frame()))
    except Exception as exc:
        error = refused(deployment, exc)
        if error is exc:
            raise
        raise error from exc


class Inputs:
    """A request's rows, checked: the columns as sent (what the compiled path takes) and, built
    only when asked, a frame in the signature's dtypes (what the loaded model takes)."""

    def __init__(self, schema: RowSchema | None, rows: Rows) -> None:
        self.schema = schema
        self.rows = rows
        self.columns = None if schema is None else {n: rows.columns[n] for n in schema.names}

    def frame(self) -> pd.DataFrame:
        if self.schema is None:  # a model without a signature takes the rows as they are
            return pd.DataFrame(self.rows.dicts())
        return pd.DataFrame(self.schema.build(self.rows), copy=False)


def build_inputs(ws: Workspace, deployment: Deployment, rows: Rows) -> Inputs:
    """The rows as the model's input: features read where a row lacks them, then checked."""
    sources: dict[str, str] = {}
    plan = deployment.features
    if plan is not None:
        needed = plan.needed(rows)
        if needed:
            plan.fill(ws.features, rows, needed)
            sources = dict.fromkeys(needed, "the online store")
    if deployment.schema is not None:
        deployment.schema.check(rows, sources=sources)
    return Inputs(deployment.schema, rows)


@dataclass(frozen=True)
class Prepared:
    """A request parsed, routed and checked: what the model call and the answer need."""

    started: float
    slot: Slot
    route: str
    deployment: Deployment
    inputs: Inputs


class PredictionService:
    """The predict route's work (see the module docstring)."""

    def __init__(
        self,
        ws: Workspace,
        models: ModelSet,
        edge: Edge,
        metrics: ServiceMetrics,
        *,
        log: PredictionLogLike | None = None,
        row_key: str | None = None,
        batch_wait_ms: float | None = None,
    ) -> None:
        self.ws = ws
        self.models = models
        self.edge = edge
        self.metrics = metrics
        self.log = log
        self.row_key = row_key
        self.batch_wait_ms = batch_wait_ms
        """Micro-batching: the longest a request waits for company (None: off)."""
        self._batchers: dict[int, tuple[Deployment, MicroBatcher[Any, Any]]] = {}

    def _key(self, rows: Rows, header: str | None) -> Callable[[], str]:
        def key() -> str:
            if header:
                return header
            if self.row_key is not None:
                values = rows.columns.get(self.row_key)
                if values and values[0] is not None and values[0] is not MISSING:
                    return str(values[0])
            return current_request_id() or ""

        return key

    def predict(
        self, target: Slot, raw: bytes, header_key: str | None, *, explicit: bool = False
    ) -> bytes:
        """The whole request, from body bytes to answer bytes (``explicit``: the path named
        the alias, so the canary does not apply)."""
        prepared = self.prepare(target, raw, header_key, explicit=explicit)
        return self.finish(prepared, *score(prepared.deployment, prepared.inputs))

    def prepare(
        self, target: Slot, raw: bytes, header_key: str | None, *, explicit: bool = False
    ) -> Prepared:
        """Parse, route, read features and check: everything before the model."""
        started = time.perf_counter()
        rows = parse_rows(raw)
        key = self._key(rows, header_key)
        slot, route = self.models.route(target, key, explicit=explicit)
        deployment = slot.deployment  # read once: one version answers the whole request
        inputs = build_inputs(self.ws, deployment, rows)
        return Prepared(started, slot, route, deployment, inputs)

    def finish(self, prepared: Prepared, prediction: Array, proba: Array | None) -> bytes:
        """Encode the answer, log the rows, hand them to the shadow."""
        deployment, route, rows = prepared.deployment, prepared.route, prepared.inputs.rows
        answer = self._answer(deployment, route, prediction, proba)
        latency_us = int((time.perf_counter() - prepared.started) * 1e6)
        self._record(deployment, route, rows, prediction, proba, latency_us)
        shadow = self.models.shadows.get(prepared.slot.name)
        if shadow is not None and route == "primary":
            self._shadow(shadow, rows)
        return answer

    async def batched(self, prepared: Prepared) -> tuple[Array, Array | None]:
        """The outputs of a prepared request through its version's micro-batcher (requests
        that arrive together share one call of the compiled model)."""
        deployment, inputs = prepared.deployment, prepared.inputs
        if deployment.compiled is None or inputs.columns is None or self.batch_wait_ms is None:
            return await self.edge.pool.run(score, deployment, inputs)
        found = self._batchers.get(id(deployment))
        if found is None or found[0] is not deployment:
            if len(self._batchers) > 4 * len(self.models.slots):  # versions swapped out
                self._batchers.clear()
            batcher = MicroBatcher(
                column_batch(deployment.compiled.outputs),
                run=self.edge.pool.run,
                max_wait_ms=self.batch_wait_ms,
            )
            found = self._batchers[id(deployment)] = (deployment, batcher)
        try:
            outputs: tuple[Array, Array | None] = await found[1](inputs.columns)
        except Exception as exc:
            error = refused(deployment, exc)
            if error is exc:
                raise
            raise error from exc
        return outputs

    def _answer(
        self, deployment: Deployment, route: str, prediction: Array, proba: Array | None
    ) -> bytes:
        body: dict[str, Any] = {
            "model": deployment.name,
            "version": deployment.version,
            "alias": deployment.alias,
            "route": route,
            "request_id": current_request_id(),
            "predictions": prediction.tolist(),
        }
        classes = deployment.loaded.classes_
        if proba is not None and classes is not None:
            body["classes"] = classes.tolist()
            body["probabilities"] = proba.tolist()
        return dumps(body)

    def _record(
        self,
        deployment: Deployment,
        route: str,
        rows: Rows,
        prediction: Array,
        proba: Array | None,
        latency_us: int,
    ) -> None:
        model = deployment.name
        self.metrics.rows.labels(model).observe(rows.count)
        self.metrics.predictions.labels(model, str(deployment.version), route).inc(rows.count)
        if self.log is not None:
            self.log.append(self.records(deployment, route, rows, prediction, proba, latency_us))

    def records(
        self,
        deployment: Deployment,
        route: str,
        rows: Rows,
        prediction: Array,
        proba: Array | None,
        latency_us: int,
    ) -> list[dict[str, Any]]:
        """The prediction log's records of one request, one per row."""
        names = deployment.schema.names if deployment.schema is not None else list(rows.columns)
        inputs = {f"in.{n}": rows.columns.get(n) or [None] * rows.count for n in names}
        outputs: dict[str, list[Any]] = {"out.prediction": prediction.tolist()}
        classes = deployment.loaded.classes_
        if proba is not None and classes is not None:
            for j, label in enumerate(classes.tolist()):
                outputs[f"out.proba.{label}"] = proba[:, j].tolist()
        keys = rows.columns.get(self.row_key) if self.row_key is not None else None
        common = {
            "request_id": current_request_id(),
            "ts": datetime.datetime.now(datetime.UTC),
            "model": deployment.name,
            "version": deployment.version,
            "alias": deployment.alias,
            "route": route,
            "latency_us": latency_us,
        }
        out = []
        for i in range(rows.count):
            record = dict(common)
            record["row"] = i
            for name, values in inputs.items():
                value = values[i]
                record[name] = None if value is MISSING else value
            for name, values in outputs.items():
                record[name] = values[i]
            key = None if keys is None else keys[i]
            record["row_key"] = None if key is None or key is MISSING else str(key)
            out.append(record)
        return out

    def _shadow(self, slot: Slot, rows: Rows) -> None:
        try:
            self.edge.pool.submit(self._score_shadow, slot, rows)
        except ServiceBusyError:
            self.metrics.shadow_skipped.labels(slot.name, "busy").inc()

    def _score_shadow(self, slot: Slot, rows: Rows) -> None:
        deployment = slot.deployment
        started = time.perf_counter()
        try:
            prediction, proba = score(deployment, build_inputs(self.ws, deployment, rows))
            latency_us = int((time.perf_counter() - started) * 1e6)
            self._record(deployment, "shadow", rows, prediction, proba, latency_us)
        except Exception as exc:  # the shadow never fails a request; it is counted
            self.metrics.shadow_skipped.labels(slot.name, "failed").inc()
            logger.warning(
                "shadow %s failed on request %s: %s", slot.ref, current_request_id(), exc
            )


def predict_routes(
    service: PredictionService, edge: Edge, *, auth: Auth | None = None
) -> list[Route]:
    """The predict route of ``service`` (for :func:`weekend.serving.create_app`)."""
    ws = service.ws
    local: bool | None = None

    def runs_inline(size: int) -> bool:
        nonlocal local
        if size > edge.inline_bytes:
            return False
        if local is None:
            local = ws.catalog.dialect == "sqlite" and ws.features.online_store.local
        return local

    async def predict(request: Request) -> Response:
        if auth is not None:
            waiting = auth(request, "predict")
            if waiting is not None:
                await waiting
        target, explicit = service.models.target(request.path_params["name"])
        raw = await request.body()  # the edge's streamed limit bounds it
        header = request.headers.get(ROUTING_HEADER)
        inline = runs_inline(len(raw))
        if service.batch_wait_ms is not None:
            return json_response(await batched(target, raw, header, explicit, inline))
        if inline:
            return json_response(service.predict(target, raw, header, explicit=explicit))
        answer = await edge.pool.run(service.predict, target, raw, header, explicit=explicit)
        return json_response(answer)

    async def batched(
        target: Slot, raw: bytes, header: str | None, explicit: bool, inline: bool
    ) -> bytes:
        if inline:
            prepared = service.prepare(target, raw, header, explicit=explicit)
        else:
            prepared = await edge.pool.run(service.prepare, target, raw, header, explicit=explicit)
        outputs = await service.batched(prepared)
        if inline:
            return service.finish(prepared, *outputs)
        return await edge.pool.run(service.finish, prepared, *outputs)

    return [Route("/v1/models/{name}/predict", predict, methods=["POST"], name="models_predict")]


__all__ = [
    "ROUTING_HEADER",
    "Inputs",
    "PredictionLogLike",
    "PredictionService",
    "Prepared",
    "build_inputs",
    "predict_routes",
    "refused",
    "score",
]
