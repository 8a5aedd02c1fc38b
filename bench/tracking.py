"""W1 — experiment tracking: weekend against MLflow, on the same seeded data, in the same run.

    .venv/bin/python bench/tracking.py            # full run (a few minutes)
    .venv/bin/python bench/tracking.py --quick    # smoke run (well under a minute)
    .venv/bin/python bench/tracking.py --reps 5 --json bench/results/tracking.json

The workload: one experiment of N runs (default 200), each logging 10 params and 5 metrics
(m0..m4) x 50 steps one call at a time; the same volume again through the batch API into a
fresh store; then ``metrics.m0 > 0.5`` ordered by ``metrics.m0`` descending, limit 10,
20 times. MLflow (its own venv, SQLite store, ``MlflowClient``) gets a tenth of the runs in
the per-call phase, which is slow; rates are compared in points per second.

Every phase runs in a fresh process on a fresh store (MLflow keeps its SQLite connection
for the life of a process). Store creation and migrations are not timed on either side.
weekend's per-call figure counts the time until the points are durable: the logging loop
plus each run's ``end()`` (which writes what the background writer still holds).

Then a scale curve for weekend alone: search latency at 1k, 10k and 100k runs.

This file is also the worker: ``--worker NAME --spec JSON`` runs one phase in the current
interpreter (the MLflow venv's or the project's) and emits its figures as JSON. The module
imports only the standard library at the top so that it loads in either venv.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import _peer
import _stats

N_PARAMS = 10
N_METRICS = 5
N_STEPS = 50
FILTER = "metrics.m0 > 0.5"
TARGETS = {"percall": 100.0, "batch": 20.0, "search": 5.0}
SCALE_TARGET_S = 0.050
MLFLOW_REQUIREMENTS = ["mlflow"]
MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}

Points = list[tuple[str, float, int]]


# -- the seeded data (identical in both venvs: stdlib random only) -------------------------
def make_runs(n: int, seed: int) -> list[tuple[dict[str, str], Points]]:
    """n runs of (params, points); the points in training-loop order (step, then key)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        params = {f"p{j}": f"{rng.random():.6f}" for j in range(N_PARAMS)}
        points = [
            (f"m{k}", rng.random(), step) for step in range(N_STEPS) for k in range(N_METRICS)
        ]
        out.append((params, points))
    return out


def count_rows(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# -- MLflow workers (run inside the MLflow venv) -------------------------------------------
def _mlflow_client(store: Path) -> Any:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    client.search_experiments(max_results=1)  # creates and migrates the store: not timed
    return client


def mlflow_percall(spec: dict[str, Any]) -> dict[str, Any]:
    store = Path(spec["store"])
    client = _mlflow_client(store)
    data = make_runs(spec["runs"], spec["seed"])
    started = time.perf_counter()
    exp = client.create_experiment("w1", artifact_location=(store / "artifacts").as_uri())
    for params, points in data:
        run_id = client.create_run(exp).info.run_id
        for pkey, pvalue in params.items():
            client.log_param(run_id, pkey, pvalue)
        for key, value, step in points:
            client.log_metric(run_id, key, value, step=step)
        client.set_terminated(run_id)
    total = time.perf_counter() - started
    stored = count_rows(store / "mlflow.db", "metrics")
    return {"seconds": total, "points": sum(len(p) for _, p in data), "stored": stored}


def mlflow_batch(spec: dict[str, Any]) -> dict[str, Any]:
    from mlflow.entities import Metric, Param

    store = Path(spec["store"])
    client = _mlflow_client(store)
    data = make_runs(spec["runs"], spec["seed"])
    started = time.perf_counter()
    exp = client.create_experiment("w1-batch", artifact_location=(store / "artifacts").as_uri())
    for params, points in data:
        run_id = client.create_run(exp).info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(key, value, now, step) for key, value, step in points]
        plist = [Param(key, value) for key, value in params.items()]
        for lo in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics a call
            client.log_batch(
                run_id, metrics=metrics[lo : lo + 1000], params=plist if lo == 0 else []
            )
        client.set_terminated(run_id)
    total = time.perf_counter() - started
    stored = count_rows(store / "mlflow.db", "metrics")

    found: list[Any] = []

    def search() -> None:
        found[:] = client.search_runs(
            [exp], filter_string=FILTER, order_by=["metrics.m0 DESC"], max_results=10
        )

    latencies = _stats.timed_calls(search, spec["search_repeat"])
    top = [run.data.metrics["m0"] for run in found]
    return {
        "seconds": total,
        "points": sum(len(p) for _, p in data),
        "stored": stored,
        "search_s": latencies,
        "top_m0": top,
    }


