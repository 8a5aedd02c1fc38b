"""W4 — feature store: weekend against the raw DuckDB lower bound and against Feast.

    .venv/bin/python bench/features.py               # full: three shapes, 3 reps, ~15 min
    .venv/bin/python bench/features.py --quick       # 1M x 100k only, 1 rep, short HTTP runs
    .venv/bin/python bench/features.py --reps 5 --json bench/results/features.json
    .venv/bin/python bench/features.py --skip-feast  # weekend and the lower bound only
    .venv/bin/python bench/features.py --shapes dense --training-only   # the dense shape alone

Seeded data (numpy), written once to ``bench/.data/features/`` as Parquet and shared by every
side: a feature table (entity_id, event_ts, created_ts, f0..f9 float64) over 90 days that end
at the anchor (default: today, 00:00 UTC, so that online reads at the real "now" fall within
the 30-day ttl), with 5% (dense: 1%) of rows tied on event time with another row of their
entity (the later created time must win); and an entity frame (rid, entity_id,
event_timestamp) with 1% unknown entities, 2% rows exactly on an event time and 1% exactly on
the ttl edge.

1. Training sets (ttl 30 days) at three shapes, sparse 1M x 100k and 10M x 1M, dense 10M x 1M
   over 10k entities: ``bench/_w4_training.py`` (weekend, the DuckDB ``ASOF JOIN`` lower
   bound, a hash-join reference, Feast's DuckDB offline store under a memory and time cap).
2. Materialization into SQLite, entities/s: ``ws.features.materialize`` against Feast's
   ``materialize`` into its SQLite online store, on the same rows (a subset of entities at
   10M x 1M: Feast writes about 5k entities/s). weekend into Redis is reported too.
3. Online reads in process, p50/p99 for 1, 10 and 100 entities (10 features each), on the
   stores just materialized; weekend on Redis reported too. Values are cross-checked.
4. HTTP on loopback: weekend's ``POST /v1/features/online`` under uvicorn and ``feast serve``
   (one worker each), a sequential keep-alive client for p50/p99, ``wrk`` for throughput.

This file is also the worker for the project's venv (``--worker NAME --spec JSON``); the
Feast side is ``bench/_feast_worker.py``. Only the standard library is imported at the top.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _peer
import _stats
import _w4_training
from _w4_training import (
    DAY_S,
    FEATURES,
    KEY,
    REFS,
    ROOT,
    SCRIPT,
    SIZES,
    VIEW,
    fmt_s,
    fresh_dir,
    med,
    plural,
    rss_mb,
    run_feast,
    run_project,
    say,
    weekend_workspace,
)

TARGETS = {
    "materialize": 10.0,
    "online_1": 1.0,
    "online_100": 5.0,
    "http_p50_s": 0.001,
}
FEAST_REQUIREMENTS = ["feast[duckdb]"]


# -- weekend workers (project venv) --------------------------------------------------------
def weekend_materialize(spec: dict[str, Any]) -> dict[str, Any]:
    ws = weekend_workspace(spec, fresh=True)
    start = datetime.fromtimestamp(spec["start_s"], UTC)
    end = datetime.fromtimestamp(spec["end_s"], UTC)
    marks: list[float] = []

    def progress(view: str, done: int, total: int) -> None:
        marks.append(time.perf_counter())  # first call: the query is done, writing starts

    started = time.perf_counter()
    (result,) = ws.features.materialize([VIEW], start=start, end=end, progress=progress)
    seconds = time.perf_counter() - started
    query_s = (marks[0] - started) if marks else math.nan
    stored = result.written
    if not spec.get("online_url"):  # count what SQLite holds, independently of the result
        with sqlite3.connect(Path(spec["root"]) / ".weekend" / "online.db") as conn:
            stored = conn.execute(
                "SELECT count(*) FROM online_features WHERE view = ?", (f"weekend:{VIEW}",)
            ).fetchone()[0]
    ws.close()
    return {
        "seconds": seconds,
        "query_seconds": query_s,
        "entities": int(stored),
        "written": result.written,
        "rows": result.rows,
        "rss_mb": rss_mb(),
    }


def weekend_online(spec: dict[str, Any]) -> dict[str, Any]:
    """The same call sequence as Feast's worker: same seed, same batches."""
    ws = weekend_workspace(spec, fresh=False)
    store = ws.features
    rng = random.Random(spec["seed"])
    ids: list[int] = spec["ids"]

    def read(batch: list[int]) -> Any:
        return store.online([{KEY: i} for i in batch], REFS)

    for _ in range(spec["warmup"]):
        read(rng.sample(ids, 1))
    latencies: dict[str, list[float]] = {}
    for size, calls in spec["calls"].items():
        batches = [rng.sample(ids, int(size)) for _ in range(calls)]
        timings = []
        for batch in batches:
            started = time.perf_counter()
            read(batch)
            timings.append(time.perf_counter() - started)
        latencies[size] = timings
    values: dict[str, Any] = {}
    check = spec["check_ids"]
    for lo in range(0, len(check), 100):
        part = check[lo : lo + 100]
        got = read(part)
        for key, row in zip(part, got.rows, strict=True):
            values[str(key)] = [row[f] for f in FEATURES]
    ws.close()
    return {"latency_s": latencies, "values": values, "rss_mb": rss_mb()}


