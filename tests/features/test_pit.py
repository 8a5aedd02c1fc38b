"""The point-in-time join engine: explicit rules, bad input, and a brute-force comparison."""

from __future__ import annotations

import dataclasses
import datetime
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pit_reference import RefRow, RefView, pit_join

from weekend.core.errors import DataValidationError, UserInputError
from weekend.features._pit import ViewSpec, point_in_time_join, validate_entity_frame

BASE = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z in nanoseconds
SECOND = 1_000_000_000
ZONES = (None, "UTC", "Asia/Kolkata", "America/New_York")


def ts(values: Sequence[int | None], tz: str | None = None) -> pa.Array:
    """Nanoseconds since the epoch (UTC) as a timestamp column in zone ``tz`` (None: naive)."""
    return pa.array(values, pa.int64()).cast(pa.timestamp("ns", tz=tz))


def entity(keys: Sequence[Any], times: Sequence[int | None], tz: str | None = None) -> pa.Table:
    return pa.table({"k": keys, "event_timestamp": ts(times, tz)})


def source(
    con: duckdb.DuckDBPyConnection,
    name: str,
    keys: Sequence[Any],
    events: Sequence[int | None],
    values: Sequence[Any],
    created: Sequence[int | None] | None = None,
    tz: str | None = None,
) -> ViewSpec:
    columns: dict[str, Any] = {"k": keys, "ts": ts(events, tz), "x": values}
    if created is not None:
        columns["created"] = ts(created, tz)
    con.register(name, pa.table(columns))
    return ViewSpec(name, name, ("k",), "ts", ("x",), "created" if created else None)


def xs(result: pa.Table, column: str = "x") -> list[Any]:
    return list(result[column].to_pylist())


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


# --- explicit rules ------------------------------------------------------------------------


def test_latest_value_at_or_before_the_row_time(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1, 1, 1], [BASE, BASE + 10, BASE + 20], [1.0, 2.0, 3.0])
    times = [BASE - 1, BASE, BASE + 15, BASE + 20, BASE + 10**12]
    result = point_in_time_join(con, entity([1] * 5, times), [view])
    assert xs(result) == [None, 1.0, 2.0, 3.0, 3.0]


def test_ttl_edge_is_inclusive(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1], [BASE], ["a"])
    view = ViewSpec("v", "v", ("k",), "ts", ("x",), ttl=datetime.timedelta(seconds=1))
    times = [BASE + SECOND, BASE + SECOND + 1, BASE]
    assert xs(point_in_time_join(con, entity([1, 1, 1], times), [view])) == ["a", None, "a"]


def test_ttl_null_when_latest_is_too_old_even_if_ttl_is_zero(
    con: duckdb.DuckDBPyConnection,
) -> None:
    source(con, "v", [1, 1], [BASE, BASE + 5], ["a", "b"])
    view = ViewSpec("v", "v", ("k",), "ts", ("x",), ttl=datetime.timedelta(0))
    times = [BASE, BASE + 4, BASE + 5, BASE + 6]
    assert xs(point_in_time_join(con, entity([1] * 4, times), [view])) == ["a", None, "b", None]


def test_ties_on_event_time_go_to_latest_created_then_last_in_source_order(
    con: duckdb.DuckDBPyConnection,
) -> None:
    view = source(
        con,
        "v",
        [1, 1, 1, 2, 2],
        [BASE] * 5,
        ["old", "new", "mid", "first", "second"],
        created=[BASE + 1, BASE + 9, BASE + 5, BASE + 3, BASE + 3],
    )
    result = point_in_time_join(con, entity([1, 2], [BASE, BASE]), [view])
    assert xs(result) == ["new", "second"]


