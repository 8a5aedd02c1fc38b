"""The model registry: versions, references, aliases and their audit log, safe loading, lineage."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
import sqlalchemy as sa
from _registry_data import classifier, features, flights
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from conftest import need_module, open_ws
from weekend.catalog.tables_registry import model_versions
from weekend.core.errors import (
    ConfigurationError,
    DataValidationError,
    IntegrityError,
    InvalidNameError,
    InvalidValueError,
    NotFoundError,
    UnsafeModelError,
    UserCodeError,
)
from weekend.core.refs import parse_ref
from weekend.registry._packages import PackageVersionWarning
from weekend.workspace import Workspace

MOVES = 25


@pytest.fixture
def data(rng: np.random.Generator) -> pd.DataFrame:
    return flights(rng, 300)


@pytest.fixture
def model(data: pd.DataFrame) -> object:
    return classifier(data)


class Shift(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A custom transformer: outside skops' and weekend's lists of safe types."""

    def fit(self, x: object, y: object = None) -> Shift:
        return self

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        return x + 1.0


class Rule:
    """A plain Python model: stored with cloudpickle, so it needs trusted=True to load."""

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return (df["dep_hour"] > 12).to_numpy().astype(np.int64)


# -- registering and reading ----------------------------------------------------------------------


def test_log_model_records_signature_packages_profile_and_lineage(
    ws: Workspace, data: pd.DataFrame, model: object
) -> None:
    train = ws.datasets.register("flights", data)
    holdout = ws.datasets.register("flights-holdout", data.head(50))
    with ws.runs.start("delays", params={"C": 1.0}) as run:
        run.set_tag("weekend.git.commit", "0123456789abcdef")
        version = run.log_model(
            model,
            "flight-delay",
            input_example=features(data),
            datasets={"training": train, "evaluation": "flights-holdout/1"},
            features={"weather_hourly": 2},
            description="first try",
        )
    assert (version.name, version.version, version.ref) == ("flight-delay", 1, "flight-delay/1")
    assert version.flavor == "sklearn"
    assert version.task == "classifier"
    assert not version.trusted_required
    assert version.signature is not None
    assert version.signature.output is not None
    assert version.profile is not None
    assert version.signature.names == ["distance", "dep_hour", "temp", "carrier", "origin"]
    assert version.signature.output.classes == (0, 1)
    assert version.requirements["scikit-learn"]
    assert set(version.manifest) == {"flavor.json", "model.skops", "reference/sample.parquet"}
    assert version.profile_json == train.profile_json
    assert version.profile.n_rows == len(data)
    assert version.run_id == run.id
    assert version.description == "first try"
    lineage = ws.models.lineage("flight-delay/1")
    assert lineage["run"]["experiment"] == "delays"
    assert lineage["run"]["params"] == {"C": "1.0"}
    assert lineage["code"]["commit"] == "0123456789abcdef"
    assert [(d["role"], d["ref"], d["id"]) for d in lineage["datasets"]] == [
        ("training", "flights/1", train.id),
        ("evaluation", "flights-holdout/1", holdout.id),
    ]
    assert lineage["datasets"][0]["content_hash"] == train.content_hash
    assert lineage["features"] == [{"view": "weather_hourly", "version": 2}]


def test_without_a_training_dataset_a_large_enough_example_is_the_reference_profile(
    ws: Workspace, data: pd.DataFrame, model: object
) -> None:
    from weekend.registry.models import MIN_PROFILE_ROWS

    assert len(data) >= MIN_PROFILE_ROWS
    whole = ws.models.register(model, "delay", input_example=features(data))
    assert whole.profile is not None
    assert whole.profile.n_rows == len(data)
    assert ws.models.lineage("delay/1")["profile_source"] == "input_example"
    few = ws.models.register(model, "delay", input_example=features(data).head(5))
    assert few.profile_json is None  # five rows are no reference for drift
    assert ws.models.lineage("delay/2")["profile_source"] is None
    assert few.signature is not None
    assert whole.signature is not None
    assert few.signature.names == whole.signature.names


