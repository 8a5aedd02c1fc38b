"""Schema inference and one-pass, mergeable profiles, checked against numpy and pandas."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weekend.core.errors import InvalidValueError
from weekend.data._profile import EXACT_CATEGORY_LIMIT, Profile, profile, profile_diff
from weekend.data._schema import Schema, infer_schema, schema_diff
from weekend.data._summaries import ALPHA, GAMMA, MAX_BUCKETS, QUANTILES, plan_bins


def frame(rng: np.random.Generator, n: int = 2000) -> pd.DataFrame:
    f = rng.normal(10.0, 3.0, n)
    f[::11] = np.nan
    return pd.DataFrame(
        {
            "i": rng.integers(-50, 500, n),
            "f": f,
            "heavy": rng.lognormal(3.0, 2.0, n) * rng.choice([-1.0, 1.0], n),
            "s": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "ts": pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), "s"),
            "flag": rng.random(n) < 0.3,
            "id": [f"row{k}" for k in range(n)],
        }
    )


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


# ---------------------------------------------------------------- schema


def test_infer_schema_types_ranges_categories_and_keys(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator
) -> None:
    df = frame(rng)
    con.register("df", df)
    schema = infer_schema(con, "df", keys=["id", ("s", "flag")])
    assert schema.names == ("i", "f", "heavy", "s", "ts", "flag", "id")
    types = {c.name: c.logical_type for c in schema.columns}
    assert types == {
        "i": "int",
        "f": "float",
        "heavy": "float",
        "s": "category",
        "ts": "timestamp",
        "flag": "bool",
        "id": "string",
    }
    assert schema.column("i").physical_type == "BIGINT"
    assert schema.column("f").nullable is True  # NaN counts as missing
    assert schema.column("i").nullable is False
    assert schema.column("s").categories == ("a", "b", "c", "d")
    assert schema.column("id").categories is None  # unique values are not a closed set
    assert schema.column("i").min == df["i"].min()
    assert schema.column("i").max == df["i"].max()
    assert schema.column("f").max == pytest.approx(np.nanmax(df["f"]), rel=0, abs=0)
    assert schema.column("ts").min == df["ts"].min().to_pydatetime()
    keys = {k.columns: k for k in schema.keys}
    assert keys[("id",)].unique is True
    assert keys[("s", "flag")].unique is False
    assert keys[("s", "flag")].duplicate_rows == len(df)


def test_schema_json_round_trip_is_exact(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator
) -> None:
    con.register("df", frame(rng, 300))
    con.execute("CREATE TABLE t AS SELECT *, DATE '2020-01-01' + (i % 40)::INTEGER AS d FROM df")
    schema = infer_schema(con, "t", keys=["id"])
    text = json.dumps(schema.to_dict())
    again = Schema.from_dict(json.loads(text))
    assert again == schema
    assert json.dumps(again.to_dict()) == text
    first = con.execute("SELECT min(d) FROM t").fetchall()[0][0]
    assert isinstance(first, date)
    assert again.column("d").min == first


def test_schema_of_duckdb_types_and_timezones(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE t AS SELECT 'x'::ENUM('x', 'y') AS e, 1.5::DECIMAL(6, 2) AS dec, "
        "TIMESTAMPTZ '2020-01-01 05:00:00+02' AS tz, [1, 2] AS l, 7::UTINYINT AS u"
    )
    schema = infer_schema(con, "SELECT * FROM t")
    assert [c.logical_type for c in schema.columns] == [
        "category",
        "float",
        "timestamp",
        "other",
        "int",
    ]
    assert schema.column("e").categories == ("x",)
    assert schema.column("dec").min == 1.5
    assert schema.column("tz").min == datetime(2020, 1, 1, 3, tzinfo=UTC)


def test_binary_and_list_columns_have_their_own_words(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES ('\\x01'::BLOB, ['a', 'b'], 1), "
        "(NULL, ['a'], 2), ('\\x01'::BLOB, NULL, 3)) v(b, tags, n)"
    )
    schema = infer_schema(con, "t")
    assert [(c.logical_type, c.physical_type) for c in schema.columns] == [
        ("binary", "BLOB"),
        ("other", "VARCHAR[]"),
        ("int", "INTEGER"),
    ]
    assert schema.column("tags").categories is None
    prof = profile(con, "t")
    assert [(c.logical_type, c.kind) for c in prof.columns[:2]] == [
        ("binary", "other"),
        ("other", "other"),
    ]
    assert (prof.column("b").missing, prof.column("tags").missing) == (1, 1)
    # a profile written before the shared vocabulary: the list was text, the blob "other"
    as_text = profile(con, "SELECT CAST(tags AS VARCHAR) AS tags FROM t").to_dict()["columns"][0]
    assert "categorical" in as_text
    old = prof.to_dict()
    old["columns"][0]["type"] = "other"
    old["columns"][1].update(type="category", categorical=as_text["categorical"])
    assert Profile.from_dict(old) == prof


def test_schema_bad_input_is_named(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    with pytest.raises(InvalidValueError, match="keys: column 'b' is not in the data; it has: a"):
        infer_schema(con, "t", keys=["b"])
    with pytest.raises(InvalidValueError, match="relation_sql must be a SQL query"):
        infer_schema(con, "  ")
    with pytest.raises(InvalidValueError, match="could not be planned by DuckDB"):
        infer_schema(con, "SELECT nope FROM t")
    with pytest.raises(InvalidValueError, match="column 'type': type must be one of int, float"):
        Schema.from_dict({"columns": [{"name": "type", "type": "decimal"}]})
    with pytest.raises(InvalidValueError, match="schema is missing the field 'columns'"):
        Schema.from_dict({})


def test_schema_diff_names_each_change(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE a AS SELECT range AS k, range % 3 AS n, ['x', 'y'][1 + range % 2] AS c, "
        "1 AS gone FROM range(10)"
    )
    con.execute(
        "CREATE TABLE b AS SELECT range % 5 AS k, (range % 3)::DOUBLE AS n, "
        "['x', 'z'][1 + range % 2] AS c, 2 AS new FROM range(20)"
    )
    changes = schema_diff(infer_schema(con, "a", keys=["k"]), infer_schema(con, "b", keys=["k"]))
    kinds = {(c.kind, c.column) for c in changes}
    assert kinds == {
        ("column_removed", "gone"),
        ("column_added", "new"),
        ("type_changed", "n"),
        ("categories_added", "c"),
        ("categories_removed", "c"),
        ("range_changed", "k"),
        ("key_uniqueness_changed", "k"),
    }
    added = next(c for c in changes if c.kind == "categories_added")
    assert added.after == ["z"]
    assert json.loads(json.dumps([c.to_dict() for c in changes]))


# ---------------------------------------------------------------- profile numbers


def lower_quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q, method="lower"))


def expected_histogram(values: np.ndarray, exponent: int) -> dict[int, int]:
    bins = np.floor(values / math.ldexp(1.0, exponent)).astype(np.int64)
    keys, counts = np.unique(bins, return_counts=True)
    return dict(zip(keys.tolist(), counts.tolist(), strict=True))


def test_profile_numbers_match_numpy(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator
) -> None:
    df = frame(rng)
    con.register("df", df)
    prof = profile(con, "df", bins=20)
    assert prof.n_rows == len(df)
    for name in ("i", "f", "heavy"):
        col = prof.column(name)
        values = df[name].dropna().to_numpy(dtype=float)
        stats = col.numeric
        assert stats is not None
        assert col.count == len(df)
        assert col.missing == int(df[name].isna().sum())
        assert stats.n == len(values)
        assert stats.min == values.min()
        assert stats.max == values.max()
        assert stats.mean == pytest.approx(values.mean(), rel=1e-12)
        assert stats.std == pytest.approx(values.std(ddof=1), rel=1e-9)
        for q in QUANTILES:
            truth = lower_quantile(values, q)
            estimate = stats.quantile(q)
            assert estimate is not None
            assert abs(estimate - truth) <= ALPHA * abs(truth) + 1e-12, (name, q)
        hist = stats.histogram
        assert hist is not None
        assert len(hist.counts) <= 20
        assert hist.exponent == plan_bins(values.min(), values.max(), 20, name == "i")
        got = {hist.start + k: c for k, c in enumerate(hist.counts) if c}
        assert got == expected_histogram(values, hist.exponent)
        assert hist.edges[0] <= values.min() < hist.edges[1]
        assert hist.edges[-2] <= values.max() < hist.edges[-1]
    assert prof.column("f").missing_share == pytest.approx(df["f"].isna().mean())


def test_profile_categories_and_timestamps(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator
) -> None:
    df = frame(rng)
    con.register("df", df)
    prof = profile(con, "df", top_k=3)
    cats = prof.column("s").categorical
    assert cats is not None
    counts = df["s"].value_counts()
    assert cats.top == tuple((k, int(counts[k])) for k in counts.index[:3])
    assert cats.other == int(counts.iloc[3:].sum())
    assert (cats.n_distinct, cats.complete, cats.distinct_exact) == (4, False, True)
    flags = prof.column("flag").categorical
    assert flags is not None
    assert flags.frequencies == {"true": int(df.flag.sum()), "false": int((~df.flag).sum())}
    temporal = prof.column("ts").temporal
    assert temporal is not None
    assert temporal.min == df.ts.min().to_pydatetime()
    assert temporal.max == df.ts.max().to_pydatetime()
    epoch_us = df.ts.to_numpy().astype("datetime64[us]").astype(np.int64)
    assert temporal.epoch_min == epoch_us.min()
    hist = temporal.histogram
    assert hist is not None
    got = {hist.start + k: c for k, c in enumerate(hist.counts) if c}
    assert got == expected_histogram(epoch_us.astype(float), hist.exponent)


def test_profile_of_many_distinct_values_counts_the_heavy_hitters(
    con: duckdb.DuckDBPyConnection,
) -> None:
    n = 3 * EXACT_CATEGORY_LIMIT
    con.execute(
        f"CREATE TABLE t AS SELECT CASE WHEN range % 3 = 0 THEN 'hot' "
        f"WHEN range % 7 = 0 THEN 'warm' ELSE 'v' || range END AS s FROM range({n})"
    )
    cats = profile(con, "t", top_k=5).column("s").categorical
    assert cats is not None
    hot = n // 3
    warm = len([k for k in range(n) if k % 3 != 0 and k % 7 == 0])
    assert cats.top[:2] == (("hot", hot), ("warm", warm))
    assert cats.total == n
    assert cats.complete is False
    assert cats.distinct_exact is False
    assert abs(cats.n_distinct - (n - hot - warm + 2)) < 0.1 * n


def test_profile_nan_inf_empty_and_constant_columns(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES (1.5, NULL::VARCHAR, 0.0), "
        "('nan'::DOUBLE, NULL, 0.0), ('inf'::DOUBLE, NULL, -0.0), (NULL, NULL, 0.0)) v(x, s, z)"
    )
    prof = profile(con, "t")
    x = prof.column("x")
    assert x.numeric is not None
    assert (x.missing, x.numeric.n, x.numeric.n_inf) == (2, 1, 1)
    assert x.numeric.quantile(0.5) == 1.5
    assert prof.column("s").missing_share == 1.0
    z = prof.column("z").numeric
    assert z is not None
    assert (z.sketch.zero, z.min, z.max, z.std) == (4, 0.0, 0.0, 0.0)
    con.execute("CREATE TABLE empty (x DOUBLE, s VARCHAR, t TIMESTAMP)")
    empty = profile(con, "empty")
    assert empty.n_rows == 0
    empty_x = empty.column("x").numeric
    assert empty_x is not None
    assert empty_x.quantile(0.5) is None
    assert Profile.from_dict(json.loads(json.dumps(empty.to_dict()))) == empty


def test_profile_reads_parquet_and_stays_small(tmp_path: Path, rng: np.random.Generator) -> None:
    df = frame(rng, 20_000)
    wide = pd.concat([df.add_suffix(f"_{k}") for k in range(3)], axis=1)
    path = tmp_path / "data.parquet"
    wide.to_parquet(path)
    con = duckdb.connect()
    prof = profile(con, f"SELECT * FROM read_parquet('{path.as_posix()}')")
    text = json.dumps(prof.to_dict())
    assert len(prof.columns) == 21
    assert len(text) < 100_000
    again = Profile.from_dict(json.loads(text))
    assert again == prof
    heavy, before = again.column("heavy_1").numeric, prof.column("heavy_1").numeric
    assert heavy is not None
    assert before is not None
    assert heavy.quantiles == before.quantiles


def test_profile_rejects_bad_arguments(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    with pytest.raises(InvalidValueError, match="bins must be an integer >= 2, got 1"):
        profile(con, "t", bins=1)
    with pytest.raises(InvalidValueError, match="top_k must be an integer >= 1, got 'x'"):
        profile(con, "t", top_k="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=r"different \(bins, top_k, alpha\)"):
        profile(con, "t", bins=5).merge(profile(con, "t", bins=6))
    con.execute("CREATE TABLE u AS SELECT 1 AS b")
    with pytest.raises(InvalidValueError, match="profiles of different columns"):
        profile(con, "t").merge(profile(con, "u"))
    with pytest.raises(InvalidValueError, match="not a valid profile dict"):
        Profile.from_dict({"n_rows": 1})


# ---------------------------------------------------------------- merging


def split_profiles(
    con: duckdb.DuckDBPyConnection, df: pd.DataFrame, cut: int, bins: int = 12
) -> tuple[Profile, Profile]:
    con.register("whole", df)
    con.register("left", df.iloc[:cut])
    con.register("right", df.iloc[cut:])
    merged = profile(con, "left", bins=bins).merge(profile(con, "right", bins=bins))
    return merged, profile(con, "whole", bins=bins)


def assert_same(merged: Profile, whole: Profile) -> None:
    assert merged.n_rows == whole.n_rows
    for a, b in zip(merged.columns, whole.columns, strict=True):
        assert (a.name, a.count, a.missing) == (b.name, b.count, b.missing)
        if a.numeric is not None and b.numeric is not None:
            x, y = a.numeric, b.numeric
            assert (x.n, x.n_inf, x.min, x.max) == (y.n, y.n_inf, y.min, y.max)
            assert x.histogram == y.histogram, a.name
            assert x.sketch == y.sketch, a.name
            assert x.quantiles == y.quantiles
            if y.mean is not None:
                assert x.mean == pytest.approx(y.mean, rel=1e-9, abs=1e-9)
                assert x.m2 == pytest.approx(y.m2, rel=1e-9, abs=1e-9)
        assert a.categorical == b.categorical, a.name
        assert a.temporal == b.temporal, a.name


def test_merge_of_parts_equals_profile_of_whole(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator
) -> None:
    df = frame(rng, 3000)
    merged, whole = split_profiles(con, df.drop(columns=["id"]), 1234)
    assert_same(merged, whole)


def test_tiny_and_huge_values_keep_merges_exact(con: duckdb.DuckDBPyConnection) -> None:
    # a negative value whose quotient by the bin width underflows still belongs in bin -1
    tiny = pd.DataFrame({"x": [0.0, -4.300084772569816e-283, -1e-310, 5e-324, 3.0]})
    for cut in range(len(tiny) + 1):
        merged, whole = split_profiles(con, tiny, cut, bins=2)
        assert_same(merged, whole)
    whole_x = whole.column("x").numeric
    assert whole_x is not None
    hist = whole_x.histogram
    assert hist is not None
    assert (hist.start, hist.counts) == (-1, (2, 3))
    top = 1.7976931348623157e308
    huge = pd.DataFrame({"x": [top, top, -top]})
    con.register("huge", huge)
    stats = profile(con, "huge", bins=2).column("x").numeric
    assert stats is not None
    assert stats.quantile(0.99) == pytest.approx(top, rel=ALPHA)  # gamma**key alone overflows
    assert stats.quantile(0.01) == pytest.approx(-top, rel=ALPHA)
    assert stats.histogram is not None
    assert stats.histogram.counts == (1, 0, 0, 2)  # width 2**1023 cannot grow: 4 bins


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.none(),
            st.sampled_from([math.nan, math.inf, -math.inf]),
            st.floats(-1e150, 1e150),  # squares stay finite; tiny and subnormal values included
            st.floats(-1e6, 1e6),
            st.integers(-1000, 1000).map(float),
        ),
        min_size=1,
        max_size=60,
    ),
    ints=st.lists(st.integers(-(2**40), 2**40), min_size=60, max_size=60),
    words=st.lists(st.sampled_from(["a", "b", "c", "dd", "e"]), min_size=60, max_size=60),
    cut=st.integers(0, 60),
    bins=st.integers(2, 30),
)
def test_merge_property(
    values: list[float | None], ints: list[int], words: list[str], cut: int, bins: int
) -> None:
    n = len(values)
    df = pd.DataFrame(
        {
            "x": pd.Series(values, dtype="float64"),
            "i": pd.Series(ints[:n], dtype="int64"),
            "w": pd.Series(words[:n], dtype="str"),
        }
    )
    with duckdb.connect() as con:
        merged, whole = split_profiles(con, df, min(cut, n), bins)
    assert_same(merged, whole)
    finite = df["x"][np.isfinite(df["x"])].to_numpy()
    stats = whole.column("x").numeric
    assert stats is not None
    if len(finite):
        for q in QUANTILES:
            truth = lower_quantile(finite, q)
            got = stats.quantile(q)
            assert got is not None
            # values far below the largest magnitude share the lowest kept bucket
            folded = np.abs(finite).max() * (2 * GAMMA ** -(MAX_BUCKETS - 2))
            assert abs(got - truth) <= ALPHA * abs(truth) * (1 + 1e-9) + folded


# ---------------------------------------------------------------- differences


def test_profile_diff_reports_shifts_and_new_categories(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator
) -> None:
    base = frame(rng, 1000)
    moved = base.copy()
    moved["f"] = moved["f"] + 2.0  # ~0.67 standard deviations
    moved.loc[: len(moved) // 4, "i"] = None
    moved.loc[0, "s"] = "new"
    moved = moved.drop(columns=["flag"]).assign(extra=1)
    con.register("a", base)
    con.register("b", moved)
    changes = profile_diff(profile(con, "a"), profile(con, "b"))
    by = {(c.kind, c.column): c for c in changes}
    assert ("column_removed", "flag") in by
    assert ("column_added", "extra") in by
    assert by[("mean_shifted", "f")].after == pytest.approx(by[("mean_shifted", "f")].before + 2)
    assert "standard deviations" in by[("mean_shifted", "f")].message
    assert ("mean_shifted", "heavy") not in by
    assert by[("missing_share_changed", "i")].after == pytest.approx(0.251)
    assert ("missing_share_changed", "i") in by
    assert ("type_changed", "i") in by  # pandas turned the ints with nulls into floats
    assert by[("categories_added", "s")].after == ["new"]
    assert profile_diff(profile(con, "a"), profile(con, "a")) == ()


# ---------------------------------------------------------------- schema from the profile's passes


def _tables(con: duckdb.DuckDBPyConnection, rng: np.random.Generator) -> dict[str, str]:
    data = frame(rng)
    data["mid"] = rng.choice([f"v{k}" for k in range(90)], len(data))  # under the 108 cut
    data["many"] = rng.choice([f"w{k}" for k in range(400)], len(data))  # over it
    data["few_in_many_rows"] = rng.choice(["p", "q"], len(data))
    data["inf"] = np.where(rng.random(len(data)) < 0.1, np.inf, rng.normal(size=len(data)))
    data["none"] = pd.Series([None] * len(data), dtype="object")
    data["day"] = pd.Timestamp("2020-01-01").date()
    con.register("frame_view", data)
    con.execute("CREATE TABLE f AS SELECT * FROM frame_view")
    con.execute(
        "CREATE TABLE t AS SELECT 'x'::ENUM('x', 'y') AS e, 1.5::DECIMAL(6, 2) AS dec, "
        "TIMESTAMPTZ '2020-01-01 05:00:00+02' AS tz, [1, 2] AS l, 7::UTINYINT AS u, "
        "NULL::VARCHAR AS nothing, 'NaN'::DOUBLE AS nan"  # pandas NaN would arrive as NULL
    )
    con.execute("CREATE TABLE empty AS SELECT * FROM f LIMIT 0")
    return {"f": "SELECT * FROM f", "t": "SELECT * FROM t", "empty": "SELECT * FROM empty"}


@pytest.mark.parametrize("max_categories", [50, 3, 0])
def test_profile_and_schema_equal_profile_and_infer_schema(
    con: duckdb.DuckDBPyConnection, rng: np.random.Generator, max_categories: int
) -> None:
    from weekend.data._profile import profile_and_schema

    keys: dict[str, list[Any]] = {"f": ["id", ("s", "i")], "t": ["e"], "empty": ["id"]}
    for name, sql in _tables(con, rng).items():
        both = profile_and_schema(con, sql, keys=keys[name], max_categories=max_categories)
        alone = infer_schema(con, sql, keys=keys[name], max_categories=max_categories)
        assert both[1] == alone, name
        assert both[0].to_dict() == profile(con, sql).to_dict(), name
    schema = profile_and_schema(con, "SELECT * FROM f", keys=["s"])[1]
    assert schema.column("mid").categories is None  # 90 values: more than 50
    assert schema.column("s").categories == ("a", "b", "c", "d")
    assert not schema.keys[0].unique
