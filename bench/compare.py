"""Before and after: run the benchmarks with ``--json`` and set their figures beside the
last recorded ones (``bench/baseline.json``).

    .venv/bin/python bench/compare.py                            # all five, as `make bench`
    .venv/bin/python bench/compare.py --only tracking,datasets   # some of them
    .venv/bin/python bench/compare.py --extra "features=--no-http" --extra "tracking=--reps 5"
    .venv/bin/python bench/compare.py --from bench/results/compare-20261206-0410   # no run
    .venv/bin/python bench/compare.py --only datasets --record --note "after issue 8"

The benchmarks run one after the other (never two at once), under ``nice`` (``--nice``,
default 10), each writing ``<name>.json`` and ``<name>.log`` into one folder of
``bench/results/``. Then, for every figure: the recorded value, the new one, new / recorded,
and a verdict: ``ok`` within 10% (``--tolerance``) or better, ``better`` beyond it, ``WORSE``
beyond it the wrong way. weekend's own figures and its ratios to the peer or lower bound
measured in the same run are judged; the peers' own figures are shown for context (a peer
that slowed down as much as weekend points at a busier machine, and the same-run ratio is
the steadier figure). The exit status is 1 when a judged figure is worse or missing, or a
benchmark failed.

``--record`` writes the new figures into ``bench/baseline.json`` as the last recorded ones,
with the date, the commit and ``--note``. Standard library only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _peer
import _stats

BASELINE = _peer.BENCH_DIR / "baseline.json"
RESULTS = _peer.BENCH_DIR / "results"
ORDER = ["tracking", "registry", "predict_batch", "datasets", "features"]  # as `make bench`

Getter = Callable[[dict[str, Any]], float]


@dataclass(frozen=True)
class Metric:
    """One figure of a benchmark's ``--json`` output."""

    key: str  # its name in baseline.json
    label: str
    unit: str  # "s", "per_s", "mb", "bytes", "x" (a ratio or a factor)
    higher_is_better: bool
    get: Getter
    judged: bool = True  # weekend's own figure or a same-run ratio; False: a peer's figure
    stopped: Callable[[dict[str, Any]], str] | None = None  # why a peer has no figure


def _stopped(path: str) -> Callable[[dict[str, Any]], str]:
    """The status of a peer stopped by its cap ("out of memory", "timed out"), else ""."""

    def get(data: dict[str, Any]) -> str:
        value = dig(data, path)
        return value if isinstance(value, str) else ""

    return get


def dig(data: Any, path: str) -> Any:
    """``data["a"]["b"][0]...`` for ``"a.b.0"``; a missing step gives NaN."""
    for step in path.split("."):
        try:
            data = data[int(step)] if isinstance(data, list) else data[step]
        except (KeyError, IndexError, TypeError, ValueError):
            return math.nan
    return data


def num(data: Any, path: str) -> float:
    value = dig(data, path)
    return float(value) if isinstance(value, int | float) else math.nan


def at(path: str) -> Getter:
    return lambda data: num(data, path)


def over(top: str, bottom: str) -> Getter:
    return lambda data: num(data, top) / num(data, bottom)


def scale_search(runs: int) -> Getter:
    """Median search latency of the tracking scale curve at ``runs`` runs."""

    def get(data: dict[str, Any]) -> float:
        for point in dig(data, "scale.points") or []:
            if isinstance(point, dict) and point.get("runs") == runs:
                return _stats.median(point["search_s"])
        return math.nan

    return get


def peer_trio(
    key: str, label: str, unit: str, higher: bool, ours: str, theirs: str, peer: str
) -> list[Metric]:
    """weekend's figure, the peer's, and their same-run ratio (> 1: weekend better)."""
    ratio = over(ours, theirs) if higher else over(theirs, ours)
    slug = peer.lower().replace(" ", "_")
    return [
        Metric(key, label, unit, higher, at(ours)),
        Metric(f"{key}.{slug}", f"  {peer}", unit, higher, at(theirs), judged=False),
        Metric(f"{key}.vs_{slug}", f"  weekend vs {peer}, same run", "x", True, ratio),
    ]


def _tracking() -> list[Metric]:
    w, m = "summary.weekend", "summary.mlflow"
    return [
        *peer_trio(
            "percall", "per-call log_metric, points/s", "per_s", True,
            f"{w}.percall_points_per_s", f"{m}.percall_points_per_s", "MLflow",
        ),
        *peer_trio(
            "batch", "log_batch, points/s", "per_s", True,
            f"{w}.batch_points_per_s", f"{m}.batch_points_per_s", "MLflow",
        ),
        *peer_trio(
            "search", "search, 200 runs", "s", False, f"{w}.search_s", f"{m}.search_s", "MLflow"
        ),
        Metric("scale_1k", "search at 1k runs", "s", False, scale_search(1_000)),
        Metric("scale_10k", "search at 10k runs", "s", False, scale_search(10_000)),
        Metric("scale_100k", "search at 100k runs", "s", False, scale_search(100_000)),
    ]  # fmt: skip


