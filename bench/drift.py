"""W5 drift detection against Evidently and a plain scipy pass; CBPE against NannyML.

    .venv/bin/python bench/drift.py                 # full: 3 repetitions of each side
    .venv/bin/python bench/drift.py --quick         # smoke run: 1 repetition, smaller CBPE
    .venv/bin/python bench/drift.py --no-nannyml --json bench/results/drift.json

**W5** (``../shared/PEERS.md``): a seeded reference of 200,000 rows and a current batch of
100,000 rows, 20 columns: ``num_0..num_14`` (float64; cycling normal, lognormal, uniform,
exponential) and ``cat_0..cat_4`` (strings; 5, 10, 20, 35, 50 categories, Dirichlet(2)
frequencies), plus a ``label`` (int8, from a fixed logistic model of all columns) that no
side compares. The current batch drifts in exactly 6 columns: num_0 mean +0.5 sd, num_1
x1.5, num_2 +0.8 (0.2 of its range), num_3 scale x1.6, num_4 sd x1.6 around its mean, cat_0
reversed frequencies mixed half with uniform. Written once to ``bench/.data/drift/``.

Each side runs in a fresh process of its own venv, the sides interleaved, ``--reps`` times;
each reads the two Parquet files and imports its libraries before the clock starts, and is
timed on the comparison alone; the peak RSS (``VmHWM``) is the whole process's:

- **weekend**: ``weekend.monitoring.stats.compare_columns`` on the Arrow columns (KS,
  chi-square, Benjamini-Hochberg, the minimum-effect rule; threads over columns), in
  ``bench/.venvs/weekend`` (weekend's runtime dependencies only);
- **plain scipy**: ``ks_2samp`` on the numeric columns and ``chi2_contingency`` on the
  pandas ``value_counts`` of the categorical ones, p < 0.05 without multiple-testing control
  (the lower bound: what any tool must at least compute), same venv;
- **Evidently 0.7** ``Report([DataDriftPreset()])`` in ``bench/.venvs/evidently``
  (``pandas<3``: it fails to import with pandas 3).

Targets: weekend >= 20x faster than Evidently, at most a third of its peak memory, within
1.5x of the plain scipy pass, and exactly the 6 drifted columns flagged.

**CBPE**: label-free performance estimation of a binary classifier, reference 200,000 rows,
analysis 1,000,000 rows in 10 chunks of 100,000 whose inputs move and narrow (covariate
shift), scores of a deliberately miscalibrated logistic model. NannyML 0.13 ``CBPE`` (its own venv,
``NML_DISABLE_USAGE_LOGGING=1``; its import, ~14 s here, is reported apart) against
``weekend.monitoring.PerformanceEstimator``: fit + estimate time, peak RSS and its growth
over the loaded data, and each side's estimated ROC AUC per chunk against the realized one.

This file is also the worker (``--worker NAME --spec JSON``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import _peer
import _stats
from _drift_data import COLUMNS, CURRENT_ROWS, DRIFTED, NUMERIC, REFERENCE_ROWS, ensure_data

EVIDENTLY = ["evidently==0.7.23", "pandas<3", "pyarrow"]
NANNYML = ["nannyml==0.13.1", "statsmodels", "pyarrow"]
METRICS = ["roc_auc", "f1", "precision", "recall", "accuracy"]
TARGET_EVIDENTLY_TIME = 20.0
TARGET_EVIDENTLY_MEMORY = 3.0
TARGET_SCIPY_TIME = 0.667  # within 1.5x of its time


# -- workers -----------------------------------------------------------------------------------
def peak_rss_bytes() -> int:
    """The peak resident set size of this process so far (``VmHWM``), in bytes."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def w5_weekend(spec: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq
    import scipy.spatial.distance
    import scipy.stats
    import scipy.stats.contingency

    from weekend.monitoring.stats import compare_columns

    del scipy  # imported before the clock, as on the other sides
    ref = pq.read_table(spec["reference"], columns=COLUMNS)
    cur = pq.read_table(spec["current"], columns=COLUMNS)
    kinds: dict[str, Any] = {c: "numeric" if c in NUMERIC else "categorical" for c in COLUMNS}
    ref_cols = {c: ref.column(c) for c in COLUMNS}
    cur_cols = {c: cur.column(c) for c in COLUMNS}
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    result = compare_columns(ref_cols, cur_cols, kinds)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "flagged": result.drifted,
        "significant_only": [c.column for c in result if c.significant and not c.drifted],
        "baseline_rss": baseline,
        "peak_rss": peak_rss_bytes(),
        "effects": {c.column: c.effect_size for c in result},
    }


