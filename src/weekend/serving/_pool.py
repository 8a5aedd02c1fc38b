"""The bounded work pool: request work whose cost grows with the request runs here.

The event loop only reads bodies (bounded by the size limit) and writes responses; parsing,
validation, store reads and model calls run on ``threads`` worker threads. At most
``threads + queue`` tasks are admitted at once (running or waiting); one more is refused at
once with :class:`ServiceBusyError` (HTTP 503 with ``Retry-After``) instead of piling up
memory and latency. A running task keeps its slot until it has finished in its thread, even
when its client has gone; a task still waiting is dropped (and its slot freed) when the
request awaiting it is cancelled.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from weekend.core.errors import InvalidValueError
from weekend.serving._errors import ServiceBusyError

P = ParamSpec("P")
T = TypeVar("T")


def _positive(value: object, what: str, minimum: int) -> int:
    if type(value) is not int or value < minimum:
        raise InvalidValueError(f"{what} must be an integer >= {minimum}, got {value!r:.40}")
    return value


class WorkPool:
    """``threads`` worker threads and at most ``queue`` tasks waiting for one."""

    def __init__(self, threads: int = 4, queue: int = 64, *, retry_after: int = 1) -> None:
        self.threads = _positive(threads, "threads", 1)
        self.queue = _positive(queue, "queue", 0)
        self.retry_after = _positive(retry_after, "retry_after", 1)
        self._slots = threading.BoundedSemaphore(self.threads + self.queue)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._admitted = 0

    def __repr__(self) -> str:
        return f"WorkPool(threads={self.threads}, queue={self.queue})"

    @property
    def admitted(self) -> int:
        """Tasks running or waiting now."""
        return self._admitted

    def _pool(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        self.threads, thread_name_prefix="weekend-serving"
                    )
                executor = self._executor
        return executor

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1
        self._slots.release()

    def _release_cancelled(self, future: Future[Any]) -> None:
        if future.cancelled():  # it never ran, so it never released its slot
            self._release()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start ``fn`` in a worker (with the caller's context variables), or refuse with
        :class:`ServiceBusyError` when ``threads + queue`` tasks are already admitted."""
        if not self._slots.acquire(blocking=False):
            raise ServiceBusyError(
                f"the service is busy: {self.threads} workers are running and {self.queue} "
                f"requests are waiting; retry after {self.retry_after} s",
                retry_after=self.retry_after,
            )
        with self._lock:
            self._admitted += 1
        context = contextvars.copy_context()
        call = functools.partial(fn, *args, **kwargs)

        def task() -> T:
            try:
                return context.run(call)
            finally:  # before the result is visible: a caller that saw it sees the slot free
                self._release()

        try:
            future = self._pool().submit(task)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release_cancelled)
        return future

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a worker thread, awaited from the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def close(self) -> None:
        """Stop the workers after the running tasks; tasks still waiting are cancelled."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


__all__ = ["WorkPool"]
