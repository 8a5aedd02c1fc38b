"""Every model flavor passes the public conformance suite (``weekend.testing.flavor_checks``):
scikit-learn (a compiled linear pipeline and a tree ensemble), LightGBM, XGBoost, ONNX,
pickled Python objects, and a flavor from outside weekend, added by registering it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from conftest import need_module
from weekend.core.errors import ConfigurationError
from weekend.core.settings import init_project, load_settings
from weekend.registry import (
    FORMAT_VERSION,
    Flavor,
    FlavorInfo,
    LoadedModel,
    atomic_path,
    check_info,
    flavor_for,
    flavor_kinds,
    model_file,
    register_flavor,
)
from weekend.registry import _flavors as flavors_module
from weekend.testing import (
    Check,
    FlavorSubject,
    flavor_checks,
    parametrize_with_checks,
    run_checks,
)
from weekend.workspace import Workspace

NUMERIC = ["distance", "temp", "wind"]
Make = Callable[[np.random.Generator], dict[str, Any]]


def _frame(rng: np.random.Generator, n: int = 240) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "distance": rng.normal(1000, 300, n),
            "temp": rng.normal(15, 8, n),
            "wind": rng.gamma(2.0, 4.0, n),
            "carrier": rng.choice(["AA", "B6", "DL", "UA"], n),
        }
    )


def _labels(frame: pd.DataFrame) -> Any:
    return np.where(frame["temp"] + (frame["carrier"] == "B6") * 5 > 15, "late", "on_time")


# -- the models, one per flavor ------------------------------------------------------------------


def _sklearn_linear(rng: np.random.Generator) -> dict[str, Any]:
    frame = _frame(rng)
    columns = ColumnTransformer(
        [
            ("hot", OneHotEncoder(handle_unknown="ignore"), ["carrier"]),
            ("num", StandardScaler(), NUMERIC),
        ]
    )
    model = Pipeline([("columns", columns), ("model", LogisticRegression())])
    return {"model": model.fit(frame, _labels(frame)), "frame": frame, "flavor": "sklearn"}


def _sklearn_trees(rng: np.random.Generator) -> dict[str, Any]:
    frame = _frame(rng).astype({"carrier": "category"})
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    return {"model": model.fit(frame, _labels(frame)), "frame": frame, "flavor": "sklearn"}


def _lightgbm(rng: np.random.Generator) -> dict[str, Any]:
    lgb = need_module("lightgbm")
    frame = _frame(rng).astype({"carrier": "category"})
    model = lgb.LGBMClassifier(n_estimators=15, num_leaves=7, verbose=-1)
    return {"model": model.fit(frame, _labels(frame)), "frame": frame, "flavor": "lightgbm"}


def _xgboost(rng: np.random.Generator) -> dict[str, Any]:
    xgb = need_module("xgboost")
    frame = _frame(rng)[NUMERIC]
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3)
    return {
        "model": model.fit(frame, np.digitize(frame["temp"], [8, 20])),
        "frame": frame,
        "flavor": "xgboost",
    }


def _onnx(rng: np.random.Generator) -> dict[str, Any]:
    need_module("onnxruntime")
    skl2onnx = need_module("skl2onnx")
    types = need_module("skl2onnx.common.data_types")
    frame = _frame(rng)[NUMERIC]
    pipe = make_pipeline(StandardScaler(), Ridge()).fit(frame, frame["distance"] / 100)
    inputs = [(name, types.FloatTensorType([None, 1])) for name in NUMERIC]
    proto = skl2onnx.convert_sklearn(pipe, initial_types=inputs)
    return {
        "model": proto,
        "frame": frame,
        "flavor": "onnx",
        "reference": pipe.predict,
        "rtol": 1e-4,  # ONNX computes in float32
    }


class ThresholdModel:
    """A plain Python model: late when the wind is above a threshold."""

    def __init__(self, wind: float) -> None:
        self.wind = wind

    def predict(self, df: pd.DataFrame) -> Any:
        return np.where(df["wind"] > self.wind, "late", "on_time")


def _pyfunc(rng: np.random.Generator) -> dict[str, Any]:
    return {"model": ThresholdModel(8.0), "frame": _frame(rng), "flavor": "pyfunc"}


# -- a flavor from outside weekend ---------------------------------------------------------------


class Rule:
    """A linear rule: ``1`` when the weighted sum of the columns exceeds ``threshold``."""

    def __init__(self, weights: dict[str, float], threshold: float) -> None:
        self.weights = weights
        self.threshold = threshold

    def predict(self, df: pd.DataFrame) -> Any:
        score = sum(df[column].to_numpy() * weight for column, weight in self.weights.items())
        return (np.asarray(score) > self.threshold).astype(np.int64)


class RuleModel(LoadedModel):
    flavor: ClassVar[str] = "json-rule"

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    @property
    def raw(self) -> Any:
        return self.rule

    def predict(self, df: pd.DataFrame) -> Any:
        return self.rule.predict(df)


class RuleFlavor(Flavor):
    """Rules as JSON: nothing runs when they are read."""

    name: ClassVar[str] = "json-rule"

    def matches(self, model: object) -> bool:
        return isinstance(model, Rule)

    def save(self, model: Any, folder: Path) -> FlavorInfo:
        with atomic_path(Path(folder) / "rule.json") as tmp:
            tmp.write_text(json.dumps({"weights": model.weights, "threshold": model.threshold}))
        return FlavorInfo(
            flavor=self.name,
            format="rule-json",
            format_version=FORMAT_VERSION,
            files=["rule.json"],
            packages=[],
            details={},
        )

    def load(self, folder: Path, info: FlavorInfo, *, trusted: bool = False) -> RuleModel:
        check_info(info, self.name)
        data = json.loads(model_file(Path(folder), info, "rule.json").read_text())
        return RuleModel(Rule(data["weights"], data["threshold"]))


def _third_party(rng: np.random.Generator) -> dict[str, Any]:
    rule = Rule({"temp": 1.0, "wind": -0.5}, 10.0)
    return {"model": rule, "frame": _frame(rng)[NUMERIC], "flavor": "json-rule"}


CASES: dict[str, Make] = {
    "sklearn-linear": _sklearn_linear,
    "sklearn-trees": _sklearn_trees,
    "lightgbm": _lightgbm,
    "xgboost": _xgboost,
    "onnx": _onnx,
    "pyfunc": _pyfunc,
    "third-party": _third_party,
}


@pytest.fixture
def rule_flavor(monkeypatch: pytest.MonkeyPatch) -> type[Flavor]:
    """The third-party flavor, registered for one test (the registry is left as it was)."""
    flavors_module.flavor_kinds()  # the built-in flavors first
    monkeypatch.setitem(flavors_module._KINDS, RuleFlavor.name, RuleFlavor)
    return register_flavor(RuleFlavor)


@pytest.fixture(params=sorted(CASES))
def subject(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    rng: np.random.Generator,
    rule_flavor: type[Flavor],
) -> Iterator[FlavorSubject]:
    made = CASES[request.param](rng)
    ws = Workspace(load_settings(init_project(tmp_path / "project")))
    folder = tmp_path / "flavor"
    folder.mkdir()
    yield FlavorSubject(folder=folder, models=ws.models, **made)
    ws.close()


@parametrize_with_checks(flavor_checks())
def test_flavor(check: Check[FlavorSubject], subject: FlavorSubject) -> None:
    check.run(subject)


# -- the registry of kinds and the suite itself ---------------------------------------------------


def test_weekend_flavors_are_registered_by_priority() -> None:
    assert {"lightgbm", "onnx", "pyfunc", "sklearn", "xgboost"} <= set(flavor_kinds())
    order = sorted(flavor_kinds(), key=lambda name: flavors_module._KINDS[name].priority)
    assert order[-2:] == ["sklearn", "pyfunc"]  # the generic ones are asked last


def test_a_registered_flavor_is_picked_and_a_bad_one_is_refused(
    rule_flavor: type[Flavor],
) -> None:
    assert flavor_for(Rule({"temp": 1.0}, 0.0)).name == "json-rule"
    assert flavor_for(ThresholdModel(1.0)).name == "pyfunc"

    class Nameless(RuleFlavor):
        name: ClassVar[str] = "no spaces/allowed"

    with pytest.raises(ConfigurationError, match="needs a name of letters, digits"):
        register_flavor(Nameless)
    with pytest.raises(ConfigurationError, match="must be a Flavor subclass"):
        register_flavor(Rule)  # type: ignore[type-var]


class CarelessFlavor(RuleFlavor):
    """Says its format runs code, then loads without asking for trust: the suite says no."""

    name: ClassVar[str] = "careless"
    trusted_required: ClassVar[bool] = True
    priority: ClassVar[int] = 10


def test_the_suite_catches_a_flavor_that_ignores_trust(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    flavors_module.flavor_kinds()
    monkeypatch.setitem(flavors_module._KINDS, CarelessFlavor.name, CarelessFlavor)
    counter = iter(range(100))

    def make() -> FlavorSubject:
        folder = tmp_path / str(next(counter))
        folder.mkdir()
        return FlavorSubject(
            model=Rule({"temp": 1.0}, 0.0),
            frame=_frame(rng)[NUMERIC],
            flavor="careless",
            folder=folder,
            models=None,  # type: ignore[arg-type]  # these checks need no registry
        )

    trust = [c for c in flavor_checks() if c.name.startswith("trust_is_required")]
    with pytest.raises(AssertionError, match=r"conformance check 'trust_is_required.*UnsafeModel"):
        run_checks(trust, make)


def test_a_missing_optional_dependency_skips_here_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import conftest

    assert need_module("json") is json
    monkeypatch.setattr(conftest, "REQUIRE_SERVICES", False)
    with pytest.raises(pytest.skip.Exception, match="'weekend_no_such_module' is not installed"):
        need_module("weekend_no_such_module")
    monkeypatch.setattr(conftest, "REQUIRE_SERVICES", True)
    with pytest.raises(pytest.fail.Exception, match="WEEKEND_REQUIRE_SERVICES=1 requires it"):
        need_module("weekend_no_such_module")