# -- weekend workers (run inside the project venv) -----------------------------------------
def weekend_percall(spec: dict[str, Any]) -> dict[str, Any]:
    import weekend as wk

    store = Path(spec["store"])
    ws = wk.init(store)  # creates and migrates the catalog: not timed
    data = make_runs(spec["runs"], spec["seed"])
    loop = end = 0.0
    started = time.perf_counter()
    for params, points in data:
        t0 = time.perf_counter()
        run = ws.runs.start(experiment="w1", system_info=True)
        for pkey, pvalue in params.items():
            run.log_param(pkey, pvalue)
        for key, value, step in points:
            run.log_metric(key, value, step=step)
        t1 = time.perf_counter()
        run.end()  # writes what the background writer still holds: now durable
        end += time.perf_counter() - t1
        loop += t1 - t0
    t2 = time.perf_counter()
    ws.runs.flush()
    end += time.perf_counter() - t2
    total = time.perf_counter() - started
    ws.close()
    stored = count_rows(store / ".weekend" / "catalog.db", "metrics")
    return {
        "seconds": total,
        "loop_seconds": loop,
        "end_seconds": end,
        "points": sum(len(p) for _, p in data),
        "stored": stored,
    }


def weekend_search(ws: Any, experiment: str, repeat: int) -> tuple[list[float], list[float]]:
    """Latencies of ``repeat`` identical searches, and the m0 values of the last answer."""
    found: list[Any] = []

    def search() -> None:
        found[:] = ws.runs.search(
            FILTER, order_by=["metrics.m0 desc"], limit=10, experiment=experiment
        )

    latencies = _stats.timed_calls(search, repeat)
    return latencies, [record.metrics["m0"] for record in found]


def weekend_batch(spec: dict[str, Any]) -> dict[str, Any]:
    import weekend as wk

    store = Path(spec["store"])
    ws = wk.init(store)
    data = make_runs(spec["runs"], spec["seed"])
    started = time.perf_counter()
    for params, points in data:
        with ws.runs.start(experiment="w1-batch", system_info=True) as run:
            run.log_batch(metrics=points, params=params)
    total = time.perf_counter() - started

    latencies, top = weekend_search(ws, "w1-batch", spec["search_repeat"])
    ws.close()
    stored = count_rows(store / ".weekend" / "catalog.db", "metrics")
    return {
        "seconds": total,
        "points": sum(len(p) for _, p in data),
        "stored": stored,
        "search_s": latencies,
        "top_m0": top,
    }


def _load_api(ws: Any, n: int, rng: random.Random, steps: int) -> list[float]:
    """Load n runs through the public API (one start + log_batch + end per run).

    Returns the final m0 value of each run, to check the search answers against.
    """
    final_m0 = []
    for _ in range(n):
        params = {f"p{j}": f"{rng.random():.6f}" for j in range(N_PARAMS)}
        points = [(f"m{k}", rng.random(), s) for s in range(steps) for k in range(N_METRICS)]
        with ws.runs.start(experiment="scale", system_info=False) as run:
            run.log_batch(metrics=points, params=params)
        final_m0.append(points[-N_METRICS][1])
    return final_m0


