"""Conformance checks of online stores, part two: deleting a view, results, streams and bad
input. Each check takes a fresh, empty store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa

from weekend.core.errors import DataValidationError, InvalidNameError, InvalidValueError
from weekend.features.online import OnlineResult, OnlineStore, WriteResult
from weekend.testing._checks import raises
from weekend.testing._online_checks import NS, T0, put, stamps, values_of


def check_delete_view_removes_only_that_view(store: OnlineStore) -> None:
    put(store, {"id": [1, 2], "ts": stamps(T0, T0), "x": [1.0, 2.0]}, view="gone")
    put(store, {"id": [1], "ts": stamps(T0), "x": [3.0]}, view="kept")
    store.delete_view("gone")
    store.delete_view("never_written")
    assert values_of(store.read("gone", ["id"], [{"id": 1}, {"id": 2}], ["x"])) == [None, None]
    assert values_of(store.read("kept", ["id"], [{"id": 1}], ["x"])) == [3.0]
    # an old event may be written again after the delete
    assert put(store, {"id": [1], "ts": stamps(T0 - NS), "x": [4.0]}, view="gone").written == 1


def check_a_closed_store_reconnects_when_used_again(store: OnlineStore) -> None:
    put(store, {"id": [1], "ts": stamps(T0), "x": [1.0]})
    store.close()
    store.close()
    assert values_of(store.read("stats", ["id"], [{"id": 1}], ["x"])) == [1.0]


def check_results_convert_and_combine(store: OnlineStore) -> None:
    put(store, {"id": [1], "ts": stamps(T0), "x": [1.5]}, view="left")
    put(store, {"id": [2], "ts": stamps(T0), "y": ["b"]}, view="right", features=("y",))
    rows = [{"id": 1}, {"id": 2}]
    left = store.read("left", ["id"], rows, ["x"])
    right = store.read("right", ["id"], rows, ["y"])
    both = OnlineResult.combine([left, right])
    assert both.to_dicts() == [{"x": 1.5, "y": None}, {"x": None, "y": "b"}]
    assert both.event_timestamps("right") == [None, T0]
    with raises(
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
    with raises(InvalidValueError, match="feature 'x' appears in more than one result"):
        OnlineResult.combine([left, left])
    with raises(InvalidValueError, match="cannot combine results of 2 and 1 rows"):
        OnlineResult.combine([left, store.read("right", ["id"], rows[:1], ["y"])])


def _stream(store: OnlineStore, tables: Iterator[pa.Table] | list[pa.Table]) -> WriteResult:
    return store.write_stream(
        "stats",
        ["id"],
        iter(tables),
        timestamp_field="ts",
        created_timestamp_field=None,
        features=["x"],
    )


def check_a_stream_keeps_the_newest_record_across_its_tables(store: OnlineStore) -> None:
    newer = pa.table({"id": [1, 2], "ts": stamps(T0 + 5 * NS, T0), "x": [1.5, 2.0]})
    older = pa.table({"id": [1, 3], "ts": stamps(T0, T0), "x": [-1.0, 3.0]})
    result = _stream(store, [newer, pa.table(newer.schema.empty_table()), older])
    assert (result.rows, result.written, result.skipped_older) == (4, 3, 1)
    got = store.read("stats", ["id"], [{"id": 1}, {"id": 2}, {"id": 3}], ["x"])
    assert values_of(got) == [1.5, 2.0, 3.0]


def check_a_bad_table_in_a_stream_is_named_and_a_rerun_completes_a_cut_stream(
    store: OnlineStore,
) -> None:
    good = pa.table({"id": [1], "ts": stamps(T0), "x": [1.0]})
    bad = pa.table({"id": [2], "ts": stamps(T0), "y": [2.0]})
    with raises(DataValidationError, match="no feature column 'x'"):
        _stream(store, [good, bad])
    # what a cut stream wrote (all, part or none of it) is completed by running it again
    result = _stream(store, [good])
    assert result.written + result.skipped_older == 1
    assert values_of(store.read("stats", ["id"], [{"id": 1}], ["x"])) == [1.0]


def check_bad_tables_are_rejected_with_the_column_named(store: OnlineStore) -> None:
    good = {"id": [1, 2], "ts": stamps(T0, T0), "x": [1.0, 2.0]}
    with raises(DataValidationError, match="no key column 'driver'; its columns are"):
        put(store, good, keys=("driver",))
    with raises(DataValidationError, match="no feature column 'rate'"):
        put(store, good, features=("x", "rate"))
    with raises(DataValidationError, match="no timestamp column 'ts'"):
        put(store, {"id": [1], "x": [1.0], "time": stamps(T0)})
    with raises(DataValidationError, match="no created column 'created'"):
        put(store, good, created=True)
    with raises(
        InvalidValueError, match="timestamp column 'ts' of view 'stats' must be a timestamp"
    ):
        put(store, {**good, "ts": [1, 2]})
    with raises(
        DataValidationError, match=r"timestamp column 'ts' .* 1 null value\(s\), the first in row 1"
    ):
        put(store, {**good, "ts": stamps(T0, None)})
    with raises(
        InvalidValueError,
        match="key column 'id' of view 'stats' must hold integers or strings, got double",
    ):
        put(store, {**good, "id": [1.0, 2.0]})
    with raises(
        DataValidationError, match=r"key column 'id' .* null value\(s\), the first in row 0"
    ):
        put(store, {**good, "id": [None, 2]})
    with raises(InvalidValueError, match=r"feature 'emb' of view 'stats' has type list<item"):
        put(store, {**good, "emb": [[1.0], [2.0]]}, features=("emb",))
    with raises(InvalidValueError, match=r"features of view 'stats' name \['x'\] more than once"):
        put(store, good, features=("x", "x"))
    with raises(InvalidValueError, match="features of view 'stats' must be a list of column"):
        store.write(
            "stats",
            ["id"],
            pa.table(good),
            timestamp_field="ts",
            created_timestamp_field=None,
            features="x",
        )
    with raises(InvalidValueError, match="table must be a pyarrow Table or a pandas DataFrame"):
        store.write(
            "stats",
            ["id"],
            good,  # type: ignore[arg-type]
            timestamp_field="ts",
            created_timestamp_field=None,
            features=["x"],
        )
    far = pa.array([datetime(3000, 1, 1), datetime(2000, 1, 1)], pa.timestamp("us"))
    with raises(DataValidationError, match=r"feature column 'when' of view 'stats' holds a time"):
        put(store, {**good, "when": far}, features=("x", "when"))
    with raises(InvalidNameError, match="feature view name"):
        put(store, good, view="../escape")
    # nothing was written by the rejected calls
    assert values_of(store.read("stats", ["id"], [{"id": 1}], ["x"])) == [None]


def check_bad_reads_are_rejected_with_the_row_named(store: OnlineStore) -> None:
    with raises(
        InvalidValueError, match=r"entity row 1 for view 'stats' has no key 'id'; it has \['ID'\]"
    ):
        store.read("stats", ["id"], [{"id": 1}, {"ID": 2}], ["x"])
    with raises(
        InvalidValueError,
        match=r"key 'id' of view 'stats' must be an int or a str, got float 1\.5 in row 0",
    ):
        store.read("stats", ["id"], [{"id": 1.5}], ["x"])
    with raises(InvalidValueError, match="got bool True in row 0"):
        store.read("stats", ["id"], [{"id": True}], ["x"])
    with raises(InvalidValueError, match="got NoneType None in row 1"):
        store.read("stats", ["id"], [{"id": 1}, {"id": None}], ["x"])
    with raises(InvalidValueError, match="entity rows for view 'stats' must be a list of dicts"):
        store.read("stats", ["id"], {"id": 1}, ["x"])  # type: ignore[arg-type]
    with raises(InvalidValueError, match="entity row 0 for view 'stats' must be a dict"):
        store.read("stats", ["id"], [1], ["x"])  # type: ignore[list-item]
    with raises(DataValidationError, match="entity rows for view 'stats' has no key column 'id'"):
        store.read("stats", ["id"], pa.table({"other": [1]}), ["x"])
    with raises(InvalidValueError, match="ttl must not be negative"):
        store.read("stats", ["id"], [{"id": 1}], ["x"], ttl=timedelta(seconds=-1))
    with raises(InvalidValueError, match="now must be a datetime, got str"):
        store.read("stats", ["id"], [{"id": 1}], ["x"], now="2024-01-01")  # type: ignore[arg-type]
    with raises(InvalidValueError, match="now must be a datetime, got NaTType"):
        store.read("stats", ["id"], [{"id": 1}], ["x"], now=pd.NaT)  # type: ignore[arg-type]
    with raises(InvalidValueError, match="keys of view 'stats' must name at least one column"):
        store.read("stats", [], [{"id": 1}], ["x"])


__all__: list[str] = []
