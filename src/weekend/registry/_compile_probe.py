"""The probe set a compiled model is checked on: rows that reach every part of the model.

Random rows alone would miss what converters get wrong: a threshold rounded to float32
misroutes only the values between the two, an unknown category or a missing value takes a
branch of its own, a category split ignored by a converter shows only on the categories it
splits. The probe is therefore built from what the version knows about its inputs:

* every column's values come from the signature (types, nullability, categories), the
  training data's profile when the version has one (range, mean and spread, frequent
  values), and the model itself: every category its encoders know, plus one they do not
  know for text columns, and a missing value where the signature allows one;
* for tree models (scikit-learn trees and HistGradientBoosting on columns that reach them
  unchanged, LightGBM, XGBoost) every split threshold, its float64 neighbours and its
  float32 rounding with that one's neighbours, each in a row of its own (at most
  :data:`SWEEP_ROWS` such rows, sampled evenly when there are more);
* the caller's own rows (``compiled(probe=...)``: the input example, recent traffic).

Everything is seeded: the same version gives the same probe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from weekend.registry._compiled import CompileUnsupportedError
from weekend.registry._flavors import LoadedModel
from weekend.registry._signature import ColumnSpec, Signature

Array = np.ndarray[Any, Any]
BASE_ROWS = 1024
SWEEP_ROWS = 6000
UNKNOWN = "__weekend_probe_unknown__"
SEED = 20261206


def _variants(thresholds: Array) -> Array:
    t = np.unique(thresholds[np.isfinite(thresholds)].astype(np.float64))
    f32 = t.astype(np.float32)
    parts = [
        t,
        np.nextafter(t, -np.inf),
        np.nextafter(t, np.inf),
        f32.astype(np.float64),
        np.nextafter(f32, np.float32(-np.inf)).astype(np.float64),
        np.nextafter(f32, np.float32(np.inf)).astype(np.float64),
    ]
    out: Array = np.unique(np.concatenate(parts))
    return out[np.isfinite(out)]


def _sklearn_splits(final: Any) -> dict[int, list[Array]]:
    """Split thresholds of a scikit-learn tree model by feature position."""
    found: dict[int, list[Array]] = {}
    predictors = getattr(final, "_predictors", None)
    if predictors is not None:  # HistGradientBoosting
        for per_iteration in predictors:
            for predictor in per_iteration:
                nodes = predictor.nodes
                split = (nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 0)
                for f in np.unique(nodes["feature_idx"][split]):
                    rows = split & (nodes["feature_idx"] == f)
                    found.setdefault(int(f), []).append(nodes["num_threshold"][rows])
        return found
    estimators = getattr(final, "estimators_", None)
    trees = [final] if hasattr(final, "tree_") else list(np.ravel(estimators or []))
    for est in trees:
        tree = getattr(est, "tree_", None)
        if tree is None:
            continue
        for f in np.unique(tree.feature[tree.feature >= 0]):
            found.setdefault(int(f), []).append(tree.threshold[tree.feature == f])
    return found


def _booster_splits(original: LoadedModel) -> dict[str, list[Array]]:
    raw = original.raw
    found: dict[str, list[Array]] = {}
    if original.flavor == "lightgbm":
        names = raw.feature_name()
        stack = [tree["tree_structure"] for tree in raw.dump_model().get("tree_info", [])]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                if node.get("decision_type") == "<=":
                    name = names[node["split_feature"]]
                    found.setdefault(name, []).append(np.asarray([float(node["threshold"])]))
                stack += [node["left_child"], node["right_child"]]
    elif original.flavor == "xgboost":
        booster = raw.get_booster() if hasattr(raw, "get_booster") else raw
        frame = booster.trees_to_dataframe()
        frame = frame[frame["Feature"] != "Leaf"]
        for name, group in frame.groupby("Feature"):
            found.setdefault(str(name), []).append(group["Split"].to_numpy(dtype=np.float64))
    return found


def splits_by_column(original: LoadedModel) -> dict[str, Array]:
    """Threshold values (with neighbours) of the number columns the trees split on."""
    by_name: dict[str, list[Array]] = {}
    if original.flavor == "sklearn":
        from weekend.registry._compile_encode import EncodeUnsupportedError, compile_columns

        try:
            program, final = compile_columns(original.raw)
        except EncodeUnsupportedError:
            return {}
        identity = program.identity
        for position, values in _sklearn_splits(final).items():
            if position in identity:
                by_name.setdefault(identity[position], []).extend(values)
    elif original.flavor in ("lightgbm", "xgboost"):
        by_name = _booster_splits(original)
    return {name: _variants(np.concatenate(v)) for name, v in by_name.items() if v}


def _profile_column(profile: Any, name: str) -> Any:
    for column in getattr(profile, "columns", ()):
        if column.name == name:
            return column
    return None


def _number_pool(spec: ColumnSpec, stats: Any, rng: np.random.Generator) -> Array:
    parts = [np.array([0.0, 1.0, -1.0]), rng.normal(0, 1, 64), rng.normal(0, 25, 32)]
    numeric = getattr(stats, "numeric", None)
    if numeric is not None and numeric.min is not None and numeric.max is not None:
        low, high = float(numeric.min), float(numeric.max)
        sd = float(numeric.variance or 0.0) ** 0.5
        mean = float(numeric.mean if numeric.mean is not None else (low + high) / 2)
        parts += [np.array([low, high, mean]), rng.uniform(low, high, 128)]
        parts.append(rng.normal(mean, sd or 1.0, 128))
    pool = np.concatenate(parts)
    if spec.type == "int":
        pool = np.clip(np.round(pool), -(2**62), 2**62)
    return pool


def _text_pool(spec: ColumnSpec, known: Sequence[Any], stats: Any) -> list[Any]:
    if spec.type == "category":
        return list(spec.categories or ())
    values = [v for v in known if isinstance(v, str)]
    top = getattr(getattr(stats, "categorical", None), "top", ())
    values += [v for v, _ in top if isinstance(v, str)]
    return [*sorted(set(values)), UNKNOWN]


def _column(spec: ColumnSpec, pool: Sequence[Any] | Array, picks: Array) -> Any:
    values = np.asarray(pool, dtype=object)[picks]
    if spec.type == "float":
        return values.astype(np.float64)
    if spec.type == "int":
        return np.asarray([int(v) for v in values], dtype=np.int64)
    if spec.type == "bool":
        return values.astype(bool)
    if spec.type == "category":
        return pd.Categorical(values, categories=list(spec.categories or ()))
    return values


def probe_frame(
    signature: Signature,
    original: LoadedModel,
    *,
    profile: Any = None,
    categories: dict[str, list[Any]] | None = None,
    extra: Sequence[pd.DataFrame] = (),
    seed: int = SEED,
) -> pd.DataFrame:
    """The validated probe frame of a model (see the module doc)."""
    rng = np.random.default_rng(seed)
    splits = splits_by_column(original)
    pools: dict[str, Any] = {}
    for spec in signature.inputs:
        stats = _profile_column(profile, spec.name)
        if spec.type in ("date", "timestamp"):
            raise CompileUnsupportedError(f"column {spec.name!r} is a {spec.type}")
        if spec.type in ("float", "int"):
            pool: Any = _number_pool(spec, stats, rng)
            if spec.name in splits:
                pool = np.concatenate([pool, splits[spec.name]])
            if spec.nullable and spec.type == "float":
                pool = np.append(pool, np.nan)
        elif spec.type == "bool":
            pool = [True, False]
        else:
            pool = _text_pool(spec, (categories or {}).get(spec.name, ()), stats)
            if spec.nullable:
                pool = [*pool, None]
        if len(pool) == 0:
            raise CompileUnsupportedError(f"no probe values for column {spec.name!r}")
        pools[spec.name] = pool
    data = {
        spec.name: _column(
            spec, pools[spec.name], rng.integers(0, len(pools[spec.name]), BASE_ROWS)
        )
        for spec in signature.inputs
    }
    frame = pd.DataFrame(data)
    frames = [signature.validate(f) for f in extra] + [frame, _sweep(signature, frame, splits, rng)]
    return signature.validate(pd.concat(frames, ignore_index=True))


def _sweep(
    signature: Signature, base: pd.DataFrame, splits: dict[str, Array], rng: np.random.Generator
) -> pd.DataFrame:
    """Rows that each put one column at one threshold value (the rest from the base rows)."""
    kinds = {spec.name: spec.type for spec in signature.inputs}
    pairs = [(name, v) for name, values in splits.items() if name in kinds for v in values]
    if not pairs:
        return base.iloc[:0]
    if len(pairs) > SWEEP_ROWS:
        pairs = [pairs[int(i)] for i in np.linspace(0, len(pairs) - 1, SWEEP_ROWS)]
    rows = base.iloc[rng.integers(0, len(base), len(pairs))].reset_index(drop=True)
    for name in {name for name, _ in pairs}:
        where = [i for i, (n, _) in enumerate(pairs) if n == name]
        values = np.asarray([pairs[i][1] for i in where])
        if kinds[name] == "int":
            values = np.clip(np.round(values), -(2**62), 2**62).astype(np.int64)
        column = rows[name].to_numpy(copy=True)
        column[where] = values
        rows[name] = column
    return rows


__all__ = ["BASE_ROWS", "SWEEP_ROWS", "probe_frame", "splits_by_column"]
