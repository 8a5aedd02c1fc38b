"""Model flavors: round trips, the safety rules of each format, and package requirements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from conftest import need_module
from weekend.core.errors import (
    ConfigurationError,
    IntegrityError,
    InvalidValueError,
    UnsafeModelError,
    UserCodeError,
)
from weekend.registry._flavor_pyfunc import PyfuncFlavor
from weekend.registry._flavor_sklearn import SAFE_TYPES, SklearnFlavor
from weekend.registry._flavors import FlavorInfo, flavor_for, load_model, save_model
from weekend.registry._packages import (
    PackageVersionWarning,
    check_requirements,
    requirements_for,
)
from weekend.registry._signature import infer_signature

NUMERIC = ["distance", "dep_hour", "temp", "wind"]
CATEGORICAL = ["carrier", "origin"]


@pytest.fixture
def frame(rng: np.random.Generator) -> pd.DataFrame:
    n = 240
    return pd.DataFrame(
        {
            "distance": rng.normal(1000, 300, n),
            "dep_hour": rng.integers(5, 23, n),
            "temp": rng.normal(15, 8, n),
            "wind": rng.gamma(2.0, 4.0, n),
            "carrier": rng.choice(["AA", "B6", "DL", "UA", "WN"], n),
            "origin": rng.choice(["EWR", "JFK", "LGA"], n),
        }
    )


@pytest.fixture
def labels(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    score = frame["dep_hour"] / 6 + (frame["carrier"] == "B6") - frame["temp"] / 20
    return np.where(score > score.median(), "late", "on_time")


def linear_pipeline(**encoder: Any) -> Pipeline:
    columns = ColumnTransformer(
        [("onehot", OneHotEncoder(**encoder), CATEGORICAL), ("scale", StandardScaler(), NUMERIC)]
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(max_iter=500))])


def round_trip(model: Any, folder: Path, *, trusted: bool = False) -> tuple[FlavorInfo, Any]:
    info = save_model(model, folder)
    json.dumps(info)  # the catalog stores it as JSON
    stored = json.loads(json.dumps(info))
    return info, load_model(folder, stored, trusted=trusted)


def rows(df: pd.DataFrame) -> list[pd.DataFrame]:
    """Single-row frames, as serving sends them."""
    return [df.iloc[[i]] for i in range(0, len(df), 7)]


# -- scikit-learn via skops -------------------------------------------------------------------


def test_sklearn_pipeline_round_trip(tmp_path: Path, frame: pd.DataFrame, labels: Any) -> None:
    pipe = linear_pipeline(handle_unknown="ignore").fit(frame, labels)
    info, loaded = round_trip(pipe, tmp_path)

    assert info["flavor"] == "sklearn"
    assert info["format"] == "skops"
    assert info["files"] == ["model.skops"]
    assert (tmp_path / "model.skops").is_file()
    assert info["details"]["classes"] == ["late", "on_time"]
    assert info["details"]["needs_trusted"] == []
    assert "scikit-learn" in info["packages"]
    assert "skops" in info["packages"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]  # no temp files left

    np.testing.assert_array_equal(loaded.predict(frame), pipe.predict(frame))
    np.testing.assert_array_equal(loaded.predict_proba(frame), pipe.predict_proba(frame))
    np.testing.assert_array_equal(loaded.classes_, pipe.classes_)
    assert loaded.fast_path, loaded.fast_path_reason
    for row in rows(frame):
        np.testing.assert_array_equal(loaded.predict(row), pipe.predict(row))
        np.testing.assert_allclose(
            loaded.predict_proba(row), pipe.predict_proba(row), rtol=1e-12, atol=1e-15
        )


def test_fast_path_defers_to_scikit_learn_when_unsure(
    tmp_path: Path, frame: pd.DataFrame, labels: Any
) -> None:
    pipe = linear_pipeline(handle_unknown="error").fit(frame, labels)
    _, loaded = round_trip(pipe, tmp_path)
    assert loaded.fast_path

    unknown = frame.iloc[[0]].assign(carrier="ZZ")
    with pytest.raises(ValueError, match="unknown categor"):
        pipe.predict(unknown)
    with pytest.raises(ValueError, match="unknown categor"):
        loaded.predict(unknown)

    missing = frame.iloc[[0]].assign(temp=np.nan)
    with pytest.raises(ValueError, match="NaN"):
        loaded.predict(missing)

    reordered = frame.iloc[:3][list(reversed(frame.columns))]
    np.testing.assert_array_equal(loaded.predict(reordered), pipe.predict(reordered))


def _imputing_pipeline() -> Pipeline:
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(drop="first", handle_unknown="error")
    )
    numeric = make_pipeline(SimpleImputer(strategy="median"), MinMaxScaler(clip=True))
    columns = ColumnTransformer(
        [("cat", categorical, CATEGORICAL), ("num", numeric, ["temp", "wind"])],
        remainder="passthrough",
    )
    return Pipeline([("columns", columns), ("scale", StandardScaler()), ("model", Ridge())])


@pytest.mark.parametrize(
    ("name", "make", "target"),
    [
        ("imputers, drop=first, remainder, Ridge", _imputing_pipeline, "float"),
        ("multiclass", lambda: linear_pipeline(handle_unknown="ignore"), "origin"),
        ("numeric only", lambda: make_pipeline(StandardScaler(), LinearRegression()), "float"),
    ],
)
def test_fast_path_variants(
    tmp_path: Path, frame: pd.DataFrame, name: str, make: Any, target: str
) -> None:
    data = frame.copy()
    if name.startswith("imputers"):
        data.loc[data.index[::9], "temp"] = np.nan
        data.loc[data.index[::11], "carrier"] = np.nan
    if target == "origin":
        y = data.pop("origin").to_numpy()
        data["origin"] = np.where(data["temp"] > 15, "EWR", "JFK")
    else:
        y = data["distance"].to_numpy() / 100 + data["dep_hour"].to_numpy()
    if name == "numeric only":
        data = data[NUMERIC]
    model = make().fit(data, y)
    _, loaded = round_trip(model, tmp_path)

    assert loaded.fast_path, loaded.fast_path_reason
    small = data.iloc[:20]
    expected = model.predict(small)
    if target == "origin":
        np.testing.assert_array_equal(loaded.predict(small), expected)
        np.testing.assert_allclose(
            loaded.predict_proba(small), model.predict_proba(small), rtol=1e-12
        )
    else:
        np.testing.assert_allclose(loaded.predict(small), expected, rtol=1e-12)


def test_fast_path_off_for_parts_it_does_not_know(
    tmp_path: Path, frame: pd.DataFrame, labels: Any
) -> None:
    pipe = linear_pipeline(handle_unknown="infrequent_if_exist", min_frequency=30).fit(
        frame, labels
    )
    _, loaded = round_trip(pipe, tmp_path)
    assert not loaded.fast_path
    assert "infrequent" in loaded.fast_path_reason
    np.testing.assert_array_equal(loaded.predict(frame.iloc[[3]]), pipe.predict(frame.iloc[[3]]))

    info = save_model(pipe, tmp_path / "plain")
    loaded = SklearnFlavor(fast_path=False).load(tmp_path / "plain", info)
    assert not loaded.fast_path


def test_hist_gradient_boosting_loads_without_trust(
    tmp_path: Path, frame: pd.DataFrame, labels: Any
) -> None:
    data = frame.astype({"carrier": "category", "origin": "category"})
    model = HistGradientBoostingClassifier(max_iter=15, categorical_features="from_dtype")
    model.fit(data, labels)
    info, loaded = round_trip(model, tmp_path)

    import skops.io as sio

    needed = set(sio.get_untrusted_types(file=tmp_path / "model.skops"))
    assert "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor" in needed
    assert needed <= SAFE_TYPES
    assert info["details"]["needs_trusted"] == []
    assert info["details"]["skops_types"] == sorted(needed)  # what a load allows
    narrowed = {**info, "details": {**info["details"], "skops_types": []}}
    with pytest.raises(UnsafeModelError, match="TreePredictor"):
        load_model(tmp_path, narrowed)  # type: ignore[arg-type]
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    np.testing.assert_array_equal(loaded.predict_proba(data), model.predict_proba(data))
    assert not loaded.fast_path


class _Doubler(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A custom transformer: a type skops does not know."""

    def fit(self, x: Any, y: Any = None) -> _Doubler:
        return self

    def transform(self, x: Any) -> Any:
        return np.asarray(x, dtype=float) * 2