def _registry() -> list[Metric]:
    w, m = "summary.weekend", "summary.mlflow"
    trio = [
        ("log_model", "log_model", "log_model_s"),
        ("load_first", "load @alias, first", "load_first_s"),
        ("load", "load @alias, again", "load_s"),
        ("predict_1", "predict 1 row", "predict_1_s"),
        ("register", "register a logged model (copy_version)", "register_s"),
    ]
    out = [
        metric
        for key, label, field in trio
        for metric in peer_trio(key, label, "s", False, f"{w}.{field}", f"{m}.{field}", "MLflow")
    ]
    return [
        *out,
        Metric("repackage", "register from the model object", "s", False, at(f"{w}.repackage_s")),
        Metric(
            "predict_10k_over_raw",
            "predict 10k rows, loaded / raw pipeline",
            "x",
            False,
            over(f"{w}.predict_10k_s", f"{w}.raw_predict_10k_s"),
        ),
    ]


def _predict_batch() -> list[Metric]:
    r = "summary.rows_per_s"
    return peer_trio(
        "rows_per_s", "predict_batch, rows/s", "per_s", True, f"{r}.weekend",
        f"{r}.lower-bound", "lower bound",
    )  # fmt: skip


def _datasets() -> list[Metric]:
    s = "summary"
    return [
        *peer_trio(
            "register", "register + profile, 10M rows", "s", False, f"{s}.seconds.weekend",
            f"{s}.seconds.duckdb", "DuckDB",
        ),
        *peer_trio(
            "peak", "peak RSS", "bytes", False, f"{s}.peak_rss.weekend",
            f"{s}.peak_rss.duckdb", "DuckDB",
        ),
        Metric("pandas", "  the data in pandas", "bytes", False, at("pandas.bytes"), judged=False),
        Metric(
            "peak_vs_pandas", "  pandas size / weekend peak RSS", "x", True,
            over("pandas.bytes", f"{s}.peak_rss.weekend"),
        ),
    ]  # fmt: skip


def _features() -> list[Metric]:
    out: list[Metric] = []
    for size, label in (("small", "1M x 100k"), ("large", "10M x 1M"), ("dense", "dense")):
        t = f"summary.training.{size}"
        for field, what, unit in (("seconds", "time", "s"), ("rss_mb", "peak RSS", "mb")):
            key, ours = f"training_{size}_{field}", f"{t}.{field}.weekend"
            out.append(Metric(key, f"training set {label}, {what}", unit, False, at(ours)))
            for side, name in (("lower", "lower bound"), ("feast", "Feast")):
                trio = peer_trio(key, "", unit, False, ours, f"{t}.{field}.{side}", name)
                stopped = _stopped(f"{t}.stopped.{side}.status")
                out += [dataclasses.replace(m, stopped=stopped) for m in trio[1:]]
    o, h = "summary.online", "summary.http"
    return [
        *out,
        *peer_trio(
            "materialize", "materialize into SQLite, entities/s", "per_s", True,
            f"{o}.materialize_entities_per_s.weekend", f"{o}.materialize_entities_per_s.feast",
            "Feast",
        ),
        Metric(
            "materialize_redis", "materialize into Redis, entities/s", "per_s", True,
            at(f"{o}.materialize_entities_per_s.weekend_redis"),
        ),
        *peer_trio(
            "online_1", "online read, 1 entity, p50", "s", False,
            f"{o}.online_p50_p99_s.1.weekend.0", f"{o}.online_p50_p99_s.1.feast.0", "Feast",
        ),
        *peer_trio(
            "online_100", "online read, 100 entities, p50", "s", False,
            f"{o}.online_p50_p99_s.100.weekend.0", f"{o}.online_p50_p99_s.100.feast.0", "Feast",
        ),
        *peer_trio(
            "http_p50", "HTTP, 1 entity, p50", "s", False, f"{h}.weekend_sequential_p50_s",
            f"{h}.feast_sequential_p50_s", "Feast",
        ),
    ]  # fmt: skip


METRICS: dict[str, Callable[[], list[Metric]]] = {
    "tracking": _tracking,
    "registry": _registry,
    "predict_batch": _predict_batch,
    "datasets": _datasets,
    "features": _features,
}


