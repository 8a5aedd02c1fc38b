"""Workload W3 (serving): the seeded tabular data and the HistGradientBoosting pipeline.

The spec (shared with the peers' measurements): a reference batch (200,000 rows) and a
current batch (100,000 rows); columns ``num_0..num_14`` (float64, cycling normal, lognormal,
uniform, exponential), ``cat_0..cat_4`` (strings; 5, 10, 20, 35 and 50 categories with
Dirichlet(2) frequencies) and ``label`` (int8, drawn from a fixed logistic model of all
columns). The current batch drifts in exactly six columns: ``num_0`` mean +0.5 sd, ``num_1``
x1.5, ``num_2`` +0.8 (0.2 of its range), ``num_3`` scale x1.6, ``num_4`` sd x1.6 around its
mean, ``cat_0`` reversed frequencies mixed half with uniform.

The model: ``Pipeline([ColumnTransformer([("cat", OrdinalEncoder(handle_unknown=
"use_encoded_value", unknown_value=-1), cat columns)], remainder="passthrough"),
HistGradientBoostingClassifier(max_iter=100, categorical_features=the 5 encoded columns)])``
trained on the reference batch. Requests are rows of the current batch.

Importable from the project's venv and from a peer's (numpy, pandas and scikit-learn only).
"""

from __future__ import annotations

from typing import Any

N_NUM = 15
CAT_LEVELS = (5, 10, 20, 35, 50)
NUM = [f"num_{i}" for i in range(N_NUM)]
CAT = [f"cat_{j}" for j in range(len(CAT_LEVELS))]
FEATURES = NUM + CAT
LABEL = "label"
REFERENCE_ROWS = 200_000
CURRENT_ROWS = 100_000
SEED = 20261206


def _numeric(rng: Any, i: int, n: int) -> Any:
    kind = i % 4
    if kind == 0:
        return rng.normal(0.0, 1.0, n)
    if kind == 1:
        return rng.lognormal(0.0, 0.5, n)
    if kind == 2:
        return rng.uniform(0.0, 4.0, n)
    return rng.exponential(1.0, n)


def _categories(j: int) -> list[str]:
    return [f"c{j}_{k:02d}" for k in range(CAT_LEVELS[j])]


def _frequencies(seed: int) -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    return [rng.dirichlet(np.full(levels, 2.0)) for levels in CAT_LEVELS]


def _drift(rng: Any, data: dict[str, Any], freqs: list[Any], n: int) -> None:
    """The six drifted columns of the current batch, in place."""
    import numpy as np

    data["num_0"] = data["num_0"] + 0.5  # normal(0, 1): mean + 0.5 sd
    data["num_1"] = data["num_1"] * 1.5  # lognormal: x1.5
    data["num_2"] = data["num_2"] + 0.8  # uniform(0, 4): + 0.2 of its range
    data["num_3"] = data["num_3"] * 1.6  # exponential: scale x1.6
    mean4 = 0.0
    data["num_4"] = mean4 + (data["num_4"] - mean4) * 1.6  # normal: sd x1.6 around its mean
    p = freqs[0][::-1] * 0.5 + 0.5 / len(freqs[0])
    names = np.asarray(_categories(0), dtype=object)
    data["cat_0"] = names[rng.choice(len(names), size=n, p=p / p.sum())]


def make_frame(n: int, *, current: bool = False, seed: int = SEED) -> Any:
    """A W3 batch of ``n`` rows (features and ``label``) as a pandas DataFrame."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed + (7 if current else 0))
    freqs = _frequencies(seed)
    data: dict[str, Any] = {name: _numeric(rng, i, n) for i, name in enumerate(NUM)}
    for j, name in enumerate(CAT):
        names = np.asarray(_categories(j), dtype=object)
        data[name] = names[rng.choice(len(names), size=n, p=freqs[j])]
    if current:
        _drift(rng, data, freqs, n)
    # the fixed logistic model of all columns (drawn once from the seed, not per batch)
    weights = np.random.default_rng(seed + 2)
    logit = np.full(n, -0.3)
    for i, name in enumerate(NUM):
        centre = (0.0, 1.13, 2.0, 1.0)[i % 4]
        logit += weights.normal(0, 0.6) * (np.asarray(data[name]) - centre)
    for j, name in enumerate(CAT):
        effects = weights.normal(0, 0.8, CAT_LEVELS[j])
        codes = pd.Categorical(data[name], categories=_categories(j)).codes
        logit += effects[codes]
    data[LABEL] = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("int8")
    return pd.DataFrame(data)


def make_model(reference: Any) -> Any:
    """The W3 pipeline, fitted on ``reference`` (a frame from :func:`make_frame`)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CAT,
            )
        ],
        remainder="passthrough",
    )
    model = Pipeline(
        [
            ("encode", encode),
            (
                "hgb",
                HistGradientBoostingClassifier(
                    max_iter=100,
                    categorical_features=list(range(len(CAT))),
                    random_state=0,
                ),
            ),
        ]
    )
    model.fit(reference[FEATURES], reference[LABEL])
    return model


__all__ = [
    "CAT",
    "CAT_LEVELS",
    "CURRENT_ROWS",
    "FEATURES",
    "LABEL",
    "NUM",
    "REFERENCE_ROWS",
    "SEED",
    "make_frame",
    "make_model",
]