def w5_weekend_files(spec: dict[str, Any]) -> dict[str, Any]:
    """``compare_tables`` from the two files: reading and kind inference included."""
    import scipy.spatial.distance
    import scipy.stats
    import scipy.stats.contingency

    from weekend.monitoring import compare_tables

    del scipy
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    report = compare_tables(spec["reference"], spec["current"], columns=COLUMNS)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "flagged": report.drifted,
        "baseline_rss": baseline,
        "peak_rss": peak_rss_bytes(),
    }


def w5_scipy(spec: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd
    from scipy import stats

    ref = pd.read_parquet(spec["reference"], columns=COLUMNS)
    cur = pd.read_parquet(spec["current"], columns=COLUMNS)
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    flagged = []
    for name in COLUMNS:
        if name in NUMERIC:
            p = stats.ks_2samp(ref[name].to_numpy(), cur[name].to_numpy()).pvalue
        else:
            counts = pd.concat([ref[name].value_counts(), cur[name].value_counts()], axis=1)
            p = stats.chi2_contingency(counts.fillna(0).to_numpy().T).pvalue
        if p < 0.05:
            flagged.append(name)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "flagged": flagged,
        "baseline_rss": baseline,
        "peak_rss": peak_rss_bytes(),
    }


def _evidently_flagged(snapshot: Any) -> list[str]:
    """The columns Evidently's ValueDrift metrics call drifted (score past the threshold)."""
    flagged = []
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            threshold = config.get("threshold")
            method = str(config.get("method", ""))
            value = float(metric["value"])
            p_value_like = "p_value" in method or "test" in method.lower()
            drifted = value < threshold if p_value_like else value >= threshold
            if drifted:
                flagged.append(config["column"])
    return sorted(flagged, key=COLUMNS.index)


def w5_evidently(spec: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd
    from evidently import Report  # type: ignore[import-not-found]
    from evidently.presets import DataDriftPreset  # type: ignore[import-not-found]

    ref = pd.read_parquet(spec["reference"], columns=COLUMNS)
    cur = pd.read_parquet(spec["current"], columns=COLUMNS)
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "flagged": _evidently_flagged(snapshot),
        "baseline_rss": baseline,
        "peak_rss": peak_rss_bytes(),
    }


def cbpe_weekend(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import pyarrow.parquet as pq
    import scipy.stats
    import sklearn.isotonic

    from weekend.monitoring import PerformanceEstimator

    del scipy, sklearn
    ref = pq.read_table(spec["reference"])
    ana = pq.read_table(spec["analysis"])
    ref_scores, ref_labels = ref.column("y_pred_proba").to_numpy(), ref.column("y_true").to_numpy()
    scores = ana.column("y_pred_proba").to_numpy()
    chunk = int(spec["chunk"])
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    estimator = PerformanceEstimator("binary").fit(ref_scores, ref_labels)
    estimates = [estimator.estimate(scores[i : i + chunk]) for i in range(0, len(scores), chunk)]
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "baseline_rss": baseline,
        "peak_rss": peak_rss_bytes(),
        "estimates": {
            m: [[e[m].value, e[m].lower, e[m].upper] for e in estimates] for m in METRICS
        },
        "n": [e.n for e in estimates],
        "numpy": np.__version__,
    }


def cbpe_nannyml(spec: dict[str, Any]) -> dict[str, Any]:
    os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
    import pandas as pd

    started = time.perf_counter()
    import nannyml as nml  # type: ignore[import-not-found]

    import_seconds = time.perf_counter() - started
    ref = pd.read_parquet(spec["reference"])
    ana = pd.read_parquet(spec["analysis"])
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    estimator = nml.CBPE(
        y_pred_proba="y_pred_proba",
        y_pred="y_pred",
        y_true="y_true",
        problem_type="classification_binary",
        metrics=METRICS,
        chunk_size=int(spec["chunk"]),
    )
    estimator.fit(ref)
    result = estimator.estimate(ana)
    seconds = time.perf_counter() - started
    frame = result.filter(period="analysis").to_df()
    estimates = {
        m: [
            [float(v), float(lo), float(hi)]
            for v, lo, hi in zip(
                frame[(m, "value")],
                frame[(m, "lower_confidence_boundary")],
                frame[(m, "upper_confidence_boundary")],
                strict=True,
            )
        ]
        for m in METRICS
    }
    return {
        "seconds": seconds,
        "import_seconds": import_seconds,
        "baseline_rss": baseline,
        "peak_rss": peak_rss_bytes(),
        "estimates": estimates,
    }


