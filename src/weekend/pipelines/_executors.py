"""Executors: where a step's function runs. In process, in a child process, or on Ray.

An executor's contract is small (``submit(task) -> Future[Outcome]``, ``close()``), and its
constructor stores configuration only: nothing starts before the first task. The future never
raises: an exception in the step, a timeout and a worker that died all come back as an
:class:`Outcome` whose ``failure`` says which, so the runner retries them alike.

- ``local`` runs the function in the calling thread (a step with a timeout runs in a thread
  that is abandoned when the time is up: Python cannot stop a thread);
- ``process`` runs each attempt in a fresh child process from a fork server (a timeout kills
  it; a child that dies is reported as ``died``), ``max_workers`` at a time;
- ``ray`` submits each attempt as a Ray task with the step's resources (``ray.init()`` on
  this machine, or ``address=`` for a cluster); a timeout cancels the task.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from weekend.core.errors import ConfigurationError, InvalidValueError

_LOG_LIMIT = 64_000


@dataclass(frozen=True)
class Task:
    """One attempt of one step: the function and its arguments (values, not handles)."""

    step: str
    fn: Callable[..., Any]
    args: dict[str, Any]
    timeout: float | None = None
    resources: dict[str, float] = field(default_factory=dict)


@dataclass
class Outcome:
    """What an attempt gave: a value, or a failure (``error``, ``timeout`` or ``died``)."""

    value: Any = None
    failure: str | None = None
    error: str | None = None
    logs: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None


class Executor(Protocol):
    """Runs tasks. ``submit`` returns at once or after the task; its future never raises."""

    name: str

    def submit(self, task: Task) -> Future[Outcome]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Reopen:
    """An argument opened in the worker (the workspace), closed after the step."""

    opener: Callable[[], Any]


def execute(task: Task) -> Outcome:
    """Run a task here, capturing its output and any exception."""
    out = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            args = dict(task.args)
            for name, value in args.items():
                if isinstance(value, Reopen):
                    args[name] = stack.enter_context(value.opener())
            stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(out))
            value = task.fn(**args)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        text = "".join(traceback.format_exception(exc))
        return Outcome(
            failure="error",
            error=f"{type(exc).__name__}: {exc}\n{text}",
            logs=out.getvalue()[-_LOG_LIMIT:],
            seconds=time.perf_counter() - start,
        )
    return Outcome(
        value=value, logs=out.getvalue()[-_LOG_LIMIT:], seconds=time.perf_counter() - start
    )


def _timed_out(task: Task) -> Outcome:
    return Outcome(
        failure="timeout",
        error=f"step {task.step!r} did not finish within its timeout of {task.timeout:g} s",
        seconds=task.timeout or 0.0,
    )


def _done(outcome: Outcome) -> Future[Outcome]:
    future: Future[Outcome] = Future()
    future.set_result(outcome)
    return future


class LocalExecutor:
    """Runs each step in the calling thread, one at a time."""

    name = "local"

    def submit(self, task: Task) -> Future[Outcome]:
        if task.timeout is None:
            return _done(execute(task))
        box: list[Outcome] = []
        worker = threading.Thread(target=lambda: box.append(execute(task)), daemon=True)
        worker.start()
        worker.join(task.timeout)
        return _done(box[0] if box else _timed_out(task))

    def close(self) -> None:
        return None


def _dumps(value: Any) -> bytes:
    import cloudpickle

    return bytes(cloudpickle.dumps(value))


def pickle_task(task: Task) -> bytes:
    """The task as bytes; the step's own module travels by value unless it is installed."""
    try:
        import cloudpickle
    except ImportError:
        raise ConfigurationError(
            "the process and Ray executors ship steps with cloudpickle: "
            "pip install 'weekend[pipelines]'"
        ) from None

    from weekend.pipelines._cachekey import is_library_file

    module = sys.modules.get(getattr(task.fn, "__module__", "") or "")
    if module is not None and module.__name__ != "__main__":
        module_file = getattr(module, "__file__", None)
        if module_file and not is_library_file(module_file):
            with contextlib.suppress(ValueError):
                cloudpickle.register_pickle_by_value(module)
    return _dumps(task)


