"""``ws.datasets``: content-addressed versions, schema and profile, validation, safety.

Real files, real DuckDB, real PostgreSQL (a fresh database per test from ``postgres_url``),
real child processes for the concurrency test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

import weekend as wk
import weekend.data._ingest as ingest
from weekend.core.errors import (
    DataValidationError,
    IntegrityError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    UserInputError,
)
from weekend.data._expectations import Expectation
from weekend.workspace import Workspace

CARRIERS = ["AA", "B6", "DL", "UA"]


def flights(rng: np.random.Generator, n: int = 240, first: int = 0) -> pd.DataFrame:
    """Small flights-like data: a unique key, a category, a float with gaps, an int, a time."""
    frame = pd.DataFrame(
        {
            "flight": np.arange(first, first + n, dtype="int64"),
            "carrier": rng.choice(CARRIERS, n),
            "dep_delay": rng.normal(5.0, 20.0, n).round(1),
            "distance": rng.integers(100, 3000, n),
            "time_hour": pd.Timestamp("2013-01-01") + pd.to_timedelta(np.arange(n), "h"),
        }
    )
    frame.loc[rng.choice(n, 12, replace=False), "dep_delay"] = np.nan
    return frame


@pytest.fixture
def df(rng: np.random.Generator) -> pd.DataFrame:
    return flights(rng)


def blobs(ws: Workspace) -> list[Path]:
    root = Path(ws.settings.artifact_root) / "blobs"
    return sorted(p for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------- versions and identity


def test_identical_data_is_the_same_version(ws: Workspace, df: pd.DataFrame) -> None:
    first = ws.datasets.register("flights", df, keys=["flight"])
    assert (first.ref, first.version, first.num_rows, first.num_columns) == ("flights/1", 1, 240, 5)
    assert len(first.content_hash) == 64
    again = ws.datasets.register("flights", df.copy())
    shuffled_index = ws.datasets.register("flights", df.set_axis(np.arange(240) * 7, axis=0))
    arrow = ws.datasets.register("flights", pa.Table.from_pandas(df, preserve_index=False))
    assert {again.id, shuffled_index.id, arrow.id} == {first.id}
    assert [v.version for v in ws.datasets.versions("flights")] == [1]
    assert len(blobs(ws)) == 1
    # the hash is the stored file's sha256
    assert ws.artifacts.local_path(first.content_hash).stat().st_size == first.size


def test_changed_data_gets_the_next_version(ws: Workspace, df: pd.DataFrame) -> None:
    v1 = ws.datasets.register("flights", df)
    changed = df.copy()
    changed.loc[0, "distance"] = 4999
    v2 = ws.datasets.register("flights", changed)
    v3 = ws.datasets.register("flights", df.head(100))
    assert [v1.version, v2.version, v3.version] == [1, 2, 3]
    assert len({v1.content_hash, v2.content_hash, v3.content_hash}) == 3
    assert ws.datasets.get("flights").ref == "flights/3"
    assert ws.datasets.get("flights/2").content_hash == v2.content_hash
    assert ws.datasets.get("flights/2").to_pandas()["distance"].iloc[0] == 4999
    assert ws.datasets.register("flights", df).ref == "flights/1"  # old data: old version
    assert [v.version for v in ws.datasets.versions("flights")] == [1, 2, 3]
    [listed] = ws.datasets.list()
    assert (listed["name"], listed["versions"], listed["latest"]) == ("flights", 3, 3)
    # the same data under another name is that dataset's version 1 (the blob is shared)
    other = ws.datasets.register("flights-copy", df)
    assert (other.ref, other.content_hash) == ("flights-copy/1", v1.content_hash)
    assert [d["name"] for d in ws.datasets.list()] == ["flights", "flights-copy"]
    assert len(blobs(ws)) == 3


def test_files_and_folders(ws: Workspace, df: pd.DataFrame, tmp_path: Path) -> None:
    parquet, csv = tmp_path / "f.parquet", tmp_path / "f.csv"
    df.to_parquet(parquet)
    df.to_csv(csv, index=False)
    from_parquet = ws.datasets.register("pq", parquet)
    copy = tmp_path / "elsewhere" / "copy.parquet"
    copy.parent.mkdir()
    copy.write_bytes(parquet.read_bytes())
    assert ws.datasets.register("pq", parquet).id == from_parquet.id
    assert ws.datasets.register("pq", copy).id == from_parquet.id  # same bytes, other path
    assert from_parquet.source == f"path: {parquet.resolve()}"
    pd.testing.assert_frame_equal(from_parquet.to_pandas(), df)

    from_csv = ws.datasets.register("csv", csv)
    assert ws.datasets.register("csv", csv).id == from_csv.id
    loaded = from_csv.to_pandas()
    assert loaded["carrier"].tolist() == df["carrier"].tolist()
    assert from_csv.schema.column("time_hour").logical_type == "timestamp"

    parts = tmp_path / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, 240, 80)):
        df.iloc[start : start + 80].to_parquet(parts / f"part-{i}.parquet", index=False)
    folder = ws.datasets.register("folder", parts)
    assert ws.datasets.register("folder", parts).id == folder.id
    pd.testing.assert_frame_equal(folder.to_pandas(), df)
    (parts / "part-3.parquet").write_bytes((parts / "part-0.parquet").read_bytes())
    assert ws.datasets.register("folder", parts).version == 2  # a part more: new data

    csv_parts = tmp_path / "csv_parts"
    csv_parts.mkdir()
    for i, start in enumerate(range(0, 240, 120)):
        df.iloc[start : start + 120].to_csv(csv_parts / f"part-{i}.csv", index=False)
    assert ws.datasets.register("csv-folder", csv_parts).num_rows == 240


def test_the_bytes_do_not_depend_on_batch_sizes(
    ws: Workspace, df: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = ws.datasets.register("flights", df)
    monkeypatch.setattr(ingest, "BATCH_ROWS", 7)  # many small source batches
    assert ws.datasets.register("flights", df).id == whole.id
    monkeypatch.setattr(ingest, "ROW_GROUP", 50)  # smaller row groups are other bytes
    regrouped = ws.datasets.register("flights", df)
    assert regrouped.version == 2
    pd.testing.assert_frame_equal(regrouped.to_pandas(), whole.to_pandas())


def test_duckdb_query(ws: Workspace, df: pd.DataFrame, tmp_path: Path) -> None:
    df.to_parquet(tmp_path / "f.parquet")
    sql = f"SELECT * FROM read_parquet('{tmp_path / 'f.parquet'}') WHERE carrier = 'AA'"
    version = ws.datasets.register("aa", wk.Query(sql))
    expected = df[df["carrier"] == "AA"].reset_index(drop=True)
    pd.testing.assert_frame_equal(version.to_pandas(), expected)
    assert version.source == f"query[duckdb]: {sql}"
    assert ws.datasets.register("aa", wk.Query(sql)).id == version.id
    no_rows = wk.Query("SELECT 1::INTEGER AS a WHERE false")
    with pytest.raises(InvalidValueError, match=r"has no rows; pass allow_empty=True"):
        ws.datasets.register("empty", no_rows)
    empty = ws.datasets.register("empty", no_rows, allow_empty=True)
    assert (empty.num_rows, empty.num_columns) == (0, 1)


@pytest.mark.postgres
def test_postgresql_query_by_url(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE TABLE flights (flight integer PRIMARY KEY, carrier text NOT NULL, "
                    "fare numeric(8, 2), dep_delay double precision, note text, "
                    "time_hour timestamptz NOT NULL)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO flights SELECT i, (ARRAY['AA','B6','DL'])[1 + i % 3], "
                    "i * 12.25, CASE WHEN i % 5 = 0 THEN NULL ELSE i * 1.5 END, "
                    "CASE WHEN i >= 9 THEN 'late' END, "
                    "timestamptz '2013-01-01 00:00+00' + i * interval '1 hour' "
                    "FROM generate_series(0, 11) AS i"
                )
            )
    finally:
        engine.dispose()
    query = wk.Query("SELECT * FROM flights ORDER BY flight", url=postgres_url)
    version = ws.datasets.register("pg", query)
    loaded = version.to_pandas()
    assert loaded["flight"].tolist() == list(range(12))
    assert loaded["carrier"].tolist()[:4] == ["AA", "B6", "DL", "AA"]
    assert float(loaded["fare"].iloc[11]) == 134.75
    assert loaded["dep_delay"].isna().sum() == 3
    assert loaded["note"].notna().sum() == 3
    assert str(loaded["time_hour"].iloc[1]) == "2013-01-01 01:00:00+00:00"
    assert version.schema.column("fare").physical_type == "DECIMAL(8,2)"
    assert version.schema.column("time_hour").logical_type == "timestamp"
    assert version.source is not None
    assert version.source.startswith("query[postgresql+psycopg://")
    assert ws.datasets.register("pg", query).id == version.id
    # streamed in batches of 4 rows: 'note' is all NULL in the first ones and the decimals
    # vary in size, and still every batch has the same types, so the bytes are the same
    monkeypatch.setattr(ingest, "BATCH_ROWS", 4)
    assert ws.datasets.register("pg", query).id == version.id
    empty = ws.datasets.register(
        "pg-empty",
        wk.Query("SELECT * FROM flights WHERE flight < 0", url=postgres_url),
        allow_empty=True,
    )
    assert (empty.num_rows, empty.num_columns) == (0, 6)


def test_query_source_hides_the_password() -> None:
    query = wk.Query("SELECT 1", url="postgresql+psycopg://me:s3cret@db.example/x")
    assert "s3cret" not in query.describe()
    assert query.describe() == "query[postgresql+psycopg://me:***@db.example/x]: SELECT 1"


# ---------------------------------------------------------------- references and names


def test_unknown_names_and_versions(ws: Workspace, df: pd.DataFrame) -> None:
    with pytest.raises(NotFoundError, match="dataset 'nope' does not exist"):
        ws.datasets.get("nope")
    with pytest.raises(NotFoundError, match="dataset 'nope' does not exist"):
        ws.datasets.versions("nope")
    ws.datasets.register("flights", df)
    with pytest.raises(NotFoundError, match="dataset version 'flights/9' does not exist"):
        ws.datasets.get("flights/9")
    with pytest.raises(NotFoundError, match="dataset version 'flights/2' does not exist"):
        ws.datasets.load("flights/2")
    with pytest.raises(NotFoundError, match="'nope' does not exist"):
        ws.datasets.register("x", df, validate_against="nope")


@pytest.mark.parametrize(
    ("ref", "error", "match"),
    [
        ("a/b", InvalidValueError, r"reference 'a/b': the version after '/' must be a positive"),
        ("x/0", InvalidValueError, r"reference 'x/0': the version after '/' must be a positive"),
        ("x/-1", InvalidValueError, r"'x/-1': the version after '/' must be a positive integer"),
        ("x/1/2", InvalidValueError, r"'x/1/2' has more than one '/'; expected 'name' or 'name/3'"),
        ("../x", InvalidNameError, r"reference '../x': dataset name '..' is not allowed"),
        ("/etc/passwd", InvalidNameError, r"reference '/etc/passwd': dataset name must have 1"),
        ("", InvalidNameError, r"dataset name must have 1 to 128 characters, got 0"),
    ],
)
def test_bad_references_are_refused(
    ws: Workspace, ref: str, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ws.datasets.get(ref)


def test_a_reference_must_be_text(ws: Workspace) -> None:
    with pytest.raises(
        InvalidValueError, match=r"dataset reference must be a string like .*, got int"
    ):
        ws.datasets.get(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["../evil", "..", "a/b", "/abs", "x y", ".hidden", "a\\b", ""])
def test_path_traversal_names_are_refused(ws: Workspace, df: pd.DataFrame, name: str) -> None:
    with pytest.raises(InvalidNameError, match="dataset name"):
        ws.datasets.register(name, df)
    assert ws.datasets.list() == []
    assert blobs(ws) == []


def test_bad_sources_and_arguments(ws: Workspace, df: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"data: expected a CSV or Parquet file.*got int"):
        ws.datasets.register("x", 42)
    with pytest.raises(InvalidValueError, match=r"data: '.*nowhere.csv' does not exist"):
        ws.datasets.register("x", tmp_path / "nowhere.csv")
    (tmp_path / "f.json").write_text("{}")
    with pytest.raises(InvalidValueError, match=r"expected a CSV or .* got 'f.json' \(JSON"):
        ws.datasets.register("x", tmp_path / "f.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidValueError, match=r"holds no \.parquet or \.csv files"):
        ws.datasets.register("x", tmp_path / "empty")
    with pytest.raises(UserInputError, match=r"query\[duckdb\].* could not be read: Table with"):
        ws.datasets.register("x", wk.Query("SELECT * FROM no_such_table"))
    with pytest.raises(InvalidValueError, match="run must be a Run or a run id, got int"):
        ws.datasets.register("x", df, run=7)
    # a key column that is not there: refused after reading, and still nothing is stored
    with pytest.raises(InvalidValueError, match="keys: column 'nope' is not in the data"):
        ws.datasets.register("x", df, keys=["nope"])
    assert ws.datasets.list() == []
    assert blobs(ws) == []


# ---------------------------------------------------------------- schema, profile, reading


def test_schema_is_inferred_and_stored(ws: Workspace, df: pd.DataFrame, project: Path) -> None:
    df = df.assign(tail=np.where(np.arange(240) < 200, "N1", "N2"))
    version = ws.datasets.register("flights", df, keys=["flight", ("carrier", "tail")])
    with wk.open(project) as other:  # read back from the catalog, not from memory
        schema = other.datasets.get("flights/1").schema
    assert schema == version.schema
    assert schema.names == ("flight", "carrier", "dep_delay", "distance", "time_hour", "tail")
    types = {c.name: (c.logical_type, c.nullable) for c in schema.columns}
    assert types == {
        "flight": ("int", False),
        "carrier": ("category", False),
        "dep_delay": ("float", True),
        "distance": ("int", False),
        "time_hour": ("timestamp", False),
        "tail": ("category", False),
    }
    assert schema.column("carrier").categories == tuple(CARRIERS)
    distance = schema.column("distance")
    assert (distance.min, distance.max) == (df["distance"].min(), df["distance"].max())
    assert schema.column("dep_delay").max == df["dep_delay"].max()
    assert schema.column("time_hour").max == datetime(2013, 1, 10, 23)
    flight_key, pair_key = schema.keys
    assert (flight_key.columns, flight_key.unique) == (("flight",), True)
    duplicated = int(df.duplicated(["carrier", "tail"], keep=False).sum())
    assert (pair_key.columns, pair_key.unique, pair_key.duplicate_rows) == (
        ("carrier", "tail"),
        False,
        duplicated,
    )


def test_profile_is_stored_and_matches_pandas(
    ws: Workspace, df: pd.DataFrame, project: Path
) -> None:
    ws.datasets.register("flights", df)
    with wk.open(project) as other:
        prof = other.datasets.profile("flights")
    assert prof.n_rows == 240
    delay = prof.column("dep_delay")
    assert (delay.count, delay.missing) == (240, 12)
    assert delay.missing_share == pytest.approx(df["dep_delay"].isna().mean())
    assert delay.numeric is not None
    assert delay.numeric.mean == pytest.approx(df["dep_delay"].mean(), rel=1e-12)
    assert delay.numeric.std == pytest.approx(df["dep_delay"].std(), rel=1e-9)
    median = delay.numeric.quantile(0.5)
    assert median is not None
    assert df["dep_delay"].quantile(0.45) <= median <= df["dep_delay"].quantile(0.55)
    histogram = prof.to_dict()["columns"][2]["numeric"]["histogram"]
    assert sum(histogram["counts"]) == 228
    carrier = prof.column("carrier").categorical
    assert carrier is not None
    assert carrier.frequencies == df["carrier"].value_counts().to_dict()
    assert prof.column("time_hour").temporal is not None
    assert prof.column("distance").missing_share == 0.0
    # a profile is plain, compact JSON and merges (what monitoring windows will do)
    text = json.dumps(prof.to_dict())
    assert len(text) < 64_000
    halves = [
        ws.datasets.register(f"half{i}", part).profile
        for i, part in enumerate([df[:120], df[120:]])
    ]
    merged = halves[0].merge(halves[1])
    assert merged.n_rows == 240
    merged_delay = merged.column("dep_delay").numeric
    assert merged_delay is not None
    assert merged_delay.mean == pytest.approx(delay.numeric.mean, rel=1e-12)
    assert merged.column("carrier").categorical == carrier


def test_load_columns_and_sql(ws: Workspace, df: pd.DataFrame) -> None:
    version = ws.datasets.register("flights", df)
    pd.testing.assert_frame_equal(ws.datasets.load("flights"), df)
    pd.testing.assert_frame_equal(
        ws.datasets.load("flights/1", columns=["carrier", "distance"]), df[["carrier", "distance"]]
    )
    table = version.to_arrow(["flight"])
    assert table.column_names == ["flight"]
    assert table.num_rows == 240
    with duckdb.connect() as con:
        [(count, total)] = con.sql(
            f"SELECT count(*), sum(distance) FROM {version.sql()} WHERE carrier = 'DL'"
        ).fetchall()
    expected = df[df["carrier"] == "DL"]
    assert (count, total) == (len(expected), expected["distance"].sum())
    as_dict = version.to_dict()
    assert as_dict["ref"] == "flights/1"
    assert as_dict["schema"]["columns"][1]["categories"] == CARRIERS
    json.dumps(as_dict)  # plain JSON


def test_diff_between_versions(ws: Workspace, df: pd.DataFrame) -> None:
    ws.datasets.register("flights", df)
    newer = df.drop(columns="distance").copy()
    newer.loc[:9, "carrier"] = "WN"
    newer["dep_delay"] = newer["dep_delay"] + 40.0
    ws.datasets.register("flights", newer)
    result = ws.datasets.diff("flights/1", "flights/2")
    assert (result.a, result.b) == ("flights/1", "flights/2")
    schema = {(c.kind, c.column) for c in result.schema_changes}
    assert {("column_removed", "distance"), ("categories_added", "carrier")} <= schema
    assert ("range_changed", "dep_delay") in schema
    profile = {(c.kind, c.column) for c in result.profile_changes}
    assert {("mean_shifted", "dep_delay"), ("categories_added", "carrier")} <= profile
    assert ws.datasets.diff("flights/1", "flights/1").schema_changes == ()
    assert json.loads(json.dumps(result.to_dict()))["b"] == "flights/2"


# ---------------------------------------------------------------- validation


@pytest.fixture
def reference(ws: Workspace, df: pd.DataFrame) -> str:
    return ws.datasets.register("flights", df, keys=["flight"]).ref


def broken(df: pd.DataFrame) -> pd.DataFrame:
    """Every schema rule broken once, at known rows."""
    bad = df.drop(columns="time_hour").assign(gate="A1")
    bad["distance"] = bad["distance"].astype(object)
    bad.loc[[3, 7], "distance"] = "far"
    bad.loc[[1, 2, 5], "carrier"] = "ZZ"
    bad.loc[[0, 9], "dep_delay"] = 5000.0
    bad.loc[11, "flight"] = 10
    return bad


def test_validate_names_every_broken_rule(ws: Workspace, df: pd.DataFrame, reference: str) -> None:
    report = ws.datasets.validate(reference, broken(df))
    assert not report.ok
    found = {(v.rule, v.column): v for v in report.violations}
    assert set(found) == {
        ("dtype", "distance"),
        ("new_category", "carrier"),
        ("out_of_range", "dep_delay"),
        ("missing_column", "time_hour"),
        ("extra_column", "gate"),
        ("unique", "flight"),
    }
    dtype = found["dtype", "distance"]
    assert (dtype.severity, dtype.count) == ("error", 2)
    assert (dtype.examples, dtype.rows) == (("far",), (3, 7))
    assert "column 'distance' must be int" in dtype.message
    category = found["new_category", "carrier"]
    assert (category.count, category.examples, category.rows) == (3, ("ZZ",), (1, 2, 5))
    out = found["out_of_range", "dep_delay"]
    assert (out.severity, out.count, out.examples) == ("warning", 2, (5000.0,))
    assert found["missing_column", "time_hour"].severity == "error"
    assert found["extra_column", "gate"].severity == "warning"
    assert (found["unique", "flight"].count, found["unique", "flight"].examples) == (2, (10,))
    assert report.summary().startswith("FAILED: 240 rows, 4 errors, 2 warnings")
    with pytest.raises(DataValidationError, match="4 validation errors in 240 rows"):
        report.raise_for_errors()
    strict = ws.datasets.validate(reference, broken(df), severities={"out_of_range": "error"})
    assert strict.by_rule("out_of_range")[0].severity == "error"
    assert len(strict.errors) == 5


def test_validate_clean_data_and_warnings_only(
    ws: Workspace, df: pd.DataFrame, reference: str
) -> None:
    assert ws.datasets.validate(reference, df).violations == ()
    wider = df.copy()
    wider.loc[4, "distance"] = 9000
    report = ws.datasets.validate("flights", wider)
    assert report.ok
    assert [(v.rule, v.count) for v in report.warnings] == [("out_of_range", 1)]


def test_validate_paths_arrow_and_queries(
    ws: Workspace, df: pd.DataFrame, reference: str, tmp_path: Path
) -> None:
    new = df.copy()
    new.loc[[1, 2, 5], "carrier"] = "ZZ"
    new.loc[[6], "flight"] = 7
    new.to_csv(tmp_path / "new.csv", index=False)
    new.to_parquet(tmp_path / "new.parquet")
    reports = [
        ws.datasets.validate(reference, new),
        ws.datasets.validate(reference, tmp_path / "new.csv"),
        ws.datasets.validate(reference, str(tmp_path / "new.parquet")),
        ws.datasets.validate(reference, pa.Table.from_pandas(new, preserve_index=False)),
        ws.datasets.validate(
            reference, wk.Query(f"SELECT * FROM read_parquet('{tmp_path / 'new.parquet'}')")
        ),
    ]
    for report in reports:
        summary = {(v.rule, v.column, v.count) for v in report.violations}
        assert summary == {("new_category", "carrier", 3), ("unique", "flight", 2)}, summary
        assert report.n_rows == 240


def test_expectations(ws: Workspace, df: pd.DataFrame, reference: str) -> None:
    now = datetime(2013, 1, 12, tzinfo=UTC)
    expectations = [
        Expectation.not_null("dep_delay"),
        Expectation.in_range("distance", 100, 2500),
        Expectation.allowed_values("carrier", ["AA", "B6", "DL"]),
        Expectation.unique("carrier", severity="warning"),
        Expectation.row_count(min=1000),
        Expectation.freshness("time_hour", timedelta(hours=12), now=now),
    ]
    report = ws.datasets.validate(reference, df, expectations)
    found = {v.rule: v for v in report.violations}
    assert set(found) == {
        "not_null",
        "in_range",
        "allowed_values",
        "unique",
        "row_count",
        "freshness",
    }
    assert (found["not_null"].column, found["not_null"].count) == ("dep_delay", 12)
    assert found["in_range"].count == int((df["distance"] > 2500).sum())
    assert found["allowed_values"].count == int((df["carrier"] == "UA").sum())
    assert found["allowed_values"].examples == ("UA",)
    assert (found["unique"].severity, found["unique"].count) == ("warning", 240)
    assert "row count 240 is outside [1000, None]" in found["row_count"].message
    assert "column 'time_hour' is stale" in found["freshness"].message
    assert all(v.source == "expectation" for v in report.violations)
    met = [
        Expectation.not_null("carrier"),
        Expectation.in_range("distance", 100, 3000),
        Expectation.allowed_values("carrier", CARRIERS),
        Expectation.unique("flight"),
        Expectation.row_count(min=1, max=240),
        Expectation.freshness("time_hour", timedelta(days=2), now=now),
    ]
    assert ws.datasets.validate(reference, df, met).violations == ()


# ---------------------------------------------------------------- refusals leave nothing


def test_a_refused_registration_leaves_nothing(
    ws: Workspace, df: pd.DataFrame, reference: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where work files and spills go
    store_tmp = Path(ws.settings.artifact_root) / "tmp"
    before = blobs(ws)
    bad = broken(df)
    with pytest.raises(DataValidationError, match=r"column 'carrier' has values outside its 4"):
        ws.datasets.register("flights", bad, validate_against=reference)
    with pytest.raises(DataValidationError, match=r"row count 240 is outside \[1000, None\]"):
        ws.datasets.register("fresh", df, expectations=[Expectation.row_count(min=1000)])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataValidationError, match="validation errors in 240 rows"):
        ws.datasets.register("flights", tmp_path / "bad.csv", validate_against="flights/1")
    assert blobs(ws) == before
    assert [v.version for v in ws.datasets.versions("flights")] == [1]
    with pytest.raises(NotFoundError):
        ws.datasets.get("fresh")
    assert list(store_tmp.iterdir()) == []
    assert list(scratch.iterdir()) == []
    # warnings do not refuse: new extremes are news, not errors
    wider = df.copy()
    wider.loc[4, "distance"] = 9000
    accepted = ws.datasets.register("flights", wider, validate_against=reference)
    assert accepted.version == 2
    assert len(blobs(ws)) == len(before) + 1
    assert list(scratch.iterdir()) == []


def test_a_tampered_blob_is_refused(ws: Workspace, df: pd.DataFrame) -> None:
    version = ws.datasets.register("flights", df)
    [blob] = blobs(ws)
    assert blob == ws.artifacts.local_path(version.content_hash)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    again = ws.datasets.get("flights/1")  # the record is fine ...
    for read in (again.path, again.to_pandas, again.sql, lambda: ws.datasets.load("flights")):
        with pytest.raises(IntegrityError, match="is corrupted: its content hashes to"):
            read()  # ... the data is not
    blob.unlink()
    with pytest.raises(IntegrityError, match="is missing from the store"):
        ws.datasets.load("flights")


# ---------------------------------------------------------------- lineage


def test_lineage_and_run(ws: Workspace, df: pd.DataFrame, project: Path) -> None:
    lineage = {"from": "s3://raw/flights/2013-01", "dropped_rows": 3, "steps": ["dedupe", "clip"]}
    with ws.runs.start("prep") as run:
        version = ws.datasets.register(
            "flights", df, run=run, lineage=lineage, description="January"
        )
    assert version.run_id == run.id
    by_id = ws.datasets.register("other", df.head(10), run=run.id)
    assert by_id.run_id == run.id
    with wk.open(project) as other:
        stored = other.datasets.get("flights")
    assert (stored.run_id, stored.lineage, stored.description) == (run.id, lineage, "January")
    assert ws.datasets.register("plain", df).lineage == {}


# ---------------------------------------------------------------- two processes at once

CHILD = """
import json, sys, time
from pathlib import Path
import numpy as np, pandas as pd
import weekend as wk

