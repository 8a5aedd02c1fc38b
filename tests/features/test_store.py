"""The feature store service: apply/plan, training sets, materialization, online, push, skew."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pit_reference import RefRow, RefView, pit_value

from feature_project import DRIVER, hours, local_ws, open_ws, stats_frame, stats_view, ws
from weekend.core.errors import (
    ConfigurationError,
    ConflictError,
    DataValidationError,
    InvalidValueError,
    NotFoundError,
    UserCodeError,
    UserInputError,
)
from weekend.features import (
    DatasetSource,
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    Query,
)
from weekend.features import _materialize as materialize_module
from weekend.workspace import Workspace

__all__ = ["local_ws", "ws"]  # fixtures

NS = pd.Timedelta(1, "ns")


def score(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"score": df["trips"] * df["rating"] + df["bonus"]})


SCORE = OnDemandFeatureView(
    "score",
    ["driver_stats"],
    score,
    features={"score": "float64"},
    request_schema={"bonus": "float64"},
)


def entity(rows: list[tuple[Any, pd.Timestamp]], **extra: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"driver_id": [r[0] for r in rows], "event_timestamp": [r[1] for r in rows]}
    )
    for name, values in extra.items():
        frame[name] = values
    return frame


def values(frame: pd.DataFrame, column: str) -> list[Any]:
    return [None if pd.isna(v) else v for v in frame[column]]


# ---------------------------------------------------------------- apply and plan


def test_apply_versions_changed_definitions_only(local_ws: Workspace) -> None:
    fs = local_ws.features
    plan = fs.plan([stats_view()])
    assert [(i.kind, i.name, i.new_version) for i in plan.added] == [
        ("entity", "driver", 1),
        ("feature_view", "driver_stats", 1),
    ]
    assert fs.list() == []  # a plan writes nothing
    applied = fs.apply([stats_view()])
    assert applied.applied
    assert applied.has_changes
    again = fs.apply([stats_view()])
    assert not again.has_changes
    assert len(again.unchanged) == 2
    changed = fs.apply([stats_view(ttl="3h", description="longer")])
    assert [(i.name, i.version, i.new_version) for i in changed.changed] == [("driver_stats", 1, 2)]
    assert changed.changed[0].changes == ("description", "ttl_us")
    assert "~ feature view 'driver_stats' v1 -> v2 (description, ttl_us)" in changed.lines()
    latest = fs.get_view("driver_stats")
    assert isinstance(latest, FeatureView)
    assert latest.ttl == datetime.timedelta(hours=3)
    first = fs.get_view("driver_stats", version=1)
    assert isinstance(first, FeatureView)
    assert first.ttl == datetime.timedelta(hours=2)
    assert [r.version for r in fs.versions("driver_stats")] == [1, 2]
    assert fs.get_entity("driver").join_keys == ("driver_id",)


def test_validation_records_key_types_and_dtypes_from_the_source(local_ws: Workspace) -> None:
    fs = local_ws.features
    fs.apply([stats_view(features=["trips", "rating"])])
    view = fs.get_view("driver_stats")
    assert isinstance(view, FeatureView)
    assert view.key_types == {"driver_id": "int64"}
    assert dict(view.features) == {"trips": "int64", "rating": "float64"}
    assert dict(fs.get_entity("driver").key_types) == {}  # the entity itself is unchanged


def test_prune_removes_and_keeps_history(local_ws: Workspace) -> None:
    fs = local_ws.features
    service = FeatureService("model", ["driver_stats:trips"])
    fs.apply([stats_view(), service])
    kept = fs.apply([stats_view()])
    assert not kept.removed  # without prune nothing is removed
    pruned = fs.apply([stats_view()], prune=True)
    assert [(i.kind, i.name, i.new_version) for i in pruned.removed] == [
        ("feature_service", "model", 2)
    ]
    with pytest.raises(NotFoundError, match="feature service 'model' was removed in version 2"):
        fs.get_service("model")
    assert fs.get_service("model", version=1) == service
    assert [r.removed for r in fs.versions("model", "service")] == [False, True]
    readded = fs.apply([stats_view(), service])
    assert [(i.name, i.new_version) for i in readded.added] == [("model", 3)]
    assert [r.name for r in fs.list("service")] == ["model"]


def test_bad_applies_are_refused_before_writing(local_ws: Workspace) -> None:
    fs = local_ws.features
    with pytest.raises(UserInputError, match="uses entity 'rider', which is neither in this"):
        fs.apply([stats_view(entities=["rider"])])
    with pytest.raises(ConflictError, match="two different definitions of entity 'driver'"):
        fs.apply([stats_view(), Entity("driver", ["other_id"])])
    with pytest.raises(UserInputError, match="view 'driver_stats' has no feature 'nope'"):
        fs.apply([stats_view(), FeatureService("m", ["driver_stats:nope"])])
    with pytest.raises(UserInputError, match="reads view 'driver_stats', which is unknown"):
        fs.apply([SCORE])
    with pytest.raises(InvalidValueError, match="apply takes Entity, FeatureView"):
        fs.apply([stats_view(), "driver"])
    assert fs.list() == []
    fs.apply([stats_view()])
    clash = OnDemandFeatureView(
        "driver_stats",
        [],
        score,
        features=["x"],  # type: ignore[arg-type]  # a list of names, typed as a mapping in src
        request_schema={"a": "int"},
    )
    with pytest.raises(ConflictError, match="'driver_stats' is defined both as"):
        fs.apply([clash])


def test_a_source_lacking_a_declared_column_is_named(local_ws: Workspace) -> None:
    fs = local_ws.features
    bad = stats_view(features={"trips": "int64", "speed": "float64"})
    with pytest.raises(DataValidationError, match=r"no column 'speed' \(declared as feature\)"):
        fs.apply([bad])
    with pytest.raises(
        DataValidationError, match="declared int64, but the source column has type DOUBLE"
    ):
        fs.apply([stats_view(features={"rating": "int64"})])
    with pytest.raises(DataValidationError, match="column 'trips' must be a timestamp"):
        fs.apply([stats_view(timestamp_field="trips", features={"rating": "float64"})])
    with pytest.raises(
        DataValidationError, match=r"source path .*missing\.parquet' does not exist"
    ):
        fs.apply([stats_view(source="missing.parquet")])
    typed = Entity("driver", ["driver_id"], key_types={"driver_id": "string"})
    with pytest.raises(DataValidationError, match="declares join key 'driver_id' as string"):
        fs.apply([stats_view(entities=[typed])])
    assert fs.apply([bad], validate=False).added  # the check can be skipped


# ---------------------------------------------------------------- training sets


def test_training_set_is_point_in_time_correct(local_ws: Workspace) -> None:
    fs = local_ws.features
    fs.apply([stats_view()])
    rows = [
        (1, hours(0.5)),
        (1, hours(0.5)),  # duplicates are kept
        (2, hours(3)),
        (3, hours(2)),  # exactly on the ttl edge: still valid
        (3, hours(2) + NS),  # one nanosecond later: expired
        (9, hours(1)),  # unknown entity
        (1, hours(-1)),  # before any value
        (1, hours(6)),
    ]
    frame = fs.training_set(entity(rows), ["driver_stats:trips", "driver_stats:rating"])
    assert list(frame.columns) == ["driver_id", "event_timestamp", "trips", "rating"]
    assert values(frame, "trips") == [1, 1, 20, 100, None, None, None, 3]
    assert values(frame, "rating") == [4.0, 4.0, 3.5, 5.0, None, None, None, 4.8]
    assert list(frame["event_timestamp"]) == [r[1] for r in rows]
    full = fs.training_set(entity(rows[:1]), ["driver_stats:*"], full_feature_names=True)
    assert list(full.columns)[2:] == ["driver_stats__trips", "driver_stats__rating"]
    table = fs.training_set(entity(rows[:2]), ["driver_stats:trips"], output="arrow")
    assert isinstance(table, pa.Table)
    assert table.column("trips").type == pa.int64()


def test_training_set_bad_input_is_named(local_ws: Workspace) -> None:
    fs = local_ws.features
    fs.apply([stats_view()])
    good = entity([(1, hours(1))])
    with pytest.raises(DataValidationError, match="no timestamp column 'event_timestamp'"):
        fs.training_set(good.rename(columns={"event_timestamp": "ts"}), ["driver_stats:trips"])
    with pytest.raises(NotFoundError, match="unknown feature 'driver_stats:nope'"):
        fs.training_set(good, ["driver_stats:nope"])
    with pytest.raises(NotFoundError, match="feature view 'nope' does not exist; known views"):
        fs.training_set(good, ["nope:trips"])
    with pytest.raises(DataValidationError, match="join key 'driver_id'"):
        fs.training_set(entity([("1", hours(1))]), ["driver_stats:trips"])
    with pytest.raises(InvalidValueError, match="must be 'view:feature'"):
        fs.training_set(good, ["trips"])
    with pytest.raises(InvalidValueError, match="would overwrite the entity column"):
        fs.training_set(good.assign(trips=1), ["driver_stats:trips"])


def test_feature_services_on_demand_views_and_registered_training_sets(
    local_ws: Workspace,
) -> None:
    fs = local_ws.features
    service = FeatureService("model", ["driver_stats:trips", "score:score"])
    fs.apply([stats_view(), SCORE, service])
    rows = entity([(1, hours(1.5)), (3, hours(9))], bonus=[0.5, 1.0])
    frame = fs.training_set(rows, "model", register_as="train")
    assert values(frame, "trips") == [2, None]
    assert values(frame, "score") == [2 * 4.5 + 0.5, None]
    assert frame.attrs["weekend_dataset"] == "train/1"
    assert fs.versions_of("model") == {"driver_stats": 1, "score": 1}
    version = local_ws.datasets.get("train/1")
    assert version.lineage["feature_views"] == {"driver_stats": 1, "score": 1}
    assert version.lineage["feature_service"] == ["model", 1]
    assert len(version.lineage["entity_hash"]) == 64
    assert version.to_pandas()["trips"].tolist()[0] == 2
    same = fs.training_set(rows.copy(), "model", register_as="train")
    assert same.attrs["weekend_dataset"] == "train/1"  # identical data, identical version
    with pytest.raises(DataValidationError, match="no column 'bonus', a request field"):
        fs.training_set(rows.drop(columns=["bonus"]), "model")


def test_on_demand_views_need_their_function_in_this_process(project: Path) -> None:
    stats_frame().to_parquet(project / "stats.parquet")
    with open_ws(project) as first:
        first.features.apply([stats_view(), SCORE])
    with open_ws(project) as second:
        rows = entity([(1, hours(1.5))], bonus=[0.5])
        with pytest.raises(
            ConfigurationError, match="function of on-demand view 'score' is not loaded"
        ):
            second.features.training_set(rows, ["score:score"])

        def other(df: pd.DataFrame) -> pd.DataFrame:
            return pd.DataFrame({"score": df["trips"] * 0.0})

        changed = OnDemandFeatureView(
            "score",
            ["driver_stats"],
            other,
            features={"score": "float64"},
            request_schema={"bonus": "float64"},
        )
        with pytest.raises(ConflictError, match="differs from its applied version 1"):
            second.features.training_set(rows, [changed])
        assert second.features.training_set(rows, [SCORE])["score"].tolist() == [9.5]


def test_on_demand_errors_are_wrapped(local_ws: Workspace) -> None:
    def broken(row: dict[str, Any]) -> dict[str, Any]:
        return {"ratio": row["trips"] / row["bonus"]}

    ratio = OnDemandFeatureView(
        "ratio",
        ["driver_stats"],
        broken,
        features={"ratio": "float64"},
        request_schema={"bonus": "float64"},
        mode="python",
    )
    local_ws.features.apply([stats_view(), ratio])
    rows = entity([(1, hours(1.5)), (1, hours(1.5))], bonus=[2.0, 0.0])
    with pytest.raises(UserCodeError, match="'ratio' raised ZeroDivisionError") as info:
        local_ws.features.training_set(rows, ["ratio:ratio"])
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    ok = local_ws.features.training_set(rows.iloc[:1], ["ratio:ratio"])
    assert ok["ratio"].tolist() == [1.0]


def test_other_sources_dataset_csv_folder(local_ws: Workspace) -> None:
    fs = local_ws.features
    local_ws.datasets.register("stats", stats_frame())
    folder = local_ws.root / "csv"
    folder.mkdir()
    frame = stats_frame()
    frame["event_ts"] = frame["event_ts"].dt.tz_localize(None)  # naive times are UTC
    frame.iloc[:3].to_csv(folder / "a.csv", index=False)
    frame.iloc[3:].to_csv(folder / "b.csv", index=False)
    by_dataset = FeatureView(
        "by_dataset", [DRIVER], DatasetSource("stats/1"), "event_ts", features={"trips": "int64"}
    )
    by_csv = FeatureView("by_csv", [DRIVER], "csv", "event_ts", features={"rating": "float64"})
    fs.apply([by_dataset, by_csv])
    rows = entity([(1, hours(1.5)), (2, hours(9))])
    frame = fs.training_set(rows, ["by_dataset:trips", "by_csv:rating"], register_as="mixed")
    assert values(frame, "trips") == [2, 20]
    assert values(frame, "rating") == [4.5, 3.5]
    lineage = local_ws.datasets.get("mixed").lineage
    assert lineage["source_datasets"] == {"by_dataset": "stats/1"}


def test_rolling_window_features_from_sql_see_only_the_past(
    local_ws: Workspace, rng: np.random.Generator
) -> None:
    n = 300
    start = pd.Timestamp("2013-01-01")
    flights = pd.DataFrame(
        {
            "carrier": rng.choice(["AA", "UA", "DL"], n),
            "sched_dep": start + pd.to_timedelta(np.sort(rng.integers(0, 30 * 24, n)), unit="h"),
            "delayed": rng.integers(0, 2, n).astype(float),
        }
    )
    flights.to_parquet(local_ws.root / "flights.parquet")
    sql = """
        SELECT carrier, sched_dep,
               avg(delayed) OVER (
                   PARTITION BY carrier ORDER BY sched_dep
                   RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING
               ) AS delay_rate_7d
        FROM read_parquet('flights.parquet')
    """
    carrier = Entity("carrier", ["carrier"])
    rolling = FeatureView(
        "carrier_delays", [carrier], Query(sql), "sched_dep", features={"delay_rate_7d": "float64"}
    )
    local_ws.features.apply([rolling])
    rows = flights[["carrier", "sched_dep"]].rename(columns={"sched_dep": "event_timestamp"})
    frame = local_ws.features.training_set(rows, ["carrier_delays:delay_rate_7d"])
    for i in range(n):
        row = flights.iloc[i]
        past = flights[
            (flights.carrier == row.carrier)
            & (flights.sched_dep < row.sched_dep)
            & (flights.sched_dep >= row.sched_dep - pd.Timedelta(days=7))
        ]
        expected = None if past.empty else past.delayed.mean()
        got = frame["delay_rate_7d"].iloc[i]
        if expected is None:
            assert pd.isna(got), i
        else:
            assert got == pytest.approx(expected), i


@pytest.mark.postgres
def test_a_postgresql_query_source(local_ws: Workspace, postgres_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE stats (driver_id bigint, event_ts timestamptz, trips bigint)")
        )
        conn.execute(
            sa.text("INSERT INTO stats VALUES (1, :a, 1), (1, :b, 2), (2, :a, 10)"),
            {"a": hours(0).to_pydatetime(), "b": hours(1).to_pydatetime()},
        )
    engine.dispose()
    view = stats_view(
        source=Query("SELECT * FROM stats", url=postgres_url), features={"trips": "int64"}
    )
    local_ws.features.apply([view])
    frame = local_ws.features.training_set(
        entity([(1, hours(0.5)), (1, hours(1)), (2, hours(1))]), ["driver_stats:trips"]
    )
    assert values(frame, "trips") == [1, 2, 10]


# ---------------------------------------------------------------- the online store


def test_materialize_then_read_online_like_offline(ws: Workspace) -> None:
    fs = ws.features
    fs.apply([stats_view(), SCORE])
    calls: list[tuple[str, int, int]] = []
    results = fs.materialize(end=hours(6), progress=lambda v, d, t: calls.append((v, d, t)))
    # with a 2h ttl only values from h4 on can still be served at h6: driver 1's
    assert [(r.view, r.rows, r.written) for r in results] == [("driver_stats", 1, 1)]
    assert results[0].start == hours(4) - NS
    assert calls == [("driver_stats", 0, 1), ("driver_stats", 1, 1)]
    rows = [
        {"driver_id": 1, "bonus": 1.0},
        {"driver_id": 9, "bonus": 0.0},
        {"driver_id": 2, "bonus": 0.0},
    ]
    features = ["driver_stats:trips", "driver_stats:rating", "score:score"]
    result = fs.online(rows, features, now=hours(6))
    assert result.rows == [
        {"trips": 3, "rating": 4.8, "score": 3 * 4.8 + 1.0},
        {"trips": None, "rating": None, "score": None},
        {"trips": None, "rating": None, "score": None},  # driver 2: h2 is older than the 2h ttl
    ]
    assert result.event_timestamps("driver_stats")[0] == hours(5)
    offline = fs.training_set(
        entity([(1, hours(6)), (9, hours(6)), (2, hours(6))], bonus=[1.0, 0.0, 0.0]), features
    )
    for column in ("trips", "rating", "score"):
        assert values(offline, column) == [row[column] for row in result.rows]
    # the ttl edge, online exactly as offline
    assert fs.online([{"driver_id": 1}], ["driver_stats:trips"], now=hours(7)).rows == [
        {"trips": 3}
    ]
    late = fs.online([{"driver_id": 1}], ["driver_stats:trips"], now=hours(7) + NS)
    assert late.rows == [{"trips": None}]
    assert fs.online({"driver_id": [1, 1]}, ["driver_stats:trips"], now=hours(6)).rows == [
        {"trips": 3},
        {"trips": 3},
    ]
    frame = pd.DataFrame({"driver_id": [1]})
    assert fs.online(frame, ["driver_stats:trips"], now=hours(6)).rows == [{"trips": 3}]


def test_online_bad_input_is_named(ws: Workspace) -> None:
    fs = ws.features
    fs.apply([stats_view(), SCORE])
    with pytest.raises(
        InvalidValueError,
        match=r"entity row 0: key 'driver_id' of view 'driver_stats' must be an integer "
        r"\(int64\), got str '1'",
    ):
        fs.online([{"driver_id": "1"}], ["driver_stats:trips"])
    with pytest.raises(InvalidValueError, match="entity row 1 has no key 'driver_id'"):
        fs.online([{"driver_id": 1}, {"id": 1}], ["driver_stats:trips"])
    with pytest.raises(
        InvalidValueError, match="entity row 0 has no field 'bonus', a request field"
    ):
        fs.online([{"driver_id": 1}], ["score:score"])
    with pytest.raises(InvalidValueError, match=r"request field 'bonus' .* must hold float64"):
        fs.online([{"driver_id": 1, "bonus": "x"}], ["score:score"])
    with pytest.raises(NotFoundError, match="unknown feature 'driver_stats:speed'"):
        fs.online([{"driver_id": 1}], ["driver_stats:speed"])
    with pytest.raises(InvalidValueError, match="entity rows must be a list of dicts"):
        fs.online("driver 1", ["driver_stats:trips"])
    with pytest.raises(InvalidValueError, match="now must be a datetime or ISO 8601 text"):
        fs.online([{"driver_id": 1}], ["driver_stats:trips"], now="yesterday-ish")


def test_incremental_materialization_keeps_a_watermark(ws: Workspace) -> None:
    fs = ws.features
    folder = ws.root / "stats_parts"
    folder.mkdir()
    stats_frame().to_parquet(folder / "part-0.parquet")
    view = stats_view(source="stats_parts", ttl=None)
    fs.apply([view])
    first = fs.materialize_incremental(end=hours(3))
    assert [(r.start, r.rows) for r in first] == [(None, 3)]
    later = pd.DataFrame(
        {
            "driver_id": [2, 4],
            "event_ts": [hours(4), hours(4)],
            "trips": [21, 40],
            "rating": [3.6, 2.0],
        }
    )
    later.to_parquet(folder / "part-1.parquet")
    second = fs.materialize_incremental(end=hours(10))
    assert [(r.start, r.rows) for r in second] == [(hours(3).to_pydatetime(), 3)]  # 1@h5, 2, 4
    assert fs.materialize_incremental(end=hours(10)) == []  # up to date
    now = hours(10)
    rows = fs.online([{"driver_id": i} for i in (1, 2, 3, 4)], ["driver_stats:trips"], now=now).rows
    assert [r["trips"] for r in rows] == [3, 21, 100, 40]
    # a new version of the view is cleared and loaded in full
    fs.apply([stats_view(source="stats_parts", ttl=None, features={"trips": "int64"})])
    third = fs.materialize_incremental(end=hours(10))
    assert [(r.version, r.start, r.rows, r.cleared) for r in third] == [(2, None, 4, True)]
    assert fs.online([{"driver_id": 4}], ["driver_stats:trips"], now=now).rows == [{"trips": 40}]
    runs = fs.materializations("driver_stats")
    assert [(r["view_version"], r["rows"]) for r in runs] == [(1, 3), (1, 3), (2, 4)]


def test_materialization_streams_in_batches(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(materialize_module, "BATCH_ROWS", 2)
    ws.features.apply([stats_view(ttl=None)])
    seen: list[int] = []
    ws.features.materialize(end=hours(10), progress=lambda v, d, t: seen.append(d))
    assert seen == [0, 2, 3]
    with pytest.raises(InvalidValueError, match="start must be before end"):
        ws.features.materialize(start=hours(3), end=hours(2))
    ws.features.apply([SCORE])
    with pytest.raises(ConflictError, match="'score' is an on-demand view"):
        ws.features.materialize("score")


def test_online_matches_the_reference_after_materialization(
    ws: Workspace, rng: np.random.Generator
) -> None:
    n, second = 400, 1_000_000_000
    base = int(hours(0).value)
    keys = rng.integers(0, 25, n)
    events = base + rng.integers(0, 100, n) * second
    created = events + rng.integers(0, 5, n) * second
    frame = pd.DataFrame(
        {
            "driver_id": pd.array(keys, dtype="Int64"),
            "event_ts": pd.to_datetime(events, utc=True),
            "created_ts": pd.to_datetime(created, utc=True),
            "x": rng.normal(size=n),
        }
    ).drop_duplicates(["driver_id", "event_ts", "created_ts"])
    frame.loc[frame.index[:5], "driver_id"] = pd.NA  # null keys never match
    frame.to_parquet(ws.root / "random.parquet")
    ttl = 30 * second
    view = FeatureView(
        "random",
        [DRIVER],
        "random.parquet",
        "event_ts",
        created_timestamp_field="created_ts",
        features={"x": "float64"},
        ttl=datetime.timedelta(seconds=30),
    )
    ws.features.apply([view])
    end = base + 80 * second
    ws.features.materialize(end=pd.Timestamp(end, tz="UTC"))
    now = end - 1
    reference = RefView(
        [
            RefRow((None if pd.isna(k) else int(k),), int(e.value), int(c.value), (x,))
            for k, e, c, x in frame.itertuples(index=False)
        ],
        n_features=1,
        ttl_ns=ttl,
    )
    result = ws.features.online(
        [{"driver_id": k} for k in range(30)], ["random:x"], now=pd.Timestamp(now, tz="UTC")
    )
    expected = [pit_value(reference, (k,), now, strict=False)[0] for k in range(30)]
    assert [row["x"] for row in result.rows] == expected
    assert sum(v is not None for v in expected) > 5  # the test is not vacuous
    assert ws.features.skew("random", sample=50).ok


def test_push_reaches_online_and_offline(ws: Workspace) -> None:
    fs = ws.features
    fs.apply([stats_view()])
    fs.materialize(end=hours(6))
    fresh = pd.DataFrame({"driver_id": [2], "event_ts": [hours(6)], "trips": [25], "rating": [3.9]})
    result = fs.push("driver_stats", fresh)
    assert (result.rows, result.written) == (1, 1)
    assert fs.online([{"driver_id": 2}], ["driver_stats:trips"], now=hours(6.5)).rows == [
        {"trips": 25}
    ]
    offline = fs.training_set(entity([(2, hours(6.5)), (2, hours(3))]), ["driver_stats:trips"])
    assert values(offline, "trips") == [25, 20]
    older = fresh.assign(event_ts=[hours(5.5)], trips=[1])
    assert fs.push("driver_stats", older).skipped_older == 1  # monotonic
    assert fs.skew("driver_stats").ok  # pushes are offline too, so no skew
    with pytest.raises(DataValidationError, match="has no column 'rating'"):
        fs.push("driver_stats", fresh.drop(columns=["rating"]))
    with pytest.raises(InvalidValueError, match="must hold int64 keys, got large_string"):
        fs.push("driver_stats", fresh.assign(driver_id=["2"]))
    with pytest.raises(DataValidationError, match="'trips' is declared int64, but its values"):
        fs.push("driver_stats", fresh.assign(trips=["many"]))


def test_skew_reports_every_mismatch(ws: Workspace) -> None:
    fs = ws.features
    fs.apply([stats_view(ttl=None)])
    fs.materialize(end=hours(10))
    report = fs.skew("driver_stats")
    assert report.ok
    assert report.sampled == 3
    assert report.at == hours(10) - NS
    store = fs.online_store
    wrong = pa.table(
        {
            "driver_id": [1],
            "ts": pa.array([hours(5).value], pa.int64()).cast(pa.timestamp("ns", "UTC")),
            "created": pa.array([hours(9).value], pa.int64()).cast(pa.timestamp("ns", "UTC")),
            "trips": [999],
            "rating": [4.8],
        }
    )
    store.write(
        "driver_stats",
        ["driver_id"],
        wrong,
        timestamp_field="ts",
        created_timestamp_field="created",
        features=["trips", "rating"],
    )
    report = fs.skew("driver_stats")
    assert (report.mismatched, report.by_kind["value"], report.by_feature) == (
        1,
        1,
        {"trips": 1, "rating": 0},
    )
    example = report.examples[0]
    assert (example.key, example.feature, example.offline, example.online) == (
        {"driver_id": 1},
        "trips",
        3,
        999,
    )
    store.delete_view("driver_stats")
    report = fs.skew("driver_stats", sample=2)
    assert (report.sampled, report.mismatched, report.by_kind["missing_online"]) == (2, 2, 2)
    assert report.to_dict()["examples"][0]["kind"] == "missing_online"
    with pytest.raises(InvalidValueError, match="sample must be an integer"):
        fs.skew("driver_stats", sample=0)


def test_strict_training_sets_ignore_backfilled_values(local_ws: Workspace) -> None:
    frame = pd.DataFrame(
        {
            "driver_id": [1, 1],
            "event_ts": [hours(0), hours(1)],
            "created_ts": [hours(0), hours(10)],  # the h1 value arrived at h10 (a backfill)
            "trips": [1, 2],
        }
    )
    frame.to_parquet(local_ws.root / "backfilled.parquet")
    view = FeatureView(
        "backfilled",
        [DRIVER],
        "backfilled.parquet",
        "event_ts",
        created_timestamp_field="created_ts",
        features={"trips": "int64"},
    )
    local_ws.features.apply([view])
    rows = entity([(1, hours(2)), (1, hours(11))])
    loose = local_ws.features.training_set(rows, ["backfilled:trips"])
    strict = local_ws.features.training_set(rows, ["backfilled:trips"], strict=True)
    assert values(loose, "trips") == [2, 2]
    assert values(strict, "trips") == [1, 2]


def test_a_removed_view_is_named_as_removed(local_ws: Workspace) -> None:
    fs = local_ws.features
    fs.apply([stats_view()])
    fs.apply([DRIVER], prune=True)
    with pytest.raises(NotFoundError, match="feature view 'driver_stats' was removed in version 2"):
        fs.get_view("driver_stats")
    with pytest.raises(NotFoundError, match="was removed"):
        fs.online([{"driver_id": 1}], ["driver_stats:trips"])
    assert fs.get_view("driver_stats", version=1).name == "driver_stats"
    assert [r.name for r in fs.list()] == ["driver"]
    assert [r.name for r in fs.list(include_removed=True)] == ["driver", "driver_stats"]