def run_pickled(data: bytes) -> bytes:
    """Unpickle a task, run it, pickle its outcome (a value that cannot travel is an error)."""
    import cloudpickle

    outcome = execute(cloudpickle.loads(data))
    try:
        return _dumps(outcome)
    except Exception as exc:
        outcome.value, outcome.failure = None, "error"
        outcome.error = f"the step's output cannot be sent back from its worker: {exc}"
        return _dumps(outcome)


def _child(conn: Any, data: bytes) -> None:
    conn.send_bytes(run_pickled(data))
    conn.close()


class ProcessExecutor:
    """Runs each attempt in a child process from a fork server, ``max_workers`` at once."""

    name = "process"

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and (isinstance(max_workers, bool) or max_workers < 1):
            raise InvalidValueError(f"max_workers must be >= 1, got {max_workers!r}")
        self.max_workers = max_workers or os.cpu_count() or 1
        self._threads: ThreadPoolExecutor | None = None

    def submit(self, task: Task) -> Future[Outcome]:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.max_workers, thread_name_prefix="wk-step")
        data = pickle_task(task)
        return self._threads.submit(self._attempt, task, data)

    def _attempt(self, task: Task, data: bytes) -> Outcome:
        import cloudpickle

        context = multiprocessing.get_context("forkserver")
        preload = [m for m in ("pandas", "numpy", "pyarrow") if m in sys.modules]
        context.set_forkserver_preload(["weekend.pipelines._executors", *preload])
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(send, data), daemon=True)
        start = time.perf_counter()
        child.start()
        send.close()
        try:
            if not receive.poll(task.timeout):
                child.kill()
                return _timed_out(task)
            try:
                outcome: Outcome = cloudpickle.loads(receive.recv_bytes())
            except (EOFError, OSError):
                child.join(5)
                return Outcome(
                    failure="died",
                    error=f"the worker of step {task.step!r} died (exit code {child.exitcode})",
                    seconds=time.perf_counter() - start,
                )
            return outcome
        finally:
            receive.close()
            child.join(5)
            if child.is_alive():
                child.kill()

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None


class RayExecutor:
    """Runs each attempt as a Ray task (``ray.init()`` here, or ``address=`` a cluster)."""

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self._threads: ThreadPoolExecutor | None = None
        self._remote: Any = None

    def _start(self) -> Any:
        try:
            import ray
        except ImportError:
            raise ConfigurationError(
                "the ray executor needs Ray: pip install 'weekend[ray]'"
            ) from None
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address is None and self.num_cpus is not None:
                options["num_cpus"] = self.num_cpus
            ray.init(address=self.address, **options)
        if self._remote is None:
            self._remote = ray.remote(max_retries=0)(run_pickled)
        return ray

    def submit(self, task: Task) -> Future[Outcome]:
        ray = self._start()
        if self._threads is None:
            self._threads = ThreadPoolExecutor(64, thread_name_prefix="wk-ray")
        resources = task.resources
        ref = self._remote.options(
            num_cpus=resources.get("cpus", 1),
            num_gpus=resources.get("gpus", 0),
            memory=resources.get("memory") or None,
        ).remote(pickle_task(task))
        return self._threads.submit(self._wait, ray, ref, task, time.perf_counter())

    def _wait(self, ray: Any, ref: Any, task: Task, start: float) -> Outcome:
        import cloudpickle

        try:
            outcome: Outcome = cloudpickle.loads(ray.get(ref, timeout=task.timeout))
            return outcome
        except ray.exceptions.GetTimeoutError:
            ray.cancel(ref, force=True)
            return _timed_out(task)
        except ray.exceptions.RayError as exc:
            return Outcome(
                failure="died",
                error=f"the Ray worker of step {task.step!r} failed: {type(exc).__name__}: {exc}",
                seconds=time.perf_counter() - start,
            )

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None


def make_executor(executor: str | Executor, **options: Any) -> Executor:
    """An executor from its name (``local``, ``process``, ``ray``) or the object itself."""
    if not isinstance(executor, str):
        return executor
    if executor == "local":
        return LocalExecutor()
    if executor == "process":
        return ProcessExecutor(**options)
    if executor == "ray":
        return RayExecutor(**options)
    raise InvalidValueError(
        f"executor must be 'local', 'process' or 'ray' (or an Executor), got {executor!r:.80}",
        field="executor",
    )
