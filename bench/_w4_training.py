"""W4, phase 1 of ``bench/features.py``: point-in-time training sets, at three shapes.

| shape  | feature rows | entities | rows per entity | entity rows | tied rows | entity times |
| ------ | ------------ | -------- | --------------- | ----------- | --------- | ------------ |
| small  | 1M           | 100k     | ~10             | 100k        | 5%        | 90 days      |
| large  | 10M          | 1M       | ~10             | 1M          | 5%        | 90 days      |
| dense  | 10M          | 10k      | ~1,000          | 1M          | 1%        | 100 days     |

The sparse shapes (small, large) give each entity row about 3 candidate rows within the
30-day ttl; the dense one about 330: a plan that joins every row within the ttl and then
picks the latest (Feast's DuckDB store, the hash join + window reference) grows with that
number, an as-of join does not. The window reference is left out at the dense shape.

Each side runs in a fresh process, interleaved, ``--reps`` times: weekend's
``training_set(..., output="arrow")``, the hand-written DuckDB ``ASOF JOIN`` (the lower
bound), for reference a DuckDB hash join within the ttl + ``row_number()`` (sparse only),
and Feast's DuckDB offline store in its own venv, **under a cap** (``--peer-memory-gb``,
default 16, on its resident memory; ``--peer-timeout-min``, default 15): a peer that passes
either is stopped and reported as out of memory or out of time, and not run again. Every
result is compared row by row with the lower bound's (and Feast's).

The workers (``make-data``, ``lower-bound``, ``weekend-training``) are served by
``bench/features.py --worker NAME``; this module imports only the standard library at the top.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import _peer
import _stats

FEATURES = [f"f{i}" for i in range(10)]
VIEW = "fv"
KEY = "entity_id"
REFS = [f"{VIEW}:{f}" for f in FEATURES]
TTL_DAYS = 30
WINDOW_DAYS = 90
DAY_S = 86_400
CREATED_DELAY_US = 6 * 3600 * 1_000_000
DATA_VERSION = 1
SIZES: dict[str, dict[str, Any]] = {
    "small": {
        "label": "1M x 100k",
        "rows": 1_000_000,
        "entities": 100_000,
        "entity_rows": 100_000,
        "tie_share": 0.05,
        "entity_days": WINDOW_DAYS,
        "seed_offset": 0,
        "window_plan": True,
    },
    "large": {
        "label": "10M x 1M",
        "rows": 10_000_000,
        "entities": 1_000_000,
        "entity_rows": 1_000_000,
        "tie_share": 0.05,
        "entity_days": WINDOW_DAYS,
        "seed_offset": 1,
        "window_plan": True,
    },
    "dense": {
        "label": "10M x 1M dense (10k entities)",
        "rows": 10_000_000,
        "entities": 10_000,
        "entity_rows": 1_000_000,
        "tie_share": 0.01,
        "entity_days": 100,
        "seed_offset": 2,
        "window_plan": False,  # ~330 candidates per entity row: quadratic, and not the point
    },
}
SHAPES = list(SIZES)
TARGETS = {
    "lower": 0.667,  # lower-bound time / weekend time: weekend within 1.5x
    "feast_time": 10.0,  # at 10M x 1M (issue 4)
    "feast_mem": 3.0,
}
FEAST_TARGET_SIZES = ("large", "dense")
FEAST_SCRIPT = Path(__file__).resolve().with_name("_feast_worker.py")
SCRIPT = Path(__file__).resolve().with_name("features.py")  # the project venv's worker
ROOT = _peer.DATA_DIR / "features"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the seeded data ------------------------------------------------------------------------
def make_data(spec: dict[str, Any]) -> dict[str, Any]:
    """Write features.parquet, entities.parquet (and mat.parquet, a subset of entities)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(spec["seed"])
    n, n_ent, m = spec["rows"], spec["entities"], spec["entity_rows"]
    start_us = spec["start_s"] * 1_000_000
    window = WINDOW_DAYS * DAY_S
    ent = rng.integers(0, n_ent, n)
    ev = rng.integers(0, window, n)  # seconds after the start of the window
    order = np.argsort(ent, kind="stable")
    same_ent, sorted_ev = ent[order], ev[order]
    tied = rng.random(n - 1) < spec["tie_share"]
    tie = np.flatnonzero((same_ent[1:] == same_ent[:-1]) & tied) + 1
    sorted_ev[tie] = sorted_ev[tie - 1]  # a tie on event time: the later created time wins
    ev[order] = sorted_ev
    created = ev * 1_000_000 + rng.integers(0, CREATED_DELAY_US, n)
    by_time = np.argsort(ev, kind="stable")  # the table is appended in event-time order
    stamp = pa.timestamp("us", tz="UTC")
    columns: dict[str, Any] = {
        KEY: pa.array(ent[by_time]),
        "event_ts": pa.array(start_us + ev[by_time] * 1_000_000).cast(stamp),
        "created_ts": pa.array(start_us + created[by_time]).cast(stamp),
    }
    for name in FEATURES:
        columns[name] = pa.array(rng.random(n)[by_time])
    table = pa.table(columns)
    folder = Path(spec["folder"])
    pq.write_table(table, folder / "features.parquet", row_group_size=250_000)
    mat_entities = spec["mat_entities"]
    if mat_entities < n_ent:
        import pyarrow.compute as pc

        subset = table.filter(pc.less(table[KEY], mat_entities))
        pq.write_table(subset, folder / "mat.parquet", row_group_size=250_000)
    del table, columns

    kind = rng.random(m)
    entity = rng.integers(0, n_ent, m)
    when = rng.integers(0, spec["entity_days"] * DAY_S, m)
    unknown = kind < 0.01
    entity[unknown] = n_ent + rng.integers(0, max(1, n_ent // 100), int(unknown.sum()))
    for low, high, shift in ((0.01, 0.03, 0), (0.03, 0.04, TTL_DAYS * DAY_S)):
        pick = (kind >= low) & (kind < high)
        rows = rng.integers(0, n, int(pick.sum()))
        entity[pick] = ent[rows]
        when[pick] = ev[rows] + shift  # exactly on an event time, or exactly on the ttl edge
    frame = pa.table(
        {
            "rid": pa.array(np.arange(m, dtype=np.int64)),
            KEY: pa.array(entity),
            "event_timestamp": pa.array(start_us + when * 1_000_000).cast(stamp),
        }
    )
    pq.write_table(frame, folder / "entities.parquet", row_group_size=250_000)
    return {
        "rows": n,
        "entities_with_rows": int(np.unique(ent).size),
        "tied_rows": int(tie.size),
        "entity_rows": m,
        "unknown_entity_rows": int(unknown.sum()),
    }


def ensure_data(args: argparse.Namespace, size: str, venv: _peer.Venv) -> dict[str, Any]:
    info = dict(SIZES[size], size=size)
    anchor = args.anchor
    mat_entities = min(args.mat_entities.get(size, info["entities"]), info["entities"])
    tag = f"{size}-s{args.seed}-{anchor:%Y%m%d}-m{mat_entities}-v{DATA_VERSION}"
    folder = ROOT / "data" / tag
    marker = folder / "done.json"
    info.update(
        folder=str(folder),
        features=str(folder / "features.parquet"),
        entity=str(folder / "entities.parquet"),
        mat=str(
            folder / ("mat.parquet" if mat_entities < info["entities"] else "features.parquet")
        ),
        mat_entities=mat_entities,
        start_s=int(anchor.timestamp()) - WINDOW_DAYS * DAY_S,
        end_s=int(anchor.timestamp()),
    )
    if marker.exists():
        info["stats"] = json.loads(marker.read_text())
        return info
    for stale in (ROOT / "data").glob(f"{size}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # old seeds or anchors: large files
    folder.mkdir(parents=True, exist_ok=True)
    say(f"[data] writing {info['label']} (seed {args.seed}, anchor {anchor:%Y-%m-%d}) ...")
    started = time.perf_counter()
    keys = ("rows", "entities", "entity_rows", "folder", "start_s", "mat_entities")
    spec = {k: info[k] for k in (*keys, "tie_share", "entity_days")}
    spec["seed"] = args.seed + info["seed_offset"]
    stats = _peer.run_worker(venv, SCRIPT, ["--worker", "make-data", "--spec", json.dumps(spec)])
    marker.write_text(json.dumps(stats))
    say(f"[data] {info['label']} ready in {time.perf_counter() - started:.0f} s: {stats}")
    info["stats"] = stats
    return info


# -- the lower bound: a hand-written DuckDB ASOF JOIN (project venv) -----------------------
_SHIFT = 2**64  # (event, created) packed into one HUGEINT: event * 2**64 + created


def lower_bound_sql(source: str) -> str:
    """ASOF JOIN on one composite key ``event_us * 2**64 + created_us``: the latest event
    <= t, ties to the latest created, with no separate de-duplication pass; then the ttl;
    every entity row, in order. (Exact for this data: created times are after 1970 and
    distinct per (entity, event); a QUALIFY pass before a plain ASOF JOIN is twice as slow.)"""
    fresh = ", ".join(f"CASE WHEN fresh THEN {f} END AS {f}" for f in FEATURES)
    values = ", ".join(f"l.{f}" for f in FEATURES)
    return (
        f"WITH l AS (SELECT {KEY}, event_ts, CAST(epoch_us(event_ts) AS HUGEINT) * {_SHIFT} "
        f"+ epoch_us(created_ts) AS k, {', '.join(FEATURES)} FROM read_parquet('{source}')), "
        f"e AS (SELECT rid, {KEY}, event_timestamp, CAST(epoch_us(event_timestamp) AS HUGEINT) "
        f"* {_SHIFT} + {2**63} AS k FROM entity_rows), "
        f"j AS (SELECT e.rid, e.{KEY}, e.event_timestamp, "
        f"l.event_ts >= e.event_timestamp - INTERVAL {TTL_DAYS} DAY AS fresh, {values} "
        f"FROM e ASOF LEFT JOIN l ON e.{KEY} = l.{KEY} AND e.k >= l.k) "
        f"SELECT rid, {KEY}, event_timestamp, {fresh} FROM j ORDER BY rid"
    )


def window_sql(source: str) -> str:
    """The other plan, for reference: a hash join on the key within the ttl window, then
    the best row per entity row (``row_number`` by event, created). Fast when an entity row
    has few candidate rows, quadratic when it has many (a long or no ttl)."""
    values = ", ".join(f"l.{f}" for f in FEATURES)
    picked = ", ".join(f"m.{f}" for f in FEATURES)
    return (
        f"WITH m AS (SELECT e.rid, {values} FROM entity_rows AS e "
        f"JOIN read_parquet('{source}') AS l ON e.{KEY} = l.{KEY} "
        "AND l.event_ts <= e.event_timestamp "
        f"AND l.event_ts >= e.event_timestamp - INTERVAL {TTL_DAYS} DAY "
        "QUALIFY row_number() OVER (PARTITION BY e.rid "
        "ORDER BY l.event_ts DESC, l.created_ts DESC) = 1) "
        f"SELECT e.rid, e.{KEY}, e.event_timestamp, {picked} "
        "FROM entity_rows AS e LEFT JOIN m ON e.rid = m.rid ORDER BY e.rid"
    )


def _finish_training(table: Any, spec: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS first, then the untimed checks and the result file for the comparison."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rss = rss_mb()
    rows = table.num_rows
    expected = pa.array(range(rows), pa.int64())
    in_order = bool(pc.all(pc.equal(table["rid"], expected)).as_py()) if rows else True
    pq.write_table(table.select(["rid", *FEATURES]), spec["out"])
    return {"rss_mb": rss, "rows": rows, "in_order": in_order, **extra}


def lower_bound(spec: dict[str, Any]) -> dict[str, Any]:
    import duckdb
    import pyarrow.parquet as pq

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    entity = pq.read_table(spec["entity"])
    con.register("entity_rows", entity)
    rss_before = rss_mb()
    started = time.perf_counter()
    sql = (window_sql if spec["plan"] == "window" else lower_bound_sql)(spec["source"])
    table = con.sql(sql).to_arrow_table()
    seconds = time.perf_counter() - started
    return _finish_training(table, spec, {"seconds": seconds, "rss_before_mb": rss_before})


# -- weekend (project venv) ------------------------------------------------------------------
def weekend_workspace(spec: dict[str, Any], *, fresh: bool) -> Any:
    """The workspace of ``spec['root']``: made, configured and applied when ``fresh``."""
    import weekend as wk

    root = Path(spec["root"])
    if not fresh:
        return wk.open(root)
    root.mkdir(parents=True, exist_ok=True)
    url = spec.get("online_url") or "sqlite:///.weekend/online.db"
    prefix = spec.get("key_prefix") or "weekend"
    (root / "weekend.toml").write_text(f'[online_store]\nurl = "{url}"\nkey_prefix = "{prefix}"\n')
    ws = wk.init(root)
    entity = wk.Entity("entity", join_keys=[KEY])
    view = wk.FeatureView(
        VIEW,
        entities=[entity],
        source=spec["source"],
        timestamp_field="event_ts",
        created_timestamp_field="created_ts",
        features=dict.fromkeys(FEATURES, "float64"),
        ttl=f"{TTL_DAYS}d",
    )
    ws.features.apply([entity, view])
    return ws


def weekend_training(spec: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    ws = weekend_workspace(spec, fresh=True)
    entity = pq.read_table(spec["entity"])
    rss_before = rss_mb()
    started = time.perf_counter()
    table = ws.features.training_set(entity, REFS, output="arrow")
    seconds = time.perf_counter() - started
    return _finish_training(table, spec, {"seconds": seconds, "rss_before_mb": rss_before})


WORKERS = {"make-data": make_data, "lower-bound": lower_bound, "weekend-training": weekend_training}


# -- the driver --------------------------------------------------------------------------------
def add_options(parser: argparse.ArgumentParser) -> None:
    """The command-line options of this phase."""
    parser.add_argument(
        "--shapes",
        help=f"training-set shapes, comma-separated among {', '.join(SHAPES)} "
        "(default: all; quick: small)",
    )
    parser.add_argument(
        "--peer-memory-gb",
        type=float,
        default=16.0,
        help="stop Feast when its resident memory passes this (default 16)",
    )
    parser.add_argument(
        "--peer-timeout-min",
        type=float,
        default=15.0,
        help="stop a Feast training process after this many minutes (default 15)",
    )


def parse_shapes(text: str | None, quick: bool) -> list[str]:
    if not text:
        return ["small"] if quick else list(SHAPES)
    shapes = [s.strip() for s in text.split(",") if s.strip()]
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown or not shapes:
        raise SystemExit(
            f"--shapes: expected a comma-separated list among {', '.join(SHAPES)}, got {text!r}"
        )
    return [s for s in SHAPES if s in shapes]


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run_project(venv: _peer.Venv, name: str, spec: dict[str, Any], timeout: float) -> Any:
    args = ["--worker", name, "--spec", json.dumps(spec)]
    return _peer.run_worker(venv, SCRIPT, args, timeout=timeout)


def run_feast(venv: _peer.Venv, name: str, spec: dict[str, Any], timeout: float) -> Any:
    spec = {**spec, "features": FEATURES, "ttl_days": TTL_DAYS}
    return _peer.run_worker(venv, FEAST_SCRIPT, [name, json.dumps(spec)], timeout=timeout)


def compare(a: Path, b: Path) -> dict[str, int]:
    """Entity rows (by rid) on which two training sets disagree: missing on either side,
    duplicated, or with other feature values (null equals null)."""
    import duckdb

    values = ", ".join(FEATURES)
    side = "SELECT rid, list(row({v})) AS v FROM read_parquet('{p}') GROUP BY rid"
    sql = (
        f"WITH a AS ({side.format(v=values, p=a)}), b AS ({side.format(v=values, p=b)}) "
        "SELECT count(*) FILTER (WHERE b.rid IS NULL), count(*) FILTER (WHERE a.rid IS NULL), "
        "count(*) FILTER (WHERE a.rid IS NOT NULL AND b.rid IS NOT NULL "
        "AND a.v IS DISTINCT FROM b.v) FROM a FULL OUTER JOIN b ON a.rid = b.rid"
    )
    with duckdb.connect() as con:
        only_a, only_b, differ = con.sql(sql).fetchall()[0]
    return {
        "only_first": int(only_a),
        "only_second": int(only_b),
        "different": int(differ),
        "disagreeing": int(only_a + only_b + differ),
    }


def result_stats(path: Path) -> dict[str, int]:
    import duckdb

    sql = (
        "SELECT count(*), count(DISTINCT rid), count(*) FILTER (WHERE "
        + " AND ".join(f"{f} IS NULL" for f in FEATURES)
        + f") FROM read_parquet('{path}')"
    )
    with duckdb.connect() as con:
        rows, distinct, empty = con.sql(sql).fetchall()[0]
    return {"rows": int(rows), "distinct_rids": int(distinct), "no_value_rows": int(empty)}


def _feast_capped(
    args: argparse.Namespace, venv: _peer.Venv, spec: dict[str, Any], out: Path
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Feast's training set under the memory and time caps: (result, None) when it ended,
    (None, what stopped it) when it ran out of memory or time."""
    tmp = out.with_name("feast-partial.parquet")
    mark = out.with_name("feast-started")
    mark.unlink(missing_ok=True)
    spec = {**spec, "out": str(tmp), "features": FEATURES, "ttl_days": TTL_DAYS}
    capped = _peer.run_capped(
        venv,
        FEAST_SCRIPT,
        ["training", json.dumps({**spec, "started_file": str(mark)})],
        memory_mb=args.peer_memory_gb * 1024,
        timeout=args.peer_timeout_min * 60,
    )
    sampled = {"sampled_rss_mb": capped.peak_rss_mb, "sampled_vm_mb": capped.peak_vm_mb}
    if not capped.ok:
        # how long it had been inside get_historical_features when stopped (nan: not yet)
        inside = time.time() - float(mark.read_text()) if mark.exists() else math.nan
        stop = {"status": capped.status, "detail": capped.detail, "seconds": inside}
        return None, {**stop, **sampled}
    tmp.replace(out)
    return {**capped.result, **sampled}, None


def phase_training(
    args: argparse.Namespace, size: str, info: dict[str, Any], venvs: dict[str, _peer.Venv]
) -> dict[str, Any]:
    folder = fresh_dir(ROOT / "runs" / f"training-{size}")
    sides = ["lower", *(["window"] if SIZES[size]["window_plan"] else []), "weekend"]
    sides += [] if args.skip_feast else ["feast"]
    raw: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    stopped: dict[str, dict[str, Any]] = {}  # a side out of memory or time: not run again
    base = {"source": info["features"], "entity": info["entity"]}
    for rep in range(args.reps):
        for side in sides:
            if side in stopped:
                continue
            out = folder / f"{side}.parquet"
            spec = {**base, "out": str(out)}
            say(f"[training {info['label']}] rep {rep + 1}/{args.reps}: {side} ...")
            if side in ("lower", "window"):
                spec["plan"] = "window" if side == "window" else "asof"
                result = run_project(venvs["project"], "lower-bound", spec, 3600)
            elif side == "weekend":
                spec["root"] = str(fresh_dir(folder / "weekend-ws"))
                result = run_project(venvs["project"], "weekend-training", spec, 3600)
            else:
                spec["repo"] = str(fresh_dir(folder / "feast-repo"))
                found, stop = _feast_capped(args, venvs["feast"], spec, out)
                if stop is not None:
                    stopped[side] = {**stop, "rep": rep + 1}
                    say(f"    {stop['status']}: {stop['detail']} (not run again)")
                    continue
                assert found is not None
                result = found
            say(f"    {result['seconds']:.2f} s, peak RSS {result['rss_mb']:,.0f} MB")
            raw[side].append(result)
    done = [side for side in sides if raw[side]]
    checks: dict[str, Any] = {side: result_stats(folder / f"{side}.parquet") for side in done}
    pairs = [("weekend", "lower"), ("window", "lower"), ("weekend", "feast"), ("lower", "feast")]
    for a, b in pairs:
        if a in done and b in done:
            checks[f"{a}_vs_{b}"] = compare(folder / f"{a}.parquet", folder / f"{b}.parquet")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return {"raw": raw, "checks": checks, "stopped": stopped}


# -- the table ---------------------------------------------------------------------------------
def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def med(rows: list[dict[str, Any]], key: str) -> float:
    return _stats.median([row[key] for row in rows]) if rows else math.nan


def fmt_s(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f} s"


def fmt_mb(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f} MB"


REFERENCES = {
    "lower": "DuckDB ASOF lower bound",
    "window": "DuckDB hash join + window",
    "feast": "Feast, DuckDB store",
}
CHECKS = {
    "weekend_vs_lower": "weekend vs lower bound",
    "weekend_vs_feast": "weekend vs Feast",
    "lower_vs_feast": "lower bound vs Feast",
    "window_vs_lower": "hash join + window vs lower bound",
}


def _rows(size: str, s: dict[str, dict[str, float]], stopped: dict[str, Any]) -> list[_stats.Row]:
    w = s["weekend"]
    with_feast = size in FEAST_TARGET_SIZES
    targets = {
        ("lower", "seconds"): TARGETS["lower"],
        ("feast", "seconds"): TARGETS["feast_time"] if with_feast else None,
        ("feast", "rss_mb"): TARGETS["feast_mem"] if with_feast else None,
    }
    rows = []
    for side, name in REFERENCES.items():
        if side not in s and side not in stopped:
            continue
        for key, what, fmt in (("seconds", "time", fmt_s), ("rss_mb", "peak RSS", fmt_mb)):
            theirs, ratio = stopped.get(side, {}).get("status", "n/a"), math.nan
            if side in s:  # else stopped: no figure, no ratio
                theirs = fmt(s[side][key])
                ratio = _stats.ratio(w[key], s[side][key], higher_is_better=False)
            target = targets.get((side, key))
            rows.append(_stats.Row(f"{what} vs {name}", fmt(w[key]), theirs, ratio, target))
    return rows


def _ratio_line(s: dict[str, dict[str, float]], stopped: dict[str, Any], reps: int) -> str:
    w = s["weekend"]
    parts = []
    if "lower" in s:
        parts.append(
            f"weekend / lower bound: {w['seconds'] / s['lower']['seconds']:.2f}x the time, "
            f"{w['rss_mb'] / s['lower']['rss_mb']:.2f}x the peak RSS"
        )
    if "feast" in s:
        parts.append(
            f"Feast / weekend: {s['feast']['seconds'] / w['seconds']:.1f}x the time, "
            f"{s['feast']['rss_mb'] / w['rss_mb']:.1f}x the peak RSS"
        )
    elif "feast" in stopped:
        f = stopped["feast"]
        line = (
            f"Feast: {f['status'].upper()} in rep {f['rep']} of {reps}: {f['detail']} "
            f"(sampled peak RSS {fmt_mb(f['sampled_rss_mb'])}); not run again"
        )
        if not math.isnan(f["seconds"]):
            line += (
                f". It had spent {fmt_s(f['seconds'])} in get_historical_features, "
                f"{f['seconds'] / w['seconds']:.0f}x weekend's whole call"
            )
        parts.append(line)
    return "\n".join(parts)


def print_training(size: str, result: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    raw, checks, stopped = result["raw"], result["checks"], result.get("stopped", {})
    s = {
        side: {"seconds": med(r, "seconds"), "rss_mb": med(r, "rss_mb")}
        for side, r in raw.items()
        if r
    }
    print()
    print(
        f"1. Training set {SIZES[size]['label']}, ttl {TTL_DAYS} d "
        f"({plural(args.reps, 'rep')}, medians; "
        "a fresh process each; ratio = their time / ours: within 1.5x of the lower bound = 0.667x)"
    )
    print(_stats.comparison_table(_rows(size, s, stopped), "weekend", "reference"))
    print(_ratio_line(s, stopped, args.reps))
    parts = []
    for side, name in (("weekend", "weekend"), *REFERENCES.items()):
        if side in checks:
            c = checks[side]
            order = ""
            if raw[side][-1].get("in_order") is not None:
                order = ", in order" if raw[side][-1]["in_order"] else ", NOT in order"
            parts.append(
                f"  {name}: {c['rows']:,} rows ({c['distinct_rids']:,} distinct{order}; "
                f"{c['no_value_rows']:,} without a value)"
            )
    print("rows:\n" + "\n".join(parts))
    for key, name in CHECKS.items():
        if key in checks:
            c = checks[key]
            print(
                f"disagreeing entity rows, {name}: {c['disagreeing']:,} (missing on the "
                f"second side {c['only_first']:,}, on the first {c['only_second']:,}, "
                f"other values {c['different']:,})"
            )
    w = s["weekend"]
    ratios = {"weekend_over_lower": w["seconds"] / s["lower"]["seconds"] if "lower" in s else None}
    if "feast" in s:
        ratios["feast_over_weekend"] = s["feast"]["seconds"] / w["seconds"]
        ratios["feast_over_weekend_rss"] = s["feast"]["rss_mb"] / w["rss_mb"]
    return {
        "seconds": {k: v["seconds"] for k, v in s.items()},
        "rss_mb": {k: v["rss_mb"] for k, v in s.items()},
        "ratios": ratios,
        "stopped": stopped,
    }
