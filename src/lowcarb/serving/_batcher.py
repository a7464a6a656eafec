"""Micro-batching: concurrent requests gathered into one ``predict`` call on a worker thread.

One asyncio task takes requests from a queue; after the first it waits up to ``wait_s`` for more,
until ``max_batch`` rows are gathered, then runs the batch's ``predict`` on a worker thread with
the energy read before and after it. Each request gets its slice of the predictions back, and a
share of the batch's energy in proportion to its rows. A request larger than ``max_batch`` rows
runs as a batch of its own. When a batch of several requests fails, each request is retried alone,
so one request the model cannot take does not fail its neighbours.

Energy is read twice around a batch, except when batches run back to back (the last reading is
younger than ``chain_s``): then that reading opens the next batch, which halves the cost of
metering under load and charges the process's energy between the two batches (parsing and
answering their HTTP requests) to the next one, so that none of the serving energy goes uncounted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lowcarb.errors import LowcarbError
from lowcarb.serving._energy import BatchEnergy

__all__ = ["BatchResult", "MicroBatcher", "PredictionError"]

logger = logging.getLogger(__name__)


class PredictionError(LowcarbError):
    """The model raised on a request's rows (after they passed validation)."""


@dataclass(frozen=True)
class BatchResult:
    """What one request gets back from its batch.

    Attributes:
        predictions: One prediction per row of the request, JSON-ready.
        energy_j: The request's share of its batch's energy, joules.
        method: ``measured``, ``estimated`` or ``none`` (metering off).
        batch_rows: Rows in the batch the request ran in.
        batch_requests: Requests in that batch.
        stages: For a cascade, the index of the stage that answered each row; else None.
    """

    predictions: list[Any]
    energy_j: float
    method: str
    batch_rows: int
    batch_requests: int
    stages: list[int] | None = None


@dataclass
class _Pending:
    rows: np.ndarray[Any, Any]
    future: asyncio.Future[BatchResult]


class MicroBatcher:
    """Gathers requests into batches for one model. Use from one event loop.

    Args:
        predict: Rows in; out one prediction per row, and for a cascade the index of the stage
            that answered each row (else None). Called on a worker thread, one batch at a time.
        energy: Where each batch's energy is read from.
        max_batch: Most rows gathered into one batch.
        wait_s: Longest time the first request of a batch waits for others, seconds.
        chain_s: A batch starting within this many seconds of the last energy reading starts
            from that reading instead of reading again.
    """

    def __init__(
        self,
        predict: Callable[[Any], tuple[Any, Any]],
        energy: BatchEnergy,
        *,
        max_batch: int = 64,
        wait_s: float = 0.002,
        chain_s: float = 0.01,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch!r}")
        if wait_s < 0:
            raise ValueError(f"wait_s must be >= 0, got {wait_s!r}")
        self._predict = predict
        self._energy = energy
        self._max_batch = max_batch
        self._wait_s = wait_s
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self._carry: _Pending | None = None
        self._chain_s = chain_s
        self._last: tuple[float, float] | None = None  # (monotonic s, joules) of the last read

    async def start(self) -> None:
        """Start the batching task on the running loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._loop(self._queue), name="lowcarb-batcher")

    async def stop(self) -> None:
        """Stop the batching task; requests still queued fail with :class:`PredictionError`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        pending = [self._carry] if self._carry is not None else []
        while self._queue is not None and not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for item in pending:
            if not item.future.done():
                item.future.set_exception(PredictionError("the server stopped before predicting"))

    async def submit(self, rows: np.ndarray[Any, Any]) -> BatchResult:
        """Queue ``rows`` (2-D) and wait for their predictions."""
        if self._queue is None or self._task is None:
            raise PredictionError("the batcher is not running")
        future: asyncio.Future[BatchResult] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(rows, future))
        return await future

    async def _loop(self, queue: asyncio.Queue[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = self._carry if self._carry is not None else await queue.get()
            self._carry = None
            batch, n = [first], len(first.rows)
            deadline = loop.time() + self._wait_s
            while n < self._max_batch:
                item = await self._next(queue, deadline - loop.time())
                if item is None:
                    break
                if n + len(item.rows) > self._max_batch:
                    self._carry = item  # starts the next batch
                    break
                batch.append(item)
                n += len(item.rows)
            live = [p for p in batch if not p.future.done()]  # a client may have gone
            if live:
                await self._run(live)

    @staticmethod
    async def _next(queue: asyncio.Queue[_Pending], timeout_s: float) -> _Pending | None:
        if timeout_s <= 0:
            try:
                return queue.get_nowait()
            except asyncio.QueueEmpty:
                return None
        try:
            return await asyncio.wait_for(queue.get(), timeout_s)
        except TimeoutError:
            return None

    async def _run(self, batch: list[_Pending]) -> None:
        try:
            outputs, stages, energy_j, method = await asyncio.to_thread(
                self._measured_predict, batch
            )
        except Exception as exc:
            if len(batch) > 1:
                for item in batch:  # isolate the request the model cannot take
                    await self._run([item])
                return
            logger.warning("predict failed on a request of %d row(s): %s", len(batch[0].rows), exc)
            _fail(batch[0], PredictionError(f"the model failed on these rows: {exc}"))
            return
        total = sum(len(p.rows) for p in batch)
        start = 0
        for item in batch:
            rows = len(item.rows)
            share = energy_j * rows / total if total else 0.0
            part = stages[start : start + rows] if stages is not None else None
            result = BatchResult(
                outputs[start : start + rows], share, method, total, len(batch), part
            )
            start += rows
            if not item.future.done():
                item.future.set_result(result)

    def _measured_predict(
        self, batch: list[_Pending]
    ) -> tuple[list[Any], list[int] | None, float, str]:
        x = batch[0].rows if len(batch) == 1 else np.concatenate([p.rows for p in batch])
        last = self._last
        if last is not None and time.monotonic() - last[0] <= self._chain_s:
            before_j = last[1]
        else:
            before_j, _ = self._energy.read()
        try:
            y, stages = self._predict(x)
        finally:
            after_j, method = self._energy.read()
            self._last = (time.monotonic(), after_j)
        outputs = np.asarray(y).tolist()
        if not isinstance(outputs, list) or len(outputs) != len(x):
            raise PredictionError(f"predict returned {np.shape(y)} for {len(x)} row(s)")
        routed = None if stages is None else [int(k) for k in np.asarray(stages)]
        return outputs, routed, max(after_j - before_j, 0.0), method


def _fail(item: _Pending, exc: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(exc)
