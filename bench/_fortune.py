"""The "Fortune 1 million" box of issue 11, run by ``bench/serving.py --fortune``.

``flight-delay@champion`` of the flights demo (``examples/flights_demo.py``, made once into
``bench/.data/serving/demo``: the gradient-boosting pipeline, three categorical splits, 250
trees), served by ``weekend serve --workers 2`` with prediction logging on. Each request is one
flight carrying only what a booking system knows, its schedule and its entity keys
(``carrier``, ``origin``, ``dest``, ``tailnum``, hour, weekday, distance); the eleven other
features (weather, plane, 7-day delay rates) are read from the online store on every request,
SQLite and then Redis (a copy of the project whose ``[online_store]`` points at Redis,
materialized at the same time). The requests replay the last April evening flights with
``now`` at their departure, as the demo does. Load: wrk, 16 connections, 30 s (quick: 5 s).

Figures: requests/s and wrk's p50/p99 for SQLite and Redis with logging on, the same with
``--no-log`` (logging may cost at most 10%), errors; and the cost split of one request from a
profile: the prediction service's own steps (parse, feature read and checks, predict, log)
timed over requests sent in process (each step's function wrapped by a timer), the rest of a
request's CPU at the measured rate (2 cores / requests per second) being HTTP and the edge.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _http_load as load
import _peer
import _stats

BENCH = Path(__file__).resolve().parent
MODEL = "flight-delay"
PATH = f"/v1/models/{MODEL}/predict"
KEYS = ["carrier", "origin", "dest", "tailnum", "sched_dep_hour", "day_of_week", "distance"]
REDIS_URL = "redis://127.0.0.1:6379/0"
STEPS = {  # the prediction service's steps, by the functions that do them
    "parse": ("parse_rows",),
    "feature read": ("build_inputs", "build_frame"),
    "predict": ("score",),
    "log": ("_record",),
}


def _demo(data: Path, log: Callable[[str], None]) -> Path:
    project = data / "demo"
    if not (project / ".demo-ready").exists():
        log("running the flights demo once (about five minutes) for flight-delay@champion")
        shutil.rmtree(project, ignore_errors=True)
        cmd = [sys.executable, str(BENCH.parent / "examples" / "flights_demo.py")]
        out = subprocess.run([*cmd, "--project", str(project)], capture_output=True, text=True)
        if out.returncode != 0:
            raise load.LoadError(f"the demo failed: {out.stderr[-2000:]}")
        (project / ".demo-ready").write_text("ok")
    return project


def _requests(project: Path) -> tuple[list[bytes], str]:
    """64 one-flight bodies (the last April evening flights) and the replay time."""
    import orjson
    import pandas as pd

    sys.path.insert(0, str(BENCH.parent / "examples"))
    fd: Any = importlib.import_module("flights_data")

    flights = fd.entity_frame(fd.load_flights())
    april = flights[flights["event_timestamp"] < pd.Timestamp("2013-04-30 23:00Z")]
    last = april.iloc[-64:]
    now = last["event_timestamp"].iloc[-1].isoformat()
    bodies = []
    for _, row in last.iterrows():
        record = {k: (None if pd.isna(row[k]) else row[k]) for k in KEYS}
        bodies.append(
            orjson.dumps({"rows": [record], "now": now}, option=orjson.OPT_SERIALIZE_NUMPY)
        )
    return bodies, now


def _redis_copy(project: Path, now: str, log: Callable[[str], None]) -> Path:
    """A copy of the demo project whose online store is Redis, materialized up to ``now``."""
    copy = project.with_name("demo-redis")
    if not (copy / ".redis-ready").exists():
        log("copying the demo project for Redis and materializing its features there")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(project, copy)
        toml = copy / "weekend.toml"
        text = toml.read_text()
        if "[online_store]" not in text:
            text += "\n[online_store]\n"
        lines = [line for line in text.splitlines() if not line.startswith(("url", "key_prefix"))]
        at = lines.index("[online_store]") + 1
        lines[at:at] = [f'url = "{REDIS_URL}"', 'key_prefix = "weekend-bench-fortune"']
        toml.write_text("\n".join(lines) + "\n")
        code = (
            "import sys, datetime as dt, weekend as wk\n"
            "ws = wk.open(sys.argv[1])\n"
            "for r in ws.features.materialize(None, end=dt.datetime.fromisoformat(sys.argv[2])):\n"
            "    print(r.view, r.written)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, str(copy), now], capture_output=True, text=True
        )
        if out.returncode != 0:
            raise load.LoadError(f"materializing into Redis failed: {out.stderr[-2000:]}")
        (copy / ".redis-ready").write_text("ok")
    return copy


def _serve(project: Path, bodies: list[bytes], seconds: float, *, logging: bool) -> dict[str, Any]:
    port = load.free_port()
    exe = str(Path(sys.executable).with_name("weekend"))
    cmd = [exe, "serve", f"{MODEL}@champion", "--workers", "2", "--port", str(port)]
    cmd += ["--project", str(project), "--reload-seconds", "0"]
    if not logging:
        cmd.append("--no-log")
    env = {"OMP_NUM_THREADS": "1"}
    name = f"fortune-{project.name}-{'log' if logging else 'nolog'}"
    with load.Server(name, cmd, port, PATH, bodies[0], env, project.parent / "logs"):
        load.run_wrk(port, PATH, bodies, connections=16, seconds=min(3.0, seconds), threads=2)
        result = load.run_wrk(port, PATH, bodies, connections=16, seconds=seconds, threads=2)
    return {
        "rps": result.rps,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "errors": result.errors,
        "requests": result.requests,
    }


def worker_profile(spec: dict[str, Any]) -> dict[str, Any]:
    """In process: requests through the prediction service (logging on), each of its steps
    timed by a wrapper (they run in the app's threads); microseconds per request."""
    import time

    from starlette.testclient import TestClient

    import weekend as wk
    from weekend.serving import _predict, create_app

    totals = dict.fromkeys([*STEPS, "service total"], 0.0)

    def timed(step: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[step] += time.perf_counter() - started

        return wrapper

    for step, names in STEPS.items():
        for name in names:
            if hasattr(_predict, name):
                setattr(_predict, name, timed(step, getattr(_predict, name)))
            elif hasattr(_predict.PredictionService, name):
                method = getattr(_predict.PredictionService, name)
                setattr(_predict.PredictionService, name, timed(step, method))
    service = _predict.PredictionService
    service.predict = timed("service total", service.predict)  # type: ignore[method-assign]
    ws = wk.open(spec["project"])
    log = ws.predictions.open_log()
    bodies = [b.encode() for b in spec["bodies"]]
    app = create_app(ws, models=[f"{MODEL}@champion"], prediction_log=log, reload_seconds=None)
    n = int(spec["requests"])
    headers = {"content-type": "application/json"}
    with TestClient(app) as http:
        for body in bodies[:20]:
            http.post(PATH, content=body, headers=headers)
        for key in totals:
            totals[key] = 0.0
        started = time.perf_counter()
        for i in range(n):
            http.post(PATH, content=bodies[i % len(bodies)], headers=headers)
        elapsed = time.perf_counter() - started
    ws.close()
    out = {key: value / n * 1e6 for key, value in totals.items()}
    out["in-process request"] = elapsed / n * 1e6
    return out


def run(data: Path, *, quick: bool, reps: int, log: Callable[[str], None]) -> dict[str, Any]:
    seconds = 5.0 if quick else 30.0
    project = _demo(data, log)
    bodies, now = _requests(project)
    out: dict[str, Any] = {"seconds": seconds, "runs": {}}
    redis = _redis_copy(project, now, log)
    for rep in range(1 if quick else reps):
        for store, folder in (("sqlite", project), ("redis", redis)):
            for logging in (True, False):
                key = f"{store}-{'log' if logging else 'nolog'}"
                log(f"fortune box {rep + 1}: {key}")
                try:
                    figures = _serve(folder, bodies, seconds, logging=logging)
                except load.LoadError as exc:
                    figures = {"failed": str(exc)[-1500:]}
                out["runs"].setdefault(key, []).append(figures)
    out["medians"] = {
        key: {
            m: _stats.median([r[m] for r in runs if m in r])
            for m in ("rps", "p50_ms", "p99_ms", "errors")
        }
        for key, runs in out["runs"].items()
    }
    spec = {
        "project": str(project),
        "bodies": [b.decode() for b in bodies],
        "requests": 300 if quick else 2000,
    }
    try:
        out["profile_us"] = _peer.run_worker(
            _peer.project_venv(),
            BENCH / "_fortune.py",
            ["--spec", json.dumps(spec)],
            env={"OMP_NUM_THREADS": "1"},
        )
    except _peer.PeerError as exc:
        out["profile_us"] = {"failed": str(exc)[-800:]}
    return out


def report(out: dict[str, Any]) -> str:
    fmt = _stats.fmt_num
    rows = []
    for key, m in out.get("medians", {}).items():
        rows.append(
            [key, fmt(m["rps"]), fmt(m["p50_ms"], "ms"), fmt(m["p99_ms"], "ms"), fmt(m["errors"])]
        )
    lines = [
        f"\nFortune 1 million box: flight-delay@champion, entity keys, 2 workers, wrk 16 "
        f"connections {out.get('seconds', 0):.0f} s (p50/p99 as wrk prints them)",
        _stats.render_table(["store, log", "req/s", "p50", "p99", "errors"], rows),
    ]
    medians = out.get("medians", {})
    for store in ("sqlite", "redis"):
        on, off = medians.get(f"{store}-log", {}), medians.get(f"{store}-nolog", {})
        if on.get("rps") and off.get("rps"):
            lines.append(
                f"logging costs {(1 - on['rps'] / off['rps']) * 100:.1f}% of throughput on {store}"
            )
    profile = out.get("profile_us", {})
    if "failed" not in profile and profile:
        rps = medians.get("sqlite-log", {}).get("rps") or float("nan")
        budget = 2 / rps * 1e6 if rps == rps else float("nan")
        service = profile.get("service total", float("nan"))
        parts = ", ".join(f"{k} {fmt(profile.get(k, float('nan')), 'us')}" for k in STEPS)
        lines.append(
            f"cost split per request (profile, SQLite): {parts}; the service's steps "
            f"{fmt(service, 'us')} of a {fmt(budget, 'us')} CPU budget at the measured rate "
            f"(the rest: HTTP, the edge, uvicorn)"
        )
    elif profile:
        lines.append(f"profile failed: {profile.get('failed', '')[:300]}")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    _peer.emit(worker_profile(json.loads(parser.parse_args().spec)))
    os._exit(0)
