"""Serving (W3): weekend's prediction service against MLflow, BentoML and the HTTP floor.

    .venv/bin/python bench/serving.py                # full run: 3 repetitions, ~20 min
    .venv/bin/python bench/serving.py --quick        # smoke run: 1 repetition, short loads
    .venv/bin/python bench/serving.py --only weekend,floor --json bench/results/serving.json
    .venv/bin/python bench/serving.py --fortune      # also the "Fortune 1 million" box

The model and data are W3's (``bench/_w3.py``): the HistGradientBoosting pipeline (ordinal
encoding of five string columns, their categorical splits) trained on the seeded 200,000-row
reference batch; requests are rows of the 100,000-row current batch. Every server runs in its
own process, one worker, ``OMP_NUM_THREADS=1``, on 127.0.0.1; the load comes from ``wrk``
(Debian's package; a Lua script POSTs the bodies in turn) in its own process:

- **weekend** / **weekend-batched**: ``weekend serve w3@champion --no-log`` (the prediction
  service: signature checks, routing, metrics; the version's compiled model), micro-batching
  off / on (``--batch-wait-ms 0.5``);
- **edge-compiled**: weekend's HTTP edge with a bench route straight to ``loaded.compiled()``
  (no signature checks, no metrics; ``bench/_serving_apps.py``): what the service costs on
  top of the edge and the compiled model;
- **mlflow**: ``mlflow models serve --env-manager local`` (3.17.2, its own venv; the pyfunc
  returns ``predict_proba``);
- **bentoml**: ``bentoml serve`` (1.4.40, its own venv; one worker, no adaptive batching:
  with a DataFrame input it hangs, and under load it answers 503);
- **floor**: Starlette + uvicorn (uvloop, httptools) + orjson, a trivial JSON endpoint.

Figures, per repetition (servers started afresh, sides interleaved), medians reported:

- 1 client, 1 row: p50 and p99 latency from raw samples (one connection, sequential);
- 16 connections, 1 row: requests/s (wrk on 15 connections plus one timed connection), p50
  and p99 as wrk prints them (corrected for coordinated omission) and the p99 the timed
  connection measured;
- 1000-row batches (2 connections): rows/s, against the same model's in-process
  ``predict_proba`` on 1000-row frames (one thread, fresh process).

In process, for the fast-path choice: the W3 model's one-row latency through scikit-learn and
through its compiled form; and a linear pipeline (one-hot + scaler + logistic regression on
the same data) compiled by the hand-written numpy backend and by ONNX Runtime.

``--fortune`` adds the box of issue 11 (``bench/_fortune.py``). This file is also the
worker of its in-process measurements (``--worker NAME --spec JSON``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path
from typing import Any

import _http_load as load
import _peer
import _stats
import _w3

DATA = _peer.DATA_DIR / "serving"
SIDES = ("floor", "weekend", "weekend-batched", "edge-compiled", "mlflow", "bentoml")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
MLFLOW_REQUIREMENTS = ["mlflow==3.17.2", "scikit-learn==1.9.1"]
BENTOML_REQUIREMENTS = ["bentoml==1.4.40", "scikit-learn==1.9.1", "pandas"]
TARGETS = {"p50_vs_mlflow": 20.0, "rps_vs_mlflow": 50.0, "batch_vs_inprocess": 0.7}


def say(message: str) -> None:
    print(f"[serving] {message}", file=sys.stderr, flush=True)


# -- set-up: data, model, weekend project ----------------------------------------------------
def setup() -> dict[str, Path]:
    """The seeded data, the fitted model (pickled) and a weekend project serving it."""
    import pandas as pd
    import sklearn

    DATA.mkdir(parents=True, exist_ok=True)
    paths = {
        "reference": DATA / "w3-reference.parquet",
        "current": DATA / "w3-current.parquet",
        "model": DATA / f"w3-model-sklearn{sklearn.__version__}.pkl",
        "project": DATA / "project",
    }
    if not paths["current"].exists():
        say("writing the W3 batches (200k reference, 100k current rows)")
        _w3.make_frame(_w3.REFERENCE_ROWS).to_parquet(paths["reference"])
        _w3.make_frame(_w3.CURRENT_ROWS, current=True).to_parquet(paths["current"])
    if not paths["model"].exists():
        say("fitting the W3 pipeline on the reference batch")
        model = _w3.make_model(pd.read_parquet(paths["reference"]))
        tmp = paths["model"].with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(model))
        tmp.replace(paths["model"])
    if not (paths["project"] / "weekend.toml").exists():
        import weekend as wk

        say("registering the model in a weekend project (w3@champion)")
        model = pickle.loads(paths["model"].read_bytes())
        ws = wk.init(paths["project"])
        example = pd.read_parquet(paths["reference"])[_w3.FEATURES]
        version = ws.models.register(model, "w3", input_example=example)
        ws.models.set_alias("w3", version.version, "champion")
        ws.close()
    return paths


def bodies(current: Any, rows: int, count: int, *, mlflow: bool = False) -> list[bytes]:
    """``count`` columnar JSON bodies of ``rows`` consecutive rows of the current batch."""
    import orjson

    out = []
    for i in range(count):
        frame = current.iloc[i * rows : (i + 1) * rows][_w3.FEATURES]
        split = {"columns": _w3.FEATURES, "data": frame.to_numpy().tolist()}
        out.append(orjson.dumps({"dataframe_split": split} if mlflow else split))
    return out


# -- in-process workers (run in fresh processes of the project's venv) ------------------------
def _timed(fn: Any, seconds: float, least: int = 5) -> list[float]:
    out: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(out) < least:
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def worker_inprocess(spec: dict[str, Any]) -> dict[str, Any]:
    """The W3 model in process: 1000-row ``predict_proba`` rows/s, one-row latency of
    scikit-learn and of the compiled model (from a mapping of columns)."""
    import pandas as pd

    import weekend as wk

    model = pickle.loads(Path(spec["model"]).read_bytes())
    current = pd.read_parquet(spec["current"])[_w3.FEATURES]
    chunks = [current.iloc[i * 1000 : (i + 1) * 1000] for i in range(8)]
    ws = wk.open(spec["project"])
    loaded = ws.models.load("w3@champion")
    started = time.perf_counter()
    compiled = loaded.compiled()
    compile_s = time.perf_counter() - started
    model.predict_proba(chunks[0])
    lists = [{k: c[k].tolist() for k in _w3.FEATURES} for c in chunks]
    batch: list[float] = []
    fast_batch: list[float] = []
    deadline = time.perf_counter() + spec["seconds"]
    while time.perf_counter() < deadline or len(batch) < 3:  # the two interleaved
        batch += _timed(lambda: [model.predict_proba(c) for c in chunks], 0, 1)
        if compiled is not None:
            fast_batch += _timed(lambda: [compiled.outputs(c) for c in lists], 0, 1)
    row = current.iloc[:1]
    sk_row = _timed(lambda: model.predict_proba(row), spec["seconds"] / 2)
    columns = {k: [v] for k, v in row.iloc[0].to_dict().items()}
    fast_row: list[float] = []
    if compiled is not None:
        fast_row = _timed(lambda: compiled.predict_columns(columns), spec["seconds"] / 2, 50)
    check = loaded.compile_check
    return {
        "batch_rows_per_s": 8000 / _stats.median(batch),
        "compiled_batch_rows_per_s": 8000 / _stats.median(fast_batch) if fast_batch else None,
        "sklearn_row_ms": _stats.median(sk_row) * 1000,
        "compiled_row_ms": _stats.median(fast_row) * 1000 if fast_row else None,
        "compile_s": compile_s,
        "check": None if check is None else check.to_dict(),
    }


def worker_linear(spec: dict[str, Any]) -> dict[str, Any]:
    """A linear pipeline on the W3 data, compiled by numpy-linear and by ONNX Runtime."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import weekend as wk
    from weekend.registry._compile import compile_model

    reference = pd.read_parquet(spec["reference"]).iloc[:50_000]
    current = pd.read_parquet(spec["current"])[_w3.FEATURES]
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), _w3.CAT),
            ("num", StandardScaler(), _w3.NUM),
        ]
    )
    model = Pipeline([("e", encode), ("lr", LogisticRegression(max_iter=300))])
    model.fit(reference[_w3.FEATURES], reference[_w3.LABEL])
    ws = wk.init(Path(spec["scratch"]))
    version = ws.models.register(model, "linear", input_example=reference[_w3.FEATURES].head(500))
    loaded = ws.models.load(version.ref)
    row = {k: [v] for k, v in current.iloc[0].to_dict().items()}
    chunk = {k: current[k].iloc[:1000].to_numpy() for k in _w3.FEATURES}
    out: dict[str, Any] = {
        "sklearn_row_ms": _stats.median(
            _timed(lambda: model.predict_proba(current.iloc[:1]), spec["seconds"] / 2)
        )
        * 1000
    }
    for backend in ("numpy-linear", "onnxruntime:float64", "onnxruntime:float32"):
        compiled, check = compile_model(
            loaded.model, loaded.signature, package=backend, backends=[backend]
        )
        if compiled is None:
            out[backend] = {"refused": check.reason}
            continue
        one = _timed(lambda c=compiled: c.predict_columns(row), spec["seconds"] / 2, 50)
        many = _timed(lambda c=compiled: c.predict_columns(chunk), spec["seconds"] / 2, 5)
        out[backend] = {
            "row_us": _stats.median(one) * 1e6,
            "rows_per_s_1000": 1000 / _stats.median(many),
            "max_abs_diff": check.attempts[-1].max_abs_diff,
        }
    ws.close()
    return out


