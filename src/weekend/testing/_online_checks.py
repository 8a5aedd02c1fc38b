"""Conformance checks of online stores, part one: values, keys, the newest-record rule,
concurrent writers and TTL. Each check takes a fresh, empty store."""

from __future__ import annotations

import math
import multiprocessing
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from weekend.features.online import OnlineResult, OnlineStore, WriteResult
from weekend.testing._checks import CheckSkipped

T0 = pd.Timestamp("2024-01-01T00:00:00Z")
NS = pd.Timedelta(1, "ns")


def stamps(*values: Any) -> pa.Array:
    """A UTC nanosecond timestamp array (``None`` is null)."""
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
    """Write ``columns`` (with ``ts`` and, if ``created``, ``created``) to ``view``."""
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


# ------------------------------------------------------------------ values and keys


def check_round_trip_of_every_value_type(store: OnlineStore) -> None:
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
    assert (one["inf"], two["inf"], three["inf"]) == (math.inf, -math.inf, None)
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


def check_composite_keys_that_collide_under_concatenation_stay_apart(store: OnlineStore) -> None:
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


def check_int_and_str_keys_differ(store: OnlineStore) -> None:
    put(store, {"id": [1], "ts": stamps(T0), "x": [1.0]})
    put(store, {"id": ["1"], "ts": stamps(T0), "x": [2.0]})
    rows = [{"id": 1}, {"id": "1"}, {"id": np.int64(1)}, {"id": np.str_("1")}]
    assert values_of(store.read("stats", ["id"], rows, ["x"], now=T0)) == [1.0, 2.0, 1.0, 2.0]


def check_entity_rows_may_be_an_arrow_table_and_unsigned_ints_match(store: OnlineStore) -> None:
    put(store, {"id": pa.array([5, 6], pa.uint16()), "ts": stamps(T0, T0), "x": [5.0, 6.0]})
    rows = pa.table({"id": pa.array([6, 7, 5], pa.int64()), "other": ["a", "b", "c"]})
    assert values_of(store.read("stats", ["id"], rows, ["x"], now=T0)) == [6.0, None, 5.0]


def check_missing_entities_and_features_read_as_none(store: OnlineStore) -> None:
    put(store, {"id": [1], "ts": stamps(T0), "x": [1.0], "y": ["a"]}, features=("x", "y"))
    got = store.read("stats", ["id"], [{"id": 1}, {"id": 2}], ["y", "unknown"], now=T0)
    assert got.rows == [{"y": "a", "unknown": None}, {"y": None, "unknown": None}]
    assert got.event_ns == {"stats": [T0.value, None]}
    assert store.read("other_view", ["id"], [{"id": 1}], ["x"]).rows == [{"x": None}]
    assert store.read("stats", ["id"], [], ["x"]).rows == []


def check_read_keeps_order_and_duplicates(store: OnlineStore) -> None:
    put(store, {"id": [1, 2, 3], "ts": stamps(T0, T0, T0), "x": [10.0, 20.0, 30.0]})
    got = store.read("stats", ["id"], [{"id": i} for i in (3, 1, 3, 99, 1, 2)], ["x"], now=T0)
    assert values_of(got) == [30.0, 10.0, 30.0, None, 10.0, 20.0]
    got.rows[0]["x"] = -1.0  # rows of a repeated entity are separate dicts
    assert got.rows[2]["x"] == 30.0


def check_many_entities_cross_batch_boundaries(store: OnlineStore) -> None:
    n = 2_345
    ids = np.arange(n)
    result = put(store, {"id": ids, "ts": stamps(*[T0] * n), "x": ids * 0.5})
    assert result == WriteResult(rows=n, written=n, skipped_older=0)
    wanted = [{"id": int(i)} for i in np.r_[ids[::-1], [n, n + 1]]]
    got = store.read("stats", ["id"], wanted, ["x"], now=T0)
    assert values_of(got) == [i * 0.5 for i in ids[::-1]] + [None, None]


def check_a_pandas_frame_can_be_written_and_empty_tables_write_nothing(
    store: OnlineStore,
) -> None:
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


def check_newest_row_of_a_batch_wins(store: OnlineStore) -> None:
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


def check_older_records_never_replace_newer_ones_across_batches(store: OnlineStore) -> None:
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


def interleaved_writes(store: OnlineStore, seed: int, entities: int, versions: int) -> None:
    """Write every (entity, version) once, shuffled, in small batches; version v is newest."""
    rng = np.random.default_rng(seed)
    pairs = [(e, v) for e in range(entities) for v in range(versions)]
    order = rng.permutation(len(pairs))
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


def check_concurrent_threads_keep_the_newest(store: OnlineStore) -> None:
    entities, versions = 40, 8
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            interleaved_writes(store, seed, entities, versions)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):  # and reads at the same time
        store.read("race", ["id"], [{"id": 1}], ["x"])
    for thread in threads:
        thread.join()
    assert errors == [], errors
    _assert_newest_won(store, entities, versions)


def _child(store: OnlineStore, seed: int, entities: int, versions: int) -> None:
    interleaved_writes(store, seed, entities, versions)


def check_concurrent_processes_keep_the_newest(store: OnlineStore) -> None:
    """Forked writers share the store object: a store reconnects in a forked process."""
    if sys.platform != "linux":
        raise CheckSkipped("forking a process that holds connections is safe on Linux only")
    entities, versions = 30, 6
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_child, args=(store, seed, entities, versions)) for seed in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    _assert_newest_won(store, entities, versions)


# ------------------------------------------------------------------ TTL


def check_ttl_edge_is_inclusive_and_the_future_is_invisible(store: OnlineStore) -> None:
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


def check_default_now_is_the_current_time(store: OnlineStore) -> None:
    future = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=365)
    put(store, {"id": [1, 2], "ts": stamps(T0, future), "x": [1.0, 2.0]})
    got = store.read("stats", ["id"], [{"id": 1}, {"id": 2}], ["x"])
    assert values_of(got) == [1.0, None]
    one_day = store.read("stats", ["id"], [{"id": 1}], ["x"], ttl=timedelta(days=1))
    assert values_of(one_day) == [None]


__all__ = ["NS", "T0", "interleaved_writes", "put", "stamps", "values_of"]
