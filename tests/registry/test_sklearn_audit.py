"""A crafted scikit-learn package cannot crash the process that loads it.

skops leaves ``Tree`` and ``TreePredictor`` untrusted because their node indices are not
bounds-checked; weekend trusts them (and KD/ball trees, distance metrics and B-splines) only
because every instance is checked before the model can be used. The crafted models below
are built in this process but never predicted here: the prediction runs in a subprocess, so
that a segmentation fault fails the test instead of killing pytest.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    AdaBoostClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
    StackingClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import (
    KernelDensity,
    KNeighborsClassifier,
    KNeighborsRegressor,
    LocalOutlierFactor,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from weekend.core.errors import UnsafeModelError
from weekend.registry._flavor_sklearn import SAFE_TYPES, SklearnFlavor
from weekend.registry._flavor_sklearn_audit import STRUCTURAL_TYPES, audit_model
from weekend.workspace import Workspace

N_FEATURES = 5


def _x(rng: np.random.Generator, n: int = 300) -> np.ndarray[Any, Any]:
    return rng.normal(size=(n, N_FEATURES))


def _fit(model: Any, x: Any, y: Any = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and the like: not what is tested
        return model.fit(x) if y is None else model.fit(x, y)


def _set_tree_nodes(tree: Any, field: str, node: int, value: Any) -> None:
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes[field][node] = value
    state["nodes"] = nodes
    tree.__setstate__(state)


def _first_split(tree: Any) -> int:
    return int(np.flatnonzero(tree.children_left != -1)[0])


# -- crafted models --------------------------------------------------------------------------


def _tree_child_out_of_range(rng: np.random.Generator) -> Any:
    """The issue's case: a decision tree whose root has a child index far beyond its nodes."""
    x = _x(rng)
    model = _fit(DecisionTreeClassifier(max_depth=3), x, (x[:, 0] > 0).astype(int))
    _set_tree_nodes(model.tree_, "left_child", 0, 10**9)
    return model


def _forest_feature_out_of_range(rng: np.random.Generator) -> Any:
    x = _x(rng)
    model = _fit(RandomForestClassifier(n_estimators=5, max_depth=4), x, x[:, 1] > 0)
    tree = model.estimators_[3].tree_
    _set_tree_nodes(tree, "feature", _first_split(tree), 10**8)
    return model


def _predictor_child_out_of_range(rng: np.random.Generator) -> Any:
    x = _x(rng)
    model = _fit(HistGradientBoostingRegressor(max_iter=5), x, x[:, 0] * 3)
    model._predictors[2][0].nodes["left"][0] = 3 * 10**9
    return model


def _kd_tree_index_out_of_range(rng: np.random.Generator) -> Any:
    x = _x(rng)
    model = _fit(KNeighborsClassifier(algorithm="kd_tree"), x, x[:, 0] > 0)
    state = list(model._tree.__getstate__())
    state[1] = state[1].copy()
    state[1][:] = 10**9
    model._tree.__setstate__(tuple(state))
    return model


CRASHERS: dict[str, Callable[[np.random.Generator], Any]] = {
    "tree child": _tree_child_out_of_range,
    "forest feature": _forest_feature_out_of_range,
    "histogram predictor child": _predictor_child_out_of_range,
    "kd-tree index": _kd_tree_index_out_of_range,
}

CHILD = """
import sys

import numpy as np
import pandas as pd

from weekend.core.errors import UnsafeModelError
from weekend.core.settings import load_settings
from weekend.workspace import Workspace

ws = Workspace(load_settings(sys.argv[1]))
try:
    model = ws.models.load(sys.argv[2])
except UnsafeModelError as exc:
    print("refused:", exc)
    raise SystemExit(0) from None
print("loaded", flush=True)
model.predict(pd.DataFrame(np.random.default_rng(0).normal(size=(64, int(sys.argv[3])))))
print("predicted", flush=True)
"""


