"""Conformance suite: every online store (SQLite, Redis) must pass the same tests."""

from __future__ import annotations

import math
import multiprocessing
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from weekend.core.errors import (
    ConfigurationError,
    DataValidationError,
    InvalidNameError,
    InvalidValueError,
)
from weekend.features.online import (
    OnlineResult,
    OnlineStore,
    RedisOnlineStore,
    SQLiteOnlineStore,
    WriteResult,
    open_online_store,
)

T0 = pd.Timestamp("2024-01-01T00:00:00Z")
NS = pd.Timedelta(1, "ns")


def stamps(*values: Any) -> pa.Array:
    return pa.array(
        [None if v is None else pd.Timestamp(v) for v in values], pa.timestamp("ns", "UTC")
    )


def put(
    store: OnlineStore,
    columns: dict[str, Any],
    *,
    view: str = "stats",
    keys: tuple[str, ...] = ("id",),
    features: tuple[str, ...] = ("x",),
    created: bool = False,
) -> WriteResult:
    return store.write(
        view,
        list(keys),
        pa.table(columns),
        timestamp_field="ts",
        created_timestamp_field="created" if created else None,
        features=list(features),
    )


def values_of(result: OnlineResult, feature: str = "x") -> list[Any]:
    return [row[feature] for row in result.rows]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(url, key prefix) of a fresh, empty store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'online.db'}", "weekend"
    return request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")


@pytest.fixture
def store(store_config: tuple[str, str]) -> Iterator[OnlineStore]:
    url, prefix = store_config
    with open_online_store(url, key_prefix=prefix) as online:
        yield online


# ------------------------------------------------------------------ values and keys


def test_round_trip_of_every_value_type(store: OnlineStore) -> None:
    ns_stamp = pd.Timestamp("2023-05-06T07:08:09.123456789Z")
    table = pa.table(
        {
            "id": [1, 2, 3],
            "ts": stamps(T0, T0, T0),
            "f64": [1.5, float("nan"), -0.0],
            "inf": [float("inf"), float("-inf"), None],
            "f32": pa.array([0.5, None, -2.25], pa.float32()),
            "i64": [2**62, -(2**63), None],
            "text": ['héllo ☃ "quoted" [1]', "", None],
            "flag": [True, False, None],
            "when": stamps(ns_stamp, None, T0),
            "naive": pa.array([1, None, 1_700_000_000_123_456_789], pa.timestamp("ns")),
            "paris": pa.array([0, 1, None], pa.timestamp("us", "Europe/Paris")),
            "day": pa.array([date(2020, 2, 29), None, date(1969, 12, 31)]),
            "raw": pa.array([b"\x00\xff", None, b""], pa.binary()),
            "nothing": pa.nulls(3),
            "cat": pa.array(["a", "b", None]).dictionary_encode(),
        }
    )
    features = [c for c in table.column_names if c not in ("id", "ts")]
    result = store.write(
        "types",
        ["id"],
        table,
        timestamp_field="ts",
        created_timestamp_field=None,
        features=features,
    )
    assert result == WriteResult(rows=3, written=3, skipped_older=0)

    got = store.read("types", ["id"], [{"id": 1}, {"id": 2}, {"id": 3}], features, now=T0)
    one, two, three = got.rows
    assert one["f64"] == 1.5
    assert math.isnan(two["f64"])
    assert three["f64"] == 0.0
    assert math.copysign(1.0, three["f64"]) == -1.0
    assert one["inf"] == math.inf
    assert two["inf"] == -math.inf
    assert three["inf"] is None
    assert [one["f32"], two["f32"], three["f32"]] == [0.5, None, -2.25]
    assert type(one["i64"]) is int
    assert [one["i64"], two["i64"]] == [2**62, -(2**63)]
    assert [one["text"], two["text"], three["text"]] == ['héllo ☃ "quoted" [1]', "", None]
    assert [one["flag"], two["flag"], three["flag"]] == [True, False, None]
    assert type(one["flag"]) is bool
    assert one["when"] == ns_stamp
    assert one["when"].nanosecond == 789
    assert two["when"] is None
    assert one["naive"] == pd.Timestamp(1)
    assert one["naive"].tzinfo is None
    assert three["naive"] == pd.Timestamp("2023-11-14T22:13:20.123456789")
    assert one["paris"] == pd.Timestamp(0, tz="Europe/Paris")
    assert str(two["paris"].tz) == "Europe/Paris"
    assert two["paris"].value == 1000
    assert [one["day"], two["day"], three["day"]] == [date(2020, 2, 29), None, date(1969, 12, 31)]
    assert [one["raw"], two["raw"], three["raw"]] == [b"\x00\xff", None, b""]
    assert [one["nothing"], two["nothing"]] == [None, None]
    assert [one["cat"], two["cat"], three["cat"]] == ["a", "b", None]