WORKERS = {"inprocess": worker_inprocess, "linear": worker_linear}


# -- the run -----------------------------------------------------------------------------------
def _w3_inprocess(paths: dict[str, Path], seconds: float) -> dict[str, Any]:
    """One fresh process: the W3 model in process (run once per repetition)."""
    spec = {k: str(v) for k, v in paths.items()} | {"seconds": seconds}
    say("in process: the W3 model (1000-row batches, one row, compiled)")
    result: dict[str, Any] = _peer.run_worker(
        _peer.project_venv(),
        __file__,
        ["--worker", "inprocess", "--spec", json.dumps(spec)],
        env=ONE_THREAD,
    )
    return result


def _linear_inprocess(paths: dict[str, Path], seconds: float) -> dict[str, Any]:
    venv = _peer.project_venv()
    spec: dict[str, Any] = {k: str(v) for k, v in paths.items()} | {"seconds": seconds}
    scratch = DATA / "linear-project"
    if scratch.exists():
        import shutil

        shutil.rmtree(scratch)
    say("in process: a linear pipeline, numpy-linear against ONNX Runtime")
    spec["scratch"] = str(scratch)
    result: dict[str, Any] = _peer.run_worker(
        venv, __file__, ["--worker", "linear", "--spec", json.dumps(spec)], env=ONE_THREAD
    )
    return result


