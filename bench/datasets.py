"""Dataset register + profile against a plain DuckDB scan computing the same statistics.

    .venv/bin/python bench/datasets.py            # full run: 10M rows x 20 columns, 3 reps
    .venv/bin/python bench/datasets.py --quick    # smoke run: 1M rows, 1 repetition
    .venv/bin/python bench/datasets.py --reps 5 --json bench/results/datasets.json

The data: a seeded Parquet file of 10M rows and 20 columns (8 float, 4 integer, 5 string
category and 3 timestamp columns, several with missing values), written once, chunk by
chunk, to ``bench/.data/datasets/`` and reused.

What is compared, each repetition in a fresh process per side (the sides interleaved):

- **weekend**: ``ws.datasets.register("big", path)`` on a fresh store (``wk.init`` is not
  timed): hash and copy the file into the artifact store, infer the schema, compute the
  profile (counts, missing, min/max, mean and variance, quantile sketch, histograms,
  category frequencies), record the version in the catalog.
- **DuckDB**: a hand-written two-query scan of the same file computing the same statistics
  of every column: count and nulls; min, max, mean, standard deviation (sample) and 7 quantiles
  (``approx_quantile``, as weekend's quantiles are sketched too) of numeric columns; exact
  category counts of string columns; min and max of timestamps; then 20-bin equal-width
  histograms of numeric and timestamp columns from the first query's min and max.
  Target: weekend within 2x of its time.
- **memory**: the peak RSS (``VmHWM``) of each side's process, against the data's size
  in pandas (``pd.read_parquet(path).memory_usage(deep=True).sum()``, measured once in a
  separate process). Target: weekend's peak at most half of it ("well below").

Both sides run with DuckDB's defaults (all cores, its memory limit) and read a file that
the page cache holds after the first repetition. The benchmark cross-checks the two sides'
counts, missing values, min, max, mean, standard deviation, distinct and top category
counts. This file is also the worker (``--worker NAME --spec JSON``).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import _peer
import _stats

CHUNK_ROWS = 1_000_000
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
BINS = 20
TARGET_TIME = 0.5  # weekend's time at most 2x DuckDB's: ratio DuckDB/weekend >= 0.5
TARGET_MEMORY = 2.0  # weekend's peak RSS at most half the data's size in pandas
# name -> (kind, parameters); the order is the file's column order
CATEGORY_LEVELS = {"cat_a": 4, "cat_b": 12, "cat_c": 50, "cat_d": 300, "cat_e": 2000}
START_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
YEAR_US = 365 * 86_400 * 1_000_000


# -- the seeded data ---------------------------------------------------------------------------
def make_chunk(rows: int, seed: int, index: int) -> Any:
    """One chunk of the file as an Arrow table (20 columns)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng([seed, index])

    def with_nulls(values: Any, share: float, kind: Any = None) -> Any:
        mask = rng.random(rows) < share if share else None
        return pa.array(values, type=kind, mask=mask)

    cols: dict[str, Any] = {
        "f_normal": with_nulls(rng.normal(size=rows), 0.0),
        "f_price": with_nulls(rng.lognormal(3.0, 1.0, size=rows), 0.02),
        "f_uniform": with_nulls(rng.uniform(-100, 100, size=rows), 0.0),
        "f_skewed": with_nulls(rng.exponential(5.0, size=rows), 0.05),
        "f_small": with_nulls(rng.normal(0.001, 0.0001, size=rows), 0.0),
        "f_wide": with_nulls(rng.normal(1e6, 2e5, size=rows), 0.01),
        "f_mixture": with_nulls(
            np.where(rng.random(rows) < 0.3, rng.normal(-5, 1, rows), rng.normal(5, 2, rows)),
            0.0,
        ),
        "f_ratio": with_nulls(rng.beta(2.0, 5.0, size=rows), 0.1),
        "i_count": with_nulls(rng.poisson(3.0, size=rows), 0.0, pa.int64()),
        "i_age": with_nulls(rng.integers(18, 90, size=rows), 0.03, pa.int64()),
        "i_id": with_nulls(np.arange(index * rows, (index + 1) * rows), 0.0, pa.int64()),
        "i_amount": with_nulls(rng.integers(-10_000, 1_000_000, size=rows), 0.0, pa.int64()),
    }
    for name, levels in CATEGORY_LEVELS.items():
        weights = rng.zipf(1.5, size=levels).astype(float)
        codes = rng.choice(levels, size=rows, p=weights / weights.sum())
        names = pa.array([f"{name}_{k}" for k in range(levels)])
        mask = rng.random(rows) < 0.02 if name == "cat_c" else None
        cols[name] = pa.DictionaryArray.from_arrays(
            pa.array(codes.astype("int32"), mask=mask), names
        ).cast(pa.string())
    ts = pa.timestamp("us", tz="UTC")
    cols["t_event"] = with_nulls(START_US + rng.integers(0, YEAR_US, size=rows), 0.0, ts)
    cols["t_signup"] = with_nulls(START_US - rng.integers(0, 5 * YEAR_US, size=rows), 0.04, ts)
    cols["t_batch"] = with_nulls(START_US + (index * rows + np.arange(rows)) * 1_000_000, 0.0, ts)
    return pa.table(cols)