def test_composite_keys_that_collide_under_concatenation_stay_apart(store: OnlineStore) -> None:
    numbers = {"a": [1, 12], "b": [23, 3], "ts": stamps(T0, T0), "x": [1.0, 2.0]}
    texts = {"a": ["x", "xy", "1"], "b": ["yz", "z", "23"], "ts": stamps(T0, T0, T0)}
    put(store, numbers, keys=("a", "b"))
    put(store, {**texts, "x": [3.0, 4.0, 5.0]}, keys=("a", "b"))

    rows = [
        {"a": 1, "b": 23},
        {"a": 12, "b": 3},
        {"a": "x", "b": "yz"},
        {"a": "xy", "b": "z"},
        {"a": "1", "b": "23"},
        {"a": 1, "b": "23"},
        {"a": 123, "b": 0},
    ]
    got = store.read("stats", ["a", "b"], rows, ["x"], now=T0)
    assert values_of(got) == [1.0, 2.0, 3.0, 4.0, 5.0, None, None]
    # the order of the key names does not matter
    assert values_of(store.read("stats", ["b", "a"], rows[:2], ["x"], now=T0)) == [1.0, 2.0]


def test_int_and_str_keys_differ(store: OnlineStore) -> None:
    put(store, {"id": [1], "ts": stamps(T0), "x": [1.0]})
    put(store, {"id": ["1"], "ts": stamps(T0), "x": [2.0]})
    rows = [{"id": 1}, {"id": "1"}, {"id": np.int64(1)}, {"id": np.str_("1")}]
    assert values_of(store.read("stats", ["id"], rows, ["x"], now=T0)) == [1.0, 2.0, 1.0, 2.0]


def test_entity_rows_may_be_an_arrow_table_and_unsigned_ints_match(store: OnlineStore) -> None:
    put(store, {"id": pa.array([5, 6], pa.uint16()), "ts": stamps(T0, T0), "x": [5.0, 6.0]})
    rows = pa.table({"id": pa.array([6, 7, 5], pa.int64()), "other": ["a", "b", "c"]})
    assert values_of(store.read("stats", ["id"], rows, ["x"], now=T0)) == [6.0, None, 5.0]


def test_missing_entities_and_features_read_as_none(store: OnlineStore) -> None:
    put(store, {"id": [1], "ts": stamps(T0), "x": [1.0], "y": ["a"]}, features=("x", "y"))
    got = store.read("stats", ["id"], [{"id": 1}, {"id": 2}], ["y", "unknown"], now=T0)
    assert got.rows == [{"y": "a", "unknown": None}, {"y": None, "unknown": None}]
    assert got.event_ns == {"stats": [T0.value, None]}
    assert store.read("other_view", ["id"], [{"id": 1}], ["x"]).rows == [{"x": None}]
    assert store.read("stats", ["id"], [], ["x"]).rows == []


def test_read_keeps_order_and_duplicates(store: OnlineStore) -> None:
    put(store, {"id": [1, 2, 3], "ts": stamps(T0, T0, T0), "x": [10.0, 20.0, 30.0]})
    got = store.read("stats", ["id"], [{"id": i} for i in (3, 1, 3, 99, 1, 2)], ["x"], now=T0)
    assert values_of(got) == [30.0, 10.0, 30.0, None, 10.0, 20.0]
    got.rows[0]["x"] = -1.0  # rows of a repeated entity are separate dicts
    assert got.rows[2]["x"] == 30.0


