"""Feedback over HTTP: ``POST /v1/models/{name}/feedback``, labels that arrived later.

Request, one label::

    {"request_id": "7f9c...", "row": 0, "label": 1}          # row: its position, default 0
    {"row_key": "order-1042", "label": "late", "ts": "2024-05-02T08:00:00Z"}

or many (at most :data:`MAX_LABELS`)::

    {"items": [{"request_id": "7f9c...", "label": 1}, {"row_key": "order-1042", "label": 0}]}

Response (200), once every label is committed to the catalog::

    {"model": "flight-delay", "stored": 2, "request_id": "..."}

A label names its prediction by the request id the predict route answered (and the row's
position in that request) or by the row key the service was told to log (``row_key=``);
``ts`` is when the label became known (default: now). Every label is checked before any is
stored: a bad one is a 422 naming ``items[i].<field>`` (or the field of a single label), an
unknown model a 404. Concurrent requests' labels are written in one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from weekend.core.errors import InvalidValueError, WeekendError
from weekend.core.names import validate_name
from weekend.predictions import MAX_ITEMS
from weekend.serving._errors import PayloadTooLargeError
from weekend.serving._features import parse_object
from weekend.serving._json import dumps, json_response
from weekend.serving._middleware import current_request_id

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from weekend.serving._app import Edge
    from weekend.workspace import Workspace

MAX_LABELS = MAX_ITEMS
"""Labels per feedback request; more is refused with HTTP 413."""


def _items(body: dict[str, Any]) -> dict[str, Any] | list[Any]:
    if "items" not in body:
        return body
    items = body["items"]
    extra = sorted(key for key in body if key != "items")
    if extra:
        raise InvalidValueError(
            f"a body with 'items' holds nothing else, got {extra[0]!r:.40} beside it",
            field=extra[0][:100],
        )
    if not isinstance(items, list):
        raise InvalidValueError(
            f"must be a list of labels, got a JSON {type(items).__name__}", field="items"
        )
    if len(items) > MAX_LABELS:
        raise PayloadTooLargeError(
            f"at most {MAX_LABELS} labels per request, got {len(items)}; split the request",
            field="items",
        )
    return items


def store_feedback(ws: Workspace, name: str, raw: bytes) -> bytes:
    """The whole request, from body bytes to answer bytes (runs in the work pool)."""
    try:
        model = validate_name(name, "model")
    except WeekendError as exc:
        exc.field = "name"
        raise
    ws.models.get_model(model)  # 404 for a model the registry does not know
    items = _items(parse_object(raw))
    stored = ws.predictions.feedback(model, items)
    return dumps({"model": model, "stored": stored, "request_id": current_request_id()})


def feedback_routes(
    ws: Workspace,
    edge: Edge,
    *,
    auth: Callable[[Request, str], Awaitable[None] | None] | None = None,
    prefix: str = "/v1/models",
) -> list[Route]:
    """The feedback route of workspace ``ws`` (for :func:`weekend.serving.create_app`);
    ``auth(request, "feedback")`` runs first (see :func:`weekend.serving._auth.require_role`)."""

    async def feedback(request: Request) -> Response:
        if auth is not None:
            waiting = auth(request, "feedback")
            if waiting is not None:
                await waiting
        raw = await request.body()  # the edge's streamed limit bounds it
        name = request.path_params["name"]
        return json_response(await edge.pool.run(store_feedback, ws, name, raw))

    return [Route(f"{prefix}/{{name}}/feedback", feedback, methods=["POST"], name="feedback")]


__all__ = ["MAX_LABELS", "feedback_routes", "store_feedback"]