@pytest.mark.parametrize("plan", ["asof", "window"])
@pytest.mark.parametrize("clash", [False, True])
def test_exact_ties_in_parquet_go_to_the_last_row_read(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, plan: str, clash: bool
) -> None:
    """Rows tied on key, event and created time: the last one read wins, files in list order
    and rows in file order, across row groups (DuckDB's Parquet row numbers; a column named
    like one of them makes weekend number the rows itself, with the same answer)."""
    keys = [1, 2, 1, 1, 2, 1, 2, 1]
    value = [f"v{i}" for i in range(len(keys))]
    whole = pa.table(
        {"k": keys, "ts": ts([BASE] * len(keys)), "created": ts([BASE + 1] * len(keys)), "x": value}
    )
    if clash:
        whole = whole.append_column("file_index", pa.array([9, 8, 7, 6, 5, 4, 3, 2]))
    paths = []
    for i, (start, stop) in enumerate([(0, 3), (3, 3), (3, 8)]):  # the middle file is empty
        path = tmp_path / f"z-{i}.parquet"  # names not in list order: the list decides
        pq.write_table(whole.slice(start, stop - start), path, row_group_size=2)
        paths.append(path)
    listed = ", ".join(f"'{path}'" for path in [paths[0], paths[1], paths[2]])
    view = ViewSpec(
        "v",
        f"read_parquet([{listed}])",
        ("k",),
        "ts",
        ("x",),
        "created",
        datetime.timedelta(days=1),
    )
    rows = entity([1, 2, 3], [BASE + 5] * 3)
    got = xs(point_in_time_join(con, rows, [view], plan=plan))  # type: ignore[arg-type]
    assert got == ["v7", "v6", None]
    con.register("whole", whole)  # the same rows as one table: row_number() OVER ()
    same = dataclasses.replace(view, source="whole")
    assert xs(point_in_time_join(con, rows, [same], plan=plan)) == got  # type: ignore[arg-type]


def test_source_order_uses_parquet_row_numbers_unless_a_column_hides_them() -> None:
    from weekend.features._pit import source_order

    cheap = source_order("read_parquet('a/*.parquet')", ["k", "ts"])
    assert "file_row_number" in cheap
    assert source_order("read_parquet('a.parquet')", ["k", "FILE_INDEX"]) == "row_number() OVER ()"
    assert source_order("read_csv_auto('a.csv')", ["k"]) == "row_number() OVER ()"
    assert source_order("(SELECT * FROM t)", ["k"]) == "row_number() OVER ()"


def test_null_created_counts_as_created_at_event_time(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1, 1], [BASE, BASE], ["dated", "undated"], [BASE + 1, None])
    assert xs(point_in_time_join(con, entity([1], [BASE + 5]), [view])) == ["dated"]
    # strict: the dated row had not arrived at BASE, the undated one counts as arrived.
    assert xs(point_in_time_join(con, entity([1], [BASE]), [view], strict=True)) == ["undated"]


def test_null_keys_no_history_and_null_times_give_null(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1, None], [BASE, BASE], [1, 2])
    result = point_in_time_join(con, entity([None, 7, 1, 1], [BASE, BASE, None, BASE]), [view])
    assert xs(result) == [None, None, None, 1]


def test_empty_view_gives_typed_nulls(con: duckdb.DuckDBPyConnection) -> None:
    con.register(
        "v",
        pa.table({"k": pa.array([], pa.int64()), "ts": ts([]), "x": pa.array([], pa.float32())}),
    )
    view = ViewSpec("v", "v", ("k",), "ts", ("x",))
    result = point_in_time_join(con, entity([1, 2], [BASE, BASE]), [view])
    assert xs(result) == [None, None]
    assert result.schema.field("x").type == pa.float32()


def test_empty_entity_frame(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1], [BASE], ["a"])
    empty = pa.table({"k": pa.array([], pa.int64()), "event_timestamp": ts([])})
    result = point_in_time_join(con, empty, [view])
    assert result.num_rows == 0
    assert result.column_names == ["k", "event_timestamp", "x"]


@pytest.mark.parametrize("kind", [pa.int64(), pa.string()])
def test_composite_keys_compare_column_by_column(
    con: duckdb.DuckDBPyConnection, kind: pa.DataType
) -> None:
    def col(values: list[int]) -> pa.Array:
        return pa.array(values).cast(kind)

    con.register(
        "v",
        pa.table(
            {"a": col([1, 12]), "b": col([23, 3]), "ts": ts([BASE, BASE]), "x": ["1|23", "12|3"]}
        ),
    )
    view = ViewSpec("v", "v", ("a", "b"), "ts", ("x",))
    rows = pa.table({"a": col([12, 1, 1]), "b": col([3, 23, 2]), "event_timestamp": ts([BASE] * 3)})
    assert xs(point_in_time_join(con, rows, [view])) == ["12|3", "1|23", None]