def test_copy_version_shares_the_files_and_records_where_it_came_from(
    ws: Workspace, data: pd.DataFrame, model: object
) -> None:
    source = ws.models.register(
        model, "delay", input_example=features(data), description="v1", tags={"team": "ops"}
    )
    blobs = sorted(Path(ws.settings.artifact_root).rglob("*"))
    copy = ws.models.copy_version("delay/1", "delay-prod", tags={"stage": "prod"})
    assert sorted(Path(ws.settings.artifact_root).rglob("*")) == blobs  # nothing written
    assert (copy.ref, copy.manifest, copy.signature) == (
        "delay-prod/1",
        source.manifest,
        source.signature,
    )
    assert (copy.description, copy.tags) == ("v1", {"stage": "prod"})
    assert copy.profile_json == source.profile_json
    assert copy.lineage["copied_from"] == {"ref": "delay/1", "id": source.id}
    assert ws.models.lineage("delay-prod/1")["copied_from"]["ref"] == "delay/1"
    again = ws.models.copy_version("delay-prod/1", "delay")  # a copy of a copy, same model
    assert again.version == 2
    frame = features(data).head(20)
    np.testing.assert_array_equal(
        ws.models.load("delay/2").predict(frame), ws.models.load("delay/1").predict(frame)
    )
    with pytest.raises(NotFoundError, match="has no version 5"):
        ws.models.copy_version("delay/5", "other")
    with pytest.raises(InvalidNameError):
        ws.models.copy_version("delay/1", "../escape")


def test_versions_number_up_and_references_resolve(ws_any: Workspace, model: object) -> None:
    ws = ws_any
    for _ in range(3):
        ws.models.register(model, "delay")
    assert [v.version for v in ws.models.versions("delay")] == [1, 2, 3]
    assert ws.models.get("delay").version == 3
    assert ws.models.get("delay/2").version == 2
    ws.models.set_alias("delay", 2, "champion")
    assert ws.models.get("delay@champion").version == 2
    assert ws.models.get("delay/2").aliases == ("champion",)
    [listed] = ws.models.list()
    assert (listed.name, listed.num_versions, listed.latest_version) == ("delay", 3, 3)
    assert listed.aliases == {"champion": 2}
    with pytest.raises(NotFoundError, match="has no version 7 \\(latest is 3\\)"):
        ws.models.get("delay/7")
    with pytest.raises(NotFoundError, match="has no alias 'challenger' \\(aliases: champion\\)"):
        ws.models.get("delay@challenger")
    with pytest.raises(NotFoundError, match="model 'nope' does not exist"):
        ws.models.get("nope")


def test_concurrent_registrations_get_distinct_numbers(ws_any: Workspace) -> None:
    x = np.arange(40, dtype=float).reshape(20, 2)
    model = LogisticRegression().fit(x, np.arange(20) % 2)
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(3):
                ws_any.models.register(model, "race")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [v.version for v in ws_any.models.versions("race")] == list(range(1, 10))


@pytest.mark.parametrize(
    ("ref", "error", "message"),
    [
        ("a/b/c", InvalidValueError, "more than one '/'"),
        ("x@", InvalidValueError, "the alias after '@' is empty"),
        ("x/0", InvalidValueError, "must be a positive integer .*got '0'"),
        ("x/abc", InvalidValueError, "must be a positive integer .*got 'abc'"),
        ("x/1@champion", InvalidValueError, "more than one"),
        ("../etc/x", InvalidNameError, "model name '..' is not allowed"),
        ("../x", InvalidNameError, "model name '..' is not allowed"),
        ("..@x", InvalidNameError, "is not allowed"),
        ("x@3", InvalidNameError, "alias '3' is a number"),
        ("", InvalidNameError, "1 to 128 characters"),
    ],
)
def test_bad_references_are_refused_clearly(ref: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        parse_ref(ref)


def test_bad_reference_types_and_names_are_refused(ws: Workspace, model: object) -> None:
    with pytest.raises(InvalidValueError, match="model reference must be a string"):
        ws.models.get(3)  # type: ignore[arg-type]
    for name in ("../evil", "/abs", "a/b", "a\\b", "x..y"):
        with pytest.raises(InvalidNameError, match="model name"):
            ws.models.register(model, name)
    ws.models.register(model, "ok")
    with pytest.raises(InvalidNameError, match="alias"):
        ws.models.set_alias("ok", 1, "../champion")
    with pytest.raises(InvalidValueError, match="version must be a positive integer, got 0"):
        ws.models.set_alias("ok", 0, "champion")
    assert ws.models.list()[0].num_versions == 1


def test_columns_the_model_was_not_fitted_on_stay_out_of_the_signature(
    ws: Workspace, data: pd.DataFrame, model: object
) -> None:
    version = ws.models.register(model, "delay", input_example=data)  # label columns included
    assert version.signature is not None
    assert "delayed" not in version.signature.names
    assert version.signature.names == list(features(data).columns)
    assert ws.models.load("delay").predict(features(data)).shape == (len(data),)


def test_register_refuses_an_example_the_model_cannot_take(ws: Workspace, model: object) -> None:
    with pytest.raises(UserCodeError, match="cannot predict on its input_example"):
        ws.models.register(model, "bad", input_example=pd.DataFrame({"x": [1.0]}))
    with pytest.raises(InvalidValueError, match="input_example must be a pandas DataFrame"):
        ws.models.register(model, "bad", input_example=[[1.0]])  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=r"features\['weather'\] must be a positive"):
        ws.models.register(model, "bad", features={"weather": 0})
    with pytest.raises(NotFoundError, match="dataset 'missing' does not exist"):
        ws.models.register(model, "bad", datasets="missing")
    assert ws.models.list() == []


