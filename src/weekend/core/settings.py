"""Project settings: ``weekend.toml``, found upward like git, overridden by ``WEEKEND_*``.

A project looks like::

    myproject/
      weekend.toml
      .weekend/            catalog.db, artifacts/, online.db (embedded defaults)

``weekend.toml``::

    [catalog]
    url = "sqlite:///.weekend/catalog.db"     # or postgresql+psycopg://user@host/db
    [artifacts]
    root = ".weekend/artifacts"               # or any fsspec URL: s3://bucket/prefix
    [online_store]
    url = "sqlite:///.weekend/online.db"      # or redis://127.0.0.1:6379/0
    [executor]
    kind = "local"                            # later: process, ray
    [data]
    duckdb_memory_limit = "512MB"             # DuckDB's buffers when registering data
    [features]
    duckdb_memory_limit = ""                  # training sets, materialization ("": 80% of RAM)
    [duckdb]
    threads = 0                               # DuckDB threads per session (0: one per core)
    [tracking]
    heartbeat_interval = 10.0                 # seconds between heartbeats of a running run
    heartbeat_timeout = 60.0                  # a running run silent this long is killed

Every key can be overridden by an environment variable ``WEEKEND_<SECTION>_<KEY>``, e.g.
``WEEKEND_CATALOG_URL``. Relative paths (also inside ``sqlite:///`` URLs) are relative to the
project root.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weekend.core.errors import ConfigurationError

CONFIG_FILE = "weekend.toml"
STATE_DIR = ".weekend"

DEFAULTS: dict[str, dict[str, Any]] = {
    "catalog": {"url": "sqlite:///.weekend/catalog.db"},
    "artifacts": {"root": ".weekend/artifacts"},
    "online_store": {"url": "sqlite:///.weekend/online.db", "key_prefix": "weekend"},
    "executor": {"kind": "local"},
    "data": {"duckdb_memory_limit": "512MB"},
    "features": {"duckdb_memory_limit": ""},
    "duckdb": {"threads": 0},
    "tracking": {"heartbeat_interval": 10.0, "heartbeat_timeout": 60.0},
}

TEMPLATE = """\
# weekend project settings. Every key can be overridden by WEEKEND_<SECTION>_<KEY>.

[catalog]
# SQLite (embedded, default) or PostgreSQL: postgresql+psycopg://postgres@127.0.0.1/weekend
url = "sqlite:///.weekend/catalog.db"

[artifacts]
# A local folder or any fsspec URL (s3://bucket/prefix, gs://..., abfs://...)
root = ".weekend/artifacts"

[online_store]
# SQLite (embedded, default) or Redis: redis://127.0.0.1:6379/0
url = "sqlite:///.weekend/online.db"
key_prefix = "weekend"

[executor]
kind = "local"

[data]
# DuckDB's memory while registering and profiling data; it spills to disk beyond this.
duckdb_memory_limit = "512MB"

[features]
# DuckDB's memory for training sets and materialization ("": DuckDB's default, 80% of memory).
duckdb_memory_limit = ""

[duckdb]
# Threads of each DuckDB session (0: one per core).
threads = 0

[tracking]
heartbeat_interval = 10.0
heartbeat_timeout = 60.0
"""


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one project."""

    root: Path
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, section: str, key: str) -> Any:
        try:
            return self.values[section][key]
        except KeyError:
            raise ConfigurationError(f"setting [{section}] {key} is not defined") from None

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def catalog_url(self) -> str:
        return self._resolve_url(str(self.get("catalog", "url")))

    @property
    def artifact_root(self) -> str:
        return self._resolve_path(str(self.get("artifacts", "root")))

    @property
    def online_store_url(self) -> str:
        return self._resolve_url(str(self.get("online_store", "url")))

    def float(self, section: str, key: str) -> float:
        value = self.get(section, key)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"setting [{section}] {key} must be a number, got {value!r}"
            ) from None

    def _resolve_path(self, value: str) -> str:
        if "://" in value:
            return value
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (self.root / path))

    def _resolve_url(self, url: str) -> str:
        prefix = "sqlite:///"
        if url.startswith(prefix) and url != "sqlite:///:memory:":
            return prefix + self._resolve_path(url[len(prefix) :])
        return url


def find_root(start: str | Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` holding ``weekend.toml`` or ``.weekend/``."""
    here = Path(start or Path.cwd()).resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file() or (folder / STATE_DIR).is_dir():
            return folder
    return None


def load_settings(root: str | Path, env: dict[str, str] | None = None) -> Settings:
    """Read ``weekend.toml`` under ``root`` (if any), apply defaults and ``WEEKEND_*``."""
    root = Path(root).resolve()
    values: dict[str, dict[str, Any]] = {k: dict(v) for k, v in DEFAULTS.items()}
    config = root / CONFIG_FILE
    if config.is_file():
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{CONFIG_FILE} is not valid TOML: {exc}") from None
        for section, table in data.items():
            if not isinstance(table, dict):
                raise ConfigurationError(
                    f"{CONFIG_FILE}: [{section}] must be a table of settings, got {table!r}"
                )
            values.setdefault(section, {}).update(table)
    environ = os.environ if env is None else env
    for name, value in environ.items():
        if not name.startswith("WEEKEND_") or name == "WEEKEND_REQUIRE_SERVICES":
            continue
        rest = name[len("WEEKEND_") :].lower()
        for section in sorted(values, key=len, reverse=True):
            if rest.startswith(section + "_"):
                values[section][rest[len(section) + 1 :]] = value
                break
    return Settings(root=root, values=values)


def init_project(directory: str | Path) -> Path:
    """Create ``weekend.toml`` and ``.weekend/`` in ``directory`` (kept if already there)."""
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    (root / STATE_DIR).mkdir(exist_ok=True)
    config = root / CONFIG_FILE
    if not config.exists():
        config.write_text(TEMPLATE, encoding="utf-8")
    gitignore = root / STATE_DIR / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n", encoding="utf-8")
    return root
