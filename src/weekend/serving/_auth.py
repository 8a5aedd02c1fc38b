"""The token check of the HTTP edge: ``require_role(request, "predict")`` before a route works.

A route calls :func:`require_role` first, before it reads its body, so a refused request
costs no work and leaves no record (no prediction logged, no label stored). The token comes
in ``Authorization: Bearer wk_<id>_<secret>``; a missing, malformed, unknown, expired or
revoked token is HTTP 401 (with ``WWW-Authenticate: Bearer``), a valid one without the role
403, both with the edge's error body naming the field ``authorization``.

The tokens are those of the app's workspace catalog (:class:`weekend.serving.tokens.Tokens`,
kept on ``app.state.tokens``). A token read in the last ``cache_seconds`` is decided on the
event loop without the catalog; otherwise the row is read on the loop when the catalog is a
local SQLite file, and in the work pool when it is a server (PostgreSQL), so the loop never
waits on the network: :func:`require_role` then returns an awaitable for the route to await.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from weekend.serving._errors import AuthenticationError
from weekend.serving.tokens import Tokens, check_token, split_token

if TYPE_CHECKING:
    from weekend.workspace import Workspace


def tokens_of(app: Any) -> Tokens:
    """The app's :class:`Tokens` (``app.state.tokens``, made from its workspace's catalog)."""
    tokens: Tokens | None = getattr(app.state, "tokens", None)
    if tokens is None:
        tokens = app.state.tokens = Tokens(app.state.workspace.catalog)
    return tokens


def tokens_configured(ws: Workspace) -> bool:
    """Whether the workspace has a token that is neither revoked nor expired."""
    return Tokens(ws.catalog).active() > 0


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>`` (401 when absent or not Bearer)."""
    header = request.headers.get("authorization")
    if header is None:
        raise AuthenticationError(
            "this service needs a token: send 'Authorization: Bearer wk_...' (create one with "
            "`weekend tokens create NAME --role predict`)",
            field="authorization",
        )
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError(
            f"expected 'Authorization: Bearer <token>', got a {scheme[:20]!r} header",
            field="authorization",
        )
    return value.strip()


def require_role(request: Request, role: str) -> Awaitable[None] | None:
    """Refuse the request unless its token is valid and has ``role`` (or admin).

    Raises :class:`AuthenticationError` (401) or :class:`PermissionDeniedError` (403) when it
    can decide at once; returns an awaitable when the token's row must be read from a remote
    catalog in the work pool (await it before doing anything else). The token's record is
    left on ``request.state.token``.
    """
    tokens = tokens_of(request.app)
    parts = split_token(bearer_token(request))
    if parts is None:
        raise AuthenticationError(
            "the token is not a weekend token (wk_<id>_<secret>)", field="authorization"
        )
    token_id, secret = parts
    found = tokens.cached(token_id)
    if found is None and tokens.catalog.dialect == "sqlite":
        found = tokens.lookup(token_id)
    elif found is None:
        return _remote(request, tokens, token_id, secret, role)
    request.state.token = check_token(found, secret, role)
    return None


async def _remote(request: Request, tokens: Tokens, token_id: str, secret: str, role: str) -> None:
    found = await request.app.state.edge.pool.run(tokens.lookup, token_id)
    request.state.token = check_token(found, secret, role)


__all__ = ["bearer_token", "require_role", "tokens_configured", "tokens_of"]
