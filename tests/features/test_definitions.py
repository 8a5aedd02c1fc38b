"""Feature definitions: validation with clear errors, canonical JSON, loading a file."""

from __future__ import annotations

import datetime
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import weekend as wk
from weekend.core.errors import (
    ConfigurationError,
    InvalidNameError,
    InvalidValueError,
    UserCodeError,
)
from weekend.features import (
    DatasetSource,
    Entity,
    FeatureService,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    Query,
    load_definitions,
)
from weekend.features._definitions import expand_url, from_dict
from weekend.features._types import format_duration, parse_duration, split_ref

DRIVER = Entity("driver", ["driver_id"], key_types={"driver_id": "int"})


def view(**changes: object) -> FeatureView:
    args: dict[str, object] = {
        "entities": [DRIVER],
        "source": "data/stats.parquet",
        "timestamp_field": "event_ts",
        "features": {"trips": "int64", "rating": float},
        "ttl": "7d",
    }
    args.update(changes)
    return FeatureView("driver_stats", **args)  # type: ignore[arg-type]


def plus_one(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"trips_plus": df["trips"] + 1})


# ---------------------------------------------------------------- the SDK names


def test_definitions_are_exported_lazily_from_weekend() -> None:
    assert wk.Entity is Entity
    assert wk.FeatureView is FeatureView
    assert wk.OnDemandFeatureView is OnDemandFeatureView
    assert wk.FeatureService is FeatureService
    assert wk.Query is Query
    code = "import sys, weekend\nweekend.Entity\nprint(sorted(m for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in eval(out.stdout)}
    assert not loaded & {"duckdb", "pandas", "sqlalchemy", "redis"}


# ---------------------------------------------------------------- entities


def test_entity_normalises_and_validates() -> None:
    entity = Entity("airport", "origin")
    assert entity.join_keys == ("origin",)
    assert dict(entity.key_types) == {}
    assert dict(DRIVER.key_types) == {"driver_id": "int64"}
    with pytest.raises(InvalidNameError, match="entity name"):
        Entity("../x", ["k"])
    with pytest.raises(InvalidValueError, match="join_keys of entity 'e' must be a non-empty"):
        Entity("e", [])
    with pytest.raises(InvalidValueError, match=r"names \['k'\] more than once"):
        Entity("e", ["k", "k"])
    with pytest.raises(InvalidValueError, match="'nope', which is not one of its join keys"):
        Entity("e", ["k"], key_types={"nope": "int64"})
    with pytest.raises(InvalidValueError, match="must be int64 or string, got 'float64'"):
        Entity("e", ["k"], key_types={"k": "float64"})
    with pytest.raises(InvalidValueError, match="tags of entity 'e' must map"):
        Entity("e", ["k"], tags={"a": 1})  # type: ignore[dict-item]


# ---------------------------------------------------------------- feature views


