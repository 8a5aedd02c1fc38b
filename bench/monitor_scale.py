"""Monitoring at scale: a report over a large prediction log, out of core.

    nice .venv/bin/python bench/monitor_scale.py                     # 10M rows x 100 columns
    nice .venv/bin/python bench/monitor_scale.py --rows 1000000      # a smaller log
    nice .venv/bin/python bench/monitor_scale.py --columns 20 --days 5

Setup (not timed): a fresh project under ``bench/.data/monitor_scale/`` (removed first), a
logistic regression over ``--columns`` float features registered as ``wide@champion``, and
a prediction log of ``--rows`` rows over ``--days`` days, appended in seeded Arrow batches of
100k rows through the real :class:`weekend.predictions.PredictionLog` (one Parquet segment
per flush). From the middle day on, the first 10% of the features have their mean shifted by
0.3 standard deviations; the rest never move. The reference is a seeded 200k-row table of
the undrifted distribution.

Timed, in a fresh child process (so that its peak memory is the report's alone):
``ws.monitor.report("wide@champion", window="1d", reference=<the reference file>)``, with a
progress bar over the windows, storing the JSON twin without the HTML page. Printed: the
wall time, the rows per second, the child's peak resident memory (``ru_maxrss``) and its
ratio to the log's size on disk and in memory (float64), and which features drifted in the
last window (expected: exactly the shifted ones). The report's DuckDB session is bounded by
``[monitor] duckdb_memory_limit`` (default 1GB).

This file is also the child (``--child PROJECT``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / ".data" / "monitor_scale"
BATCH = 100_000
DAY0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _names(columns: int) -> list[str]:
    return [f"f{i}" for i in range(columns)]


def _frame(rng: np.random.Generator, rows: int, columns: int, shifted: int) -> Any:
    import pandas as pd

    values = rng.standard_normal((rows, columns))
    values[:, :shifted] += 0.3
    return pd.DataFrame(values, columns=_names(columns))


def _batch(
    rng: np.random.Generator, start: int, rows: int, columns: int, day: int, shifted: int
) -> Any:
    import pyarrow as pa

    ts0 = int((DAY0 + dt.timedelta(days=day)).timestamp() * 1_000_000)
    per_day = 86_400 * 1_000_000
    offsets = np.sort(rng.integers(0, per_day, rows))
    values = rng.standard_normal((rows, columns)) + np.where(np.arange(columns) < shifted, 0.3, 0)
    score = 1 / (1 + np.exp(-values[:, 0]))
    arrays: dict[str, Any] = {
        "request_id": pa.array([f"r{start + i}" for i in range(rows)]),
        "row": pa.array(np.zeros(rows, dtype=np.int32)),
        "ts": pa.array(ts0 + offsets, pa.timestamp("us", tz="UTC")),
        "model": pa.array(["wide"] * rows),
        "version": pa.array(np.ones(rows, dtype=np.int32)),
        "route": pa.array(["primary"] * rows),
        "latency_us": pa.array(rng.integers(200, 2000, rows)),
    }
    for j, name in enumerate(_names(columns)):
        arrays[f"in.{name}"] = pa.array(values[:, j])
    arrays["out.prediction"] = pa.array((score >= 0.5).astype(np.int64))
    arrays["out.proba.0"] = pa.array(1 - score)
    arrays["out.proba.1"] = pa.array(score)
    return pa.table(arrays)


def setup(rows: int, columns: int, days: int) -> tuple[Path, Path, int]:
    """The project and the reference file; returns them and the shifted feature count."""
    from rich.progress import Progress
    from sklearn.linear_model import LogisticRegression

    from weekend.workspace import init_workspace

    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    rng = np.random.default_rng(2024)
    shifted = max(1, columns // 10)
    reference = _frame(rng, 200_000, columns, 0)
    ref_path = DATA / "reference.parquet"
    reference.to_parquet(ref_path)
    with init_workspace(DATA / "project") as ws:
        labels = (reference["f0"] > 0).astype(int)
        model = LogisticRegression(max_iter=200).fit(reference.iloc[:5000], labels.iloc[:5000])
        ws.models.register(model, "wide", input_example=reference.iloc[:2000])
        ws.models.set_alias("wide", 1, "champion")
        log = ws.predictions.open_log(
            flush_rows=BATCH, flush_seconds=3600, max_buffer_rows=4 * BATCH
        )
        per_day = rows // days
        with Progress() as bar:
            task = bar.add_task("logging", total=rows)
            done = 0
            while done < rows:
                size = min(BATCH, rows - done)
                day = min(done // per_day, days - 1)
                drift = shifted if day >= days // 2 else 0
                log.append(_batch(rng, done, size, columns, day, drift))
                log.flush()
                done += size
                bar.update(task, completed=done)
        log.close()
    return DATA / "project", ref_path, shifted


def child(project: Path, reference: Path) -> None:
    """Run the timed report; print its figures as JSON on the last line."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from weekend.workspace import open_workspace

    with (
        open_workspace(project) as ws,
        Progress("windows", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar,
    ):
        task = bar.add_task("windows", total=None)
        start = time.perf_counter()
        report = ws.monitor.report(
            "wide@champion",
            window="1d",
            reference=str(reference),
            html=False,
            alerts=False,
            progress=lambda d, t: bar.update(task, completed=d, total=t),
        )
        seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {
        "seconds": seconds,
        "rows": report.rows,
        "windows": len(report.windows),
        "peak_mb": peak_kb / 1024,
        "drifted_last": report.drifted,
        "drifted_first": report.windows[0].drifted,
    }
    sys.stdout.write(json.dumps(figures) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.reference)
        return
    began = time.perf_counter()
    project, reference, shifted = setup(args.rows, args.columns, args.days)
    setup_s = time.perf_counter() - began
    size = sum(p.stat().st_size for p in (project / ".weekend").rglob("*") if p.is_file())
    command = [sys.executable, __file__, "--child", str(project), "--reference", str(reference)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    in_memory_mb = args.rows * (args.columns + 3) * 8 / 2**20
    expected = sorted(_names(args.columns)[:shifted])
    print(
        f"log: {args.rows:,} rows x {args.columns} features over {args.days} days "
        f"({size / 2**20:,.0f} MB on disk, {in_memory_mb:,.0f} MB as float64; "
        f"setup {setup_s:,.0f} s)"
    )
    print(
        f"report: {figures['windows']} windows, {figures['seconds']:,.1f} s "
        f"({figures['rows'] / figures['seconds']:,.0f} rows/s), "
        f"peak RSS {figures['peak_mb']:,.0f} MB "
        f"({figures['peak_mb'] / in_memory_mb:.2f}x the log as float64)"
    )
    print(
        f"drifted in the first window: {figures['drifted_first'] or 'none'}; in the last: "
        f"{len(figures['drifted_last'])} features, exactly the shifted ones: "
        f"{sorted(figures['drifted_last']) == expected}"
    )


if __name__ == "__main__":
    main()
