"""Workers of bench/pipelines.py, each in a fresh process: ``prefect`` (in Prefect's venv) or
``weekend`` (in the project's): 100 chained trivial tasks, in a project/home given as argv[2].
Standard library plus the side's own package only; the result goes back through ``emit``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peer import emit


def prefect_chain(n: int) -> dict[str, Any]:
    import importlib

    prefect: Any = importlib.import_module("prefect")
    inputs: Any = importlib.import_module("prefect.cache_policies").INPUTS

    def _inc(x: int) -> int:
        return x + 1

    inc: Any = prefect.task(cache_policy=inputs, persist_result=True)(_inc)

    def _chain(count: int) -> int:
        x = 0
        for _ in range(count):
            x = inc(x)
        return x

    chain: Any = prefect.flow(_chain)

    started = time.perf_counter()
    value = chain(n)
    return {"value": value, "flow_seconds": time.perf_counter() - started}


def weekend_chain(n: int, project: str) -> dict[str, Any]:
    import weekend as wk

    @wk.step
    def inc(x: dict[str, int]) -> dict[str, int]:
        return {"x": x["x"] + 1}

    @wk.step
    def start() -> dict[str, int]:
        return {"x": 0}

    @wk.pipeline
    def chain(count: int) -> Any:
        x = start()
        for _ in range(count):
            x = inc(x)
        return x

    started = time.perf_counter()
    with wk.open(project) as ws:
        run = ws.pipelines.run(chain, count=n)
        last = list(run.steps)[-1]
        value = ws.pipelines.output(run.id, last)["x"]
        hits = sum(step.cached for step in run.steps.values())
    return {"value": value, "flow_seconds": time.perf_counter() - started, "hits": hits}


if __name__ == "__main__":
    side, where, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    emit(prefect_chain(count) if side == "prefect" else weekend_chain(count, where))
