"""W2 — model registry: weekend against MLflow, on the same seeded data, in the same run.

    .venv/bin/python bench/registry.py            # full run (a few minutes)
    .venv/bin/python bench/registry.py --quick    # smoke run (about a minute)
    .venv/bin/python bench/registry.py --reps 5 --json bench/results/registry.json

The workload: a scikit-learn pipeline (ColumnTransformer: one-hot encoding of 4 string
columns and standard scaling of 16 float columns, then LogisticRegression) trained on 200k
seeded rows. Then, timed: log the model inside a run, register it 50 more times as a new
version (MLflow: ``register_model`` of the logged URI; weekend: ``copy_version`` of the
logged version; weekend also registers 10 versions from the model object), point an
alias at the last one, load it by ``name@alias``, predict one row (median of many calls)
and 10k rows through the loaded model, and the same 10k rows through the in-memory
pipeline (the reference of the 10k-row target).

Each side runs in a fresh process of its own venv (MLflow in ``bench/.venvs/mlflow`` with
its SQLite store; weekend in ``bench/.venvs/weekend``, the checkout installed with its runtime
dependencies only, as the peer's venv holds what ``pip install mlflow`` brings; or the
project's ``.venv`` with ``--project-venv``), once per repetition, the two sides
interleaved. Not timed: imports, generating the data, training, creating the store (MLflow's
first call migrates its database; ``wk.init``), starting and ending the run. Lazy imports
inside a timed call (both sides load skops on their first save) are timed: that is what a
user waits for.

This file is also the worker (``--worker NAME --spec JSON``); it imports only the standard
library at the top so that it loads in either venv.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import _peer
import _stats

N_FLOAT = 16
CATEGORIES = (3, 8, 20, 50)  # levels of the 4 string columns
MODEL = "w2"
ALIAS = "champion"
MLFLOW_REQUIREMENTS = ["mlflow"]  # the same venv as bench/tracking.py; it ships scikit-learn
MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
TARGETS = {"log_model": 10.0, "load": 5.0, "predict_1": 5.0, "predict_10k": 1 / 1.1}


# -- the seeded data and model (identical in both venvs: same numpy, pandas, scikit-learn) --
def make_frame(n: int, seed: int) -> tuple[Any, Any]:
    """``(features, label)``: 16 float columns x0..x15 and 4 string columns c0..c3."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {f"x{i}": rng.normal(size=n) for i in range(N_FLOAT)}
    effects = np.zeros(n)
    for j, levels in enumerate(CATEGORIES):
        codes = rng.integers(0, levels, size=n)
        names = np.array([f"c{j}_{k}" for k in range(levels)], dtype=object)
        data[f"c{j}"] = names[codes]
        effects += rng.normal(scale=0.5, size=levels)[codes]
    frame = pd.DataFrame(data)
    weights = rng.normal(size=N_FLOAT)
    logit = frame[[f"x{i}" for i in range(N_FLOAT)]].to_numpy() @ weights * 0.5 + effects
    label = (logit + rng.logistic(size=n) > 0).astype("int64")
    return frame, label


def make_pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore"), [f"c{j}" for j in range(4)]),
            ("scale", StandardScaler(), [f"x{i}" for i in range(N_FLOAT)]),
        ]
    )
    return Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=1000))])


def fingerprint(frame: Any) -> int:
    import pandas as pd

    return int(pd.util.hash_pandas_object(frame, index=False).sum())