def _servers(
    paths: dict[str, Path], names: list[str], reps: int, seconds: float
) -> dict[str, list[dict[str, Any]]]:
    import pandas as pd

    from _serving_sides import measure, sides

    current = pd.read_parquet(paths["current"])
    payloads = {
        "1": bodies(current, 1, 64),
        "1000": bodies(current, 1000, 4),
        "mlflow-1": bodies(current, 1, 64, mlflow=True),
        "mlflow-1000": bodies(current, 1000, 4, mlflow=True),
    }
    table = sides(paths, DATA, DATA / "logs")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    runs["inprocess"] = []
    for rep in range(reps):
        for name in names:  # interleaved: a busy moment hits every side
            say(f"repetition {rep + 1}/{reps}: {name}")
            try:
                runs[name].append(measure(table[name], payloads, seconds))
            except (load.LoadError, _peer.PeerError) as exc:
                say(f"{name} failed: {exc}")
                runs[name].append({"failed": str(exc)[-1500:]})
        runs["inprocess"].append(_w3_inprocess(paths, seconds))  # the lower bound, interleaved
    return runs


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "failed" not in r]
    if not ok:
        return {}
    out: dict[str, Any] = {}
    for key, value in ok[0].items():
        numbers = [r[key] for r in ok if isinstance(r.get(key), int | float)]
        out[key] = _stats.median(numbers) if numbers else value
    return out


def _figure_table(figures: dict[str, dict[str, float]]) -> str:
    fmt, nan = _stats.fmt_num, float("nan")
    keys = [
        ("1 client, 1 row: p50", "one_p50_ms", "ms"),
        ("1 client, 1 row: p99", "one_p99_ms", "ms"),
        ("16 connections, 1 row: req/s", "c16_rps", ""),
        ("16 connections: p99 measured", "c16_measured_p99_ms", "ms"),
        ("16 connections: p50 / p99 (wrk)", "c16_wrk_p50_ms", "ms"),
        ("1000-row batches: rows/s", "batch_rows_per_s", ""),
        ("errors", "errors", ""),
    ]
    names = [n for n in SIDES if n in figures]
    rows = []
    for label, key, unit in keys:
        row = [label]
        for name in names:
            text = fmt(figures[name].get(key, nan), unit)
            if key == "c16_wrk_p50_ms":
                text += " / " + fmt(figures[name].get("c16_wrk_p99_ms", nan), unit)
            row.append(text)
        rows.append(row)
    return _stats.render_table(["metric", *names], rows)


def _check(
    label: str, ours: float, theirs: float, unit: str, higher: bool, target: float | None
) -> _stats.Row:
    return _stats.Row(
        label,
        _stats.fmt_num(ours, unit),
        _stats.fmt_num(theirs, unit),
        _stats.ratio(ours, theirs, higher_is_better=higher),
        target,
    )