def test_many_entities_cross_batch_boundaries(store: OnlineStore) -> None:
    n = 2_345
    ids = np.arange(n)
    result = put(store, {"id": ids, "ts": stamps(*[T0] * n), "x": ids * 0.5})
    assert result == WriteResult(rows=n, written=n, skipped_older=0)
    wanted = [{"id": int(i)} for i in np.r_[ids[::-1], [n, n + 1]]]
    got = store.read("stats", ["id"], wanted, ["x"], now=T0)
    assert values_of(got) == [i * 0.5 for i in ids[::-1]] + [None, None]


def test_a_pandas_frame_can_be_written_and_empty_tables_write_nothing(store: OnlineStore) -> None:
    frame = pd.DataFrame({"id": [1, 2], "ts": [T0, T0], "x": [1.0, 2.0]})
    store.write(
        "stats", ["id"], frame, timestamp_field="ts", created_timestamp_field=None, features=["x"]
    )
    assert values_of(store.read("stats", ["id"], [{"id": 2}], ["x"], now=T0)) == [2.0]
    empty = pa.table(
        {"id": pa.array([], pa.int64()), "ts": stamps(), "x": pa.array([], pa.float64())}
    )
    result = store.write(
        "stats", ["id"], empty, timestamp_field="ts", created_timestamp_field=None, features=["x"]
    )
    assert result == WriteResult(0, 0, 0)


# ------------------------------------------------------------------ monotonic writes


def test_newest_row_of_a_batch_wins(store: OnlineStore) -> None:
    later = T0 + pd.Timedelta(seconds=1)
    columns = {
        # entity 1: three events, the newest in the middle
        # entity 2: same event, the larger created timestamp wins, wherever it is
        # entity 3: same event, a created timestamp beats none
        "id": [1, 1, 1, 2, 2, 3, 3],
        "ts": stamps(T0, T0 + pd.Timedelta(seconds=2), later, T0, T0, T0, T0),
        "created": stamps(None, None, None, T0 + NS * 2, T0 + NS, T0, None),
        "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
    }
    result = put(store, columns, created=True)
    assert result == WriteResult(rows=7, written=3, skipped_older=4)
    got = store.read("stats", ["id"], [{"id": 1}, {"id": 2}, {"id": 3}], ["x"])
    assert values_of(got) == [2.0, 4.0, 6.0]
    assert got.event_ns["stats"] == [(T0 + pd.Timedelta(seconds=2)).value, T0.value, T0.value]


def test_older_records_never_replace_newer_ones_across_batches(store: OnlineStore) -> None:
    def write(x: float, ts: pd.Timestamp, created: pd.Timestamp | None) -> WriteResult:
        return put(
            store, {"id": [7], "ts": stamps(ts), "created": stamps(created), "x": [x]}, created=True
        )

    def current() -> Any:
        return values_of(store.read("stats", ["id"], [{"id": 7}], ["x"]))[0]

    assert write(1.0, T0, T0).written == 1
    assert write(2.0, T0 - NS, T0 + pd.Timedelta(days=1)).skipped_older == 1  # older event
    assert write(3.0, T0, T0 - NS).skipped_older == 1  # same event, older created
    assert write(4.0, T0, None).skipped_older == 1  # same event, no created
    assert write(5.0, T0, T0).skipped_older == 1  # exactly as new: kept as it is
    assert current() == 1.0
    assert write(6.0, T0, T0 + NS).written == 1  # same event, newer created
    assert current() == 6.0
    assert write(7.0, T0 + NS, None).written == 1  # newer event, whatever the created
    assert current() == 7.0