def weekend_cleanup(spec: dict[str, Any]) -> dict[str, Any]:
    """Delete the benchmark's Redis keys (its own prefix) and count what is left."""
    import redis

    from weekend.features.online import open_online_store

    store = open_online_store(spec["online_url"], key_prefix=spec["key_prefix"])
    store.delete_view(VIEW)
    store.close()
    client = redis.Redis.from_url(spec["online_url"])
    left = sum(1 for _ in client.scan_iter(match=f"{spec['key_prefix']}:*", count=1000))
    client.close()
    return {"left": left}


def weekend_serve(spec: dict[str, Any]) -> None:
    """Serve ``POST /v1/features/online`` for the workspace until terminated."""
    import uvicorn

    from weekend.serving import create_app

    ws = weekend_workspace(spec, fresh=False)
    app = create_app(ws)
    uvicorn.run(app, host="127.0.0.1", port=spec["port"], log_level="warning", access_log=False)


WORKERS = {
    **_w4_training.WORKERS,
    "weekend-materialize": weekend_materialize,
    "weekend-online": weekend_online,
    "weekend-cleanup": weekend_cleanup,
}


# -- HTTP on loopback ----------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server subprocess on 127.0.0.1 (its own session), stopped by its own id."""

    def __init__(self, name: str, cmd: list[str], port: int, path: str, body: Any, env: Any):
        self.name, self.port, self.path, self.body = name, port, path, body
        self.log = ROOT / f"{name}-server.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def wait_ready(self, timeout: float = 120.0) -> None:
        import http.client

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise _peer.PeerError(f"{self.name} server exited:\n{self.log.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", self.path, self.body(0), {"Content-Type": "application/json"})
                response = conn.getresponse()
                text = response.read()
                conn.close()
                if response.status == 200:
                    return
                raise _peer.PeerError(
                    f"{self.name} server answered {response.status}: {text[:500]!r}"
                )
            except OSError:
                time.sleep(0.25)
        raise _peer.PeerError(f"{self.name} server not ready after {timeout:.0f} s")

    def stop(self) -> None:
        import os
        import signal

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the session this benchmark started
                self.proc.wait(timeout=20)


def weekend_body(entity_id: int) -> bytes:
    return json.dumps({"features": REFS, "entities": [{KEY: entity_id}]}).encode()


def feast_body(entity_id: int) -> bytes:
    return json.dumps({"features": REFS, "entities": {KEY: [entity_id]}}).encode()