def test_skops_file_with_unknown_type_needs_trust(
    tmp_path: Path, frame: pd.DataFrame, labels: Any
) -> None:
    model = make_pipeline(_Doubler(), LogisticRegression()).fit(frame[NUMERIC], labels)
    info = save_model(model, tmp_path)
    assert info["details"]["needs_trusted"] == [f"{__name__}._Doubler"]

    with pytest.raises(UnsafeModelError, match=r"_Doubler.*trusted=True"):
        load_model(tmp_path, info)
    # recorded, yet refused above: the recorded list only narrows weekend's allow-list
    assert info["details"]["skops_types"] == [f"{__name__}._Doubler"]
    loaded = load_model(tmp_path, info, trusted=True)
    np.testing.assert_array_equal(loaded.predict(frame[NUMERIC]), model.predict(frame[NUMERIC]))


def test_broken_or_mismatched_files_are_integrity_errors(
    tmp_path: Path, frame: pd.DataFrame, labels: Any
) -> None:
    info = save_model(linear_pipeline().fit(frame, labels), tmp_path)
    with pytest.raises(InvalidValueError, match=r"flavor 'sklearn'.*'pyfunc' flavor"):
        PyfuncFlavor().load(tmp_path, info, trusted=True)
    (tmp_path / "model.skops").write_bytes(b"not a zip file")
    with pytest.raises(IntegrityError, match="not a readable skops file"):
        load_model(tmp_path, info)
    (tmp_path / "model.skops").unlink()
    with pytest.raises(IntegrityError, match=r"'model\.skops' is missing"):
        load_model(tmp_path, info)
    with pytest.raises(IntegrityError, match="format_version 99"):
        load_model(tmp_path, {**info, "format_version": 99})


