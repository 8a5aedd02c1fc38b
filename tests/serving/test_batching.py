"""Micro-batching: alone a request goes at once; under concurrency requests share calls; one
bad request fails alone; a cancelled one leaves the queue; rows come back to their owner."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from weekend.core.errors import InvalidValueError
from weekend.serving._batching import MicroBatcher, column_batch
from weekend.serving._errors import ServiceBusyError


class Recorder:
    """A batch function that records its batches; ``gate`` holds a batch until it is set."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.gate: asyncio.Event | None = None

    def __call__(self, items: list[int]) -> list[int]:
        self.sizes.append(len(items))
        if any(i < 0 for i in items):
            raise ValueError(f"negative item among {items}")
        return [i * 10 for i in items]

    async def run(self, fn: Any, *args: Any) -> Any:
        if self.gate is not None:
            await self.gate.wait()
        return fn(*args)


def test_a_lone_request_is_sent_at_once() -> None:
    async def main() -> None:
        fn = Recorder()
        batcher = MicroBatcher(fn, max_wait_ms=60_000)  # a wait would outlast the test
        assert await batcher(4) == 40
        assert await batcher(5) == 50
        assert fn.sizes == [1, 1]
        assert batcher._timer is None

    asyncio.run(main())


def test_requests_queued_behind_a_running_batch_share_the_next() -> None:
    async def main() -> None:
        fn = Recorder()
        fn.gate = asyncio.Event()
        batcher = MicroBatcher(fn, run=fn.run, max_wait_ms=60_000)
        first = asyncio.ensure_future(batcher(1))
        await asyncio.sleep(0)  # the first batch starts and waits at the gate
        rest = [asyncio.ensure_future(batcher(i)) for i in range(2, 7)]
        await asyncio.sleep(0)
        fn.gate.set()
        assert await first == 10
        assert await asyncio.gather(*rest) == [20, 30, 40, 50, 60]
        assert fn.sizes == [1, 5]
        assert (batcher.batches, batcher.items) == (2, 6)

    asyncio.run(main())


def test_under_concurrency_a_request_waits_for_company_up_to_max_batch() -> None:
    async def main() -> None:
        fn = Recorder()
        batcher = MicroBatcher(fn, max_wait_ms=60_000, max_batch=3)
        batcher._shared = True  # the last batch was shared: the next one may wait
        results = await asyncio.gather(batcher(1), batcher(2), batcher(3), batcher(4))
        assert list(results) == [10, 20, 30, 40]  # gather is typed as a tuple here
        assert fn.sizes[0] == 3  # sent when max_batch arrived, not when the wait ended

    asyncio.run(main())


def test_one_bad_request_fails_alone() -> None:
    async def main() -> None:
        fn = Recorder()
        fn.gate = asyncio.Event()
        batcher = MicroBatcher(fn, run=fn.run)
        first = asyncio.ensure_future(batcher(1))
        await asyncio.sleep(0)
        calls = [asyncio.ensure_future(batcher(i)) for i in (2, -3, 4)]
        await asyncio.sleep(0)
        fn.gate.set()
        await first
        done = await asyncio.gather(*calls, return_exceptions=True)
        assert done[0] == 20
        assert done[2] == 40
        assert isinstance(done[1], ValueError)
        assert "negative item among [-3]" in str(done[1])
        assert fn.sizes == [1, 3, 1, 1, 1]  # the batch, then each item alone

    asyncio.run(main())


def test_a_cancelled_request_leaves_the_queue() -> None:
    async def main() -> None:
        fn = Recorder()
        fn.gate = asyncio.Event()
        batcher = MicroBatcher(fn, run=fn.run)
        first = asyncio.ensure_future(batcher(1))
        await asyncio.sleep(0)
        gone = asyncio.ensure_future(batcher(2))
        kept = asyncio.ensure_future(batcher(3))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
        fn.gate.set()
        assert (await first, await kept) == (10, 30)
        assert fn.sizes == [1, 1]
        with pytest.raises(asyncio.CancelledError):
            await gone

    asyncio.run(main())


def test_a_refusing_runner_fails_every_item_of_its_batch() -> None:
    async def busy(fn: Any, *args: Any) -> Any:
        raise ServiceBusyError("the service is busy", retry_after=1)

    async def main() -> None:
        batcher = MicroBatcher(Recorder(), run=busy)
        with pytest.raises(ServiceBusyError, match="busy"):
            await batcher(1)
        assert batcher._running == 0  # the slot is free again

    asyncio.run(main())


def test_column_batch_gives_each_request_its_rows() -> None:
    def outputs(columns: dict[str, Any]) -> tuple[Any, Any]:
        total = columns["a"] + columns["b"]
        return total, np.column_stack([total, -total])

    batch = column_batch(outputs)
    items: list[Mapping[str, Any]] = [
        {"a": [1.0, 2.0], "b": [10.0, 20.0]},
        {"a": [3.0], "b": [30.0]},
        {"a": [], "b": []},
    ]
    got = batch(items)
    assert [p.tolist() for p, _ in got] == [[11.0, 22.0], [33.0], []]
    assert got[1][1] is not None
    assert got[1][1].tolist() == [[33.0, -33.0]]


def test_column_batch_through_a_batcher_matches_one_call_each() -> None:
    def outputs(columns: dict[str, Any]) -> tuple[Any, None]:
        return np.asarray(columns["x"]) * 2, None

    async def main() -> None:
        batcher = MicroBatcher(column_batch(outputs), max_wait_ms=0)
        batcher._shared = True
        got = await asyncio.gather(*(batcher({"x": [i, i + 1]}) for i in range(5)))
        assert [p.tolist() for p, _ in got] == [[2 * i, 2 * i + 2] for i in range(5)]

    asyncio.run(main())


@pytest.mark.parametrize(
    ("option", "value"), [("max_batch", 0), ("max_wait_ms", -1.0), ("inflight", True)]
)
def test_bad_options_are_refused(option: str, value: Any) -> None:
    with pytest.raises(InvalidValueError, match=f"{option} must be a number >= "):
        MicroBatcher(Recorder(), **{option: value})