# -- comparing -------------------------------------------------------------------------------
def fmt(value: float, unit: str) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if unit == "s":
        return _stats.fmt_ms(value) if value < 1 else f"{value:,.2f} s"
    if unit == "bytes":
        return _stats.fmt_num(value / 2**20, "MiB")
    if unit == "mb":
        return _stats.fmt_num(value, "MB")
    if unit == "x":
        return f"{value:,.2f}x"
    return _stats.fmt_num(value)


def verdict(old: float, new: float, metric: Metric, tolerance: float) -> tuple[float, str]:
    """(new / old, verdict) for one figure."""
    if math.isnan(old) or math.isnan(new):
        return math.nan, "missing" if math.isnan(new) and not math.isnan(old) else ""
    change = new / old if old else math.inf
    if not metric.judged:
        return change, "(peer)"
    better = change if metric.higher_is_better else (1 / change if change else math.inf)
    if better >= 1 + tolerance:
        return change, "better"
    if better >= 1 - tolerance:
        return change, "ok"
    return change, f"WORSE ({(better - 1) * 100:+.0f}%)"


def peer_speed(name: str, figures: dict[str, Any], baseline: dict[str, Any]) -> float:
    """The median over the peers' time and rate figures of their speed now / recorded
    (0.5: the peers ran at half their recorded speed, so the machine was busier)."""
    recorded = baseline.get(name, {}).get("figures", {})
    speeds = []
    for metric in METRICS[name]():
        old = float(recorded.get(metric.key, math.nan) or math.nan)
        new = metric.get(figures)
        if metric.judged or metric.unit not in ("s", "per_s") or math.isnan(old + new):
            continue
        speeds.append(new / old if metric.higher_is_better else old / new)
    return _stats.median(speeds)


def compare(
    name: str, figures: dict[str, Any], baseline: dict[str, Any], tolerance: float
) -> tuple[list[list[str]], int]:
    """The table rows of one benchmark and how many judged figures are worse or missing."""
    recorded = baseline.get(name, {}).get("figures", {})
    was_stopped = baseline.get(name, {}).get("stopped", {})
    rows, bad = [], 0
    for metric in METRICS[name]():
        new = metric.get(figures)
        old = float(recorded.get(metric.key, math.nan) or math.nan)
        stopped = metric.stopped(figures) if metric.stopped else ""
        if math.isnan(old) and math.isnan(new) and not (stopped or metric.key in was_stopped):
            continue
        change, word = verdict(old, new, metric, tolerance)
        if stopped and math.isnan(new):
            word = "(peer stopped)"
        bad += word.startswith("WORSE") or (word == "missing" and metric.judged)
        ratio = "" if math.isnan(change) else f"{change:,.2f}"
        old_text = was_stopped.get(metric.key) or fmt(old, metric.unit)
        new_text = stopped if stopped and math.isnan(new) else fmt(new, metric.unit)
        rows.append([metric.label, old_text, new_text, ratio, word])
    return rows, bad


def extract(name: str, figures: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """The figures of one benchmark by metric key (NaN left out), and the peers stopped by
    their cap, for --record."""
    metrics = METRICS[name]()
    values = {m.key: m.get(figures) for m in metrics}
    stopped = {m.key: m.stopped(figures) for m in metrics if m.stopped}
    return (
        {k: v for k, v in values.items() if not math.isnan(v)},
        {k: v for k, v in stopped.items() if v and math.isnan(values[k])},
    )


# -- running ---------------------------------------------------------------------------------
def run_one(name: str, folder: Path, extra: Sequence[str], niceness: int) -> bool:
    """Run ``bench/<name>.py --json`` in the project venv; True if it succeeded."""
    out = folder / f"{name}.json"
    cmd = [str(_peer.project_venv().python), str(_peer.BENCH_DIR / f"{name}.py")]
    cmd += ["--json", str(out), *extra]
    if niceness:
        cmd = ["nice", "-n", str(niceness), *cmd]
    print(f"[compare] {' '.join(cmd)}", file=sys.stderr, flush=True)
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    with (folder / f"{name}.log").open("w") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - started
    load = {"before": load_before, "after": os.getloadavg()[0], "cpus": os.cpu_count()}
    (folder / f"{name}.load.json").write_text(json.dumps(load))
    ok = proc.returncode == 0 and out.exists()
    state = "done" if ok else f"FAILED (exit {proc.returncode}, see {folder / f'{name}.log'})"
    print(f"[compare] {name}: {state} in {seconds:.0f} s", file=sys.stderr, flush=True)
    return ok


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--only", help=f"comma-separated among {', '.join(ORDER)} (default: all)")
    p.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="more arguments for one benchmark, e.g. 'features=--no-http' (repeatable)",
    )
    p.add_argument("--from", dest="source", type=Path, help="compare the JSON files there")
    p.add_argument("--nice", type=int, default=10, help="niceness of the runs (0: none)")
    p.add_argument("--tolerance", type=float, default=0.10, help="default 0.10: within 10%%")
    p.add_argument("--baseline", type=Path, default=BASELINE)
    p.add_argument("--record", action="store_true", help="make the new figures the recorded ones")
    p.add_argument("--note", default="", help="with --record: where the figures come from")
    p.add_argument("--commit", help="with --record: the commit measured (default: HEAD)")
    args = p.parse_args(argv)
    names = [n.strip() for n in (args.only or ",".join(ORDER)).split(",") if n.strip()]
    unknown = sorted(set(names) - set(ORDER))
    if unknown or not names:
        p.error(f"--only: expected names among {', '.join(ORDER)}, got {args.only!r}")
    args.names = [n for n in ORDER if n in names]
    args.extras = {}
    for item in args.extra:
        name, sep, rest = item.partition("=")
        if not sep or name not in ORDER:
            p.error(f"--extra: expected NAME=ARGS with NAME among {', '.join(ORDER)}, got {item!r}")
        args.extras[name] = [*args.extras.get(name, []), *shlex.split(rest)]
    return args


