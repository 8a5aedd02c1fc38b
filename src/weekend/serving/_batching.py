"""Adaptive micro-batching: concurrent requests for one model share one model call.

A model call has a fixed cost (a thread hop, the runtime's own set-up, Python around it) and
a cost per row. Under concurrency, :class:`MicroBatcher` joins the rows of requests that
arrive together into one call and hands each request its own rows of the answer:

* **idle, no wait**: a request that finds no batch running and none recently shared is sent
  at once, alone; one client never waits for company that is not coming;
* **busy, natural batching**: while a batch runs (at most ``inflight`` at once), arriving
  requests queue; when it ends, everything queued (up to ``max_batch`` items) goes as the
  next batch, having waited only for the model, never for a timer;
* **under concurrency, a short wait**: once batches have been shared (the last one held more
  than one item), a request that finds the model free waits at most ``max_wait_ms`` (a
  fraction of a millisecond) for others before its batch is sent, unless ``max_batch`` items
  are already there.

One bad request never fails the others: when a batch call raises, its items are run again
one by one, so each gets its own answer or its own error. A request cancelled while it
waits is dropped from the queue. :func:`column_batch` builds the batch function for a
model that predicts from columns (:class:`weekend.registry.CompiledModel`).

Whether batching pays depends on the model and the machine: ``bench/serving.py`` measures
the service with it on and off (``docs/serving.md``, "Performance").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from weekend.core.errors import InvalidValueError

T = TypeVar("T")
R = TypeVar("R")
Array = np.ndarray[Any, Any]
Runner = Callable[..., Awaitable[Any]]


def _check(value: Any, what: str, least: float, kind: type) -> Any:
    """``value`` if it is an int (or a ``kind``: float) of at least ``least``, not a bool."""
    number: float = value if type(value) in (int, kind) else least - 1
    if number < least:
        raise InvalidValueError(f"{what} must be a number >= {least}, got {value!r:.40}")
    return value


class MicroBatcher(Generic[T, R]):
    """Joins concurrent calls of ``fn`` (a list of items to a list of results, same order).

    ``run`` runs one batch call, e.g. a :class:`~weekend.serving.WorkPool`'s ``run``
    (``None``: on the event loop); ``max_batch`` caps the items of one call, ``max_wait_ms``
    the time a request may wait for company, ``inflight`` the batch calls running at once.
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        *,
        run: Runner | None = None,
        max_batch: int = 64,
        max_wait_ms: float = 0.5,
        inflight: int = 1,
    ) -> None:
        self.fn = fn
        self.max_batch = _check(max_batch, "max_batch", 1, int)
        self.max_wait_ms = float(_check(max_wait_ms, "max_wait_ms", 0, float))
        self.inflight = _check(inflight, "inflight", 1, int)
        self._run = run
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._running = 0
        self._shared = False  # the last batch held more than one item
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # running batch calls (kept referenced)
        self.batches = 0
        """Batch calls made."""
        self.items = 0
        """Items answered through them (``items / batches`` is the mean batch size)."""

    def __repr__(self) -> str:
        return (
            f"MicroBatcher(max_batch={self.max_batch}, max_wait_ms={self.max_wait_ms}, "
            f"inflight={self.inflight})"
        )

    async def __call__(self, item: T) -> R:
        """``item``'s result, computed in a batch with whatever else arrives with it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        self._schedule(loop)
        try:
            return await future
        except asyncio.CancelledError:
            self._pending = [(i, f) for i, f in self._pending if f is not future]
            raise

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._running >= self.inflight or not self._pending:
            return  # the running batch's end sends the queue
        if len(self._pending) >= self.max_batch or not self._shared or not self.max_wait_ms:
            self._send(loop)
        elif self._timer is None:
            self._timer = loop.call_later(self.max_wait_ms / 1000, self._send, loop)

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = [(i, f) for i, f in self._pending[: self.max_batch] if not f.done()]
        del self._pending[: self.max_batch]
        if not batch:
            return
        self._running += 1
        self._shared = len(batch) > 1
        self._tasks.add(loop.create_task(self._call(batch, loop)))

    async def _call(
        self, batch: list[tuple[T, asyncio.Future[R]]], loop: asyncio.AbstractEventLoop
    ) -> None:
        try:
            await self._answer(batch)
        finally:  # before the callers resume: a caller that got its answer sees the slot free
            self._running -= 1
            self._tasks.discard(asyncio.current_task())  # type: ignore[arg-type]
            if self._pending and self._running < self.inflight:
                self._send(loop)  # they waited for the model already: no timer

    async def _answer(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            if self._run is None:
                results = _each(self.fn, items)
            else:
                results = await self._run(_each, self.fn, items)
        except BaseException as exc:  # the runner refused (a busy pool) or was cancelled
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        self.items += len(batch)
        for (_, future), (ok, value) in zip(batch, results, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


def _each(fn: Callable[[list[T]], Sequence[R]], items: list[T]) -> list[tuple[bool, Any]]:
    """``fn(items)``; when it raises, each item alone, so each gets its own result or error."""
    try:
        results = list(fn(items))
        if len(results) != len(items):
            raise RuntimeError(f"a batch of {len(items)} items gave {len(results)} results")
        return [(True, r) for r in results]
    except Exception as exc:
        if len(items) == 1:
            return [(False, exc)]
    out: list[tuple[bool, Any]] = []
    for item in items:
        try:
            out.append((True, fn([item])[0]))
        except Exception as exc:
            out.append((False, exc))
    return out


Columns = Mapping[str, Any]
Outputs = tuple[Array, Array | None]


def column_batch(
    outputs: Callable[[dict[str, Array]], Outputs],
) -> Callable[[list[Columns]], list[Outputs]]:
    """The batch function of a model that predicts from columns: each item is a mapping of
    column to values (all items with the same columns); the rows of all items are joined,
    ``outputs`` (e.g. ``compiled.outputs``) runs once, and each item gets its own rows of
    ``(predictions, probabilities or None)``."""

    def batch(items: list[Columns]) -> list[Outputs]:
        if len(items) == 1:
            return [outputs({k: np.asarray(v) for k, v in items[0].items()})]
        names = list(items[0])
        sizes = [len(next(iter(item.values()))) for item in items]
        joined = {
            name: np.concatenate([np.asarray(item[name]) for item in items]) for name in names
        }
        prediction, proba = outputs(joined)
        ends = np.cumsum(sizes)[:-1]
        labels = np.split(prediction, ends)
        probas = np.split(proba, ends) if proba is not None else [None] * len(items)
        return list(zip(labels, probas, strict=True))

    return batch


__all__ = ["MicroBatcher", "column_batch"]