def _interleaved_writes(url: str, prefix: str, seed: int, entities: int, versions: int) -> None:
    """Write every (entity, version) once, shuffled, in small batches; version v is newest."""
    rng = np.random.default_rng(seed)
    pairs = [(e, v) for e in range(entities) for v in range(versions)]
    order = rng.permutation(len(pairs))
    with open_online_store(url, key_prefix=prefix) as store:
        for start in range(0, len(order), 25):
            chunk = [pairs[i] for i in order[start : start + 25]]
            put(
                store,
                {
                    "id": [e for e, _ in chunk],
                    # pairs of versions share the event timestamp; created breaks the tie
                    "ts": stamps(*[T0 + pd.Timedelta(seconds=v // 2) for _, v in chunk]),
                    "created": stamps(*[T0 + pd.Timedelta(milliseconds=v) for _, v in chunk]),
                    "x": [float(e * 1000 + v) for e, v in chunk],
                },
                view="race",
                created=True,
            )


def _assert_newest_won(store: OnlineStore, entities: int, versions: int) -> None:
    got = store.read("race", ["id"], [{"id": e} for e in range(entities)], ["x"])
    assert values_of(got) == [float(e * 1000 + versions - 1) for e in range(entities)]


def test_concurrent_threads_keep_the_newest(
    store: OnlineStore, store_config: tuple[str, str]
) -> None:
    url, prefix = store_config
    entities, versions = 40, 8
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            _interleaved_writes(url, prefix, seed, entities, versions)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    # the shared store object is used from this thread at the same time
    while any(thread.is_alive() for thread in threads):
        store.read("race", ["id"], [{"id": 1}], ["x"])
    for thread in threads:
        thread.join()
    assert errors == []
    _assert_newest_won(store, entities, versions)


@pytest.mark.slow
def test_concurrent_processes_keep_the_newest(
    store: OnlineStore, store_config: tuple[str, str]
) -> None:
    url, prefix = store_config
    entities, versions = 30, 6
    # fork starts in milliseconds; the store opens its own connection in the child
    fork = sys.platform == "linux"
    context = multiprocessing.get_context("fork") if fork else multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_interleaved_writes, args=(url, prefix, seed, entities, versions))
        for seed in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    _assert_newest_won(store, entities, versions)


# ------------------------------------------------------------------ TTL


def test_ttl_edge_is_inclusive_and_the_future_is_invisible(store: OnlineStore) -> None:
    put(store, {"id": [1], "ts": stamps(T0), "x": [1.0]})
    hour = timedelta(hours=1)

    def x(now: Any, ttl: timedelta | None = hour) -> Any:
        return store.read("stats", ["id"], [{"id": 1}], ["x"], ttl=ttl, now=now).rows[0]["x"]

    assert x(T0) == 1.0
    assert x(T0 + pd.Timedelta(hours=1)) == 1.0  # exactly ttl old: still valid
    assert x(T0 + pd.Timedelta(hours=1) + NS) is None  # one nanosecond too old
    assert x(T0 - NS) is None  # from the future relative to now
    assert x(T0 - NS, ttl=None) is None
    assert x(T0 + pd.Timedelta(days=10_000), ttl=None) == 1.0
    assert x(T0, ttl=timedelta(0)) == 1.0
    assert x(T0 + NS, ttl=timedelta(0)) is None
    assert x(datetime(2024, 1, 1, 0, 30)) == 1.0  # a naive now is UTC
    assert x(datetime(2024, 1, 1, 1, 30, tzinfo=UTC)) is None
    assert x(T0 + pd.Timedelta(hours=1) + NS, ttl=pd.Timedelta(hours=1, nanoseconds=1)) == 1.0
    expired = store.read("stats", ["id"], [{"id": 1}], ["x"], ttl=hour, now=T0 + 2 * hour)
    assert expired.event_ns == {"stats": [None]}


def test_default_now_is_the_current_time(store: OnlineStore) -> None:
    future = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=365)
    put(store, {"id": [1, 2], "ts": stamps(T0, future), "x": [1.0, 2.0]})
    got = store.read("stats", ["id"], [{"id": 1}, {"id": 2}], ["x"])
    assert values_of(got) == [1.0, None]
    assert values_of(store.read("stats", ["id"], [{"id": 1}], ["x"], ttl=timedelta(days=1))) == [
        None
    ]


# ------------------------------------------------------------------ delete, results


def test_delete_view_removes_only_that_view(store: OnlineStore) -> None:
    put(store, {"id": [1, 2], "ts": stamps(T0, T0), "x": [1.0, 2.0]}, view="gone")
    put(store, {"id": [1], "ts": stamps(T0), "x": [3.0]}, view="kept")
    store.delete_view("gone")
    store.delete_view("never_written")
    assert values_of(store.read("gone", ["id"], [{"id": 1}, {"id": 2}], ["x"])) == [None, None]
    assert values_of(store.read("kept", ["id"], [{"id": 1}], ["x"])) == [3.0]
    # an old event may be written again after the delete
    assert put(store, {"id": [1], "ts": stamps(T0 - NS), "x": [4.0]}, view="gone").written == 1


def test_a_closed_store_reconnects_when_used_again(store: OnlineStore) -> None:
    put(store, {"id": [1], "ts": stamps(T0), "x": [1.0]})
    store.close()
    store.close()
    assert values_of(store.read("stats", ["id"], [{"id": 1}], ["x"])) == [1.0]


def test_results_convert_and_combine(store: OnlineStore) -> None:
    put(store, {"id": [1], "ts": stamps(T0), "x": [1.5]}, view="left")
    put(store, {"id": [2], "ts": stamps(T0), "y": ["b"]}, view="right", features=("y",))
    rows = [{"id": 1}, {"id": 2}]
    left = store.read("left", ["id"], rows, ["x"])
    right = store.read("right", ["id"], rows, ["y"])
    both = OnlineResult.combine([left, right])
    assert both.to_dicts() == [{"x": 1.5, "y": None}, {"x": None, "y": "b"}]
    assert both.event_timestamps("right") == [None, T0]
    with pytest.raises(
        InvalidValueError,
        match=r"holds the views \['left', 'right'\]; pass view= one of them, got None",
    ):
        both.event_timestamps()
    frame = both.to_pandas(event_timestamps=True)
    assert list(frame.columns) == ["x", "y", "left__event_timestamp", "right__event_timestamp"]
    assert frame["left__event_timestamp"].iloc[0] == T0
    assert pd.isna(frame["left__event_timestamp"].iloc[1])
    table = left.to_arrow()
    assert table.column_names == ["x"]
    assert table.column("x").to_pylist() == [1.5, None]
    with pytest.raises(InvalidValueError, match="feature 'x' appears in more than one result"):
        OnlineResult.combine([left, left])
    with pytest.raises(InvalidValueError, match="cannot combine results of 2 and 1 rows"):
        OnlineResult.combine([left, store.read("right", ["id"], rows[:1], ["y"])])


# ------------------------------------------------------------------ bad input


def test_bad_tables_are_rejected_with_the_column_named(store: OnlineStore) -> None:
    good = {"id": [1, 2], "ts": stamps(T0, T0), "x": [1.0, 2.0]}
    with pytest.raises(DataValidationError, match="no key column 'driver'; its columns are"):
        put(store, good, keys=("driver",))
    with pytest.raises(DataValidationError, match="no feature column 'rate'"):
        put(store, good, features=("x", "rate"))
    with pytest.raises(DataValidationError, match="no timestamp column 'ts'"):
        put(store, {"id": [1], "x": [1.0], "time": stamps(T0)})
    with pytest.raises(DataValidationError, match="no created column 'created'"):
        put(store, good, created=True)
    with pytest.raises(
        InvalidValueError,
        match="timestamp column 'ts' of view 'stats' must be a timestamp, got int64",
    ):
        put(store, {**good, "ts": [1, 2]})
    with pytest.raises(
        DataValidationError, match=r"timestamp column 'ts' .* 1 null value\(s\), the first in row 1"
    ):
        put(store, {**good, "ts": stamps(T0, None)})
    with pytest.raises(
        InvalidValueError,
        match="key column 'id' of view 'stats' must hold integers or strings, got double",
    ):
        put(store, {**good, "id": [1.0, 2.0]})
    with pytest.raises(
        DataValidationError, match=r"key column 'id' .* null value\(s\), the first in row 0"
    ):
        put(store, {**good, "id": [None, 2]})
    with pytest.raises(
        InvalidValueError, match=r"feature 'emb' of view 'stats' has type list<item: double>"
    ):
        put(store, {**good, "emb": [[1.0], [2.0]]}, features=("emb",))
    with pytest.raises(
        InvalidValueError, match=r"features of view 'stats' name \['x'\] more than once"
    ):
        put(store, good, features=("x", "x"))
    with pytest.raises(
        InvalidValueError, match="features of view 'stats' must be a list of column names"
    ):
        store.write(
            "stats",
            ["id"],
            pa.table(good),
            timestamp_field="ts",
            created_timestamp_field=None,
            features="x",
        )
    with pytest.raises(
        InvalidValueError, match="table must be a pyarrow Table or a pandas DataFrame, got dict"
    ):
        store.write(
            "stats",
            ["id"],
            good,
            timestamp_field="ts",
            created_timestamp_field=None,
            features=["x"],
        )
    far = pa.array([datetime(3000, 1, 1), datetime(2000, 1, 1)], pa.timestamp("us"))
    with pytest.raises(
        DataValidationError, match=r"feature column 'when' of view 'stats' holds a time outside"
    ):
        put(store, {**good, "when": far}, features=("x", "when"))
    with pytest.raises(InvalidNameError, match="feature view name"):
        put(store, good, view="../escape")
    # nothing was written by the rejected calls
    assert values_of(store.read("stats", ["id"], [{"id": 1}], ["x"])) == [None]


def test_bad_reads_are_rejected_with_the_row_named(store: OnlineStore) -> None:
    with pytest.raises(
        InvalidValueError, match=r"entity row 1 for view 'stats' has no key 'id'; it has \['ID'\]"
    ):
        store.read("stats", ["id"], [{"id": 1}, {"ID": 2}], ["x"])
    with pytest.raises(
        InvalidValueError,
        match=r"key 'id' of view 'stats' must be an int or a str, got float 1\.5 in row 0",
    ):
        store.read("stats", ["id"], [{"id": 1.5}], ["x"])
    with pytest.raises(InvalidValueError, match="got bool True in row 0"):
        store.read("stats", ["id"], [{"id": True}], ["x"])
    with pytest.raises(InvalidValueError, match="got NoneType None in row 1"):
        store.read("stats", ["id"], [{"id": 1}, {"id": None}], ["x"])
    with pytest.raises(
        InvalidValueError, match="entity rows for view 'stats' must be a list of dicts"
    ):
        store.read("stats", ["id"], {"id": 1}, ["x"])
    with pytest.raises(InvalidValueError, match="entity row 0 for view 'stats' must be a dict"):
        store.read("stats", ["id"], [1], ["x"])
    with pytest.raises(
        DataValidationError, match="entity rows for view 'stats' has no key column 'id'"
    ):
        store.read("stats", ["id"], pa.table({"other": [1]}), ["x"])
    with pytest.raises(InvalidValueError, match="ttl must not be negative"):
        store.read("stats", ["id"], [{"id": 1}], ["x"], ttl=timedelta(seconds=-1))
    with pytest.raises(InvalidValueError, match="now must be a datetime, got str"):
        store.read("stats", ["id"], [{"id": 1}], ["x"], now="2024-01-01")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="now must be a datetime, got NaTType"):
        store.read("stats", ["id"], [{"id": 1}], ["x"], now=pd.NaT)
    with pytest.raises(
        InvalidValueError, match="keys of view 'stats' must name at least one column"
    ):
        store.read("stats", [], [{"id": 1}], ["x"])


