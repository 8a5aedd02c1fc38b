"""Online stores beyond the shared contract: opening by URL, SQLite's file and transactions,
an unreachable Redis. The contract itself is checked for every store by the conformance
suite (``tests/conformance/test_online_stores.py``, ``weekend.testing``)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from weekend.core.errors import ConfigurationError, DataValidationError
from weekend.features.online import RedisOnlineStore, SQLiteOnlineStore, open_online_store
from weekend.testing._online_checks import T0, put, stamps, values_of


def test_urls_choose_the_store_and_bad_ones_are_explained(tmp_path: Path) -> None:
    assert isinstance(open_online_store(f"sqlite:///{tmp_path / 'a.db'}"), SQLiteOnlineStore)
    redis_store = open_online_store("redis://user:secret@127.0.0.1:6379/2", key_prefix="p:1")
    assert isinstance(redis_store, RedisOnlineStore)
    assert "secret" not in repr(redis_store)
    with pytest.raises(
        ConfigurationError,
        match=r"unknown online store URL scheme in 'postgresql'; expected one of .*sqlite://",
    ):
        open_online_store("postgresql://localhost/db")
    with pytest.raises(ConfigurationError, match=r"URL scheme in 'online\.db'"):
        open_online_store("online.db")
    with pytest.raises(ConfigurationError, match="names no database file"):
        open_online_store("sqlite:///:memory:")
    with pytest.raises(ConfigurationError, match="names no database file"):
        open_online_store("sqlite://relative.db")
    with pytest.raises(ConfigurationError, match="key_prefix must be 1 to 64 letters"):
        open_online_store(f"sqlite:///{tmp_path / 'a.db'}", key_prefix="a*b")
    with pytest.raises(ConfigurationError, match="online store URL must be a string, got int"):
        open_online_store(3)  # type: ignore[arg-type]


def test_sqlite_store_creates_its_folder_and_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'er' / 'online.db'}"
    with open_online_store(url) as store:
        put(store, {"id": [1], "ts": stamps(T0), "x": [1.0]})
    with open_online_store(url) as store:
        assert values_of(store.read("stats", ["id"], [{"id": 1}], ["x"])) == [1.0]
    with open_online_store(url, key_prefix="other") as store:  # another namespace in the file
        assert values_of(store.read("stats", ["id"], [{"id": 1}], ["x"])) == [None]


def test_unreachable_redis_is_a_configuration_error() -> None:
    store = open_online_store("redis://127.0.0.1:1/0")
    with pytest.raises(
        ConfigurationError, match=r"cannot use the Redis online store at 'redis://127\.0\.0\.1:1/0'"
    ):
        store.read("stats", ["id"], [{"id": 1}], ["x"])


def test_importing_the_module_does_not_import_redis() -> None:
    code = "import weekend.features.online, sys; assert 'redis' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- SQLite: one transaction per short write, commits as it goes in a long stream ----------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteOnlineStore]:
    with SQLiteOnlineStore(tmp_path / "o.db") as store:
        yield store


def test_a_bad_table_in_a_short_sqlite_stream_writes_nothing(
    sqlite_store: SQLiteOnlineStore,
) -> None:
    good = pa.table({"id": [1], "ts": stamps(T0), "x": [1.0]})
    bad = pa.table({"id": [2], "ts": stamps(T0), "y": [2.0]})
    with pytest.raises(DataValidationError, match="no feature column 'x'"):
        sqlite_store.write_stream(
            "stats",
            ["id"],
            iter([good, bad]),
            timestamp_field="ts",
            created_timestamp_field=None,
            features=["x"],
        )
    # below commit_rows: one transaction, rolled back
    assert values_of(sqlite_store.read("stats", ["id"], [{"id": 1}], ["x"])) == [None]


def test_a_long_sqlite_stream_commits_as_it_goes_and_a_rerun_completes_it(
    tmp_path: Path,
) -> None:
    store = SQLiteOnlineStore(tmp_path / "o.db", commit_rows=2)
    tables = [
        pa.table({"id": [i, i + 1], "ts": stamps(T0, T0), "x": [float(i), float(i + 1)]})
        for i in (0, 2, 4)
    ]

    def failing() -> Iterator[pa.Table]:
        yield from tables[:2]
        raise RuntimeError("the source went away")

    def stream(source: Iterator[pa.Table]) -> tuple[int, int]:
        result = store.write_stream(
            "stats",
            ["id"],
            source,
            timestamp_field="ts",
            created_timestamp_field=None,
            features=["x"],
        )
        return result.written, result.skipped_older

    with pytest.raises(RuntimeError, match="went away"):
        stream(failing())
    rows = [{"id": i} for i in range(6)]
    assert values_of(store.read("stats", ["id"], rows, ["x"])) == [0.0, 1.0, 2.0, 3.0, None, None]
    assert stream(iter(tables)) == (2, 4)  # equal events never rewrite
    assert values_of(store.read("stats", ["id"], rows, ["x"])) == [float(i) for i in range(6)]
    store.close()


def test_a_new_sqlite_store_uses_8k_pages_and_unsorted_writes_read_back(tmp_path: Path) -> None:
    store = SQLiteOnlineStore(tmp_path / "o.db")
    ids = [5, 1, 4, 2, 3]
    put(store, {"id": ids, "ts": stamps(*[T0] * 5), "x": [float(i) for i in ids]})
    store.close()
    with sqlite3.connect(tmp_path / "o.db") as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 8192
    reopened = SQLiteOnlineStore(tmp_path / "o.db")
    rows = [{"id": i} for i in ids]
    assert values_of(reopened.read("stats", ["id"], rows, ["x"])) == [5.0, 1.0, 4.0, 2.0, 3.0]
    reopened.close()