# -- LightGBM and XGBoost ---------------------------------------------------------------------


def test_lightgbm_classifier_round_trip(tmp_path: Path, frame: pd.DataFrame) -> None:
    lgb = need_module("lightgbm")
    data = frame.astype({"carrier": "category", "origin": "category"})
    y = np.where(data["temp"] > 20, "hot", np.where(data["temp"] < 8, "cold", "mild"))
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(data, y)
    info, loaded = round_trip(model, tmp_path)

    assert info["flavor"] == "lightgbm"
    assert info["files"] == ["model.txt"]
    assert info["details"]["objective"] == "multiclass"
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    np.testing.assert_array_equal(loaded.predict_proba(data), model.predict_proba(data))
    for row in rows(data):
        np.testing.assert_array_equal(loaded.predict_proba(row), model.predict_proba(row))


def test_lightgbm_regressor_and_booster(tmp_path: Path, frame: pd.DataFrame) -> None:
    lgb = need_module("lightgbm")
    x, y = frame[NUMERIC], frame["distance"] / 100 + frame["wind"]
    regressor = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(x, y)
    _, loaded = round_trip(regressor, tmp_path / "reg")
    np.testing.assert_array_equal(loaded.predict(x), regressor.predict(x))
    assert loaded.predict_proba(x) is None
    assert loaded.classes_ is None

    booster = lgb.train(
        {"objective": "binary", "verbose": -1}, lgb.Dataset(x, (y > y.median()).astype(int)), 10
    )
    info, loaded = round_trip(booster, tmp_path / "booster")
    assert info["details"]["kind"] == "booster"
    np.testing.assert_array_equal(loaded.predict(x), booster.predict(x))


def test_xgboost_round_trip(tmp_path: Path, frame: pd.DataFrame) -> None:
    xgb = need_module("xgboost")
    x = frame[NUMERIC]
    y = np.digitize(frame["temp"], [8, 20])  # three classes 0, 1, 2
    classifier = xgb.XGBClassifier(n_estimators=15, max_depth=3).fit(x, y)
    info, loaded = round_trip(classifier, tmp_path / "clf")
    assert info["flavor"] == "xgboost"
    assert info["files"] == ["model.json"]
    np.testing.assert_array_equal(loaded.classes_, [0, 1, 2])
    np.testing.assert_array_equal(loaded.predict(x), classifier.predict(x))
    np.testing.assert_array_equal(loaded.predict_proba(x), classifier.predict_proba(x))
    for row in rows(x):
        np.testing.assert_array_equal(loaded.predict(row), classifier.predict(row))

    regressor = xgb.XGBRegressor(n_estimators=10).fit(x, frame["wind"])
    _, loaded = round_trip(regressor, tmp_path / "reg")
    np.testing.assert_array_equal(loaded.predict(x), regressor.predict(x))

    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(x, frame["wind"]), 5)
    _, loaded = round_trip(booster, tmp_path / "booster")
    np.testing.assert_array_equal(loaded.predict(x), booster.predict(xgb.DMatrix(x)))


# -- plain Python objects via cloudpickle -----------------------------------------------------


class ThresholdModel:
    """A plain Python model: late when the departure hour is past a threshold."""

    classes_ = np.array(["late", "on_time"], dtype=object)

    def __init__(self, hour: int) -> None:
        self.hour = hour

    def predict(self, df: pd.DataFrame) -> np.ndarray[Any, Any]:
        if "dep_hour" not in df.columns:
            raise KeyError("dep_hour")
        return np.where(df["dep_hour"] >= self.hour, "late", "on_time")