WORKERS = {
    "w5-weekend": w5_weekend,
    "w5-weekend-files": w5_weekend_files,
    "w5-scipy": w5_scipy,
    "w5-evidently": w5_evidently,
    "cbpe-weekend": cbpe_weekend,
    "cbpe-nannyml": cbpe_nannyml,
}


# -- the driver ---------------------------------------------------------------------------------
def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def realized(path: str, chunk: int) -> dict[str, list[float]]:
    """The realized metrics of each analysis chunk (its labels are in the file)."""
    import pyarrow.parquet as pq
    from sklearn import metrics

    table = pq.read_table(path)
    scores = table.column("y_pred_proba").to_numpy()
    labels = table.column("y_true").to_numpy()
    out: dict[str, list[float]] = {m: [] for m in METRICS}
    for i in range(0, len(scores), chunk):
        y, s = labels[i : i + chunk], scores[i : i + chunk]
        predicted = s >= 0.5
        out["roc_auc"].append(float(metrics.roc_auc_score(y, s)))
        out["f1"].append(float(metrics.f1_score(y, predicted)))
        out["precision"].append(float(metrics.precision_score(y, predicted)))
        out["recall"].append(float(metrics.recall_score(y, predicted)))
        out["accuracy"].append(float(metrics.accuracy_score(y, predicted)))
    return out


def _venvs(args: argparse.Namespace) -> dict[str, _peer.Venv]:
    venvs = {"weekend": _peer.user_venv(say)}
    if not args.no_evidently:
        venvs["evidently"] = _peer.ensure_venv(
            "evidently", EVIDENTLY, check_import="evidently", log=say
        )
    if not args.no_nannyml:
        venvs["nannyml"] = _peer.ensure_venv("nannyml", NANNYML, check_import="pandas", log=say)
    return venvs


def run(args: argparse.Namespace) -> dict[str, Any]:
    script = Path(__file__).resolve()
    root = _peer.DATA_DIR / "drift"
    say(f"[drift] data in {root} ...")
    files = ensure_data(root, args)
    venvs = _venvs(args)
    w5_spec = json.dumps({"reference": files["reference"], "current": files["current"]})
    cbpe_spec = json.dumps(
        {
            "reference": files["cbpe_reference"],
            "analysis": files["cbpe_analysis"],
            "chunk": args.chunk,
        }
    )
    sides = [("w5-weekend", "weekend"), ("w5-weekend-files", "weekend"), ("w5-scipy", "weekend")]
    if not args.no_evidently:
        sides.append(("w5-evidently", "evidently"))
    if not args.no_cbpe:
        sides.append(("cbpe-weekend", "weekend"))
        if not args.no_nannyml:
            sides.append(("cbpe-nannyml", "nannyml"))
    raw: dict[str, list[Any]] = {name: [] for name, _ in sides}
    for rep in range(args.reps):
        for name, venv in sides:
            say(f"[drift] rep {rep + 1}/{args.reps}: {name} ...")
            spec = cbpe_spec if name.startswith("cbpe") else w5_spec
            env = {"NML_DISABLE_USAGE_LOGGING": "1"}
            raw[name].append(
                _peer.run_worker(venvs[venv], script, ["--worker", name, "--spec", spec], env=env)
            )
    versions = {
        "weekend": venvs["weekend"].version_of("weekend"),
        "scipy": venvs["weekend"].version_of("scipy"),
        "evidently": venvs["evidently"].version_of("evidently") if "evidently" in venvs else None,
        "nannyml": venvs["nannyml"].version_of("nannyml") if "nannyml" in venvs else None,
    }
    truth = realized(files["cbpe_analysis"], args.chunk) if not args.no_cbpe else {}
    return {"raw": raw, "versions": versions, "realized": truth, "files": files}


def _mb(value: float) -> str:
    return _stats.fmt_num(value / 2**20, "MiB")


