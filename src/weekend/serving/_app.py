"""The app factory: ``create_app(ws)`` is weekend's one HTTP edge.

Routes come from small per-resource modules (``_features`` today; the prediction service
adds its own), each a function ``routes(ws, edge) -> list[Route]``. Every app shares the
edge: :class:`~weekend.serving._middleware.EdgeMiddleware` (request ids, timing, the streamed
body limit, one error table and body, the last resort) and a bounded :class:`WorkPool`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from weekend.core.errors import InvalidValueError
from weekend.serving._errors import http_error_response
from weekend.serving._features import feature_routes
from weekend.serving._middleware import EdgeMiddleware, current_request_id
from weekend.serving._pool import WorkPool

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
    max_body_bytes: int = MAX_BODY_BYTES,
    threads: int = 4,
    queue: int = 64,
    inline_bytes: int = INLINE_BYTES,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The HTTP service of workspace ``ws``: the feature routes, and ``routes`` if given.

    ``max_body_bytes`` caps every request body (checked while it streams: HTTP 413 past it);
    ``threads`` workers run request work, and at most ``queue`` more requests wait for one
    (beyond that: HTTP 503 with ``Retry-After``). A body of at most ``inline_bytes`` may be
    answered on the event loop when every store it reads is on this machine (0: never). The
    workspace stays the caller's to close; the app's lifespan stops its workers.
    """
    limits = {"max_body_bytes": (max_body_bytes, 1), "inline_bytes": (inline_bytes, 0)}
    for what, (value, least) in limits.items():
        if type(value) is not int or value < least:
            raise InvalidValueError(f"{what} must be an integer >= {least}, got {value!r:.40}")
    pool = WorkPool(threads, queue)
    edge = Edge(pool, max_body_bytes, inline_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pool.close()

    app = Starlette(
        routes=[*feature_routes(ws, edge), *routes],
        middleware=[Middleware(EdgeMiddleware, max_body_bytes=max_body_bytes)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.workspace = ws
    app.state.edge = edge
    return app


__all__ = ["INLINE_BYTES", "MAX_BODY_BYTES", "Edge", "create_app"]