def sequential(server: Server, ids: list[int], requests: int, max_seconds: float) -> dict[str, Any]:
    """One keep-alive connection, one request at a time (bounded in requests and time)."""
    import http.client

    headers = {"Content-Type": "application/json"}
    bodies = [server.body(i) for i in ids]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    latencies: list[float] = []
    errors = 0
    for i in range(50):  # warm-up, not timed
        conn.request("POST", server.path, bodies[i % len(bodies)], headers)
        conn.getresponse().read()
    deadline = time.monotonic() + max_seconds
    for i in range(requests):
        body = bodies[i % len(bodies)]
        started = time.perf_counter()
        conn.request("POST", server.path, body, headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        errors += response.status != 200
        if time.monotonic() > deadline:
            break
    conn.close()
    return {"latency_s": latencies, "errors": errors}


_WRK_LINE = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$")
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk(server: Server, ids: list[int], connections: int, seconds: int) -> dict[str, Any]:
    """``wrk`` with a Lua script that posts one entity per request, cycling through ids."""
    marker = 987654321987
    template = server.body(marker).decode().replace(str(marker), "%d")
    script = ROOT / f"{server.name}-wrk.lua"
    script.write_text(
        f"local ids = {{{','.join(map(str, ids))}}}\n"
        f"local template = [==[{template}]==]\n"
        "local counter = 0\n"
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        "  counter = counter + 1\n"
        "  return wrk.format(nil, nil, nil, string.format(template, ids[(counter % #ids) + 1]))\n"
        "end\n"
    )
    threads = min(2, connections)
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "--latency", "-s", str(script), f"http://127.0.0.1:{server.port}{server.path}",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if out.returncode != 0:
        raise _peer.PeerError(f"wrk failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = {"connections": connections, "seconds": seconds}
    for line in out.stdout.splitlines():
        found = _WRK_LINE.match(line)
        if found:
            result[f"p{found[1]}_s"] = float(found[2]) * _UNIT[found[3]]
        elif line.startswith("Requests/sec:"):
            result["requests_per_s"] = float(line.split()[1])
        elif "Non-2xx" in line:
            result["errors"] = int(line.split()[-1])
    result.setdefault("errors", 0)
    return result


# -- the driver: phases ---------------------------------------------------------------------
def redis_reachable() -> str | None:
    """None when Redis answers on 127.0.0.1:6379, else the reason."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(16).startswith(b"+PONG"):
                return "Redis on 127.0.0.1:6379 did not answer PING"
    except OSError as exc:
        return f"Redis on 127.0.0.1:6379 is unreachable ({exc})"
    return None


def agreement(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, int]:
    """Online values of the same entities: equal, or null on our side because of the ttl."""
    out = {"agree": 0, "expired_ours_only": 0, "different": 0}
    for key, mine in ours.items():
        other = theirs.get(key)
        if mine == other:
            out["agree"] += 1
        elif all(v is None for v in mine) and other and any(v is not None for v in other):
            out["expired_ours_only"] += 1  # weekend applies the ttl online; Feast does not
        else:
            out["different"] += 1
    return out


def phase_online(
    args: argparse.Namespace, info: dict[str, Any], venvs: dict[str, _peer.Venv]
) -> dict[str, Any]:
    folder = fresh_dir(ROOT / "runs" / "online")
    rng = random.Random(args.seed)
    ids = rng.sample(range(info["mat_entities"]), min(10_000, info["mat_entities"]))
    calls = {"1": args.online_calls, "10": args.online_calls // 2, "100": args.online_calls // 5}
    window = {"source": info["mat"], "start_s": info["start_s"], "end_s": info["end_s"] + DAY_S}
    reads = {"ids": ids, "check_ids": ids[:1000], "calls": calls, "warmup": 50}
    redis_skip = "--no-redis was given" if args.no_redis else redis_reachable()
    names = ["weekend_mat", "weekend_online", "feast_mat", "feast_online", "redis_mat"]
    raw: dict[str, list[dict[str, Any]]] = {k: [] for k in [*names, "redis_online"]}
    stores: dict[str, str] = {}
    for rep in range(args.reps):
        tag = f"[online] rep {rep + 1}/{args.reps}:"
        wk_spec = {**window, "root": str(fresh_dir(folder / f"weekend-{rep}"))}
        say(f"{tag} weekend materialize into SQLite ...")
        raw["weekend_mat"].append(
            run_project(venvs["project"], "weekend-materialize", wk_spec, 3600)
        )
        if not args.skip_feast:
            fe_spec = {**window, "repo": str(fresh_dir(folder / f"feast-{rep}"))}
            say(f"{tag} Feast materialize into SQLite ...")
            raw["feast_mat"].append(run_feast(venvs["feast"], "materialize", fe_spec, 7200))
        say(f"{tag} weekend online reads (SQLite) ...")
        spec = {**wk_spec, **reads, "seed": args.seed + rep}
        raw["weekend_online"].append(run_project(venvs["project"], "weekend-online", spec, 1800))
        if not args.skip_feast:
            say(f"{tag} Feast online reads (SQLite) ...")
            spec = {**fe_spec, **reads, "seed": args.seed + rep}
            raw["feast_online"].append(run_feast(venvs["feast"], "online", spec, 1800))
        if redis_skip is None:
            redis = {
                **window,
                "root": str(fresh_dir(folder / f"redis-{rep}")),
                "online_url": "redis://127.0.0.1:6379/0",
                "key_prefix": f"wkbench-{uuid.uuid4().hex[:12]}",
            }
            try:
                say(f"{tag} weekend materialize into Redis and read ...")
                raw["redis_mat"].append(
                    run_project(venvs["project"], "weekend-materialize", redis, 3600)
                )
                spec = {**redis, **reads, "seed": args.seed + rep}
                raw["redis_online"].append(
                    run_project(venvs["project"], "weekend-online", spec, 1800)
                )
            finally:
                left = run_project(venvs["project"], "weekend-cleanup", redis, 600)["left"]
                if left:
                    say(f"[online] WARNING: {left} Redis keys left under {redis['key_prefix']}")
            shutil.rmtree(redis["root"], ignore_errors=True)
        if rep > 0:  # keep only the last repetition's stores (served over HTTP next)
            for old in ("weekend", "feast"):
                shutil.rmtree(folder / f"{old}-{rep - 1}", ignore_errors=True)
        stores = {"weekend": wk_spec["root"]}
        if not args.skip_feast:
            stores["feast"] = fe_spec["repo"]
    checks: dict[str, Any] = {}
    last_values = raw["weekend_online"][-1]["values"]
    if raw["feast_online"]:
        checks["weekend_vs_feast"] = agreement(last_values, raw["feast_online"][-1]["values"])
    if raw["redis_online"]:
        checks["redis_vs_sqlite"] = agreement(raw["redis_online"][-1]["values"], last_values)
    for rows in raw.values():
        for row in rows:
            row.pop("values", None)
    return {"raw": raw, "checks": checks, "stores": stores, "ids": ids, "redis_skip": redis_skip}


def _clean_env(venv: _peer.Venv) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{venv.bin}{os.pathsep}{env.get('PATH', '')}"
    return env


def phase_http(
    args: argparse.Namespace, online: dict[str, Any], venvs: dict[str, _peer.Venv]
) -> dict[str, Any]:
    ids = online["ids"][:1000]
    servers: list[Server] = []
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {}
    try:
        port = free_port()
        spec = json.dumps({"root": online["stores"]["weekend"], "port": port})
        cmd = [
            str(venvs["project"].python),
            str(SCRIPT),
            "--worker",
            "weekend-serve",
            "--spec",
            spec,
        ]
        env = _clean_env(venvs["project"])
        servers.append(Server("weekend", cmd, port, "/v1/features/online", weekend_body, env))
        if "feast" in online["stores"]:
            port = free_port()
            feast = venvs["feast"]
            cmd = [
                str(feast.bin / "feast"), "-c", online["stores"]["feast"], "serve",
                "-h", "127.0.0.1", "-p", str(port), "--no-access-log", "--workers", "1",
                "--max-requests", "0", "--max-requests-jitter", "0",
            ]  # fmt: skip
            servers.append(
                Server("feast", cmd, port, "/get-online-features", feast_body, _clean_env(feast))
            )
        for server in servers:
            say(f"[http] starting {server.name} on 127.0.0.1:{server.port} ...")
            server.wait_ready()
        raw = {s.name: {"sequential": [], "wrk1": [], "wrk16": []} for s in servers}
        have_wrk = shutil.which("wrk") is not None
        if not have_wrk:
            say("[http] wrk is not installed (Debian: apt-get install wrk): no throughput figures")
        for rep in range(args.reps):
            for server in servers:
                say(f"[http] rep {rep + 1}/{args.reps}: {server.name} sequential + wrk ...")
                seq = sequential(server, ids, args.http_requests, args.http_seconds * 4)
                raw[server.name]["sequential"].append(seq)
                if have_wrk:
                    raw[server.name]["wrk1"].append(wrk(server, ids, 1, args.http_seconds))
                    raw[server.name]["wrk16"].append(wrk(server, ids, 16, args.http_seconds))
    finally:
        for server in servers:
            server.stop()
    return raw


# -- the driver: summaries and tables ---------------------------------------------------------
def _pcts(rows: list[dict[str, Any]], size: str) -> tuple[float, float]:
    """Median over repetitions of each repetition's p50 and p99."""
    p50 = [_stats.percentile(r["latency_s"][size], 50) for r in rows]
    p99 = [_stats.percentile(r["latency_s"][size], 99) for r in rows]
    return _stats.median(p50), _stats.median(p99)


def print_online(
    result: dict[str, Any], info: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    raw, checks = result["raw"], result["checks"]
    ratio = _stats.ratio
    nan = math.nan
    out: dict[str, Any] = {}
    rate = {
        k: [r["entities"] / r["seconds"] for r in raw[k]]
        for k in ("weekend_mat", "feast_mat", "redis_mat")
    }
    w_rate, f_rate, r_rate = (_stats.median(rate[k]) if rate[k] else nan for k in rate)
    out["materialize_entities_per_s"] = {
        "weekend": w_rate,
        "feast": f_rate,
        "weekend_redis": r_rate,
    }
    counts = [f"weekend {raw['weekend_mat'][-1]['entities']:,}"]
    if raw["feast_mat"]:
        counts.append(f"Feast {raw['feast_mat'][-1]['entities']:,}")
    if raw["redis_mat"]:
        counts.append(f"weekend Redis {raw['redis_mat'][-1]['entities']:,}")
    print()
    print(
        f"2. Materialization, {info['mat_entities']:,} entities of the {info['label']} table, "
        f"whole 90 days ({plural(args.reps, 'rep')}, medians)"
    )
    fmt = _stats.fmt_num
    rows = [
        _stats.Row(
            "into SQLite, entities/s",
            fmt(w_rate),
            fmt(f_rate),
            ratio(w_rate, f_rate, higher_is_better=True),
            TARGETS["materialize"],
        )
    ]
    if raw["redis_mat"]:
        rows.append(
            _stats.Row(
                "weekend into Redis, entities/s (vs Feast SQLite)",
                fmt(r_rate),
                fmt(f_rate),
                ratio(r_rate, f_rate, higher_is_better=True),
            )
        )
    print(_stats.comparison_table(rows, "weekend", "Feast"))
    print("entities stored: " + ", ".join(counts))
    for key, name in (("weekend_mat", "SQLite"), ("redis_mat", "Redis")):
        if raw[key]:
            query = med(raw[key], "query_seconds")
            total = med(raw[key], "seconds")
            print(
                f"weekend into {name}: {fmt_s(total)} in all, of which {fmt_s(query)} the DuckDB "
                f"latest-per-entity query and {fmt_s(total - query)} encoding and writing"
            )

    print()
    print(
        f"3. Online reads in process, 10 features per entity "
        f"({plural(args.reps, 'rep')}, median of each "
        f"rep's percentile; {args.online_calls:,}/{args.online_calls // 2:,}/"
        f"{args.online_calls // 5:,} calls for 1/10/100 entities)"
    )
    rows = []
    lat: dict[str, Any] = {}
    for size, target in (("1", TARGETS["online_1"]), ("10", None), ("100", TARGETS["online_100"])):
        w50, w99 = _pcts(raw["weekend_online"], size)
        f50, f99 = _pcts(raw["feast_online"], size) if raw["feast_online"] else (nan, nan)
        r50, r99 = _pcts(raw["redis_online"], size) if raw["redis_online"] else (nan, nan)
        lat[size] = {"weekend": [w50, w99], "feast": [f50, f99], "weekend_redis": [r50, r99]}
        noun = "entity" if size == "1" else "entities"
        rows.append(
            _stats.Row(
                f"{size} {noun}, p50",
                _stats.fmt_ms(w50),
                _stats.fmt_ms(f50),
                ratio(w50, f50, higher_is_better=False),
                target,
            )
        )
        rows.append(
            _stats.Row(
                f"{size} {noun}, p99",
                _stats.fmt_ms(w99),
                _stats.fmt_ms(f99),
                ratio(w99, f99, higher_is_better=False),
            )
        )
    out["online_p50_p99_s"] = lat
    print(_stats.comparison_table(rows, "weekend SQLite", "Feast SQLite"))
    if raw["redis_online"]:
        rows = []
        for size in ("1", "10", "100"):
            r50, r99 = lat[size]["weekend_redis"]
            f50, f99 = lat[size]["feast"]
            noun = "entity" if size == "1" else "entities"
            rows.append(
                _stats.Row(
                    f"{size} {noun}, p50",
                    _stats.fmt_ms(r50),
                    _stats.fmt_ms(f50),
                    ratio(r50, f50, higher_is_better=False),
                )
            )
            rows.append(
                _stats.Row(
                    f"{size} {noun}, p99",
                    _stats.fmt_ms(r99),
                    _stats.fmt_ms(f99),
                    ratio(r99, f99, higher_is_better=False),
                )
            )
        print(_stats.comparison_table(rows, "weekend Redis", "Feast SQLite"))
    elif result["redis_skip"]:
        print(f"weekend on Redis: skipped ({result['redis_skip']})")
    for key, name in (
        ("weekend_vs_feast", "weekend vs Feast"),
        ("redis_vs_sqlite", "weekend Redis vs SQLite"),
    ):
        if key in checks:
            c = checks[key]
            print(
                f"values of 1,000 entities, {name}: {c['agree']:,} agree, "
                f"{c['different']:,} differ, "
                f"{c['expired_ours_only']:,} null on the first side only"
                + (
                    " (older than the ttl: weekend applies it online, Feast's online store "
                    "does not)"
                    if key == "weekend_vs_feast"
                    else ""
                )
            )
    return out


def print_http(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    nan = math.nan
    ratio = _stats.ratio

    def get(name: str, kind: str, key: str) -> float:
        runs = raw.get(name, {}).get(kind, [])
        if not runs:
            return nan
        if kind == "sequential":
            q = {"p50_s": 50, "p99_s": 99}[key]
            return _stats.median([_stats.percentile(r["latency_s"], q) for r in runs])
        return _stats.median([r.get(key, nan) for r in runs])

    ms, fmt = _stats.fmt_ms, _stats.fmt_num
    print()
    print(
        f"4. HTTP on loopback, 1 entity x 10 features per request "
        f"({plural(args.reps, 'rep')}, medians; "
        f"one server process each; wrk {args.http_seconds} s per run)"
    )
    rows = []
    for kind, key, what in (
        ("sequential", "p50_s", "sequential keep-alive client, p50"),
        ("sequential", "p99_s", "sequential keep-alive client, p99"),
        ("wrk1", "p50_s", "wrk 1 connection, p50"),
        ("wrk1", "p99_s", "wrk 1 connection, p99"),
    ):
        w, f = get("weekend", kind, key), get("feast", kind, key)
        rows.append(_stats.Row(what, ms(w), ms(f), ratio(w, f, higher_is_better=False)))
    for kind, what in (
        ("wrk1", "wrk 1 connection, requests/s"),
        ("wrk16", "wrk 16 connections, requests/s"),
    ):
        w, f = get("weekend", kind, "requests_per_s"), get("feast", kind, "requests_per_s")
        rows.append(_stats.Row(what, fmt(w), fmt(f), ratio(w, f, higher_is_better=True)))
    print(_stats.comparison_table(rows, "weekend", "feast serve"))
    p50 = get("weekend", "sequential", "p50_s")
    verdict = "PASS" if p50 < TARGETS["http_p50_s"] else "MISS"
    print(
        f"weekend p50, one entity: {ms(p50)} "
        f"(target < {TARGETS['http_p50_s'] * 1000:g} ms) {verdict}"
    )
    errors = {
        name: sum(r.get("errors", 0) for runs in kinds.values() for r in runs)
        for name, kinds in raw.items()
    }
    print(f"non-200 answers: {errors}")
    stack = http_stack()
    print(f"weekend: uvicorn with {stack} (what the project venv has), one process")
    if "feast" in raw:
        print(
            "feast serve: gunicorn + uvicorn worker, 1 worker, --max-requests 0 (no recycling "
            "in the middle of a run)"
        )
    return {
        "weekend_sequential_p50_s": p50,
        "feast_sequential_p50_s": get("feast", "sequential", "p50_s"),
        "weekend_wrk16_rps": get("weekend", "wrk16", "requests_per_s"),
        "feast_wrk16_rps": get("feast", "wrk16", "requests_per_s"),
        "errors": errors,
        "weekend_stack": stack,
    }


def http_stack() -> str:
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    _peer.add_common_options(
        p,
        seed=20240601,
        reps=3,
        workers=[*WORKERS, "weekend-serve"],
        keep="keep the result files in bench/.data",
        quick="1M x 100k only, 1 rep, short runs",
    )
    p.add_argument("--skip-feast", action="store_true", help="weekend and the lower bound only")
    p.add_argument("--no-redis", action="store_true", help="skip weekend on Redis")
    p.add_argument("--no-http", action="store_true", help="skip the HTTP measurements")
    p.add_argument(
        "--mat-entities",
        type=int,
        default=200_000,
        help="entities materialized at 10M x 1M (the first N ids; default 200000)",
    )
    p.add_argument("--online-calls", type=int, help="calls for 1 entity (default 2000, quick 500)")
    p.add_argument("--http-requests", type=int, help="sequential requests (default 3000)")
    p.add_argument("--http-seconds", type=int, help="seconds per wrk run (default 5, quick 3)")
    p.add_argument("--anchor", help="the data's last day, YYYY-MM-DD (default: today, UTC)")
    p.add_argument(
        "--training-only",
        action="store_true",
        help="training sets only (no materialization, online reads or HTTP)",
    )
    _w4_training.add_options(p)
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    args.online_calls = args.online_calls or (500 if args.quick else 2000)
    args.http_requests = args.http_requests or (1000 if args.quick else 3000)
    args.http_seconds = args.http_seconds or (3 if args.quick else 5)
    today = datetime.now(UTC).date()
    day = datetime.strptime(args.anchor, "%Y-%m-%d").date() if args.anchor else today
    args.anchor = datetime(day.year, day.month, day.day, tzinfo=UTC)
    args.sizes = _w4_training.parse_shapes(args.shapes, args.quick)
    # materialization: all of the small table in quick runs, else a subset of the large one
    args.mat_size = "small" if args.quick else "large"
    args.mat_entities = {"small": SIZES["small"]["entities"], "large": args.mat_entities}
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.worker == "weekend-serve":
        weekend_serve(json.loads(args.spec))
        return 0
    if _peer.serve_worker(args, WORKERS):
        return 0
    started = time.perf_counter()
    venvs = {"project": _peer.project_venv()}
    feast_version = "n/a"
    if not args.skip_feast:
        venvs["feast"] = _peer.ensure_venv("feast", FEAST_REQUIREMENTS, check_import="feast")
        feast_version = venvs["feast"].version_of("feast") or "?"
    weekend_version = venvs["project"].version_of("weekend") or "?"
    ROOT.mkdir(parents=True, exist_ok=True)
    ensure_data = _w4_training.ensure_data
    data = {size: ensure_data(args, size, venvs["project"]) for size in args.sizes}
    if args.mat_size not in data and not args.training_only:
        data[args.mat_size] = ensure_data(args, args.mat_size, venvs["project"])

    training = {
        size: _w4_training.phase_training(args, size, data[size], venvs) for size in args.sizes
    }
    online = None if args.training_only else phase_online(args, data[args.mat_size], venvs)
    http = None if args.no_http or online is None else phase_http(args, online, venvs)
    if not args.keep:
        shutil.rmtree(ROOT / "runs", ignore_errors=True)  # the stores; the data is kept

    print()
    print(
        f"W4 feature store — weekend {weekend_version} vs Feast {feast_version} (DuckDB offline "
        f"store, SQLite online store) and a hand-written DuckDB ASOF JOIN"
    )
    print(
        f"Python {platform.python_version()}, seed {args.seed}, data anchored at "
        f"{args.anchor:%Y-%m-%d} 00:00 UTC (features over the 90 days before it), "
        "10 float64 features"
    )
    for info in data.values():
        st = info["stats"]
        print(
            f"data {info['label']}: {st['rows']:,} feature rows over "
            f"{st['entities_with_rows']:,} entities ({st['tied_rows']:,} tied on event time), "
            f"{st['entity_rows']:,} entity rows over {info['entity_days']} days "
            f"({st['unknown_entity_rows']:,} unknown entities)"
        )
    summary: dict[str, Any] = {"training": {}}
    for size in args.sizes:
        summary["training"][size] = _w4_training.print_training(size, training[size], args)
    if online is not None:
        summary["online"] = print_online(online, data[args.mat_size], args)
    if http is not None:
        summary["http"] = print_http(http, args)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    _peer.write_figures(
        args,
        {
            "benchmark": "W4 feature store",
            "weekend_version": weekend_version,
            "feast_version": feast_version,
            "data": data,
            "summary": summary,
            "training": training,
            "online": {k: v for k, v in (online or {}).items() if k != "ids"},
            "http": http,
        },
        "w4",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
