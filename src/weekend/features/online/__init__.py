"""Online feature stores: the latest feature values per entity, for serving.

``open_online_store("sqlite:///path/online.db")`` is the embedded default;
``open_online_store("redis://127.0.0.1:6379/0")`` the one at scale. Both follow the same
contract (:class:`OnlineStore`) and pass the same conformance tests:

- ``write`` keeps the newest record per entity: a record is replaced only when the incoming
  ``(event_ts, created_ts)`` is newer, atomically, also against concurrent writers;
- ``read`` returns, per entity row and in order, every requested feature, or ``None`` when
  the entity is unknown, its record is older than ``now - ttl`` or newer than ``now``
  (the same rule as the offline point-in-time join: valid iff ``now - ttl <= event_ts <= now``).

Importing this module does not import ``redis``.
"""

from __future__ import annotations

from weekend.core.errors import ConfigurationError
from weekend.features.online._base import OnlineResult, OnlineStore, WriteResult, check_key_prefix
from weekend.features.online._redis import RedisOnlineStore
from weekend.features.online._sqlite import SQLiteOnlineStore

_SCHEMES = ("sqlite:///", "redis://", "rediss://", "unix://")


def open_online_store(url: str, *, key_prefix: str = "weekend") -> OnlineStore:
    """The online store at ``url``: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
    ``redis://host:port/db`` (also ``rediss://`` and ``unix://``).

    Nothing is connected until the store is first used.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"online store URL must be a string, got {type(url).__name__}")
    key_prefix = check_key_prefix(key_prefix)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path or path == ":memory:" or path.startswith("file:"):
            raise ConfigurationError(
                f"online store URL {url!r} names no database file; the SQLite online store "
                "needs a file, e.g. sqlite:///.weekend/online.db"
            )
        return SQLiteOnlineStore(path, key_prefix=key_prefix)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisOnlineStore(url, key_prefix=key_prefix)
    scheme = url.partition("://")[0] if "://" in url else url
    raise ConfigurationError(
        f"unknown online store URL scheme in {scheme!r:.80}; expected one of "
        f"{', '.join(s + '...' for s in _SCHEMES)}"
    )


__all__ = [
    "OnlineResult",
    "OnlineStore",
    "RedisOnlineStore",
    "SQLiteOnlineStore",
    "WriteResult",
    "open_online_store",
]