def test_time_zones_are_converted_to_utc(con: duckdb.DuckDBPyConnection) -> None:
    # The source is naive (read as UTC); the entity rows are in Tokyo (UTC+9).
    view = source(con, "v", [1, 1], [BASE, BASE + 3600 * SECOND], ["early", "late"])
    rows = entity([1, 1], [BASE + 1800 * SECOND, BASE + 3600 * SECOND], tz="Asia/Tokyo")
    result = point_in_time_join(con, rows, [view])
    assert xs(result) == ["early", "late"]
    # The entity columns come back exactly as given, zone and nanoseconds included.
    assert result["event_timestamp"].equals(rows["event_timestamp"])


def test_pandas_zone_aware_entity_against_zone_aware_source(
    con: duckdb.DuckDBPyConnection,
) -> None:
    view = source(con, "v", [1, 1], [BASE, BASE + 60 * SECOND], ["a", "b"], tz="America/New_York")
    frame = pd.DataFrame(
        {
            "k": [1, 1],
            "event_timestamp": [
                pd.Timestamp(BASE + 59 * SECOND, unit="ns", tz="UTC").tz_convert("Europe/Paris"),
                pd.Timestamp(BASE + 60 * SECOND, unit="ns", tz="UTC").tz_convert("Europe/Paris"),
            ],
        }
    )
    assert xs(point_in_time_join(con, frame, [view])) == ["a", "b"]


def test_nanosecond_precision(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1, 1], [BASE, BASE + 1], ["first", "second"], tz="UTC")
    times = [BASE - 1, BASE, BASE + 1]
    assert xs(point_in_time_join(con, entity([1, 1, 1], times), [view])) == [
        None,
        "first",
        "second",
    ]
    ttl = ViewSpec("v", "v", ("k",), "ts", ("x",), ttl=datetime.timedelta(microseconds=1))
    edge = [BASE + 1001, BASE + 1002]
    assert xs(point_in_time_join(con, entity([1, 1], edge), [ttl])) == ["second", None]


def test_strict_excludes_values_that_had_not_arrived(con: duckdb.DuckDBPyConnection) -> None:
    # "late" happened at BASE+3 but was backfilled at BASE+100.
    view = source(con, "v", [1, 1], [BASE, BASE + 3], ["early", "late"], [BASE, BASE + 100])
    times = [BASE + 50, BASE + 100]
    assert xs(point_in_time_join(con, entity([1, 1], times), [view])) == ["late", "late"]
    assert xs(point_in_time_join(con, entity([1, 1], times), [view], strict=True)) == [
        "early",
        "late",
    ]


def test_strict_without_created_field_equals_default(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1, 1], [BASE, BASE + 3], ["a", "b"])
    rows = entity([1, 1, 1], [BASE - 1, BASE + 2, BASE + 3])
    assert xs(point_in_time_join(con, rows, [view], strict=True)) == [None, "a", "b"]


def test_order_preserved_and_duplicates_kept(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1, 2, 3], [BASE, BASE, BASE], ["one", "two", "three"])
    keys = [3, 1, 3, 2, 2, 1, 3]
    result = point_in_time_join(con, entity(keys, [BASE] * 7), [view])
    assert result["k"].to_pylist() == keys
    assert xs(result) == [{1: "one", 2: "two", 3: "three"}[k] for k in keys]


def test_several_views_without_cross_product(con: duckdb.DuckDBPyConnection) -> None:
    many = source(con, "many", [1] * 50, [BASE + i for i in range(50)], list(range(50)))
    con.register(
        "other",
        pa.table(
            {"k": [1] * 30, "t2": ts([BASE + 2 * i for i in range(30)]), "y": list(range(30))}
        ),
    )
    other = ViewSpec("other", "other", ("k",), "t2", ("y",))
    result = point_in_time_join(con, entity([1, 1], [BASE + 10, BASE + 41]), [many, other])
    assert result.num_rows == 2
    assert result.column_names == ["k", "event_timestamp", "x", "y"]
    assert xs(result) == [10, 41]
    assert xs(result, "y") == [5, 20]