# ------------------------------------------------------------------ opening


def test_urls_choose_the_store_and_bad_ones_are_explained(tmp_path: Path) -> None:
    assert isinstance(open_online_store(f"sqlite:///{tmp_path / 'a.db'}"), SQLiteOnlineStore)
    redis_store = open_online_store("redis://user:secret@127.0.0.1:6379/2", key_prefix="p:1")
    assert isinstance(redis_store, RedisOnlineStore)
    assert "secret" not in repr(redis_store)
    with pytest.raises(
        ConfigurationError,
        match=r"unknown online store URL scheme in 'postgresql'; expected one of sqlite:///",
    ):
        open_online_store("postgresql://localhost/db")
    with pytest.raises(ConfigurationError, match="names no database file"):
        open_online_store("sqlite:///:memory:")
    with pytest.raises(ConfigurationError, match="key_prefix must be 1 to 64 letters"):
        open_online_store(f"sqlite:///{tmp_path / 'a.db'}", key_prefix="a*b")


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


# -- write_stream: what materialization uses ------------------------------------------------


def _stream(store: OnlineStore, tables: list[pa.Table]) -> WriteResult:
    return store.write_stream(
        "stats",
        ["id"],
        iter(tables),
        timestamp_field="ts",
        created_timestamp_field=None,
        features=["x"],
    )