def _w5_table(raw: dict[str, list[Any]]) -> dict[str, Any]:
    med = _stats.median
    seconds = {k: med([r["seconds"] for r in v]) for k, v in raw.items() if k.startswith("w5")}
    peak = {k: med([float(r["peak_rss"]) for r in v]) for k, v in raw.items() if k.startswith("w5")}
    growth = {
        k: med([float(r["peak_rss"] - r["baseline_rss"]) for r in v])
        for k, v in raw.items()
        if k.startswith("w5")
    }
    ours = seconds["w5-weekend"]
    rows = [
        _stats.Row(
            "W5 compare, seconds: weekend vs plain scipy (KS + chi-square)",
            f"{ours:.3f} s",
            f"{seconds['w5-scipy']:.3f} s",
            _stats.ratio(ours, seconds["w5-scipy"], higher_is_better=False),
            TARGET_SCIPY_TIME,
        ),
    ]
    if "w5-evidently" in seconds:
        rows += [
            _stats.Row(
                "W5 compare, seconds: weekend vs Evidently DataDriftPreset",
                f"{ours:.3f} s",
                f"{seconds['w5-evidently']:.2f} s",
                _stats.ratio(ours, seconds["w5-evidently"], higher_is_better=False),
                TARGET_EVIDENTLY_TIME,
            ),
            _stats.Row(
                "W5 peak RSS of the process: weekend vs Evidently",
                _mb(peak["w5-weekend"]),
                _mb(peak["w5-evidently"]),
                _stats.ratio(peak["w5-weekend"], peak["w5-evidently"], higher_is_better=False),
                TARGET_EVIDENTLY_MEMORY,
            ),
            _stats.Row(
                "  memory the comparison adds (peak over the loaded data)",
                _mb(growth["w5-weekend"]),
                _mb(growth["w5-evidently"]),
                _stats.ratio(growth["w5-weekend"], growth["w5-evidently"], higher_is_better=False),
            ),
        ]
    print(_stats.comparison_table(rows, "weekend", "peer"))
    print("(the scipy target: weekend within 1.5x of its time, a ratio >= 0.67x)")
    for name, label in (
        ("w5-weekend", "weekend"),
        ("w5-weekend-files", "weekend compare_tables (reads the files)"),
        ("w5-scipy", "plain scipy, p < 0.05"),
        ("w5-evidently", "Evidently"),
    ):
        if name not in raw:
            continue
        runs = raw[name]
        flagged = runs[0]["flagged"]
        verdict = "exactly the 6" if flagged == DRIFTED else f"MISS (expected {DRIFTED})"
        same = all(r["flagged"] == flagged for r in runs)
        print(
            f"  {label}: {seconds[name]:.3f} s, peak {_mb(peak[name])} (after loading "
            f"{_mb(_stats.median([float(r['baseline_rss']) for r in runs]))}); flags "
            f"{', '.join(flagged) or 'nothing'} -> {verdict}{'' if same else ' (varies by run)'}"
        )
    extra = raw["w5-weekend"][0].get("significant_only") or []
    if extra:
        print(f"  weekend: significant after BH but under the minimum effect: {', '.join(extra)}")
    return {"seconds": seconds, "peak_rss": peak, "growth": growth}


def _cbpe_side(runs: list[Any], truth: dict[str, list[float]]) -> dict[str, Any]:
    """One side's CBPE figures: medians, its largest error per metric, its AUC band's hits."""
    est = runs[0]["estimates"]
    pairs = {m: list(zip(est[m], truth[m], strict=True)) for m in METRICS}
    return {
        "seconds": _stats.median([r["seconds"] for r in runs]),
        "peak_rss": _stats.median([float(r["peak_rss"]) for r in runs]),
        "growth": _stats.median([float(r["peak_rss"] - r["baseline_rss"]) for r in runs]),
        "max_error": {m: max(abs(e[0] - r) for e, r in pairs[m]) for m in METRICS},
        "auc_band_covers": sum(e[1] <= r <= e[2] for e, r in pairs["roc_auc"]),
    }


def _cbpe_rows(ours: dict[str, Any], theirs: dict[str, Any]) -> list[_stats.Row]:
    return [
        _stats.Row(
            "CBPE fit + estimate, seconds",
            f"{ours['seconds']:.2f} s",
            f"{theirs['seconds']:.2f} s",
            _stats.ratio(ours["seconds"], theirs["seconds"], higher_is_better=False),
        ),
        _stats.Row(
            "CBPE memory growth over the loaded data",
            _mb(ours["growth"]),
            _mb(theirs["growth"]),
            _stats.ratio(ours["growth"], theirs["growth"], higher_is_better=False),
        ),
        _stats.Row(
            "CBPE peak RSS of the process",
            _mb(ours["peak_rss"]),
            _mb(theirs["peak_rss"]),
            _stats.ratio(ours["peak_rss"], theirs["peak_rss"], higher_is_better=False),
        ),
    ]