def test_tags_and_descriptions_on_models_and_versions(ws: Workspace, model: object) -> None:
    ws.models.register(model, "delay", tags={"team": "ops"})
    ws.models.register(model, "delay")
    ws.models.set_tags("delay", {"owner": "ana"})
    ws.models.set_tag("delay/1", "stage", "tested")
    ws.models.set_description("delay", "predicts departure delays")
    ws.models.set_description("delay/2", "retrained")
    assert ws.models.get_model("delay").tags == {"owner": "ana"}
    assert ws.models.get_model("delay").description == "predicts departure delays"
    assert ws.models.get("delay/1").tags == {"team": "ops", "stage": "tested"}
    assert ws.models.get("delay/2").description == "retrained"
    ws.models.delete_tag("delay/1", "team")
    assert ws.models.get("delay/1").tags == {"stage": "tested"}
    with pytest.raises(NotFoundError, match="has no tag 'team'"):
        ws.models.delete_tag("delay/1", "team")
    with pytest.raises(InvalidNameError, match="tag key"):
        ws.models.set_tag("delay", "bad\nkey", 1)


# -- aliases --------------------------------------------------------------------------------------


def test_alias_moves_are_audited_in_order(ws_any: Workspace, model: object) -> None:
    ws = ws_any
    for _ in range(3):
        ws.models.register(model, "delay")
    first = ws.models.set_alias("delay", 1, "champion", reason="first", actor="ana")
    assert first is not None
    assert (first.from_version, first.to_version) == (None, 1)
    assert ws.models.set_alias("delay", 1, "champion") is None  # already there: nothing written
    ws.models.set_alias("delay", 3, "champion")
    ws.models.set_alias("delay", 2, "challenger")
    ws.models.delete_alias("delay", "challenger", reason="retired")
    assert ws.models.aliases("delay") == {"champion": 3}
    history = ws.models.alias_history("delay")
    assert [(e.alias, e.action, e.from_version, e.to_version) for e in history] == [
        ("champion", "set", None, 1),
        ("champion", "set", 1, 3),
        ("challenger", "set", None, 2),
        ("challenger", "delete", 2, None),
    ]
    assert history[0].actor == "ana"
    assert history[0].reason == "first"
    assert history[1].actor  # the operating-system user
    assert [e.seq for e in history] == sorted(e.seq for e in history)
    assert len(ws.models.alias_history("delay", "champion")) == 2
    with pytest.raises(NotFoundError, match="has no version 9"):
        ws.models.set_alias("delay", 9, "champion")
    with pytest.raises(NotFoundError, match="has no alias 'challenger'"):
        ws.models.delete_alias("delay", "challenger")


def test_alias_moves_take_name_version_alias_and_the_old_order_warns(
    ws: Workspace, model: object
) -> None:
    for _ in range(2):
        ws.models.register(model, "delay")
    with pytest.warns(DeprecationWarning, match=r"take \(name, version, alias\), like promote"):
        event = ws.models.set_alias("delay", "champion", 2)  # type: ignore[arg-type]
    assert event is not None
    assert (event.alias, event.to_version) == ("champion", 2)
    with pytest.warns(DeprecationWarning, match="set_alias"):
        ws.models.set_alias("delay", "champion", "1")  # type: ignore[arg-type]
    assert ws.models.aliases("delay") == {"champion": 1}
    ws.models.set_alias("delay", "2", "champion")  # type: ignore[arg-type]  # text: no old order
    assert ws.models.aliases("delay") == {"champion": 2}