def test_a_stream_keeps_the_newest_record_across_its_tables(store: OnlineStore) -> None:
    newer = pa.table({"id": [1, 2], "ts": stamps(T0 + 5 * NS, T0), "x": [1.5, 2.0]})
    older = pa.table({"id": [1, 3], "ts": stamps(T0, T0), "x": [-1.0, 3.0]})
    result = _stream(store, [newer, pa.table(newer.schema.empty_table()), older])
    assert (result.rows, result.written, result.skipped_older) == (4, 3, 1)
    got = store.read("stats", ["id"], [{"id": 1}, {"id": 2}, {"id": 3}], ["x"])
    assert values_of(got) == [1.5, 2.0, 3.0]


def test_a_bad_table_in_a_stream_is_named_and_a_short_stream_writes_nothing(
    store: OnlineStore,
) -> None:
    good = pa.table({"id": [1], "ts": stamps(T0), "x": [1.0]})
    bad = pa.table({"id": [2], "ts": stamps(T0), "y": [2.0]})
    with pytest.raises(DataValidationError, match="no feature column 'x'"):
        _stream(store, [good, bad])
    if isinstance(store, SQLiteOnlineStore):  # below commit_rows: one transaction
        assert values_of(store.read("stats", ["id"], [{"id": 1}], ["x"])) == [None]


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

    with pytest.raises(RuntimeError, match="went away"):
        store.write_stream(
            "stats",
            ["id"],
            failing(),
            timestamp_field="ts",
            created_timestamp_field=None,
            features=["x"],
        )
    rows = [{"id": i} for i in range(6)]
    assert values_of(store.read("stats", ["id"], rows, ["x"])) == [0.0, 1.0, 2.0, 3.0, None, None]
    result = _stream(store, tables)
    assert (result.written, result.skipped_older) == (2, 4)  # equal events never rewrite
    assert values_of(store.read("stats", ["id"], rows, ["x"])) == [float(i) for i in range(6)]
    store.close()


def test_a_new_sqlite_store_uses_8k_pages_and_unsorted_writes_read_back(tmp_path: Path) -> None:
    import sqlite3

    store = SQLiteOnlineStore(tmp_path / "o.db")
    ids = [5, 1, 4, 2, 3]
    put(store, {"id": ids, "ts": stamps(*[T0] * 5), "x": [float(i) for i in ids]})
    store.close()
    with sqlite3.connect(tmp_path / "o.db") as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 8192
    rows = [{"id": i} for i in ids]
    assert values_of(SQLiteOnlineStore(tmp_path / "o.db").read("stats", ["id"], rows, ["x"])) == [
        5.0,
        1.0,
        4.0,
        2.0,
        3.0,
    ]
