"""The app factory: ``create_app(ws)`` is weekend's one HTTP edge.

Routes come from small per-resource modules (``_features``, ``_predict``, ``_ops``), each a
function returning its routes. Every app shares the edge:
:class:`~weekend.serving._middleware.EdgeMiddleware` (request ids, timing, the streamed body
limit, one error table and body, the last resort), the metrics of
:class:`~weekend.serving._metrics.MetricsMiddleware`, and a bounded :class:`WorkPool`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from weekend.core.errors import InvalidValueError
from weekend.serving._errors import http_error_response
from weekend.serving._features import feature_routes
from weekend.serving._feedback import feedback_routes
from weekend.serving._metrics import MetricsMiddleware, ServiceMetrics
from weekend.serving._middleware import EdgeMiddleware, current_request_id
from weekend.serving._models import Deployment, ModelSet, Slot
from weekend.serving._ops import ops_routes
from weekend.serving._pool import WorkPool
from weekend.serving._predict import Auth, PredictionLogLike, PredictionService, predict_routes
from weekend.serving._rows import MAX_ROWS

if TYPE_CHECKING:
    from weekend.workspace import Workspace

MAX_BODY_BYTES = 4 * 1024 * 1024
INLINE_BYTES = 1024


@dataclass(frozen=True)
class Edge:
    """What every route module of an app shares: its work pool and its limits.

    ``inline_bytes``: a route may answer a request whose body is at most this size on the
    event loop when its work is local and bounded (0: every request goes to the pool).
    """

    pool: WorkPool
    max_body_bytes: int
    inline_bytes: int = 0


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return http_error_response(exc.status_code, exc.detail, current_request_id(), exc.headers)


def create_app(
    ws: Workspace,
    *,
    models: Sequence[str] = (),
    canary: Sequence[str] = (),
    shadow: Sequence[str] = (),
    trusted: bool = False,
    reload_seconds: float | None = 5.0,
    row_key: str | None = None,
    batch_wait_ms: float | None = None,
    prediction_log: PredictionLogLike | None = None,
    auth: Auth | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    threads: int = 4,
    queue: int = 64,
    inline_bytes: int = INLINE_BYTES,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The HTTP service of ``ws``: the feature routes, the prediction service of ``models``
    (``["flight-delay@champion"]``) with ``canary`` (``"challenger=10%"``) and ``shadow``
    aliases, the operator's routes, and ``routes``. ``reload_seconds``: how often aliases are
    read (None: never); ``row_key``: the column identifying a row; ``batch_wait_ms``:
    micro-batching's longest wait (None: off); ``prediction_log``: ``append(records)`` for
    every prediction; ``auth(request, role)``: the token check; ``trusted``: models whose
    format runs code may load. ``max_body_bytes`` caps a body (413), ``threads`` and
    ``queue`` bound the work (503 beyond), a body up to ``inline_bytes`` may be answered on
    the loop when every store is local. The workspace and log stay yours (docs/serving.md)."""
    _check_limits(max_body_bytes=(max_body_bytes, 1), inline_bytes=(inline_bytes, 0))
    pool = WorkPool(threads, queue)
    edge = Edge(pool, max_body_bytes, inline_bytes)
    metrics = ServiceMetrics()
    served = _model_set(ws, models, canary, shadow, trusted, reload_seconds, metrics)
    app_routes: list[BaseRoute] = [*feature_routes(ws, edge)]
    if served is not None:
        service = PredictionService(
            ws, served, edge, metrics, log=prediction_log, row_key=row_key,
            batch_wait_ms=batch_wait_ms,
        )  # fmt: skip
        app_routes += predict_routes(service, edge, auth=auth)
        app_routes += feedback_routes(ws, edge, auth=auth)
    if prediction_log is not None:
        metrics.watch_log(prediction_log)
    app_routes += ops_routes(ws, edge, metrics, served, version=_version(), max_rows=MAX_ROWS)
    app_routes += routes
    paths = {r.endpoint: r.path for r in app_routes if isinstance(r, Route)}
    app = Starlette(
        routes=app_routes,
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics, paths=paths),
            Middleware(EdgeMiddleware, max_body_bytes=max_body_bytes),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=_lifespan(served, pool),
    )
    state = {"workspace": ws, "edge": edge, "metrics": metrics, "models": served}
    state["predictions"] = service if served is not None else None
    for key, value in state.items():
        setattr(app.state, key, value)
    return app


def _check_limits(**limits: tuple[int, int]) -> None:
    for what, (value, least) in limits.items():
        if type(value) is not int or value < least:
            raise InvalidValueError(f"{what} must be an integer >= {least}, got {value!r:.40}")


def _model_set(
    ws: Workspace,
    models: Sequence[str],
    canary: Sequence[str],
    shadow: Sequence[str],
    trusted: bool,
    reload_seconds: float | None,
    metrics: ServiceMetrics,
) -> ModelSet | None:
    if not models:
        if canary or shadow:
            raise InvalidValueError("canary and shadow need models= to serve")
        return None
    served = ModelSet(
        ws, models, canary=canary, shadow=shadow, trusted=trusted, reload_seconds=reload_seconds
    )
    _watch_versions(served, metrics)
    return served


def _lifespan(
    served: ModelSet | None, pool: WorkPool
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """Start the alias watcher with the app; stop it and the workers when the app stops."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if served is not None:
            served.start()
        try:
            yield
        finally:
            if served is not None:
                served.stop()
            pool.close()

    return lifespan


def _watch_versions(served: ModelSet, metrics: ServiceMetrics) -> None:
    for slot in served.slots.values():
        metrics.set_model(slot.name, slot.alias, slot.deployment.version, None)

    def swapped(slot: Slot, old: Deployment | None) -> None:
        alias = slot.alias or ""
        if old is None:
            metrics.reloads.labels(slot.name, alias, "failed").inc()
            return
        metrics.reloads.labels(slot.name, alias, "swapped").inc()
        metrics.set_model(slot.name, slot.alias, slot.deployment.version, old.version)

    served.on_swap.append(swapped)


def _version() -> str:
    from weekend import __version__

    return str(__version__)


__all__ = ["INLINE_BYTES", "MAX_BODY_BYTES", "Edge", "create_app"]