def _report(figures: dict[str, dict[str, float]], inproc: dict[str, Any]) -> str:
    nan = float("nan")
    ours, mlflow = figures.get("weekend", {}), figures.get("mlflow", {})
    batched = figures.get("weekend-batched", {})
    checks = [
        _check(
            "1 client p50, mlflow / weekend",
            ours.get("one_p50_ms", nan),
            mlflow.get("one_p50_ms", nan),
            "ms",
            False,
            TARGETS["p50_vs_mlflow"],
        ),
        _check(
            "16 connections req/s, weekend / mlflow",
            ours.get("c16_rps", nan),
            mlflow.get("c16_rps", nan),
            "",
            True,
            TARGETS["rps_vs_mlflow"],
        ),
        _check(
            "1000-row rows/s, weekend / in process",
            ours.get("batch_rows_per_s", nan),
            inproc.get("batch_rows_per_s", nan),
            "",
            True,
            TARGETS["batch_vs_inprocess"],
        ),
        _check(
            "16 connections req/s, batching on / off",
            batched.get("c16_rps", nan),
            ours.get("c16_rps", nan),
            "",
            True,
            None,
        ),
    ]
    best = max(ours.get("c16_rps", 0.0), batched.get("c16_rps", 0.0))
    floor = figures.get("floor", {}).get("c16_rps", nan)
    share = best / floor * 100 if floor else nan
    return "\n".join(
        [
            _figure_table(figures),
            "",
            _stats.comparison_table(checks, "weekend", "against"),
            f"\nbest weekend side at 16 connections: {_stats.fmt_num(best)} req/s = "
            f"{_stats.fmt_num(share)}% of the HTTP floor",
            _inprocess_text(inproc),
        ]
    )


def _inprocess_text(inproc: dict[str, Any]) -> str:
    fmt, nan = _stats.fmt_num, float("nan")
    check = inproc.get("check") or {}
    attempts = ", ".join(
        f"{a['backend']} {'ok' if a['ok'] else 'refused'}" for a in check.get("attempts", [])
    )
    out = [
        "\nin process, one thread:",
        f"  W3 1000-row predict_proba: {fmt(inproc.get('batch_rows_per_s', nan))} rows/s"
        f" (compiled, from columns: {fmt(inproc.get('compiled_batch_rows_per_s') or nan)})",
        f"  W3 one row: scikit-learn {fmt(inproc.get('sklearn_row_ms', float('nan')), 'ms')}, "
        f"compiled ({check.get('backend')}) "
        f"{fmt(inproc.get('compiled_row_ms') or float('nan'), 'ms')}; "
        f"compile + check {fmt(inproc.get('compile_s', float('nan')), 's')} ({attempts}; "
        f"{check.get('rows', 0):,} probe rows)",
    ]
    linear = inproc.get("linear", {})
    out.append(
        f"  linear pipeline, one row: scikit-learn {fmt(linear.get('sklearn_row_ms', 0), 'ms')}"
    )
    for backend in ("numpy-linear", "onnxruntime:float64", "onnxruntime:float32"):
        got = linear.get(backend, {})
        if "refused" in got:
            out.append(f"    {backend}: refused ({got['refused'][:120]})")
        elif got:
            out.append(
                f"    {backend}: one row {fmt(got['row_us'], 'us')}, 1000-row "
                f"{fmt(got['rows_per_s_1000'])} rows/s, max |dp| {got['max_abs_diff']:.2g}"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _peer.add_common_options(
        parser, seed=_w3.SEED, reps=3, workers=WORKERS, keep="keep nothing (the data is reused)"
    )
    parser.add_argument("--only", help=f"comma-separated sides (default all: {','.join(SIDES)})")
    parser.add_argument("--seconds", type=float, help="load per figure (default 8, quick 3)")
    parser.add_argument("--fortune", action="store_true", help="also the Fortune 1 million box")
    args = parser.parse_args()
    if _peer.serve_worker(args, WORKERS):
        return
    load.require_wrk()
    reps = args.reps or (1 if args.quick else 3)
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    names = [n for n in (args.only.split(",") if args.only else SIDES) if n]
    unknown = sorted(set(names) - set(SIDES))
    if unknown:
        parser.error(f"unknown sides {unknown}; known: {', '.join(SIDES)}")
    paths = setup()
    linear = _linear_inprocess(paths, seconds)
    runs = _servers(paths, names, reps, seconds)
    figures = {name: _medians(r) for name, r in runs.items() if name != "inprocess"}
    inproc = _medians(runs["inprocess"]) | {"linear": linear}
    print(_report(figures, inproc))
    fortune: dict[str, Any] = {}
    if args.fortune:
        import _fortune

        fortune = _fortune.run(DATA, quick=args.quick, reps=reps, log=say)
        print(_fortune.report(fortune))
    payload = {
        "figures": figures,
        "runs": runs,
        "inprocess": inproc,
        "fortune": fortune,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    _peer.write_figures(args, payload, "serving")


if __name__ == "__main__":
    main()
