"""The compiled fast path: each supported family compiles faithfully, an unfaithful conversion
is refused, the check is recorded, and what the compiled model cannot take goes to the
original model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _registry_data import classifier, features, flights, regressor
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from weekend.core.errors import DataValidationError
from weekend.registry import CompileCheck, LoadedVersion
from weekend.registry._compile import compile_model, read_record
from weekend.registry._package import manifest_key
from weekend.workspace import Workspace

CATS = ["carrier", "origin"]
NUMS = ["distance", "dep_hour", "temp"]


@pytest.fixture
def data(rng: np.random.Generator) -> pd.DataFrame:
    return flights(rng, 600)


def _ordinal_hgb(frame: pd.DataFrame, *, categorical: bool) -> Pipeline:
    """The W3 shape: ordinal-encoded text columns first, then the numbers, into HGB."""
    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), CATS)],
        remainder="passthrough",
    )
    hgb = HistGradientBoostingClassifier(
        max_iter=30, categorical_features=[0, 1] if categorical else None, random_state=0
    )
    return Pipeline([("encode", encode), ("hgb", hgb)]).fit(features(frame), frame["delayed"])


def _register(ws: Workspace, model: Any, frame: pd.DataFrame, name: str = "m") -> LoadedVersion:
    version = ws.models.register(model, name, input_example=features(frame))
    return ws.models.load(version.ref)


def _fresh(rng: np.random.Generator, n: int = 500) -> pd.DataFrame:
    """New rows, with categories the model never saw (every third of the first 60 rows,
    and 40 rows after them)."""
    frame = features(flights(rng, n))
    frame.loc[frame.index[0:60:3], "carrier"] = "ZZ"
    frame.loc[frame.index[100:140], "carrier"] = "ZZ"
    return frame


def _same(loaded: LoadedVersion, frame: pd.DataFrame) -> None:
    """Equal outputs on the whole frame (encoded column by column) and on its first rows in
    small calls (encoded row by row), unknown categories included."""
    compiled = loaded.compiled()
    assert compiled is not None
    valid = loaded.validate(frame)
    for part in [valid, *(valid.iloc[i : i + 3] for i in range(0, 60, 3)), valid.iloc[:1]]:
        got, want = compiled.predict_columns(part), loaded.predict_columns(part)
        assert got.keys() == want.keys()
        for key, values in want.items():
            if key == "prediction" and compiled.classes_ is not None:
                np.testing.assert_array_equal(got[key], values)
            else:
                np.testing.assert_allclose(got[key], values, rtol=1e-5, atol=1e-5)
    assert compiled.fallbacks == 0


def test_linear_pipeline_compiles_to_numpy(ws: Workspace, data: pd.DataFrame, rng: Any) -> None:
    loaded = _register(ws, classifier(data), data)
    compiled = loaded.compiled()
    assert compiled is not None, loaded.compile_check
    assert compiled.backend == "numpy-linear"
    _same(loaded, _fresh(rng))


def test_linear_pipeline_through_onnx(ws: Workspace, data: pd.DataFrame, rng: Any) -> None:
    loaded = _register(ws, classifier(data), data)
    compiled, check = compile_model(
        loaded.model, loaded.signature, package="p", backends=["onnxruntime:float64"]
    )
    assert compiled is not None, check.reason
    assert check.backend == "onnxruntime:float64"
    frame = loaded.validate(_fresh(rng))
    np.testing.assert_allclose(
        compiled.predict_proba(frame), loaded.predict_proba(frame), rtol=0, atol=1e-5
    )
    np.testing.assert_array_equal(compiled.predict(frame), loaded.predict(frame))


def test_regressor_compiles(ws: Workspace, data: pd.DataFrame, rng: Any) -> None:
    loaded = _register(ws, regressor(data), data)
    compiled = loaded.compiled()
    assert compiled is not None
    assert compiled.classes_ is None
    _same(loaded, _fresh(rng))


def test_forest_compiles_through_onnx(ws: Workspace, data: pd.DataFrame, rng: Any) -> None:
    encode = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), CATS)], remainder="passthrough"
    )
    model = Pipeline([("e", encode), ("rf", RandomForestClassifier(20, random_state=0))])
    loaded = _register(ws, model.fit(features(data), data["delayed"]), data)
    compiled = loaded.compiled()
    assert compiled is not None, loaded.compile_check
    assert compiled.variant == "onnxruntime:float32"
    _same(loaded, _fresh(rng))


def test_float32_thresholds_are_found_and_refused(ws: Workspace, data: pd.DataFrame) -> None:
    """HistGradientBoosting compares float64 values; skl2onnx's graph compares float32 ones
    (its float64 graph does not load in onnxruntime), which misroutes the values between the
    two roundings of a threshold: the probe's threshold rows find them, Treelite serves."""
    x = data[NUMS]
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, data["delayed"])
    loaded = ws.models.load(ws.models.register(model, "hgb", input_example=x).ref)
    compiled, check = compile_model(
        loaded.model, loaded.signature, package="p", backends=["onnxruntime:float32"]
    )
    assert compiled is None
    assert "labels differ" in check.reason
    served = loaded.compiled()
    assert served is not None
    assert served.variant == "treelite"