def test_pyfunc_needs_trust_and_round_trips(tmp_path: Path, frame: pd.DataFrame) -> None:
    model = ThresholdModel(hour=17)
    assert isinstance(flavor_for(model), PyfuncFlavor)
    assert PyfuncFlavor.trusted_required
    info = save_model(model, tmp_path)
    assert info["format"] == "cloudpickle"
    assert "cloudpickle" in info["packages"]

    with pytest.raises(UnsafeModelError, match=r"cloudpickle.*runs.*code.*trusted=True"):
        load_model(tmp_path, info)
    loaded = load_model(tmp_path, info, trusted=True)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.predict_proba(frame) is None

    with pytest.raises(UserCodeError, match=r"ThresholdModel\.predict raised KeyError") as caught:
        loaded.predict(frame.drop(columns="dep_hour"))
    assert isinstance(caught.value.__cause__, KeyError)


def test_flavor_for_picks_the_safest_format(frame: pd.DataFrame, labels: Any) -> None:
    assert flavor_for(linear_pipeline()).name == "sklearn"
    assert flavor_for(LogisticRegression()).name == "sklearn"
    assert flavor_for(ThresholdModel(3)).name == "pyfunc"
    lgb = need_module("lightgbm")
    xgb = need_module("xgboost")
    assert flavor_for(lgb.LGBMClassifier()).name == "lightgbm"
    assert flavor_for(xgb.XGBRegressor()).name == "xgboost"
    with pytest.raises(InvalidValueError, match=r"cannot store a builtins\.dict.*predict"):
        flavor_for({"weights": [1, 2]})


# -- ONNX (optional) --------------------------------------------------------------------------


def test_onnx_export_round_trip(tmp_path: Path, frame: pd.DataFrame, labels: Any) -> None:
    need_module("onnxruntime")
    need_module("skl2onnx")
    from weekend.registry._flavor_onnx import export_onnx

    pipe = linear_pipeline(handle_unknown="ignore").fit(frame, labels)
    signature = infer_signature(frame, pipe)
    info = export_onnx(pipe, signature, tmp_path)
    assert info["flavor"] == "onnx"
    assert info["files"] == ["model.onnx"]
    loaded = load_model(tmp_path, json.loads(json.dumps(info)))

    predicted = loaded.predict(frame)
    assert (predicted == pipe.predict(frame)).mean() > 0.99  # float32 arithmetic
    proba = loaded.predict_proba(frame)
    assert proba is not None
    np.testing.assert_allclose(proba, pipe.predict_proba(frame), atol=1e-4)
    np.testing.assert_array_equal(loaded.classes_, pipe.classes_)

    from weekend.registry._flavor_onnx import OnnxFlavor

    with pytest.raises(InvalidValueError, match="needs its signature"):
        OnnxFlavor().save(pipe, tmp_path / "other")


# -- package requirements ---------------------------------------------------------------------


def test_requirements_record_installed_versions(
    tmp_path: Path, frame: pd.DataFrame, labels: Any
) -> None:
    import importlib.metadata
    import platform

    info = save_model(linear_pipeline().fit(frame, labels), tmp_path)
    recorded = requirements_for(info)
    assert recorded["python"] == platform.python_version()
    for package in ("numpy", "pandas", "scikit-learn", "skops"):
        assert recorded[package] == importlib.metadata.version(package)
    assert check_requirements(recorded) == []


def _shift(version: str, level: int) -> str:
    parts = [int(p) for p in version.split(".")[:3]]
    parts[level] += 1
    return ".".join(str(p) for p in parts)


def test_check_requirements_major_minor_and_missing() -> None:
    import importlib.metadata

    numpy = importlib.metadata.version("numpy")
    assert not numpy.startswith("0.")
    with pytest.raises(
        ConfigurationError, match=rf"numpy {numpy} is installed.*{_shift(numpy, 0)}"
    ):
        check_requirements({"numpy": _shift(numpy, 0)})

    with pytest.warns(PackageVersionWarning, match=rf"numpy {numpy} is installed") as caught:
        found = check_requirements({"numpy": _shift(numpy, 1)})
    assert len(caught) == 1
    assert [w.package for w in found] == ["numpy"]
    assert check_requirements({"numpy": _shift(numpy, 2)}) == []  # patch: fine
    assert len(check_requirements({"numpy": _shift(numpy, 1)}, emit=False)) == 1

    with pytest.raises(ConfigurationError, match=r"weekend-no-such-package 1\.0 is not installed"):
        check_requirements({"weekend-no-such-package": "1.0"})

    skops = importlib.metadata.version("skops")
    if skops.startswith("0."):  # for 0.x the minor number is the major one
        with pytest.raises(ConfigurationError, match="skops"):
            check_requirements({"skops": _shift(skops, 1)})
