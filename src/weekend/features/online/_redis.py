"""The online store at scale: Redis.

Each record is one plain string value under ``{key_prefix}:{view}:{encoded entity key}``: a
40-character version (event and created timestamp, each as 20 zero-padded digits of
``ns + 2**63``; a missing created timestamp is 20 zeros) followed by the encoded features.
Versions order like ``(event_ts, created_ts)``, so a Lua script can compare and set in one
atomic step, without the precision loss of Lua's doubles.

Writes run that script (``EVALSHA``) on 100 keys per call, pipelined ``batch_size`` keys at a
time, which is three times faster than one call per key; the script compares and sets each
key on its own, so an older event never replaces a newer one, whatever the order of concurrent
writers. A write is atomic per entity, not across entities. Reads are one ``MGET`` per
``batch_size`` keys. Redis Cluster is not supported (a script's keys would have to share a
hash slot).

``redis`` is optional and imported on first use only. The client is thread-safe (a
connection pool) and reconnects in a forked process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from weekend.core.errors import ConfigurationError
from weekend.core.names import validate_name
from weekend.core.optional import require
from weekend.features.online._base import OnlineStore, check_key_prefix
from weekend.features.online._codec import RecordBatch, StoredRecord

_OFFSET = 2**63
_VERSION = 40
_SCRIPT_KEYS = 100
# KEYS[i] gets ARGV[i] (version + payload) iff its stored version is older; returns how many.
# Versions are compared as four 10-digit numbers (exact in doubles), not with Lua's string
# comparison, which follows the server's locale.
_COMPARE_AND_SET = """
local function older(a, b)
    for i = 1, 31, 10 do
        local x, y = tonumber(string.sub(a, i, i + 9)), tonumber(string.sub(b, i, i + 9))
        if x ~= y then return x < y end
    end
    return false
end
local written = 0
for i = 1, #KEYS do
    local current = redis.call('GETRANGE', KEYS[i], 0, 39)
    if current == '' or older(current, ARGV[i]) then
        redis.call('SET', KEYS[i], ARGV[i])
        written = written + 1
    end
end
return written
"""


def _version(event_ns: int, created_ns: int | None) -> bytes:
    created = 0 if created_ns is None else created_ns + _OFFSET
    return b"%020d%020d" % (event_ns + _OFFSET, created)


def _parse(value: bytes) -> StoredRecord:
    created = int(value[20:_VERSION])
    return StoredRecord(
        event_ns=int(value[:20]) - _OFFSET,
        created_ns=None if created == 0 else created - _OFFSET,
        payload=memoryview(value)[_VERSION:],
    )


class RedisOnlineStore(OnlineStore):
    """Online features in Redis.

    Parameters
    ----------
    url:
        A redis-py URL: ``redis://host:port/db``, ``rediss://...`` or ``unix://...``.
    key_prefix:
        The first part of every key, so that several projects (or test runs) share a server.
    batch_size:
        Keys per pipeline when writing, and per ``MGET`` when reading.
    """

    def __init__(self, url: str, *, key_prefix: str = "weekend", batch_size: int = 1000) -> None:
        self.url = url
        self.key_prefix = check_key_prefix(key_prefix)
        self.batch_size = batch_size
        self._client: Any = None
        self._script: Any = None

    def __repr__(self) -> str:
        return f"RedisOnlineStore({self._safe_url()!r}, key_prefix={self.key_prefix!r})"

    def _safe_url(self) -> str:
        scheme, sep, rest = self.url.partition("://")
        return f"{scheme}{sep}{rest.rpartition('@')[2]}"

    def _redis(self) -> Any:
        if self._client is None:
            redis = require("redis", extra="redis", purpose="the Redis online store")
            try:
                client = redis.Redis.from_url(self.url)
            except ValueError as exc:
                raise ConfigurationError(
                    f"bad Redis URL {self._safe_url()!r}: {exc}; "
                    "expected redis://host:port/db, rediss://... or unix://..."
                ) from exc
            self._script = client.register_script(_COMPARE_AND_SET)
            self._client = client
        return self._client

    def _unreachable(self, exc: Exception) -> ConfigurationError:
        return ConfigurationError(
            f"cannot use the Redis online store at {self._safe_url()!r}: {exc}; "
            "check that the server runs and the URL is right"
        )

    def _prefix(self, view: str) -> bytes:
        return f"{self.key_prefix}:{view}:".encode()

    def close(self) -> None:
        """Close the connection pool."""
        client, self._client, self._script = self._client, None, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------ verbs

    def _upsert(self, view: str, batches: Iterator[RecordBatch]) -> int:
        client = self._redis()
        redis = require("redis", extra="redis")
        prefix = self._prefix(view)
        written = 0
        try:
            pipe = client.pipeline(transaction=False)
            for batch in batches:
                values = [
                    _version(event_ns, created_ns) + payload
                    for event_ns, created_ns, payload in zip(
                        batch.event_ns, batch.created_ns, batch.payloads, strict=True
                    )
                ]
                keys = [prefix + key for key in batch.keys]
                for start in range(0, len(keys), self.batch_size):
                    stop = min(start + self.batch_size, len(keys))
                    for first in range(start, stop, _SCRIPT_KEYS):
                        last = min(first + _SCRIPT_KEYS, stop)
                        self._script(keys=keys[first:last], args=values[first:last], client=pipe)
                    written += sum(pipe.execute())
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        return written

    def _fetch(self, view: str, keys: list[bytes]) -> dict[bytes, StoredRecord]:
        client = self._redis()
        redis = require("redis", extra="redis")
        prefix = self._prefix(view)
        full = [prefix + key for key in keys]
        try:
            if len(full) <= self.batch_size:
                values = client.mget(full)
            else:
                pipe = client.pipeline(transaction=False)
                for start in range(0, len(full), self.batch_size):
                    pipe.mget(full[start : start + self.batch_size])
                values = [value for part in pipe.execute() for value in part]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        return {
            key: _parse(value) for key, value in zip(keys, values, strict=True) if value is not None
        }

    def delete_view(self, view: str) -> None:
        """Delete every key of ``view`` (scanned, then unlinked in batches).

        Not atomic: a write running at the same time may leave records behind.
        """
        view = validate_name(view, "feature view name")
        client = self._redis()
        redis = require("redis", extra="redis")
        # key_prefix and view names hold no glob characters (checked by open_online_store
        # and validate_name), so the pattern matches exactly this view
        pattern = self._prefix(view) + b"*"
        try:
            doomed: list[bytes] = []
            for key in client.scan_iter(match=pattern, count=self.batch_size):
                doomed.append(key)
                if len(doomed) >= self.batch_size:
                    client.unlink(*doomed)
                    doomed = []
            if doomed:
                client.unlink(*doomed)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise self._unreachable(exc) from exc