CHILD = """
import sys, time
from pathlib import Path
from weekend.core.settings import load_settings
from weekend.workspace import Workspace

root, actor, targets, ready, go = sys.argv[1:6]
ws = Workspace(load_settings(root))
ws.models.alias_history("delay")  # warm up: imports and the first connection
Path(ready).write_text("ready")
while not Path(go).exists():
    time.sleep(0.001)
for version in targets.split(","):
    ws.models.set_alias("delay", int(version), "champion", actor=actor, reason="race")
    time.sleep(0.001)  # let the other process in between moves, not only at the start
ws.close()
"""


def test_two_processes_moving_one_alias_leave_a_consistent_chain(
    tmp_path: Path, project: Path, catalog_env: dict[str, str], model: object
) -> None:
    root = project
    ws = open_ws(root, catalog_env)
    try:
        for _ in range(4):
            ws.models.register(model, "delay")
        plans = {"proc-a": [1, 2] * (MOVES // 2) + [1], "proc-b": [3, 4] * (MOVES // 2) + [3]}
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEEKEND_")}
        env.update(catalog_env)
        go = tmp_path / "go"
        children = []
        for actor, plan in plans.items():
            ready = tmp_path / f"{actor}.ready"
            args = [str(root), actor, ",".join(map(str, plan)), str(ready), str(go)]
            children.append(
                (
                    ready,
                    subprocess.Popen(
                        [sys.executable, "-c", CHILD, *args],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                    ),
                )
            )
        deadline = time.monotonic() + 60
        while not all(ready.exists() for ready, _ in children):
            assert time.monotonic() < deadline, "children did not start"
            for _, child in children:
                assert child.poll() is None, child.communicate()[1].decode()
            time.sleep(0.01)
        go.write_text("go")
        for _, child in children:
            _, err = child.communicate(timeout=120)
            assert child.returncode == 0, err.decode()
        events = ws.models.alias_history("delay", "champion")
        assert len(events) == 2 * len(plans["proc-a"])  # every move changed the alias
        assert events[0].from_version is None
        for before, after in itertools.pairwise(events):
            assert after.seq > before.seq
            assert after.from_version == before.to_version
        assert ws.models.aliases("delay") == {"champion": events[-1].to_version}
        for actor, plan in plans.items():
            assert [e.to_version for e in events if e.actor == actor] == plan
    finally:
        ws.close()


# -- loading --------------------------------------------------------------------------------------


def test_load_predicts_like_the_model_and_validates_input(
    ws: Workspace, data: pd.DataFrame, model: object
) -> None:
    ws.models.register(model, "delay", input_example=features(data))
    ws.models.set_alias("delay", 1, "champion")
    loaded = ws.models.load("delay@champion")
    assert loaded.version.ref == "delay/1"
    assert loaded.signature is not None
    assert loaded.signature.names == ["distance", "dep_hour", "temp", "carrier", "origin"]
    x = features(data)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))  # type: ignore[attr-defined]
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x))  # type: ignore[attr-defined]
    one = x.iloc[0].to_dict()
    assert loaded.predict(one).tolist() == model.predict(x.head(1)).tolist()  # type: ignore[attr-defined]
    rows = x.head(3).to_dict("records")
    assert loaded.predict(rows).tolist() == model.predict(x.head(3)).tolist()  # type: ignore[attr-defined]
    with pytest.raises(DataValidationError, match="missing column 'temp'"):
        loaded.predict(x.drop(columns=["temp"]))
    with pytest.raises(DataValidationError, match="column 'distance' must be float64"):
        loaded.predict(x.head(2).assign(distance=["far", "near"]))
    with pytest.raises(DataValidationError, match="model input must be a pandas DataFrame"):
        loaded.predict("dep_hour=3")