def ensure_data(path: Path, rows: int, seed: int) -> dict[str, Any]:
    """Write the file if it is missing (atomically, chunk by chunk)."""
    if path.exists():
        return {"generated": False}
    import pyarrow.parquet as pq

    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    try:
        done = 0
        index = 0
        while done < rows:
            n = min(CHUNK_ROWS, rows - done)
            table = make_chunk(n, seed, index)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            done += n
            index += 1
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    return {"generated": True, "generate_s": time.perf_counter() - started}


# -- workers -----------------------------------------------------------------------------------
def peak_rss_bytes() -> int:
    """The peak resident set size of this process so far, in bytes.

    Linux's ``VmHWM`` belongs to the process's own address space; ``ru_maxrss`` would also
    count the RSS of the parent at the time of the fork, as it survives ``exec``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def pandas_size(spec: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    frame = pd.read_parquet(spec["input"])
    size = int(frame.memory_usage(deep=True).sum())
    dtypes = sorted({str(t) for t in frame.dtypes})
    return {"bytes": size, "rows": len(frame), "dtypes": dtypes, "peak_rss": peak_rss_bytes()}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_scan(spec: dict[str, Any]) -> dict[str, Any]:
    """The reference: two hand-written aggregate queries over the file."""
    import duckdb

    baseline = peak_rss_bytes()  # after the imports, as on weekend's side
    src = "read_parquet('" + spec["input"].replace("'", "''") + "')"
    started = time.perf_counter()
    con = duckdb.connect()
    columns = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    kinds = {}
    for name, dtype, *_ in columns:
        upper = str(dtype).upper()
        if upper.startswith("TIMESTAMP"):
            kinds[name] = "time"
        elif upper == "VARCHAR":
            kinds[name] = "text"
        else:
            kinds[name] = "number"
    quantiles = "[" + ", ".join(str(q) for q in QUANTILES) + "]"
    first = ["count(*)"]
    for name, kind in kinds.items():
        q = _quote(name)
        if kind == "number":
            first += [
                f"count({q})",
                f"min({q})",
                f"max({q})",
                f"avg({q})",
                f"stddev_samp({q})",
                f"approx_quantile({q}, {quantiles})",
            ]
        elif kind == "text":
            first += [f"count({q})", f"histogram({q})"]
        else:
            first += [f"count({q})", f"epoch_us(min({q}))", f"epoch_us(max({q}))"]
    row = con.execute(f"SELECT {', '.join(first)} FROM {src}").fetchone()
    assert row is not None
    n_rows = int(row[0])
    stats: dict[str, dict[str, Any]] = {}
    second, binned = [], []
    pos = 1
    for name, kind in kinds.items():
        q = _quote(name)
        if kind == "number":
            count, low, high, mean, std, quants = row[pos : pos + 6]
            pos += 6
            stats[name] = {"missing": n_rows - count, "min": low, "max": high}
            stats[name].update({"mean": mean, "std": std, "quantiles": list(quants or [])})
            value = f"CAST({q} AS DOUBLE)"
        elif kind == "text":
            count, counts = row[pos : pos + 2]
            pos += 2
            counts = dict(counts or {})
            stats[name] = {
                "missing": n_rows - count,
                "n_distinct": len(counts),
                "top_count": max(counts.values(), default=0),
            }
            continue
        else:
            count, low, high = row[pos : pos + 3]
            pos += 3
            stats[name] = {"missing": n_rows - count, "epoch_min": low, "epoch_max": high}
            value = f"CAST(epoch_us({q}) AS DOUBLE)"
        if low is None:
            continue
        width = (float(high) - float(low)) / BINS or 1.0
        bucket = f"least(CAST(floor(({value} - {float(low)!r}) / {width!r}) AS BIGINT), {BINS - 1})"
        second.append(f"histogram({bucket})")
        binned.append(name)
    if second:
        hists = con.execute(f"SELECT {', '.join(second)} FROM {src}").fetchone()
        assert hists is not None
        for name, hist in zip(binned, hists, strict=True):
            stats[name]["histogram"] = [int(hist.get(i, 0)) for i in range(BINS)]
    con.close()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": n_rows,
        "stats": _jsonable(stats),
        "baseline_rss": baseline,
        "peak_rss": peak_rss_bytes(),
    }


def weekend_register(spec: dict[str, Any]) -> dict[str, Any]:
    import weekend as wk

    ws = wk.init(spec["store"])  # creates and migrates the catalog: not timed
    baseline = peak_rss_bytes()
    started = time.perf_counter()
    version = ws.datasets.register("big", spec["input"])
    seconds = time.perf_counter() - started
    peak = peak_rss_bytes()
    profile = version.profile
    stats: dict[str, dict[str, Any]] = {}
    for col in profile.columns:
        entry: dict[str, Any] = {"missing": col.missing}
        if col.numeric is not None:
            n = col.numeric
            entry.update({"min": n.min, "max": n.max, "mean": n.mean, "std": n.std})
        elif col.categorical is not None:
            c = col.categorical
            entry.update(
                {"n_distinct": c.n_distinct, "top_count": max((k for _, k in c.top), default=0)}
            )
        elif col.temporal is not None:
            entry.update({"epoch_min": col.temporal.epoch_min, "epoch_max": col.temporal.epoch_max})
        stats[col.name] = entry
    ws.close()
    return {
        "seconds": seconds,
        "rows": profile.n_rows,
        "stats": _jsonable(stats),
        "stored_bytes": version.size,
        "baseline_rss": baseline,
        "peak_rss": peak,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return float(value)


WORKERS = {"duckdb": duckdb_scan, "weekend": weekend_register, "pandas-size": pandas_size}


# -- the driver ---------------------------------------------------------------------------------
def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cross_check(ours: dict[str, Any], theirs: dict[str, Any]) -> tuple[int, list[str]]:
    """Compare the statistics both sides computed; returns (checks done, disagreements)."""
    problems, checks = [], 0
    for name, ref in theirs.items():
        got = ours.get(name)
        if got is None:
            problems.append(f"{name}: missing from weekend's profile")
            continue
        for key, expected in ref.items():
            if key in ("quantiles", "histogram") or key not in got:
                continue
            checks += 1
            actual = got[key]
            if isinstance(expected, float) or isinstance(actual, float):
                same = actual is not None and expected is not None
                same = same and math.isclose(float(actual), float(expected), rel_tol=1e-6)
            else:
                same = actual == expected
            if not same:
                problems.append(f"{name}.{key}: weekend {actual!r}, DuckDB {expected!r}")
    return checks, problems


def run(args: argparse.Namespace) -> dict[str, Any]:
    venv = _peer.project_venv()
    script = Path(__file__).resolve()
    root = _peer.DATA_DIR / "datasets"
    data = root / f"input-{args.rows}-{args.seed}.parquet"
    say(f"[datasets] data: {data} ...")
    made = ensure_data(data, args.rows, args.seed)
    if made["generated"]:
        say(f"[datasets] generated in {made['generate_s']:.0f} s")
    base = {"input": str(data)}
    say("[datasets] the data's size in pandas (a separate process) ...")
    size = _peer.run_worker(venv, script, ["--worker", "pandas-size", "--spec", json.dumps(base)])
    raw: dict[str, list[Any]] = {"duckdb": [], "weekend": []}
    for rep in range(args.reps):
        for side in ("duckdb", "weekend"):
            store = root / f"store-{side}"
            if store.exists():
                shutil.rmtree(store)
            store.mkdir(parents=True)
            say(f"[datasets] rep {rep + 1}/{args.reps}: {side} ...")
            spec = dict(base, store=str(store))
            result = _peer.run_worker(
                venv, script, ["--worker", side, "--spec", json.dumps(spec)], cwd=store
            )
            if result["rows"] != args.rows:
                raise _peer.PeerError(f"{side}: {result['rows']} rows, expected {args.rows}")
            raw[side].append(result)
            if not args.keep:
                shutil.rmtree(store)
    return {
        "file_bytes": data.stat().st_size,
        "generated": made,
        "pandas": size,
        "raw": raw,
    }


def print_results(found: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    raw = found["raw"]
    med = _stats.median
    seconds = {side: med([r["seconds"] for r in rs]) for side, rs in raw.items()}
    peak = {side: med([float(r["peak_rss"]) for r in rs]) for side, rs in raw.items()}
    baseline = {side: med([float(r["baseline_rss"]) for r in rs]) for side, rs in raw.items()}
    pandas_bytes = float(found["pandas"]["bytes"])

    def mb(value: float) -> str:
        return _stats.fmt_num(value / 2**20, "MiB")

    rows = [
        _stats.Row(
            "register + profile (weekend) vs the two-query scan (DuckDB), seconds",
            f"{seconds['weekend']:.2f} s",
            f"{seconds['duckdb']:.2f} s",
            _stats.ratio(seconds["weekend"], seconds["duckdb"], higher_is_better=False),
            TARGET_TIME,
        ),
    ]
    print()
    print(
        f"Datasets — {args.rows:,} rows x 20 columns, Parquet {mb(found['file_bytes'])}, "
        f"medians of {args.reps} repetitions, a fresh process each"
    )
    print(
        f"weekend {_peer.project_venv().version_of('weekend') or '?'}, DuckDB "
        f"{_peer.project_venv().version_of('duckdb') or '?'}, Python "
        f"{platform.python_version()}, seed {args.seed}"
    )
    print(_stats.comparison_table(rows, "weekend", "DuckDB"))
    print("(a ratio of 0.5x means weekend takes twice DuckDB's time: the target)")

    memory = [
        _stats.Row(
            "peak RSS of the process vs the data's size in pandas",
            mb(peak["weekend"]),
            mb(pandas_bytes),
            _stats.ratio(peak["weekend"], pandas_bytes, higher_is_better=False),
            TARGET_MEMORY,
        ),
        _stats.Row(
            "  DuckDB scan alone, for reference",
            mb(peak["duckdb"]),
            mb(pandas_bytes),
            _stats.ratio(peak["duckdb"], pandas_bytes, higher_is_better=False),
        ),
    ]
    print()
    print(_stats.comparison_table(memory, "process", "pandas"))
    print(
        f"the pandas figure: memory_usage(deep=True).sum() after pd.read_parquet, dtypes "
        f"{', '.join(found['pandas']['dtypes'])}; that process peaked at "
        f"{mb(found['pandas']['peak_rss'])}.\n"
        f"RSS before the timed part (interpreter and imports): weekend {mb(baseline['weekend'])}, "
        f"DuckDB {mb(baseline['duckdb'])}."
    )
    checks, problems = cross_check(raw["weekend"][0]["stats"], raw["duckdb"][0]["stats"])
    if problems:
        print(f"statistics cross-check: {len(problems)} of {checks} disagree:")
        for line in problems[:20]:
            print(f"  {line}")
    else:
        print(
            f"statistics cross-check: {checks} figures agree (missing, min, max, mean, std, "
            "distinct and top category counts, timestamp ranges)"
        )
    print(
        "weekend also hashes and copies the file into its artifact store and infers the "
        "schema;\nboth sides' quantiles are approximate (weekend: 1% relative-error sketch; "
        "DuckDB: approx_quantile)."
    )
    return {"seconds": seconds, "peak_rss": peak, "baseline_rss": baseline, "problems": problems}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _peer.add_common_options(
        p, seed=20240604, reps=3, workers=WORKERS, keep="keep the weekend stores in bench/.data"
    )
    p.add_argument("--rows", type=int, help="rows (default 10000000, quick 1000000)")
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 3)
    args.rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if _peer.serve_worker(args, WORKERS):
        return 0
    started = time.perf_counter()
    found = run(args)
    summary = print_results(found, args)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    _peer.write_figures(
        args,
        {
            "benchmark": "datasets register + profile",
            "summary": summary,
            **found,
        },
        "datasets",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
