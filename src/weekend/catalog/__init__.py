"""The catalog: all metadata of a project, in SQLite (embedded) or PostgreSQL.

Opening a catalog applies Alembic migrations when the stored schema is older than the code,
under a lock (a file lock beside a SQLite database, an advisory lock on PostgreSQL) so that
several processes opening a new catalog at once never race. A catalog written by a newer
weekend is refused with :class:`CatalogVersionError`.

SQLite runs in WAL mode with a busy timeout. Write transactions start with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the busy timeout instead of failing
on a lock upgrade; read transactions (:meth:`Catalog.read`) start deferred.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import QueuePool, StaticPool

from weekend.core.errors import CatalogVersionError, ConfigurationError
from weekend.core.urls import redact_url

# Known schema revisions, oldest first. The last is what this code writes.
REVISIONS: tuple[str, ...] = (
    "0001_foundation",
    "0002_datasets_registry",
    "0003_features",
    "0004_run_owner",
    "0005_predictions",
    "0006_monitoring",
    "0007_pipelines",
)
HEAD = REVISIONS[-1]
SQLITE_BUSY_TIMEOUT_S = 60.0


class Catalog:
    """A connection to one catalog database. Thread-safe; one per process and URL is enough."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self.dialect = self.engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"catalog url {url!r} uses {self.dialect!r}; weekend supports sqlite and "
                "postgresql (postgresql+psycopg://...)"
            )
        if migrate:
            self.upgrade()

    # -- transactions -------------------------------------------------------------------
    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction (committed on success, rolled back on error)."""
        with self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction that does not take the SQLite write lock."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(weekend_read=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    # -- dialect helpers -------------------------------------------------------------------
    def insert_ignore(self, conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows, skipping those whose primary key already exists."""
        if not rows:
            return
        stmt = self._insert(table).on_conflict_do_nothing()
        conn.execute(stmt, list(rows))

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT construct (with ``on_conflict_do_*``)."""
        return self._insert(table)

    def _insert(self, table: Table) -> Any:
        if self.dialect == "sqlite":
            return sqlite.insert(table)
        return postgresql.insert(table)

    # -- references -----------------------------------------------------------------------
    def referenced_blobs(self) -> set[str]:
        """The sha256 of every artifact blob a row refers to (one read transaction; see
        :mod:`weekend.catalog.references`), for the garbage collector."""
        from weekend.catalog.references import referenced_blobs

        with self.read() as conn:
            return referenced_blobs(conn)

    # -- migrations ----------------------------------------------------------------------
    def revision(self) -> str | None:
        """The schema revision stored in the database, or None for an empty database."""
        with self.read() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            return None if row is None else str(row[0])

    def upgrade(self) -> None:
        """Bring the schema to HEAD, or refuse a catalog newer than this code.

        A catalog at HEAD is only read: no lock file, no write, so that a read-only catalog
        (a serving replica's, a ``?mode=ro`` SQLite file) opens fine. On SQLite, a first look
        that meets a file another process is creating (locked while it switches to WAL, which
        the busy timeout does not cover) looks again under the migration lock.
        """
        try:
            current = self._checked_revision()
        except CatalogVersionError:
            raise
        except ConfigurationError:
            if self.dialect != "sqlite":
                raise
            current = None  # looked at again under the lock, which reports a lasting error
        if current == HEAD:
            return
        with self._migration_lock():
            current = self._checked_revision()
            if current != HEAD:
                _run_alembic_upgrade(self.engine)

    def _checked_revision(self) -> str | None:
        try:
            current = self.revision()
        except DBAPIError as exc:  # unreachable server, missing database, not a database file
            raise ConfigurationError(
                f"cannot open catalog {redact_url(self.url)}: {exc.orig}"
            ) from None
        if current is not None and current not in REVISIONS:
            raise CatalogVersionError(
                f"catalog {redact_url(self.url)} has schema revision {current!r}, which this "
                f"version of weekend does not know (it knows up to {HEAD!r}); it was written by "
                "a newer weekend. Upgrade weekend (pip install -U weekend) to open it."
            )
        return current

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect == "sqlite":
            database = self.engine.url.database
            if not database or database == ":memory:":
                yield
                return
            from filelock import FileLock

            if database.startswith("file:"):  # a URI: file:path?mode=...
                database = database.removeprefix("file:").partition("?")[0]
            with FileLock(database + ".migrate.lock", timeout=120):
                yield
        else:
            key = zlib.crc32(b"weekend-catalog-migrations")
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()


def _fork_safe(engine: Engine) -> Engine:
    """Never hand a connection opened by a parent process to a forked child."""

    @event.listens_for(engine, "connect")
    def _remember_pid(_dbapi_conn: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _check_pid(_dbapi_conn: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise DisconnectionError("connection was opened by another process")

    return engine


def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            return _fork_safe(_sqlite_engine(url))
        return _fork_safe(create_engine(url, pool_pre_ping=True))
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the driver for catalog url {redact_url(url)} is not installed ({exc.name}); "
            "for PostgreSQL install: pip install 'weekend[postgres]'"
        ) from None
    except SQLAlchemyError as exc:
        raise ConfigurationError(f"invalid catalog url {redact_url(url)}: {exc}") from None


def _sqlite_engine(url: str) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    database = url.split(":///", 1)[-1]
    if not memory and not database.startswith("file:"):  # a URI names an existing file
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    if memory:
        engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
    else:
        # Connections are kept open: closing the last one of a WAL database checkpoints it,
        # which made every transaction pay for a disk sync.
        engine = create_engine(
            url, connect_args=connect_args, poolclass=QueuePool, pool_size=8, max_overflow=8
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("weekend_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _run_alembic_upgrade(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "weekend.catalog:migrations")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, HEAD)


__all__ = ["HEAD", "REVISIONS", "Catalog"]
