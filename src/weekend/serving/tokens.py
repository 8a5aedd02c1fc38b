"""Bearer tokens of the HTTP service: created, listed and revoked with ``weekend tokens``.

A token reads ``wk_<id>_<secret>``: ``id`` is 12 hex digits, shown by ``weekend tokens list``
and used to revoke it; ``secret`` is 32 random bytes in base64url (43 characters). The
catalog stores the id, the token's name, roles, creator, times, and the sha256 of the
secret: never the token itself, which is shown once, when it is created. A check hashes the
presented secret and compares the digests in constant time.

Roles: ``predict`` (the predict route, online features), ``feedback`` (the feedback route),
``admin`` (every route). A token may expire (``expires``: a duration such as ``"90d"``, or a
time); an expired or revoked token is refused like an unknown one (401), and a valid token
without the route's role gets 403.
"""

from __future__ import annotations

import builtins
import datetime as dt
import getpass
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, update

from weekend.catalog import Catalog
from weekend.catalog.tables_predictions import api_tokens
from weekend.core.errors import ConflictError, InvalidValueError, NotFoundError
from weekend.core.ids import now_ms
from weekend.core.names import validate_name
from weekend.predictions import duration_seconds
from weekend.serving._errors import AuthenticationError, PermissionDeniedError

ROLES = ("predict", "feedback", "admin")
PREFIX = "wk_"
_ID_LEN = 12
_SECRET_LEN = 43  # 32 bytes in base64url, unpadded
_LENGTH = len(PREFIX) + _ID_LEN + 1 + _SECRET_LEN
_HEX = frozenset("0123456789abcdef")
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class TokenInfo:
    """A stored token, without its secret (times in ms since the epoch)."""

    id: str
    name: str
    roles: tuple[str, ...]
    created_by: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None

    def status(self, now: int | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or now_ms()):
            return "expired"
        return "active"

    def allows(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``token`` is the only copy of its secret; show it once."""

    token: str
    info: TokenInfo


def _roles(roles: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(roles, str):
        roles = [roles]
    found = tuple(sorted(set(roles)))
    if not found:
        raise InvalidValueError(
            f"a token needs at least one role: {', '.join(ROLES)}", field="roles"
        )
    for role in found:
        if role not in ROLES:
            raise InvalidValueError(
                f"unknown role {role!r:.40}; roles are {', '.join(ROLES)}", field="roles"
            )
    return found


def _expiry(expires: object, now: int) -> int | None:
    if expires is None:
        return None
    if isinstance(expires, dt.datetime):
        when = expires if expires.tzinfo else expires.replace(tzinfo=dt.UTC)
        at = int(when.timestamp() * 1000)
    else:
        at = now + int(duration_seconds(expires, "expires") * 1000)
    if at <= now:
        raise InvalidValueError(
            f"expires must be in the future, got {expires!r:.60}", field="expires"
        )
    return at


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _info(row: object) -> TokenInfo:
    m = row._mapping  # type: ignore[attr-defined]
    return TokenInfo(
        id=m["id"],
        name=m["name"],
        roles=tuple(m["roles"].split(",")),
        created_by=m["created_by"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        revoked_at=m["revoked_at"],
    )


def split_token(token: object) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None (checked without the catalog)."""
    if not isinstance(token, str) or len(token) != _LENGTH or not token.startswith(PREFIX):
        return None
    token_id = token[len(PREFIX) : len(PREFIX) + _ID_LEN]
    if token[len(PREFIX) + _ID_LEN] != "_" or not set(token_id) <= _HEX:
        return None
    return token_id, token[-_SECRET_LEN:]


class Tokens:
    """The service's tokens in a catalog. ``verify`` keeps each token's row for
    ``cache_seconds`` (a revocation takes effect within that time; 0: read every time)."""

    def __init__(self, catalog: Catalog, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self.catalog = catalog
        self.cache_seconds = float(cache_seconds)
        self._cache: dict[str, tuple[float, TokenInfo, str]] = {}

    def __repr__(self) -> str:
        return f"Tokens(cache_seconds={self.cache_seconds})"

    def create(
        self,
        name: str,
        roles: Iterable[str] | str,
        *,
        expires: object = None,
        created_by: str | None = None,
    ) -> NewToken:
        """A new token with ``roles`` (predict, feedback, admin), expiring after ``expires``
        (a duration such as ``"90d"``, a timedelta or a datetime; None: never)."""
        name = validate_name(name, "token name")
        found = _roles(roles)
        now = now_ms()
        expires_at = _expiry(expires, now)
        token_id = secrets.token_hex(_ID_LEN // 2)
        secret = secrets.token_urlsafe(32)
        info = TokenInfo(token_id, name, found, created_by or _user(), now, expires_at, None)
        with self.catalog.begin() as conn:
            conn.execute(
                api_tokens.insert(),
                [
                    {
                        "id": info.id,
                        "name": info.name,
                        "roles": ",".join(info.roles),
                        "secret_hash": _digest(secret),
                        "created_by": info.created_by[:250],
                        "created_at": now,
                        "expires_at": expires_at,
                        "revoked_at": None,
                    }
                ],
            )
        return NewToken(f"{PREFIX}{token_id}_{secret}", info)

    def list(self, *, include_revoked: bool = True) -> builtins.list[TokenInfo]:
        """Every token (oldest first), without secrets."""
        query = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
        if not include_revoked:
            query = query.where(api_tokens.c.revoked_at.is_(None))
        with self.catalog.read() as conn:
            return [_info(row) for row in conn.execute(query)]

    def get(self, token_id: str) -> TokenInfo:
        found = self.lookup(token_id)
        if found is None:
            raise NotFoundError(
                f"no token with id {token_id!r:.40}; see `weekend tokens list`", field="id"
            )
        return found[0]

    def revoke(self, token_id: str) -> TokenInfo:
        """Revoke a token by id (``weekend tokens list`` shows ids); revoking twice is an error."""
        info = self.get(token_id)
        if info.revoked_at is not None:
            raise ConflictError(f"token {token_id} ({info.name}) is already revoked")
        now = now_ms()
        with self.catalog.begin() as conn:
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == info.id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        self._cache.pop(info.id, None)
        return TokenInfo(**{**info.__dict__, "revoked_at": now})

    def active(self) -> int:
        """How many tokens are neither revoked nor expired."""
        t = api_tokens
        query = select(func.count()).where(
            t.c.revoked_at.is_(None), (t.c.expires_at.is_(None)) | (t.c.expires_at > now_ms())
        )
        with self.catalog.read() as conn:
            return int(conn.execute(query).scalar_one())

    def lookup(self, token_id: str) -> tuple[TokenInfo, str] | None:
        with self.catalog.read() as conn:
            row = conn.execute(
                select(api_tokens).where(api_tokens.c.id == str(token_id)[:32])
            ).first()
        if row is None:
            return None
        found = (_info(row), str(row._mapping["secret_hash"]))
        self._cache[found[0].id] = (time.monotonic(), *found)
        return found

    def cached(self, token_id: str) -> tuple[TokenInfo, str] | None:
        """The row of ``token_id`` if read less than ``cache_seconds`` ago."""
        hit = self._cache.get(token_id)
        if hit is None or time.monotonic() - hit[0] >= self.cache_seconds:
            return None
        return hit[1], hit[2]

    def verify(self, token: str, role: str) -> TokenInfo:
        """The token's record if it is valid and has ``role`` (or admin); else
        :class:`AuthenticationError` (401) or :class:`PermissionDeniedError` (403)."""
        parts = split_token(token)
        if parts is None:
            raise AuthenticationError(
                "the token is not a weekend token (wk_<id>_<secret>)", field="authorization"
            )
        found = self.cached(parts[0]) or self.lookup(parts[0])
        return check_token(found, parts[1], role)


def check_token(found: tuple[TokenInfo, str] | None, secret: str, role: str) -> TokenInfo:
    """Decide on a token whose stored row is ``found`` (None: unknown id)."""
    if found is None or not hmac.compare_digest(found[1], _digest(secret)):
        raise AuthenticationError("unknown token", field="authorization")
    info = found[0]
    status = info.status()
    if status != "active":
        raise AuthenticationError(f"the token {info.id} is {status}", field="authorization")
    if not info.allows(role):
        raise PermissionDeniedError(
            f"the token {info.id} ({info.name}) has roles {', '.join(info.roles)}; this route "
            f"needs {role!r} (or admin)",
            field="authorization",
        )
    return info


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return "unknown"


__all__ = [
    "CACHE_SECONDS",
    "ROLES",
    "NewToken",
    "TokenInfo",
    "Tokens",
    "check_token",
    "split_token",
]