def test_feature_view_normalises_its_fields() -> None:
    v = view()
    assert v.source == FileSource("data/stats.parquet")
    assert dict(v.features) == {"trips": "int64", "rating": "float64"}
    assert v.ttl == datetime.timedelta(days=7)
    assert v.join_keys == ("driver_id",)
    assert v.columns() == ("driver_id", "event_ts", "trips", "rating")
    assert dict(view(features=["trips"]).features) == {"trips": None}
    assert view(ttl=datetime.timedelta(hours=2)).ttl == datetime.timedelta(hours=2)
    assert view(ttl=None).ttl is None


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        (3600, "ttl of feature view 'driver_stats' must be a duration: .* got int 3600"),
        ("7 parsecs", "ttl of feature view 'driver_stats' '7 parsecs' is not a duration"),
        ("", "must be a duration"),
        ("0s", "must be positive"),
        (datetime.timedelta(seconds=-1), "must be positive"),
    ],
)
def test_a_ttl_that_is_not_a_duration_is_named(ttl: object, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        view(ttl=ttl)


def test_durations_parse_and_format() -> None:
    assert parse_duration("1h30m", "ttl") == datetime.timedelta(minutes=90)
    assert parse_duration("2 days", "ttl") == datetime.timedelta(days=2)
    assert parse_duration("1.5s", "ttl") == datetime.timedelta(seconds=1.5)
    assert parse_duration(pd.Timedelta("3h"), "ttl") == datetime.timedelta(hours=3)
    assert format_duration(datetime.timedelta(days=1, minutes=30)) == "1d30m"
    assert format_duration(None) == ""


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features": {"trips": "decimal"}}, "dtype of feature 'trips' must be one of"),
        ({"features": {}}, "features of feature view 'driver_stats' must be a non-empty"),
        ({"features": {"driver_id": "int64"}}, "feature 'driver_id' is also a join key"),
        ({"features": {"event_ts": "timestamp"}}, "feature 'event_ts' is also the timestamp"),
        ({"created_timestamp_field": "event_ts"}, "created_timestamp_field .* must differ"),
        ({"entities": []}, "entities of feature view 'driver_stats' must be a non-empty"),
        ({"entities": [DRIVER, "driver"]}, "name an entity more than once"),
        ({"entities": [42]}, "must be Entity objects or entity names, got int"),
        ({"source": 42}, "source must be a path to a Parquet/CSV file or folder"),
        ({"source": "gs://bucket/x.parquet"}, "is a URL weekend does not read"),
        ({"timestamp_field": ""}, "timestamp_field of feature view 'driver_stats' must be"),
    ],
)
def test_bad_feature_views_are_explained(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        view(**changes)


def test_composite_keys_may_not_share_a_column() -> None:
    other = Entity("car", ["driver_id"])
    with pytest.raises(InvalidValueError, match="'driver_id' belongs to both entity 'driver'"):
        view(entities=[DRIVER, other])


def test_entities_given_by_name_must_be_resolved_before_use() -> None:
    v = view(entities=["driver"])
    assert not v.resolved
    with pytest.raises(InvalidValueError, match="names entity 'driver' without its definition"):
        _ = v.join_keys


def test_query_sources_keep_no_password_and_expand_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(InvalidValueError, match="holds a password"):
        view(source=Query("SELECT 1", url="postgresql+psycopg://u:secret@h/db"))
    ok = view(source=Query("SELECT 1", url="postgresql://u@h/db"))
    assert ok.to_dict()["source"] == {
        "type": "query",
        "sql": "SELECT 1",
        "url": "postgresql://u@h/db",
    }
    view(source=Query("SELECT 1", url="postgresql://u:${PW}@h/db"))
    monkeypatch.setenv("WK_TEST_PW", "s3cret")
    assert expand_url("postgresql://u:${WK_TEST_PW}@h/db") == "postgresql://u:s3cret@h/db"
    with pytest.raises(ConfigurationError, match="'WK_TEST_MISSING', which is not set"):
        expand_url("postgresql://u:${WK_TEST_MISSING}@h/db")
    with pytest.raises(InvalidNameError):
        DatasetSource("../etc/3")
    with pytest.raises(InvalidValueError, match="positive integer"):
        DatasetSource("trips/0")


# ---------------------------------------------------------------- canonical JSON


def test_equal_definitions_have_equal_hashes_and_round_trip() -> None:
    a, b = view(), view()
    assert a == b
    assert hash(a) == hash(b)
    assert a.definition_hash() == b.definition_hash()
    assert view(ttl="8d").definition_hash() != a.definition_hash()
    assert view(description="x").definition_hash() != a.definition_hash()
    for obj in (DRIVER, a, view(source=DatasetSource("trips/3")), view(source=Query("SELECT 1"))):
        again = from_dict(obj.kind, obj.to_dict())
        assert again == obj
        assert again.to_json() == obj.to_json()
    assert a.to_dict()["ttl_us"] == 7 * 24 * 3600 * 1_000_000


def test_on_demand_views_version_their_code() -> None:
    odfv = OnDemandFeatureView(
        "plus", [view()], plus_one, features={"trips_plus": "int64"}, request_schema={"x": "float"}
    )
    data = odfv.to_dict()
    assert data["function"]["name"] == "plus_one"
    assert "df['trips'] + 1" in data["function"]["source"].replace('"', "'")
    assert data["sources"] == ["driver_stats"]
    stored = from_dict(odfv.kind, data)
    assert isinstance(stored, OnDemandFeatureView)
    assert stored.function is None
    assert stored.definition_hash() == odfv.definition_hash()

    def plus_two(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"trips_plus": df["trips"] + 2})

    other = OnDemandFeatureView("plus", [view()], plus_two, features={"trips_plus": "int64"})
    assert other.definition_hash() != odfv.definition_hash()