project, index, ready, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
frame = pd.DataFrame({"i": np.arange(50) + 1000 * index, "who": [f"child{index}"] * 50})
with wk.open(project) as ws:
    ws.datasets.list()
    ready.touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("no go")
        time.sleep(0.001)
    version = ws.datasets.register("race", frame)
    print(json.dumps({"version": version.version, "hash": version.content_hash}))
"""


@pytest.mark.parametrize(
    "catalog", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_two_processes_register_the_same_new_name(
    project: Path,
    tmp_path: Path,
    catalog: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = dict(os.environ)
    if catalog == "postgresql":
        url = request.getfixturevalue("postgres_url")
        env["WEEKEND_CATALOG_URL"] = url
        monkeypatch.setenv("WEEKEND_CATALOG_URL", url)
    with wk.open(project) as ws:  # create (migrate) the catalog before the race
        assert ws.datasets.list() == []
    children = []
    for index in (1, 2):
        ready, go = tmp_path / f"ready{index}", tmp_path / "go"
        children.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", CHILD, str(project), str(index), str(ready), str(go)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                ),
            )
        )
    try:
        deadline = time.monotonic() + 60
        while not all(ready.exists() for ready, _ in children):
            for _, child in children:
                assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline, "children did not start"
            time.sleep(0.01)
        (tmp_path / "go").touch()
        results = []
        for _, child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for _, child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert sorted(r["version"] for r in results) == [1, 2]
    with wk.open(project) as ws:
        versions = ws.datasets.versions("race")
        assert {v.version: v.content_hash for v in versions} == {
            r["version"]: r["hash"] for r in results
        }
        for v in versions:
            assert v.to_pandas()["i"].iloc[0] in (1000, 2000)