def test_hgb_with_categorical_splits_refuses_onnx_and_serves_treelite(
    ws: Workspace, data: pd.DataFrame, rng: Any
) -> None:
    loaded = _register(ws, _ordinal_hgb(data, categorical=True), data)
    compiled = loaded.compiled()
    check = loaded.compile_check
    assert check is not None
    assert compiled is not None
    onnx, _, treelite = check.attempts
    assert [(a.backend, a.ok) for a in check.attempts] == [
        ("onnxruntime:float64", False),
        ("onnxruntime:float32", False),
        ("treelite", True),
    ]
    assert onnx.max_abs_diff is not None
    assert onnx.max_abs_diff > check.tolerance
    assert "probabilities differ by up to" in onnx.reason
    assert treelite.max_abs_diff is not None
    assert treelite.max_abs_diff <= 1e-12
    _same(loaded, _fresh(rng))  # unknown categories included: read as missing, as HGB does


def test_unfaithful_conversion_alone_is_refused(ws: Workspace, data: pd.DataFrame) -> None:
    loaded = _register(ws, _ordinal_hgb(data, categorical=True), data)
    compiled, check = compile_model(
        loaded.model, loaded.signature, package="x", backends=["onnxruntime:float32"]
    )
    assert compiled is None
    assert not check.faithful
    assert check.reason.startswith("onnxruntime:float32: probabilities differ by up to")
    assert check.attempts[0].label_mismatches


def test_hgb_regressor_and_lightgbm_and_xgboost(ws: Workspace, data: pd.DataFrame) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    xgboost = pytest.importorskip("xgboost")
    x = data[NUMS]
    models = {
        "hgb-reg": HistGradientBoostingRegressor(max_iter=30).fit(x, data["arr_delay"]),
        "lgbm": lightgbm.LGBMClassifier(n_estimators=30, verbose=-1).fit(x, data["delayed"]),
        "xgb": xgboost.XGBClassifier(n_estimators=30, max_depth=4).fit(x, data["delayed"]),
    }
    fresh = flights(np.random.default_rng(5), 400)[NUMS]
    # LightGBM compares float64 values: its float32 ONNX graph misroutes the values next to
    # a threshold, so Treelite serves it; XGBoost compares float32 values, as ONNX does
    served = {"hgb-reg": "treelite", "lgbm": "treelite", "xgb": "onnxruntime:float32"}
    for name, model in models.items():
        version = ws.models.register(model, name, input_example=x)
        loaded = ws.models.load(version.ref)
        compiled = loaded.compiled()
        assert compiled is not None, (name, loaded.compile_check)
        assert compiled.variant == served[name], (name, loaded.compile_check)
        want = loaded.predict_proba(fresh) if compiled.classes_ is not None else None
        if want is not None:
            np.testing.assert_allclose(compiled.predict_proba(fresh), want, atol=1e-5)
            np.testing.assert_array_equal(compiled.predict(fresh), loaded.predict(fresh))
        else:
            np.testing.assert_allclose(compiled.predict(fresh), loaded.predict(fresh), rtol=1e-5)


