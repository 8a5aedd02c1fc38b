"""The seeded data of bench/drift.py: W5 (PEERS.md) and the CBPE workload.

numpy and pyarrow only (imported inside the functions), so that any venv can import this.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

REFERENCE_ROWS = 200_000
CURRENT_ROWS = 100_000
NUMERIC = [f"num_{i}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
COLUMNS = NUMERIC + CATEGORICAL
LEVELS = (5, 10, 20, 35, 50)
DRIFTED = ["num_0", "num_1", "num_2", "num_3", "num_4", "cat_0"]


def _numeric(rng: Any, i: int, n: int, drift: bool) -> Any:
    """num_i: normal, lognormal, uniform(0, 4), exponential, cycling; with W5's drift."""
    shape = i % 4
    if shape == 0:
        values = rng.normal(0.0, 1.0, n)
        if drift and i == 0:
            values += 0.5
        if drift and i == 4:
            values *= 1.6  # sd x1.6 around its mean (0)
        return values
    if shape == 1:
        values = rng.lognormal(0.0, 0.5, n)
        return values * 1.5 if drift and i == 1 else values
    if shape == 2:
        values = rng.uniform(0.0, 4.0, n)
        return values + 0.8 if drift and i == 2 else values
    return rng.exponential(1.6 if drift and i == 3 else 1.0, n)


def make_w5(seed: int, rows: int, drift: bool) -> Any:
    """The reference (``drift=False``) or the current batch, as an Arrow table."""
    import numpy as np
    import pyarrow as pa

    fixed = np.random.default_rng([seed, 0])  # frequencies and the label model: both sides
    frequencies = [fixed.dirichlet([2.0] * k) for k in LEVELS]
    weights = fixed.normal(0, 0.5, len(NUMERIC))
    effects = [fixed.normal(0, 0.5, k) for k in LEVELS]
    rng = np.random.default_rng([seed, 2 if drift else 1])
    cols: dict[str, Any] = {}
    logit = np.zeros(rows)
    for i, name in enumerate(NUMERIC):
        cols[name] = _numeric(rng, i, rows, drift)
        logit += weights[i] * (cols[name] - cols[name].mean()) / cols[name].std()
    for i, (name, levels) in enumerate(zip(CATEGORICAL, LEVELS, strict=True)):
        p = frequencies[i]
        if drift and i == 0:
            p = 0.5 * p[::-1] + 0.5 / levels
        codes = rng.choice(levels, size=rows, p=p)
        logit += effects[i][codes]
        labels = np.array([f"{name}_{k}" for k in range(levels)], dtype=object)
        cols[name] = pa.array(labels[codes], type=pa.string())
    cols["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return pa.table(cols)


def make_cbpe(seed: int, rows: int, chunks: int, analysis: bool) -> Any:
    """Scores, predicted classes and labels: the reference, or an analysis period whose
    inputs move chunk by chunk (the relation between inputs and label stays)."""
    import numpy as np
    import pyarrow as pa

    truth = np.array([1.0, -0.7, 0.5, 0.3, -0.4])
    model = truth + np.random.default_rng([seed, 5]).normal(0, 0.15, len(truth))  # imperfect
    rng = np.random.default_rng([seed, 3 if analysis else 4])
    step = np.repeat(np.arange(chunks), rows // chunks) if analysis else np.zeros(rows)
    x = rng.normal(0, 1, (rows, len(truth)))
    x *= (1 - 0.06 * step)[:, None]  # the inputs narrow chunk by chunk (the AUC falls) ...
    x[:, 0] += 0.12 * step  # ... and move
    x[:, 1] -= 0.06 * step
    y = rng.random(rows) < 1 / (1 + np.exp(-(x @ truth - 0.3)))
    score = 1 / (1 + np.exp(-1.4 * (x @ model - 0.3)))  # and miscalibrated
    return pa.table(
        {
            "y_pred_proba": score,
            "y_pred": (score >= 0.5).astype(np.int64),
            "y_true": y.astype(np.int64),
        }
    )


def ensure_data(root: Path, args: argparse.Namespace) -> dict[str, str]:
    """Write the four Parquet files once (the seed and sizes are in their names)."""
    import pyarrow.parquet as pq

    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[str, Callable[[], Any]]] = {
        "reference": (
            f"w5-reference-{args.seed}.parquet",
            lambda: make_w5(args.seed, REFERENCE_ROWS, False),
        ),
        "current": (
            f"w5-current-{args.seed}.parquet",
            lambda: make_w5(args.seed, CURRENT_ROWS, True),
        ),
        "cbpe_reference": (
            f"cbpe3-reference-{args.cbpe_reference}-{args.seed}.parquet",
            lambda: make_cbpe(args.seed, args.cbpe_reference, 1, False),
        ),
        "cbpe_analysis": (
            f"cbpe3-analysis-{args.cbpe_analysis}-{args.chunk}-{args.seed}.parquet",
            lambda: make_cbpe(
                args.seed, args.cbpe_analysis, args.cbpe_analysis // args.chunk, True
            ),
        ),
    }
    out = {}
    for key, (name, make) in files.items():
        path = root / name
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            pq.write_table(make(), tmp)
            tmp.replace(path)
        out[key] = str(path)
    return out
