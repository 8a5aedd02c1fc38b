"""ws.monitor.compare: any two tables, and a model version's stored reference."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

from weekend.catalog.tables_registry import model_versions
from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.core.settings import init_project, load_settings
from weekend.monitoring._compare import REFERENCE_SAMPLE
from weekend.registry._package import REFERENCE_SAMPLE as PACKAGE_SAMPLE
from weekend.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(load_settings(init_project(tmp_path / "project"), env={}))
    yield workspace
    workspace.close()


def flights(rng: np.random.Generator, n: int, drift: bool = False) -> pd.DataFrame:
    """Flights-like rows; ``drift`` moves distance (+0.5 sd), origin's shares and the
    share of night flights, and leaves the rest alone."""
    shares = [0.2, 0.3, 0.5] if drift else [0.5, 0.3, 0.2]
    return pd.DataFrame(
        {
            "distance": rng.normal(1000 + (150 if drift else 0), 300, n),
            "dep_hour": rng.integers(5, 23, n),
            "temp": rng.normal(15, 8, n),
            "carrier": rng.choice(["AA", "B6", "DL", "UA", "WN"], n),
            "origin": rng.choice(["EWR", "JFK", "LGA"], n, p=shares),
            "night": rng.random(n) < (0.4 if drift else 0.1),
            "time_hour": pd.date_range("2013-01-01", periods=n, freq="min", tz="UTC"),
        }
    )


def test_two_frames(ws: Workspace, rng: np.random.Generator) -> None:
    report = ws.monitor.compare(flights(rng, 4000), flights(rng, 3000, drift=True))
    assert report.drifted == ["distance", "origin", "night"]
    assert [c.column for c in report.columns] == [
        "distance", "dep_hour", "temp", "carrier", "origin", "night",
    ]  # fmt: skip
    assert [c.kind for c in report.columns] == ["numeric"] * 3 + ["categorical"] * 2 + ["binary"]
    assert report["distance"].test == "ks"
    assert report["origin"].test == "chi2"
    assert report["night"].test == "z"
    assert report["temp"].adjusted_p_value >= report["temp"].p_value
    assert "time always moves on" in report.skipped["time_hour"]
    assert (report.n_reference, report.n_current) == (4000, 3000)
    assert report.reference == "the pandas DataFrame"
    payload = orjson.loads(orjson.dumps(report.to_dict()))
    assert payload["drifted"] == report.drifted
    assert payload["columns"][0]["effects"]["wasserstein"] == pytest.approx(0.5, abs=0.1)
    assert set(report.to_frame()["column"]) == set(report.result.names)


def test_files_and_dataset_references(
    ws: Workspace, rng: np.random.Generator, tmp_path: Path
) -> None:
    before, after = flights(rng, 3000), flights(rng, 3000, drift=True)
    before.to_parquet(tmp_path / "before.parquet")
    after.drop(columns=["time_hour"]).to_csv(tmp_path / "after.csv", index=False)
    from_files = ws.monitor.compare(tmp_path / "before.parquet", str(tmp_path / "after.csv"))
    assert from_files.drifted == ["distance", "origin", "night"]
    assert from_files.skipped["time_hour"] == "not compared: only in the reference"
    # a Parquet file is read column by column; the statistics are those of the whole table
    by_column = ws.monitor.compare(tmp_path / "before.parquet", after).to_dict()["columns"]
    assert by_column == ws.monitor.compare(before, after).to_dict()["columns"]
    ws.datasets.register("flights", before)
    ws.datasets.register("flights", after)
    by_ref = ws.monitor.compare("flights/1", "flights/2")
    assert by_ref.drifted == ["distance", "origin", "night"]
    assert by_ref.reference == "dataset flights/1"
    same = ws.monitor.compare("flights/1", "flights/1")
    assert same.drifted == []
    assert all(c.p_value == 1.0 for c in same.columns)


def test_kinds_and_columns_can_be_chosen(ws: Workspace, rng: np.random.Generator) -> None:
    ref, cur = flights(rng, 3000), flights(rng, 3000)
    report = ws.monitor.compare(
        ref, cur, columns=["dep_hour", "carrier"], kinds={"dep_hour": "categorical"}
    )
    assert [(c.column, c.kind, c.test) for c in report.columns] == [
        ("dep_hour", "categorical", "chi2"),
        ("carrier", "categorical", "chi2"),
    ]
    assert report.skipped == {}
    strict = ws.monitor.compare(ref, cur, fdr=0.2, min_effect={"temp": ("psi", 0.0)})
    assert strict.result.fdr == 0.2
    assert (strict["temp"].effect, strict["temp"].min_effect) == ("psi", 0.0)


def _register(ws: Workspace, rng: np.random.Generator, rows: int) -> str:
    data = flights(rng, rows)
    data["delayed"] = (data["dep_hour"] > 15).astype(int)
    inputs = ["distance", "dep_hour", "temp"]
    model = LogisticRegression().fit(data[inputs], data["delayed"])
    train = ws.datasets.register("train", data)
    version = ws.models.register(
        model, "delay", input_example=data[inputs].head(200), datasets={"training": train}
    )
    return version.ref


def test_registration_keeps_a_bounded_seeded_sample(
    ws: Workspace, rng: np.random.Generator
) -> None:
    assert REFERENCE_SAMPLE == PACKAGE_SAMPLE
    ref = _register(ws, rng, 60_000)
    version = ws.models.get(ref)
    entry = version.manifest[REFERENCE_SAMPLE]
    sample = pq.read_table(ws.artifacts.verified_path(entry["sha256"]))
    assert sample.num_rows == 50_000
    assert sample.column_names == ["distance", "dep_hour", "temp"]  # the signature's inputs
    data = ws.datasets.get("train/1")
    again = ws.models.register(
        ws.models.load(ref).model, "delay", datasets={"training": data}, signature=version.signature
    )
    assert again.manifest[REFERENCE_SAMPLE] == entry  # the same seeded rows
    whole = pq.read_table(data.path())
    assert set(sample.column("distance").to_pylist()) <= set(whole.column("distance").to_pylist())


def test_a_model_version_as_reference(ws: Workspace, rng: np.random.Generator) -> None:
    ref = _register(ws, rng, 3000)
    version = ws.models.get(ref)
    report = ws.monitor.compare(version, flights(rng, 2000, drift=True))
    assert report.reference == "model delay/1 (reference sample, 3,000 rows)"
    assert report.drifted == ["distance", "origin", "night"]
    # the sample holds the model's inputs; text columns are tested against the profile's
    # exact counts of the whole training set; the rest are skipped with the reason
    assert report["distance"].n_reference == 3000
    assert report["origin"].n_reference == 3000
    assert report["night"].kind == "binary"
    assert report.skipped["delayed"] == "not compared: only in the reference"
    assert "time always moves on" in report.skipped["time_hour"]
    labelled = flights(rng, 2000)
    labelled["delayed"] = 1
    with_label = ws.monitor.compare(version, labelled)
    assert (
        "the reference sample keeps the model's input columns only"
        in (with_label.skipped["delayed"])
    )
    assert with_label.drifted == []


def test_a_version_without_a_sample_never_tests_numbers_against_the_sketch(
    ws: Workspace, rng: np.random.Generator
) -> None:
    ref = _register(ws, rng, 3000)
    version = ws.models.get(ref)
    manifest = {k: v for k, v in version.manifest.items() if k != REFERENCE_SAMPLE}
    with ws.catalog.begin() as conn:  # as registered before weekend kept a sample
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.id == version.id)
            .values(manifest_json=orjson.dumps(manifest).decode())
        )
    report = ws.monitor.compare(ws.models.get(ref), flights(rng, 2000, drift=True))
    assert report.drifted == ["origin", "night"]  # from the profile's exact counts
    assert "has no reference sample" in report.skipped["distance"]
    assert "never against the profile's sketch" in report.skipped["distance"]
    assert report.reference == "model delay/1"


def test_a_version_with_no_reference_at_all(ws: Workspace, rng: np.random.Generator) -> None:
    data = flights(rng, 50)
    model = LogisticRegression().fit(data[["temp"]], data["night"])
    version = ws.models.register(model, "tiny", input_example=data[["temp"]].head(10))
    with pytest.raises(NotFoundError, match=r"model tiny/1 has neither a training profile nor"):
        ws.monitor.compare(version, data)


def test_bad_requests_are_named(ws: Workspace, rng: np.random.Generator) -> None:
    ref = flights(rng, 100)
    with pytest.raises(InvalidValueError, match=r"columns: 'wind' is not in the reference"):
        ws.monitor.compare(ref, ref, columns=["wind"])
    with pytest.raises(InvalidValueError, match=r"kinds names 'wind', which is not compared"):
        ws.monitor.compare(ref, ref, kinds={"wind": "numeric"})
    with pytest.raises(InvalidValueError, match=r"no column of the pandas DataFrame and .* can be"):
        ws.monitor.compare(ref[["time_hour"]], ref[["time_hour"]])
    with pytest.raises(NotFoundError, match=r"flights"):
        ws.monitor.compare("flights/3", ref)
    with pytest.raises(InvalidValueError, match=r"reference: expected"):
        ws.monitor.compare(42, ref)
