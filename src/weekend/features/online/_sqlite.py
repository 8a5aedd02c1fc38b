"""The embedded online store: one SQLite file in WAL mode.

One table holds every record, keyed by ``(view, key)`` where ``view`` is
``{key_prefix}:{view}``. A write is one transaction (``BEGIN IMMEDIATE``; a long stream commits
every ``commit_rows`` records) running a single ``INSERT ... ON CONFLICT DO UPDATE ... WHERE``
statement through ``executemany``, in key order: the row is
replaced only when the incoming ``(event_ts, created_ts)`` is newer, and SQLite's write lock
makes that compare-and-set atomic across threads and processes.

Thread safety: each thread (and each process after a fork) gets its own connection, opened on
first use; :meth:`SQLiteOnlineStore.close` closes all of them. Reads run in parallel under
WAL; writers queue on the database lock for up to ``busy_timeout`` seconds.

Durability: ``synchronous=NORMAL``; a committed write survives a crash of the process, and may
be lost only on power failure, which an online store recovers from by materialising again.
"""

from __future__ import annotations

import functools
import itertools
import operator
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from weekend.core.errors import ConfigurationError
from weekend.core.names import validate_name
from weekend.features.online._base import OnlineStore, check_key_prefix
from weekend.features.online._codec import MIN_NS, RecordBatch, StoredRecord

_TABLE = "online_features"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
    view TEXT NOT NULL,
    key BLOB NOT NULL,
    event_ts INTEGER NOT NULL,
    created_ts INTEGER,
    payload BLOB NOT NULL,
    PRIMARY KEY (view, key)
) WITHOUT ROWID
"""
_UPSERT = f"""
INSERT INTO {_TABLE} (view, key, event_ts, created_ts, payload) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (view, key) DO UPDATE SET
    event_ts = excluded.event_ts,
    created_ts = excluded.created_ts,
    payload = excluded.payload
WHERE excluded.event_ts > {_TABLE}.event_ts
   OR (excluded.event_ts = {_TABLE}.event_ts
       AND COALESCE(excluded.created_ts, {MIN_NS}) > COALESCE({_TABLE}.created_ts, {MIN_NS}))
"""
_SELECT_ONE = f"SELECT event_ts, created_ts, payload FROM {_TABLE} WHERE view = ? AND key = ?"
_MAX_IN = 512


@functools.lru_cache(maxsize=16)
def _select_many(size: int) -> str:
    marks = ",".join("?" * size)
    return (
        f"SELECT key, event_ts, created_ts, payload FROM {_TABLE} "
        f"WHERE view = ? AND key IN ({marks})"
    )


class SQLiteOnlineStore(OnlineStore):
    """Online features in one SQLite file (created with its folder on first use).

    Parameters
    ----------
    path:
        The database file.
    key_prefix:
        Namespace of the records, so that several projects may share one file.
    busy_timeout:
        Seconds a writer waits for another writer's transaction before giving up.
    commit_rows:
        A write commits after about this many records, so that a long materialization does
        not hold the write lock throughout; a write of fewer records is one transaction.
    """

    local = True  # a file on this machine

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        key_prefix: str = "weekend",
        busy_timeout: float = 30.0,
        commit_rows: int = 500_000,
    ) -> None:
        self.path = Path(path)
        self.commit_rows = commit_rows
        self.key_prefix = check_key_prefix(key_prefix)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"SQLiteOnlineStore({str(self.path)!r}, key_prefix={self.key_prefix!r})"

    # ------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # forked: the parent's connections are not ours to use
            self._local = threading.local()
            self._connections = []
            self._lock = threading.Lock()
            self._pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=256,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            # Switching a new file to WAL needs it to itself, and SQLite's busy timeout does
            # not cover that: threads and processes opening the store set it up in turn.
            with FileLock(str(self.path) + ".lock", timeout=self.busy_timeout):
                # Records run to a few hundred bytes: 8 KiB pages split less often than the
                # default 4 KiB (this only takes effect while the file is still empty).
                conn.execute("PRAGMA page_size = 8192")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(_SCHEMA)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA cache_size = -65536")  # up to 64 MiB, allocated as used
            conn.execute("PRAGMA mmap_size = 268435456")  # reads without a syscall per page
        except (sqlite3.Error, OSError, Timeout) as exc:
            raise ConfigurationError(
                f"cannot open the SQLite online store at {str(self.path)!r}: {exc}"
            ) from exc
        with self._lock:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close the connections of every thread."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for conn in connections:
            conn.close()

    def _view_id(self, view: str) -> str:
        return f"{self.key_prefix}:{view}"

    # ------------------------------------------------------------ verbs

    def _upsert(self, view: str, batches: Iterator[RecordBatch]) -> int:
        conn = self._connect()
        view_id = self._view_id(view)
        before = conn.total_changes
        conn.execute("BEGIN IMMEDIATE")
        try:
            pending = 0
            # Encoding in a second thread was measured slower: sqlite3 gives up the GIL for
            # every step of executemany, and then waits for the encoder to hand it back.
            for rows in _parameters(view_id, batches):
                conn.executemany(_UPSERT, rows)
                pending += len(rows)
                if pending >= self.commit_rows:  # let other writers in now and then
                    conn.execute("COMMIT")
                    conn.execute("BEGIN IMMEDIATE")
                    pending = 0
            written = conn.total_changes - before
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return written

    def _fetch(self, view: str, keys: list[bytes]) -> dict[bytes, StoredRecord]:
        conn = self._connect()
        view_id = self._view_id(view)
        if len(keys) == 1:
            row = conn.execute(_SELECT_ONE, (view_id, keys[0])).fetchone()
            return {} if row is None else {keys[0]: StoredRecord(row[0], row[1], row[2])}
        found: dict[bytes, StoredRecord] = {}
        for start in range(0, len(keys), _MAX_IN):
            part = keys[start : start + _MAX_IN]
            # pad to a power of two, so that few distinct statements are prepared and cached
            size = 1 << (len(part) - 1).bit_length()
            padded = part + [part[-1]] * (size - len(part))
            for key, event_ns, created_ns, payload in conn.execute(
                _select_many(size), (view_id, *padded)
            ):
                found[key] = StoredRecord(event_ns, created_ns, payload)
        return found

    def delete_view(self, view: str) -> None:
        """Delete every record of ``view`` in one transaction."""
        view = validate_name(view, "feature view name")
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"DELETE FROM {_TABLE} WHERE view = ?", (self._view_id(view),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


_Row = tuple[str, bytes, int, int | None, bytes]


def _parameters(view_id: str, batches: Iterator[RecordBatch]) -> Iterator[list[_Row]]:
    """The statement parameters of each chunk, in key order: the B-tree is keyed by
    ``(view, key)``, and inserting in its order touches each page once instead of at random."""
    by_key = operator.itemgetter(1)
    for batch in batches:
        rows = list(
            zip(
                itertools.repeat(view_id),
                batch.keys,
                batch.event_ns,
                batch.created_ns,
                batch.payloads,
                strict=False,  # repeat() is endless; the four lists have one length
            )
        )
        rows.sort(key=by_key)
        yield rows
