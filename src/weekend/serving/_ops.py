"""The operator's routes: ``/health``, ``/ready``, ``/metrics`` and ``/openapi.json``.

- ``GET /health``: 200 while the process answers (liveness).
- ``GET /ready``: 200 when every served slot has a loaded version and the online store
  answers a read (when a served version reads features from it), else 503; the body lists
  each slot (reference, version, alias, its problem if any: a deleted alias, a failed
  reload, a feature view at another version than trained on) and the store's state.
- ``GET /metrics``: the app's Prometheus registry (``_metrics``).
- ``GET /openapi.json``: generated from the served versions' signatures (``_openapi``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from weekend.serving._json import dumps, json_response
from weekend.serving._metrics import CONTENT_TYPE
from weekend.serving._openapi import openapi

if TYPE_CHECKING:
    from weekend.serving._app import Edge
    from weekend.serving._metrics import ServiceMetrics
    from weekend.serving._models import ModelSet
    from weekend.workspace import Workspace


def readiness(ws: Workspace, models: ModelSet | None) -> tuple[bool, dict[str, Any]]:
    """(ready, the body of ``/ready``)."""
    slots = []
    store: dict[str, Any] = {"used": False}
    ready = True
    for slot in models.slots.values() if models is not None else ():
        deployment = slot.deployment
        plan = deployment.features
        slots.append(
            {
                "ref": slot.ref,
                "version": deployment.version,
                "alias": slot.alias,
                "problem": slot.problem,
                "features": None if plan is None else plan.problem or "served",
            }
        )
        if plan is not None and plan.refs and not store.get("checked"):
            store = {"used": True, "checked": True, "reachable": True, "error": None}
            try:
                plan.probe(ws.features)
            except Exception as exc:  # any failure to read means: not ready
                ready = False
                store.update(reachable=False, error=f"{type(exc).__name__}: {exc}"[:500])
    store.pop("checked", None)
    return ready, {"ready": ready, "models": slots, "online_store": store}


def ops_routes(
    ws: Workspace,
    edge: Edge,
    metrics: ServiceMetrics,
    models: ModelSet | None,
    *,
    version: str,
    max_rows: int,
) -> list[Route]:
    """The operator's routes of an app (for :func:`weekend.serving.create_app`)."""
    cache: dict[Any, bytes] = {}

    async def health(request: Request) -> Response:
        return json_response(b'{"status":"ok"}')

    async def ready(request: Request) -> Response:
        ok, body = await edge.pool.run(readiness, ws, models)
        return json_response(dumps(body), 200 if ok else 503)

    async def metrics_text(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def openapi_json(request: Request) -> Response:
        key = None
        if models is not None:
            key = tuple((k, s.deployment.version) for k, s in models.slots.items())
        body = cache.get(key)
        if body is None:
            document = openapi(models, version=version, max_rows=max_rows) if models else {
                "openapi": "3.1.0",
                "info": {"title": "weekend service", "version": version},
                "paths": {},
            }  # fmt: skip
            body = cache[key] = dumps(document)
            if len(cache) > 64:
                cache.pop(next(iter(cache)))
        return json_response(body)

    return [
        Route("/health", health, methods=["GET"], name="health"),
        Route("/ready", ready, methods=["GET"], name="ready"),
        Route("/metrics", metrics_text, methods=["GET"], name="metrics"),
        Route("/openapi.json", openapi_json, methods=["GET"], name="openapi"),
    ]


__all__ = ["ops_routes", "readiness"]