def _load_sql(ws: Any, n: int, rng: random.Random, steps: int) -> list[float]:
    """Bulk-load n finished runs with SQLAlchemy Core straight into the catalog tables."""
    from weekend.catalog.tables import latest_metrics, metrics, params, runs
    from weekend.core.ids import new_id, now_ms, now_us

    exp_id = ws.experiments.create("scale").id
    chunk = 5000
    final_m0 = []
    for lo in range(0, n, chunk):
        run_rows, param_rows, point_rows, latest_rows = [], [], [], []
        start = now_ms()
        for _ in range(min(chunk, n - lo)):
            run_id = new_id()
            run_rows.append(
                {
                    "id": run_id,
                    "experiment_id": exp_id,
                    "parent_id": None,
                    "name": f"run-{run_id[:8]}",
                    "status": "finished",
                    "start_time": start,
                    "end_time": start,
                    "heartbeat_at": start,
                    "error": None,
                    "user": "bench",
                    "host": "bench",
                    "pid": 0,
                    "deleted": False,
                }
            )
            for j in range(N_PARAMS):
                param_rows.append(
                    {"run_id": run_id, "key": f"p{j}", "value": f"{rng.random():.6f}"}
                )
            ts = now_us()
            for s in range(steps):
                for k in range(N_METRICS):
                    value = rng.random()
                    row = {
                        "run_id": run_id,
                        "key": f"m{k}",
                        "step": s,
                        "timestamp": ts,
                        "value": value,
                        "is_nan": False,
                    }
                    point_rows.append(row)
                    if s == steps - 1:
                        latest_rows.append(row)
                        if k == 0:
                            final_m0.append(value)
        with ws.catalog.begin() as conn:
            conn.execute(runs.insert(), run_rows)
            conn.execute(params.insert(), param_rows)
            conn.execute(metrics.insert(), point_rows)
            conn.execute(latest_metrics.insert(), latest_rows)
    return final_m0


def weekend_scale(spec: dict[str, Any]) -> dict[str, Any]:
    import weekend as wk

    store = Path(spec["store"])
    ws = wk.init(store)
    rng = random.Random(spec["seed"])
    load = _load_sql if spec["loader"] == "sql" else _load_api
    have = 0
    final_m0: list[float] = []
    out = []
    for size in spec["sizes"]:
        started = time.perf_counter()
        final_m0 += load(ws, size - have, rng, spec["steps"])
        ws.runs.flush()
        build = time.perf_counter() - started
        have = size

        latencies, values = weekend_search(ws, "scale", spec["search_repeat"])
        ok = values == sorted(final_m0, reverse=True)[:10]
        out.append({"runs": size, "build_s": build, "search_s": latencies, "ordered_ok": ok})
    ws.close()
    return {"loader": spec["loader"], "steps": spec["steps"], "points": out}


WORKERS = {
    "mlflow-percall": mlflow_percall,
    "mlflow-batch": mlflow_batch,
    "weekend-percall": weekend_percall,
    "weekend-batch": weekend_batch,
    "weekend-scale": weekend_scale,
}


# -- the driver -----------------------------------------------------------------------------
def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run_w1(args: argparse.Namespace, venvs: dict[str, _peer.Venv], root: Path) -> dict[str, Any]:
    script = Path(__file__).resolve()
    raw: dict[str, list[dict[str, Any]]] = {k: [] for k in WORKERS if k != "weekend-scale"}
    for rep in range(args.reps):
        for name in ("mlflow-percall", "weekend-percall", "mlflow-batch", "weekend-batch"):
            side = name.split("-")[0]
            if side == "mlflow" and args.no_mlflow:
                continue
            n = args.mlflow_runs if name == "mlflow-percall" else args.runs
            store = fresh_dir(root / f"rep{rep}" / name)
            spec = {
                "store": str(store),
                "runs": n,
                "seed": args.seed,
                "search_repeat": args.search_repeat,
            }
            say(f"[w1] rep {rep + 1}/{args.reps}: {name} ({n} runs) ...")
            result = _peer.run_worker(
                venvs[side],
                script,
                ["--worker", name, "--spec", json.dumps(spec)],
                env=MLFLOW_ENV if side == "mlflow" else None,
                cwd=store,
            )
            if result["stored"] != result["points"]:
                raise _peer.PeerError(
                    f"{name}: {result['points']} points logged but {result['stored']} stored"
                )
            raw[name].append(result)
            if not args.keep:
                shutil.rmtree(store)
        if not args.keep:
            shutil.rmtree(root / f"rep{rep}", ignore_errors=True)
    return raw