def test_view_without_join_keys(con: duckdb.DuckDBPyConnection) -> None:
    con.register("g", pa.table({"day": ts([BASE, BASE + 10]), "index": [1.5, 2.5]}))
    view = ViewSpec("market", "g", (), "day", ("index",))
    result = point_in_time_join(con, entity([1, 2, 3], [BASE + 5, BASE - 1, BASE + 10]), [view])
    assert xs(result, "index") == [1.5, None, 2.5]


def test_full_feature_names(con: duckdb.DuckDBPyConnection) -> None:
    a = source(con, "a", [1], [BASE], ["from a"])
    b = source(con, "b", [1], [BASE], ["from b"])
    result = point_in_time_join(con, entity([1], [BASE]), [a, b], full_feature_names=True)
    assert result.column_names == ["k", "event_timestamp", "a__x", "b__x"]
    assert result.to_pylist()[0]["b__x"] == "from b"


def test_entity_kinds_give_the_same_answer(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    view = source(con, "v", [1, 2], [BASE, BASE], ["a", "b"])
    rows = entity([2, 1, 2], [BASE, BASE, BASE - 1])
    con.register("rows", rows)
    pq.write_table(rows, tmp_path / "rows.parquet")
    for given_entity in (
        rows,
        rows.to_pandas(),
        "rows",
        f"read_parquet('{tmp_path / 'rows.parquet'}')",
    ):
        assert xs(point_in_time_join(con, given_entity, [view])) == ["b", "a", None]


def test_parquet_source_with_dates(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    folder = tmp_path / "view"
    folder.mkdir()
    for i, day in enumerate((datetime.date(2024, 1, 1), datetime.date(2024, 1, 3))):
        part = pa.table({"k": ["a"], "day": pa.array([day], pa.date32()), "x": [i]})
        pq.write_table(part, folder / f"part-{i}.parquet")
    view = ViewSpec("v", f"read_parquet('{folder}/*.parquet')", ("k",), "day", ("x",))
    frame = pd.DataFrame(
        {
            "k": ["a", "a", "a"],
            "event_timestamp": pd.to_datetime(["2023-12-31", "2024-01-02", "2024-01-03"]),
        }
    )
    assert xs(point_in_time_join(con, frame, [view])) == [None, 0, 1]


# --- bad input -----------------------------------------------------------------------------


def test_missing_timestamp_column(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1], [BASE], ["a"])
    rows = pa.table({"k": [1], "when": ts([BASE])})
    with pytest.raises(DataValidationError, match="no timestamp column 'event_timestamp'"):
        point_in_time_join(con, rows, [view])
    assert xs(point_in_time_join(con, rows, [view], timestamp_column="when")) == ["a"]


def test_timestamp_column_of_wrong_type(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1], [BASE], ["a"])
    rows = pa.table({"k": [1], "event_timestamp": ["2024-01-01"]})
    with pytest.raises(
        DataValidationError, match=r"'event_timestamp' must hold timestamps.*string"
    ):
        validate_entity_frame(con, rows, [view])


def test_key_of_the_wrong_type(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1], [BASE], ["a"])
    rows = pa.table({"k": ["1"], "event_timestamp": ts([BASE])})
    with pytest.raises(DataValidationError, match=r"join key 'k'.*VARCHAR but view 'v' has BIGINT"):
        point_in_time_join(con, rows, [view])


def test_integer_and_float_keys_are_compatible(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1, 2], [BASE, BASE], ["a", "b"])
    frame = pd.DataFrame({"k": [2.0, None], "event_timestamp": pd.to_datetime([BASE, BASE])})
    assert xs(point_in_time_join(con, frame, [view])) == ["b", None]


def test_entity_without_join_key(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1], [BASE], ["a"])
    rows = pa.table({"driver": [1], "event_timestamp": ts([BASE])})
    with pytest.raises(DataValidationError, match="no column 'k', a join key of view 'v'"):
        point_in_time_join(con, rows, [view])


