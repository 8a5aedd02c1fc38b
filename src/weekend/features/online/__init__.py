"""Online feature stores: the latest feature values per entity, for serving.

``open_online_store("sqlite:///path/online.db")`` is the embedded default;
``open_online_store("redis://127.0.0.1:6379/0")`` the one at scale. Both follow the same
contract (:class:`OnlineStore`) and pass the same conformance checks
(:func:`weekend.testing.online_store_checks`):

- ``write`` keeps the newest record per entity: a record is replaced only when the incoming
  ``(event_ts, created_ts)`` is newer, atomically, also against concurrent writers;
- ``read`` returns, per entity row and in order, every requested feature, or ``None`` when
  the entity is unknown, its record is older than ``now - ttl`` or newer than ``now``
  (the same rule as the offline point-in-time join: valid iff ``now - ttl <= event_ts <= now``).

The store is chosen by the URL's scheme through a registry of kinds: another store is added
with :func:`register_online_store`, without editing this module::

    register_online_store("mystore", lambda url, key_prefix: MyStore(url, key_prefix=key_prefix))

Importing this module does not import ``redis``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from weekend.core.errors import ConfigurationError
from weekend.features.online._base import (
    OnlineResult,
    OnlineStore,
    WriteResult,
    check_key_prefix,
    datetime_to_ns,
)
from weekend.features.online._redis import RedisOnlineStore
from weekend.features.online._sqlite import SQLiteOnlineStore

OnlineStoreFactory = Callable[[str, str], OnlineStore]
"""``factory(url, key_prefix)``: a store for ``url``, configured only (it connects on use)."""

_KINDS: dict[str, OnlineStoreFactory] = {}


def register_online_store(schemes: str | Sequence[str], factory: OnlineStoreFactory) -> None:
    """Open URLs ``<scheme>://...`` of each of ``schemes`` with ``factory(url, key_prefix)``.

    Registering a scheme again replaces its factory.
    """
    names = [schemes] if isinstance(schemes, str) else list(schemes)
    if not names or any(not isinstance(s, str) or not s.isidentifier() for s in names):
        raise ConfigurationError(
            f"online store schemes must be names like 'redis', got {schemes!r:.80}"
        )
    if not callable(factory):
        raise ConfigurationError(
            f"an online store factory must be callable, got {type(factory).__name__}"
        )
    for scheme in names:
        _KINDS[scheme] = factory


def online_store_kinds() -> list[str]:
    """The registered URL schemes, sorted."""
    return sorted(_KINDS)


def open_online_store(url: str, *, key_prefix: str = "weekend") -> OnlineStore:
    """The online store at ``url``: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
    ``redis://host:port/db`` (also ``rediss://`` and ``unix://``), or any registered scheme.

    Nothing is connected until the store is first used.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"online store URL must be a string, got {type(url).__name__}")
    key_prefix = check_key_prefix(key_prefix)
    scheme = url.partition("://")[0] if "://" in url else url
    factory = _KINDS.get(scheme) if "://" in url else None
    if factory is None:
        raise ConfigurationError(
            f"unknown online store URL scheme in {scheme!r:.80}; expected one of "
            f"{', '.join(s + '://...' for s in online_store_kinds())}"
        )
    return factory(url, key_prefix)


def _sqlite(url: str, key_prefix: str) -> OnlineStore:
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        raise ConfigurationError(
            f"online store URL {url!r} names no database file; the SQLite online store "
            "needs a file, e.g. sqlite:///.weekend/online.db"
        )
    return SQLiteOnlineStore(path, key_prefix=key_prefix)


def _redis(url: str, key_prefix: str) -> OnlineStore:
    return RedisOnlineStore(url, key_prefix=key_prefix)


register_online_store("sqlite", _sqlite)
register_online_store(("redis", "rediss", "unix"), _redis)


__all__ = [
    "OnlineResult",
    "OnlineStore",
    "OnlineStoreFactory",
    "RedisOnlineStore",
    "SQLiteOnlineStore",
    "WriteResult",
    "datetime_to_ns",
    "online_store_kinds",
    "open_online_store",
    "register_online_store",
]