def summarise_w1(raw: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    med = _stats.median

    def rates(name: str, key: str = "seconds") -> list[float]:
        return [r["points"] / r[key] for r in raw[name]]

    def search_medians(name: str) -> list[float]:
        return [med(r["search_s"]) for r in raw[name]]

    out: dict[str, Any] = {
        "weekend": {
            "percall_points_per_s": med(rates("weekend-percall")),
            "percall_loop_points_per_s": med(rates("weekend-percall", "loop_seconds")),
            "percall_end_s": med([r["end_seconds"] for r in raw["weekend-percall"]]),
            "batch_points_per_s": med(rates("weekend-batch")),
            "search_s": med(search_medians("weekend-batch")),
        }
    }
    if raw["mlflow-percall"]:
        out["mlflow"] = {
            "percall_points_per_s": med(rates("mlflow-percall")),
            "batch_points_per_s": med(rates("mlflow-batch")),
            "search_s": med(search_medians("mlflow-batch")),
        }
        ours = [round(v, 12) for v in raw["weekend-batch"][0]["top_m0"]]
        theirs = [round(v, 12) for v in raw["mlflow-batch"][0]["top_m0"]]
        out["same_top10"] = ours == theirs
    return out


def print_w1(summary: dict[str, Any], args: argparse.Namespace, mlflow_version: str) -> None:
    w = summary["weekend"]
    m = summary.get("mlflow")
    nan = math.nan
    fmt = _stats.fmt_num
    percall = f"per-call log_metric, points/s ({args.runs} vs {args.mlflow_runs} runs)"
    rows = [
        _stats.Row(
            percall + ", until durable",
            fmt(w["percall_points_per_s"]),
            fmt(m["percall_points_per_s"]) if m else "n/a",
            _stats.ratio(
                w["percall_points_per_s"],
                m["percall_points_per_s"] if m else nan,
                higher_is_better=True,
            ),
            TARGETS["percall"],
        ),
        _stats.Row(
            "  the logging loop alone (weekend: not yet durable)",
            fmt(w["percall_loop_points_per_s"]),
            fmt(m["percall_points_per_s"]) if m else "n/a",
            _stats.ratio(
                w["percall_loop_points_per_s"],
                m["percall_points_per_s"] if m else nan,
                higher_is_better=True,
            ),
        ),
        _stats.Row(
            f"log_batch, points/s ({args.runs} runs, one call each)",
            fmt(w["batch_points_per_s"]),
            fmt(m["batch_points_per_s"]) if m else "n/a",
            _stats.ratio(
                w["batch_points_per_s"],
                m["batch_points_per_s"] if m else nan,
                higher_is_better=True,
            ),
            TARGETS["batch"],
        ),
        _stats.Row(
            f"search '{FILTER}' by m0 desc, limit 10 (median of {args.search_repeat})",
            _stats.fmt_ms(w["search_s"]),
            _stats.fmt_ms(m["search_s"]) if m else "n/a",
            _stats.ratio(w["search_s"], m["search_s"] if m else nan, higher_is_better=False),
            TARGETS["search"],
        ),
    ]
    print()
    print(f"W1 tracking — medians of {args.reps} repetitions, fresh store and process each")
    print(
        f"weekend {_weekend_version()} vs MLflow {mlflow_version}, both on SQLite, "
        f"Python {platform.python_version()}, seed {args.seed}"
    )
    print(_stats.comparison_table(rows, "weekend", "MLflow"))
    if m:
        print(f"same top-10 m0 values on both sides: {summary['same_top10']}")
    print(
        "notes: weekend's SQLite runs in WAL mode with synchronous=NORMAL (durable across a "
        "crash of the process,\n       not of the OS); MLflow's uses SQLite's defaults "
        "(rollback journal, synchronous=FULL)."
    )


def _weekend_version() -> str:
    out = _peer.project_venv().version_of("weekend")
    return out or "?"


def run_scale(args: argparse.Namespace, venv: _peer.Venv, root: Path) -> dict[str, Any]:
    store = fresh_dir(root / "scale")
    spec = {
        "store": str(store),
        "sizes": args.scale,
        "seed": args.seed,
        "loader": args.loader,
        "steps": args.scale_steps,
        "search_repeat": args.search_repeat,
    }
    say(f"[scale] {args.loader} loader, runs {args.scale} ...")
    script = Path(__file__).resolve()
    result: dict[str, Any] = _peer.run_worker(
        venv, script, ["--worker", "weekend-scale", "--spec", json.dumps(spec)], cwd=store
    )
    if not args.keep:
        shutil.rmtree(store)
    return result


def print_scale(result: dict[str, Any], args: argparse.Namespace) -> None:
    rows = []
    for point in result["points"]:
        lat = point["search_s"]
        med = _stats.median(lat)
        last = point["runs"] == max(args.scale)
        verdict = ("PASS" if med < SCALE_TARGET_S else "MISS") if last else ""
        rows.append(
            [
                f"{point['runs']:,}",
                f"{point['build_s']:.1f} s",
                _stats.fmt_ms(med),
                _stats.fmt_ms(_stats.percentile(lat, 90)),
                "yes" if point["ordered_ok"] else "NO",
                f"< {SCALE_TARGET_S * 1000:g} ms" if last else "",
                verdict,
            ]
        )
    how = {
        "api": "the public API (start + log_batch + end per run, system_info=False)",
        "sql": "SQLAlchemy Core inserts straight into the catalog tables (not the public API)",
    }[result["loader"]]
    print()
    print(
        f"Scale curve (weekend alone): '{FILTER}' by m0 desc, limit 10, "
        f"median of {args.search_repeat}, one experiment"
    )
    print(
        f"runs built with {how}; each run has {N_PARAMS} params and {N_METRICS} metrics x "
        f"{result['steps']} step(s)"
    )
    print(
        _stats.render_table(
            ["runs", "build (added)", "search p50", "search p90", "top-10 ok", "target", ""], rows
        )
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _peer.add_common_options(
        p, seed=20240601, reps=3, workers=WORKERS, keep="keep the stores in bench/.data"
    )
    p.add_argument("--runs", type=int, help="runs per phase (default 200, quick 40)")
    p.add_argument("--mlflow-runs", type=int, help="MLflow per-call runs (default runs/10)")
    p.add_argument("--search-repeat", type=int, default=20)
    p.add_argument("--scale", help="comma-separated run counts (default 1000,10000,100000)")
    p.add_argument("--no-scale", action="store_true")
    p.add_argument("--no-mlflow", action="store_true", help="weekend alone (no peer venv)")
    p.add_argument(
        "--loader",
        choices=["api", "sql"],
        default="sql",
        help="how the scale curve builds its runs: SQLAlchemy Core inserts (default) or the "
        "public API (start + log_batch + end per run; far too slow for 100k runs today)",
    )
    p.add_argument("--scale-steps", type=int, default=1, help="steps per metric in scale runs")
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    args.runs = args.runs or (40 if args.quick else 200)
    args.mlflow_runs = args.mlflow_runs or max(1, args.runs // 10)
    default_scale = "1000,5000" if args.quick else "1000,10000,100000"
    args.scale = sorted(int(s) for s in (args.scale or default_scale).split(","))
    if args.quick and args.search_repeat == 20:
        args.search_repeat = 10
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if _peer.serve_worker(args, WORKERS):
        return 0
    root = _peer.DATA_DIR / "tracking"
    venvs = {"weekend": _peer.project_venv()}
    mlflow_version = "n/a"
    if not args.no_mlflow:
        venvs["mlflow"] = _peer.ensure_venv("mlflow", MLFLOW_REQUIREMENTS, check_import="mlflow")
        mlflow_version = venvs["mlflow"].version_of("mlflow") or "?"
    started = time.perf_counter()
    raw = run_w1(args, venvs, root)
    summary = summarise_w1(raw)
    print_w1(summary, args, mlflow_version)
    scale = None
    if not args.no_scale:
        scale = run_scale(args, venvs["weekend"], root)
        print_scale(scale, args)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    _peer.write_figures(
        args,
        {
            "benchmark": "W1 tracking",
            "mlflow_version": mlflow_version,
            "summary": summary,
            "raw": raw,
            "scale": scale,
        },
        "w1",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