@pytest.mark.parametrize(
    ("spec", "role"),
    [
        ({"join_keys": ("nope",)}, "join key"),
        ({"timestamp_field": "nope"}, "timestamp field"),
        ({"created_timestamp_field": "nope"}, "created timestamp field"),
        ({"features": ("x", "nope")}, "feature"),
    ],
)
def test_source_lacks_a_declared_column(
    con: duckdb.DuckDBPyConnection, spec: dict[str, Any], role: str
) -> None:
    source(con, "v", [1], [BASE], ["a"])
    fields: dict[str, Any] = {"join_keys": ("k",), "timestamp_field": "ts", "features": ("x",)}
    view = ViewSpec(name="v", source="v", **{**fields, **spec})
    with pytest.raises(
        DataValidationError, match=rf"view 'v'.*no column 'nope' \(declared as {role}\)"
    ):
        point_in_time_join(con, entity([1], [BASE]), [view])


def test_source_timestamp_of_wrong_type(con: duckdb.DuckDBPyConnection) -> None:
    con.register("v", pa.table({"k": [1], "ts": ["2024-01-01"], "x": [1]}))
    view = ViewSpec("v", "v", ("k",), "ts", ("x",))
    with pytest.raises(
        DataValidationError, match=r"view 'v': column 'ts' must be a timestamp.*VARCHAR"
    ):
        point_in_time_join(con, entity([1], [BASE]), [view])


def test_unreadable_source(con: duckdb.DuckDBPyConnection) -> None:
    view = ViewSpec("v", "no_such_table", ("k",), "ts", ("x",))
    with pytest.raises(UserInputError, match="view 'v': source 'no_such_table' cannot be read"):
        point_in_time_join(con, entity([1], [BASE]), [view])


def test_source_timestamp_outside_nanosecond_range(con: duckdb.DuckDBPyConnection) -> None:
    far = pa.array([datetime.datetime(3000, 1, 1)], pa.timestamp("us"))
    con.register("v", pa.table({"k": [1], "ts": far, "x": [1]}))
    view = ViewSpec("v", "v", ("k",), "ts", ("x",))
    with pytest.raises(DataValidationError, match=r"view 'v': a timestamp does not fit"):
        point_in_time_join(con, entity([1], [BASE]), [view])


def test_entity_timestamp_outside_nanosecond_range(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1], [BASE], ["a"])
    far = pa.array([datetime.datetime(3000, 1, 1)], pa.timestamp("us"))
    with pytest.raises(DataValidationError, match=r"'event_timestamp' has timestamps outside"):
        point_in_time_join(con, pa.table({"k": [1], "event_timestamp": far}), [view])


def test_name_collisions(con: duckdb.DuckDBPyConnection) -> None:
    a = source(con, "a", [1], [BASE], ["from a"])
    b = source(con, "b", [1], [BASE], ["from b"])
    with pytest.raises(UserInputError, match="'x' is produced by both view 'a' and view 'b'"):
        point_in_time_join(con, entity([1], [BASE]), [a, b])
    clash = pa.table({"k": [1], "event_timestamp": ts([BASE]), "x": [0]})
    with pytest.raises(UserInputError, match="'x' of view 'a' would overwrite the entity column"):
        point_in_time_join(con, clash, [a])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features": ()}, "features must name at least one column"),
        ({"features": "x"}, "features must be a sequence of column names"),
        ({"join_keys": ("k", "k")}, "join_keys has duplicates"),
        ({"ttl": datetime.timedelta(seconds=-1)}, "ttl must be a non-negative timedelta"),
        ({"source": " "}, "source must be a non-empty"),
        ({"name": "../x"}, "feature view name '../x' is not allowed"),
    ],
)
def test_bad_view_specs(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "name": "v",
        "source": "v",
        "join_keys": ("k",),
        "timestamp_field": "ts",
        "features": ("x",),
    }
    with pytest.raises(UserInputError, match=message):
        ViewSpec(**{**fields, **changes})