def record(args: argparse.Namespace, found: dict[str, dict[str, Any]], folder: Path) -> None:
    baseline = json.loads(args.baseline.read_text()) if args.baseline.exists() else {}
    commit = (
        args.commit
        or subprocess.run(
            ["git", "-C", str(_peer.REPO_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    for name, figures in found.items():
        values, stopped = extract(name, figures)
        source = f"{when}, commit {commit or '?'}, {folder.name}" + (
            f": {args.note}" if args.note else ""
        )
        before = baseline.get(name, {})
        kept = {  # figures this run did not produce keep their older value and source
            k: v
            for k, v in before.get("figures", {}).items()
            if k not in values and k not in stopped
        }
        kept_stopped = {
            k: v for k, v in before.get("stopped", {}).items() if k not in values | stopped
        }
        if kept or kept_stopped:
            source += f"; {len(kept) + len(kept_stopped)} older figures: {before.get('recorded')}"
        baseline[name] = {
            "recorded": source,
            "options": figures.get("options", {}),
            "figures": {**kept, **values},
            **({"stopped": {**kept_stopped, **stopped}} if stopped or kept_stopped else {}),
        }
    args.baseline.write_text(json.dumps(baseline, indent=2, sort_keys=False) + "\n")
    print(f"[compare] recorded {', '.join(found)} in {args.baseline}", file=sys.stderr)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    baseline = json.loads(args.baseline.read_text()) if args.baseline.exists() else {}
    failed: list[str] = []
    if args.source:
        folder = args.source
    else:
        folder = RESULTS / f"compare-{datetime.now(UTC):%Y%m%d-%H%M}"
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.names:
            if not run_one(name, folder, args.extras.get(name, []), args.nice):
                failed.append(name)
    found = {
        name: json.loads((folder / f"{name}.json").read_text())
        for name in args.names
        if (folder / f"{name}.json").exists() and name not in failed
    }
    failed += [n for n in args.names if n not in found and n not in failed]
    worse = 0
    for name, figures in found.items():
        rows, bad = compare(name, figures, baseline, args.tolerance)
        worse += bad
        print(f"\n{name} — recorded: {baseline.get(name, {}).get('recorded', 'nothing')}")
        options = figures.get("options", {})
        quick = ", QUICK (not comparable)" if options.get("quick") else ""
        print(f"this run: {folder / (name + '.json')}, {options.get('reps')} reps{quick}")
        print(_stats.render_table(["figure", "recorded", "now", "now/rec.", ""], rows))
        speed = peer_speed(name, figures, baseline)
        load_file = folder / f"{name}.load.json"
        load = json.loads(load_file.read_text()) if load_file.exists() else None
        if not math.isnan(speed) or load:
            busy = "" if math.isnan(speed) else f"peers' speed now / recorded: {speed:.2f} (median)"
            if load:
                busy += (", " if busy else "") + (
                    f"load average {load['before']:.1f} before, {load['after']:.1f} after "
                    f"({load['cpus']} CPUs)"
                )
            print(busy + ": where the peers slowed as much, read the same-run ratios")
    tolerance = f"{args.tolerance:.0%}"
    print(
        f"\n{len(found)} benchmark(s) compared, {worse} judged figure(s) worse than the "
        f"recorded ones by more than {tolerance} (or missing)"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    if args.record and found:
        record(args, found, folder)
    return 1 if worse or failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
