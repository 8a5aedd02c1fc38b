"""The executor contract: what every pipeline executor (local, process, Ray) must do.

Each check takes an :class:`ExecutorSubject`: the pipelines service of a new, empty project,
the executor to run on, and an empty folder the steps use to remember attempts across
processes. The steps live at module level so that every executor can ship them.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weekend.pipelines import Executor, Pipelines, pipeline, step
from weekend.testing._checks import CheckSkipped


@dataclass
class ExecutorSubject:
    """A pipelines service on an empty project, the executor under test, an empty folder."""

    pipelines: Pipelines
    executor: str | Executor
    folder: Path
    can_lose_workers: bool = True

    def run(self, flow: Any, **params: Any) -> Any:
        return self.pipelines.run(flow, executor=self.executor, **params)


def _first_time(folder: str, name: str) -> bool:
    """True for the first caller with this name (in any process), False after."""
    try:
        fd = os.open(Path(folder) / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


@step
def numbers(n: int) -> dict[str, Any]:
    sys.stdout.write(f"making {n} numbers\n")  # captured into the step's logs
    return {"values": list(range(n))}


@step
def total(data: dict[str, Any], scale: float) -> dict[str, Any]:
    return {"total": sum(data["values"]) * scale}


@step(retries=2)
def always_fails(folder: str) -> dict[str, Any]:
    raise ValueError(f"this step always fails ({folder[-6:]})")


@step(retries=1)
def fails_once(folder: str) -> dict[str, Any]:
    if _first_time(folder, "fails_once"):
        raise RuntimeError("the first attempt fails")
    return {"ok": True}


@step(retries=1, timeout="8s")
def slow_once(folder: str) -> dict[str, Any]:
    if _first_time(folder, "slow_once"):
        time.sleep(120)
    return {"ok": True}


@step(retries=1)
def dies_once(folder: str) -> dict[str, Any]:
    if _first_time(folder, "dies_once"):
        os._exit(3)
    return {"ok": True}


@step
def fails_while_flagged(data: dict[str, Any], folder: str) -> dict[str, Any]:
    if (Path(folder) / "broken").exists():
        raise RuntimeError("the flag file 'broken' exists")
    return {"count": len(data["values"])}


@step
def unstorable(n: int) -> Any:
    return object()


@pipeline
def chain(n: int, scale: float = 2.0) -> Any:
    return total(numbers(n), scale)


@pipeline
def partly_failing(folder: str) -> Any:
    broken = always_fails(folder)
    downstream = total(broken, 1.0)
    independent = numbers(3)
    return downstream, independent


@pipeline
def flaky(folder: str) -> Any:
    return fails_once(folder)


@pipeline
def slow(folder: str) -> Any:
    return slow_once(folder)


@pipeline
def dying(folder: str) -> Any:
    return dies_once(folder)


@pipeline
def resumable(folder: str) -> Any:
    return fails_while_flagged(numbers(4), folder)


@pipeline
def refused(n: int) -> Any:
    return unstorable(n)


def check_data_flows_between_steps_and_is_recorded(subject: ExecutorSubject) -> None:
    run = subject.run(chain, n=5, scale=2.0)
    assert run.status == "succeeded", run.error
    assert list(run.steps) == ["numbers", "total"]
    assert subject.pipelines.output(run.id, "total") == {"total": 20.0}
    made = run.steps["numbers"]
    assert made.output_kind == "json"
    assert made.attempts == 1
    assert not made.cached
    assert run.steps["total"].inputs == {"data": {"step": "numbers", "sha256": made.output_sha256}}
    assert "making 5 numbers" in (made.logs or ""), made.logs


def check_a_second_run_hits_the_cache(subject: ExecutorSubject) -> None:
    first = subject.run(chain, n=4)
    again = subject.run(chain, n=4)
    other = subject.run(chain, n=4, scale=3.0)
    assert first.status == again.status == other.status == "succeeded"
    assert not first.steps["total"].cached
    assert again.steps["numbers"].cached
    assert again.steps["total"].cached
    assert other.steps["numbers"].cached
    assert not other.steps["total"].cached
    assert subject.pipelines.output(other.id, "total") == {"total": 18.0}


def check_a_failing_step_is_retried_then_fails_the_run(subject: ExecutorSubject) -> None:
    run = subject.run(partly_failing, folder=str(subject.folder))
    assert run.status == "failed"
    assert run.error is not None
    assert "always_fails" in run.error
    assert "ValueError" in run.error
    assert run.steps["always_fails"].status == "failed"
    assert run.steps["always_fails"].attempts == 3
    assert run.steps["always_fails"].retries == 2
    assert run.steps["total"].status == "skipped"
    assert run.steps["numbers"].status == "succeeded"


def check_a_step_that_raises_once_succeeds_on_retry(subject: ExecutorSubject) -> None:
    run = subject.run(flaky, folder=str(subject.folder))
    assert run.status == "succeeded", run.error
    assert run.steps["fails_once"].attempts == 2


def check_a_step_that_times_out_is_retried(subject: ExecutorSubject) -> None:
    run = subject.run(slow, folder=str(subject.folder))
    assert run.status == "succeeded", run.error
    assert run.steps["slow_once"].attempts == 2


def check_a_worker_that_dies_is_retried(subject: ExecutorSubject) -> None:
    if not subject.can_lose_workers:
        raise CheckSkipped("this executor runs steps in the caller's process")
    run = subject.run(dying, folder=str(subject.folder))
    assert run.status == "succeeded", run.error
    assert run.steps["dies_once"].attempts == 2


def check_a_rerun_resumes_from_the_cache(subject: ExecutorSubject) -> None:
    flag = subject.folder / "broken"
    flag.touch()
    failed = subject.run(resumable, folder=str(subject.folder))
    assert failed.status == "failed"
    assert "flag file" in (failed.error or "")
    flag.unlink()
    again = subject.run(resumable, folder=str(subject.folder))
    assert again.status == "succeeded", again.error
    assert again.steps["numbers"].cached
    assert not again.steps["fails_while_flagged"].cached
    assert subject.pipelines.output(again.id, "fails_while_flagged") == {"count": 4}


def check_an_output_of_no_safe_kind_fails_without_retries(subject: ExecutorSubject) -> None:
    run = subject.run(refused, n=1)
    assert run.status == "failed"
    assert "trusted_pickle" in (run.error or ""), run.error
    assert run.steps["unstorable"].attempts == 1