@pytest.mark.parametrize("case", sorted(CRASHERS))
def test_a_crafted_model_is_refused_before_it_can_crash(
    ws: Workspace, rng: np.random.Generator, case: str
) -> None:
    version = ws.models.register(CRASHERS[case](rng), "crafted")
    assert not version.trusted_required  # every type in the file is on the allow-list
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ws.root), version.ref, str(N_FEATURES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (
        f"the prediction process ended with code {done.returncode} "
        f"(negative: killed by that signal)\n{done.stdout}\n{done.stderr}"
    )
    assert "loaded" not in done.stdout
    assert "refused: model file 'model.skops' holds an inconsistent" in done.stdout
    assert "trusted=True" in done.stdout


# -- each check, in process (nothing crafted here is ever predicted) ----------------------------


def _tree(rng: np.random.Generator, **params: Any) -> Any:
    x = _x(rng)
    return _fit(DecisionTreeRegressor(max_depth=4, **params), x, x[:, 0] + x[:, 1])


def _tree_edit(field: str, node: str, value: Any) -> Callable[[np.random.Generator], Any]:
    def make(rng: np.random.Generator) -> Any:
        model = _tree(rng)
        tree = model.tree_
        at = _first_split(tree) if node == "split" else int(np.flatnonzero(tree.feature < 0)[0])
        _set_tree_nodes(tree, field, at, value)
        return model

    return make


def _tree_cycle(rng: np.random.Generator) -> Any:
    model = _tree(rng)
    split = int(np.flatnonzero(model.tree_.children_left != -1)[1])
    _set_tree_nodes(model.tree_, "left_child", split, 0)
    return model


def _tree_shared_child(rng: np.random.Generator) -> Any:
    model = _tree(rng)
    tree = model.tree_
    _set_tree_nodes(tree, "right_child", 0, int(tree.children_left[0]))
    return model


def _tree_too_deep(rng: np.random.Generator) -> Any:
    model = _tree(rng)
    state = model.tree_.__getstate__()
    state["max_depth"] = 1
    model.tree_.__setstate__(state)
    return model


def _tree_nan_value(rng: np.random.Generator) -> Any:
    model = _tree(rng)
    state = model.tree_.__getstate__()
    state["values"] = state["values"].copy()
    state["values"][3] = np.nan
    model.tree_.__setstate__(state)
    return model


def _tree_wider_than_estimator(rng: np.random.Generator) -> Any:
    model = _tree(rng)
    model.n_features_in_ = 3
    return model


def _orphan_tree(rng: np.random.Generator) -> Any:
    model = _fit(Ridge(), _x(rng), rng.normal(size=300))
    model.hidden = _tree(rng).tree_
    return model


def _boosting_table_too_wide(rng: np.random.Generator) -> Any:
    x = _x(rng)
    model = _fit(GradientBoostingRegressor(n_estimators=4), x, x[:, 0])
    model.estimators_ = np.concatenate([model.estimators_, model.estimators_], axis=1)
    model.n_trees_per_iteration_ = 2
    return model


def _boosting_tree_on_other_features(rng: np.random.Generator) -> Any:
    x = _x(rng)
    model = _fit(GradientBoostingRegressor(n_estimators=4), x, x[:, 0])
    wide = _fit(DecisionTreeRegressor(max_depth=2), np.c_[x, x], x[:, 0])
    model.estimators_[2, 0] = wide
    return model


def _hist(rng: np.random.Generator, categorical: bool = False) -> Any:
    x = pd.DataFrame(_x(rng), columns=list("abcde"))
    y = rng.integers(0, 3, len(x))
    if categorical:
        x["e"] = pd.Categorical(rng.choice(["u", "v", "w"], len(x)))
        y = np.where(x["e"] == "u", 0, y)
    params = {"categorical_features": "from_dtype"} if categorical else {}
    return _fit(HistGradientBoostingClassifier(max_iter=4, **params), x, y)


def _hist_node(field: str, value: Any, categorical: bool = False) -> Callable[..., Any]:
    def make(rng: np.random.Generator) -> Any:
        model = _hist(rng, categorical)
        nodes = model._predictors[1][2].nodes
        split = np.flatnonzero(
            (nodes["is_leaf"] == 0) & (nodes["is_categorical"] == (1 if categorical else 0))
        )
        nodes[field][split[0]] = value
        return model

    return make


def _hist_leaf_into_split(rng: np.random.Generator) -> Any:
    model = _hist(rng)
    nodes = model._predictors[0][0].nodes
    nodes["right"][0] = nodes["left"][0]
    return model


def _hist_dropping_preprocessor(rng: np.random.Generator) -> Any:
    model = _hist(rng, categorical=True)
    name, trans, columns = model._preprocessor.transformers_[1]
    columns = columns.copy()
    columns[0] = False
    model._preprocessor.transformers_[1] = (name, trans, columns)
    return model


def _hist_missing_predictor(rng: np.random.Generator) -> Any:
    model = _hist(rng)
    model._predictors[1].pop()
    return model


def _hist_categorical_on_numeric(rng: np.random.Generator) -> Any:
    model = _hist(rng, categorical=True)
    model._bin_mapper.is_categorical_[:] = 0
    return model


def _ball_tree_metric_weights(rng: np.random.Generator) -> Any:
    x = _x(rng)
    model = KNeighborsRegressor(
        algorithm="ball_tree", metric="minkowski", p=3, metric_params={"w": np.ones(N_FEATURES)}
    )
    model = _fit(model, x, x[:, 0])
    state = list(model._tree.__getstate__())
    metric = state[11]
    p, _, mat = metric.__getstate__()
    metric.__setstate__((p, np.ones(2), mat))
    return model


def _kd_tree_node_range(rng: np.random.Generator) -> Any:
    model = _fit(KernelDensity(algorithm="kd_tree"), _x(rng))
    state = list(model.tree_.__getstate__())
    state[2] = state[2].copy()
    state[2]["idx_end"][-1] = 10**6
    model.tree_.__setstate__(tuple(state))
    return model


def _kd_tree_inner_leaf(rng: np.random.Generator) -> Any:
    model = _fit(KNeighborsRegressor(algorithm="kd_tree", leaf_size=5), _x(rng), rng.random(300))
    state = list(model._tree.__getstate__())
    state[2] = state[2].copy()
    state[2]["is_leaf"][-1] = 0
    model._tree.__setstate__(tuple(state))
    return model


def _spline_short_coefficients(rng: np.random.Generator) -> Any:
    model = _fit(make_pipeline(SplineTransformer(), Ridge()), _x(rng), rng.normal(size=300))
    spline = model[0].bsplines_[1]
    spline._c = spline._c[:2].copy()
    return model


REFUSALS: dict[str, tuple[Callable[[np.random.Generator], Any], str]] = {
    "child out of range": (_tree_edit("left_child", "split", 10**6), r"node \d+ has children"),
    "child before parent": (_tree_cycle, r"node \d+ has children 0 and"),
    "two parents": (_tree_shared_child, r"has children (\d+) and \1|2 parents"),
    "one child": (_tree_edit("right_child", "leaf", 1), "has one child only"),
    "feature out of range": (_tree_edit("feature", "split", 5), "splits on feature 5, outside"),
    "negative feature": (_tree_edit("feature", "split", -3), "splits on feature -3"),
    "NaN threshold": (_tree_edit("threshold", "split", np.nan), "NaN threshold"),
    "shallow max_depth": (_tree_too_deep, "a leaf at depth 4 lies below max_depth 1"),
    "NaN value": (_tree_nan_value, "value array holds NaN"),
    "estimator narrower than tree": (_tree_wider_than_estimator, "n_features_in_ 3 differs"),
    "orphan tree": (_orphan_tree, r"model\.hidden: a tree outside the estimator"),
    "boosting table too wide": (_boosting_table_too_wide, r"gives \(1, 1\) raw predictions"),
    "boosting tree on other features": (
        _boosting_tree_on_other_features,
        r"estimators_\[2, 0\]: expected a tree fitted on the ensemble's 5 features",
    ),
    "predictor child": (_hist_node("left", 10**5), r"_predictors\[1\]\[2\]: node \d+ has"),
    "predictor feature": (_hist_node("feature_idx", 7), "splits on feature 7, outside the 5"),
    "predictor NaN threshold": (_hist_node("num_threshold", np.nan), "NaN threshold"),
    "predictor bitset": (_hist_node("bitset_idx", 99, categorical=True), "bitset that does not"),
    "predictor shared child": (_hist_leaf_into_split, r"has children (\d+) and \1"),
    "categorical on numeric": (_hist_categorical_on_numeric, "the bin mapper calls numeric"),
    "preprocessor drops a column": (_hist_dropping_preprocessor, "every column exactly once"),
    "missing predictor": (_hist_missing_predictor, r"_predictors\[1\]: expected 3 predictors"),
    "metric weights": (_ball_tree_metric_weights, "has 2 weights for 5 features"),
    "kd-tree node range": (_kd_tree_node_range, "row range lies outside the data"),
    "kd-tree inner leaf": (_kd_tree_inner_leaf, "on the last level is not a leaf"),
    "spline coefficients": (_spline_short_coefficients, "inconsistent"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_each_inconsistency_is_refused_with_its_place(
    tmp_path: Path, rng: np.random.Generator, case: str
) -> None:
    make, message = REFUSALS[case]
    model = make(rng)
    with pytest.raises(UnsafeModelError, match=message):
        audit_model(model, "model.skops")
    # the same through the flavor, from the file: the check runs on what skops rebuilt
    info = SklearnFlavor().save(model, tmp_path)
    assert info["details"]["needs_trusted"] == []
    with pytest.raises(UnsafeModelError, match=rf"(?s)inconsistent.*{message}.*trusted=True"):
        SklearnFlavor().load(tmp_path, info)
    SklearnFlavor().load(tmp_path, info, trusted=True)  # vouched for: not checked


# -- what scikit-learn itself writes always passes ---------------------------------------------


def _data(rng: np.random.Generator) -> tuple[Any, Any, Any, Any]:
    x = _x(rng, 400)
    x[::7, 2] = np.nan  # trees split off missing values with an infinite threshold
    filled = np.nan_to_num(x)
    binary = (filled[:, 0] + rng.normal(size=len(x)) > 0).astype(int)
    return x, filled, binary, rng.integers(0, 3, len(x))


def _legit(rng: np.random.Generator) -> list[tuple[str, Any, Any, Any]]:
    x, filled, binary, three = _data(rng)
    target = filled[:, 1] * 2 + rng.normal(size=len(x))
    frame = pd.DataFrame(filled, columns=list("abcde"))
    frame["e"] = pd.Categorical(rng.choice(["x", "y", "z"], len(x)))
    stack = [("rf", RandomForestClassifier(n_estimators=4)), ("lr", LogisticRegression())]
    return [
        ("decision tree, missing values", DecisionTreeClassifier(), x, binary),
        ("multi-output tree", DecisionTreeRegressor(), filled, np.c_[target, -target]),
        ("random forest", RandomForestClassifier(n_estimators=10), x, three),
        ("extra trees", ExtraTreesRegressor(n_estimators=5), filled, target),
        ("boosting, binary", GradientBoostingClassifier(n_estimators=10), filled, binary),
        ("boosting, 3 classes", GradientBoostingClassifier(n_estimators=5), filled, three),
        (
            "boosting, zero init",
            GradientBoostingRegressor(n_estimators=5, init="zero"),
            filled,
            target,
        ),
        (
            "boosting, estimator init",
            GradientBoostingClassifier(n_estimators=5, init=LogisticRegression()),
            filled,
            three,
        ),
        ("histogram boosting", HistGradientBoostingClassifier(max_iter=10), x, three),
        (
            "histogram boosting, categories",
            HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype"),
            frame,
            three,
        ),
        ("isolation forest", IsolationForest(n_estimators=10), filled, None),
        ("AdaBoost", AdaBoostClassifier(n_estimators=5), filled, binary),
        ("stacking", StackingClassifier(stack), filled, binary),
        ("k-d tree", KNeighborsClassifier(algorithm="kd_tree", metric="manhattan"), filled, three),
        (
            "ball tree, weighted Minkowski",
            KNeighborsRegressor(
                algorithm="ball_tree", p=3, metric_params={"w": np.arange(1.0, 6.0)}
            ),
            filled,
            target,
        ),
        ("kernel density", KernelDensity(), filled, None),
        ("local outlier factor", LocalOutlierFactor(novelty=True), filled, None),
        ("splines", make_pipeline(SplineTransformer(extrapolation="periodic"), Ridge()), x, None),
        ("calibrated tree", CalibratedClassifierCV(DecisionTreeClassifier()), filled, binary),
    ]


def _outputs(model: Any, x: Any) -> np.ndarray[Any, Any]:
    for method in ("predict_proba", "predict", "score_samples"):
        if hasattr(model, method):
            return np.asarray(getattr(model, method)(x))
    raise AssertionError(f"{type(model).__name__} predicts nothing")


def test_models_scikit_learn_writes_load_without_trust_and_predict_the_same(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    covered: set[str] = set()
    for name, model, x, y in _legit(rng):
        if name == "splines":
            x, y = np.nan_to_num(x), rng.normal(size=len(x))
        _fit(model, x, y)
        folder = tmp_path / name.replace(" ", "-").replace(",", "")
        info = SklearnFlavor().save(model, folder)
        assert info["details"]["needs_trusted"] == [], name
        covered |= set(info["details"]["skops_types"]) & STRUCTURAL_TYPES
        loaded = SklearnFlavor().load(folder, info)
        np.testing.assert_array_equal(_outputs(loaded.raw, x), _outputs(model, x), err_msg=name)
    assert covered == STRUCTURAL_TYPES  # every checked type met a real model


def test_what_skops_distrusts_for_unchecked_indices_weekend_checks() -> None:
    from skops.io.exceptions import UNTRUSTED_TYPE_REASONS

    assert STRUCTURAL_TYPES <= SAFE_TYPES
    assert set(UNTRUSTED_TYPE_REASONS) <= STRUCTURAL_TYPES