def test_check_is_recorded_by_package_hash(ws: Workspace, data: pd.DataFrame) -> None:
    loaded = _register(ws, _ordinal_hgb(data, categorical=True), data)
    compiled = loaded.compiled()
    assert compiled is not None
    assert compiled.check is loaded.compile_check
    package = manifest_key(loaded.version.manifest)
    path = ws.settings.state_dir / "cache" / "compiled" / f"{package}.json"
    record = json.loads(path.read_text())
    assert record["backend"] == "treelite"
    assert record["faithful"] is True
    assert record["rows"] > 1000
    assert record["tolerance"] == 1e-5
    assert [a["backend"] for a in record["attempts"]] == [
        "onnxruntime:float64",
        "onnxruntime:float32",
        "treelite",
    ]
    assert "treelite" in record["versions"]
    again = read_record(path.parent, package)
    assert isinstance(again, CompileCheck)
    assert again.backend == "treelite"
    # the same package loaded again shares the compiled model
    assert ws.models.load(loaded.ref).compiled() is compiled


def test_recorded_refusal_is_not_tried_again(tmp_path: Path, ws: Workspace, data: Any) -> None:
    loaded = _register(ws, _ordinal_hgb(data, categorical=True), data)
    first, check = compile_model(
        loaded.model,
        loaded.signature,
        package="p",
        record_dir=tmp_path,
        backends=["onnxruntime:float32"],
    )
    assert first is None
    assert (tmp_path / "p.json").is_file()
    second, again = compile_model(loaded.model, loaded.signature, package="p", record_dir=tmp_path)
    assert second is None
    assert again == check


def test_inputs_without_a_frame(ws: Workspace, data: pd.DataFrame) -> None:
    loaded = _register(ws, _ordinal_hgb(data, categorical=True), data)
    compiled = loaded.compiled()
    assert compiled is not None
    row = features(data).iloc[0].to_dict()
    want = loaded.predict_proba(features(data).iloc[:1])
    for given in (row, [row], {k: [v] for k, v in row.items()}):
        np.testing.assert_allclose(compiled.predict_proba(given), want, atol=1e-12)
    pa = pytest.importorskip("pyarrow")
    table = pa.Table.from_pandas(features(data).iloc[:1])
    np.testing.assert_allclose(compiled.predict_proba(table), want, atol=1e-12)
    with pytest.raises(DataValidationError, match="column 'temp' is missing"):
        compiled.predict({k: v for k, v in row.items() if k != "temp"})
    with pytest.raises(DataValidationError, match="column 'distance' must hold numbers"):
        compiled.predict({**row, "distance": "far"})


def test_what_the_encoder_refuses_goes_to_the_original(ws: Workspace, data: Any) -> None:
    encode = ColumnTransformer(
        [("cat", OrdinalEncoder(), CATS)], remainder="passthrough"
    )  # handle_unknown="error": scikit-learn refuses an unknown carrier
    model = Pipeline([("e", encode), ("hgb", HistGradientBoostingClassifier(max_iter=20))])
    loaded = _register(ws, model.fit(features(data), data["delayed"]), data)
    compiled = loaded.compiled()
    assert compiled is not None, loaded.compile_check
    row = {**features(data).iloc[0].to_dict(), "carrier": "ZZ"}
    with pytest.raises(ValueError, match="unknown categor"):
        compiled.predict(row)  # the original's own error
    assert compiled.fallbacks == 1
