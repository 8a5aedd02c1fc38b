"""One conformance suite, three executors: in process, a process pool, and Ray (2 CPUs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from weekend.testing import ExecutorSubject, executor_checks, parametrize_with_checks
from weekend.workspace import Workspace

EXECUTORS = ["local", "process", pytest.param("ray", marks=pytest.mark.slow)]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    from weekend.pipelines import RayExecutor

    executor = RayExecutor(num_cpus=2)
    executor._start()
    yield executor
    executor.close()
    ray.shutdown()


@pytest.mark.parametrize("kind", EXECUTORS)
@parametrize_with_checks(executor_checks())
def test_executor(check: Any, kind: str, ws: Workspace, tmp_path: Path, request: Any) -> None:
    executor: Any = request.getfixturevalue("ray_cluster") if kind == "ray" else kind
    folder = tmp_path / "marks"
    folder.mkdir()
    check.run(ExecutorSubject(ws.pipelines, executor, folder, can_lose_workers=kind != "local"))