def test_bad_on_demand_views_are_explained() -> None:
    with pytest.raises(InvalidValueError, match="must be 'pandas' or 'python'"):
        OnDemandFeatureView("p", ["v"], plus_one, features=["a"], mode="numpy")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="needs at least one source view or request field"):
        OnDemandFeatureView("p", [], plus_one, features=["a"])  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="function of on-demand feature view 'p' must be"):
        OnDemandFeatureView("p", ["v"], 3, features=["a"])  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="needs a function"):
        OnDemandFeatureView("p", ["v"], None, features=["a"])  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="dtype of request field 'x'"):
        OnDemandFeatureView(
            "p",
            [],
            plus_one,
            features=["a"],  # type: ignore[arg-type]  # a list of names, typed as a mapping
            request_schema={"x": "complex"},
        )


def test_feature_services_list_references() -> None:
    service = FeatureService("model", [view(), "other:x", "third:*"])
    assert service.features == ("driver_stats:trips", "driver_stats:rating", "other:x", "third:*")
    with pytest.raises(InvalidValueError, match="must be 'view:feature'"):
        FeatureService("model", ["trips"])
    with pytest.raises(InvalidValueError, match=r"name \['a:b'\] more than once"):
        FeatureService("model", ["a:b", "a:b"])
    assert split_ref("a:b") == ("a", "b")
    with pytest.raises(InvalidValueError, match="must name a view and a feature"):
        split_ref("a:")


# ---------------------------------------------------------------- definitions files


def test_load_definitions_runs_a_file_and_collects_its_objects(tmp_path: Path) -> None:
    file = tmp_path / "features.py"
    file.write_text(
        textwrap.dedent(
            """
            import weekend as wk

            driver = wk.Entity("driver", ["driver_id"])
            stats = wk.FeatureView("stats", [driver], "s.parquet", "ts", features=["x"])
            more = [wk.FeatureService("svc", ["stats:x"])]
            helper = 42
            """
        )
    )
    objects = load_definitions(file)
    assert [(o.kind, o.name) for o in objects] == [
        ("entity", "driver"),
        ("feature_view", "stats"),
        ("feature_service", "svc"),
    ]
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UserCodeError, match=r"broken\.py' failed: RuntimeError: boom") as info:
        load_definitions(broken)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(InvalidValueError, match="does not exist"):
        load_definitions(tmp_path / "missing.py")


def test_the_definitions_example_of_the_docs_runs(tmp_path: Path) -> None:
    docs = Path(__file__).parents[2] / "docs" / "features.md"
    text = docs.read_text(encoding="utf-8")
    section = text.split("### Definitions", 1)[1]
    file = tmp_path / "features.py"
    file.write_text(section.split("```python", 1)[1].split("```", 1)[0])
    objects = {obj.name: obj for obj in load_definitions(file)}
    assert sorted(objects) == ["driver", "driver_stats", "model_v1", "tip"]
    service = objects["model_v1"]
    assert isinstance(service, FeatureService)
    assert service.features == ("driver_stats:trips", "driver_stats:rating", "tip:*")
    tip = objects["tip"]
    assert isinstance(tip, OnDemandFeatureView)
    assert tip.function_source.startswith("def with_tip(df):")