def test_bad_entity_and_no_views(con: duckdb.DuckDBPyConnection) -> None:
    view = source(con, "v", [1], [BASE], ["a"])
    with pytest.raises(UserInputError, match=r"entity must be a pandas DataFrame.*got list"):
        point_in_time_join(con, [1, 2], [view])
    with pytest.raises(UserInputError, match="views must name at least one feature view"):
        point_in_time_join(con, entity([1], [BASE]), [])
    with pytest.raises(UserInputError, match="entity source 'missing' cannot be read"):
        point_in_time_join(con, "missing", [view])


# --- brute-force comparison ----------------------------------------------------------------

KEY_SETS = (("a", "b"), ("a",), ("b",), ())
COLLIDING = (1, 2, 3, 12, 23)  # (1, 23) and (12, 3) concatenate to the same text


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    step = draw(st.sampled_from([1_000, SECOND]))
    key_kind = draw(st.sampled_from(["int", "str"]))
    key = (
        st.one_of(st.none(), st.sampled_from(COLLIDING))
        if draw(st.booleans())
        else st.sampled_from(COLLIDING)
    )

    def moment() -> st.SearchStrategy[int]:
        # A few grid points so ties and ttl edges are common; +1 ns to test precision.
        return st.builds(
            lambda i, j: BASE + i * step + j, st.integers(0, 4), st.sampled_from([0, 0, 0, 1])
        )

    views = []
    for _ in range(draw(st.integers(1, 3))):
        keys = draw(st.sampled_from(KEY_SETS))
        with_created = draw(st.booleans())
        rows = draw(
            st.lists(
                st.tuples(
                    st.tuples(*[key for _ in keys]),
                    st.one_of(moment(), st.none()) if draw(st.booleans()) else moment(),
                    st.one_of(st.none(), moment()) if with_created else st.none(),
                    st.one_of(st.none(), st.text("xyz", max_size=2)),
                ),
                max_size=12,
            )
        )
        ttl = draw(st.one_of(st.none(), st.integers(0, 3)))
        views.append({"keys": keys, "rows": rows, "created": with_created, "ttl": ttl})
    entity_rows = draw(st.lists(st.tuples(key, key, st.one_of(moment(), st.none())), max_size=12))
    entity_rows += entity_rows[: draw(st.integers(0, 2))]  # duplicate rows
    return {
        "step": step,
        "key_kind": key_kind,
        "views": views,
        "entity": entity_rows,
        "entity_tz": draw(st.sampled_from(ZONES)),
        "source_tz": draw(st.sampled_from(ZONES)),
        "created_tz": draw(st.sampled_from(ZONES)),
        "strict": draw(st.booleans()),
        "entity_as": draw(st.sampled_from(["arrow", "pandas", "sql"])),
        "source_files": draw(st.sampled_from([0, 1, 3])),  # 0: an Arrow table, else Parquet
    }


def _keys(values: list[Any], kind: str) -> pa.Array:
    if kind == "str":
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.array(values, pa.int64())


def _convert(value: Any, kind: str) -> Any:
    return value if value is None or kind == "int" else str(value)