def test_a_tampered_blob_is_refused_at_load(ws: Workspace, model: object) -> None:
    version = ws.models.register(model, "delay")
    blob = ws.artifacts.local_path(version.manifest["model.skops"]["sha256"])
    content = bytearray(blob.read_bytes())
    content[len(content) // 2] ^= 0x01
    blob.write_bytes(bytes(content))
    with pytest.raises(IntegrityError, match="is corrupted"):
        ws.models.load("delay/1")
    assert not any((ws.settings.state_dir / "cache" / "models").glob("[0-9a-f]*"))


def test_a_tampered_cache_file_is_refused_at_load(
    tmp_path: Path, ws: Workspace, model: object
) -> None:
    ws.models.register(model, "delay")
    ws.models.load("delay/1")
    [cached] = (ws.settings.state_dir / "cache" / "models").glob("*/model.skops")
    content = bytearray(cached.read_bytes())
    content[-10] ^= 0x01
    cached.write_bytes(bytes(content))
    with pytest.raises(IntegrityError, match="altered after it was cached"):
        ws.models.load("delay/1")  # also when this process holds the model in memory
    other = open_ws(ws.root)
    try:
        with pytest.raises(IntegrityError, match=r"cached model file 'model\.skops'"):
            other.models.load("delay/1")
        cached.unlink()  # a missing file only means: fetch a verified copy again
        assert other.models.load("delay/1").version.version == 1
    finally:
        other.close()


def test_an_unsafe_manifest_name_is_refused(ws: Workspace, model: object) -> None:
    version = ws.models.register(model, "delay")
    manifest = dict(version.manifest)
    manifest["../../outside"] = manifest["model.skops"]
    with ws.catalog.begin() as conn:
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.id == version.id)
            .values(manifest_json=orjson.dumps(manifest).decode())
        )
    with pytest.raises(IntegrityError, match="unsafe file name"):
        ws.models.load("delay/1")


def test_pickled_models_need_trusted(ws: Workspace, data: pd.DataFrame) -> None:
    version = ws.models.register(Rule(), "rule", input_example=features(data))
    assert (version.flavor, version.trusted_required) == ("pyfunc", True)
    with pytest.raises(UnsafeModelError, match="trusted=True"):
        ws.models.load("rule/1")
    loaded = ws.models.load("rule/1", trusted=True)
    assert loaded.predict(features(data)).tolist() == Rule().predict(data).tolist()
    with pytest.raises(InvalidValueError, match="gives no class probabilities"):
        loaded.predict_proba(features(data))


def test_skops_models_with_custom_types_need_trusted(ws: Workspace, data: pd.DataFrame) -> None:
    x = data[["distance", "temp"]]
    custom = make_pipeline(Shift(), LogisticRegression()).fit(x, data["delayed"])
    version = ws.models.register(custom, "custom", input_example=x)
    assert (version.flavor, version.trusted_required) == ("sklearn", True)
    with pytest.raises(UnsafeModelError, match="trusted=True"):
        ws.models.load("custom/1")
    assert ws.models.load("custom/1", trusted=True).predict(x).shape == (len(x),)


def _set_requirements(ws: Workspace, ref: str, **versions: str) -> None:
    version = ws.models.get(ref)
    with ws.catalog.begin() as conn:
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.id == version.id)
            .values(requirements_json=orjson.dumps({**version.requirements, **versions}).decode())
        )


def test_package_versions_are_checked_at_load(ws: Workspace, model: object) -> None:
    import sklearn

    major, minor = (int(p) for p in sklearn.__version__.split(".")[:2])
    ws.models.register(model, "delay")
    ws.models.register(model, "delay")
    _set_requirements(ws, "delay/1", **{"scikit-learn": f"{major + 1}.0.0"})
    with pytest.raises(ConfigurationError, match="another major version"):
        ws.models.load("delay/1")
    _set_requirements(ws, "delay/2", **{"scikit-learn": f"{major}.{minor + 1}.0"})
    with pytest.warns(PackageVersionWarning, match="predictions may differ slightly"):
        ws.models.load("delay/2")


def test_onnx_export_loads_as_onnx(ws: Workspace, data: pd.DataFrame, model: object) -> None:
    need_module("onnxruntime")
    need_module("skl2onnx")
    x = features(data)
    ws.models.register(model, "delay", input_example=x, export_onnx=True)
    native = ws.models.load("delay/1")
    onnx = ws.models.load("delay/1", flavor="onnx")
    assert onnx.flavor == "onnx"
    np.testing.assert_allclose(onnx.predict_proba(x), native.predict_proba(x), atol=1e-4)
    with pytest.raises(InvalidValueError, match="has no 'xgboost' form"):
        ws.models.load("delay/1", flavor="xgboost")
