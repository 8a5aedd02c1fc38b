"""Pipelines: a step's overhead in process and a cache hit (1,000 steps), weekend against
Prefect 3 end to end (100 chained trivial tasks, cold and fully cached, fresh processes), and
the Ray executor on 100 independent 1-second steps on 2 CPUs.

    nice -n 10 .venv/bin/python bench/pipelines.py [--quick] [--reps N] [--json out.json]

Targets: an in-process step <= 2 ms and a cache hit <= 5 ms of overhead; >= 10x faster than
Prefect end to end, cold and cached; Ray: 100 one-second steps on 2 CPUs in <= 55 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer
import weekend as wk
from _stats import Row, comparison_table, fmt_ms, median, ratio

PREFECT = "prefect==3.9.1"
WORKER = Path(__file__).resolve().parent / "_pipelines_worker.py"


@wk.step(cache=False)
def noop(i: int) -> dict[str, int]:
    return {"i": i}


@wk.step(cache=True)
def cached_noop(i: int) -> dict[str, int]:
    return {"i": i}


@wk.pipeline
def fan(n: int, cached: bool = False) -> Any:
    for i in range(n):
        (cached_noop if cached else noop)(i)


@wk.step(cache=False)
def one_second(i: int) -> dict[str, int]:
    time.sleep(1.0)
    return {"i": i}


@wk.pipeline
def sleepers(n: int) -> Any:
    for i in range(n):
        one_second(i)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def overhead(n: int, reps: int) -> dict[str, list[float]]:
    """Seconds per step: no cache (function trivial), then a second run all hits."""
    out: dict[str, list[float]] = {"step": [], "hit": []}
    for _ in range(reps):
        with tempfile.TemporaryDirectory(dir=_peer.DATA_DIR) as tmp, wk.init(tmp) as ws:
            started = time.perf_counter()
            run = ws.pipelines.run(fan, n=n)
            out["step"].append((time.perf_counter() - started) / n)
            assert run.status == "succeeded"
            ws.pipelines.run(fan, n=n, cached=True)
            started = time.perf_counter()
            again = ws.pipelines.run(fan, n=n, cached=True)
            out["hit"].append((time.perf_counter() - started) / n)
            assert all(s.cached for s in again.steps.values())
    return out


def _timed_process(cmd: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise _peer.PeerError(f"{cmd[1:3]} failed: {done.stderr[-2000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith(_peer.RESULT_PREFIX)][-1]
    return seconds, json.loads(line[len(_peer.RESULT_PREFIX) :])


def end_to_end(side: str, python: str, n: int) -> dict[str, Any]:
    """A cold run and a fully cached run, each a fresh process, in a fresh home/project."""
    home = Path(tempfile.mkdtemp(prefix=f"pipelines-{side}-", dir=_peer.DATA_DIR))
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="150",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    if side == "weekend":
        wk.init(home).close()
    try:
        cmd = [python, str(WORKER), side, str(home), str(n)]
        cold, first = _timed_process(cmd, env)
        warm, second = _timed_process(cmd, env)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert first["value"] == second["value"] == n, (first, second)
    return {"cold": cold, "cached": warm, "first": first, "second": second}


def ray_sleepers(n: int) -> dict[str, float]:
    from weekend.pipelines import RayExecutor

    executor = RayExecutor(num_cpus=2)
    with tempfile.TemporaryDirectory(dir=_peer.DATA_DIR) as tmp, wk.init(tmp) as ws:
        ws.pipelines.run(fan, n=2, executor=executor)  # start the cluster and its workers
        started = time.perf_counter()
        run = ws.pipelines.run(sleepers, n=n, executor=executor)
        seconds = time.perf_counter() - started
    executor.close()
    import ray

    ray.shutdown()
    assert run.status == "succeeded", run.error
    ideal = n * 1.0 / 2
    return {"seconds": seconds, "ideal": ideal, "overhead_per_step": (seconds - ideal) / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="fewer steps, one repetition")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-prefect", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    _peer.DATA_DIR.mkdir(parents=True, exist_ok=True)
    n_steps = 100 if args.quick else 1000
    reps = 1 if args.quick else args.reps
    result: dict[str, Any] = {"steps": n_steps}
    say(f"[weekend] {n_steps} in-process steps, then all cache hits ({reps} rep(s))")
    result["overhead"] = overhead(n_steps, reps)
    rows = [
        Row(
            "in-process step (per step)",
            fmt_ms(median(result["overhead"]["step"])),
            "2 ms",
            ratio(median(result["overhead"]["step"]), 0.002, higher_is_better=False),
            1.0,
        ),
        Row(
            "cache hit (per step)",
            fmt_ms(median(result["overhead"]["hit"])),
            "5 ms",
            ratio(median(result["overhead"]["hit"]), 0.005, higher_is_better=False),
            1.0,
        ),
    ]
    if not args.skip_prefect:
        venv = _peer.ensure_venv("prefect", [PREFECT], check_import="prefect", log=say)
        say("[weekend] 100 chained steps, cold then cached, fresh processes")
        ours = end_to_end("weekend", sys.executable, 100)
        say("[prefect] 100 chained tasks, cold then cached (INPUTS), fresh processes")
        theirs = end_to_end("prefect", str(venv.python), 100)
        result["end_to_end"] = {"weekend": ours, "prefect": theirs}
        for phase in ("cold", "cached"):
            rows.append(
                Row(
                    f"100 chained tasks, {phase}, end to end",
                    f"{ours[phase]:.2f} s",
                    f"{theirs[phase]:.2f} s",
                    ratio(ours[phase], theirs[phase], higher_is_better=False),
                    10.0,
                )
            )
    if not args.skip_ray:
        n = 20 if args.quick else 100
        say(f"[weekend] Ray: {n} independent 1-second steps on 2 CPUs")
        result["ray"] = ray_sleepers(n)
        bound = n / 2 + 5 * n / 100
        rows.append(
            Row(
                f"Ray: {n} x 1 s steps on 2 CPUs",
                f"{result['ray']['seconds']:.1f} s",
                f"{bound:.0f} s",
                ratio(result["ray"]["seconds"], bound, higher_is_better=False),
                1.0,
            )
        )
        say(f"  scheduling overhead per step: {fmt_ms(result['ray']['overhead_per_step'])}")
    print(comparison_table(rows, ours="weekend", theirs="target / Prefect"))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