def _source_item(
    con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, files: int, folder: Path
) -> str:
    """The source as a registered Arrow table, or as ``files`` Parquet files (row groups of
    two rows) read in order, so ties are broken by DuckDB's Parquet row numbers."""
    if not files:
        con.register(name, table)
        return name
    paths = []
    cut = (
        [0, table.num_rows // 3, 2 * table.num_rows // 3, table.num_rows]
        if files == 3
        else [
            0,
            table.num_rows,
        ]
    )
    for i in range(files):
        path = folder / f"{name}-{i}.parquet"
        pq.write_table(table.slice(cut[i], cut[i + 1] - cut[i]), path, row_group_size=2)
        paths.append(f"'{path}'")
    return f"read_parquet([{', '.join(paths)}])"


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_matches_brute_force_reference(case: dict[str, Any]) -> None:
    kind = case["key_kind"]
    con = duckdb.connect()
    scratch = tempfile.mkdtemp(prefix="weekend-pit-")
    try:
        specs, refs = [], []
        for n, view in enumerate(case["views"]):
            rows = view["rows"]
            columns: dict[str, Any] = {
                name: _keys([r[0][i] for r in rows], kind) for i, name in enumerate(view["keys"])
            }
            columns["ts"] = ts([r[1] for r in rows], case["source_tz"])
            if view["created"]:
                columns["created"] = ts([r[2] for r in rows], case["created_tz"])
            columns["f"] = pa.array(range(len(rows)), pa.int64())
            columns["g"] = pa.array([r[3] for r in rows], pa.string())
            from_item = _source_item(
                con, f"src{n}", pa.table(columns), case["source_files"], Path(scratch)
            )
            ttl = (
                None
                if view["ttl"] is None
                else datetime.timedelta(microseconds=view["ttl"] * case["step"] // 1000)
            )
            specs.append(
                ViewSpec(
                    f"v{n}",
                    from_item,
                    view["keys"],
                    "ts",
                    ("f", "g"),
                    "created" if view["created"] else None,
                    ttl,
                )
            )
            ref_rows = [
                RefRow(tuple(_convert(k, kind) for k in r[0]), r[1], r[2], (i, r[3]))
                for i, r in enumerate(rows)
            ]
            refs.append(RefView(ref_rows, 2, None if ttl is None else view["ttl"] * case["step"]))

        rows = case["entity"]
        table = pa.table(
            {
                "a": _keys([r[0] for r in rows], kind),
                "b": _keys([r[1] for r in rows], kind),
                "event_timestamp": ts([r[2] for r in rows], case["entity_tz"]),
            }
        )
        given_entity: Any = table
        if case["entity_as"] == "pandas":
            given_entity = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
        elif case["entity_as"] == "sql":
            con.register("entity_rows", table)
            given_entity = "entity_rows"
        result = point_in_time_join(
            con, given_entity, specs, strict=case["strict"], full_feature_names=True
        )
        windowed = point_in_time_join(
            con, given_entity, specs, strict=case["strict"], full_feature_names=True, plan="window"
        )
        assert windowed.equals(result)  # both plans give the same answers

        ref_entity = []
        for a, b, row_ns in rows:
            by_name = {"a": _convert(a, kind), "b": _convert(b, kind)}
            ref_entity.append(
                (tuple(tuple(by_name[k] for k in view["keys"]) for view in case["views"]), row_ns)
            )
        expected = pit_join(ref_entity, refs, strict=case["strict"])
        feature_columns = result.column_names[3:]
        assert feature_columns == [f"v{n}__{f}" for n in range(len(specs)) for f in ("f", "g")]
        got = [
            tuple(r[c] for c in feature_columns) for r in result.select(feature_columns).to_pylist()
        ]
        assert got == expected
        assert result.select(["a", "b"]).to_pylist() == table.select(["a", "b"]).to_pylist()
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


# --- the window plan gives the ASOF plan's answers, rule by rule -------------------------------


@pytest.mark.parametrize("plan", ["asof", "window", "auto"])
def test_each_rule_under_each_plan(con: duckdb.DuckDBPyConnection, plan: str) -> None:
    ttl = datetime.timedelta(microseconds=1)  # 1,000 ns
    keys = [1, 1, 1, 1, 2, 2]
    events = [BASE, BASE + 500, BASE + 500, BASE + 500, BASE, BASE]
    created = [BASE, BASE + 600, BASE + 900, BASE + 900, BASE + 50, BASE + 50]
    values = ["old", "early-created", "tie-first", "tie-last", "a", "b"]
    view = source(con, "w", keys, events, values, created)
    view = dataclasses.replace(view, ttl=ttl)
    times = [BASE + 500, BASE + 1500, BASE + 1501, BASE + 499, BASE + 10, BASE + 1000]
    rows = entity([1, 1, 1, 1, 2, 2], times)
    got = xs(point_in_time_join(con, rows, [view], plan=plan))  # type: ignore[arg-type]
    # ties on event time: latest created, then the last source row; the ttl edge is inclusive
    assert got == ["tie-last", "tie-last", None, "old", "b", "b"]
    strict = xs(point_in_time_join(con, rows, [view], strict=True, plan=plan))  # type: ignore[arg-type]
    # strict: a value counts only once it was created (created <= row time)
    assert strict == ["old", "tie-last", None, "old", None, "b"]
