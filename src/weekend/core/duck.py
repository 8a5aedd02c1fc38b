"""DuckDB sessions: one way to open a private connection, with the project's limits.

Every DuckDB connection weekend opens comes from :func:`duckdb_session`: in memory, UTC, its
own progress bar off (weekend shows its own where one waits), spilling to a temporary folder
that is removed afterwards, and bounded by the settings' memory limit and thread count.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from weekend.core.scratch import new_scratch_dir
from weekend.core.sql import sql_string

if TYPE_CHECKING:
    import duckdb

    from weekend.core.settings import Settings


@dataclass(frozen=True)
class DuckLimits:
    """What bounds one session: ``memory_limit`` (e.g. ``"512MB"``; empty: DuckDB's default,
    80% of memory) and ``threads`` (0: one per core)."""

    memory_limit: str = ""
    threads: int = 0

    @classmethod
    def from_settings(cls, settings: Settings, section: str) -> DuckLimits:
        """The limits of ``[section] duckdb_memory_limit`` and ``[duckdb] threads``."""
        return cls(
            memory_limit=str(settings.get(section, "duckdb_memory_limit") or ""),
            threads=int(settings.get("duckdb", "threads") or 0),
        )


@contextlib.contextmanager
def duckdb_session(
    limits: DuckLimits | None = None,
    *,
    search_path: Path | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private in-memory connection; ``search_path`` resolves relative file names.

    Its spill folder is a scratch folder named after this process (:mod:`weekend.core.scratch`),
    so ``weekend gc`` removes what a killed process leaves.
    """
    import duckdb

    limits = limits or DuckLimits()
    spill = str(new_scratch_dir("duckdb"))
    config: dict[str, str | bool | int | float | list[str]] = {
        "temp_directory": str(Path(spill) / "spill")
    }
    if limits.memory_limit:
        config["memory_limit"] = limits.memory_limit
    if limits.threads:
        config["threads"] = limits.threads
    con = duckdb.connect(config=config)
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone = 'UTC'")
        if search_path is not None:
            con.execute(f"SET file_search_path = {sql_string(str(search_path))}")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


__all__ = ["DuckLimits", "duckdb_session"]