def _cbpe_table(found: dict[str, Any]) -> dict[str, Any]:
    raw, truth = found["raw"], found["realized"]
    sides = [s for s in ("cbpe-weekend", "cbpe-nannyml") if s in raw]
    out = {side: _cbpe_side(raw[side], truth) for side in sides}
    if "cbpe-nannyml" in out:
        print(
            _stats.comparison_table(
                _cbpe_rows(out["cbpe-weekend"], out["cbpe-nannyml"]), "weekend", "NannyML"
            )
        )
        imported = _stats.median([r["import_seconds"] for r in raw["cbpe-nannyml"]])
        print(f"(import nannyml: {imported:.1f} s, not in its time)")
    chunks = len(truth["roc_auc"])
    for side in sides:
        info = out[side]
        shown = ", ".join(f"{m} {v:.4f}" for m, v in info["max_error"].items())
        print(
            f"  {side.removeprefix('cbpe-')}: largest |estimated - realized| over {chunks} "
            f"chunks: {shown}; its ROC AUC band holds the realized value in "
            f"{info['auc_band_covers']} of {chunks}"
        )
    if "cbpe-nannyml" in out:
        ours_auc = [e[0] for e in raw["cbpe-weekend"][0]["estimates"]["roc_auc"]]
        theirs_auc = [e[0] for e in raw["cbpe-nannyml"][0]["estimates"]["roc_auc"]]
        gap = max(abs(a - b) for a, b in zip(ours_auc, theirs_auc, strict=True))
        print(f"  largest |weekend - NannyML| estimated ROC AUC: {gap:.4f}")
    first, last = truth["roc_auc"][0], truth["roc_auc"][-1]
    print(f"  realized ROC AUC moves from {first:.3f} (chunk 1) to {last:.3f} (chunk {chunks})")
    return out


def print_results(found: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    v = found["versions"]
    print()
    print(
        f"Drift — W5: {REFERENCE_ROWS:,} reference vs {CURRENT_ROWS:,} current rows x 20 "
        f"columns (6 drifted); medians of {args.reps} repetitions, a fresh process each"
    )
    print(
        f"weekend {v['weekend'] or '?'} (scipy {v['scipy'] or '?'}), Evidently "
        f"{v['evidently'] or 'not run'}, NannyML {v['nannyml'] or 'not run'}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, seed {args.seed}"
    )
    summary: dict[str, Any] = {"w5": _w5_table(found["raw"])}
    if found["realized"]:
        print()
        print(
            f"CBPE — reference {args.cbpe_reference:,} rows, analysis {args.cbpe_analysis:,} "
            f"rows in chunks of {args.chunk:,} (covariate shift)"
        )
        summary["cbpe"] = _cbpe_table(found)
    return summary


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    _peer.add_common_options(
        p, seed=20240605, reps=3, workers=WORKERS, keep="(nothing to keep: no stores)"
    )
    p.add_argument("--no-evidently", action="store_true", help="skip Evidently")
    p.add_argument("--no-nannyml", action="store_true", help="skip NannyML")
    p.add_argument("--no-cbpe", action="store_true", help="skip the CBPE comparison")
    p.add_argument("--cbpe-reference", type=int, help="CBPE reference rows (default 200000)")
    p.add_argument("--cbpe-analysis", type=int, help="CBPE analysis rows (default 1000000)")
    p.add_argument("--chunk", type=int, default=100_000, help="CBPE chunk rows")
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    args.cbpe_reference = args.cbpe_reference or (50_000 if args.quick else 200_000)
    args.cbpe_analysis = args.cbpe_analysis or (200_000 if args.quick else 1_000_000)
    if args.cbpe_analysis % args.chunk:
        p.error("--cbpe-analysis must be a multiple of --chunk")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if _peer.serve_worker(args, WORKERS):
        return 0
    started = time.perf_counter()
    found = run(args)
    summary = print_results(found, args)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    _peer.write_figures(args, {"benchmark": "drift", "summary": summary, **found}, "drift")
    return 0 if not math.isnan(summary["w5"]["seconds"]["w5-weekend"]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