def prepare(spec: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    frame, label = make_frame(spec["rows"], spec["seed"])
    started = time.perf_counter()
    pipe = make_pipeline().fit(frame, label)
    info = {"fit_s": time.perf_counter() - started, "data_hash": fingerprint(frame)}
    return frame, pipe, info


def time_predictions(model: Any, pipe: Any, frame: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """1-row and 10k-row latencies through the loaded model and the raw pipeline."""
    one = frame.iloc[:1]
    batch = frame.iloc[: spec["batch_rows"]]
    model.predict(one)  # the first call of each is not counted
    pipe.predict(one)
    out: dict[str, Any] = {
        "predict_1_s": _stats.timed_calls(lambda: model.predict(one), spec["one_row_calls"]),
        "raw_predict_1_s": _stats.timed_calls(lambda: pipe.predict(one), spec["one_row_calls"]),
    }
    # interleave loaded and raw 10k-row calls so a busy moment hits both
    loaded_s, raw_s = [], []
    for _ in range(spec["batch_calls"]):
        loaded_s += _stats.timed_calls(lambda: model.predict(batch), 1)
        raw_s += _stats.timed_calls(lambda: pipe.predict(batch), 1)
    out["predict_10k_s"], out["raw_predict_10k_s"] = loaded_s, raw_s
    ours = [int(v) for v in model.predict(batch)]
    theirs = [int(v) for v in pipe.predict(batch)]
    out["same_as_raw"] = ours == theirs
    out["positives_10k"] = sum(ours)
    return out


# -- MLflow worker (runs inside the MLflow venv) -------------------------------------------
def mlflow_w2(spec: dict[str, Any]) -> dict[str, Any]:
    import mlflow  # type: ignore[import-not-found]  # only in the MLflow venv
    import mlflow.pyfunc  # type: ignore[import-not-found]
    import mlflow.sklearn  # type: ignore[import-not-found]
    from mlflow import MlflowClient

    frame, pipe, out = prepare(spec)
    store = Path(spec["store"])
    uri = f"sqlite:///{store / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.create_experiment("w2", artifact_location=(store / "artifacts").as_uri())
    client.search_registered_models(max_results=1)  # the store is created and migrated
    example = frame.head(spec["mlflow_example_rows"])

    with mlflow.start_run(experiment_id=exp):
        started = time.perf_counter()
        logged = mlflow.sklearn.log_model(pipe, name="model", input_example=example)
        out["log_model_s"] = time.perf_counter() - started

    started = time.perf_counter()
    last = None
    for _ in range(spec["versions"]):
        last = mlflow.register_model(logged.model_uri, MODEL)
    out["register_s"] = (time.perf_counter() - started) / spec["versions"]
    assert last is not None
    started = time.perf_counter()
    client.set_registered_model_alias(MODEL, ALIAS, last.version)
    out["alias_s"] = time.perf_counter() - started
    out["versions"] = len(client.search_model_versions(f"name='{MODEL}'"))
    out["alias_version"] = int(client.get_model_version_by_alias(MODEL, ALIAS).version)

    ref = f"models:/{MODEL}@{ALIAS}"
    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(ref)
    out["load_first_s"] = time.perf_counter() - started
    out["load_s"] = _stats.timed_calls(lambda: mlflow.pyfunc.load_model(ref), spec["loads"])
    out["serialization"] = model.metadata.flavors["sklearn"].get("serialization_format")
    out.update(time_predictions(model, pipe, frame, spec))
    return out


# -- weekend worker (runs inside the project venv) -----------------------------------------
def weekend_w2(spec: dict[str, Any]) -> dict[str, Any]:
    import weekend as wk

    frame, pipe, out = prepare(spec)
    store = Path(spec["store"])
    ws = wk.init(store)  # creates and migrates the catalog: not timed
    example = (
        frame if spec["weekend_example_rows"] is None else frame.head(spec["weekend_example_rows"])
    )
    small = frame.head(spec["mlflow_example_rows"])

    run = ws.runs.start(experiment="w2")
    started = time.perf_counter()
    logged = run.log_model(pipe, MODEL, input_example=example)
    out["log_model_s"] = time.perf_counter() - started
    run.end()

    # MLflow's register_model(logged model URI) adds a version pointing at files already
    # stored; weekend's verb for that is copy_version.
    started = time.perf_counter()
    for _ in range(spec["versions"]):
        version = ws.models.copy_version(logged.ref, MODEL)
    out["register_s"] = (time.perf_counter() - started) / spec["versions"]
    # and a new version from the model object (packaged again: skops, signature, row)
    started = time.perf_counter()
    for _ in range(spec["repackages"]):
        version = ws.models.register(pipe, MODEL, input_example=small)
    out["repackage_s"] = (time.perf_counter() - started) / max(spec["repackages"], 1)
    started = time.perf_counter()
    ws.models.set_alias(MODEL, version.version, ALIAS)
    out["alias_s"] = time.perf_counter() - started
    out["versions"] = len(ws.models.versions(MODEL))
    out["alias_version"] = int(ws.models.aliases(MODEL)[ALIAS])

    ref = f"{MODEL}@{ALIAS}"
    started = time.perf_counter()
    model = ws.models.load(ref)
    out["load_first_s"] = time.perf_counter() - started
    # cache=False: read, verify and deserialise every time, as MLflow does
    out["load_s"] = _stats.timed_calls(lambda: ws.models.load(ref, cache=False), spec["loads"])
    out["serialization"] = model.flavor
    out.update(time_predictions(model, pipe, frame, spec))
    ws.close()
    return out


WORKERS = {"mlflow": mlflow_w2, "weekend": weekend_w2}


# -- the driver -----------------------------------------------------------------------------
def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run_w2(args: argparse.Namespace, venvs: dict[str, _peer.Venv]) -> dict[str, list[Any]]:
    script = Path(__file__).resolve()
    root = _peer.DATA_DIR / "registry"
    raw: dict[str, list[Any]] = {side: [] for side in venvs}
    for rep in range(args.reps):
        for side in ("mlflow", "weekend"):
            if side not in venvs:
                continue
            store = fresh_dir(root / f"rep{rep}-{side}")
            spec = {
                "store": str(store),
                "rows": args.rows,
                "seed": args.seed,
                "versions": args.versions,
                "loads": args.loads,
                "one_row_calls": args.one_row_calls,
                "batch_rows": args.batch_rows,
                "batch_calls": args.batch_calls,
                "mlflow_example_rows": args.mlflow_example_rows,
                "weekend_example_rows": args.weekend_example_rows,
                "repackages": args.repackages,
            }
            say(f"[w2] rep {rep + 1}/{args.reps}: {side} ...")
            result = _peer.run_worker(
                venvs[side],
                script,
                ["--worker", side, "--spec", json.dumps(spec)],
                env=MLFLOW_ENV if side == "mlflow" else None,
                cwd=store,
            )
            expected = args.versions + (1 + args.repackages if side == "weekend" else 0)
            if result["versions"] != expected or not result["same_as_raw"]:
                raise _peer.PeerError(
                    f"{side}: {result['versions']} versions (expected {expected}), loaded "
                    f"model agrees with the pipeline: {result['same_as_raw']}"
                )
            raw[side].append(result)
            if not args.keep:
                shutil.rmtree(store)
    return raw


def summarise(raw: dict[str, list[Any]]) -> dict[str, Any]:
    med = _stats.median
    out: dict[str, Any] = {}
    for side, results in raw.items():
        if not results:
            continue
        out[side] = {
            "log_model_s": med([r["log_model_s"] for r in results]),
            "register_s": med([r["register_s"] for r in results]),
            "repackage_s": med([r.get("repackage_s", math.nan) for r in results]),
            "alias_s": med([r["alias_s"] for r in results]),
            "load_first_s": med([r["load_first_s"] for r in results]),
            "load_s": med([med(r["load_s"]) for r in results]),
            "predict_1_s": med([med(r["predict_1_s"]) for r in results]),
            "raw_predict_1_s": med([med(r["raw_predict_1_s"]) for r in results]),
            "predict_10k_s": med([med(r["predict_10k_s"]) for r in results]),
            "raw_predict_10k_s": med([med(r["raw_predict_10k_s"]) for r in results]),
            "fit_s": med([r["fit_s"] for r in results]),
            "serialization": results[0]["serialization"],
        }
    if "mlflow" in out:
        w, m = raw["weekend"][0], raw["mlflow"][0]
        out["same_data"] = w["data_hash"] == m["data_hash"]
        out["same_predictions"] = w["positives_10k"] == m["positives_10k"]
    return out


def print_w2(summary: dict[str, Any], args: argparse.Namespace, mlflow_version: str) -> None:
    w = summary["weekend"]
    m = summary.get("mlflow", {})
    nan = math.nan
    ms = _stats.fmt_ms

    def row(label: str, key: str, target: float | None = None, peer_key: str = "") -> _stats.Row:
        theirs = m.get(peer_key or key, nan)
        return _stats.Row(
            label,
            ms(w[key]),
            ms(theirs),
            _stats.ratio(w[key], theirs, higher_is_better=False),
            target,
        )

    example = (
        f"{args.rows:,}-row training frame"
        if args.weekend_example_rows is None
        else f"{args.weekend_example_rows}-row"
    )
    rows = [
        row(
            f"log_model (weekend: {example} example; MLflow: {args.mlflow_example_rows} rows)",
            "log_model_s",
            TARGETS["log_model"],
        ),
        row(f"register a logged model as a new version (mean of {args.versions})", "register_s"),
        row(
            f"weekend: register from the model object, packaged again (mean of {args.repackages})",
            "repackage_s",
        ),
        row("set alias", "alias_s"),
        row("load @alias, first in the process", "load_first_s", TARGETS["load"]),
        row(f"load @alias, median of {args.loads} more", "load_s", TARGETS["load"]),
        row(
            f"predict 1 row, loaded model (median of {args.one_row_calls})",
            "predict_1_s",
            TARGETS["predict_1"],
        ),
        row("predict 1 row, the raw pipeline (reference)", "raw_predict_1_s"),
        row(f"predict {args.batch_rows:,} rows, loaded model", "predict_10k_s"),
    ]
    print()
    print(f"W2 registry — medians of {args.reps} repetitions, a fresh store and process per side")
    print(
        f"weekend {_weekend_version()} vs MLflow {mlflow_version} (SQLite store, pyfunc), "
        f"Python {platform.python_version()}, seed {args.seed}, {args.rows:,} training rows"
    )
    print(_stats.comparison_table(rows, "weekend", "MLflow"))

    batch = f"predict {args.batch_rows:,} rows (median of {args.batch_calls})"
    limit = 1 / TARGETS["predict_10k"]
    sides = [("weekend loaded model", w, True)]
    if m:
        sides.append(("MLflow pyfunc", m, False))
    body = []
    for label, figures, judged in sides:
        slower = figures["predict_10k_s"] / figures["raw_predict_10k_s"]
        verdict = ("PASS" if slower <= limit else "MISS") if judged else ""
        body.append(
            [
                f"{batch}: {label}",
                ms(figures["predict_10k_s"]),
                ms(figures["raw_predict_10k_s"]),
                f"{slower:.3f}",
                f"<= {limit:.2f}" if judged else "",
                verdict,
            ]
        )
    print()
    print("10k-row target: no slower than the scikit-learn pipeline itself + 10%")
    print(
        _stats.render_table(["metric", "loaded", "raw pipeline", "loaded/raw", "target", ""], body)
    )
    print()
    if m:
        print(
            f"same training data on both sides: {summary['same_data']}; same 10k predictions: "
            f"{summary['same_predictions']}; loaded model == pipeline on both sides: True"
        )
    print(
        f"formats: weekend {w['serialization']} flavor (skops), "
        f"MLflow {m.get('serialization', 'n/a')}; "
        f"training (not timed) took {w['fit_s']:.1f} s"
    )
    print(
        "notes: MLflow's log_model is timed without registration; weekend's log_model also "
        "registers version 1.\n       Registering: MLflow's register_model(logged URI) and "
        "weekend's copy_version(logged ref) each\n       add a catalog row pointing at files "
        "already stored.\n       Repeated weekend loads use cache=False (files read, hashed "
        f"and deserialised each time).\n       weekend runs in {args.venv_note}."
    )


def _weekend_version() -> str:
    return _peer.project_venv().version_of("weekend") or "?"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _peer.add_common_options(
        p, seed=20240602, reps=3, workers=WORKERS, keep="keep the stores in bench/.data"
    )
    p.add_argument("--rows", type=int, help="training rows (default 200000, quick 50000)")
    p.add_argument("--versions", type=int, help="versions to register (default 50, quick 10)")
    p.add_argument("--loads", type=int, default=10, help="timed loads after the first")
    p.add_argument("--one-row-calls", type=int, help="1-row predictions (default 200)")
    p.add_argument("--batch-rows", type=int, default=10_000)
    p.add_argument("--batch-calls", type=int, default=20)
    p.add_argument("--mlflow-example-rows", type=int, default=5)
    p.add_argument(
        "--repackages", type=int, default=10, help="weekend versions registered from the object"
    )
    p.add_argument(
        "--project-venv",
        action="store_true",
        help="run weekend in the project's .venv (with the test tools) instead of "
        "bench/.venvs/weekend (runtime dependencies only, like the peer's venv)",
    )
    p.add_argument(
        "--weekend-example-rows",
        type=int,
        help="rows of weekend's input_example in log_model (default: the whole training "
        "frame, which weekend profiles as the model's reference)",
    )
    p.add_argument("--no-mlflow", action="store_true", help="weekend alone (no peer venv)")
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    args.rows = args.rows or (50_000 if args.quick else 200_000)
    args.versions = args.versions or (10 if args.quick else 50)
    args.one_row_calls = args.one_row_calls or (50 if args.quick else 200)
    if args.quick and args.batch_calls == 20:
        args.batch_calls = 5
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if _peer.serve_worker(args, WORKERS):
        return 0
    if args.project_venv:
        venvs = {"weekend": _peer.project_venv()}
        args.venv_note = "the project's .venv (with its test and lint tools)"
    else:
        venvs = {"weekend": _peer.user_venv(log=say)}
        args.venv_note = "bench/.venvs/weekend: the checkout and its runtime dependencies"
    mlflow_version = "n/a"
    if not args.no_mlflow:
        venvs["mlflow"] = _peer.ensure_venv("mlflow", MLFLOW_REQUIREMENTS, check_import="mlflow")
        mlflow_version = venvs["mlflow"].version_of("mlflow") or "?"
        if venvs["mlflow"].version_of("scikit-learn") != venvs["weekend"].version_of(
            "scikit-learn"
        ):
            say("[w2] warning: scikit-learn differs between the MLflow venv and .venv")
    started = time.perf_counter()
    raw = run_w2(args, venvs)
    summary = summarise(raw)
    print_w2(summary, args, mlflow_version)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    _peer.write_figures(
        args,
        {
            "benchmark": "W2 registry",
            "mlflow_version": mlflow_version,
            "summary": summary,
            "raw": raw,
        },
        "w2",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
