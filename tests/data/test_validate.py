"""Validation against an inferred schema and declared expectations, on frames and relations."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from weekend.core.errors import DataValidationError, InvalidValueError
from weekend.data._expectations import Expectation
from weekend.data._schema import Schema, infer_schema
from weekend.data._validate import ValidationReport, Violation, validate


def flights(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "flight": np.arange(n),
            "carrier": rng.choice(["AA", "B6", "DL", "UA"], n),
            "dep_delay": rng.normal(5.0, 20.0, n).clip(-30, 300),
            "distance": rng.integers(100, 3000, n),
            "time_hour": pd.Timestamp("2013-01-01") + pd.to_timedelta(np.arange(n), "h"),
            "tailnum": [f"N{k:04d}" for k in rng.integers(0, 9999, n)],
        }
    )


@pytest.fixture
def reference(rng: np.random.Generator) -> tuple[pd.DataFrame, Schema]:
    df = flights(rng)
    with duckdb.connect() as con:
        con.register("ref", df)
        schema = infer_schema(con, "ref", keys=["flight"])
    return df, schema


def only(report: ValidationReport, rule: str, column: str | None = None) -> Violation:
    found = report.by_rule(rule, column)
    assert len(found) == 1, report.summary()
    return found[0]


def test_clean_data_passes(reference: tuple[pd.DataFrame, Schema]) -> None:
    df, schema = reference
    report = validate(df, schema)
    assert report.ok
    assert report.violations == ()
    assert report.n_rows == len(df)
    report.raise_for_errors()
    assert report.summary().startswith("OK: 400 rows, 0 errors, 0 warnings")


def test_schema_violations_are_named_counted_and_shown(
    reference: tuple[pd.DataFrame, Schema],
) -> None:
    df, schema = reference
    bad = df.copy()
    bad["dep_delay"] = bad["dep_delay"].astype(object)
    bad.loc[17, "dep_delay"] = "abc"
    bad.loc[[3, 9], "dep_delay"] = [1e4, -1e4]
    bad.loc[[5, 6, 8], "carrier"] = ["ZZ", "ZZ", "QQ"]
    bad.loc[[1, 2], "flight"] = 0
    bad = bad.drop(columns=["distance"]).assign(note="x")
    report = validate(bad, schema)
    assert not report.ok

    dtype = only(report, "dtype", "dep_delay")
    assert (dtype.count, dtype.examples, dtype.rows) == (1, ("abc",), (17,))
    assert dtype.severity == "error"
    assert "column 'dep_delay' must be float, got object values of mixed types" in dtype.message
    assert dtype.cells == ((17, "abc"),)
    assert "1 row, e.g. 'abc' (row 17)" in dtype.message  # the offending cell: value and row

    rng_ = only(report, "out_of_range", "dep_delay")
    assert (rng_.count, rng_.examples, rng_.rows, rng_.severity) == (
        2,
        (10000.0, -10000.0),
        (3, 9),
        "warning",
    )
    cats = only(report, "new_category", "carrier")
    assert (cats.count, cats.examples, cats.rows) == (3, ("ZZ", "QQ"), (5, 6, 8))
    missing = only(report, "missing_column", "distance")
    assert (missing.severity, missing.count) == ("error", len(bad))
    assert "column 'distance' is missing (the schema has it as int)" in missing.message
    extra = only(report, "extra_column", "note")
    assert extra.severity == "warning"
    dups = only(report, "unique", "flight")
    assert (dups.count, dups.examples, dups.rows) == (3, (0,), (0, 1, 2))
    assert len(report.errors) == 4
    assert len(report.warnings) == 2

    text = report.summary()
    assert text.splitlines()[0] == "FAILED: 400 rows, 4 errors, 2 warnings"
    assert "new_category" in text
    assert "'ZZ'" in text
    with pytest.raises(DataValidationError, match=r"4 validation errors in 400 rows: .*distance"):
        report.raise_for_errors()
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["ok"] is False
    assert {v["rule"] for v in as_json["violations"]} == {
        "dtype",
        "out_of_range",
        "new_category",
        "missing_column",
        "extra_column",
        "unique",
    }


def test_severities_change_what_fails(reference: tuple[pd.DataFrame, Schema]) -> None:
    df, schema = reference
    wide = df.assign(dep_delay=df["dep_delay"] * 10, more=1)
    assert validate(wide, schema).ok  # out of range and extra columns only warn
    strict = validate(wide, schema, severities={"out_of_range": "error", "extra_column": "error"})
    assert {v.rule for v in strict.errors} == {"out_of_range", "extra_column"}
    with pytest.raises(InvalidValueError, match=r"severities\['dtype'\] must be error or warning"):
        validate(df, schema, severities={"dtype": "fatal"})  # type: ignore[dict-item]


def test_nulls_and_int_columns_that_pandas_made_float(
    reference: tuple[pd.DataFrame, Schema],
) -> None:
    df, schema = reference
    holes = df.assign(distance=df["distance"].astype(float))
    holes.loc[[4, 40], "distance"] = np.nan
    report = validate(holes, schema)
    assert report.by_rule("dtype") == []  # integral floats are fine in an int column
    nulls = only(report, "not_null", "distance")
    assert (nulls.count, nulls.rows, nulls.examples) == (2, (4, 40), ())
    holes.loc[7, "distance"] = 2.5
    assert only(validate(holes, schema), "dtype", "distance").examples == (2.5,)
    as_text = df.assign(distance=df["distance"].astype(str))
    wrong = only(validate(as_text, schema), "dtype", "distance")
    assert wrong.count == len(df)
    assert "must be int, got string" in wrong.message


def test_each_expectation(rng: np.random.Generator) -> None:
    df = flights(rng, 50)
    df.loc[3, "carrier"] = None
    df.loc[[10, 11], "dep_delay"] = [500.0, -99.0]
    df.loc[[12], "tailnum"] = "bad tail"
    df.loc[[20, 21], "flight"] = 19
    df.loc[[19, 20, 21], "carrier"] = ["AA", "AA", "DL"]
    now = datetime(2013, 1, 5, tzinfo=UTC)
    expectations = [
        Expectation.not_null("carrier"),
        Expectation.in_range("dep_delay", -60, 400),
        Expectation.allowed_values("carrier", ["AA", "B6", "DL"]),
        Expectation.unique(["flight", "carrier"]),
        Expectation.row_count(min=100, severity="warning"),
        Expectation.freshness("time_hour", timedelta(days=3), now=now),
        Expectation.dtype("distance", "float"),
        Expectation.dtype("carrier", "int"),
        Expectation.regex("tailnum", r"N\d{4}"),
        Expectation.in_range("time_hour", date(2013, 1, 1), datetime(2013, 1, 2, 12)),
    ]
    report = validate(df, None, expectations)
    assert only(report, "not_null", "carrier").rows == (3,)
    assert only(report, "in_range", "dep_delay").examples == (500.0, -99.0)
    allowed = only(report, "allowed_values", "carrier")
    assert allowed.count == int((df["carrier"] == "UA").sum())
    assert set(allowed.examples) == {"UA"}
    unique = only(report, "unique", "flight,carrier")
    assert (unique.count, unique.examples, unique.rows) == (2, ((19, "AA"),), (19, 20))
    count = only(report, "row_count")
    assert (count.severity, count.count) == ("warning", 50)
    assert report.by_rule("freshness") == []  # newest 2013-01-03 01:00 is within 3 days of now
    assert report.by_rule("dtype", "distance") == []  # ints are fine as floats
    carrier = only(report, "dtype", "carrier")
    assert (carrier.count, carrier.rows) == (49, (0, 1, 2, 4, 5))  # row 3 is null
    assert "column 'carrier' must be int, got string" in carrier.message
    assert only(report, "regex", "tailnum").examples == ("bad tail",)
    late = only(report, "in_range", "time_hour")
    assert late.count == 50 - 37
    assert late.rows[0] == 37
    stale = validate(df, None, [Expectation.freshness("time_hour", timedelta(hours=1), now=now)])
    fresh = only(stale, "freshness", "time_hour")
    assert fresh.examples == (pd.Timestamp("2013-01-03 01:00"),)
    assert fresh.count == 50
    assert "is stale: newest value 2013-01-03 01:00:00" in fresh.message


def test_unique_over_several_columns_reports_the_keys() -> None:
    df = pd.DataFrame({"a": [1, 1, 2, 2, 3], "b": ["x", "x", "y", "z", "x"]})
    dups = only(validate(df, None, [Expectation.unique(["a", "b"])]), "unique", "a,b")
    assert (dups.count, dups.examples, dups.rows) == (2, ((1, "x"),), (0, 1))


def test_timezones_are_compared_in_utc() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-01-01 23:30", "2024-01-02 00:30"])).dt.tz_localize(
        "America/New_York"
    )
    df = pd.DataFrame({"t": stamps})
    report = validate(df, None, [Expectation.in_range("t", max=datetime(2024, 1, 2, 5))])
    # 23:30 in New York is 04:30 UTC (in range); 00:30 is 05:30 UTC (out of range)
    assert only(report, "in_range", "t").rows == (1,)


def test_relations_and_arrow_tables_are_validated_in_chunks(
    reference: tuple[pd.DataFrame, Schema], tmp_path: Path
) -> None:
    df, schema = reference
    bad = df.copy()
    bad.loc[[5, 150, 399], "carrier"] = "ZZ"
    bad.loc[[1, 250], "flight"] = 0
    bad.loc[[7, 390], "dep_delay"] = [np.nan, 1e6]
    path = tmp_path / "bad.parquet"
    bad.to_parquet(path)
    expectations = [Expectation.regex("tailnum", "N[0-9]{4}"), Expectation.row_count(max=10)]
    whole = validate(bad, schema, expectations)
    with duckdb.connect() as con:
        rel = con.sql(f"SELECT * FROM read_parquet('{path.as_posix()}')")
        chunked = validate(rel, schema, expectations, chunk_rows=64)
    from_arrow = validate(pa.Table.from_pandas(bad), schema, expectations, chunk_rows=100)
    for report in (chunked, from_arrow):
        assert report.n_rows == len(bad)
        assert only(report, "new_category", "carrier").rows == (5, 150, 399)
        assert only(report, "not_null", "dep_delay").rows == (7,)
        assert only(report, "out_of_range", "dep_delay").examples == (1e6,)
        assert only(report, "unique", "flight").count == 3
        assert only(report, "unique", "flight").examples == (0,)
        assert only(report, "row_count").count == 400
    summary = [(v.rule, v.column, v.count) for v in whole.violations]
    assert [(v.rule, v.column, v.count) for v in chunked.violations] == summary


def test_dates_from_a_relation_compare_with_date_bounds() -> None:
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE t AS SELECT DATE '2020-01-01' + range::INTEGER AS d FROM range(10)"
        )
        schema = infer_schema(con, "t")
        report = validate(con.sql("SELECT d + 3 AS d FROM t"), schema)
    out = only(report, "out_of_range", "d")
    assert out.count == 3
    assert out.rows == (7, 8, 9)


def test_expectations_reject_bad_arguments_with_clear_messages() -> None:
    with pytest.raises(InvalidValueError, match="in_range: min 5 is greater than max 1"):
        Expectation.in_range("x", 5, 1)
    with pytest.raises(InvalidValueError, match="expectation in_range: give min, max or both"):
        Expectation.in_range("x")
    with pytest.raises(InvalidValueError, match="pattern '\\(' is not a valid regex"):
        Expectation.regex("x", "(")
    with pytest.raises(InvalidValueError, match="max_age must be a positive timedelta, got -1"):
        Expectation.freshness("t", -1)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="type must be one of int, float"):
        Expectation.dtype("x", "number")
    with pytest.raises(InvalidValueError, match="column must be a non-empty string, got ''"):
        Expectation.not_null("")
    with pytest.raises(InvalidValueError, match="values must be a list, got the string 'ab'"):
        Expectation.allowed_values("x", "ab")
    with pytest.raises(InvalidValueError, match="rule must be one of not_null"):
        Expectation("no_such_rule")
    with pytest.raises(InvalidValueError, match="unknown fields \\['colum'\\]"):
        Expectation.from_dict({"rule": "not_null", "colum": "x"})
    with pytest.raises(InvalidValueError, match="data must be a pandas DataFrame"):
        validate([1, 2, 3])
    with pytest.raises(InvalidValueError, match="chunk_rows must be an integer >= 1, got 0"):
        validate(pd.DataFrame({"a": [1]}), chunk_rows=0)
    with pytest.raises(InvalidValueError, match="column names must be unique; repeated: \\['a'\\]"):
        validate(pd.DataFrame([[1, 2]], columns=["a", "a"]))


def test_expectations_round_trip_through_json() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    items = [
        Expectation.not_null("a", severity="warning"),
        Expectation.in_range("a", 0, 10.5),
        Expectation.in_range("t", date(2020, 1, 1), datetime(2021, 1, 1, 6)),
        Expectation.allowed_values("c", ["x", "y"]),
        Expectation.unique(["a", "b"]),
        Expectation.row_count(1, 100),
        Expectation.freshness("t", timedelta(hours=6), now=now),
        Expectation.dtype("a", "int"),
        Expectation.regex("c", "[a-z]+"),
    ]
    for item in items:
        assert Expectation.from_dict(json.loads(json.dumps(item.to_dict()))) == item


def test_in_range_on_values_of_another_type_is_a_dtype_violation() -> None:
    df = pd.DataFrame({"n": [1.0, 2.0], "s": ["a", "b"], "m": [1, "x"]})
    report = validate(
        df,
        None,
        [
            Expectation.in_range("n", min=date(2020, 1, 1)),
            Expectation.in_range("s", 0),
            Expectation.in_range("m", max=0),
        ],
    )
    assert only(report, "dtype", "n").message.startswith("column 'n' must be timestamp, got float")
    assert only(report, "dtype", "s").count == 2
    assert only(report, "dtype", "m").examples == ("x",)
    assert only(report, "in_range", "m").examples == (1,)
    assert len(report.violations) == 4


def test_missing_column_named_by_an_expectation_is_reported_once() -> None:
    df = pd.DataFrame({"a": [1, 2]})
    report = validate(df, None, [Expectation.not_null("b"), Expectation.in_range("b", 0, 1)])
    missing = only(report, "missing_column", "b")
    assert "named by not_null(b)" in missing.message


def test_empty_data_still_reports_missing_and_extra_columns(
    reference: tuple[pd.DataFrame, Schema],
) -> None:
    df, schema = reference
    empty = df.iloc[:0].drop(columns=["carrier"]).assign(more=pd.Series(dtype="int64"))
    report = validate(empty, schema, [Expectation.freshness("time_hour", timedelta(days=1))])
    assert report.n_rows == 0
    assert {(v.rule, v.column) for v in report.violations} == {
        ("missing_column", "carrier"),
        ("extra_column", "more"),
        ("freshness", "time_hour"),
    }
    assert "has no date or time values" in only(report, "freshness").message


def test_pandera_is_imported_only_when_validating() -> None:
    code = (
        "import sys, weekend.data._validate, weekend.data._profile, weekend.data._schema; "
        "import weekend.data._expectations, weekend.data._summaries; "
        "print(*(name in sys.modules for name in ('pandera', 'pandas', 'duckdb')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]
